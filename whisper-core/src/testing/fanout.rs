//! One room of a bare hub and its subscribers, for the fan-out benchmark
//! (`benches/benches/fanout.rs`): the hub is internal to this crate, so the
//! benchmark drives it through this fixture, which adds nothing to the path
//! it measures ([`FanoutRoom::deliver`] is the hub's `deliver`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::sync::Notify;

use crate::chat::HubStats;
use crate::hub::{Delivery, Hub, Member};
use crate::limits::Limits;
use crate::model::{DisplayName, Message, RoomName, Seq, UserId};
use crate::store::MemoryStore;

/// A hub on a [`MemoryStore`] with `lobby` joined by some subscribers, each
/// with its own outbox. Call within a tokio runtime: the hub spawns timers
/// (presence flush, gap fill).
#[derive(Debug)]
pub struct FanoutRoom {
    hub: Hub,
    room: RoomName,
    members: Vec<Member>,
    head: Seq,
    /// Reused by every drain; its capacity circulates among the outboxes.
    buf: Vec<Delivery>,
}

impl FanoutRoom {
    /// `subscribers` members join `lobby`; returns once what the joins set
    /// off (the coalesced presence flush, the join-time gap fill) has run,
    /// so nothing the hub spawned is left to run mid-measurement, and the
    /// presence frames of the joins are drained.
    pub async fn new(subscribers: usize, limits: Limits) -> FanoutRoom {
        let wait = limits.presence_interval + limits.gap_grace + Duration::from_millis(50);
        let hub = Hub::new(Arc::new(MemoryStore::new()), Arc::new(limits));
        let room = RoomName::lobby();
        let members: Vec<Member> = (0..subscribers).map(|_| hub.member(UserId::random())).collect();
        let mut head = Seq::ZERO;
        for m in &members {
            let name = DisplayName::guest(m.user());
            head = hub.subscribe(&room, m, &name).await.expect("a memory store answers").seq;
        }
        tokio::time::sleep(wait).await;
        let mut room = FanoutRoom { hub, room, members, head, buf: Vec::new() };
        room.drain(None);
        room
    }

    /// The room (`lobby`).
    pub fn room(&self) -> &RoomName {
        &self.room
    }

    /// How many subscribers the room has (before [`spawn_readers`](Self::spawn_readers)).
    pub fn subscribers(&self) -> usize {
        self.members.len()
    }

    /// The room's last seq when the subscribers joined: publish from the
    /// next one.
    pub fn head(&self) -> Seq {
        self.head
    }

    /// Broadcasts stored messages to the subscribers: the hub's fan-out.
    #[inline]
    pub fn deliver(&self, messages: &[Message]) {
        self.hub.deliver(messages);
    }

    /// Empties every outbox without waiting; with `expect`, checks that each
    /// held that many frames.
    pub fn drain(&mut self, expect: Option<usize>) {
        let mut cx = Context::from_waker(Waker::noop());
        for m in &self.members {
            if m.outbox().is_empty() && expect.is_none() {
                continue;
            }
            match m.outbox().poll_drain(&mut cx, &mut self.buf) {
                Poll::Ready(Ok(())) => {}
                other => panic!("outbox not ready: {other:?}"),
            }
            if let Some(n) = expect {
                assert_eq!(self.buf.len(), n, "every subscriber gets every message");
            }
            self.buf.clear();
        }
    }

    /// The hub's counters.
    pub fn stats(&self) -> HubStats {
        self.hub.stats()
    }

    /// Hands every subscriber to a task parked on its outbox, as each
    /// connection is in the server, counting the messages it drains.
    pub fn spawn_readers(&mut self) -> Readers {
        let readers = Readers::default();
        for member in std::mem::take(&mut self.members) {
            let (received, wanted, all_in) = (readers.received.clone(), readers.wanted.clone(), readers.all_in.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while member.outbox().drain(&mut buf).await.is_ok() {
                    let k: u64 = buf
                        .drain(..)
                        .map(|d| match d {
                            Delivery::Messages(b) => b.run.len() as u64,
                            Delivery::Event { .. } | Delivery::Command(_) | Delivery::Notice(_) => 0,
                        })
                        .sum();
                    if k > 0 && received.fetch_add(k, Ordering::AcqRel) + k >= wanted.load(Ordering::Acquire) {
                        all_in.notify_one();
                    }
                }
            });
        }
        readers
    }
}

/// The subscribers' tasks of [`FanoutRoom::spawn_readers`].
#[derive(Debug)]
pub struct Readers {
    received: Arc<AtomicU64>,
    wanted: Arc<AtomicU64>,
    all_in: Arc<Notify>,
}

impl Default for Readers {
    fn default() -> Self {
        Readers { received: Arc::default(), wanted: Arc::new(AtomicU64::new(u64::MAX)), all_in: Arc::default() }
    }
}

impl Readers {
    /// Messages drained by all readers so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Acquire)
    }

    /// Says that the readers will have drained `target` messages in all once
    /// the next broadcast is in; call before delivering it.
    pub fn expect(&self, target: u64) {
        self.wanted.store(target, Ordering::Release);
    }

    /// Waits until the readers have drained the [`expect`](Self::expect)ed
    /// number of messages.
    pub async fn all_in(&self) {
        let target = self.wanted.load(Ordering::Acquire);
        while self.received.load(Ordering::Acquire) < target {
            self.all_in.notified().await;
        }
    }
}
