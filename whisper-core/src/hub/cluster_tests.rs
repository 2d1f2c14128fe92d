//! Presence across nodes: the union of every node's users, a dead node's
//! users gone within the peer timeout, and a node that lost its link caught
//! up on messages and presence. Nodes share a [`LocalBroker`] and time is
//! paused, so timeouts pass instantly and in order.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::Chat;
use crate::broker::{Broker, LocalBroker};
use crate::model::NewMessage;
use crate::store::MemoryStore;

fn lobby() -> RoomName {
    RoomName::lobby()
}

fn name(n: &str) -> DisplayName {
    DisplayName::parse(n).unwrap()
}

struct Cluster {
    store: Arc<dyn Store>,
    broker: Arc<LocalBroker>,
}

impl Cluster {
    fn new() -> Self {
        Cluster { store: Arc::new(MemoryStore::new()), broker: Arc::new(LocalBroker::new()) }
    }

    async fn node(&self, id: &str) -> Chat {
        Chat::builder(self.store.clone()).server_id(id).broker(self.broker.clone()).build().await.unwrap()
    }
}

/// A connection in the lobby of one node, and the presence it was told so
/// far (the full list, then the changes applied to it).
struct Watched {
    member: Member,
    view: std::cell::RefCell<Vec<crate::codec::PresenceUser>>,
}

impl std::ops::Deref for Watched {
    type Target = Member;
    fn deref(&self) -> &Member {
        &self.member
    }
}

/// Subscribes a new connection of `user` to the lobby of `chat`.
async fn join(chat: &Chat, user: UserId, display: &str) -> Watched {
    let member = chat.hub().member(user);
    chat.hub().subscribe(&lobby(), &member, &name(display)).await.unwrap();
    Watched { member, view: Default::default() }
}

/// What the member saw since last asked: the names it now shows online if
/// it got any presence frame (none otherwise), and the seqs of the messages
/// it was sent.
fn seen(watched: &Watched) -> (Vec<String>, Vec<u64>) {
    let (mut told, mut seqs) = (false, Vec::new());
    let mut view = watched.view.borrow_mut();
    let mut buf = Vec::new();
    while let Ok(true) = watched.outbox().try_drain(&mut buf) {
        for delivery in buf.drain(..) {
            match delivery {
                Delivery::Messages(b) => seqs.extend(b.run.each_seq()),
                Delivery::Command(_) | Delivery::Notice(_) => {}
                Delivery::Event { frame, .. } => {
                    let frame: serde_json::Value = serde_json::from_str(frame.to_text()).unwrap();
                    told |= super::tests::apply_presence(&mut view, &frame);
                }
            }
        }
    }
    let names = if told { view.iter().map(|u| u.name.to_string()).collect() } else { Vec::new() };
    (names, seqs)
}

/// Lets the cluster tasks exchange rosters and heartbeats.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

#[tokio::test(start_paused = true)]
async fn presence_is_every_nodes_users_once_each() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let (ada, bob) = (UserId::random(), UserId::random());
    let ada_on_a = join(&a, ada, "ada").await;
    let bob_on_b = join(&b, bob, "bob").await;
    let _ada_on_b = join(&b, ada, "ada").await;
    settle().await;
    assert_eq!(seen(&ada_on_a).0, ["ada", "bob"], "ada, on two nodes, is listed once");
    assert_eq!(seen(&bob_on_b).0, ["ada", "bob"]);
    assert_eq!((a.hub().online(&lobby()), b.hub().online(&lobby())), (2, 2));
    assert_eq!(a.hub().peers(), ["b"]);

    // A node that joins later learns the others' users from their answer to its hello.
    let c = cluster.node("c").await;
    assert_eq!(c.hub().online(&lobby()), 0, "c has heard nothing yet");
    settle().await;
    assert_eq!(c.hub().online(&lobby()), 2, "c counts users without having any of its own");
    let cy_on_c = join(&c, UserId::random(), "cy").await;
    settle().await;
    assert_eq!(seen(&cy_on_c).0, ["ada", "bob", "cy"]);
    assert_eq!(seen(&ada_on_a).0, ["ada", "bob", "cy"]);

    // Leaving on one node shows on the others.
    b.hub().unsubscribe(&lobby(), &bob_on_b);
    settle().await;
    assert_eq!(seen(&ada_on_a).0, ["ada", "cy"]);
    assert_eq!(seen(&cy_on_c).0, ["ada", "cy"]);
}

