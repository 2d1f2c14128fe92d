//! A history checker for tests and load runs, in the style of Jepsen's
//! total-queue checker: record what every client sent and what came of it,
//! and what every subscriber received; at the end, hand it the stored
//! history of every room and it says what went wrong.
//!
//! Messages and the other events of the log (edits, deletes, reactions,
//! protocol.md §13) are judged alike: each is sent with a `client_id`, acked,
//! stored at a seq of its room and delivered; a client's ids must be unique
//! across both (the checker keys them together).
//!
//! - **lost**: acked (on any attempt), but not in the stored history;
//! - **unexpected**: stored, but never sent (or stored without a `client_id`);
//! - **duplicated**: a `(user, client_id)` stored twice, or a seq delivered
//!   twice to one subscriber;
//! - **out of order**: a subscriber received a room's seqs not increasing;
//! - **gaps**: a seq a subscriber should have received (after the head of its
//!   first `join`, up to the room's last stored seq) and never did, recovery
//!   included; also a hole in a room's stored seqs.
//!
//! A run passes only with none of these. Messages sent without an answer
//! (the connection died first) are *timed out*: they may or may not be
//! stored, and neither is an error.
//!
//! ```
//! use whisper_core::testing::history::HistoryChecker;
//! use whisper_core::model::{RoomName, Seq, UserId};
//!
//! let mut history = HistoryChecker::default();
//! let (room, ada) = (RoomName::lobby(), UserId::random());
//! let bob = history.subscriber();
//! history.joined(bob, &room, Seq(0));
//! history.sent(ada, &room, "a-1");
//! // ... the store acked it, but nothing was stored and bob saw nothing:
//! history.acked(ada, "a-1");
//! let report = history.check(&[]);
//! assert_eq!(report.lost, 1);
//! assert!(!report.passed());
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::{ClientId, Entry, Event, Message, RoomName, Seq, UserId};

/// What a client knows about one message it sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// No answer yet (at the end: timed out).
    Pending,
    /// Stored: a `success` ack on some attempt.
    Acked,
    /// Refused on every attempt so far.
    Refused,
}

#[derive(Debug)]
struct Sent {
    room: RoomName,
    attempts: u32,
    outcome: SendOutcome,
}

/// One subscriber's view of one room.
#[derive(Debug, Default)]
struct Stream {
    /// The head its first `join` reported: it owes every seq after it.
    start: Option<Seq>,
    highest: Seq,
    seen: HashSet<Seq>,
    duplicates: u64,
    out_of_order: u64,
}

/// One stored log entry, as the checker sees it.
struct Stored<'a> {
    room: &'a RoomName,
    seq: Seq,
    user: UserId,
    client_id: Option<&'a ClientId>,
}

/// A subscriber's handle in the checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriberId(usize);

/// Everything sent and received in a run.
#[derive(Debug, Default)]
pub struct HistoryChecker {
    sends: HashMap<(UserId, String), Sent>,
    subscribers: Vec<HashMap<RoomName, Stream>>,
}

/// What [`HistoryChecker::check`] found. Serializable, and reports of runs
/// over disjoint rooms add up with [`CheckReport::merge`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Distinct messages sent (by `user` and `client_id`).
    pub sent: u64,
    /// Send attempts, resends included.
    pub attempts: u64,
    /// Messages acked.
    pub acked: u64,
    /// Messages refused on every attempt.
    pub refused: u64,
    /// Messages without an answer.
    pub timed_out: u64,
    /// Log entries in the stored history: messages and events.
    pub stored: u64,
    /// Of those, events (edits, deletes, reactions).
    #[serde(default)]
    pub stored_events: u64,
    /// Acked and not stored.
    pub lost: u64,
    /// Stored and never sent.
    pub unexpected: u64,
    /// Stored twice, or delivered twice to one subscriber.
    pub duplicated: u64,
    /// Delivered to a subscriber after a higher seq of the same room.
    pub out_of_order: u64,
    /// Seqs a subscriber never received, and holes in a room's seqs.
    pub gaps: u64,
    /// The first few problems, for a person to read.
    pub problems: Vec<String>,
}

impl CheckReport {
    /// Nothing lost, unexpected, duplicated, out of order or missing.
    pub fn passed(&self) -> bool {
        self.lost == 0 && self.unexpected == 0 && self.duplicated == 0 && self.out_of_order == 0 && self.gaps == 0
    }

