//! The conformance checks of membership (protocol.md §15): a room's
//! creation, its members' changes and its title are entries of its log,
//! checked by [`rules::decide`](crate::store::rules::decide) in the
//! transaction that stores them, and the store's indexes of members and of
//! each user's rooms follow them.

use std::sync::Arc;

use super::timeline::{event, stored, whole_log};
use super::{append, draft, room};
use crate::model::{
    Access, Change, DisplayName, Entry, MemberAction, MemberAsk, NewEvent, Request, Role, RoomName, RoomProfile,
    RoomTitle, Seq, Standing, Topic, UserId, Visibility, now_millis,
};
use crate::store::rules::NOT_A_MEMBER;
use crate::store::{Applied, EventRefusal, NewRoom, Store};

fn name(n: &str) -> DisplayName {
    DisplayName::parse(n).expect("valid name")
}

fn private(room_name: &RoomName, owner: UserId, members: &[UserId]) -> NewRoom {
    NewRoom {
        name: room_name.clone(),
        profile: RoomProfile {
            visibility: Visibility::Private,
            title: Some(RoomTitle::parse("Plans").expect("valid title")),
            topic: Topic::parse("the launch").expect("valid topic"),
        },
        creator: (owner, name("Ada")),
        members: members.iter().map(|u| (*u, name("Bob"))).collect(),
        created_at: now_millis(),
    }
}

fn ask(room_name: &RoomName, actor: UserId, subject: UserId, what: MemberAsk) -> NewEvent {
    NewEvent::now(
        room_name.clone(),
        None,
        actor,
        name("Ada"),
        Request::Member { member: subject, member_name: name("Bob"), ask: what },
        None,
    )
}

async fn standing(store: &dyn Store, room_name: &RoomName, user: UserId) -> Standing {
    store.access(room_name, user).await.expect("access").standing
}

async fn refused(store: &dyn Store, new: NewEvent) -> EventRefusal {
    let room_name = new.room.clone();
    let before = store.room(&room_name).await.expect("room").last_seq;
    let got = store.apply(new).await.expect("apply answers");
    let Applied::Refused(why) = got else { panic!("expected a refusal, got {got:?}") };
    assert_eq!(store.room(&room_name).await.expect("room").last_seq, before, "a refusal stores nothing");
    why
}

/// Creating a private room stores its `room` event and one `member` event
/// per member at seqs 1, 2, 3; the creator owns it, the others are
/// members, a stranger is a stranger; the room's head carries its profile;
/// it is never in the public list, and is in each member's.
pub async fn creating_a_room_logs_its_members(store: Arc<dyn Store>) {
    let (ada, bob, eve) = (UserId::random(), UserId::random(), UserId::random());
    let plans = room("p/plans1");
    let events = store.create_room(private(&plans, ada, &[bob])).await.expect("create").expect("a new room");
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![Seq(1), Seq(2), Seq(3)]);
    assert!(matches!(events[0].change, Change::Room { created: true, visibility: Visibility::Private, .. }));
    assert!(
        matches!(events[1].change, Change::Member { member, role: Some(Role::Owner), action: MemberAction::Added, .. } if member == ada)
    );
    assert!(matches!(events[2].change, Change::Member { member, role: Some(Role::Member), .. } if member == bob));
    let log = whole_log(&*store, &plans).await;
    assert_eq!(log, events.iter().cloned().map(Entry::Event).collect::<Vec<_>>(), "the log is the creation");
    assert_eq!(
        store.access(&plans, ada).await.expect("access"),
        Access { visibility: Visibility::Private, standing: Standing::Member(Role::Owner) }
    );
    assert_eq!(standing(&*store, &plans, bob).await, Standing::Member(Role::Member));
    assert_eq!(standing(&*store, &plans, eve).await, Standing::Stranger);
    let info = store.room(&plans).await.expect("room");
    assert_eq!(info.last_seq, Seq(3));
    assert_eq!(info.profile.title.as_ref().map(RoomTitle::as_str), Some("Plans"));
    assert_eq!(info.profile.topic.as_str(), "the launch");
    append(&*store, vec![draft(&room("lobby"), eve, "hi", None)]).await;
    let public = store.rooms().await.expect("rooms");
    assert_eq!(public.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), vec!["lobby"], "private rooms never list");
    for user in [ada, bob] {
        let mine = store.member_rooms(user, None, 10).await.expect("member rooms");
        assert_eq!(mine.rooms.len(), 1);
        assert_eq!(mine.rooms[0].0.name, plans);
        assert_eq!(mine.rooms[0].0.profile.visibility, Visibility::Private);
    }
    assert!(store.member_rooms(eve, None, 10).await.expect("member rooms").rooms.is_empty());
    let members = store.members(&plans, false, None, 10).await.expect("members");
    let mut want = vec![(ada, Standing::Member(Role::Owner)), (bob, Standing::Member(Role::Member))];
    want.sort_by_key(|(u, _)| *u);
    assert_eq!(members.iter().map(|(u, _, s)| (*u, *s)).collect::<Vec<_>>(), want, "members by user id");
}

