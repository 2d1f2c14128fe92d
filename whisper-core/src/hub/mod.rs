//! The room hub: which connections are in which room, and fan-out to them.
//!
//! Publishing encodes a broadcast once and pushes the shared frame into each
//! subscriber's bounded [`Outbox`]; a full outbox cuts its connection off and
//! never slows the others. Broadcasts leave each room in seq order: a room's
//! sequencer holds back messages that arrive ahead of a missing seq, and if the
//! missing one is not published within `gap_grace` (its publisher died between
//! commit and broadcast, or another node's message was lost) it is read from
//! the store.
//!
//! The module is internal: an embedder reaches it through [`Chat`](crate::Chat)
//! (`online`, `stats`, `peers`), a broker through the [`Hub`] handle it is
//! given at attach (re-exported as `broker::Hub`), the sessions of this crate
//! through the `pub(crate)` methods below.

mod cluster;
#[cfg(test)]
mod cluster_tests;
mod outbox;
mod peers;
mod presence;
mod receipts;
mod room;
#[cfg(test)]
mod tests;
mod users;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

pub(crate) use outbox::{Broadcast, Command, Delivery, Outbox, OutboxClosed, Run};

use crate::codec::{RoomChange, ServerFrame};
use crate::limits::Limits;
use crate::model::{
    Change, DisplayName, Entry, Epoch, Event, MemberAction, Message, PrincipalKind, RoomName, Seq, UserId, Visibility,
};
use crate::store::{MAX_PAGE, RoomInfo, Store, StoreError};
use cluster::Owed;
use peers::Peers;
use presence::Presence;
use receipts::Relay;
use room::{Room, Subscriber};
pub use users::UserAction;
use users::Users;

/// A node's rooms, as a [`Broker`](crate::broker::Broker) sees them: the
/// broker hands it other nodes' events with
/// [`NodeEvent::apply`](crate::broker::NodeEvent::apply) and tells it when
/// events may have been lost ([`Hub::link_lost`]). Cheap to clone; clones
/// share the same rooms.
#[derive(Clone, Debug)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Rooms with at least one subscriber. Lock order: this map, then a room.
    rooms: Mutex<HashMap<RoomName, Arc<Mutex<Room>>>>,
    store: Arc<dyn Store>,
    limits: Arc<Limits>,
    /// Other nodes' users. Lock order: a room, then this.
    peers: Mutex<Peers>,
    /// What this node owes the other nodes. Taken after any other lock.
    owed: Mutex<Owed>,
    /// Wakes the node's cluster task when something is owed.
    cluster_work: tokio::sync::Notify,
    /// Each user's connections here.
    users: Arc<Users>,
    next_member: AtomicU64,
    deliveries: AtomicU64,
    slow_consumers: AtomicU64,
    gap_fills: AtomicU64,
    broadcasts: AtomicU64,
    fanout_nanos: AtomicU64,
}

/// One connection as the hub knows it: an identity and an outbox. Listed
/// among its user's connections until dropped.
#[derive(Debug)]
pub(crate) struct Member {
    id: u64,
    user: UserId,
    /// The kind of identity, shown in presence.
    kind: PrincipalKind,
    outbox: Arc<Outbox>,
    users: Arc<Users>,
    /// The connection said it is away (protocol.md §9, `status`). Only its
    /// session changes it, between hub calls.
    away: std::sync::atomic::AtomicBool,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.users.remove(self.user, self.id);
    }
}

impl Member {
    /// Whether the connection said it is away.
    pub(crate) fn is_away(&self) -> bool {
        self.away.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The connection's user.
    pub(crate) fn user(&self) -> UserId {
        self.user
    }

    /// The kind of identity it is.
    pub(crate) fn kind(&self) -> PrincipalKind {
        self.kind
    }

    /// Where the hub queues this connection's frames.
    pub(crate) fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }
}

