//! Frames the server sends (protocol.md §4), encoded once into
//! shared bytes.

use std::borrow::Cow;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::error::Refusal;
use crate::limits::WireLimits;
use crate::model::{ClientId, DisplayName, Epoch, Event, Message, MessageId, PrincipalKind, RoomName, Seq, UserId};

/// A server frame. Borrows what it can so that encoding a broadcast clones no
/// message; decode into `ServerFrame<'static>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    /// The first frame on every connection.
    Welcome {
        /// The connection's identity.
        user_id: UserId,
        /// Present it as `?token=` on reconnect to keep the identity.
        #[cfg_attr(feature = "typescript", ts(as = "String"))]
        token: Cow<'a, str>,
        /// Which server node answered.
        #[cfg_attr(feature = "typescript", ts(as = "String"))]
        server_id: Cow<'a, str>,
        /// The limits in force.
        limits: WireLimits,
    },
    /// The answer to one `messages` frame, sent after the store committed.
    MessageIds {
        /// Whether the frame was stored.
        status: AckStatus,
        /// The stored ids, in the order sent; empty on error.
        message_ids: Vec<MessageId>,
        /// The client ids as sent (null where none was given).
        client_ids: Vec<Option<ClientId>>,
        /// Why nothing was stored, on error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        error: Option<Refusal>,
    },
    /// Messages of a room: live broadcast, or replay after `join`.
    Messages {
        /// The room they belong to.
        room: RoomName,
        /// In seq order.
        #[cfg_attr(feature = "typescript", ts(as = "Vec<Message>"))]
        data: Cow<'a, [Message]>,
        /// `true` for messages replayed by `join` with `since_seq`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        recovered: Option<bool>,
    },
    /// The answer to one `edit`, `delete` or `react` (protocol.md §13),
    /// sent after the store committed it (or refused it).
    Ack {
        /// The frame's client id.
        client_id: ClientId,
        /// Whether it holds: stored, or (a reaction already so) nothing to store.
        status: AckStatus,
        /// The event's seq, when one was stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        seq: Option<Seq>,
        /// The event's id, when one was stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        id: Option<MessageId>,
        /// Why nothing was stored, on error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        error: Option<Refusal>,
    },
    /// Events of a room that are not messages (edits, deletes, reactions),
    /// in seq order: live broadcast, or replay after `join`.
    Events {
        /// The room they belong to.
        room: RoomName,
        /// In seq order.
        #[cfg_attr(feature = "typescript", ts(as = "Vec<Event>"))]
        data: Cow<'a, [Event]>,
        /// `true` for events replayed by `join` with `since_seq`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        recovered: Option<bool>,
    },
    /// A subscription confirmed.
    Joined {
        /// The room.
        room: RoomName,
        /// The room's latest seq when the subscription started: live messages
        /// follow it, replayed ones lead up to it.
        seq: Seq,
        /// The room's history id.
        epoch: Epoch,
        /// Whether every message after `since_seq` is being replayed; `false`
        /// means fetch history over HTTP.
        recovered: bool,
        /// The highest seq this user has read in the room, on any device
        /// (protocol.md §12); 0 if nothing yet. Absent (with `unread`) only
        /// when the store could not tell: the join stands without it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        read_seq: Option<Seq>,
        /// Messages by others after `read_seq`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        unread: Option<u64>,
    },
    /// Who is online in a room: the full list, sent to a connection when it
    /// joins (protocol.md §9); later changes come as `presence_changes`.
    Presence {
        /// The room.
        room: RoomName,
        /// One entry per user, however many connections it has.
        #[cfg_attr(feature = "typescript", ts(as = "Vec<PresenceUser>"))]
        users: Cow<'a, [PresenceUser]>,
    },
    /// What changed in a room's presence since the last `presence` or
    /// `presence_changes` frame this connection got for it (protocol.md §9):
    /// sent instead of the full list once a connection has it.
    PresenceChanges {
        /// The room.
        room: RoomName,
        /// Users who arrived, and users who changed name (with the new name):
        /// add each one, or replace the entry with the same `user_id`.
        #[cfg_attr(feature = "typescript", ts(as = "Vec<PresenceUser>"))]
        joined: Cow<'a, [PresenceUser]>,
        /// Users who left: remove their entries.
        #[cfg_attr(feature = "typescript", ts(as = "Vec<UserId>"))]
        left: Cow<'a, [UserId]>,
    },
    /// A member's read watermark in a room moved (protocol.md §12): they
    /// have read everything up to `seq`. At most one per user per room per
    /// `receipt_interval`; the last one always arrives.
    Receipt {
        /// The room.
        room: RoomName,
        /// Who read.
        user_id: UserId,
        /// Up to where.
        seq: Seq,
    },
    /// Someone is typing.
    Typing {
        /// The room.
        room: RoomName,
        /// Who.
        user_id: UserId,
        /// Their display name.
        name: DisplayName,
        /// The kind of identity; left out for a guest.
        #[serde(default, skip_serializing_if = "PrincipalKind::is_guest")]
        #[cfg_attr(feature = "typescript", ts(optional, as = "Option<PrincipalKind>"))]
        principal: PrincipalKind,
    },
    /// The server took this connection out of a room (protocol.md §14):
    /// the application evicted the user. Nothing more of the room follows
    /// unless the connection is let in again.
    Left {
        /// The room.
        room: RoomName,
        /// Why, for people.
        #[cfg_attr(feature = "typescript", ts(as = "String"))]
        reason: Cow<'a, str>,
    },
    /// Something happened to a room this connection may see (protocol.md
    /// §4): sent to every connection, joined to the room or not, so that a
    /// room list stays current without polling.
    Room {
        /// The room.
        room: RoomName,
        /// What happened to it.
        change: RoomChange,
    },
    /// The answer to a `ping`, after every answer to the frames before it.
    Pong {
        /// The ping's `id`, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        id: Option<ClientId>,
    },
    /// A refused frame; the connection stays open.
    Error(Refusal),
}

