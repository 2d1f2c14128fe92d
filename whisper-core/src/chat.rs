//! [`Chat`]: one node's chat service — a store, a hub, a broker and the
//! limits — shared by every session of the node, and [`ChatBuilder`], the one
//! way to make it.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::broker::{Broker, BrokerError, NodeEvent};
use crate::codec::PresenceUser;
pub use crate::hub::HubStats;
use crate::hub::{Hub, UserAction};
use crate::limits::Limits;
use crate::model::{DisplayName, Event, Message, MessageId, NewEvent, NewMessage, Principal, RoomName, Seq, UserId};
use crate::policy::{Denied, Policy, Post};
use crate::quota::Budgets;
use crate::store::{Applied, Page, ReadMark, ReadRange, Store, StoreError};

/// What a node stored, once per commit: a resend that was stored before is
/// not told again. For an application's notifications and webhooks
/// ([`Chat::committed`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Committed {
    /// New messages, in seq order per room.
    Messages(Arc<[Message]>),
    /// A new edit, delete or reaction.
    Event(Event),
}

/// Commits a [`Chat::committed`] subscriber may fall behind by before it
/// misses some (it is then told how many, as `RecvError::Lagged`).
pub const COMMITTED_BACKLOG: usize = 1024;

/// Why [`Chat::post_as`] stored nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The content breaks the limits of protocol.md §10.
    #[error("content {0}")]
    Invalid(String),
    /// The policy refused it.
    #[error("refused: {0}")]
    Denied(Denied),
    /// The store could not commit.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why [`Chat::history`] read nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The policy refused it.
    #[error("refused: {0}")]
    Denied(Denied),
    /// The store could not read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

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
    /// The application's rules, if any; without one, the chat's own.
    policy: Option<Arc<dyn Policy>>,
    /// Where new commits are told ([`Chat::committed`]).
    committed: broadcast::Sender<Committed>,
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
    policy: Option<Arc<dyn Policy>>,
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

    /// The application's rules, asked before anything is stored or relayed
    /// (default: none, the chat's own rules only; see [`crate::policy`]).
    pub fn policy(mut self, policy: Arc<dyn Policy>) -> Self {
        self.policy = Some(policy);
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
        let parts = self.parts();
        Chat { inner: Arc::new(parts.into_inner(None)) }
    }

    fn parts(self) -> Parts {
        let limits = Arc::new(self.limits);
        let hub = Hub::new(self.store.clone(), limits.clone());
        let server_id =
            self.server_id.unwrap_or_else(|| format!("node-{}", &crate::model::UserId::random().to_string()[..8]));
        Parts { store: self.store, hub, limits, server_id, policy: self.policy }
    }
}

/// What a built node is made of, before it knows whether it has a broker.
struct Parts {
    store: Arc<dyn Store>,
    hub: Hub,
    limits: Arc<Limits>,
    server_id: String,
    policy: Option<Arc<dyn Policy>>,
}

