//! The room timeline's other events (protocol.md §13): an edit, a delete or
//! a reaction, each taking the room's next seq like a message, and the
//! [`Entry`] that is either.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use super::message::timestamp;
use super::{ClientId, DisplayName, Message, MessageId, RoomName, Seq, UserId, now_millis};

/// The most bytes an emoji may have (a family with skin tones fits).
pub const MAX_EMOJI_BYTES: usize = 32;

/// A reaction's emoji: 1–32 bytes of text with no whitespace and no control
/// character. Any such text is taken (`:+1:` as well as 👍): the server does
/// not keep a list of emoji, the client's picker does.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, type = "string"))]
pub struct Emoji(Arc<str>);

/// Why a string is not an [`Emoji`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmojiError {
    /// The empty string.
    #[error("must not be empty")]
    Empty,
    /// Over [`MAX_EMOJI_BYTES`].
    #[error("must be at most {MAX_EMOJI_BYTES} bytes")]
    TooLong,
    /// Whitespace or a control character.
    #[error("must not contain whitespace or control characters")]
    BadCharacter,
}

impl Emoji {
    /// Validates an emoji.
    pub fn parse(s: &str) -> Result<Self, EmojiError> {
        if s.is_empty() {
            return Err(EmojiError::Empty);
        }
        if s.len() > MAX_EMOJI_BYTES {
            return Err(EmojiError::TooLong);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmojiError::BadCharacter);
        }
        Ok(Emoji(Arc::from(s)))
    }

    /// The emoji as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for Emoji {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Emoji {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Emoji::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What an event does to the message it targets, with the fields of its
/// kind (on the wire: `"kind": "edit"` and the fields beside it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// The author replaced the text. After a delete of the target, its
    /// edits' `content` is erased too (empty).
    Edit {
        /// The new text.
        #[cfg_attr(feature = "typescript", ts(type = "string"))]
        content: Arc<str>,
    },
    /// The message was taken back: its text is erased, a tombstone stays.
    Delete,
    /// A user added (`on`) or removed a reaction.
    Reaction {
        /// The emoji.
        emoji: Emoji,
        /// Added or removed.
        on: bool,
        /// How many users react with this emoji after this event.
        count: u32,
    },
}

impl Change {
    /// The kind's name on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Edit { .. } => "edit",
            Change::Delete => "delete",
            Change::Reaction { .. } => "reaction",
        }
    }
}

/// A stored event of a room's log that is not a message (protocol.md §13).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct Event {
    /// Its position in the room: the room's next seq when it was stored.
    pub seq: Seq,
    /// Its own id (ids of messages and events are one space of ULIDs).
    pub id: MessageId,
    /// The room.
    pub room: RoomName,
    /// The message it changes.
    pub target: MessageId,
    /// Who did it.
    pub user_id: UserId,
    /// Their display name then.
    pub name: DisplayName,
    /// What it did.
    #[serde(flatten)]
    #[cfg_attr(feature = "typescript", ts(flatten))]
    pub change: Change,
    /// The doer's id for it, for idempotent resend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub client_id: Option<ClientId>,
    /// When the server accepted it.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "typescript", ts(type = "string"))]
    pub created_at: OffsetDateTime,
}

/// What a client asks an event to do, before the store checks it against
/// its target and counts reactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Replace the text (the author only).
    Edit {
        /// Trimmed, validated text.
        content: Arc<str>,
    },
    /// Take the message back (the author only).
    Delete,
    /// Add (`on`) or remove a reaction.
    React {
        /// The emoji.
        emoji: Emoji,
        /// Add or remove.
        on: bool,
    },
}

/// An event accepted from a client, not yet stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// The id it will have unless it is a resend.
    pub id: MessageId,
    /// The room of the target.
    pub room: RoomName,
    /// The message it changes.
    pub target: MessageId,
    /// Who asks (always the sending session's own identity).
    pub user_id: UserId,
    /// Their display name now.
    pub name: DisplayName,
    /// What it asks.
    pub request: Request,
    /// The doer's id for it: a resend returns the stored original.
    pub client_id: Option<ClientId>,
    /// Acceptance time, whole milliseconds.
    pub created_at: OffsetDateTime,
}

