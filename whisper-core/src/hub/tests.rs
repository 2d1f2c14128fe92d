//! The hub's promises: seq order, slow consumers cut off without harming the
//! others, gaps filled from the store, presence per user, fan-out across nodes.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::Chat;
use crate::broker::LocalBroker;
use crate::codec::PresenceUser;
use crate::model::NewMessage;
use crate::store::MemoryStore;

fn lobby() -> RoomName {
    RoomName::lobby()
}

fn name(n: &str) -> DisplayName {
    DisplayName::parse(n).unwrap()
}

fn hub_with(limits: Limits) -> (Hub, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    (Hub::new(store.clone(), Arc::new(limits)), store)
}

async fn store_messages(store: &MemoryStore, n: usize) -> Vec<Message> {
    let user = UserId::random();
    let batch = (0..n).map(|i| NewMessage::now(lobby(), user, name("w"), format!("m{i}"), None)).collect();
    store.append(batch).await.unwrap()
}

/// Every message seq the member's outbox holds, in order.
fn drained_seqs(member: &Member) -> Vec<u64> {
    let mut buf = Vec::new();
    let mut seqs = Vec::new();
    while let Ok(true) = member.outbox().try_drain(&mut buf) {
        for d in buf.drain(..) {
            if let Delivery::Messages(b) = d {
                seqs.extend(b.run.each_seq());
            }
        }
    }
    seqs
}

