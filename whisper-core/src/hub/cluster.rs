//! The hub's side of a cluster: other nodes' users in this node's presence,
//! and the work this node owes the others (its rosters, a hello), which the
//! node's cluster task picks up (the `cluster` module).
//!
//! Events between nodes may be lost (the broker is at most once), so every
//! loss this node can notice ends in a *hello*: a node that joins, that lost
//! its link to the broker or that failed to publish says hello; every node
//! that hears it republishes its rosters and reads each of its rooms' new
//! messages from the store, and the node itself does the same.

use std::collections::HashSet;

use tokio::time::Instant;

use super::{Hub, lock};
use crate::codec::PresenceUser;
use crate::model::RoomName;

/// What this node owes the rest of the cluster.
#[derive(Debug, Default)]
pub(crate) struct Owed {
    /// Whether the node is in a cluster. A lone node records nothing.
    clustered: bool,
    /// Rooms whose local roster changed since it was last published.
    dirty: HashSet<RoomName>,
    /// The node must say hello, then republish all its rosters.
    hello: bool,
    /// Another node said hello: republish all rosters.
    republish: bool,
}

/// What the cluster task publishes next.
#[derive(Debug, Default)]
pub(crate) struct ClusterWork {
    /// Say hello first.
    pub(crate) hello: bool,
    /// This node's users of each room, empty for a room it has none in now.
    pub(crate) rosters: Vec<(RoomName, Vec<PresenceUser>)>,
    /// `rosters` holds every room of the node, not only those that changed.
    pub(crate) all: bool,
}

impl Hub {
    /// This node has joined a cluster: from now on it records roster changes,
    /// and starts by saying hello.
    pub(crate) fn join_cluster(&self) {
        let mut owed = lock(&self.inner.owed);
        owed.clustered = true;
        owed.hello = true;
        drop(owed);
        self.inner.cluster_work.notify_one();
    }

    /// The broker's link was broken (a reconnect, or events dropped because
    /// this node read them too slowly): events from other nodes may be lost.
    /// Reads every room's new messages from the store, and says hello so that
    /// the other nodes republish their rosters.
    pub fn link_lost(&self) {
        tracing::debug!("the link to the other nodes was broken: catching up");
        lock(&self.inner.peers).unconfirm(None);
        self.owe_hello();
        self.check_every_room();
    }

    /// Publishing failed: the other nodes may have missed an event of ours.
    pub(crate) fn owe_hello(&self) {
        let mut owed = lock(&self.inner.owed);
        if owed.clustered {
            owed.hello = true;
            drop(owed);
            self.inner.cluster_work.notify_one();
        }
    }

    /// Waits until there is cluster work to publish.
    pub(crate) async fn cluster_work_ready(&self) {
        self.inner.cluster_work.notified().await;
    }

    /// Takes what is owed: the hello, and the rosters that changed (all of
    /// them after a hello, ours or another node's).
    pub(crate) fn take_cluster_work(&self) -> ClusterWork {
        let (hello, all, rooms) = {
            let mut owed = lock(&self.inner.owed);
            let dirty = std::mem::take(&mut owed.dirty);
            let all = owed.hello || owed.republish;
            let hello = std::mem::take(&mut owed.hello);
            owed.republish = false;
            (hello, all, if all { None } else { Some(dirty) })
        };
        let rooms: Vec<RoomName> = match rooms {
            Some(dirty) => dirty.into_iter().collect(),
            None => lock(&self.inner.rooms).keys().cloned().collect(),
        };
        let rosters = rooms
            .into_iter()
            .map(|name| {
                let users = self.room(&name).map(|room| lock(&room).presence.users()).unwrap_or_default();
                (name, users)
            })
            .collect();
        ClusterWork { hello, rosters, all }
    }

    /// Records that this node's users of `room` changed.
    pub(super) fn roster_changed(&self, room: &RoomName) {
        let mut owed = lock(&self.inner.owed);
        if owed.clustered && owed.dirty.insert(room.clone()) {
            drop(owed);
            self.inner.cluster_work.notify_one();
        }
    }

    /// `node` said something.
    pub(crate) fn heard_from(&self, node: &str) {
        lock(&self.inner.peers).heard(node, Instant::now());
    }

    /// `node` reports its users of `room`.
    pub(crate) fn peer_roster(&self, node: &str, room: &RoomName, users: &[PresenceUser]) {
        let changed = lock(&self.inner.peers).set_roster(node, room, users);
        if changed {
            self.remote_presence_changed([room.clone()]);
        }
    }

    /// `node` joined or lost its link: it will republish its rosters, and
    /// may have missed our events or we its.
    pub(crate) fn peer_hello(&self, node: &str) {
        tracing::debug!(node, "hello from another node: republishing our rosters, reading our rooms");
        lock(&self.inner.peers).unconfirm(Some(node));
        {
            let mut owed = lock(&self.inner.owed);
            owed.republish = true;
        }
        self.inner.cluster_work.notify_one();
        self.check_every_room();
    }

    /// `node` is alive. After republishing all its rosters (`synced`), the
    /// ones it did not renew are gone. (Only then: a heartbeat sent before it
    /// heard a hello must not drop rosters it is about to renew.)
    pub(crate) fn peer_heartbeat(&self, node: &str, synced: bool) {
        if synced {
            let changed = lock(&self.inner.peers).drop_unconfirmed(node);
            tracing::debug!(node, rooms = changed.len(), "synced heartbeat: rosters not renewed dropped");
            self.remote_presence_changed(changed);
        }
    }

    /// Forgets nodes silent since `deadline` (they died) and their users.
    pub(crate) fn expire_peers(&self, deadline: Instant) {
        let (gone, changed) = lock(&self.inner.peers).expire(deadline);
        if !gone.is_empty() {
            tracing::warn!(nodes = ?gone, "nodes went silent; their users are no longer shown online");
            // A node killed between its commit and its publish took the news
            // of its last messages with it; the store has them.
            self.check_every_room();
        }
        self.remote_presence_changed(changed);
    }

    /// The other nodes heard from within the peer timeout, sorted.
    pub(crate) fn peers(&self) -> Vec<String> {
        lock(&self.inner.peers).nodes()
    }

    fn remote_presence_changed(&self, rooms: impl IntoIterator<Item = RoomName>) {
        for name in rooms {
            if let Some(room) = self.room(&name) {
                self.presence_changed(&mut lock(&room));
            }
        }
    }

    /// Reads each room's messages past its last broadcast from the store:
    /// messages another node published while we could not hear it.
    fn check_every_room(&self) {
        let rooms: Vec<RoomName> = lock(&self.inner.rooms).keys().cloned().collect();
        for name in rooms {
            self.catch_up(&name);
        }
    }

    /// Reads `room`'s messages past its last broadcast from the store, soon
    /// (after `gap_grace`), without waiting for a later message to reveal
    /// them: a client that saw them on another node says they exist.
    pub(crate) fn catch_up(&self, name: &RoomName) {
        let Some(room) = self.room(name) else { return };
        let mut guard = lock(&room);
        if !guard.gap_fill_armed {
            guard.gap_fill_armed = true;
            drop(guard);
            self.spawn_gap_fill(name.clone());
        }
    }
}
