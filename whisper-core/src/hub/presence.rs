//! Who is online in one room: one entry per user, however many connections;
//! and what the room's connections were last told, so that after the full
//! list a connection gets only what changed (protocol.md §9).

use std::collections::{HashMap, HashSet};

use crate::codec::PresenceUser;
use crate::model::{DisplayName, PrincipalKind, UserId};

#[derive(Debug, Default)]
pub(crate) struct Presence {
    users: HashMap<UserId, Entry>,
}

#[derive(Debug)]
struct Entry {
    name: DisplayName,
    kind: PrincipalKind,
    connections: u32,
    /// Of those, how many said they are away: the user is shown away when
    /// all of them are.
    away: u32,
}

impl Entry {
    fn is_away(&self) -> bool {
        self.away == self.connections
    }
}

impl Presence {
    /// A connection of `user` (an identity of `kind`, `away` or not)
    /// arrived. Returns whether the list changed.
    pub(crate) fn arrive(&mut self, user: UserId, name: &DisplayName, kind: PrincipalKind, away: bool) -> bool {
        match self.users.get_mut(&user) {
            Some(entry) => {
                let was_away = entry.is_away();
                entry.connections += 1;
                entry.away += u32::from(away);
                // A guest who signed up is the same user as an account now:
                // the latest connection says who it is.
                let changed = entry.name != *name || entry.kind != kind || entry.is_away() != was_away;
                entry.name = name.clone();
                entry.kind = kind;
                changed
            }
            None => {
                let entry = Entry { name: name.clone(), kind, connections: 1, away: u32::from(away) };
                self.users.insert(user, entry);
                true
            }
        }
    }

    /// A connection of `user` (`away` or not) left. Returns whether the
    /// list changed (its last connection left, or the others are all away).
    pub(crate) fn depart(&mut self, user: UserId, away: bool) -> bool {
        match self.users.get_mut(&user) {
            Some(entry) if entry.connections > 1 => {
                let was_away = entry.is_away();
                entry.connections -= 1;
                entry.away = entry.away.saturating_sub(u32::from(away));
                entry.is_away() != was_away
            }
            Some(_) => {
                self.users.remove(&user);
                true
            }
            None => false,
        }
    }

    /// Whether `user` has a connection here.
    pub(crate) fn contains(&self, user: UserId) -> bool {
        self.users.contains_key(&user)
    }

    /// One connection of `user` is now `away` (or back). Returns whether
    /// the list changed: the user is shown away only once every connection
    /// is, and back as soon as one is.
    pub(crate) fn set_away(&mut self, user: UserId, away: bool) -> bool {
        let Some(entry) = self.users.get_mut(&user) else { return false };
        let was_away = entry.is_away();
        entry.away = if away { (entry.away + 1).min(entry.connections) } else { entry.away.saturating_sub(1) };
        entry.is_away() != was_away
    }

    /// `user` changed name. Returns whether the list changed.
    pub(crate) fn rename(&mut self, user: UserId, name: &DisplayName) -> bool {
        match self.users.get_mut(&user) {
            Some(entry) if entry.name != *name => {
                entry.name = name.clone();
                true
            }
            _ => false,
        }
    }

    /// The list with the users other nodes reported (`remote`), one entry
    /// per user, sorted by name (case-insensitively) then id, so it reads the
    /// same on every client. A user on this node keeps the name given here.
    pub(crate) fn users_with<'a>(&self, remote: impl Iterator<Item = &'a PresenceUser>) -> Vec<PresenceUser> {
        let mut users: Vec<PresenceUser> = self
            .users
            .iter()
            .map(|(id, e)| PresenceUser { user_id: *id, name: e.name.clone(), principal: e.kind, away: e.is_away() })
            .collect();
        let mut seen: HashSet<UserId> = self.users.keys().copied().collect();
        users.extend(remote.filter(|u| seen.insert(u.user_id)).cloned());
        users.sort_by(|a, b| {
            a.name.as_str().to_lowercase().cmp(&b.name.as_str().to_lowercase()).then(a.user_id.cmp(&b.user_id))
        });
        users
    }

    /// This node's users only, as it reports them to the others.
    pub(crate) fn users(&self) -> Vec<PresenceUser> {
        self.users_with(std::iter::empty())
    }

    /// How many users, counting those of `remote` not on this node.
    pub(crate) fn len_with<'a>(&self, remote: impl Iterator<Item = &'a PresenceUser>) -> usize {
        let mut seen: HashSet<UserId> = HashSet::new();
        self.users.len() + remote.filter(|u| !self.users.contains_key(&u.user_id) && seen.insert(u.user_id)).count()
    }
}

/// The room's list as its connections were last told it (at the last
/// presence flush), to diff the current list against.
///
/// Sorted by id, exactly as long as the list: most rooms are small, and a
/// hash map would cost even a room of one a table of its own.
#[derive(Debug, Default)]
pub(crate) struct Announced {
    users: Box<[PresenceUser]>,
}

/// What changed between two lists: a `presence_changes` frame.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Users who arrived or changed name or kind, in the list's order.
    pub(crate) joined: Vec<PresenceUser>,
    /// Users who left, by id.
    pub(crate) left: Vec<UserId>,
}

impl Changes {
    pub(crate) fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.left.is_empty()
    }
}

impl Announced {
    /// Announces `current` (the full list, local and remote users): returns
    /// what changed since the last announcement. A user who came and went
    /// between two announcements, or changed name and back, is no change.
    pub(crate) fn announce(&mut self, current: &[PresenceUser]) -> Changes {
        let mut now: Vec<PresenceUser> = current.to_vec();
        now.sort_unstable_by_key(|u| u.user_id);
        let joined: Vec<PresenceUser> =
            current.iter().filter(|u| told(u.user_id, &self.users) != Some(u)).cloned().collect();
        // Both sorted by id, so the users who left come out sorted too.
        let left: Vec<UserId> = self.users.iter().map(|u| u.user_id).filter(|id| told(*id, &now).is_none()).collect();
        self.users = now.into_boxed_slice();
        Changes { joined, left }
    }
}

