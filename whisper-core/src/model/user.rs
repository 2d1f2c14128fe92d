//! Who speaks: user ids and display names (protocol.md §1, §2).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// A user's identity: a random UUID v4 that the server assigns. A client never
/// chooses it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, type = "string"))]
pub struct UserId(Uuid);

/// Why a string is not a [`UserId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a UUID v4")]
pub struct UserIdError;

impl UserId {
    /// A fresh random identity.
    pub fn random() -> Self {
        UserId(Uuid::new_v4())
    }

    /// Parses a hyphenated UUID v4.
    pub fn parse(s: &str) -> Result<Self, UserIdError> {
        let uuid = Uuid::try_parse(s).map_err(|_| UserIdError)?;
        UserId::from_uuid(uuid)
    }

    /// Wraps a UUID, which must be version 4.
    pub fn from_uuid(uuid: Uuid) -> Result<Self, UserIdError> {
        if uuid.get_version_num() == 4 { Ok(UserId(uuid)) } else { Err(UserIdError) }
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The 16 bytes of the UUID, e.g. for signing.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        UserId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The most characters a display name may have.
pub const MAX_DISPLAY_NAME_CHARS: usize = 32;

/// A display name: 1–32 printable characters after trimming, with nothing
/// invisible and no look-alike letters of a second script (protocol.md §2).
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, type = "string"))]
pub struct DisplayName(Arc<str>);

/// Why a string is not a [`DisplayName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    /// Nothing left after trimming.
    #[error("must not be empty")]
    Empty,
    /// More than [`MAX_DISPLAY_NAME_CHARS`] characters.
    #[error("must be at most {MAX_DISPLAY_NAME_CHARS} characters")]
    TooLong,
    /// A control or other non-printable character.
    #[error("must contain only printable characters")]
    NotPrintable,
    /// A character that prints nothing or reorders the text (bidi marks,
    /// zero-width and filler characters, tag characters, separators other
    /// than a space), or marks piled on one character.
    #[error("must not contain invisible, formatting or bidi characters")]
    Invisible,
    /// Letters of another script posing as those of the name's own (a
    /// Cyrillic `а` among Latin letters).
    #[error("must not mix look-alike letters of different scripts (such as Cyrillic or Greek among Latin)")]
    MixedScripts,
}

impl DisplayName {
    /// Trims and validates `name`.
    pub fn parse(name: &str) -> Result<Self, DisplayNameError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(DisplayNameError::Empty);
        }
        if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
            return Err(DisplayNameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(DisplayNameError::NotPrintable);
        }
        match super::lookalike::check(name) {
            Some(super::lookalike::Problem::Invisible) => Err(DisplayNameError::Invisible),
            Some(super::lookalike::Problem::MixedScripts) => Err(DisplayNameError::MixedScripts),
            None => Ok(DisplayName(Arc::from(name))),
        }
    }

    /// The name a user has before choosing one: `guest-` and the first four
    /// hex digits of its id, so two guests are told apart.
    pub fn guest(user: UserId) -> Self {
        let hex = user.as_uuid().simple().to_string();
        DisplayName(Arc::from(format!("guest-{}", &hex[..4])))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DisplayName::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_must_be_v4() {
        let id = UserId::random();
        assert_eq!(UserId::parse(&id.to_string()), Ok(id));
        assert_eq!(UserId::parse("not-a-uuid"), Err(UserIdError));
        // A valid UUID, but version 1.
        assert_eq!(UserId::parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), Err(UserIdError));
    }

    #[test]
    fn display_names() {
        assert_eq!(DisplayName::parse("  Ada ").unwrap().as_str(), "Ada");
        assert_eq!(DisplayName::parse("   "), Err(DisplayNameError::Empty));
        assert_eq!(DisplayName::parse(&"é".repeat(33)), Err(DisplayNameError::TooLong));
        assert!(DisplayName::parse(&"é".repeat(32)).is_ok());
        assert_eq!(DisplayName::parse("a\u{7}b"), Err(DisplayNameError::NotPrintable));
        assert_eq!(DisplayName::parse("a\u{202E}b"), Err(DisplayNameError::Invisible));
        assert_eq!(DisplayName::parse("\u{0410}da"), Err(DisplayNameError::MixedScripts));
        assert!(DisplayName::guest(UserId::random()).as_str().starts_with("guest-"));
    }
}