/// A subscription's starting point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Subscribed {
    /// The room's last broadcast seq when the subscription began: every later
    /// message reaches the subscriber live; earlier ones are in the store.
    pub(crate) seq: Seq,
    /// The room's epoch.
    pub(crate) epoch: Epoch,
}

/// Counters of a node's fan-out, for metrics ([`Chat::stats`](crate::Chat::stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Rooms with subscribers.
    pub rooms: usize,
    /// Frames pushed into outboxes.
    pub deliveries: u64,
    /// Connections cut off because their outbox was full.
    pub slow_consumers: u64,
    /// Missing seqs read back from the store.
    pub gap_fills: u64,
    /// Broadcasts of messages (each encoded once, pushed to every subscriber).
    pub broadcasts: u64,
    /// Total time spent encoding and pushing those broadcasts.
    pub fanout_time: std::time::Duration,
}

/// Most messages in one broadcast frame: a burst becomes several moderate
/// frames rather than one huge one.
pub(crate) const MAX_BROADCAST: usize = 100;

/// Runs of messages of the same room, in the order given.
fn by_room(messages: &[Message]) -> impl Iterator<Item = &[Message]> {
    messages.chunk_by(|a, b| a.room == b.room)
}

/// Runs of events of the same room, in the order given.
fn events_by_room(events: &[Event]) -> impl Iterator<Item = &[Event]> {
    events.chunk_by(|a, b| a.room == b.room)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Hub state stays consistent across a panic in a fan-out (every change is
    // a single insert, remove or counter), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    /// A hub reading missed messages from `store`, bounded by `limits`.
    pub(crate) fn new(store: Arc<dyn Store>, limits: Arc<Limits>) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                rooms: Mutex::new(HashMap::new()),
                store,
                limits,
                peers: Mutex::new(Peers::default()),
                owed: Mutex::new(Owed::default()),
                cluster_work: tokio::sync::Notify::new(),
                users: Arc::default(),
                next_member: AtomicU64::new(1),
                deliveries: AtomicU64::new(0),
                slow_consumers: AtomicU64::new(0),
                gap_fills: AtomicU64::new(0),
                broadcasts: AtomicU64::new(0),
                fanout_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// A new connection of `user`, with an empty outbox.
    #[cfg(any(test, feature = "test-util"))]
    pub(crate) fn member(&self, user: UserId) -> Member {
        self.member_of(user, PrincipalKind::Guest, None)
    }

    /// A new connection of `user` (an identity of `kind`) opened with
    /// sign-in `session` (if any), with an empty outbox.
    pub(crate) fn member_of(&self, user: UserId, kind: PrincipalKind, session: Option<Arc<str>>) -> Member {
        let id = self.inner.next_member.fetch_add(1, Ordering::Relaxed);
        let outbox = Arc::new(Outbox::new(self.inner.limits.outbox_capacity, self.inner.limits.outbox_bytes));
        self.inner.users.add(user, id, session, outbox.clone());
        Member { id, user, kind, outbox, users: self.inner.users.clone(), away: Default::default() }
    }

    /// Does `action` to `user`'s connections here. Returns how many there were.
    pub fn act(&self, user: UserId, action: &UserAction) -> usize {
        let (session, command, close) = match action {
            UserAction::Rename { name } => (None, Some(Command::Rename(name.clone())), None),
            UserAction::Evict { room, reason } => {
                (None, Some(Command::Leave { room: room.clone(), reason: reason.clone() }), None)
            }
            UserAction::Disconnect => (None, None, Some(OutboxClosed::Disconnected)),
            UserAction::Revoke { session } => (Some(&**session), None, Some(OutboxClosed::Revoked)),
        };
        let handles = self.inner.users.of(user, session);
        for handle in &handles {
            if let Some(command) = &command {
                handle.outbox.push(Delivery::Command(command.clone()));
            }
            if let Some(why) = close {
                handle.outbox.close_for(why);
            }
        }
        handles.len()
    }

    fn room(&self, name: &RoomName) -> Option<Arc<Mutex<Room>>> {
        lock(&self.inner.rooms).get(name).cloned()
    }

    /// Subscribes `member` to `room`, shown in presence as `name`.
    ///
    /// From the returned seq on, every message of the room reaches the
    /// member's outbox in order; a caller that wants older ones reads them
    /// from the store (they are all committed by then).
    pub(crate) async fn subscribe(
        &self,
        name: &RoomName,
        member: &Member,
        display: &DisplayName,
    ) -> Result<Subscribed, StoreError> {
        let mut head = None;
        let subscribed = loop {
            match self.try_subscribe(name, member, display, head.take()) {
                Some(subscribed) => break subscribed,
                // The hub does not know the room yet: learn its head first.
                None => head = Some(self.inner.store.room(name).await?),
            }
        };
        if subscribed.epoch == Epoch(0) && subscribed.seq > Seq::ZERO {
            // The room was empty when the hub first saw it; the store has
            // assigned its epoch since.
            let info = self.inner.store.room(name).await?;
            if let Some(room) = self.room(name) {
                lock(&room).epoch = info.epoch;
            }
            return Ok(Subscribed { epoch: info.epoch, ..subscribed });
        }
        Ok(subscribed)
    }

    /// Adds the subscriber if the room is known, or if `head` says where a
    /// new room starts; `None` asks the caller for the head.
    fn try_subscribe(
        &self,
        name: &RoomName,
        member: &Member,
        display: &DisplayName,
        head: Option<RoomInfo>,
    ) -> Option<Subscribed> {
        let mut rooms = lock(&self.inner.rooms);
        let room = match (rooms.get(name), head) {
            (Some(room), _) => room.clone(),
            (None, Some(head)) => {
                let room = Arc::new(Mutex::new(Room::new(name.clone(), head.last_seq, head.epoch)));
                rooms.insert(name.clone(), room.clone());
                // A message committed between reading the head and now was
                // broadcast to nobody; look for it once.
                lock(&room).gap_fill_armed = true;
                self.spawn_gap_fill(name.clone());
                room
            }
            (None, None) => return None,
        };
        let mut guard = lock(&room);
        guard.subscribers.retain(|s| s.member != member.id);
        let arrived = guard.presence.arrive(member.user, display, member.kind, member.is_away());
        // The new connection gets the full list at the next flush, the others
        // only the change. Another socket of the same user, while changes
        // wait for the flush, gets the full list then too: the list it would
        // get now is not the one the changes will follow.
        let fresh = arrived || guard.presence_flush_scheduled;
        let subscriber = Subscriber { member: member.id, user: member.user, outbox: member.outbox.clone(), fresh };
        guard.subscribers.push(subscriber);
        if arrived {
            self.local_presence_changed(&mut guard);
        } else if !fresh {
            // Another socket of the same user, and every change announced:
            // the room's list did not change, but this connection has not
            // seen it yet.
            member.outbox.push(self.presence_delivery(&guard));
        }
        Some(Subscribed { seq: guard.delivered(), epoch: guard.epoch })
    }

    /// Whether the hub knows `room` has history (it has subscribers here and
    /// has seen a message): no store read needed to know a post creates nothing.
    pub(crate) fn has_history(&self, name: &RoomName) -> bool {
        self.room(name).is_some_and(|room| lock(&room).delivered() > Seq::ZERO)
    }

    /// Unsubscribes `member` from `room`. Returns whether it was subscribed.
    pub(crate) fn unsubscribe(&self, name: &RoomName, member: &Member) -> bool {
        let mut rooms = lock(&self.inner.rooms);
        let Some(room) = rooms.get(name).cloned() else { return false };
        let mut guard = lock(&room);
        let Some(i) = guard.subscribers.iter().position(|s| s.member == member.id) else {
            return false;
        };
        guard.subscribers.swap_remove(i);
        if guard.presence.depart(member.user, member.is_away()) {
            if !guard.presence.contains(member.user) {
                guard.forget_typing(member.user);
            }
            self.local_presence_changed(&mut guard);
        }
        if guard.subscribers.is_empty() {
            rooms.remove(name);
        }
        true
    }

    /// Tells every connection here of the rooms `messages` created: a
    /// message at seq 1 is a room's first (protocol.md §4, `room`). Called
    /// for this node's commits and for those other nodes announce, so each
    /// node tells its own connections. A resend of a room's first message
    /// tells again: a client takes a `room` frame for a room it lists as
    /// nothing new.
    pub(crate) fn announce_new_rooms(&self, messages: &[Message]) {
        let created: Vec<&RoomName> = messages.iter().filter(|m| m.seq == Seq(1)).map(|m| &m.room).collect();
        if created.is_empty() {
            return;
        }
        let outboxes = self.inner.users.outboxes();
        for room in created {
            let frame = ServerFrame::Room { room: room.clone(), change: RoomChange::Created }.encode();
            for outbox in &outboxes {
                outbox.push(Delivery::Notice(frame.clone()));
            }
        }
    }

    /// Broadcasts stored messages (of one or several rooms) to their rooms'
    /// subscribers, in seq order, each run of consecutive messages encoded once.
    pub(crate) fn deliver(&self, messages: &[Message]) {
        for run in by_room(messages) {
            let Some(room) = self.room(&run[0].room) else { continue };
            let entries: Vec<Entry> = run.iter().cloned().map(Entry::Message).collect();
            self.publish(&run[0].room, lock(&room), &entries);
        }
    }

    /// Broadcasts stored events (edits, deletes, reactions) like
    /// [`Hub::deliver`]: they take their rooms' seqs, so they leave in seq
    /// order among the messages.
    pub(crate) fn deliver_events(&self, events: &[Event]) {
        for run in events_by_room(events) {
            let Some(room) = self.room(&run[0].room) else { continue };
            let entries: Vec<Entry> = run.iter().cloned().map(Entry::Event).collect();
            self.publish(&run[0].room, lock(&room), &entries);
        }
        self.follow_room_events(events);
    }

    /// What a room's own events do beyond its subscribers, on every node
    /// that hears them (protocol.md §15): a public room's creation or new
    /// title is told to every connection, a member added is told on each of
    /// their connections, and a member kicked or banned leaves the room on
    /// each of them at once.
    fn follow_room_events(&self, events: &[Event]) {
        for event in events {
            let room = &event.room;
            match &event.change {
                Change::Room { created, visibility: Visibility::Public, .. } => {
                    let change = if *created { RoomChange::Created } else { RoomChange::Renamed };
                    let frame = ServerFrame::Room { room: room.clone(), change }.encode();
                    for outbox in self.inner.users.outboxes() {
                        outbox.push(Delivery::Notice(frame.clone()));
                    }
                }
                Change::Member { member, action: MemberAction::Added, .. } => {
                    let frame = ServerFrame::Room { room: room.clone(), change: RoomChange::Added }.encode();
                    for handle in self.inner.users.of(*member, None) {
                        handle.outbox.push(Delivery::Notice(frame.clone()));
                    }
                }
                Change::Member {
                    member,
                    action: action @ (MemberAction::Kicked | MemberAction::Banned),
                    reason,
                    ..
                } => {
                    let done = if *action == MemberAction::Banned { "banned" } else { "removed" };
                    let reason = match reason {
                        Some(why) => format!("{done} by {}: {why}", event.name),
                        None => format!("{done} by {}", event.name),
                    };
                    self.act(*member, &UserAction::Evict { room: room.clone(), reason: reason.into() });
                }
                _ => {}
            }
        }
    }

    /// Broadcasts like [`Hub::deliver`], but first lets the other publishers
    /// that are ready to run add their messages: the publishers of one group
    /// commit wake together, and their messages then leave as one frame per
    /// room instead of one each. Under load that divides the per-frame cost
    /// (an outbox push and a WebSocket frame per subscriber) by the group
    /// size; when idle the wait is one turn of the scheduler.
    ///
    /// It returns once its messages are pushed to every subscriber, by this
    /// call or by another that took them along.
    pub(crate) async fn deliver_together(&self, messages: &[Message]) {
        let mut staged = Vec::new();
        for run in by_room(messages) {
            let Some(room) = self.room(&run[0].room) else { continue };
            lock(&room).staged.extend(run.iter().cloned().map(Entry::Message));
            staged.push(room);
        }
        if staged.is_empty() {
            return;
        }
        tokio::task::yield_now().await;
        for room in staged {
            let mut guard = lock(&room);
            let mut entries = std::mem::take(&mut guard.staged);
            if entries.is_empty() {
                continue; // another publisher sent ours along with theirs
            }
            entries.sort_unstable_by_key(Entry::seq);
            let name = guard.name.clone();
            self.publish(&name, guard, &entries);
        }
    }

    /// Sequences log entries of one room and broadcasts what is ready: a
    /// frame per run of messages or of events, of at most [`MAX_BROADCAST`].
    fn publish(&self, name: &RoomName, mut guard: MutexGuard<'_, Room>, entries: &[Entry]) {
        let sequenced = if entries.windows(2).all(|w| w[0].seq() < w[1].seq()) {
            guard.sequence(entries)
        } else {
            let mut sorted: Vec<&Entry> = entries.iter().collect();
            sorted.sort_by_key(|e| e.seq());
            guard.sequence(sorted)
        };
        if !sequenced.ready.is_empty() {
            let started = std::time::Instant::now();
            let mut broadcasts = 0;
            for mut run in Run::split(sequenced.ready) {
                while run.len() > 0 {
                    let rest = run.split_off(run.len().min(MAX_BROADCAST));
                    let delivery = Delivery::Messages(Arc::new(Broadcast::new(name.clone(), run)));
                    self.fan_out(&guard, &delivery, None);
                    run = rest;
                    broadcasts += 1;
                }
            }
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.inner.broadcasts.fetch_add(broadcasts, Ordering::Relaxed);
            self.inner.fanout_nanos.fetch_add(nanos, Ordering::Relaxed);
        }
        if sequenced.gap && !guard.gap_fill_armed {
            guard.gap_fill_armed = true;
            drop(guard);
            self.spawn_gap_fill(name.clone());
        }
    }

    fn fan_out(&self, room: &Room, delivery: &Delivery, except: Option<UserId>) {
        self.fan_out_to(room, delivery, |sub| Some(sub.user) != except);
    }

    fn fan_out_to(&self, room: &Room, delivery: &Delivery, to: impl Fn(&Subscriber) -> bool) {
        let (sent, cut) = room.fan_out_to(delivery, to);
        self.inner.deliveries.fetch_add(sent, Ordering::Relaxed);
        if cut > 0 {
            self.inner.slow_consumers.fetch_add(cut, Ordering::Relaxed);
            tracing::info!(room = %room.name, cut, "slow consumers cut off");
        }
    }

    /// After `gap_grace`, reads from the store whatever follows the room's last
    /// broadcast and delivers it; repeats while a gap remains.
    fn spawn_gap_fill(&self, name: RoomName) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(room = %name, "no runtime to fill a seq gap");
            return;
        };
        let hub = self.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(hub.inner.limits.gap_grace).await;
                let Some(room) = hub.room(&name) else { return };
                let after = lock(&room).delivered();
                match hub.inner.store.log(&name, after, MAX_PAGE).await {
                    Ok(page) => {
                        if !page.entries.is_empty() {
                            hub.inner.gap_fills.fetch_add(1, Ordering::Relaxed);
                            hub.publish(&name, lock(&room), &page.entries);
                        }
                        // Checked under the room lock that `publish` also
                        // takes to see whether a fill is armed, so a gap found
                        // concurrently is either seen here or re-arms a fill.
                        let mut guard = lock(&room);
                        if !page.has_more && !guard.has_pending() {
                            guard.gap_fill_armed = false;
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(room = %name, error = %e, "gap fill failed; retrying"),
                }
            }
        });
    }

    /// Relays a typing notice from `user` to the room's other users, at most
    /// once per `typing_interval` per user. Returns whether it was relayed.
    pub(crate) fn typing(&self, name: &RoomName, user: UserId, display: &DisplayName, kind: PrincipalKind) -> bool {
        let Some(room) = self.room(name) else { return false };
        let mut guard = lock(&room);
        if !guard.allow_typing(user, Instant::now(), self.inner.limits.typing_interval) {
            return false;
        }
        let frame =
            ServerFrame::Typing { room: name.clone(), user_id: user, name: display.clone(), principal: kind }.encode();
        self.fan_out(&guard, &Delivery::Event { room: name.clone(), frame }, Some(user));
        true
    }

    /// Tells the room's connections (here) that `user` read up to `seq`:
    /// now, or at the end of the user's `receipt_interval`, when the latest
    /// watermark of a burst is told once (protocol.md §12).
    pub(crate) fn receipt(&self, name: &RoomName, user: UserId, seq: Seq) {
        let Some(room) = self.room(name) else { return };
        let mut guard = lock(&room);
        let interval = self.inner.limits.receipt_interval;
        match guard.receipts.offer(user, seq, Instant::now(), interval) {
            Relay::Now => self.send_receipt(&guard, user, seq),
            Relay::Held => {}
            Relay::At(due) => {
                let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
                let hub = self.clone();
                let name = name.clone();
                runtime.spawn(async move {
                    tokio::time::sleep_until(due).await;
                    if let Some(room) = hub.room(&name) {
                        let mut guard = lock(&room);
                        if let Some(seq) = guard.receipts.flush(user, Instant::now()) {
                            hub.send_receipt(&guard, user, seq);
                        }
                    }
                });
            }
        }
    }

    fn send_receipt(&self, room: &Room, user: UserId, seq: Seq) {
        let frame = ServerFrame::Receipt { room: room.name.clone(), user_id: user, seq }.encode();
        self.fan_out_to(room, &Delivery::Event { room: room.name.clone(), frame }, |_| true);
    }

    /// Marks `member`'s connection away (or back) in the presence of
    /// `rooms`, the rooms it is subscribed to.
    pub(crate) fn set_away<'a>(&self, rooms: impl IntoIterator<Item = &'a RoomName>, member: &Member, away: bool) {
        if member.away.swap(away, std::sync::atomic::Ordering::Relaxed) == away {
            return;
        }
        for name in rooms {
            if let Some(room) = self.room(name) {
                let mut guard = lock(&room);
                if guard.subscribers.iter().any(|s| s.member == member.id) && guard.presence.set_away(member.user, away)
                {
                    self.local_presence_changed(&mut guard);
                }
            }
        }
    }

    /// Shows `member`'s new display name in the presence of `rooms`.
    pub(crate) fn rename<'a>(
        &self,
        rooms: impl IntoIterator<Item = &'a RoomName>,
        member: &Member,
        display: &DisplayName,
    ) {
        for name in rooms {
            if let Some(room) = self.room(name) {
                let mut guard = lock(&room);
                if guard.presence.rename(member.user, display) {
                    self.local_presence_changed(&mut guard);
                }
            }
        }
    }

    /// The users online in a room, on this node and the others, sorted.
    pub(crate) fn presence(&self, name: &RoomName) -> Vec<crate::codec::PresenceUser> {
        // Lock order: the room, then the peers.
        match self.room(name) {
            Some(room) => {
                let room = lock(&room);
                room.presence.users_with(lock(&self.inner.peers).users(name))
            }
            None => Presence::default().users_with(lock(&self.inner.peers).users(name)),
        }
    }

    /// Users online in a room, on this node or (in a cluster) on any other.
    pub(crate) fn online(&self, name: &RoomName) -> usize {
        match self.room(name) {
            Some(room) => {
                let room = lock(&room);
                room.presence.len_with(lock(&self.inner.peers).users(name))
            }
            None => Presence::default().len_with(lock(&self.inner.peers).users(name)),
        }
    }

    /// Counters for metrics.
    pub(crate) fn stats(&self) -> HubStats {
        HubStats {
            rooms: lock(&self.inner.rooms).len(),
            deliveries: self.inner.deliveries.load(Ordering::Relaxed),
            slow_consumers: self.inner.slow_consumers.load(Ordering::Relaxed),
            gap_fills: self.inner.gap_fills.load(Ordering::Relaxed),
            broadcasts: self.inner.broadcasts.load(Ordering::Relaxed),
            fanout_time: std::time::Duration::from_nanos(self.inner.fanout_nanos.load(Ordering::Relaxed)),
        }
    }

    /// Flushes the room's presence now, or schedules the flush for when the
    /// `presence_interval` since the last one has passed; changes meanwhile
    /// are coalesced into that one flush.
    fn presence_changed(&self, room: &mut Room) {
        if room.presence_flush_scheduled {
            return;
        }
        let now = Instant::now();
        let runtime = tokio::runtime::Handle::try_current();
        match (room.presence_due(now, self.inner.limits.presence_interval), runtime) {
            (Some(due), Ok(runtime)) => {
                room.presence_flush_scheduled = true;
                let hub = self.clone();
                let name = room.name.clone();
                runtime.spawn(async move {
                    tokio::time::sleep_until(due).await;
                    if let Some(room) = hub.room(&name) {
                        let mut guard = lock(&room);
                        hub.send_presence(&mut guard);
                    }
                });
            }
            _ => self.send_presence(room),
        }
    }

    /// Like [`Hub::presence_changed`], for a change of this node's users,
    /// which the other nodes of a cluster are told about too.
    fn local_presence_changed(&self, room: &mut Room) {
        self.roster_changed(&room.name);
        self.presence_changed(room);
    }

    /// A presence flush (protocol.md §9): connections that joined since the
    /// last one get the full list (`presence`), the others what changed
    /// since it (`presence_changes`), or nothing if nothing did. Each frame
    /// is encoded once and shared, so a change costs every member the size
    /// of the change, not of the room's list.
    fn send_presence(&self, room: &mut Room) {
        let users = room.presence.users_with(lock(&self.inner.peers).users(&room.name));
        let changes = room.announced.announce(&users);
        if room.subscribers.iter().any(|sub| sub.fresh) {
            let frame = ServerFrame::Presence { room: room.name.clone(), users: users.into() }.encode();
            let delivery = Delivery::Event { room: room.name.clone(), frame };
            self.fan_out_to(room, &delivery, |sub| sub.fresh);
        }
        if !changes.is_empty() {
            let frame = ServerFrame::PresenceChanges {
                room: room.name.clone(),
                joined: changes.joined.into(),
                left: changes.left.into(),
            }
            .encode();
            let delivery = Delivery::Event { room: room.name.clone(), frame };
            self.fan_out_to(room, &delivery, |sub| !sub.fresh);
        }
        for sub in &mut room.subscribers {
            sub.fresh = false;
        }
        room.presence_sent(Instant::now());
    }

    /// The room's full `presence` frame: its users here and on other nodes.
    fn presence_delivery(&self, room: &Room) -> Delivery {
        let users = room.presence.users_with(lock(&self.inner.peers).users(&room.name));
        let frame = ServerFrame::Presence { room: room.name.clone(), users: users.into() }.encode();
        Delivery::Event { room: room.name.clone(), frame }
    }
}
