//! Who acts: a principal is a user id with the kind of identity behind it
//! (protocol.md §14).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use super::{DisplayName, UserId};

/// The longest external id, in bytes.
pub const MAX_EXTERNAL_ID_LEN: usize = 128;

/// How a principal proved who it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub enum PrincipalKind {
    /// An anonymous identity the server issued (v1's only kind): anyone may
    /// hold one, and its name is whatever it chose.
    #[default]
    Guest,
    /// A registered account: its name is the stored profile's.
    Account,
    /// A program of the server's own (a bot, a system notice).
    Bot,
    /// An identity the embedding application vouches for (its own users, a
    /// JWT's `sub`).
    External,
}

impl PrincipalKind {
    /// Whether the name is the principal's own choice on every connection
    /// (a guest's), rather than a stored profile's.
    pub fn names_itself(self) -> bool {
        self == PrincipalKind::Guest
    }

    /// Whether this is a guest: the kind the wire leaves out, so that a
    /// message or presence entry that says nothing is taken as a guest's and
    /// cannot pass for an account's.
    pub fn is_guest(&self) -> bool {
        *self == PrincipalKind::Guest
    }

    /// The kind as a small number, for stores that keep it in a column.
    pub fn code(self) -> i16 {
        match self {
            PrincipalKind::Guest => 0,
            PrincipalKind::Account => 1,
            PrincipalKind::Bot => 2,
            PrincipalKind::External => 3,
        }
    }

    /// The kind [`PrincipalKind::code`] gave; an unknown code reads as a
    /// guest, the kind that claims nothing.
    pub fn from_code(code: i64) -> PrincipalKind {
        match code {
            1 => PrincipalKind::Account,
            2 => PrincipalKind::Bot,
            3 => PrincipalKind::External,
            _ => PrincipalKind::Guest,
        }
    }
}

/// The embedding application's own id for one of its users (a JWT's
/// `sub`): 1–128 visible ASCII characters, taken as they are. The user id
/// messages are stored under is derived from it ([`ExternalId::user_id`]),
/// so the application never makes up UUIDs of its own (protocol.md §14).
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, type = "string"))]
pub struct ExternalId(Arc<str>);

/// Why a string is not an [`ExternalId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalIdError {
    /// The empty string.
    #[error("must not be empty")]
    Empty,
    /// More than [`MAX_EXTERNAL_ID_LEN`] bytes.
    #[error("must be at most {MAX_EXTERNAL_ID_LEN} characters")]
    TooLong,
    /// A space, a control character or anything beyond ASCII.
    #[error("must be visible ASCII characters only (no spaces)")]
    NotVisibleAscii,
}

impl ExternalId {
    /// Validates `id` (no trimming: an id is compared byte for byte).
    pub fn parse(id: &str) -> Result<ExternalId, ExternalIdError> {
        if id.is_empty() {
            return Err(ExternalIdError::Empty);
        }
        if id.len() > MAX_EXTERNAL_ID_LEN {
            return Err(ExternalIdError::TooLong);
        }
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ExternalIdError::NotVisibleAscii);
        }
        Ok(ExternalId(Arc::from(id)))
    }

    /// The id as the application gave it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user id this external id is stored under: the SHA-256 of
    /// `external:` and the id, shaped as a UUID v4. The same id always
    /// gives the same user, on every node and across restarts, and no guest
    /// or account id (random v4s) can be one by chance.
    pub fn user_id(&self) -> UserId {
        let digest = Sha256::digest(format!("external:{}", self.0).as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
        // `from_random_bytes` sets the version to 4, so this cannot fail.
        UserId::from_uuid(uuid).unwrap_or_else(|_| UserId::random())
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<'de> Deserialize<'de> for ExternalId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ExternalId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Who a policy is asked about: the identity, its kind, and the name it
/// shows now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user id messages are stored under.
    pub user_id: UserId,
    /// How it proved who it is.
    pub kind: PrincipalKind,
    /// The name it shows now.
    pub name: DisplayName,
    /// The application's own id, for an external principal.
    pub external_id: Option<ExternalId>,
}

impl Principal {
    /// A guest showing `name` (or its guest name).
    pub fn guest(user_id: UserId, name: Option<DisplayName>) -> Principal {
        Principal {
            user_id,
            kind: PrincipalKind::Guest,
            name: name.unwrap_or_else(|| DisplayName::guest(user_id)),
            external_id: None,
        }
    }

    /// A registered account of the server's, showing its stored name.
    pub fn account(user_id: UserId, name: DisplayName) -> Principal {
        Principal { user_id, kind: PrincipalKind::Account, name, external_id: None }
    }

    /// One of the embedding application's users, by the application's own
    /// id; its user id is derived from that id.
    pub fn external(id: ExternalId, name: DisplayName) -> Principal {
        Principal { user_id: id.user_id(), kind: PrincipalKind::External, name, external_id: Some(id) }
    }

    /// A bot or system principal of the application's, named `name`.
    pub fn bot(user_id: UserId, name: DisplayName) -> Principal {
        Principal { user_id, kind: PrincipalKind::Bot, name, external_id: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_external_id_is_visible_ascii_of_1_to_128_bytes() {
        assert_eq!(ExternalId::parse("user:42|tenant-7").unwrap().as_str(), "user:42|tenant-7");
        assert_eq!(ExternalId::parse(&"x".repeat(128)).unwrap().as_str().len(), 128);
        assert_eq!(ExternalId::parse(""), Err(ExternalIdError::Empty));
        assert_eq!(ExternalId::parse(&"x".repeat(129)), Err(ExternalIdError::TooLong));
        for bad in ["has space", "tab\t", "nul\0", "é", " lead"] {
            assert_eq!(ExternalId::parse(bad), Err(ExternalIdError::NotVisibleAscii), "{bad:?}");
        }
        let err = serde_json::from_str::<ExternalId>("\"a b\"").unwrap_err().to_string();
        assert!(err.contains("visible ASCII"), "{err}");
    }

    #[test]
    fn an_external_id_stands_for_one_user_id_always() {
        let id = ExternalId::parse("app-user-7").unwrap();
        assert_eq!(id.user_id(), ExternalId::parse("app-user-7").unwrap().user_id());
        assert_ne!(id.user_id(), ExternalId::parse("app-user-8").unwrap().user_id());
        assert_eq!(id.user_id().as_uuid().get_version_num(), 4);
        let principal = Principal::external(id.clone(), DisplayName::parse("Seven").unwrap());
        assert_eq!(
            (principal.user_id, principal.kind, principal.external_id),
            (id.user_id(), PrincipalKind::External, Some(id))
        );
    }

    #[test]
    fn every_kind_survives_its_code_and_an_unknown_code_claims_nothing() {
        for kind in [PrincipalKind::Guest, PrincipalKind::Account, PrincipalKind::Bot, PrincipalKind::External] {
            assert_eq!(PrincipalKind::from_code(kind.code().into()), kind);
        }
        assert_eq!(PrincipalKind::from_code(99), PrincipalKind::Guest);
    }
}
