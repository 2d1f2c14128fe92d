//! The rules of membership and moderation (protocol.md §15): what a
//! membership or title change becomes, given what the store knows of the
//! room in the transaction that stores it. Every store calls [`decide`], so
//! the rules live in one place and each backend only gathers [`RoomFacts`].

use super::EventRefusal;
use crate::model::{Change, MemberAction, MemberAsk, Request, Role, RoomProfile, Standing, UserId, Visibility};

/// What a store knows of a room and the two users a change is about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomFacts {
    /// The room's kind and title (the default for a room created by first use).
    pub profile: RoomProfile,
    /// The asker's standing.
    pub actor: Standing,
    /// The standing of the member the change is about (the asker's for a leave).
    pub subject: Standing,
    /// How many owners the room has.
    pub owners: u64,
    /// How many members, owners included.
    pub members: u64,
}

/// The refusal a stranger gets for anything in a room that is not public,
/// the same whether the room exists or not: nothing tells which private
/// rooms exist.
pub const NOT_A_MEMBER: EventRefusal = EventRefusal::Forbidden("not a member of this room");

/// What `request` by `actor` becomes in a room with `facts`: the change to
/// store, or why nothing is stored. Only for [`Request::Member`] and
/// [`Request::Retitle`]; a message's edit, delete or reaction is checked
/// against its target by the store (with [`may_delete`] for a delete).
pub fn decide(request: &Request, actor: UserId, facts: &RoomFacts) -> Result<Change, EventRefusal> {
    let visibility = facts.profile.visibility;
    let access = crate::model::Access { visibility, standing: facts.actor };
    if !access.may_enter() {
        return Err(if facts.actor == Standing::Banned && visibility == Visibility::Public {
            EventRefusal::Forbidden("banned from this room")
        } else {
            NOT_A_MEMBER
        });
    }
    let member = |member: UserId, member_name: &crate::model::DisplayName, action, role, reason| Change::Member {
        member,
        member_name: member_name.clone(),
        action,
        role,
        reason,
    };
    match request {
        Request::Retitle { title, topic } => {
            if visibility == Visibility::Direct {
                return Err(EventRefusal::Forbidden("a direct conversation has no title"));
            }
            if !access.moderates() {
                return Err(EventRefusal::Forbidden("only the room's owners and moderators may retitle it"));
            }
            Ok(Change::Room {
                created: false,
                visibility,
                title: title.clone().or_else(|| facts.profile.title.clone()),
                topic: topic.clone().unwrap_or_else(|| facts.profile.topic.clone()),
            })
        }
        Request::Member { member: subject, member_name, ask } => {
            if visibility == Visibility::Direct {
                return Err(match ask {
                    MemberAsk::Leave => EventRefusal::Conflict("a direct conversation cannot be left"),
                    _ => EventRefusal::Forbidden("a direct conversation has exactly its two members"),
                });
            }
            if let MemberAsk::Leave = ask {
                return leave(actor, member_name, facts);
            }
            let Some(actor_role) = facts.actor.role().filter(|r| r.moderates()) else {
                return Err(EventRefusal::Forbidden("only the room's owners and moderators may do that"));
            };
            if *subject == actor {
                return Err(EventRefusal::Conflict("that cannot be done to yourself (leave the room instead)"));
            }
            let outranked = |standing: Standing| standing.role().is_some_and(|r| r.rank() >= actor_role.rank());
            match ask {
                MemberAsk::Invite => match facts.subject {
                    Standing::Member(_) => Err(EventRefusal::Conflict("already a member")),
                    Standing::Banned => Err(EventRefusal::Conflict("banned from this room: unban first")),
                    Standing::Stranger => {
                        Ok(member(*subject, member_name, MemberAction::Added, Some(Role::Member), None))
                    }
                },
                MemberAsk::Kick { reason } => match facts.subject {
                    Standing::Member(_) if outranked(facts.subject) => {
                        Err(EventRefusal::Forbidden("only an owner may remove a moderator or an owner"))
                    }
                    Standing::Member(_) => {
                        Ok(member(*subject, member_name, MemberAction::Kicked, None, reason.clone()))
                    }
                    _ => Err(EventRefusal::Conflict("not a member")),
                },
                MemberAsk::Ban { reason } => match facts.subject {
                    Standing::Banned => Err(EventRefusal::Conflict("already banned")),
                    s if outranked(s) => Err(EventRefusal::Forbidden("only an owner may ban a moderator or an owner")),
                    _ => Ok(member(*subject, member_name, MemberAction::Banned, None, reason.clone())),
                },
                MemberAsk::Unban => match facts.subject {
                    Standing::Banned => Ok(member(*subject, member_name, MemberAction::Unbanned, None, None)),
                    _ => Err(EventRefusal::Conflict("not banned")),
                },
                MemberAsk::Role(role) if actor_role == Role::Owner => match facts.subject {
                    Standing::Member(now) if now == *role => Err(EventRefusal::Conflict("already in that role")),
                    Standing::Member(_) => Ok(member(*subject, member_name, MemberAction::Role, Some(*role), None)),
                    _ => Err(EventRefusal::Conflict("not a member")),
                },
                MemberAsk::Role(_) | MemberAsk::Leave => Err(EventRefusal::Forbidden("only an owner may change roles")),
            }
        }
        Request::Edit { .. } | Request::Delete | Request::React { .. } => {
            Err(EventRefusal::Forbidden("not a change of the room"))
        }
    }
}

