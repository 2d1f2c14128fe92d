//! Each user's connections on this node, so that the application can reach
//! all of them at once (protocol.md §14): a stored name changed, a user
//! evicted from a room, a session revoked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::lock;
use super::outbox::Outbox;
use crate::model::UserId;

/// The index, shared by the hub and every [`Member`](super::Member) (which
/// takes itself out when dropped).
///
/// Ordered by (user, connection), so a user's connections are one range:
/// one entry per connection and no allocation of its own, where a map of
/// users to lists cost every idle connection a list (~200 bytes).
#[derive(Debug, Default)]
pub(crate) struct Users {
    by_user: Mutex<BTreeMap<(UserId, u64), Handle>>,
}

/// One connection, as the index knows it.
#[derive(Debug, Clone)]
pub(crate) struct Handle {
    /// The sign-in session it was opened with, if any.
    session: Option<Arc<str>>,
    pub(crate) outbox: Arc<Outbox>,
}

impl Users {
    pub(crate) fn add(&self, user: UserId, member: u64, session: Option<Arc<str>>, outbox: Arc<Outbox>) {
        lock(&self.by_user).insert((user, member), Handle { session, outbox });
    }

    pub(crate) fn remove(&self, user: UserId, member: u64) {
        lock(&self.by_user).remove(&(user, member));
    }

    /// Every connection's outbox.
    pub(crate) fn outboxes(&self) -> Vec<Arc<Outbox>> {
        lock(&self.by_user).values().map(|h| h.outbox.clone()).collect()
    }

    /// The user's connections; of one sign-in session only, if `session`.
    pub(crate) fn of(&self, user: UserId, session: Option<&str>) -> Vec<Handle> {
        lock(&self.by_user)
            .range((user, 0)..=(user, u64::MAX))
            .map(|(_, handle)| handle)
            .filter(|h| session.is_none_or(|s| h.session.as_deref() == Some(s)))
            .cloned()
            .collect()
    }
}

/// What the application does to one user's connections, on every node
/// (protocol.md §14): [`Chat`](crate::Chat)'s `rename`, `evict`,
/// `disconnect` and `revoke` apply it here and publish it to the others.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum UserAction {
    /// The stored name changed: show this one.
    Rename {
        /// The new name.
        name: crate::model::DisplayName,
    },
    /// Take the user out of a room (each connection gets `left`).
    Evict {
        /// The room.
        room: crate::model::RoomName,
        /// Why, for people.
        reason: Arc<str>,
    },
    /// Close every connection of the user (close 4002).
    Disconnect,
    /// Close the connections opened with one sign-in session (close 4001).
    Revoke {
        /// The session's id.
        session: Arc<str>,
    },
}
