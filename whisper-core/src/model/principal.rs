//! Who acts: a principal is a user id with the kind of identity behind it
//! (protocol.md §14).

use serde::{Deserialize, Serialize};

use super::{DisplayName, UserId};

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
}

impl Principal {
    /// A guest showing `name` (or its guest name).
    pub fn guest(user_id: UserId, name: Option<DisplayName>) -> Principal {
        Principal { user_id, kind: PrincipalKind::Guest, name: name.unwrap_or_else(|| DisplayName::guest(user_id)) }
    }

    /// A bot or system principal of the application's, named `name`.
    pub fn bot(user_id: UserId, name: DisplayName) -> Principal {
        Principal { user_id, kind: PrincipalKind::Bot, name }
    }
}
