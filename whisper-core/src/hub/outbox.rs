//! One connection's bounded outbound queue.
//!
//! Publishers push shared frames without waiting; the connection's task drains
//! everything queued in one go and writes it with a single flush. When the
//! queue is full (in frames or in bytes) the connection is a slow consumer: the outbox closes, drops
//! what it held (so memory stays bounded) and the connection is told to close
//! with 1013. A full outbox never blocks the publisher or the room.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::codec::{EncodedFrame, ServerFrame};
use crate::model::{DisplayName, Entry, Event, Message, RoomName, Seq};

/// A frame waiting in an outbox.
#[derive(Clone, Debug)]
pub(crate) enum Delivery {
    /// Log entries of a room (messages, or other events), in seq order,
    /// encoded once for all subscribers.
    Messages(Arc<Broadcast>),
    /// Presence or typing in a room.
    Event {
        /// The room it concerns; dropped if the connection left it meanwhile.
        room: RoomName,
        /// The encoded frame.
        frame: EncodedFrame,
    },
    /// What the application asks of the connection (protocol.md §14).
    Command(Command),
    /// A frame for the connection whatever rooms it joined (a `room` frame).
    Notice(EncodedFrame),
}

/// What the application asks of a user's connections through
/// [`Chat`](crate::Chat): the session acts on it in order with its frames.
#[derive(Clone, Debug)]
pub(crate) enum Command {
    /// Show this name from now on (the stored profile changed).
    Rename(DisplayName),
    /// Leave the room, and tell the client why.
    Leave {
        /// The room.
        room: RoomName,
        /// Why, for people.
        reason: Arc<str>,
    },
}

impl Delivery {
    /// The encoded bytes it holds: what it costs the outbox that queues it,
    /// even when other outboxes share the same bytes.
    pub(crate) fn bytes(&self) -> usize {
        match self {
            Delivery::Messages(broadcast) => broadcast.frame.len(),
            Delivery::Event { frame, .. } => frame.len(),
            Delivery::Command(_) => 0,
            Delivery::Notice(frame) => frame.len(),
        }
    }
}

/// A run of consecutive log entries of one room, all messages or all other
/// events, encoded once as one `messages` or `events` frame.
#[derive(Debug)]
pub(crate) struct Broadcast {
    /// The room.
    pub(crate) room: RoomName,
    /// Consecutive seqs, oldest first, never empty.
    pub(crate) run: Run,
    /// The frame holding them.
    pub(crate) frame: EncodedFrame,
}

/// The entries of a [`Broadcast`].
#[derive(Debug)]
pub(crate) enum Run {
    /// A `messages` frame's.
    Messages(Vec<Message>),
    /// An `events` frame's.
    Events(Vec<Event>),
}

impl Run {
    /// Splits consecutive entries into runs of one kind, in order.
    pub(crate) fn split(entries: Vec<Entry>) -> Vec<Run> {
        let mut runs: Vec<Run> = Vec::new();
        for entry in entries {
            match (runs.last_mut(), entry) {
                (Some(Run::Messages(run)), Entry::Message(m)) => run.push(m),
                (Some(Run::Events(run)), Entry::Event(e)) => run.push(e),
                (_, Entry::Message(m)) => runs.push(Run::Messages(vec![m])),
                (_, Entry::Event(e)) => runs.push(Run::Events(vec![e])),
            }
        }
        runs
    }

    /// How many entries it holds.
    pub(crate) fn len(&self) -> usize {
        match self {
            Run::Messages(m) => m.len(),
            Run::Events(e) => e.len(),
        }
    }

    /// Splits off the entries from `at` on.
    pub(crate) fn split_off(&mut self, at: usize) -> Run {
        match self {
            Run::Messages(m) => Run::Messages(m.split_off(at)),
            Run::Events(e) => Run::Events(e.split_off(at)),
        }
    }

    /// Every entry's seq, in order.
    #[cfg(test)]
    pub(crate) fn each_seq(&self) -> Vec<u64> {
        match self {
            Run::Messages(m) => m.iter().map(|m| m.seq.0).collect(),
            Run::Events(e) => e.iter().map(|e| e.seq.0).collect(),
        }
    }

    fn seqs(&self) -> (Seq, Seq) {
        match self {
            Run::Messages(m) => (m.first().map_or(Seq::ZERO, |m| m.seq), m.last().map_or(Seq::ZERO, |m| m.seq)),
            Run::Events(e) => (e.first().map_or(Seq::ZERO, |e| e.seq), e.last().map_or(Seq::ZERO, |e| e.seq)),
        }
    }

    /// The frame for the entries after `after` (all of them for `Seq::ZERO`).
    pub(crate) fn encode_after(&self, room: &RoomName, after: Seq, recovered: Option<bool>) -> EncodedFrame {
        match self {
            Run::Messages(m) => {
                let start = m.partition_point(|m| m.seq <= after);
                ServerFrame::Messages { room: room.clone(), data: m[start..].into(), recovered }.encode()
            }
            Run::Events(e) => {
                let start = e.partition_point(|e| e.seq <= after);
                ServerFrame::Events { room: room.clone(), data: e[start..].into(), recovered }.encode()
            }
        }
    }
}

