//! Each user's connections on this node, so that the application can reach
//! all of them at once (protocol.md §14): a stored name changed, a user
//! evicted from a room, a session revoked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::lock;
use super::outbox::Outbox;
use crate::model::UserId;

/// The index, shared by the hub and every [`Member`](super::Member) (which
/// takes itself out when dropped).
#[derive(Debug, Default)]
pub(crate) struct Users {
    by_user: Mutex<HashMap<UserId, Vec<Handle>>>,
}

/// One connection, as the index knows it.
#[derive(Debug, Clone)]
pub(crate) struct Handle {
    member: u64,
    /// The sign-in session it was opened with, if any.
    session: Option<Arc<str>>,
    pub(crate) outbox: Arc<Outbox>,
}

impl Users {
    pub(crate) fn add(&self, user: UserId, member: u64, session: Option<Arc<str>>, outbox: Arc<Outbox>) {
        lock(&self.by_user).entry(user).or_default().push(Handle { member, session, outbox });
    }

    pub(crate) fn remove(&self, user: UserId, member: u64) {
        let mut by_user = lock(&self.by_user);
        if let Some(handles) = by_user.get_mut(&user) {
            handles.retain(|h| h.member != member);
            if handles.is_empty() {
                by_user.remove(&user);
            }
        }
    }

    /// The user's connections; of one sign-in session only, if `session`.
    pub(crate) fn of(&self, user: UserId, session: Option<&str>) -> Vec<Handle> {
        let by_user = lock(&self.by_user);
        let Some(handles) = by_user.get(&user) else { return Vec::new() };
        handles.iter().filter(|h| session.is_none_or(|s| h.session.as_deref() == Some(s))).cloned().collect()
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