/// What a `room` frame says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum RoomChange {
    /// A public room got its first message or was created: it exists
    /// now, and lists in `GET /v1/rooms`.
    Created,
    /// This connection's user was made a member of the room (they created
    /// it, were invited, or a direct conversation was opened with them).
    Added,
    /// A public room's title or topic changed.
    Renamed,
}

/// Outcome of a `messages` frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum AckStatus {
    /// Every message is durable.
    Success,
    /// Nothing of the frame was stored.
    Error,
}

/// One online user in a `presence` frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct PresenceUser {
    /// The user.
    pub user_id: UserId,
    /// Their display name.
    pub name: DisplayName,
    /// The kind of identity; left out for a guest (protocol.md §14).
    #[serde(default, skip_serializing_if = "PrincipalKind::is_guest")]
    #[cfg_attr(feature = "typescript", ts(optional, as = "Option<PrincipalKind>"))]
    pub principal: PrincipalKind,
    /// Every connection of theirs here said it is away (a `status` frame:
    /// the tab hidden or idle); left out when not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "typescript", ts(optional, as = "Option<bool>"))]
    pub away: bool,
}

impl PresenceUser {
    /// A guest, as every v1 user was.
    pub fn guest(user_id: UserId, name: DisplayName) -> PresenceUser {
        PresenceUser { user_id, name, principal: PrincipalKind::Guest, away: false }
    }
}

impl ServerFrame<'_> {
    /// Encodes the frame once; the bytes are then shared by every recipient.
    pub fn encode(&self) -> EncodedFrame {
        // Serialising these types cannot fail: every map key is a string and
        // every value is plain data.
        let json = serde_json::to_string(self).unwrap_or_default();
        EncodedFrame(Bytes::from(json))
    }

    /// Decodes a frame the server sent (for clients and tests).
    pub fn decode(text: &str) -> Result<ServerFrame<'static>, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// One encoded server frame: UTF-8 JSON text in reference-counted bytes, so a
/// broadcast to ten thousand subscribers shares one buffer.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedFrame(Bytes);

impl EncodedFrame {
    /// The JSON text's bytes (always valid UTF-8).
    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    /// The JSON text. Checks UTF-8 again (the type guarantees it), so
    /// transports that can take [`bytes`](Self::bytes) should.
    pub fn to_text(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The frame's length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the frame is empty (never, for a real frame).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for EncodedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("EncodedFrame").field(&self.to_text()).finish()
    }
}

impl From<EncodedFrame> for Bytes {
    fn from(frame: EncodedFrame) -> Bytes {
        frame.0
    }
}
