//! One room's live state in the hub: its subscribers, the sequencer that
//! keeps broadcasts in seq order, presence and typing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::time::{Duration, Instant};

use super::outbox::{Delivery, Outbox, Pushed};
use super::presence::{Announced, Presence};
use super::receipts::Receipts;
use crate::model::{Entry, Epoch, RoomName, Seq, UserId};

/// A connection subscribed to the room.
#[derive(Debug)]
pub(crate) struct Subscriber {
    pub(crate) member: u64,
    pub(crate) user: UserId,
    pub(crate) outbox: Arc<Outbox>,
    /// Joined since the last presence flush: it gets the full list at the
    /// next one, the others only the changes.
    pub(crate) fresh: bool,
}

#[derive(Debug)]
pub(crate) struct Room {
    pub(crate) name: RoomName,
    pub(crate) epoch: Epoch,
    /// The highest seq broadcast: every subscriber has been sent every
    /// message up to it (or had joined later and replays from the store).
    delivered: Seq,
    /// Log entries that arrived ahead of a missing seq, waiting for it.
    pending: BTreeMap<Seq, Entry>,
    /// Stored messages waiting to be broadcast together with those of other
    /// publishers (see `Hub::deliver_together`).
    pub(crate) staged: Vec<Entry>,
    /// Whether a task will look for missing seqs in the store.
    pub(crate) gap_fill_armed: bool,
    pub(crate) subscribers: Vec<Subscriber>,
    pub(crate) presence: Presence,
    /// The list as the room's connections were last told it.
    pub(crate) announced: Announced,
    typing_relayed_at: HashMap<UserId, Instant>,
    /// Read receipts told, and held back, per user.
    pub(crate) receipts: Receipts,
    presence_sent_at: Option<Instant>,
    pub(crate) presence_flush_scheduled: bool,
}

/// What the sequencer made of newly published log entries.
pub(crate) struct Sequenced {
    /// Consecutive entries now ready to broadcast, oldest first.
    pub(crate) ready: Vec<Entry>,
    /// Whether some seq is still missing.
    pub(crate) gap: bool,
}

impl Room {
    pub(crate) fn new(name: RoomName, head: Seq, epoch: Epoch) -> Self {
        Room {
            name,
            epoch,
            delivered: head,
            pending: BTreeMap::new(),
            staged: Vec::new(),
            gap_fill_armed: false,
            subscribers: Vec::new(),
            presence: Presence::default(),
            announced: Announced::default(),
            typing_relayed_at: HashMap::new(),
            receipts: Receipts::default(),
            presence_sent_at: None,
            presence_flush_scheduled: false,
        }
    }

    pub(crate) fn delivered(&self) -> Seq {
        self.delivered
    }

    /// Whether entries wait for a missing seq.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Puts log entries (messages and events share the room's seqs) in seq
    /// order: those that continue the broadcast are ready; those beyond a
    /// missing seq wait; those already broadcast (a resend, or an entry
    /// delivered by both its publisher and a gap fill) are dropped.
    pub(crate) fn sequence<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) -> Sequenced {
        let entries = entries.into_iter();
        if self.pending.is_empty() {
            // The common case: the entries continue the broadcast exactly.
            let mut ready = Vec::new();
            let mut rest = Vec::new();
            for e in entries {
                let seq = e.seq();
                if seq == self.delivered.next() && rest.is_empty() {
                    self.delivered = seq;
                    ready.push(e.clone());
                } else if seq > self.delivered {
                    rest.push(e);
                }
            }
            if rest.is_empty() {
                return Sequenced { ready, gap: false };
            }
            let mut more = self.sequence_slow(rest);
            ready.append(&mut more.ready);
            return Sequenced { ready, gap: more.gap };
        }
        self.sequence_slow(entries)
    }

    fn sequence_slow<'a>(&mut self, entries: impl IntoIterator<Item = &'a Entry>) -> Sequenced {
        for e in entries {
            if e.seq() > self.delivered {
                self.pending.entry(e.seq()).or_insert_with(|| e.clone());
            }
        }
        let mut ready = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() != self.delivered.next() {
                break;
            }
            self.delivered = self.delivered.next();
            ready.push(entry.remove());
        }
        Sequenced { ready, gap: !self.pending.is_empty() }
    }

    /// Pushes a delivery to the subscribers `to` picks. Returns how many took
    /// it and how many were cut off as slow consumers now.
    pub(crate) fn fan_out_to(&self, delivery: &Delivery, to: impl Fn(&Subscriber) -> bool) -> (u64, u64) {
        let (mut sent, mut cut) = (0, 0);
        for sub in &self.subscribers {
            if !to(sub) {
                continue;
            }
            match sub.outbox.push(delivery.clone()) {
                Pushed::Queued => sent += 1,
                Pushed::CutOff => cut += 1,
                Pushed::Closed => {}
            }
        }
        (sent, cut)
    }

    /// Whether a typing notice from `user` may be relayed now (at most one
    /// per `interval`), recording it if so.
    pub(crate) fn allow_typing(&mut self, user: UserId, now: Instant, interval: Duration) -> bool {
        match self.typing_relayed_at.get(&user) {
            Some(at) if now.duration_since(*at) < interval => false,
            _ => {
                self.typing_relayed_at.insert(user, now);
                true
            }
        }
    }

    /// Forgets typing state of a user who left the room.
    pub(crate) fn forget_typing(&mut self, user: UserId) {
        self.typing_relayed_at.remove(&user);
    }

    /// When the next presence frame may be sent: now (`None`) or later.
    pub(crate) fn presence_due(&self, now: Instant, interval: Duration) -> Option<Instant> {
        match self.presence_sent_at {
            Some(at) if now.duration_since(at) < interval => Some(at + interval),
            _ => None,
        }
    }

    pub(crate) fn presence_sent(&mut self, now: Instant) {
        self.presence_sent_at = Some(now);
        self.presence_flush_scheduled = false;
    }
}
