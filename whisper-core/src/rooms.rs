//! Rooms with members (protocol.md §15): the [`Chat`] methods that create
//! private, public and direct rooms, change who is in them and what they
//! are called, and tell what a caller may do in one. The server's HTTP API
//! and an embedding application call these, so both give the same answers:
//! the chat's rules ([`crate::store::rules`], decided by the store in the
//! transaction that stores the change) first, then the application's
//! [`Policy`](crate::policy::Policy).

use sha2::{Digest, Sha256};

use crate::Chat;
use crate::model::{
    Access, DIRECT_SPACE, DisplayName, Event, MemberAsk, NewEvent, PRIVATE_SPACE, Principal, Request, RoomName,
    RoomProfile, RoomTitle, Seq, Topic, UserId, Visibility, now_millis,
};
use crate::policy::Denied;
use crate::store::{Applied, EventRefusal, NewRoom, RoomInfo, StoreError};

/// The most members a room may be created with.
pub const MAX_INITIAL_MEMBERS: usize = 100;

/// Why a room was not created or changed. Nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// The request is malformed (a DM with oneself, no title): HTTP 400.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not (HTTP 403). Said the same way whether or not a
    /// room the caller may not see exists.
    #[error("{0}")]
    Forbidden(String),
    /// It contradicts the room's state (a name taken, already a member,
    /// the last owner leaving): HTTP 409.
    #[error("{0}")]
    Conflict(String),
    /// The application's policy refused it.
    #[error("refused: {0}")]
    Denied(Denied),
    /// The store could not.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<EventRefusal> for RoomError {
    fn from(why: EventRefusal) -> RoomError {
        match why {
            EventRefusal::Forbidden(why) => RoomError::Forbidden(why.into()),
            EventRefusal::Conflict(why) => RoomError::Conflict(why.into()),
            // A room's own events have no target.
            EventRefusal::NotFound | EventRefusal::NotAuthor => RoomError::Forbidden("not a change of the room".into()),
        }
    }
}

/// A room to create with [`Chat::create_room`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomSpec {
    /// Public or private (a direct room comes from [`Chat::direct_room`]).
    pub visibility: Visibility,
    /// A public room's name; a private room's is picked by the server.
    pub name: Option<RoomName>,
    /// Its title (required for a private room).
    pub title: Option<RoomTitle>,
    /// Its topic.
    pub topic: Topic,
    /// Its members besides the creator, each an existing user the caller
    /// has resolved (the chat has no directory of accounts).
    pub members: Vec<(UserId, DisplayName)>,
}

/// The name of the direct room of `a` and `b`: the same for either order
/// and on every node, so two creations at once meet on one primary key.
/// Nothing is learned by computing it: a stranger's every question about a
/// room in the `dm/` space gets the same `forbidden`, existing or not.
pub fn direct_room_name(a: UserId, b: UserId) -> RoomName {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let digest = Sha256::new()
        .chain_update(b"whisperchat direct room\0")
        .chain_update(lo.as_uuid().as_bytes())
        .chain_update(hi.as_uuid().as_bytes())
        .finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    RoomName::parse(&format!("{DIRECT_SPACE}/{hex}")).expect("a digest in the dm space is a valid room name")
}

fn private_room_name() -> RoomName {
    let random = uuid::Uuid::new_v4().simple().to_string();
    RoomName::parse(&format!("{PRIVATE_SPACE}/{random}")).expect("a uuid in the p space is a valid room name")
}

/// A room of the server's spaces that does not exist is private, not
/// public: a stranger is refused there exactly as in a private room that
/// does exist, and nobody creates it by first use.
fn reserved_private(room: &RoomName, mut access: Access) -> Access {
    if access.visibility == Visibility::Public && Visibility::reserved(room) {
        access.visibility = Visibility::Private;
    }
    access
}

fn signed_in(who: &Principal, what: &str) -> Result<(), RoomError> {
    if who.kind.is_guest() {
        return Err(RoomError::Forbidden(format!("sign in to {what}")));
    }
    Ok(())
}

impl Chat {
    /// What `who` (`None`: a reader without an identity) may do in `room`.
    pub async fn access(&self, who: Option<&Principal>, room: &RoomName) -> Result<Access, StoreError> {
        let access = match who {
            Some(who) => self.store().access(room, who.user_id).await?,
            // Without an identity one is a stranger everywhere.
            None => {
                Access { visibility: self.store().room(room).await?.profile.visibility, standing: Default::default() }
            }
        };
        Ok(reserved_private(room, access))
    }

    /// [`Chat::access`] for a user by id (a session's own).
    pub(crate) async fn user_access(&self, user: UserId, room: &RoomName) -> Result<Access, StoreError> {
        Ok(reserved_private(room, self.store().access(room, user).await?))
    }