impl Broadcast {
    /// Encodes a broadcast of `run` (consecutive, non-empty) in `room`.
    pub(crate) fn new(room: RoomName, run: Run) -> Self {
        let frame = run.encode_after(&room, Seq::ZERO, None);
        Broadcast { room, run, frame }
    }

    /// The first entry's seq.
    pub(crate) fn first_seq(&self) -> Seq {
        self.run.seqs().0
    }

    /// The last entry's seq.
    pub(crate) fn last_seq(&self) -> Seq {
        self.run.seqs().1
    }
}

/// What became of a pushed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued for the connection.
    Queued,
    /// The outbox was full: this push cut the connection off.
    CutOff,
    /// The outbox was already closed.
    Closed,
}

/// Why an outbox stopped taking frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutboxClosed {
    /// It filled up: the connection read too slowly.
    SlowConsumer,
    /// Its connection closed it.
    Closed,
    /// The application disconnected the user (close 4002).
    Disconnected,
    /// The session the connection was opened with was revoked (close 4001).
    Revoked,
}

/// A bounded queue of [`Delivery`]s for one connection.
///
/// A `std::sync::Mutex` rather than a channel: a push is one uncontended lock
/// and a `Vec::push`, and the reader swaps the whole `Vec` out at once. The
/// lock is never held across an await.
#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    capacity: usize,
    max_bytes: usize,
}

/// A drained buffer that grew past this many frames (a burst) is given back
/// to the allocator rather than kept for the life of the connection.
const KEEP_CAPACITY: usize = 64;

#[derive(Debug, Default)]
struct State {
    queue: Vec<Delivery>,
    /// The encoded bytes of what `queue` holds.
    bytes: usize,
    waker: Option<Waker>,
    closed: Option<OutboxClosed>,
}