/// A name with a log is never created again: a second creation (or two at
/// once, as two nodes creating one direct room) stores nothing and says
/// so, and a public room that exists by first use cannot be taken over.
pub async fn a_room_is_created_once(store: Arc<dyn Store>) {
    let (ada, bob) = (UserId::random(), UserId::random());
    let dm = room("dm/ada-bob");
    let direct = |creator, other| NewRoom {
        name: dm.clone(),
        profile: RoomProfile { visibility: Visibility::Direct, ..Default::default() },
        creator: (creator, name("Ada")),
        members: vec![(other, name("Bob"))],
        created_at: now_millis(),
    };
    let (one, two) = tokio::join!(store.create_room(direct(ada, bob)), store.create_room(direct(bob, ada)));
    let created = [one.expect("create"), two.expect("create")];
    assert_eq!(created.iter().filter(|c| c.is_some()).count(), 1, "exactly one creation wins");
    assert_eq!(store.room(&dm).await.expect("room").last_seq, Seq(3));
    for user in [ada, bob] {
        assert_eq!(standing(&*store, &dm, user).await, Standing::Member(Role::Member), "a direct room has no owner");
    }
    let lobby = room("lobby");
    append(&*store, vec![draft(&lobby, bob, "first", None)]).await;
    assert_eq!(store.create_room(private(&lobby, ada, &[])).await.expect("create"), None);
    assert_eq!(store.room(&lobby).await.expect("room").last_seq, Seq(1), "nothing stored");
    assert_eq!(store.access(&lobby, ada).await.expect("access"), Access::default());
}

/// Invite, role, kick, ban, unban and leave are `member` events at the
/// next seqs, each changing the member's standing as it says.
pub async fn membership_changes_are_log_entries(store: Arc<dyn Store>) {
    let (ada, bob) = (UserId::random(), UserId::random());
    let plans = room("p/plans2");
    store.create_room(private(&plans, ada, &[])).await.expect("create");
    let steps: Vec<(MemberAsk, Standing)> = vec![
        (MemberAsk::Invite, Standing::Member(Role::Member)),
        (MemberAsk::Role(Role::Moderator), Standing::Member(Role::Moderator)),
        (MemberAsk::Kick { reason: Some("spam".into()) }, Standing::Stranger),
        (MemberAsk::Invite, Standing::Member(Role::Member)),
        (MemberAsk::Ban { reason: None }, Standing::Banned),
        (MemberAsk::Unban, Standing::Stranger),
        (MemberAsk::Invite, Standing::Member(Role::Member)),
    ];
    let mut seq = 2;
    for (what, after) in steps {
        let event = stored(&*store, ask(&plans, ada, bob, what.clone())).await;
        seq += 1;
        assert_eq!(event.seq, Seq(seq), "{what:?} takes the next seq");
        assert_eq!(event.target, None);
        assert_eq!(standing(&*store, &plans, bob).await, after, "after {what:?}");
        if let MemberAsk::Kick { reason } = &what {
            assert!(
                matches!(&event.change, Change::Member { action: MemberAction::Kicked, reason: r, .. } if r == reason)
            );
        }
    }
    let banned = store.members(&plans, true, None, 10).await.expect("banned");
    assert!(banned.is_empty(), "nobody is banned after the unban");
    let left = stored(&*store, ask(&plans, bob, bob, MemberAsk::Leave)).await;
    assert!(matches!(left.change, Change::Member { action: MemberAction::Left, role: None, .. }));
    assert_eq!(standing(&*store, &plans, bob).await, Standing::Stranger);
    assert!(store.member_rooms(bob, None, 10).await.expect("rooms").rooms.is_empty(), "bob's list forgets it");
    stored(&*store, ask(&plans, ada, bob, MemberAsk::Ban { reason: None })).await;
    let banned = store.members(&plans, true, None, 10).await.expect("banned");
    assert_eq!(banned.iter().map(|(u, _, s)| (*u, *s)).collect::<Vec<_>>(), vec![(bob, Standing::Banned)]);
    let log = whole_log(&*store, &plans).await;
    assert_eq!(log.len() as u64, store.room(&plans).await.expect("room").last_seq.0, "every change is in the log");
}

