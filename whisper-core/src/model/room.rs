//! Room names (protocol.md §2).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most characters a room name may have, `/` included.
pub const MAX_ROOM_NAME_LEN: usize = 64;

/// A validated room name: 1–64 of `[a-z0-9_-]`, optionally one `/` grouping a
/// channel under a space (`acme/general`).
///
/// Cheap to clone (an `Arc<str>` inside), because every message, subscription
/// and broadcast carries one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, type = "string"))]
pub struct RoomName(Arc<str>);

/// Why a string is not a [`RoomName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    /// The name is empty, or one side of its `/` is.
    #[error("must not be empty")]
    Empty,
    /// Longer than [`MAX_ROOM_NAME_LEN`].
    #[error("must be at most {MAX_ROOM_NAME_LEN} characters")]
    TooLong,
    /// A character outside `[a-z0-9_-]` (and the one `/`).
    #[error("may only contain a-z, 0-9, '_' and '-', with at most one '/'")]
    BadCharacter,
}

impl RoomName {
    /// The room every connection joins when it names none.
    pub fn lobby() -> Self {
        RoomName(Arc::from("lobby"))
    }

    /// Validates `name`.
    pub fn parse(name: &str) -> Result<Self, RoomNameError> {
        if name.len() > MAX_ROOM_NAME_LEN {
            return Err(RoomNameError::TooLong);
        }
        for part in name.splitn(2, '/') {
            if part.is_empty() {
                return Err(RoomNameError::Empty);
            }
            let ok = part.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
            if !ok {
                return Err(RoomNameError::BadCharacter);
            }
        }
        Ok(RoomName(Arc::from(name)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The space of a `space/channel` name, if it has one.
    pub fn space(&self) -> Option<&str> {
        self.0.split_once('/').map(|(space, _)| space)
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for RoomName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RoomName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        RoomName::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for RoomName {
    type Err = RoomNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RoomName::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_spec_examples() {
        for ok in ["lobby", "acme/general", "a", "x_y-z/0-9", &"a".repeat(64)] {
            assert!(RoomName::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(RoomName::parse("acme/general").unwrap().space(), Some("acme"));
        assert_eq!(RoomName::lobby().space(), None);
    }

    #[test]
    fn refuses_bad_names() {
        assert_eq!(RoomName::parse(""), Err(RoomNameError::Empty));
        assert_eq!(RoomName::parse("/x"), Err(RoomNameError::Empty));
        assert_eq!(RoomName::parse("x/"), Err(RoomNameError::Empty));
        assert_eq!(RoomName::parse(&"a".repeat(65)), Err(RoomNameError::TooLong));
        assert_eq!(RoomName::parse(&format!("{}/{}", "a".repeat(32), "b".repeat(32))), Err(RoomNameError::TooLong));
        assert!(RoomName::parse(&format!("{}/{}", "a".repeat(31), "b".repeat(32))).is_ok());
        for bad in ["Lobby", "a b", "a/b/c", "é", "a.b", "<script>"] {
            assert_eq!(RoomName::parse(bad), Err(RoomNameError::BadCharacter), "{bad}");
        }
    }
}