#[tokio::test(start_paused = true)]
async fn a_dead_nodes_users_disappear() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let ada_on_a = join(&a, UserId::random(), "ada").await;
    let _bob_on_b = join(&b, UserId::random(), "bob").await;
    settle().await;
    assert_eq!(seen(&ada_on_a).0, ["ada", "bob"]);

    // b dies without a word (kill -9): it is simply never heard from again.
    cluster.broker.detach("b");
    drop(b);
    tokio::time::sleep(Limits::default().peer_timeout - Duration::from_secs(1)).await;
    assert_eq!(seen(&ada_on_a).0, Vec::<String>::new(), "no news within the timeout");
    tokio::time::sleep(Duration::from_secs(2) + Limits::default().peer_heartbeat).await;
    assert_eq!(seen(&ada_on_a).0, ["ada"], "bob is gone with his node");
    assert_eq!(a.hub().online(&lobby()), 1);
    assert!(a.hub().peers().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_node_that_lost_its_link_catches_up() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let listener_on_b = join(&b, UserId::random(), "bo").await;
    let ada = UserId::random();
    let ada_on_a = join(&a, ada, "ada").await;
    settle().await;
    assert_eq!(seen(&listener_on_b).0, ["ada", "bo"]);

    // b's link drops, briefly (within the peer timeout): it misses a's
    // message in a room that then stays quiet, and ada leaving.
    cluster.broker.detach("b");
    a.post(vec![NewMessage::now(lobby(), ada, name("ada"), "while you were away", None)]).await.unwrap();
    a.hub().unsubscribe(&lobby(), &ada_on_a);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(seen(&listener_on_b), (vec![], vec![]), "b heard nothing");

    // The link is back; the broker reports it may have lost events.
    cluster.broker.attach("b", b.hub().clone()).await.unwrap();
    b.hub().link_lost();
    settle().await;
    let (names, seqs) = seen(&listener_on_b);
    assert_eq!(seqs, [1], "the missed message was read from the store");
    assert_eq!(names, ["bo"], "ada's departure, missed, was corrected by a's republished rosters");
}

#[tokio::test(start_paused = true)]
async fn a_node_killed_between_commit_and_publish_loses_nothing_for_the_others() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let listener_on_a = join(&a, UserId::random(), "lis").await;
    settle().await;
    let _ = seen(&listener_on_a);

    // b stores a message in a room that then stays quiet, and dies before
    // anyone hears of it.
    cluster.broker.detach("b");
    let bob = UserId::random();
    b.post(vec![NewMessage::now(lobby(), bob, name("bob"), "last words", None)]).await.unwrap();
    drop(b);
    assert_eq!(seen(&listener_on_a).1, Vec::<u64>::new());

    // Once a gives b up for dead, it reads its rooms from the store.
    tokio::time::sleep(Limits::default().peer_timeout + Duration::from_secs(2)).await;
    assert_eq!(seen(&listener_on_a).1, [1]);
}

#[tokio::test(start_paused = true)]
async fn after_a_lost_link_only_a_synced_heartbeat_drops_rosters() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let _ada_on_a = join(&a, UserId::random(), "ada").await;
    let _bob_on_b = join(&b, UserId::random(), "bob").await;
    settle().await;
    assert_eq!(a.hub().online(&lobby()), 2);

    // a's link broke: b's roster is in doubt until b republishes it. A
    // heartbeat b sent before it heard a's hello must not drop it.
    cluster.broker.detach("a");
    a.hub().link_lost();
    crate::broker::NodeEvent::Heartbeat { synced: false }.apply(a.hub(), "b");
    assert_eq!(a.hub().online(&lobby()), 2, "bob does not flicker out");
    // The heartbeat that ends a republishing drops what it did not renew.
    crate::broker::NodeEvent::Heartbeat { synced: true }.apply(a.hub(), "b");
    assert_eq!(a.hub().online(&lobby()), 1);

    // Once the link is back, a's hello makes b republish, and bob returns.
    cluster.broker.attach("a", a.hub().clone()).await.unwrap();
    settle().await;
    assert_eq!(a.hub().online(&lobby()), 2);
}

#[tokio::test(start_paused = true)]
async fn another_nodes_changes_arrive_as_changes() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let watcher = join(&a, UserId::random(), "watcher").await;
    let mut on_b = Vec::new();
    for i in 0..100 {
        on_b.push(join(&b, UserId::random(), &format!("b{i:03}")).await);
    }
    settle().await;
    assert_eq!(seen(&watcher).0.len(), 101, "b's users reached a");

    // One rename on b: a's watcher is told that one user, not the 101.
    b.hub().rename([&lobby()], &on_b[7], &name("renamed"));
    b.hub().unsubscribe(&lobby(), &on_b[8]);
    settle().await;
    let mut frames = Vec::new();
    let mut buf = Vec::new();
    while let Ok(true) = watcher.outbox().try_drain(&mut buf) {
        for d in buf.drain(..) {
            if let Delivery::Event { frame, .. } = d {
                frames.push(serde_json::from_str::<serde_json::Value>(frame.to_text()).unwrap());
            }
        }
    }
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "presence_changes");
    assert_eq!(frames[0]["joined"].as_array().unwrap().len(), 1);
    assert_eq!(frames[0]["joined"][0]["name"], "renamed");
    assert_eq!(frames[0]["left"].as_array().unwrap().len(), 1);
    assert_eq!(frames[0]["left"][0], on_b[8].user().to_string());
}

