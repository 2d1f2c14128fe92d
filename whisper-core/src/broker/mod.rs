//! Cross-node fan-out. Each node's hub delivers its own messages locally and
//! tells the other nodes through a [`Broker`]; a node that misses an event
//! fills the gap from the shared store (see [`Hub`]), so a broker may lose or
//! reorder events without losing messages.
//!
//! With feature `test-util`, [`conformance`] is the suite every broker
//! passes: events of a room kept in order, no echo, events flowing again
//! after a reconnect.

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::codec::PresenceUser;
pub use crate::hub::{Hub, UserAction};
use crate::model::{DisplayName, Event, Message, PrincipalKind, RoomName, Seq, UserId};

/// What one node tells the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeEvent<'a> {
    /// Messages stored (and acked) on the origin node.
    Messages(&'a [Message]),
    /// Edits, deletes and reactions stored on the origin node: they take
    /// their rooms' seqs, so a node that misses one fills the gap from the
    /// store like a missed message.
    Events(&'a [Event]),
    /// A user's read watermark moved on the origin node (protocol.md §12).
    Receipt {
        /// The room.
        room: &'a RoomName,
        /// Who read.
        user_id: UserId,
        /// Up to where.
        seq: Seq,
    },
    /// A relayed typing notice.
    Typing {
        /// The room.
        room: &'a RoomName,
        /// Who is typing.
        user_id: UserId,
        /// Their display name.
        name: &'a DisplayName,
        /// The kind of identity.
        principal: PrincipalKind,
    },
    /// The origin node's users of a room, replacing what it said before
    /// (empty: it has none there now).
    Presence {
        /// The room.
        room: &'a RoomName,
        /// The users connected to the origin node in that room.
        users: &'a [PresenceUser],
    },
    /// The origin node is alive. Sent every [`Limits::peer_heartbeat`]; a
    /// node silent for [`Limits::peer_timeout`] is forgotten with its users.
    ///
    /// [`Limits::peer_heartbeat`]: crate::Limits::peer_heartbeat
    /// [`Limits::peer_timeout`]: crate::Limits::peer_timeout
    Heartbeat {
        /// The origin just republished all its rosters (after a hello): the
        /// others drop those of its rosters it did not renew.
        synced: bool,
    },
    /// The application acted on a user's connections (protocol.md §14):
    /// each node does it to the user's connections it holds.
    User {
        /// The user.
        user_id: UserId,
        /// What to do.
        action: &'a UserAction,
    },
    /// The origin node joined, or may have missed events or had its own
    /// missed: every node republishes its rosters and reads its rooms' new
    /// messages from the store.
    Hello,
}

impl NodeEvent<'_> {
    /// Hands an event of node `origin` to a hub.
    pub fn apply(&self, hub: &Hub, origin: &str) {
        hub.heard_from(origin);
        match *self {
            NodeEvent::Messages(messages) => {
                hub.deliver(messages);
                hub.announce_new_rooms(messages);
            }
            NodeEvent::Events(events) => hub.deliver_events(events),
            NodeEvent::Receipt { room, user_id, seq } => hub.receipt(room, user_id, seq),
            NodeEvent::Typing { room, user_id, name, principal } => {
                hub.typing(room, user_id, name, principal);
            }
            NodeEvent::Presence { room, users } => hub.peer_roster(origin, room, users),
            NodeEvent::Heartbeat { synced } => hub.peer_heartbeat(origin, synced),
            NodeEvent::User { user_id, action } => {
                hub.act(user_id, action);
            }
            NodeEvent::Hello => hub.peer_hello(origin),
        }
    }
}

/// Why a broker could not do its work. Never fatal to a message: it is
/// already stored, and other nodes read it from the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("broker: {0}")]
pub struct BrokerError(pub String);

