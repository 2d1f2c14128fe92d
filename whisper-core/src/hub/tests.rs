//! The hub's promises: seq order, slow consumers cut off without harming the
//! others, gaps filled from the store, presence per user, fan-out across nodes.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::Chat;
use crate::broker::LocalBroker;
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
                seqs.extend(b.messages.iter().map(|m| m.seq.0));
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
    let mut buf = Vec::new();
    let _ = watcher.outbox().try_drain(&mut buf);
    let presences: Vec<String> = buf
        .iter()
        .filter_map(|d| match d {
            Delivery::Event { frame, .. } => Some(frame.to_text().to_string()),
            Delivery::Messages(_) => None,
        })
        .collect();
    assert!(presences.len() <= 3, "50 joins coalesce into a few frames, got {}", presences.len());
    let last: serde_json::Value = serde_json::from_str(presences.last().unwrap()).unwrap();
    assert_eq!(last["users"].as_array().unwrap().len(), 51, "the last frame lists everyone");
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
            Delivery::Messages(b) => Some(b.messages.iter().map(|m| m.seq.0).collect()),
            Delivery::Event { .. } => None,
        })
        .collect();
    assert_eq!(broadcasts, [vec![1, 2, 3]], "one frame, in seq order");

    // Alone, a publisher's messages go out without waiting for company.
    let more = store_messages(&store, 1).await;
    hub.deliver_together(&more).await;
    assert_eq!(drained_seqs(&member), [4]);
}