impl NewEvent {
    /// An event asked for now, with a fresh id.
    pub fn now(
        room: RoomName,
        target: MessageId,
        user_id: UserId,
        name: DisplayName,
        request: Request,
        client_id: Option<ClientId>,
    ) -> Self {
        NewEvent {
            id: MessageId::generate(),
            room,
            target,
            user_id,
            name,
            request,
            client_id,
            created_at: now_millis(),
        }
    }

    /// The stored event this becomes at `seq`, once the store has checked
    /// it; `count` is a reaction's count after it (ignored otherwise).
    pub fn stored_at(self, seq: Seq, count: u32) -> Event {
        let change = match self.request {
            Request::Edit { content } => Change::Edit { content },
            Request::Delete => Change::Delete,
            Request::React { emoji, on } => Change::Reaction { emoji, on, count },
        };
        Event {
            seq,
            id: self.id,
            room: self.room,
            target: self.target,
            user_id: self.user_id,
            name: self.name,
            change,
            client_id: self.client_id,
            created_at: self.created_at,
        }
    }
}

/// One entry of a room's log: a message as posted (with its tombstone if
/// deleted since), or another event. On the wire a message entry carries
/// `"kind": "message"` beside the message's fields (`GET /v1/chat/events`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A posted message.
    Message(Message),
    /// An edit, delete or reaction.
    Event(Event),
}

impl Entry {
    /// Its position in the room.
    pub fn seq(&self) -> Seq {
        match self {
            Entry::Message(m) => m.seq,
            Entry::Event(e) => e.seq,
        }
    }

    /// Its room.
    pub fn room(&self) -> &RoomName {
        match self {
            Entry::Message(m) => &m.room,
            Entry::Event(e) => &e.room,
        }
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a> {
            kind: &'static str,
            #[serde(flatten)]
            message: &'a Message,
        }
        match self {
            Entry::Message(message) => Tagged { kind: "message", message }.serialize(s),
            Entry::Event(event) => event.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // An event names a target and a kind an event has; a message has
        // neither, and its `kind` ("message") is ignored.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Event(Event),
            Message(Message),
        }
        Ok(match Either::deserialize(d)? {
            Either::Event(e) => Entry::Event(e),
            Either::Message(m) => Entry::Message(m),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> (UserId, DisplayName) {
        (UserId::random(), DisplayName::parse("Ada").unwrap())
    }

    #[test]
    fn emoji_rules() {
        assert!(Emoji::parse("👍").is_ok());
        assert!(Emoji::parse("👨‍👩‍👧‍👦").is_ok());
        assert!(Emoji::parse(":+1:").is_ok());
        assert_eq!(Emoji::parse(""), Err(EmojiError::Empty));
        assert_eq!(Emoji::parse(&"a".repeat(33)), Err(EmojiError::TooLong));
        assert_eq!(Emoji::parse("a b"), Err(EmojiError::BadCharacter));
        assert_eq!(Emoji::parse("a\u{7}"), Err(EmojiError::BadCharacter));
    }

    #[test]
    fn an_event_is_flat_on_the_wire_and_round_trips() {
        let (user, name) = ada();
        let target = MessageId::generate();
        let request = Request::React { emoji: Emoji::parse("🎉").unwrap(), on: true };
        let event = NewEvent::now(RoomName::lobby(), target, user, name, request, None).stored_at(Seq(9), 2);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "reaction");
        assert_eq!(json["emoji"], "🎉");
        assert_eq!(json["on"], true);
        assert_eq!(json["count"], 2);
        assert_eq!(json["seq"], 9);
        assert_eq!(json["target"], target.to_string());
        assert!(json.get("client_id").is_none());
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn entries_say_their_kind() {
        let (user, name) = ada();
        let message =
            crate::model::NewMessage::now(RoomName::lobby(), user, name.clone(), "hi", None).stored_at(Seq(1));
        let edit =
            NewEvent::now(RoomName::lobby(), message.id, user, name, Request::Edit { content: "hey".into() }, None)
                .stored_at(Seq(2), 0);
        let entries = vec![Entry::Message(message), Entry::Event(edit)];
        let json = serde_json::to_value(&entries).unwrap();
        assert_eq!(json[0]["kind"], "message");
        assert_eq!(json[0]["content"], "hi");
        assert_eq!(json[1]["kind"], "edit");
        assert_eq!(json[1]["content"], "hey");
        let back: Vec<Entry> = serde_json::from_value(json).unwrap();
        assert_eq!(back, entries);
    }
}
