//! Who is online in one room: one entry per user, however many connections.

use std::collections::HashMap;

use crate::codec::PresenceUser;
use crate::model::{DisplayName, UserId};

#[derive(Debug, Default)]
pub(crate) struct Presence {
    users: HashMap<UserId, Entry>,
}

#[derive(Debug)]
struct Entry {
    name: DisplayName,
    connections: u32,
}

impl Presence {
    /// A connection of `user` arrived. Returns whether the list changed.
    pub(crate) fn arrive(&mut self, user: UserId, name: &DisplayName) -> bool {
        match self.users.get_mut(&user) {
            Some(entry) => {
                entry.connections += 1;
                let renamed = entry.name != *name;
                entry.name = name.clone();
                renamed
            }
            None => {
                self.users.insert(user, Entry { name: name.clone(), connections: 1 });
                true
            }
        }
    }

    /// A connection of `user` left. Returns whether the list changed (its
    /// last connection left).
    pub(crate) fn depart(&mut self, user: UserId) -> bool {
        match self.users.get_mut(&user) {
            Some(entry) if entry.connections > 1 => {
                entry.connections -= 1;
                false
            }
            Some(_) => {
                self.users.remove(&user);
                true
            }
            None => false,
        }
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

    /// The list, sorted by name (case-insensitively) then id, so it reads the
    /// same on every client.
    pub(crate) fn users(&self) -> Vec<PresenceUser> {
        let mut users: Vec<PresenceUser> =
            self.users.iter().map(|(id, e)| PresenceUser { user_id: *id, name: e.name.clone() }).collect();
        users.sort_by(|a, b| {
            a.name.as_str().to_lowercase().cmp(&b.name.as_str().to_lowercase()).then(a.user_id.cmp(&b.user_id))
        });
        users
    }

    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_user_however_many_connections() {
        let mut p = Presence::default();
        let ada = UserId::random();
        let name = DisplayName::parse("Ada").unwrap();
        assert!(p.arrive(ada, &name));
        assert!(!p.arrive(ada, &name), "a second socket of the same user changes nothing");
        assert_eq!(p.users().len(), 1);
        assert!(!p.depart(ada), "one socket left, the user is still online");
        assert_eq!(p.len(), 1);
        assert!(p.depart(ada), "the last socket left");
        assert_eq!(p.len(), 0);
        assert!(!p.depart(ada));
    }

    #[test]
    fn sorted_by_name() {
        let mut p = Presence::default();
        for n in ["carol", "Ada", "bob"] {
            p.arrive(UserId::random(), &DisplayName::parse(n).unwrap());
        }
        let names: Vec<String> = p.users().iter().map(|u| u.name.to_string()).collect();
        assert_eq!(names, ["Ada", "bob", "carol"]);
    }
}
