//! What the other nodes of a cluster told this one about their users: per
//! room, each node's roster, and when each node was last heard from.
//!
//! Rosters are snapshots that replace each other, so a node that missed one
//! is fixed by the next. After a hello (a node restarted, or a link was
//! lost), the rosters in doubt are kept but marked unconfirmed; the rosters
//! their node republishes confirm them, and the `synced` heartbeat that ends
//! its republishing drops those it did not renew. A node that stays silent
//! for the peer timeout is forgotten.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::codec::PresenceUser;
use crate::model::RoomName;

#[derive(Debug, Default)]
pub(crate) struct Peers {
    /// When each node was last heard from.
    heard: HashMap<String, Instant>,
    rooms: HashMap<RoomName, HashMap<String, Roster>>,
}

#[derive(Debug)]
struct Roster {
    users: Vec<PresenceUser>,
    /// Republished since the node's last hello.
    confirmed: bool,
}

impl Peers {
    /// `node` said something now.
    pub(crate) fn heard(&mut self, node: &str, now: Instant) {
        match self.heard.get_mut(node) {
            Some(at) => *at = now,
            None => {
                self.heard.insert(node.to_owned(), now);
            }
        }
    }

    /// `node`'s users in `room` are now `users`. Returns whether the room's
    /// remote users changed.
    pub(crate) fn set_roster(&mut self, node: &str, room: &RoomName, users: &[PresenceUser]) -> bool {
        if users.is_empty() {
            return self.remove_roster(node, room);
        }
        let rosters = self.rooms.entry(room.clone()).or_default();
        match rosters.get_mut(node) {
            Some(roster) => {
                roster.confirmed = true;
                if roster.users == users {
                    return false;
                }
                roster.users = users.to_vec();
            }
            None => {
                rosters.insert(node.to_owned(), Roster { users: users.to_vec(), confirmed: true });
            }
        }
        true
    }

    fn remove_roster(&mut self, node: &str, room: &RoomName) -> bool {
        let Some(rosters) = self.rooms.get_mut(room) else { return false };
        let removed = rosters.remove(node).is_some();
        if rosters.is_empty() {
            self.rooms.remove(room);
        }
        removed
    }

    /// `node` will republish its rosters (see the module comment).
    pub(crate) fn unconfirm(&mut self, node: Option<&str>) {
        for rosters in self.rooms.values_mut() {
            for (n, roster) in rosters.iter_mut() {
                if node.is_none_or(|node| node == n) {
                    roster.confirmed = false;
                }
            }
        }
    }

    /// Drops `node`'s rosters that were not republished since its hello.
    /// Returns the rooms whose remote users changed.
    pub(crate) fn drop_unconfirmed(&mut self, node: &str) -> Vec<RoomName> {
        self.drop_where(|n, roster| n == node && !roster.confirmed)
    }

    /// Forgets nodes not heard from since `deadline`, and their rosters.
    /// Returns the rooms whose remote users changed.
    pub(crate) fn expire(&mut self, deadline: Instant) -> (Vec<String>, Vec<RoomName>) {
        let mut gone: Vec<String> =
            self.heard.iter().filter(|(_, at)| **at < deadline).map(|(n, _)| n.clone()).collect();
        gone.sort();
        for node in &gone {
            self.heard.remove(node);
        }
        let rooms = self.drop_where(|n, _| gone.iter().any(|g| g == n));
        (gone, rooms)
    }

    fn drop_where(&mut self, mut drop: impl FnMut(&str, &Roster) -> bool) -> Vec<RoomName> {
        let mut changed = Vec::new();
        self.rooms.retain(|room, rosters| {
            let before = rosters.len();
            rosters.retain(|node, roster| !drop(node, roster));
            if rosters.len() != before {
                changed.push(room.clone());
            }
            !rosters.is_empty()
        });
        changed
    }

    /// Every remote user of `room`, one entry per node they are on.
    pub(crate) fn users<'a>(&'a self, room: &RoomName) -> impl Iterator<Item = &'a PresenceUser> + 'a {
        self.rooms.get(room).into_iter().flat_map(|rosters| rosters.values()).flat_map(|r| r.users.iter())
    }

    /// The nodes heard from, sorted.
    pub(crate) fn nodes(&self) -> Vec<String> {
        let mut nodes: Vec<String> = self.heard.keys().cloned().collect();
        nodes.sort();
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DisplayName, UserId};
    use std::time::Duration;

    fn user(name: &str) -> PresenceUser {
        PresenceUser::guest(UserId::random(), DisplayName::parse(name).unwrap())
    }

    #[test]
    fn rosters_replace_each_other_and_an_empty_one_removes() {
        let mut peers = Peers::default();
        let room = RoomName::parse("general").unwrap();
        let (ada, bob) = (user("ada"), user("bob"));
        assert!(peers.set_roster("b", &room, std::slice::from_ref(&ada)));
        assert!(!peers.set_roster("b", &room, &[ada]), "the same roster again changes nothing");
        assert!(peers.set_roster("c", &room, std::slice::from_ref(&bob)));
        assert_eq!(peers.users(&room).count(), 2);
        assert!(peers.set_roster("b", &room, &[]));
        assert_eq!(peers.users(&room).collect::<Vec<_>>(), [&bob]);
        assert!(!peers.set_roster("b", &room, &[]));
    }

    #[test]
    fn after_a_hello_only_republished_rosters_survive_the_next_heartbeat() {
        let mut peers = Peers::default();
        let (general, random) = (RoomName::parse("general").unwrap(), RoomName::parse("random").unwrap());
        peers.set_roster("b", &general, &[user("ada")]);
        peers.set_roster("b", &random, &[user("bob")]);
        peers.set_roster("c", &random, &[user("cy")]);
        peers.unconfirm(Some("b"));
        peers.set_roster("b", &general, &[user("ada")]);
        assert_eq!(peers.drop_unconfirmed("b"), std::slice::from_ref(&random));
        assert_eq!(peers.users(&general).count(), 1);
        assert_eq!(peers.users(&random).map(|u| u.name.to_string()).collect::<Vec<_>>(), ["cy"]);
    }

    #[test]
    fn silent_nodes_expire_with_their_rosters() {
        let mut peers = Peers::default();
        let room = RoomName::parse("general").unwrap();
        let t0 = Instant::now();
        peers.heard("b", t0);
        peers.heard("c", t0 + Duration::from_secs(2));
        peers.set_roster("b", &room, &[user("ada")]);
        peers.set_roster("c", &room, &[user("cy")]);
        let (gone, rooms) = peers.expire(t0 + Duration::from_secs(1));
        assert_eq!(gone, ["b"]);
        assert_eq!(rooms, std::slice::from_ref(&room));
        assert_eq!(peers.nodes(), ["c"]);
        assert_eq!(peers.users(&room).count(), 1);
    }
}