    /// Adds another run's report (over other rooms) to this one.
    pub fn merge(&mut self, other: &CheckReport) {
        self.sent += other.sent;
        self.attempts += other.attempts;
        self.acked += other.acked;
        self.refused += other.refused;
        self.timed_out += other.timed_out;
        self.stored += other.stored;
        self.stored_events += other.stored_events;
        self.lost += other.lost;
        self.unexpected += other.unexpected;
        self.duplicated += other.duplicated;
        self.out_of_order += other.out_of_order;
        self.gaps += other.gaps;
        for p in &other.problems {
            self.problem(|| p.clone());
        }
    }

    fn problem(&mut self, what: impl FnOnce() -> String) {
        if self.problems.len() < 20 {
            self.problems.push(what());
        }
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sent ({} attempts): {} acked, {} refused, {} timed out; {} stored ({} events); \
             lost {}, unexpected {}, duplicated {}, out of order {}, gaps {}",
            self.sent,
            self.attempts,
            self.acked,
            self.refused,
            self.timed_out,
            self.stored,
            self.stored_events,
            self.lost,
            self.unexpected,
            self.duplicated,
            self.out_of_order,
            self.gaps
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl HistoryChecker {
    /// A client sent (or resent) `client_id` to `room`.
    pub fn sent(&mut self, user: UserId, room: &RoomName, client_id: &str) {
        let sent = self.sends.entry((user, client_id.to_owned())).or_insert_with(|| Sent {
            room: room.clone(),
            attempts: 0,
            outcome: SendOutcome::Pending,
        });
        sent.attempts += 1;
    }

    /// The server acked it: it is stored, whatever happens next.
    pub fn acked(&mut self, user: UserId, client_id: &str) {
        if let Some(sent) = self.sends.get_mut(&(user, client_id.to_owned())) {
            sent.outcome = SendOutcome::Acked;
        }
    }

    /// The server refused it (an ack with `error`).
    pub fn refused(&mut self, user: UserId, client_id: &str) {
        if let Some(sent) = self.sends.get_mut(&(user, client_id.to_owned())) {
            if sent.outcome == SendOutcome::Pending {
                sent.outcome = SendOutcome::Refused;
            }
        }
    }

    /// Messages acked so far (cheap: for watching a run's progress).
    pub fn acked_so_far(&self) -> u64 {
        self.sends.values().filter(|s| s.outcome == SendOutcome::Acked).count() as u64
    }

    /// The messages sent and not (yet) acked or refused, by (user, client id).
    pub fn pending(&self) -> Vec<(UserId, String)> {
        self.sends.iter().filter(|(_, s)| s.outcome == SendOutcome::Pending).map(|(k, _)| k.clone()).collect()
    }

    /// How many times a message was sent, resends included (0: never).
    pub fn attempts(&self, user: UserId, client_id: &str) -> u32 {
        self.sends.get(&(user, client_id.to_owned())).map_or(0, |s| s.attempts)
    }

    /// What is known of a message.
    pub fn outcome(&self, user: UserId, client_id: &str) -> Option<SendOutcome> {
        self.sends.get(&(user, client_id.to_owned())).map(|s| s.outcome)
    }

    /// A new subscriber.
    pub fn subscriber(&mut self) -> SubscriberId {
        self.subscribers.push(HashMap::new());
        SubscriberId(self.subscribers.len() - 1)
    }

    /// The subscriber got `joined` with this head. The first one fixes where
    /// its stream starts; later ones (recovery) do not move it.
    pub fn joined(&mut self, sub: SubscriberId, room: &RoomName, head: Seq) {
        let stream = self.subscribers[sub.0].entry(room.clone()).or_default();
        if stream.start.is_none() {
            stream.start = Some(head);
            stream.highest = head;
        }
    }

    /// The subscriber received a message, live or replayed.
    pub fn delivered(&mut self, sub: SubscriberId, message: &Message) {
        self.delivered_at(sub, &message.room, message.seq);
    }

    /// The subscriber received an event (an `events` frame), live or replayed.
    pub fn delivered_event(&mut self, sub: SubscriberId, event: &Event) {
        self.delivered_at(sub, &event.room, event.seq);
    }

    fn delivered_at(&mut self, sub: SubscriberId, room: &RoomName, seq: Seq) {
        let stream = self.subscribers[sub.0].entry(room.clone()).or_default();
        if !stream.seen.insert(seq) {
            stream.duplicates += 1;
        } else if seq < stream.highest {
            stream.out_of_order += 1;
        }
        stream.highest = stream.highest.max(seq);
    }

    /// Judges the run against the stored messages of every room it used
    /// (all of them, oldest first): for runs that send messages only. Call
    /// it once every subscriber has caught up.
    pub fn check(&self, stored: &[Message]) -> CheckReport {
        let entries: Vec<Stored<'_>> = stored
            .iter()
            .map(|m| Stored { room: &m.room, seq: m.seq, user: m.user_id, client_id: m.client_id.as_ref() })
            .collect();
        self.judge(&entries, 0)
    }

    /// Judges the run against the stored log of every room it used (all of
    /// it, oldest first: `GET /v1/chat/events`), messages and events alike.
    pub fn check_log(&self, log: &[Entry]) -> CheckReport {
        let mut events = 0;
        let entries: Vec<Stored<'_>> = log
            .iter()
            .map(|entry| match entry {
                Entry::Message(m) => {
                    Stored { room: &m.room, seq: m.seq, user: m.user_id, client_id: m.client_id.as_ref() }
                }
                Entry::Event(e) => {
                    events += 1;
                    Stored { room: &e.room, seq: e.seq, user: e.user_id, client_id: e.client_id.as_ref() }
                }
            })
            .collect();
        self.judge(&entries, events)
    }

    fn judge(&self, stored: &[Stored<'_>], events: u64) -> CheckReport {
        let mut report = CheckReport {
            sent: self.sends.len() as u64,
            attempts: self.sends.values().map(|s| u64::from(s.attempts)).sum(),
            stored: stored.len() as u64,
            stored_events: events,
            ..CheckReport::default()
        };
        for sent in self.sends.values() {
            match sent.outcome {
                SendOutcome::Acked => report.acked += 1,
                SendOutcome::Refused => report.refused += 1,
                SendOutcome::Pending => report.timed_out += 1,
            }
        }

        // The store: every message sent, once, and seqs without holes.
        let mut stored_keys: HashMap<(UserId, &str), u64> = HashMap::new();
        let mut heads: BTreeMap<&RoomName, Vec<Seq>> = BTreeMap::new();
        for m in stored {
            heads.entry(m.room).or_default().push(m.seq);
            let Some(client_id) = m.client_id else {
                report.unexpected += 1;
                report.problem(|| format!("{} seq {} stored without a client_id", m.room, m.seq.0));
                continue;
            };
            let key = (m.user, client_id.as_str());
            *stored_keys.entry(key).or_default() += 1;
            if !self.sends.contains_key(&(m.user, client_id.as_str().to_owned())) {
                report.unexpected += 1;
                report.problem(|| format!("{} seq {}: {client_id} was never sent", m.room, m.seq.0));
            }
        }
        for ((user, client_id), n) in &stored_keys {
            if *n > 1 {
                report.duplicated += n - 1;
                report.problem(|| format!("{client_id} of {user} stored {n} times"));
            }
        }
        for ((user, client_id), sent) in &self.sends {
            if sent.outcome == SendOutcome::Acked && !stored_keys.contains_key(&(*user, client_id.as_str())) {
                report.lost += 1;
                report.problem(|| format!("{client_id} of {user} in {} acked but not stored", sent.room));
            }
        }
        let mut final_head: HashMap<&RoomName, Seq> = HashMap::new();
        for (room, mut seqs) in heads {
            seqs.sort_unstable();
            let last = seqs.last().copied().unwrap_or(Seq::ZERO);
            let first = seqs.first().copied().unwrap_or(Seq::ZERO);
            let distinct = seqs.windows(2).filter(|w| w[0] != w[1]).count() as u64 + 1;
            let holes = (last.0 - first.0 + 1).saturating_sub(distinct);
            if holes > 0 {
                report.gaps += holes;
                report.problem(|| format!("{room}: {holes} seqs missing from the stored history"));
            }
            final_head.insert(room, last);
        }

        // Every subscriber: each seq after its start, once, in order.
        for (i, rooms) in self.subscribers.iter().enumerate() {
            for (room, stream) in rooms {
                report.duplicated += stream.duplicates;
                report.out_of_order += stream.out_of_order;
                if stream.duplicates > 0 || stream.out_of_order > 0 {
                    report.problem(|| {
                        format!(
                            "subscriber {i} in {room}: {} duplicated, {} out of order",
                            stream.duplicates, stream.out_of_order
                        )
                    });
                }
                let Some(start) = stream.start else { continue };
                let head = final_head.get(room).copied().unwrap_or(Seq::ZERO);
                let missing = (start.0 + 1..=head.0).filter(|s| !stream.seen.contains(&Seq(*s))).count() as u64;
                if missing > 0 {
                    report.gaps += missing;
                    report.problem(|| {
                        format!(
                            "subscriber {i} in {room}: {missing} of seqs {}..={} never arrived",
                            start.0 + 1,
                            head.0
                        )
                    });
                }
            }
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientId, DisplayName, MessageId};

    fn stored(room: &RoomName, seq: u64, user: UserId, client_id: &str) -> Message {
        Message {
            principal: crate::model::PrincipalKind::Guest,
            external_id: None,
            id: MessageId::generate(),
            room: room.clone(),
            seq: Seq(seq),
            user_id: user,
            name: DisplayName::guest(user),
            content: "x".into(),
            client_id: Some(ClientId::parse(client_id).unwrap()),
            created_at: crate::model::now_millis(),
            reply_to: None,
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            attachments: Vec::new(),
        }
    }

    #[test]
    fn a_clean_run_passes() {
        let (room, ada) = (RoomName::lobby(), UserId::random());
        let mut h = HistoryChecker::default();
        let bob = h.subscriber();
        h.joined(bob, &room, Seq(0));
        let mut history = Vec::new();
        for i in 1..=3 {
            let id = format!("a-{i}");
            h.sent(ada, &room, &id);
            h.acked(ada, &id);
            history.push(stored(&room, i, ada, &id));
        }
        // A resend after a reconnect, and one that never got an answer (not stored).
        h.sent(ada, &room, "a-3");
        h.sent(ada, &room, "a-4");
        for m in &history {
            h.delivered(bob, m);
        }
        // Bob reconnects and recovers from seq 3: joined again, nothing new.
        h.joined(bob, &room, Seq(3));
        let report = h.check(&history);
        assert!(report.passed(), "{report}");
        assert_eq!((report.sent, report.attempts, report.acked, report.timed_out), (4, 5, 3, 1));
    }

    #[test]
    fn every_kind_of_fault_is_counted() {
        let (room, ada) = (RoomName::lobby(), UserId::random());
        let mut h = HistoryChecker::default();
        let bob = h.subscriber();
        h.joined(bob, &room, Seq(0));
        for id in ["a-1", "a-2", "a-3"] {
            h.sent(ada, &room, id);
            h.acked(ada, id);
        }
        // a-2 is lost, a-1 stored twice, x-9 never sent, seq 4 is missing.
        let history = vec![
            stored(&room, 1, ada, "a-1"),
            stored(&room, 2, ada, "a-1"),
            stored(&room, 3, ada, "a-3"),
            stored(&room, 5, ada, "x-9"),
        ];
        h.delivered(bob, &history[1]);
        h.delivered(bob, &history[0]); // out of order
        h.delivered(bob, &history[0]); // twice
        let report = h.check(&history);
        assert!(!report.passed());
        assert_eq!(report.lost, 1, "{report}");
        assert_eq!(report.unexpected, 1, "{report}");
        assert_eq!(report.duplicated, 2, "stored twice, and delivered twice: {report}");
        assert_eq!(report.out_of_order, 1, "{report}");
        // Seq 4 is a hole in the store; bob never got 3, 4 or 5.
        assert_eq!(report.gaps, 1 + 3, "{report}");
    }

    #[test]
    fn events_are_judged_with_messages_in_one_seq_space() {
        use crate::model::{Emoji, NewEvent, Request};
        let (room, ada) = (RoomName::lobby(), UserId::random());
        let mut h = HistoryChecker::default();
        let bob = h.subscriber();
        h.joined(bob, &room, Seq(0));
        for id in ["a-1", "a-2", "a-3"] {
            h.sent(ada, &room, id);
            h.acked(ada, id);
        }
        let message = stored(&room, 1, ada, "a-1");
        let react = |seq: u64, client_id: &str| {
            let request = Request::React { emoji: Emoji::parse("👍").unwrap(), on: seq % 2 == 0 };
            let event = NewEvent::now(
                room.clone(),
                Some(message.id),
                ada,
                DisplayName::guest(ada),
                request,
                Some(ClientId::parse(client_id).unwrap()),
            );
            event.stored_at(Seq(seq), 1)
        };
        let log = vec![Entry::Message(message.clone()), Entry::Event(react(2, "a-2")), Entry::Event(react(3, "a-3"))];
        h.delivered(bob, &message);
        h.delivered_event(bob, &react(3, "a-3"));
        let report = h.check_log(&log);
        assert_eq!((report.stored, report.stored_events), (3, 2), "{report}");
        assert_eq!(report.gaps, 1, "bob never got the event at seq 2: {report}");
        h.delivered_event(bob, &react(2, "a-2"));
        let report = h.check_log(&log);
        assert_eq!((report.gaps, report.out_of_order), (0, 1), "seq 2 came after 3: {report}");
        // An acked event missing from the log is lost, like a message.
        assert_eq!(h.check_log(&log[..2]).lost, 1);
    }
}