/// What the rules refuse stores nothing: a stranger's ask in a private
/// room (as in a room that does not exist, word for word), a member
/// inviting, inviting the banned, the last owner leaving others behind.
pub async fn membership_refusals_store_nothing(store: Arc<dyn Store>) {
    let (ada, bob, eve) = (UserId::random(), UserId::random(), UserId::random());
    let plans = room("p/plans3");
    store.create_room(private(&plans, ada, &[bob])).await.expect("create");
    assert_eq!(refused(&*store, ask(&plans, eve, eve, MemberAsk::Leave)).await, NOT_A_MEMBER);
    assert_eq!(refused(&*store, ask(&plans, eve, bob, MemberAsk::Kick { reason: None })).await, NOT_A_MEMBER);
    assert_eq!(refused(&*store, ask(&room("p/nothing"), eve, bob, MemberAsk::Invite)).await, NOT_A_MEMBER);
    assert!(matches!(refused(&*store, ask(&plans, bob, eve, MemberAsk::Invite)).await, EventRefusal::Forbidden(_)));
    assert!(matches!(refused(&*store, ask(&plans, ada, ada, MemberAsk::Leave)).await, EventRefusal::Conflict(_)));
    assert!(matches!(refused(&*store, ask(&plans, ada, bob, MemberAsk::Invite)).await, EventRefusal::Conflict(_)));
    stored(&*store, ask(&plans, ada, eve, MemberAsk::Ban { reason: None })).await;
    assert!(matches!(refused(&*store, ask(&plans, ada, eve, MemberAsk::Invite)).await, EventRefusal::Conflict(_)));
    assert!(
        matches!(
            refused(&*store, ask(&plans, bob, ada, MemberAsk::Kick { reason: None })).await,
            EventRefusal::Forbidden(_)
        ),
        "a member kicks nobody"
    );
    stored(&*store, ask(&plans, ada, bob, MemberAsk::Role(Role::Owner))).await;
    stored(&*store, ask(&plans, ada, ada, MemberAsk::Leave)).await;
    assert_eq!(standing(&*store, &plans, ada).await, Standing::Stranger, "with another owner, the owner may leave");
}

/// A member deletes only their own messages; the room's moderators delete
/// anyone's (a `delete` whose doer is not the author).
pub async fn moderators_delete_others_messages(store: Arc<dyn Store>) {
    let (ada, bob, cy) = (UserId::random(), UserId::random(), UserId::random());
    let plans = room("p/plans4");
    store.create_room(private(&plans, ada, &[bob, cy])).await.expect("create");
    let posted = append(&*store, vec![draft(&plans, bob, "rude", None)]).await.remove(0);
    let by_member = refused(&*store, event(&plans, posted.id, cy, Request::Delete, None)).await;
    assert_eq!(by_member, EventRefusal::NotAuthor);
    let by_owner = stored(&*store, event(&plans, posted.id, ada, Request::Delete, None)).await;
    assert_eq!(by_owner.user_id, ada);
    assert!(store.message(&plans, posted.id).await.expect("message").expect("a tombstone").deleted);
    let posted = append(&*store, vec![draft(&plans, bob, "again", None)]).await.remove(0);
    let edit = Request::Edit { content: Arc::from("mine now") };
    assert_eq!(
        refused(&*store, event(&plans, posted.id, ada, edit, None)).await,
        EventRefusal::NotAuthor,
        "edits stay the author's"
    );
}

