//! The conformance suite: what every [`Broker`] must do, written once and run
//! against every broker: [`LocalBroker`](super::LocalBroker) here, and
//! `NatsBroker` in whisper-server.
//!
//! Each check takes a fresh [`BrokerCluster`] (a broker for each node, and a
//! way to break a node's link to it), makes its nodes as [`Chat`]s on it, and
//! panics with a readable message on the first violation. The events a check
//! watches are typing notices it publishes through [`Broker::publish`]: one
//! reaches another node only through the broker, and is neither re-sequenced
//! nor read back from the store (messages are, which would hide a broker's
//! faults), so what a node's connections see is what the broker delivered,
//! in the order it delivered it. A check starts once events get from node
//! to node (a broker may take a moment after [`attach`](Broker::attach) to
//! hear everything), and waits are bounded: a check waits for what it
//! checks, never for a while.
//!
//! The list of checks lives in one place, the `@list` arm of
//! [`broker_conformance_tests!`](crate::broker_conformance_tests), from which
//! [`CHECKS`], [`run_all`] and the generated tests all derive. Generate one
//! `#[tokio::test]` per check, so that one failure does not hide the others:
//!
//! ```text
//! whisper_core::broker_conformance_tests!(async { MyCluster::new() });
//! // A factory that may find no broker (a server not running) yields an
//! // Option; a `None` skips the test.
//! whisper_core::broker_conformance_tests!(maybe async { MyCluster::connect().await.ok() });
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{Broker, BrokerError, NodeEvent};
use crate::Chat;
use crate::codec::ServerFrame;
use crate::hub::{Delivery, Member};
use crate::model::{DisplayName, PrincipalKind, RoomName, UserId};
use crate::store::MemoryStore;

/// Generates one `#[tokio::test]` per conformance check. `$factory` is an
/// expression evaluating to a future of a [`BrokerCluster`]; it is evaluated
/// once per test. With `maybe`, the future yields an `Option` of one, and a
/// test whose factory gives `None` returns at once (for a broker that is not
/// there; the factory says so). The calling crate needs `tokio` with the
/// `macros` and `rt-multi-thread` features.
///
/// [`BrokerCluster`]: crate::broker::conformance::BrokerCluster
#[macro_export]
macro_rules! broker_conformance_tests {
    // The checks, in the order `run_all` runs them: the only list.
    (@list [$($args:tt)*]) => {
        $crate::broker_conformance_tests!($($args)*;
            order_kept_per_room,
            no_echo,
            flows_both_ways_after_reconnect
        );
    };
    (@names; $($check:ident),*) => {
        /// Every check, by name, in the order [`run_all`] runs them.
        pub const CHECKS: &[&str] = &[$(stringify!($check)),*];
    };
    (@run $factory:ident; $($check:ident),*) => {
        $( $check($factory().await).await; )*
    };
    (@each $factory:expr; $($check:ident),*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let cluster = $factory.await;
                $crate::broker::conformance::$check(cluster).await;
            }
        )*
    };
    (@each_maybe $factory:expr; $($check:ident),*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let Some(cluster) = $factory.await else { return };
                $crate::broker::conformance::$check(cluster).await;
            }
        )*
    };
    (maybe $factory:expr) => {
        $crate::broker_conformance_tests!(@list [@each_maybe $factory]);
    };
    ($factory:expr) => {
        $crate::broker_conformance_tests!(@list [@each $factory]);
    };
}

crate::broker_conformance_tests!(@list [@names]);

/// What a check needs of a broker: one cluster's worth of nodes, each with a
/// broker of its own, and the link between a node and the broker, to break
/// and mend.
#[async_trait]
pub trait BrokerCluster: Send + Sync {
    /// A broker for node `name` of this cluster, not yet attached (the
    /// check attaches it by making a [`Chat`] on it). Called once per node.
    async fn node(&self, name: &str) -> Arc<dyn Broker>;

    /// Breaks node `name`'s link to the broker, as a network failure would:
    /// until it is restored, the node may hear nothing, and what it
    /// publishes may fail or be lost.
    async fn cut(&self, name: &str);

    /// Mends node `name`'s link: its broker reconnects by itself, and tells
    /// the node's hub it may have lost events ([`Hub::link_lost`]).
    ///
    /// [`Hub::link_lost`]: super::Hub::link_lost
    async fn restore(&self, name: &str);
}

/// Runs every check, each on a fresh cluster from `factory`.
pub async fn run_all<F, Fut, C>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = C>,
    C: BrokerCluster,
{
    crate::broker_conformance_tests!(@list [@run factory]);
}