impl Outbox {
    /// An outbox that holds at most `capacity` frames of at most `max_bytes`
    /// encoded bytes in all (a first frame of any size is taken).
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Outbox { state: Mutex::new(State::default()), capacity: capacity.max(1), max_bytes }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves the queue consistent (every
        // operation is a push, a swap or a flag), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a frame, unless the outbox is closed or full; a full outbox
    /// closes as a slow consumer.
    pub(crate) fn push(&self, delivery: Delivery) -> Pushed {
        let size = delivery.bytes();
        let mut state = self.lock();
        if state.closed.is_some() {
            return Pushed::Closed;
        }
        let over_bytes = !state.queue.is_empty() && state.bytes.saturating_add(size) > self.max_bytes;
        if state.queue.len() >= self.capacity || over_bytes {
            shut(state, OutboxClosed::SlowConsumer);
            return Pushed::CutOff;
        }
        state.queue.push(delivery);
        state.bytes += size;
        // Only the push that makes the queue non-empty needs to wake the reader.
        if state.queue.len() == 1 {
            if let Some(w) = state.waker.take() {
                drop(state);
                w.wake();
            }
        }
        Pushed::Queued
    }

    /// Closes the outbox; later pushes are refused.
    pub(crate) fn close(&self) {
        shut(self.lock(), OutboxClosed::Closed);
    }

    /// Closes the outbox for `why`, so that its connection ends even while
    /// a write to it is blocked (every write races the outbox closing).
    pub(crate) fn close_for(&self, why: OutboxClosed) {
        shut(self.lock(), why);
    }

    /// Whether the outbox is closed, and why.
    #[cfg(test)]
    pub(crate) fn closed(&self) -> Option<OutboxClosed> {
        self.lock().closed
    }

    /// Frames waiting.
    #[cfg(any(test, feature = "test-util"))]
    pub(crate) fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no frame is waiting.
    #[cfg(any(test, feature = "test-util"))]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves every queued frame into `buf` (which should be empty), or
    /// registers to be woken when there is one. Ready with an error once closed.
    pub(crate) fn poll_drain(&self, cx: &mut Context<'_>, buf: &mut Vec<Delivery>) -> Poll<Result<(), OutboxClosed>> {
        let mut state = self.lock();
        if let Some(reason) = state.closed {
            return Poll::Ready(Err(reason));
        }
        if state.queue.is_empty() {
            match &mut state.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        // Swap rather than copy: the reader's emptied buffer becomes the
        // next queue, so steady state allocates nothing. One that a burst
        // made large is shrunk first, so that it does not stay allocated.
        if buf.capacity() > KEEP_CAPACITY {
            buf.shrink_to(KEEP_CAPACITY);
        }
        std::mem::swap(&mut state.queue, buf);
        state.bytes = 0;
        Poll::Ready(Ok(()))
    }

    /// Ready once the outbox is closed. Shares the reader's waker slot: it is
    /// polled while the reader writes, when nobody drains.
    pub(crate) fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<OutboxClosed> {
        let mut state = self.lock();
        match state.closed {
            Some(reason) => Poll::Ready(reason),
            None => {
                match &mut state.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }

    /// Waits until the outbox is closed (a slow consumer was cut off).
    pub(crate) async fn closed_wait(&self) -> OutboxClosed {
        std::future::poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Moves every queued frame into `buf` without waiting. `Ok(false)` when
    /// there was none.
    #[cfg(test)]
    pub(crate) fn try_drain(&self, buf: &mut Vec<Delivery>) -> Result<bool, OutboxClosed> {
        let mut state = self.lock();
        if let Some(reason) = state.closed {
            return Err(reason);
        }
        if state.queue.is_empty() {
            return Ok(false);
        }
        std::mem::swap(&mut state.queue, buf);
        state.bytes = 0;
        Ok(true)
    }

    /// Waits for frames and moves all of them into `buf`. Cancel-safe: frames
    /// are moved only when this completes.
    pub(crate) async fn drain(&self, buf: &mut Vec<Delivery>) -> Result<(), OutboxClosed> {
        std::future::poll_fn(|cx| self.poll_drain(cx, buf)).await
    }
}

/// Closes `state` for `reason` (the first reason stands), frees what it
/// held — taken, not cleared: a closed outbox keeps no capacity either — and
/// wakes the reader, outside the lock.
fn shut(mut state: MutexGuard<'_, State>, reason: OutboxClosed) {
    state.closed.get_or_insert(reason);
    state.bytes = 0;
    let dropped = std::mem::take(&mut state.queue);
    let waker = state.waker.take();
    drop(state);
    drop(dropped);
    if let Some(w) = waker {
        w.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u8) -> Delivery {
        Delivery::Event {
            room: RoomName::lobby(),
            frame: ServerFrame::Error(crate::codec::Refusal::new(crate::codec::ErrorCode::Internal, n.to_string()))
                .encode(),
        }
    }

    #[tokio::test]
    async fn drains_everything_in_order() {
        let outbox = Outbox::new(8, usize::MAX);
        for n in 0..5 {
            assert_eq!(outbox.push(event(n)), Pushed::Queued);
        }
        let mut buf = Vec::new();
        outbox.drain(&mut buf).await.unwrap();
        assert_eq!(buf.len(), 5);
        let texts: Vec<String> = buf
            .iter()
            .map(|d| match d {
                Delivery::Event { frame, .. } => frame.to_text().to_string(),
                Delivery::Messages(_) | Delivery::Command(_) | Delivery::Notice(_) => unreachable!(),
            })
            .collect();
        for (n, t) in texts.iter().enumerate() {
            assert!(t.contains(&format!("\"message\":\"{n}\"")), "{t}");
        }
        assert!(outbox.is_empty());
    }

    #[tokio::test]
    async fn full_outbox_closes_as_slow_consumer_and_frees_its_frames() {
        let outbox = Outbox::new(3, usize::MAX);
        for n in 0..3 {
            assert_eq!(outbox.push(event(n)), Pushed::Queued);
        }
        assert_eq!(outbox.push(event(3)), Pushed::CutOff, "the fourth push overflows");
        assert_eq!(outbox.closed(), Some(OutboxClosed::SlowConsumer));
        assert_eq!(outbox.len(), 0, "a cut-off outbox holds nothing");
        assert_eq!(outbox.push(event(4)), Pushed::Closed);
        let mut buf = Vec::new();
        assert_eq!(outbox.drain(&mut buf).await, Err(OutboxClosed::SlowConsumer));
    }

    #[tokio::test]
    async fn the_byte_bound_cuts_off_before_the_frame_bound() {
        let size = event(0).bytes();
        let outbox = Outbox::new(100, size * 3);
        for n in 0..3 {
            assert_eq!(outbox.push(event(n)), Pushed::Queued);
        }
        assert_eq!(outbox.push(event(3)), Pushed::CutOff, "a fourth frame's bytes overflow");
        assert_eq!(outbox.closed(), Some(OutboxClosed::SlowConsumer));
        assert_eq!(outbox.len(), 0);
        // A drain gives the bytes back; a first frame of any size is taken.
        let outbox = Outbox::new(100, 1);
        assert_eq!(outbox.push(event(0)), Pushed::Queued, "a frame into an empty queue always fits");
        let mut buf = Vec::new();
        outbox.drain(&mut buf).await.unwrap();
        buf.clear();
        assert_eq!(outbox.push(event(1)), Pushed::Queued, "the drain emptied the byte count");
        assert_eq!(outbox.push(event(2)), Pushed::CutOff);
    }

    #[tokio::test]
    async fn a_push_wakes_a_waiting_reader() {
        let outbox = Arc::new(Outbox::new(4, usize::MAX));
        let reader = {
            let outbox = outbox.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                outbox.drain(&mut buf).await.map(|()| buf.len())
            })
        };
        tokio::task::yield_now().await;
        outbox.push(event(1));
        assert_eq!(reader.await.unwrap(), Ok(1));
    }
}