/// What `users` (sorted by id) said of `id`, if it has it.
fn told(id: UserId, users: &[PresenceUser]) -> Option<&PresenceUser> {
    users.binary_search_by_key(&id, |u| u.user_id).ok().map(|i| &users[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_user_however_many_connections() {
        let mut p = Presence::default();
        let ada = UserId::random();
        let name = DisplayName::parse("Ada").unwrap();
        assert!(p.arrive(ada, &name, PrincipalKind::Guest, false));
        assert!(!p.arrive(ada, &name, PrincipalKind::Guest, false), "a second socket of the same user changes nothing");
        assert_eq!(p.users().len(), 1);
        assert!(!p.depart(ada, false), "one socket left, the user is still online");
        assert_eq!(p.len_with(std::iter::empty()), 1);
        assert!(p.depart(ada, false), "the last socket left");
        assert_eq!(p.len_with(std::iter::empty()), 0);
        assert!(!p.depart(ada, false));
    }

    #[test]
    fn a_user_is_away_once_every_connection_is() {
        let mut p = Presence::default();
        let ada = UserId::random();
        let name = DisplayName::parse("Ada").unwrap();
        p.arrive(ada, &name, PrincipalKind::Guest, false);
        p.arrive(ada, &name, PrincipalKind::Guest, false);
        assert!(!p.set_away(ada, true), "one tab of two away: still here");
        assert!(!p.users()[0].away);
        assert!(p.set_away(ada, true), "both away");
        assert!(p.users()[0].away);
        assert!(p.set_away(ada, false), "one came back");
        assert!(p.depart(ada, false), "the active one left: only the away one is left");
        assert!(p.users()[0].away);
        assert!(p.arrive(ada, &name, PrincipalKind::Guest, false), "a fresh tab brings the user back");
        assert!(!p.users()[0].away);
    }

    #[test]
    fn sorted_by_name() {
        let mut p = Presence::default();
        for n in ["carol", "Ada", "bob"] {
            p.arrive(UserId::random(), &DisplayName::parse(n).unwrap(), PrincipalKind::Guest, false);
        }
        let names: Vec<String> = p.users().iter().map(|u| u.name.to_string()).collect();
        assert_eq!(names, ["Ada", "bob", "carol"]);
    }

    #[test]
    fn remote_users_join_the_list_once() {
        let mut p = Presence::default();
        let (ada, bob) = (UserId::random(), UserId::random());
        p.arrive(ada, &DisplayName::parse("Ada").unwrap(), PrincipalKind::Guest, false);
        let remote = [
            PresenceUser::guest(ada, DisplayName::parse("Ada elsewhere").unwrap()),
            PresenceUser::guest(bob, DisplayName::parse("bob").unwrap()),
            PresenceUser::guest(bob, DisplayName::parse("bob").unwrap()),
        ];
        let names: Vec<String> = p.users_with(remote.iter()).iter().map(|u| u.name.to_string()).collect();
        assert_eq!(names, ["Ada", "bob"], "one entry per user; a local user keeps the local name");
        assert_eq!(p.len_with(remote.iter()), 2);
        assert_eq!(p.len_with(std::iter::empty()), 1);
    }

    #[test]
    fn announcements_carry_only_what_changed() {
        let mut announced = Announced::default();
        let mut p = Presence::default();
        let (ada, bob, cy) = (UserId::random(), UserId::random(), UserId::random());
        p.arrive(ada, &DisplayName::parse("Ada").unwrap(), PrincipalKind::Guest, false);
        p.arrive(bob, &DisplayName::parse("bob").unwrap(), PrincipalKind::Guest, false);
        let first = announced.announce(&p.users());
        assert_eq!(first.joined.len(), 2, "the first announcement is everyone");
        assert!(announced.announce(&p.users()).is_empty(), "the same list again is no change");

        // Within one interval: cy comes and goes, bob renames twice and
        // lands on his old name, ada leaves.
        p.arrive(cy, &DisplayName::parse("cy").unwrap(), PrincipalKind::Guest, false);
        p.rename(bob, &DisplayName::parse("robert").unwrap());
        p.rename(bob, &DisplayName::parse("bob").unwrap());
        p.depart(cy, false);
        p.depart(ada, false);
        let changes = announced.announce(&p.users());
        assert_eq!(changes, Changes { joined: vec![], left: vec![ada] });

        p.rename(bob, &DisplayName::parse("Bobby").unwrap());
        p.arrive(cy, &DisplayName::parse("cy").unwrap(), PrincipalKind::Guest, false);
        let changes = announced.announce(&p.users());
        let joined: Vec<String> = changes.joined.iter().map(|u| u.name.to_string()).collect();
        assert_eq!(joined, ["Bobby", "cy"], "a rename is a joined entry with the new name");
        assert!(changes.left.is_empty());
    }

    #[test]
    fn remote_users_are_diffed_like_local_ones() {
        let mut announced = Announced::default();
        let p = Presence::default();
        let dee = PresenceUser::guest(UserId::random(), DisplayName::parse("dee").unwrap());
        announced.announce(&p.users_with(std::iter::once(&dee)));
        let changes = announced.announce(&p.users_with(std::iter::empty()));
        assert_eq!(changes.left, [dee.user_id], "a remote user whose node stopped listing them left");
    }
}
