//! [`Chat`]: one node's chat service — a store, a hub, a broker and the
//! limits — shared by every session of the node, and [`ChatBuilder`], the one
//! way to make it.

use std::sync::Arc;

use crate::broker::{Broker, BrokerError, NodeEvent};
use crate::hub::Hub;
pub use crate::hub::HubStats;
use crate::limits::Limits;
use crate::model::{DisplayName, Message, NewEvent, NewMessage, RoomName, Seq, UserId};
use crate::quota::Budgets;
use crate::store::{Applied, ReadMark, Store, StoreError};

/// One node's chat service. Cheap to clone.
///
/// Made with [`Chat::builder`]:
///
/// ```
/// # use std::sync::Arc;
/// # use whisper_core::{Chat, Limits, store::MemoryStore};
/// let chat = Chat::builder(Arc::new(MemoryStore::new())).limits(Limits::default()).server_id("node-a").build();
/// assert_eq!(chat.server_id(), "node-a");
/// ```
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
    /// Write budgets and room-creation caps, shared by every session.
    budgets: Budgets,
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

/// Makes a [`Chat`]: a single node by default (`build` is then immediate), or
/// a node of a cluster once given a [`broker`](ChatBuilder::broker).
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct ChatBuilder {
    store: Arc<dyn Store>,
    limits: Limits,
    server_id: Option<String>,
}

/// A [`ChatBuilder`] with a broker: building attaches the node to the
/// broker, so it is async and may fail.
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct ClusterBuilder {
    chat: ChatBuilder,
    broker: Arc<dyn Broker>,
}

impl ChatBuilder {
    /// The limits in force (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The node's id, sent in `welcome` (default: `node-` and 8 random hex
    /// digits). Node ids must be unique in a cluster.
    pub fn server_id(mut self, server_id: impl Into<String>) -> Self {
        self.server_id = Some(server_id.into());
        self
    }

    /// Makes the node share events with other nodes through `broker`:
    /// messages, typing and presence (each room's users are those of every
    /// node). The node runs a task for its part in the cluster (see the
    /// `cluster` module) until the last clone of the `Chat` is dropped.
    pub fn broker(self, broker: Arc<dyn Broker>) -> ClusterBuilder {
        ClusterBuilder { chat: self, broker }
    }

    /// A single node.
    pub fn build(self) -> Chat {
        let (store, hub, limits, server_id) = self.parts();
        let budgets = Budgets::new(limits.quotas.clone());
        Chat { inner: Arc::new(Inner { store, hub, broker: None, limits, budgets, server_id, cluster: None }) }
    }

    fn parts(self) -> (Arc<dyn Store>, Hub, Arc<Limits>, String) {
        let limits = Arc::new(self.limits);
        let hub = Hub::new(self.store.clone(), limits.clone());
        let server_id =
            self.server_id.unwrap_or_else(|| format!("node-{}", &crate::model::UserId::random().to_string()[..8]));
        (self.store, hub, limits, server_id)
    }
}

impl ClusterBuilder {
    /// See [`ChatBuilder::limits`].
    pub fn limits(self, limits: Limits) -> Self {
        ClusterBuilder { chat: self.chat.limits(limits), ..self }
    }

    /// See [`ChatBuilder::server_id`].
    pub fn server_id(self, server_id: impl Into<String>) -> Self {
        ClusterBuilder { chat: self.chat.server_id(server_id), ..self }
    }

    /// Attaches the node to the broker and starts its cluster task.
    pub async fn build(self) -> Result<Chat, BrokerError> {
        let broker = self.broker;
        let (store, hub, limits, server_id) = self.chat.parts();
        broker.attach(&server_id, hub.clone()).await?;
        let task = crate::cluster::run(hub.clone(), broker.clone(), server_id.clone(), limits.clone());
        let cluster = Some(tokio::spawn(task).abort_handle());
        let budgets = Budgets::new(limits.quotas.clone());
        Ok(Chat { inner: Arc::new(Inner { store, hub, broker: Some(broker), limits, budgets, server_id, cluster }) })
    }
}

impl Chat {
    /// Starts making a node on `store`; see [`ChatBuilder`].
    pub fn builder(store: Arc<dyn Store>) -> ChatBuilder {
        ChatBuilder { store, limits: Limits::default(), server_id: None }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The hub, for the sessions of this crate.
    pub(crate) fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    /// The write budgets, for the sessions of this crate.
    pub(crate) fn budgets(&self) -> &Budgets {
        &self.inner.budgets
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// This node's id, sent in `welcome`.
    pub fn server_id(&self) -> &str {
        &self.inner.server_id
    }

    /// Users online in `room`, on this node or (in a cluster) on any other.
    pub fn online(&self, room: &RoomName) -> usize {
        self.inner.hub.online(room)
    }

    /// Counters of the node's fan-out, for metrics.
    pub fn stats(&self) -> HubStats {
        self.inner.hub.stats()
    }

    /// The other nodes heard from within the peer timeout, sorted (empty for
    /// a single node).
    pub fn peers(&self) -> Vec<String> {
        self.inner.hub.peers()
    }

    /// Stores a batch, then broadcasts it here and on the other nodes.
    ///
    /// This is the trusted path (an application posting for itself): it
    /// checks no budget. Clients' frames go through a session, which
    /// charges the write budgets of protocol.md §10 first.
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

    /// Stores an edit, delete or reaction ([`Store::apply`] checks it
    /// against its target), then broadcasts it here and on the other nodes
    /// in seq order among the room's messages (protocol.md §13).
    ///
    /// The trusted path, like [`Chat::post`]: it checks no budget, only the
    /// store's rules (the author edits and deletes; the target exists).
    pub async fn apply(&self, event: NewEvent) -> Result<Applied, StoreError> {
        let applied = self.inner.store.apply(event).await?;
        if let Applied::Stored(event) = &applied {
            let events = std::slice::from_ref(event);
            self.inner.hub.deliver_events(events);
            if let Some(broker) = &self.inner.broker
                && let Err(e) = broker.publish(&self.inner.server_id, &NodeEvent::Events(events)).await
            {
                // Stored: the other nodes read it from the store when they
                // hear our hello, as for messages.
                tracing::warn!(error = %e, "could not publish an event to other nodes");
                self.inner.hub.owe_hello();
            }
        }
        Ok(applied)
    }

    /// Moves `user`'s read watermark in `room` up to `seq` (clamped to the
    /// head, never back: [`Store::mark_read`]) and, if it moved, tells the
    /// room's connections, here and on the other nodes, with a `receipt`
    /// (protocol.md §12).
    ///
    /// The trusted path, like [`Chat::post`]: it checks no membership.
    pub async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        let mark = self.inner.store.mark_read(user, room, seq).await?;
        if mark.moved {
            self.inner.hub.receipt(room, user, mark.read_seq);
            if let Some(broker) = &self.inner.broker {
                let event = NodeEvent::Receipt { room, user_id: user, seq: mark.read_seq };
                if let Err(e) = broker.publish(&self.inner.server_id, &event).await {
                    // The mark is stored; a device that joins reads it.
                    tracing::debug!(error = %e, "could not publish a receipt to other nodes");
                }
            }
        }
        Ok(mark)
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
