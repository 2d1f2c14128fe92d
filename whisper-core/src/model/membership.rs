//! Who may be in a room (protocol.md §15): its [`Visibility`], its members'
//! [`Role`]s, a user's [`Standing`] in it, and the room's [`RoomProfile`]
//! (title and topic).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{RoomName, UserId};

/// The most characters a room title may have.
pub const MAX_TITLE_CHARS: usize = 80;
/// The most characters a room topic may have.
pub const MAX_TOPIC_CHARS: usize = 300;
/// The space of private rooms' names: the server picks `p/<random>`.
pub const PRIVATE_SPACE: &str = "p";
/// The space of direct rooms' names: `dm/<digest of the pair>`.
pub const DIRECT_SPACE: &str = "dm";

/// Who may see a room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone not banned: joined, read and listed by all.
    #[default]
    Public,
    /// Members only; its name, title and members are theirs alone.
    Private,
    /// Exactly two users, one room per pair.
    Direct,
}

impl Visibility {
    /// Its number in a database column (0 public, 1 private, 2 direct).
    pub fn code(self) -> u8 {
        match self {
            Visibility::Public => 0,
            Visibility::Private => 1,
            Visibility::Direct => 2,
        }
    }

    /// The visibility numbered `code`.
    pub fn from_code(code: u8) -> Option<Visibility> {
        Some(match code {
            0 => Visibility::Public,
            1 => Visibility::Private,
            2 => Visibility::Direct,
            _ => return None,
        })
    }

    /// Whether rooms of this kind are the server's to name: a room in the
    /// `p/` or `dm/` space is never created by first use, so nobody can
    /// squat a name there or learn whether one exists by posting to it.
    pub fn reserved(room: &RoomName) -> bool {
        matches!(room.space(), Some(PRIVATE_SPACE | DIRECT_SPACE))
    }
}

/// A member's part in a room, highest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything a moderator may, and roles; a room keeps at least one.
    Owner,
    /// Invites, removes and bans members, deletes any message, retitles.
    Moderator,
    /// Reads and writes.
    Member,
}

impl Role {
    /// Higher is more: member 1, moderator 2, owner 3 (also its database code).
    pub fn rank(self) -> u8 {
        match self {
            Role::Member => 1,
            Role::Moderator => 2,
            Role::Owner => 3,
        }
    }

    /// The role of rank `rank`.
    pub fn from_rank(rank: u8) -> Option<Role> {
        Some(match rank {
            1 => Role::Member,
            2 => Role::Moderator,
            3 => Role::Owner,
            _ => return None,
        })
    }

    /// Whether it moderates (owner or moderator).
    pub fn moderates(self) -> bool {
        self.rank() >= Role::Moderator.rank()
    }
}

/// A user's standing in a room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Standing {
    /// Neither a member nor banned.
    #[default]
    Stranger,
    /// A member with this role.
    Member(Role),
    /// Banned: may not join, read or be invited until unbanned.
    Banned,
}

impl Standing {
    /// The role, if a member.
    pub fn role(self) -> Option<Role> {
        match self {
            Standing::Member(role) => Some(role),
            _ => None,
        }
    }

    /// Its database code: the role's rank, 0 a stranger, -1 banned.
    pub fn code(self) -> i8 {
        match self {
            Standing::Stranger => 0,
            Standing::Member(role) => role.rank() as i8,
            Standing::Banned => -1,
        }
    }

    /// The standing of code `code`.
    pub fn from_code(code: i64) -> Option<Standing> {
        Some(match code {
            0 => Standing::Stranger,
            -1 => Standing::Banned,
            n => Standing::Member(Role::from_rank(u8::try_from(n).ok()?)?),
        })
    }
}

/// What the chat knows of a user and a room, to decide what they may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// The room's kind (a room nobody created explicitly is public).
    pub visibility: Visibility,
    /// The user's standing in it.
    pub standing: Standing,
}

impl Access {
    /// Whether the user may join, read and write the room: anyone not
    /// banned in a public room, members only otherwise.
    pub fn may_enter(self) -> bool {
        match (self.visibility, self.standing) {
            (_, Standing::Banned) => false,
            (Visibility::Public, _) => true,
            (_, Standing::Member(_)) => true,
            _ => false,
        }
    }