/// The refusal of any event in a room with no log: its target is not
/// found, and nobody is a member (as in a private room one is not in).
pub fn no_room(event: &crate::model::NewEvent) -> EventRefusal {
    if event.target.is_some() { EventRefusal::NotFound } else { NOT_A_MEMBER }
}

/// A member leaving: anyone but the last owner of a room others are still in.
fn leave(actor: UserId, name: &crate::model::DisplayName, facts: &RoomFacts) -> Result<Change, EventRefusal> {
    let Some(role) = facts.actor.role() else { return Err(EventRefusal::Conflict("not a member")) };
    if role == Role::Owner && facts.owners <= 1 && facts.members > 1 {
        return Err(EventRefusal::Conflict(
            "the last owner may not leave while others remain: make another member owner first",
        ));
    }
    Ok(Change::Member {
        member: actor,
        member_name: name.clone(),
        action: MemberAction::Left,
        role: None,
        reason: None,
    })
}

/// Whether `actor`, with `standing` in the room, may delete a message by
/// `author`: its author, or the room's owners and moderators.
pub fn may_delete(actor: UserId, author: UserId, standing: Standing) -> bool {
    actor == author || standing.role().is_some_and(Role::moderates)
}

/// The standing `change` leaves its member with.
pub fn standing_after(change: &Change) -> Option<(UserId, Standing)> {
    let Change::Member { member, action, role, .. } = change else { return None };
    Some((
        *member,
        match (action, role) {
            (MemberAction::Banned, _) => Standing::Banned,
            (_, Some(role)) => Standing::Member(*role),
            (_, None) => Standing::Stranger,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DisplayName, RoomTitle};

    fn facts(visibility: Visibility, actor: Standing, subject: Standing) -> RoomFacts {
        RoomFacts { profile: RoomProfile { visibility, ..Default::default() }, actor, subject, owners: 1, members: 3 }
    }

    fn ask(subject: UserId, ask: MemberAsk) -> Request {
        Request::Member { member: subject, member_name: DisplayName::parse("Bob").unwrap(), ask }
    }

    const OWNER: Standing = Standing::Member(Role::Owner);
    const MODERATOR: Standing = Standing::Member(Role::Moderator);
    const MEMBER: Standing = Standing::Member(Role::Member);

    #[test]
    fn strangers_learn_nothing_of_a_private_room() {
        let (me, bob) = (UserId::random(), UserId::random());
        for request in [ask(bob, MemberAsk::Invite), ask(me, MemberAsk::Leave)] {
            let got = decide(&request, me, &facts(Visibility::Private, Standing::Stranger, Standing::Stranger));
            assert_eq!(got, Err(NOT_A_MEMBER));
            let got = decide(&request, me, &facts(Visibility::Private, Standing::Banned, Standing::Stranger));
            assert_eq!(got, Err(NOT_A_MEMBER));
        }
    }

    #[test]
    fn moderators_invite_kick_and_ban_below_them() {
        let (me, bob) = (UserId::random(), UserId::random());
        let private = Visibility::Private;
        let invite = decide(&ask(bob, MemberAsk::Invite), me, &facts(private, MODERATOR, Standing::Stranger));
        assert!(matches!(invite, Ok(Change::Member { action: MemberAction::Added, role: Some(Role::Member), .. })));
        let by_member = decide(&ask(bob, MemberAsk::Invite), me, &facts(private, MEMBER, Standing::Stranger));
        assert!(matches!(by_member, Err(EventRefusal::Forbidden(_))));
        let kick = MemberAsk::Kick { reason: Some("spam".into()) };
        assert!(decide(&ask(bob, kick.clone()), me, &facts(private, MODERATOR, MEMBER)).is_ok());
        assert!(matches!(
            decide(&ask(bob, kick.clone()), me, &facts(private, MODERATOR, MODERATOR)),
            Err(EventRefusal::Forbidden(_))
        ));
        assert!(decide(&ask(bob, kick), me, &facts(private, OWNER, MODERATOR)).is_ok());
        let ban = decide(&ask(bob, MemberAsk::Ban { reason: None }), me, &facts(private, OWNER, Standing::Stranger));
        assert_eq!(standing_after(&ban.unwrap()), Some((bob, Standing::Banned)));
        let rejoin = decide(&ask(bob, MemberAsk::Invite), me, &facts(private, OWNER, Standing::Banned));
        assert!(matches!(rejoin, Err(EventRefusal::Conflict(_))));
    }

    #[test]
    fn the_last_owner_stays_while_others_remain() {
        let me = UserId::random();
        let mut f = facts(Visibility::Private, OWNER, OWNER);
        assert!(matches!(decide(&ask(me, MemberAsk::Leave), me, &f), Err(EventRefusal::Conflict(_))));
        f.owners = 2;
        assert!(decide(&ask(me, MemberAsk::Leave), me, &f).is_ok());
        f.owners = 1;
        f.members = 1;
        assert!(decide(&ask(me, MemberAsk::Leave), me, &f).is_ok(), "alone, the owner may leave");
    }

    #[test]
    fn direct_rooms_keep_their_pair() {
        let (me, bob) = (UserId::random(), UserId::random());
        let f = facts(Visibility::Direct, MEMBER, MEMBER);
        assert!(matches!(decide(&ask(me, MemberAsk::Leave), me, &f), Err(EventRefusal::Conflict(_))));
        assert!(matches!(decide(&ask(bob, MemberAsk::Invite), me, &f), Err(EventRefusal::Forbidden(_))));
        let retitle = Request::Retitle { title: Some(RoomTitle::parse("x").unwrap()), topic: None };
        assert!(matches!(decide(&retitle, me, &f), Err(EventRefusal::Forbidden(_))));
    }

    #[test]
    fn a_retitle_keeps_what_it_does_not_name() {
        let me = UserId::random();
        let mut f = facts(Visibility::Private, MODERATOR, MODERATOR);
        f.profile.title = Some(RoomTitle::parse("Old").unwrap());
        let retitle = Request::Retitle { title: None, topic: Some(crate::model::Topic::parse("new topic").unwrap()) };
        let Ok(Change::Room { title, topic, created: false, .. }) = decide(&retitle, me, &f) else { panic!() };
        assert_eq!(title.unwrap().as_str(), "Old");
        assert_eq!(topic.as_str(), "new topic");
    }

    #[test]
    fn moderators_delete_anything() {
        let (me, bob) = (UserId::random(), UserId::random());
        assert!(may_delete(me, me, Standing::Stranger));
        assert!(!may_delete(me, bob, MEMBER));
        assert!(may_delete(me, bob, MODERATOR));
    }
}