/// What a member was sent since last asked: the seqs of messages and
/// events, in order, and the read receipts, as `(reader, seq)`.
fn timeline_seen(watched: &Watched) -> (Vec<u64>, Vec<(String, u64)>) {
    let (mut seqs, mut receipts) = (Vec::new(), Vec::new());
    let mut buf = Vec::new();
    while let Ok(true) = watched.outbox().try_drain(&mut buf) {
        for delivery in buf.drain(..) {
            match delivery {
                Delivery::Messages(b) => seqs.extend(b.run.each_seq()),
                Delivery::Command(_) | Delivery::Notice(_) => {}
                Delivery::Event { frame, .. } => {
                    let frame: serde_json::Value = serde_json::from_str(frame.to_text()).unwrap();
                    if frame["type"] == "receipt" {
                        let reader = frame["user_id"].as_str().unwrap().to_owned();
                        receipts.push((reader, frame["seq"].as_u64().unwrap()));
                    }
                }
            }
        }
    }
    (seqs, receipts)
}

#[tokio::test(start_paused = true)]
async fn events_and_receipts_cross_nodes_and_a_missed_event_is_filled_from_the_store() {
    use crate::model::{NewEvent, Request};
    use crate::store::Applied;

    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    let (ada, bob) = (UserId::random(), UserId::random());
    let ada_on_a = join(&a, ada, "ada").await;
    let bob_on_b = join(&b, bob, "bob").await;
    settle().await;
    let _ = (timeline_seen(&ada_on_a), timeline_seen(&bob_on_b));

    // An edit on a reaches bob on b after the message it edits.
    let posted = a.post(vec![NewMessage::now(lobby(), ada, name("ada"), "helo", None)]).await.unwrap();
    let edit = Request::Edit { content: "hello".into() };
    let applied = a.apply(NewEvent::now(lobby(), Some(posted[0].id), ada, name("ada"), edit, None)).await.unwrap();
    assert!(matches!(applied, Applied::Stored(ref e) if e.seq == Seq(2)), "{applied:?}");
    settle().await;
    assert_eq!(timeline_seen(&bob_on_b).0, [1, 2]);

    // Bob's read on b is a receipt for ada on a.
    b.mark_read(bob, &lobby(), Seq(2)).await.unwrap();
    settle().await;
    assert_eq!(timeline_seen(&ada_on_a).1, [(bob.to_string(), 2)]);

    // A reaction stored on b whose publish never left (b's link is cut):
    // a fills the gap from the store when the next message reveals it, and
    // ada gets the reaction before that message, in seq order.
    let _ = timeline_seen(&ada_on_a);
    cluster.broker.detach("b");
    let react = Request::React { emoji: crate::model::Emoji::parse("👍").unwrap(), on: true };
    b.apply(NewEvent::now(lobby(), Some(posted[0].id), bob, name("bob"), react, None)).await.unwrap();
    a.post(vec![NewMessage::now(lobby(), ada, name("ada"), "anyone?", None)]).await.unwrap();
    tokio::time::sleep(Limits::default().gap_grace * 2).await;
    assert_eq!(timeline_seen(&ada_on_a).0, [3, 4]);
}

#[tokio::test(start_paused = true)]
async fn a_room_created_on_one_node_is_announced_to_every_connection_on_every_node() {
    let cluster = Cluster::new();
    let (a, b) = (cluster.node("a").await, cluster.node("b").await);
    // Connections in no room at all, one per node.
    let here = a.hub().member(UserId::random());
    let there = b.hub().member(UserId::random());
    let ada = UserId::random();
    let new_room = RoomName::parse("brand-new").unwrap();
    a.post(vec![NewMessage::now(new_room.clone(), ada, name("ada"), "first!", None)]).await.unwrap();
    a.post(vec![NewMessage::now(new_room.clone(), ada, name("ada"), "second", None)]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for (node, member) in [("a", &here), ("b", &there)] {
        let (mut told, mut buf) = (Vec::new(), Vec::new());
        while let Ok(true) = member.outbox().try_drain(&mut buf) {
            for delivery in buf.drain(..) {
                if let Delivery::Notice(frame) = delivery {
                    told.push(frame.to_text().to_string());
                }
            }
        }
        assert_eq!(told, [r#"{"type":"room","room":"brand-new","change":"created"}"#], "node {node}");
    }
}