/// A moderator's retitle is a `room` event carrying the whole profile
/// after it; what it does not name stays; a member may not retitle.
pub async fn retitle_changes_the_profile(store: Arc<dyn Store>) {
    let (ada, bob) = (UserId::random(), UserId::random());
    let plans = room("p/plans5");
    store.create_room(private(&plans, ada, &[bob])).await.expect("create");
    let retitle = |user, title: Option<&str>, topic: Option<&str>| {
        NewEvent::now(
            plans.clone(),
            None,
            user,
            name("Ada"),
            Request::Retitle {
                title: title.map(|t| RoomTitle::parse(t).expect("valid")),
                topic: topic.map(|t| Topic::parse(t).expect("valid")),
            },
            None,
        )
    };
    let event = stored(&*store, retitle(ada, Some("Launch"), None)).await;
    let Change::Room { created: false, title, topic, visibility: Visibility::Private } = &event.change else {
        panic!("a room event, got {:?}", event.change)
    };
    assert_eq!(title.as_ref().map(RoomTitle::as_str), Some("Launch"));
    assert_eq!(topic.as_str(), "the launch", "the topic stays");
    let info = store.room(&plans).await.expect("room");
    assert_eq!(info.profile.title.as_ref().map(RoomTitle::as_str), Some("Launch"));
    assert!(matches!(refused(&*store, retitle(bob, Some("Mine"), None)).await, EventRefusal::Forbidden(_)));
    let mine = store.member_rooms(bob, None, 10).await.expect("rooms");
    assert_eq!(mine.rooms[0].0.profile.title.as_ref().map(RoomTitle::as_str), Some("Launch"));
}

/// A user's rooms page by name from a cursor, with the user's role.
pub async fn member_rooms_paged_by_name(store: Arc<dyn Store>) {
    let (ada, bob) = (UserId::random(), UserId::random());
    for i in 0..5 {
        store.create_room(private(&room(&format!("p/r{i}")), ada, &[bob])).await.expect("create");
    }
    store.create_room(private(&room("p/other"), bob, &[])).await.expect("create");
    let first = store.member_rooms(ada, None, 2).await.expect("page");
    assert_eq!(first.rooms.iter().map(|(r, _)| r.name.as_str()).collect::<Vec<_>>(), vec!["p/r0", "p/r1"]);
    assert!(first.has_more);
    assert!(first.rooms.iter().all(|(_, role)| *role == Role::Owner));
    let rest = store.member_rooms(ada, Some(&room("p/r1")), 10).await.expect("page");
    assert_eq!(rest.rooms.iter().map(|(r, _)| r.name.as_str()).collect::<Vec<_>>(), vec!["p/r2", "p/r3", "p/r4"]);
    assert!(!rest.has_more);
    let bobs = store.member_rooms(bob, None, 10).await.expect("page");
    assert_eq!(bobs.rooms.len(), 6);
    assert_eq!(bobs.rooms.iter().find(|(r, _)| r.name.as_str() == "p/other").map(|(_, role)| *role), Some(Role::Owner));
    assert_eq!(bobs.rooms.iter().filter(|(_, role)| *role == Role::Member).count(), 5);
}

/// A membership change resent with its client id returns the original,
/// stored once.
pub async fn membership_resend_returns_the_original(store: Arc<dyn Store>) {
    let (ada, bob) = (UserId::random(), UserId::random());
    let plans = room("p/plans6");
    store.create_room(private(&plans, ada, &[])).await.expect("create");
    let mut invite = ask(&plans, ada, bob, MemberAsk::Invite);
    invite.client_id = Some(crate::model::ClientId::parse("inv-1").expect("valid"));
    let first = stored(&*store, invite.clone()).await;
    let mut again = invite;
    again.id = crate::model::MessageId::generate();
    assert_eq!(stored(&*store, again).await, first);
    assert_eq!(store.room(&plans).await.expect("room").last_seq, Seq(3));
}