#[tokio::test(start_paused = true)]
async fn broadcasts_leave_in_seq_order_whatever_order_they_arrive() {
    let (hub, store) = hub_with(Limits::default());
    let member = hub.member(UserId::random());
    hub.subscribe(&lobby(), &member, &name("a")).await.unwrap();
    let stored = store_messages(&store, 4).await;
    hub.deliver(&stored[2..3]);
    hub.deliver(&stored[1..2]);
    assert!(drained_seqs(&member).is_empty(), "3 and 2 wait for 1");
    hub.deliver(&stored[0..1]);
    hub.deliver(&stored[3..4]);
    hub.deliver(&stored[1..2]); // a duplicate is dropped
    assert_eq!(drained_seqs(&member), [1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn a_missing_seq_is_read_from_the_store_after_the_grace() {
    let (hub, store) = hub_with(Limits::default());
    let member = hub.member(UserId::random());
    hub.subscribe(&lobby(), &member, &name("a")).await.unwrap();
    let stored = store_messages(&store, 3).await;
    // The publishers of 1 and 2 "died" between commit and broadcast.
    hub.deliver(&stored[2..3]);
    assert!(drained_seqs(&member).is_empty());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(drained_seqs(&member), [1, 2, 3]);
    assert!(hub.stats().gap_fills >= 1);
}

#[tokio::test(start_paused = true)]
async fn a_message_committed_while_a_room_is_created_is_not_lost() {
    let (hub, store) = hub_with(Limits::default());
    let member = hub.member(UserId::random());
    // Committed after the hub read the (empty) head but broadcast before the
    // room existed in the hub: simulated by storing without delivering.
    hub.subscribe(&lobby(), &member, &name("a")).await.unwrap();
    store_messages(&store, 1).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(drained_seqs(&member), [1], "the room's first gap check found it");
}

#[tokio::test(start_paused = true)]
async fn a_full_outbox_cuts_off_only_its_connection() {
    let (hub, store) = hub_with(Limits { outbox_capacity: 4, ..Limits::default() });
    let slow = hub.member(UserId::random());
    let fast = hub.member(UserId::random());
    hub.subscribe(&lobby(), &slow, &name("slow")).await.unwrap();
    hub.subscribe(&lobby(), &fast, &name("fast")).await.unwrap();
    drained_seqs(&fast);
    let stored = store_messages(&store, 20).await;
    let mut fast_seen = Vec::new();
    for m in &stored {
        hub.deliver(std::slice::from_ref(m));
        fast_seen.extend(drained_seqs(&fast));
    }
    assert_eq!(slow.outbox().closed(), Some(OutboxClosed::SlowConsumer));
    assert_eq!(slow.outbox().len(), 0, "a cut-off outbox frees its frames");
    assert_eq!(fast_seen, (1..=20).collect::<Vec<_>>(), "the fast one got everything");
    assert_eq!(hub.stats().slow_consumers, 1);
}

#[tokio::test(start_paused = true)]
async fn presence_counts_users_not_sockets() {
    let (hub, _) = hub_with(Limits::default());
    let ada = UserId::random();
    let one = hub.member(ada);
    let two = hub.member(ada);
    let bob = hub.member(UserId::random());
    hub.subscribe(&lobby(), &one, &name("Ada")).await.unwrap();
    hub.subscribe(&lobby(), &two, &name("Ada")).await.unwrap();
    hub.subscribe(&lobby(), &bob, &name("Bob")).await.unwrap();
    assert_eq!(hub.online(&lobby()), 2);
    assert!(hub.unsubscribe(&lobby(), &one));
    assert!(!hub.unsubscribe(&lobby(), &one), "already gone");
    assert_eq!(hub.online(&lobby()), 2, "ada's second socket keeps her online");
    hub.unsubscribe(&lobby(), &two);
    assert_eq!(hub.online(&lobby()), 1);
    hub.unsubscribe(&lobby(), &bob);
    assert_eq!(hub.stats().rooms, 0, "an empty room is forgotten");
}

/// Applies a `presence` or `presence_changes` frame to a member's view of
/// the room, as a client does (protocol.md §9). Returns whether it was one.
pub(super) fn apply_presence(view: &mut Vec<PresenceUser>, frame: &serde_json::Value) -> bool {
    let user = |u: &serde_json::Value| serde_json::from_value::<PresenceUser>(u.clone()).unwrap();
    match frame["type"].as_str() {
        Some("presence") => *view = frame["users"].as_array().unwrap().iter().map(user).collect(),
        Some("presence_changes") => {
            let left: Vec<UserId> = serde_json::from_value(frame["left"].clone()).unwrap();
            let joined: Vec<PresenceUser> = frame["joined"].as_array().unwrap().iter().map(user).collect();
            view.retain(|u| !left.contains(&u.user_id) && !joined.iter().any(|j| j.user_id == u.user_id));
            view.extend(joined);
            view.sort_by(|a, b| {
                a.name.as_str().to_lowercase().cmp(&b.name.as_str().to_lowercase()).then(a.user_id.cmp(&b.user_id))
            });
        }
        _ => return false,
    }
    true
}

/// The presence frames in the member's outbox, as JSON.
fn presence_frames(member: &Member) -> Vec<serde_json::Value> {
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    while let Ok(true) = member.outbox().try_drain(&mut buf) {
        for d in buf.drain(..) {
            if let Delivery::Event { frame, .. } = d {
                frames.push(serde_json::from_str(frame.to_text()).unwrap());
            }
        }
    }
    frames
}

#[tokio::test(start_paused = true)]
async fn presence_changes_are_coalesced() {
    let (hub, _) = hub_with(Limits::default());
    let watcher = hub.member(UserId::random());
    hub.subscribe(&lobby(), &watcher, &name("w")).await.unwrap();
    let members: Vec<Member> = (0..50).map(|_| hub.member(UserId::random())).collect();
    for (i, m) in members.iter().enumerate() {
        hub.subscribe(&lobby(), m, &name(&format!("u{i}"))).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let frames = presence_frames(&watcher);
    assert!(frames.len() <= 3, "50 joins coalesce into a few frames, got {}", frames.len());
    assert_eq!(frames[0]["type"], "presence", "the joiner gets the full list first");
    assert!(frames[1..].iter().all(|f| f["type"] == "presence_changes"), "then only changes: {frames:?}");
    let mut view = Vec::new();
    for f in &frames {
        apply_presence(&mut view, f);
    }
    assert_eq!(view.len(), 51, "the changes add up to everyone");
    let last = presence_frames(&members[49]);
    assert_eq!(last.len(), 1, "a late joiner gets one frame: {last:?}");
    assert_eq!(last[0]["users"].as_array().unwrap().len(), 51, "the full list");
}

#[tokio::test(start_paused = true)]
async fn a_joiner_gets_the_full_list_and_the_others_only_the_change() {
    let (hub, _) = hub_with(Limits::default());
    let members: Vec<Member> = (0..200).map(|_| hub.member(UserId::random())).collect();
    for (i, m) in members.iter().enumerate() {
        hub.subscribe(&lobby(), m, &name(&format!("user-{i:03}"))).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for m in &members {
        presence_frames(m);
    }
    let newcomer = hub.member(UserId::random());
    hub.subscribe(&lobby(), &newcomer, &name("newcomer")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let full = presence_frames(&newcomer);
    assert_eq!(full.len(), 1);
    assert_eq!(full[0]["type"], "presence");
    assert_eq!(full[0]["users"].as_array().unwrap().len(), 201);
    for m in &members {
        let frames = presence_frames(m);
        assert_eq!(frames.len(), 1, "one frame per member");
        assert_eq!(frames[0]["type"], "presence_changes");
        assert_eq!(frames[0]["joined"][0]["name"], "newcomer");
        assert!(frames[0].to_string().len() < 200, "the size of the change, not of the room: {}", frames[0]);
    }
}

#[tokio::test(start_paused = true)]
async fn a_join_then_leave_within_an_interval_announces_nothing() {
    let (hub, _) = hub_with(Limits::default());
    let watcher = hub.member(UserId::random());
    hub.subscribe(&lobby(), &watcher, &name("w")).await.unwrap();
    let ada = hub.member(UserId::random());
    hub.subscribe(&lobby(), &ada, &name("ada")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    presence_frames(&watcher);

    // The first change after a quiet interval goes out at once; what follows
    // within the interval waits for the flush, where it cancels out.
    hub.rename([&lobby()], &ada, &name("Ada"));
    let flicker = hub.member(UserId::random());
    hub.subscribe(&lobby(), &flicker, &name("flicker")).await.unwrap();
    hub.unsubscribe(&lobby(), &flicker);
    hub.rename([&lobby()], &ada, &name("A"));
    hub.rename([&lobby()], &ada, &name("Ada"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let frames = presence_frames(&watcher);
    assert_eq!(frames.len(), 1, "only the first rename: {frames:?}");
    assert_eq!(frames[0]["joined"][0]["name"], "Ada");
    assert_eq!(frames[0]["left"], serde_json::json!([]));
}

#[tokio::test(start_paused = true)]
async fn a_second_socket_while_changes_wait_gets_the_list_they_follow() {
    let (hub, _) = hub_with(Limits::default());
    let ada = UserId::random();
    let one = hub.member(ada);
    hub.subscribe(&lobby(), &one, &name("ada")).await.unwrap();
    // bob's arrival waits for the flush; ada's second socket, arriving
    // meanwhile, must not get a list that the next changes do not follow.
    let bob = hub.member(UserId::random());
    hub.subscribe(&lobby(), &bob, &name("bob")).await.unwrap();
    let two = hub.member(ada);
    hub.subscribe(&lobby(), &two, &name("ada")).await.unwrap();
    hub.unsubscribe(&lobby(), &bob);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut view = Vec::new();
    for f in presence_frames(&two) {
        apply_presence(&mut view, &f);
    }
    let names: Vec<&str> = view.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["ada"], "bob came and went before two's list was sent");
}

#[tokio::test]
async fn two_nodes_on_one_broker_see_each_others_messages() {
    let store: Arc<dyn crate::store::Store> = Arc::new(MemoryStore::new());
    let broker = Arc::new(LocalBroker::new());
    let a = Chat::builder(store.clone()).server_id("a").broker(broker.clone()).build().await.unwrap();
    let b = Chat::builder(store.clone()).server_id("b").broker(broker.clone()).build().await.unwrap();
    let on_b = b.hub().member(UserId::random());
    b.hub().subscribe(&lobby(), &on_b, &name("b")).await.unwrap();
    let user = UserId::random();
    for i in 0..5 {
        a.post(vec![NewMessage::now(lobby(), user, name("a"), format!("m{i}"), None)]).await.unwrap();
    }
    assert_eq!(drained_seqs(&on_b), [1, 2, 3, 4, 5]);
}

#[tokio::test(start_paused = true)]
async fn publishers_that_wake_together_share_one_frame() {
    let (hub, store) = hub_with(Limits::default());
    let member = hub.member(UserId::random());
    hub.subscribe(&lobby(), &member, &name("a")).await.unwrap();
    let stored = store_messages(&store, 3).await;
    // Three publishers of one group commit, the last to commit first.
    let (a, b, c) = (hub.clone(), hub.clone(), hub.clone());
    let (m1, m2, m3) = (stored[0..1].to_vec(), stored[1..2].to_vec(), stored[2..3].to_vec());
    tokio::join!(
        async move { c.deliver_together(&m3).await },
        async move { a.deliver_together(&m1).await },
        async move { b.deliver_together(&m2).await },
    );
    let mut frames = Vec::new();
    member.outbox().try_drain(&mut frames).unwrap();
    let broadcasts: Vec<Vec<u64>> = frames
        .iter()
        .filter_map(|d| match d {
            Delivery::Messages(b) => Some(b.run.each_seq()),
            Delivery::Event { .. } | Delivery::Command(_) | Delivery::Notice(_) => None,
        })
        .collect();
    assert_eq!(broadcasts, [vec![1, 2, 3]], "one frame, in seq order");

    // Alone, a publisher's messages go out without waiting for company.
    let more = store_messages(&store, 1).await;
    hub.deliver_together(&more).await;
    assert_eq!(drained_seqs(&member), [4]);
}