    /// Creates a public or private room owned by `who`, with `spec`'s
    /// members, and tells each member's connections (a `room` frame,
    /// `added`) and, for a public room, everyone (`created`).
    pub async fn create_room(&self, who: &Principal, spec: RoomSpec) -> Result<RoomInfo, RoomError> {
        signed_in(who, "create rooms")?;
        let name = match (spec.visibility, spec.name) {
            (Visibility::Direct, _) => {
                return Err(RoomError::Invalid("a direct room is opened with a user, not created".into()));
            }
            (Visibility::Private, None) => private_room_name(),
            (Visibility::Private, Some(_)) => {
                return Err(RoomError::Invalid("a private room's name is picked by the server".into()));
            }
            (Visibility::Public, None) => return Err(RoomError::Invalid("a public room needs a name".into())),
            (Visibility::Public, Some(name)) if Visibility::reserved(&name) => {
                return Err(RoomError::Invalid(format!(
                    "room names in the {PRIVATE_SPACE}/ and {DIRECT_SPACE}/ spaces are the server's"
                )));
            }
            (Visibility::Public, Some(name)) => name,
        };
        if spec.visibility == Visibility::Private && spec.title.is_none() {
            return Err(RoomError::Invalid("a private room needs a title".into()));
        }
        let mut members = spec.members;
        members.retain(|(u, _)| *u != who.user_id);
        members.sort_by_key(|(u, _)| *u);
        members.dedup_by_key(|(u, _)| *u);
        if members.len() > MAX_INITIAL_MEMBERS {
            return Err(RoomError::Invalid(format!("at most {MAX_INITIAL_MEMBERS} members at creation")));
        }
        let profile = RoomProfile { visibility: spec.visibility, title: spec.title, topic: spec.topic };
        if let Some(policy) = self.policy() {
            policy.create_room(who, &name, &profile).await.map_err(RoomError::Denied)?;
        }
        let new = NewRoom {
            name: name.clone(),
            profile,
            creator: (who.user_id, who.name.clone()),
            members,
            created_at: now_millis(),
        };
        let Some(events) = self.store().create_room(new).await? else {
            return Err(RoomError::Conflict(format!("room {name} exists already")));
        };
        self.publish_events(&events).await;
        Ok(self.store().room(&name).await?)
    }

    /// The direct room of `who` and `other`, created (and told to both)
    /// if it is new: `(room, created)`. Two creations at once, on any
    /// nodes, end as one room.
    pub async fn direct_room(
        &self,
        who: &Principal,
        other: (UserId, DisplayName),
    ) -> Result<(RoomInfo, bool), RoomError> {
        signed_in(who, "send direct messages")?;
        if other.0 == who.user_id {
            return Err(RoomError::Invalid("a direct conversation needs someone else".into()));
        }
        let name = direct_room_name(who.user_id, other.0);
        let existing = self.store().room(&name).await?;
        if existing.last_seq > Seq::ZERO {
            return Ok((existing, false));
        }
        let profile = RoomProfile { visibility: Visibility::Direct, ..Default::default() };
        if let Some(policy) = self.policy() {
            policy.create_room(who, &name, &profile).await.map_err(RoomError::Denied)?;
        }
        let new = NewRoom {
            name: name.clone(),
            profile,
            creator: (who.user_id, who.name.clone()),
            members: vec![other],
            created_at: now_millis(),
        };
        let created = self.store().create_room(new).await?;
        let fresh = created.is_some();
        if let Some(events) = created {
            self.publish_events(&events).await;
        }
        Ok((self.store().room(&name).await?, fresh))
    }

    /// Asks a membership or title change of `room` as `who`: invite, kick,
    /// ban, unban, leave, a role, a title or topic. The store decides it by
    /// the rules of protocol.md §15 in the transaction that stores it; a
    /// stored change is broadcast like any event, and a kicked or banned
    /// member leaves the room on every node at once.
    pub async fn manage(&self, who: &Principal, room: &RoomName, request: Request) -> Result<Event, RoomError> {
        if !matches!(request, Request::Member { .. } | Request::Retitle { .. }) {
            return Err(RoomError::Invalid("not a membership or title change".into()));
        }
        if who.kind.is_guest() && !matches!(request, Request::Member { ask: MemberAsk::Leave, .. }) {
            return Err(RoomError::Forbidden("sign in to manage rooms".into()));
        }
        if let Some(policy) = self.policy() {
            policy.manage(who, room, &request).await.map_err(RoomError::Denied)?;
        }
        let event = NewEvent::now(room.clone(), None, who.user_id, who.name.clone(), request, None);
        match self.apply(event).await? {
            Applied::Stored(event) => Ok(event),
            Applied::Refused(why) => Err(why.into()),
            Applied::Unchanged => Err(RoomError::Conflict("nothing to change".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_has_one_direct_room() {
        let (a, b, c) = (UserId::random(), UserId::random(), UserId::random());
        assert_eq!(direct_room_name(a, b), direct_room_name(b, a));
        assert_ne!(direct_room_name(a, b), direct_room_name(a, c));
        assert!(Visibility::reserved(&direct_room_name(a, b)));
        assert!(Visibility::reserved(&private_room_name()));
        assert_ne!(private_room_name(), private_room_name());
    }
}