/// How long a check waits for what it expects before it fails: generous,
/// for a loaded machine and a broker that reconnects with a backoff.
const WAIT: Duration = Duration::from_secs(30);

/// How long a check waits for one try to get through, while a link may
/// still be coming back, before it tries again.
const RETRY: Duration = Duration::from_millis(500);

/// A node of the cluster: a [`Chat`] on its broker, and the broker itself, to
/// publish through directly.
struct Node {
    name: String,
    chat: Chat,
    broker: Arc<dyn Broker>,
}

impl Node {
    async fn join(cluster: &impl BrokerCluster, store: &Arc<MemoryStore>, name: &str) -> Node {
        let broker = cluster.node(name).await;
        let chat = Chat::builder(store.clone())
            .server_id(name)
            .broker(broker.clone())
            .build()
            .await
            .unwrap_or_else(|e| panic!("node {name} could not attach to the broker: {e}"));
        Node { name: name.to_owned(), chat, broker }
    }

    /// Tells the other nodes that `user` is typing in `room`, through the
    /// broker alone (not delivered on this node).
    async fn typing(&self, room: &RoomName, user: UserId) -> Result<(), BrokerError> {
        let name = typist();
        self.broker
            .publish(
                &self.name,
                &NodeEvent::Typing { room, user_id: user, name: &name, principal: PrincipalKind::Guest },
            )
            .await
    }

    /// Publishes `user` typing in `room`; panics if the broker refuses.
    async fn say_typing(&self, room: &RoomName, user: UserId) {
        if let Err(e) = self.typing(room, user).await {
            panic!("node {} could not publish: {e}", self.name);
        }
    }

    /// A connection of a new user on this node, subscribed to `room`.
    async fn listen(&self, room: &RoomName) -> Listener {
        let member = self.chat.hub().member(UserId::random());
        if let Err(e) = self.chat.hub().subscribe(room, &member, &typist()).await {
            panic!("node {}: subscribing to {room}: {e}", self.name);
        }
        Listener { node: self.name.clone(), room: room.clone(), member, typing: Vec::new(), buf: Vec::new() }
    }
}

/// A connection on one node, and the typing notices it was sent.
struct Listener {
    node: String,
    room: RoomName,
    member: Member,
    /// Who was typing, in the order the notices arrived.
    typing: Vec<UserId>,
    buf: Vec<Delivery>,
}

impl Listener {
    /// Reads frames until `done` holds of the typing notices seen so far, or
    /// `within` passed. Returns whether `done` holds.
    async fn wait(&mut self, within: Duration, done: impl Fn(&[UserId]) -> bool) -> bool {
        let deadline = Instant::now() + within;
        while !done(&self.typing) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.member.outbox().drain(&mut self.buf)).await {
                Err(_) => return false,
                Ok(Err(closed)) => panic!("node {}: the connection was cut off ({closed:?})", self.node),
                Ok(Ok(())) => self.read(),
            }
        }
        true
    }

    /// Waits until `done` holds, failing the check with `what` if it does
    /// not within [`WAIT`].
    async fn expect(&mut self, what: &str, done: impl Fn(&[UserId]) -> bool) {
        if !self.wait(WAIT, done).await {
            panic!("node {}: {what} within {WAIT:?}; heard {} typing notices", self.node, self.typing.len());
        }
    }

    /// Keeps the typing notices of this listener's room, in order.
    fn read(&mut self) {
        for delivery in self.buf.drain(..) {
            let Delivery::Event { frame, .. } = delivery else { continue };
            if let Ok(ServerFrame::Typing { room, user_id, .. }) = ServerFrame::decode(frame.to_text()) {
                assert_eq!(room, self.room, "node {}: a typing notice of another room", self.node);
                self.typing.push(user_id);
            }
        }
    }
}

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("test room names are valid")
}

fn typist() -> DisplayName {
    DisplayName::parse("typist").expect("a valid display name")
}

/// Two nodes on a fresh cluster, sharing one store.
async fn two_nodes(cluster: &impl BrokerCluster) -> (Node, Node) {
    let store = Arc::new(MemoryStore::new());
    (Node::join(cluster, &store, "node-a").await, Node::join(cluster, &store, "node-b").await)
}