impl Parts {
    fn into_inner(self, cluster: Option<(Arc<dyn Broker>, tokio::task::AbortHandle)>) -> Inner {
        let Parts { store, hub, limits, server_id, policy } = self;
        let budgets = Budgets::new(limits.quotas.clone());
        let (broker, cluster) = cluster.map_or((None, None), |(broker, task)| (Some(broker), Some(task)));
        let (committed, _) = broadcast::channel(COMMITTED_BACKLOG);
        Inner { store, hub, broker, limits, budgets, server_id, cluster, policy, committed }
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

    /// See [`ChatBuilder::policy`].
    pub fn policy(self, policy: Arc<dyn Policy>) -> Self {
        ClusterBuilder { chat: self.chat.policy(policy), ..self }
    }

    /// Attaches the node to the broker and starts its cluster task.
    pub async fn build(self) -> Result<Chat, BrokerError> {
        let broker = self.broker;
        let parts = self.chat.parts();
        broker.attach(&parts.server_id, parts.hub.clone()).await?;
        let task =
            crate::cluster::run(parts.hub.clone(), broker.clone(), parts.server_id.clone(), parts.limits.clone());
        let task = tokio::spawn(task).abort_handle();
        Ok(Chat { inner: Arc::new(parts.into_inner(Some((broker, task)))) })
    }
}

impl Chat {
    /// Starts making a node on `store`; see [`ChatBuilder`].
    pub fn builder(store: Arc<dyn Store>) -> ChatBuilder {
        ChatBuilder { store, limits: Limits::default(), server_id: None, policy: None }
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

    /// The application's rules, if it gave any ([`ChatBuilder::policy`]).
    pub fn policy(&self) -> Option<&Arc<dyn Policy>> {
        self.inner.policy.as_ref()
    }

    /// Every commit of this node from now on, once each (a resend that was
    /// stored before is not told again): subscribe on every node of a
    /// cluster and each commit reaches the application once. Told after
    /// the commit, in commit order; a subscriber more than
    /// [`COMMITTED_BACKLOG`] behind misses the oldest and is told how many.
    pub fn committed(&self) -> broadcast::Receiver<Committed> {
        self.inner.committed.subscribe()
    }

    /// Tells [`Chat::committed`]'s subscribers about `messages`, keeping
    /// those stored now (their ids are the ones proposed in `ids`).
    fn tell_committed(&self, ids: Option<Vec<MessageId>>, stored: &[Message]) {
        let Some(ids) = ids else { return };
        let fresh: Arc<[Message]> = stored.iter().filter(|m| ids.contains(&m.id)).cloned().collect();
        if !fresh.is_empty() {
            let _ = self.inner.committed.send(Committed::Messages(fresh));
        }
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
        // Only with a subscriber: a resend is told apart by its id, which
        // the store replaces with the first send's.
        let ids = (self.inner.committed.receiver_count() > 0).then(|| batch.iter().map(|m| m.id).collect());
        let stored = self.inner.store.append(batch).await?;
        self.tell_committed(ids, &stored);
        self.inner.hub.deliver_together(&stored).await;
        self.inner.hub.announce_new_rooms(&stored);
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
        let proposed = event.id;
        let applied = self.inner.store.apply(event).await?;
        if let Applied::Stored(event) = &applied {
            if event.id == proposed && self.inner.committed.receiver_count() > 0 {
                let _ = self.inner.committed.send(Committed::Event(event.clone()));
            }
            self.deliver_events(std::slice::from_ref(event)).await;
        }
        Ok(applied)
    }

    /// Tells stored events that are new (a room's creation) to the
    /// application, then broadcasts them.
    pub(crate) async fn publish_events(&self, events: &[Event]) {
        if self.inner.committed.receiver_count() > 0 {
            for event in events {
                let _ = self.inner.committed.send(Committed::Event(event.clone()));
            }
        }
        self.deliver_events(events).await;
    }

    /// Broadcasts stored events here and on the other nodes.
    async fn deliver_events(&self, events: &[Event]) {
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
    pub async fn typing(&self, room: &RoomName, who: &Principal) {
        let (user, name, principal) = (who.user_id, &who.name, who.kind);
        if self.inner.hub.typing(room, user, name, principal)
            && let Some(broker) = &self.inner.broker
        {
            let event = NodeEvent::Typing { room, user_id: user, name, principal };
            if let Err(e) = broker.publish(&self.inner.server_id, &event).await {
                tracing::debug!(error = %e, "could not publish typing to other nodes");
            }
        }
    }

    /// Posts `content` to `room` as `who` (a bot, a system notice, a user
    /// the application acts for), with the checks a client's post gets:
    /// the content rules of protocol.md §10, then the policy (which may
    /// reshape it). No rate or budget applies: the application is trusted
    /// with its own pace.
    pub async fn post_as(
        &self,
        who: &Principal,
        room: &RoomName,
        content: &str,
        reply_to: Option<MessageId>,
    ) -> Result<Message, PostError> {
        let content =
            crate::codec::validate_content(content, self.limits()).map_err(|(_, why)| PostError::Invalid(why))?;
        let mut post = Post { room: room.clone(), content, reply_to, attachments: Vec::new() };
        if let Some(policy) = self.policy() {
            policy.post(who, &mut post).await.map_err(PostError::Denied)?;
            post.content = crate::codec::validate_content(&post.content, self.limits())
                .map_err(|(_, why)| PostError::Invalid(why))?;
        }
        if let Some(target) = post.reply_to
            && self.store().message(room, target).await?.is_none()
        {
            return Err(PostError::Invalid(format!("reply_to: no message {target} in room {room}")));
        }
        let mut message = NewMessage::now(room.clone(), who.user_id, who.name.clone(), post.content, None).by(who);
        message.reply_to = post.reply_to;
        let mut stored = self.post(vec![message]).await?;
        stored.pop().ok_or_else(|| PostError::Store(StoreError::Internal("the store returned no message".into())))
    }

    /// A page of `room`'s history, as `who` (`None`: a reader without an
    /// identity) may read it: the policy first, then the store.
    pub async fn history(&self, who: Option<&Principal>, room: &RoomName, range: ReadRange) -> Result<Page, ReadError> {
        self.may_read(who, room).await?;
        Ok(self.store().read(room, range).await?)
    }

    /// Whether `who` (`None`: a reader without an identity) may read
    /// `room`'s history and log: the room's rules (a member, or anyone not
    /// banned from a public room; protocol.md §15), then the policy.
    pub async fn may_read(&self, who: Option<&Principal>, room: &RoomName) -> Result<(), ReadError> {
        let access = self.access(who, room).await?;
        if !access.may_enter() {
            let why = match access.standing {
                crate::model::Standing::Banned if access.visibility == crate::model::Visibility::Public => {
                    "banned from this room"
                }
                _ if who.is_none() => "sign in to read this room",
                _ => "not a member of this room",
            };
            return Err(ReadError::Denied(Denied::forbidden(why)));
        }
        if let Some(policy) = self.policy() {
            policy.read_history(who, room).await.map_err(ReadError::Denied)?;
        }
        Ok(())
    }

    /// Who is online in `room` now, on every node, sorted as `presence`
    /// frames are.
    pub fn presence(&self, room: &RoomName) -> Vec<PresenceUser> {
        self.inner.hub.presence(room)
    }

    /// Does `action` to `user`'s connections on every node. Returns how
    /// many connections this node had.
    pub async fn act(&self, user: UserId, action: UserAction) -> usize {
        let here = self.inner.hub.act(user, &action);
        if let Some(broker) = &self.inner.broker
            && let Err(e) =
                broker.publish(&self.inner.server_id, &NodeEvent::User { user_id: user, action: &action }).await
        {
            tracing::warn!(error = %e, "could not tell other nodes about a user");
        }
        here
    }

    /// Shows `name` for `user` from now on, in every room its connections
    /// are in, on every node (a stored profile changed).
    pub async fn rename(&self, user: UserId, name: DisplayName) -> usize {
        self.act(user, UserAction::Rename { name }).await
    }

    /// Takes `user` out of `room` on every node: each connection gets a
    /// `left` frame with `reason`, and presence is updated.
    pub async fn evict(&self, user: UserId, room: &RoomName, reason: &str) -> usize {
        self.act(user, UserAction::Evict { room: room.clone(), reason: reason.into() }).await
    }

    /// Closes every connection of `user` on every node (close 4002).
    pub async fn disconnect(&self, user: UserId) -> usize {
        self.act(user, UserAction::Disconnect).await
    }

    /// Closes `user`'s connections opened with sign-in `session` (the
    /// [`Connection::session`](crate::session::Connection::session) they
    /// were given) on every node (close 4001).
    pub async fn revoke(&self, user: UserId, session: &str) -> usize {
        self.act(user, UserAction::Revoke { session: session.into() }).await
    }
}
