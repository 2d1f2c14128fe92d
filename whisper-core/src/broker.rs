//! Cross-node fan-out. Each node's hub delivers its own messages locally and
//! tells the other nodes through a [`Broker`]; a node that misses an event
//! fills the gap from the shared store (see [`Hub`]), so a broker may lose or
//! reorder events without losing messages.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::hub::Hub;
use crate::model::{DisplayName, Message, RoomName, UserId};

/// Something that happened in a room on one node, for the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoomEvent<'a> {
    /// Messages stored (and acked) on the origin node.
    Messages(&'a [Message]),
    /// A relayed typing notice.
    Typing {
        /// The room.
        room: &'a RoomName,
        /// Who is typing.
        user_id: UserId,
        /// Their display name.
        name: &'a DisplayName,
    },
}

impl RoomEvent<'_> {
    /// Hands the event to a hub, as if it had happened on its node.
    pub fn apply(&self, hub: &Hub) {
        match self {
            RoomEvent::Messages(messages) => hub.deliver(messages),
            RoomEvent::Typing { room, user_id, name } => {
                hub.typing(room, *user_id, name);
            }
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
    async fn attach(&self, node: &str, hub: Hub) -> Result<(), BrokerError>;

    /// Tells every other node about an event of node `node`.
    async fn publish(&self, node: &str, event: &RoomEvent<'_>) -> Result<(), BrokerError>;
}

/// The in-process broker: nodes in one process (a single server, or several
/// hubs in a test) share one `LocalBroker`. With one node it has nobody to
/// tell and costs nothing.
#[derive(Debug, Default, Clone)]
pub struct LocalBroker {
    nodes: Arc<Mutex<Vec<(String, Hub)>>>,
}

impl LocalBroker {
    /// A broker with no node attached.
    pub fn new() -> Self {
        Self::default()
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

    async fn publish(&self, node: &str, event: &RoomEvent<'_>) -> Result<(), BrokerError> {
        let others: Vec<Hub> = {
            let nodes = self.nodes.lock().map_err(|_| BrokerError("local broker lock poisoned".into()))?;
            nodes.iter().filter(|(id, _)| id != node).map(|(_, hub)| hub.clone()).collect()
        };
        for hub in &others {
            event.apply(hub);
        }
        Ok(())
    }
}
