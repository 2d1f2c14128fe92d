//! The room timeline's other events (protocol.md §13, §15): an edit, a
//! delete or a reaction of a message, a change of membership or of the
//! room's title, each taking the room's next seq like a message, and the
//! [`Entry`] that is either.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use super::message::timestamp;
use super::{
    ClientId, DisplayName, Message, MessageId, Role, RoomName, RoomTitle, Seq, Topic, UserId, Visibility, now_millis,
};

/// The most characters the reason of a kick or ban may have.
pub const MAX_REASON_CHARS: usize = 200;

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
    /// A user's membership changed (the event has no target).
    Member {
        /// Whose.
        member: UserId,
        /// Their display name then.
        member_name: DisplayName,
        /// What happened.
        action: MemberAction,
        /// Their role after it (`None`: not a member after it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        role: Option<Role>,
        /// Why, as the moderator said (kicks and bans).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional, type = "string"))]
        reason: Option<Arc<str>>,
    },
    /// The room was created, or its title or topic changed (no target).
    Room {
        /// Whether this is the room's creation (its first event).
        created: bool,
        /// Who may see it (fixed at creation).
        visibility: Visibility,
        /// Its title after the event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "typescript", ts(optional))]
        title: Option<RoomTitle>,
        /// Its topic after the event.
        topic: Topic,
    },
}

/// What happened to a member (protocol.md §15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum MemberAction {
    /// Made a member: by creating the room, or invited by a moderator.
    Added,
    /// Left of their own accord.
    Left,
    /// Removed by a moderator (may be invited again).
    Kicked,
    /// Removed and barred by a moderator.
    Banned,
    /// No longer barred (not a member again until invited).
    Unbanned,
    /// Given another role.
    Role,
}

impl Change {
    /// The kind's name on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Edit { .. } => "edit",
            Change::Delete => "delete",
            Change::Reaction { .. } => "reaction",
            Change::Member { .. } => "member",
            Change::Room { .. } => "room",
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
    /// The message it changes (none for a `member` or `room` event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub target: Option<MessageId>,
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
    /// Change `member`'s standing (the store checks the asker's role).
    Member {
        /// Whose.
        member: UserId,
        /// Their display name now.
        member_name: DisplayName,
        /// What to do.
        ask: MemberAsk,
    },
    /// Change the title or topic (`None`: keep it).
    Retitle {
        /// The new title.
        title: Option<RoomTitle>,
        /// The new topic.
        topic: Option<Topic>,
    },
}

/// What a [`Request::Member`] asks (protocol.md §15 gives who may).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberAsk {
    /// Make a stranger a member.
    Invite,
    /// Remove a member.
    Kick {
        /// Why, for the member and the room.
        reason: Option<Arc<str>>,
    },
    /// Remove and bar (a member or a stranger).
    Ban {
        /// Why.
        reason: Option<Arc<str>>,
    },
    /// Lift a ban.
    Unban,
    /// The asker leaves (`member` is the asker).
    Leave,
    /// Give a member another role.
    Role(Role),
}

/// An event accepted from a client, not yet stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// The id it will have unless it is a resend.
    pub id: MessageId,
    /// The room of the target.
    pub room: RoomName,
    /// The message it changes (none for a membership or title change).
    pub target: Option<MessageId>,
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
        target: Option<MessageId>,
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

    /// The stored edit, delete or reaction this becomes at `seq`, once the
    /// store has checked it; `count` is a reaction's count after it
    /// (ignored otherwise).
    ///
    /// # Panics
    ///
    /// For a membership or title change, whose stored form the room's rules
    /// decide: those are stored with [`NewEvent::stored_as`].
    pub fn stored_at(self, seq: Seq, count: u32) -> Event {
        let change = match &self.request {
            Request::Edit { content } => Change::Edit { content: content.clone() },
            Request::Delete => Change::Delete,
            Request::React { emoji, on } => Change::Reaction { emoji: emoji.clone(), on: *on, count },
            Request::Member { .. } | Request::Retitle { .. } => {
                unreachable!("a membership or title change is stored with stored_as")
            }
        };
        self.stored_as(seq, change)
    }

    /// The stored event this becomes at `seq` with `change`, as the store's
    /// rules decided it.
    pub fn stored_as(self, seq: Seq, change: Change) -> Event {
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
        let event = NewEvent::now(RoomName::lobby(), Some(target), user, name, request, None).stored_at(Seq(9), 2);
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
        let edit = NewEvent::now(
            RoomName::lobby(),
            Some(message.id),
            user,
            name,
            Request::Edit { content: "hey".into() },
            None,
        )
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
