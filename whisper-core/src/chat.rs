//! [`Chat`]: one node's chat service — a store, a hub, a broker and the
//! limits — shared by every session of the node.

use std::sync::Arc;

use crate::broker::{Broker, BrokerError, NodeEvent};
use crate::hub::Hub;
use crate::limits::Limits;
use crate::model::{DisplayName, Message, NewMessage, RoomName, UserId};
use crate::store::{Store, StoreError};

/// One node's chat service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Chat {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    hub: Hub,
    /// The other nodes, if any: a lone node has nobody to tell.
    broker: Option<Arc<dyn Broker>>,
    limits: Arc<Limits>,
    server_id: String,
    /// The node's cluster task, if it has a broker.
    cluster: Option<tokio::task::AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = &self.cluster {
            task.abort();
        }
    }
}

impl Chat {
    /// A single node on `store`, with a random server id.
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Chat {
        Chat::with_id(store, limits, format!("node-{}", &crate::model::UserId::random().to_string()[..8]))
    }

    /// A single node named `server_id`.
    pub fn with_id(store: Arc<dyn Store>, limits: Limits, server_id: impl Into<String>) -> Chat {
        let limits = Arc::new(limits);
        let hub = Hub::new(store.clone(), limits.clone());
        Chat { inner: Arc::new(Inner { store, hub, broker: None, limits, server_id: server_id.into(), cluster: None }) }
    }

    /// A node named `server_id` that shares events with other nodes through
    /// `broker`: messages, typing and presence (each room's users are those
    /// of every node). It runs a task for its part in the cluster (see
    /// the `cluster` module) until the last clone is dropped. Node ids must be
    /// unique in the cluster.
    pub async fn with_broker(
        store: Arc<dyn Store>,
        limits: Limits,
        broker: Arc<dyn Broker>,
        server_id: impl Into<String>,
    ) -> Result<Chat, BrokerError> {
        let limits = Arc::new(limits);
        let hub = Hub::new(store.clone(), limits.clone());
        let server_id = server_id.into();
        broker.attach(&server_id, hub.clone()).await?;
        let task = crate::cluster::run(hub.clone(), broker.clone(), server_id.clone(), limits.clone());
        let cluster = Some(tokio::spawn(task).abort_handle());
        Ok(Chat { inner: Arc::new(Inner { store, hub, broker: Some(broker), limits, server_id, cluster }) })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The hub.
    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// This node's id, sent in `welcome`.
    pub fn server_id(&self) -> &str {
        &self.inner.server_id
    }

    /// Stores a batch, then broadcasts it here and on the other nodes.
    ///
    /// When this returns `Ok` every message is durable (an ack may be sent);
    /// on `Err` nothing of the batch was stored. Broadcast follows the commit,
    /// so no subscriber sees a message that could still be lost.
    pub async fn post(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        let stored = self.inner.store.append(batch).await?;
        self.inner.hub.deliver_together(&stored).await;
        let Some(broker) = &self.inner.broker else { return Ok(stored) };
        if let Err(e) = broker.publish(&self.inner.server_id, &NodeEvent::Messages(&stored)).await {
            // The messages are stored; the other nodes read them from the
            // store when they hear our hello.
            tracing::warn!(error = %e, "could not publish messages to other nodes");
            self.inner.hub.owe_hello();
        }
        Ok(stored)
    }

    /// Relays a typing notice here and on the other nodes (best effort).
    pub async fn typing(&self, room: &RoomName, user: UserId, name: &DisplayName) {
        if self.inner.hub.typing(room, user, name)
            && let Some(broker) = &self.inner.broker
        {
            let event = NodeEvent::Typing { room, user_id: user, name };
            if let Err(e) = broker.publish(&self.inner.server_id, &event).await {
                tracing::debug!(error = %e, "could not publish typing to other nodes");
            }
        }
    }
}