    /// Whether the user moderates the room.
    pub fn moderates(self) -> bool {
        self.standing.role().is_some_and(Role::moderates)
    }
}

/// Why a string is not a [`RoomTitle`] or a [`Topic`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing but whitespace (a title only).
    #[error("must not be empty")]
    Empty,
    /// Over the limit.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// A control character.
    #[error("must not contain control characters")]
    BadCharacter,
}

fn checked(s: &str, max: usize, may_be_empty: bool) -> Result<Arc<str>, TextError> {
    let s = s.trim();
    if s.is_empty() && !may_be_empty {
        return Err(TextError::Empty);
    }
    if s.chars().count() > max {
        return Err(TextError::TooLong(max));
    }
    if s.chars().any(char::is_control) {
        return Err(TextError::BadCharacter);
    }
    Ok(Arc::from(s))
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $max:expr, $may_be_empty:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, type = "string"))]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates it (trimmed first).
            pub fn parse(s: &str) -> Result<Self, TextError> {
                checked(s, $max, $may_be_empty).map($name)
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&*self.0, f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_value!(
    /// A room's title: 1–80 characters, trimmed, no control character.
    RoomTitle,
    MAX_TITLE_CHARS,
    false
);
text_value!(
    /// A room's topic: 0–300 characters, trimmed, no control character.
    Topic,
    MAX_TOPIC_CHARS,
    true
);

impl Default for Topic {
    fn default() -> Self {
        Topic(Arc::from(""))
    }
}

/// A room's kind and what it says of itself. A room created by first use
/// has the default: public, no title, no topic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct RoomProfile {
    /// Who may see it.
    pub visibility: Visibility,
    /// Its title, if it was given one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub title: Option<RoomTitle>,
    /// Its topic (empty: none).
    #[serde(default)]
    pub topic: Topic,
}

/// One member of a room, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct Member {
    /// The member.
    pub user_id: UserId,
    /// Their display name when they last changed standing.
    pub name: super::DisplayName,
    /// Their role.
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_enter() {
        let public = |standing| Access { visibility: Visibility::Public, standing };
        let private = |standing| Access { visibility: Visibility::Private, standing };
        assert!(public(Standing::Stranger).may_enter());
        assert!(!public(Standing::Banned).may_enter());
        assert!(!private(Standing::Stranger).may_enter());
        assert!(private(Standing::Member(Role::Member)).may_enter());
        assert!(!private(Standing::Banned).may_enter());
        assert!(private(Standing::Member(Role::Moderator)).moderates());
        assert!(!private(Standing::Member(Role::Member)).moderates());
    }

    #[test]
    fn codes_round_trip() {
        for standing in [
            Standing::Stranger,
            Standing::Banned,
            Standing::Member(Role::Member),
            Standing::Member(Role::Moderator),
            Standing::Member(Role::Owner),
        ] {
            assert_eq!(Standing::from_code(i64::from(standing.code())), Some(standing));
        }
        for v in [Visibility::Public, Visibility::Private, Visibility::Direct] {
            assert_eq!(Visibility::from_code(v.code()), Some(v));
        }
    }

    #[test]
    fn titles_and_topics() {
        assert_eq!(RoomTitle::parse("  $$Money$$ ").unwrap().as_str(), "$$Money$$");
        assert_eq!(RoomTitle::parse("   "), Err(TextError::Empty));
        assert_eq!(RoomTitle::parse(&"x".repeat(81)), Err(TextError::TooLong(80)));
        assert_eq!(RoomTitle::parse("a\u{0}b"), Err(TextError::BadCharacter));
        assert_eq!(Topic::parse("").unwrap().as_str(), "");
        assert!(Topic::parse(&"é".repeat(300)).is_ok());
        assert!(Topic::parse(&"é".repeat(301)).is_err());
    }

    #[test]
    fn reserved_spaces() {
        assert!(Visibility::reserved(&RoomName::parse("p/abc").unwrap()));
        assert!(Visibility::reserved(&RoomName::parse("dm/abc").unwrap()));
        assert!(!Visibility::reserved(&RoomName::parse("acme/p").unwrap()));
        assert!(!Visibility::reserved(&RoomName::lobby()));
    }
}