/// Carries room events between nodes.
#[async_trait]
pub trait Broker: Debug + Send + Sync + 'static {
    /// Starts handing other nodes' events to `hub`, the hub of node `node`.
    /// A broker that notices it may have lost events (a reconnect, a
    /// dropped event) calls [`Hub::link_lost`].
    async fn attach(&self, node: &str, hub: Hub) -> Result<(), BrokerError>;

    /// Tells every other node about an event of node `node`.
    async fn publish(&self, node: &str, event: &NodeEvent<'_>) -> Result<(), BrokerError>;
}

/// The in-process broker: several nodes in one process (hubs in a test, or
/// an application that runs more than one `Chat`) share one `LocalBroker`.
/// A lone node needs none.
#[derive(Debug, Default, Clone)]
pub struct LocalBroker {
    nodes: Arc<Mutex<Vec<(String, Hub)>>>,
}

impl LocalBroker {
    /// A broker with no node attached.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cuts `node` off, as if it had died: it hears nothing more, and its
    /// publishing fails, until it is attached again.
    pub fn detach(&self, node: &str) {
        if let Ok(mut nodes) = self.nodes.lock() {
            nodes.retain(|(id, _)| id != node);
        }
    }
}

#[async_trait]
impl Broker for LocalBroker {
    async fn attach(&self, node: &str, hub: Hub) -> Result<(), BrokerError> {
        let mut nodes = self.nodes.lock().map_err(|_| BrokerError("local broker lock poisoned".into()))?;
        nodes.retain(|(id, _)| id != node);
        nodes.push((node.to_string(), hub));
        Ok(())
    }

    async fn publish(&self, node: &str, event: &NodeEvent<'_>) -> Result<(), BrokerError> {
        let others: Vec<Hub> = {
            let nodes = self.nodes.lock().map_err(|_| BrokerError("local broker lock poisoned".into()))?;
            if !nodes.iter().any(|(id, _)| id == node) {
                return Err(BrokerError(format!("node {node} is not attached")));
            }
            nodes.iter().filter(|(id, _)| id != node).map(|(_, hub)| hub.clone()).collect()
        };
        for hub in &others {
            event.apply(hub, node);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::sync::OnceLock;

    use super::conformance::BrokerCluster;
    use super::*;

    /// [`LocalBroker`] as a cluster for the conformance suite: each node's
    /// broker is a [`Link`] to one shared `LocalBroker`. Cutting a link
    /// detaches the node; restoring it attaches the node again and tells its
    /// hub it may have lost events, as a broker that reconnected does.
    #[derive(Debug, Default)]
    pub(crate) struct LocalCluster {
        broker: LocalBroker,
        links: Mutex<HashMap<String, Arc<Link>>>,
    }

    /// One node's way to the shared broker, keeping the hub it attached.
    #[derive(Debug)]
    struct Link {
        broker: LocalBroker,
        hub: OnceLock<Hub>,
    }

    #[async_trait]
    impl Broker for Link {
        async fn attach(&self, node: &str, hub: Hub) -> Result<(), BrokerError> {
            let _ = self.hub.set(hub.clone());
            self.broker.attach(node, hub).await
        }

        async fn publish(&self, node: &str, event: &NodeEvent<'_>) -> Result<(), BrokerError> {
            self.broker.publish(node, event).await
        }
    }

    impl LocalCluster {
        fn link(&self, node: &str) -> Arc<Link> {
            self.links.lock().unwrap().get(node).cloned().expect("a node of this cluster")
        }
    }

    #[async_trait]
    impl BrokerCluster for LocalCluster {
        async fn node(&self, name: &str) -> Arc<dyn Broker> {
            let link = Arc::new(Link { broker: self.broker.clone(), hub: OnceLock::new() });
            self.links.lock().unwrap().insert(name.to_owned(), link.clone());
            link
        }

        async fn cut(&self, name: &str) {
            self.broker.detach(name);
        }

        async fn restore(&self, name: &str) {
            let hub = self.link(name).hub.get().cloned().expect("the node attached");
            self.broker.attach(name, hub.clone()).await.unwrap();
            hub.link_lost();
        }
    }

    crate::broker_conformance_tests!(async { LocalCluster::default() });
}