/// Many events one node publishes for a room reach another node in the
/// order they were published, each once, also with another room's events
/// interleaved.
pub async fn order_kept_per_room(cluster: impl BrokerCluster) {
    const EACH: usize = 100;
    let (a, b) = two_nodes(&cluster).await;
    let rooms = [room("conformance/order-one"), room("conformance/order-two")];
    let mut listeners = Vec::new();
    for room in &rooms {
        let mut listener = b.listen(room).await;
        get_through(&a, &mut listener, room).await;
        listeners.push(listener);
    }

    let mut published: [Vec<UserId>; 2] = Default::default();
    for i in 0..2 * EACH {
        let user = UserId::random();
        a.say_typing(&rooms[i % 2], user).await;
        published[i % 2].push(user);
    }
    for (listener, sent) in listeners.iter_mut().zip(&published) {
        listener.expect("not every event arrived", |seen| sent.iter().all(|u| seen.contains(u))).await;
        // Leave out the late arrivals of getting through.
        let heard: Vec<UserId> = listener.typing.iter().copied().filter(|u| sent.contains(u)).collect();
        assert_eq!(heard, *sent, "node-b heard {}'s events out of publish order, or twice", listener.room);
    }
}

/// A node never hears its own events: in a volley between two nodes, each
/// answering the other's event once it has arrived, each node hears the
/// other's events and none of its own, and neither counts itself among its
/// peers.
pub async fn no_echo(cluster: impl BrokerCluster) {
    const VOLLEYS: usize = 4;
    let (a, b) = two_nodes(&cluster).await;
    let room = room("conformance/echo");
    let mut on_a = a.listen(&room).await;
    let mut on_b = b.listen(&room).await;
    let mut by_a = get_through(&a, &mut on_b, &room).await;
    let mut by_b = get_through(&b, &mut on_a, &room).await;

    for volley in 0..VOLLEYS {
        let user = UserId::random();
        // Each event is sent once the previous one has arrived, so an echo
        // of it would reach its sender before the answer to it does.
        let (speaker, listener, said) =
            if volley % 2 == 0 { (&a, &mut on_b, &mut by_a) } else { (&b, &mut on_a, &mut by_b) };
        speaker.say_typing(&room, user).await;
        said.push(user);
        listener.expect("the other node's event did not arrive", |seen| seen.contains(&user)).await;
    }
    assert!(!on_a.typing.iter().any(|u| by_a.contains(u)), "node-a heard its own events");
    assert!(!on_b.typing.iter().any(|u| by_b.contains(u)), "node-b heard its own events");
    for node in [&a, &b] {
        let peers = node.chat.peers();
        assert!(
            !peers.contains(&node.name),
            "{} counts itself among its peers {peers:?}: it heard its own events",
            node.name
        );
    }
}

/// After a node's link to the broker is cut and restored, events flow both
/// ways again: from the node, and to it.
pub async fn flows_both_ways_after_reconnect(cluster: impl BrokerCluster) {
    let (a, b) = two_nodes(&cluster).await;
    let room = room("conformance/link");
    let mut on_a = a.listen(&room).await;
    let mut on_b = b.listen(&room).await;
    get_through(&a, &mut on_b, &room).await;
    get_through(&b, &mut on_a, &room).await;

    cluster.cut(&b.name).await;
    cluster.restore(&b.name).await;
    get_through(&a, &mut on_b, &room).await;
    get_through(&b, &mut on_a, &room).await;
}

/// Publishes from `from` until one of its events reaches `to`, and returns
/// every user it published as typing: a link may take a while to be up (or
/// back), and what is published meanwhile may be lost, or arrive later.
async fn get_through(from: &Node, to: &mut Listener, room: &RoomName) -> Vec<UserId> {
    let deadline = Instant::now() + WAIT;
    let mut sent = Vec::new();
    loop {
        let user = UserId::random();
        // While the link is still down, publishing may fail: try again.
        if from.typing(room, user).await.is_ok() {
            sent.push(user);
        }
        if to.wait(RETRY, |seen| seen.iter().any(|u| sent.contains(u))).await {
            return sent;
        }
        assert!(
            Instant::now() < deadline,
            "no event from {} reached {} within {WAIT:?} ({} published)",
            from.name,
            to.node,
            sent.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::broker::tests::LocalCluster;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_all_runs_every_check_on_a_fresh_cluster() {
        let made = AtomicUsize::new(0);
        run_all(|| {
            made.fetch_add(1, Ordering::Relaxed);
            async { LocalCluster::default() }
        })
        .await;
        assert_eq!(made.load(Ordering::Relaxed), CHECKS.len(), "every check ran");
    }
}
