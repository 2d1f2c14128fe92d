//! Where messages live: the [`Store`] trait every backend implements, the
//! in-memory [`MemoryStore`], and (feature `test-util`) the conformance suite
//! every store must pass.

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
mod memory;
mod timeline;

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use memory::{MemoryStore, highest_reads};
pub use timeline::{NotStored, RoomTimeline};

use crate::model::{Entry, Epoch, Event, Message, MessageId, NewEvent, NewMessage, RoomName, Seq, UserId};

/// The most messages one read returns (protocol.md §11: `limit` max 500).
pub const MAX_PAGE: usize = 500;
/// The page size when a reader names none.
pub const DEFAULT_PAGE: usize = 50;
/// The most rooms one [`Store::rooms_page`] returns (protocol.md §11:
/// `GET /v1/rooms` `limit` max 500).
pub const MAX_ROOMS_PAGE: usize = 500;
/// The rooms page size when a reader names none.
pub const DEFAULT_ROOMS_PAGE: usize = 100;

/// A store of rooms' logs: append-only per room, ordered by a gap-free
/// `seq` that messages and the other events (protocol.md §13) share.
///
/// Object-safe, so the server holds an `Arc<dyn Store>` and picks the backend
/// at start-up. Backends map their driver's errors into [`StoreError`]; no
/// driver error type crosses this trait.
#[async_trait]
pub trait Store: Debug + Send + Sync + 'static {
    /// Stores a batch atomically: all of it or none of it.
    ///
    /// Assigns each new message the next `seq` of its room, in commit order.
    /// A message whose `(user_id, client_id)` is already stored is not stored
    /// again: the original is returned in its place, so a resend gets the same
    /// id and seq. Returns one message per input, in input order.
    ///
    /// `created_at` is kept to whole milliseconds, truncated: what `append`
    /// returns is exactly what [`read`](Store::read) returns later.
    ///
    /// # Cancellation
    ///
    /// An append whose caller stopped waiting (the future was dropped) before
    /// the store began writing it is skipped: nothing of it is stored. Once
    /// writing has begun it completes all or nothing, whether or not anyone
    /// still waits. So nothing is ever half stored, and a resend with the
    /// same client ids is always safe: it stores what was not, and returns
    /// the originals of what was.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the backend cannot be reached, and
    /// also when the store's writer is gone (its thread or task ended, its
    /// pool closed); [`StoreError::Internal`] for anything else.
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError>;

    /// Reads a page of a room's history, oldest first: messages only, each
    /// in its current state (edited text, tombstone, reactions). The range's
    /// seqs are the log's, so a page of `limit` messages may span more seqs.
    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError>;

    /// Stores an event (an edit, delete or reaction) at its room's next
    /// seq, checked against its target in the same transaction:
    ///
    /// - a resend (`(user_id, client_id)` of a stored event) returns the
    ///   original, whatever became of the target since;
    /// - a target that is not a message of the room, or is deleted, is
    ///   [`EventRefusal::NotFound`];
    /// - an edit or delete by anyone but the target's author is
    ///   [`EventRefusal::NotAuthor`];
    /// - a reaction that is already so (on twice, off when not on) is
    ///   [`Applied::Unchanged`].
    ///
    /// Nothing is stored unless the answer is [`Applied::Stored`]. A stored
    /// edit changes the message's current text and `edited_at`; a delete
    /// erases its text, its edits' text and its reactions, keeping a
    /// tombstone; a reaction's event carries the count after it.
    ///
    /// # Cancellation and errors
    ///
    /// As [`append`](Store::append).
    async fn apply(&self, event: NewEvent) -> Result<Applied, StoreError>;

    /// A message of `room` by id, in its current state (`None`: no such
    /// message in that room). Replies are checked with it.
    async fn message(&self, room: &RoomName, id: MessageId) -> Result<Option<Message>, StoreError>;

    /// The room's log after `after`, oldest first: at most `limit` (clamped
    /// to `1..=MAX_PAGE`) entries with consecutive seqs, messages as posted
    /// (a deleted one as its tombstone) and every other event. This is what
    /// recovery replays and `GET /v1/chat/events` serves: applied in order,
    /// it rebuilds every message's current state.
    async fn log(&self, room: &RoomName, after: Seq, limit: usize) -> Result<LogPage, StoreError>;

    /// A room's head: latest seq and epoch (`Seq::ZERO` and `Epoch(0)` for a
    /// room with no messages).
    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError>;

    /// A page of the rooms that have messages, by name: the first `limit`
    /// (clamped to `1..=MAX_ROOMS_PAGE`) whose name sorts after `after`
    /// (byte order, as [`RoomName`]'s `Ord`), or from the first room when
    /// `after` is `None`. `after` need not name a room that exists.
    ///
    /// A backend answers it with an index range scan from `after`, never by
    /// listing every room and skipping: one page costs the same however many
    /// rooms there are (`GET /v1/rooms`, protocol.md §11, is open to anyone).
    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError>;

    /// Every room that has messages, by name: [`rooms_page`](Store::rooms_page)
    /// followed to the end. For tools and tests; the HTTP API pages instead.
    async fn rooms(&self) -> Result<Vec<RoomInfo>, StoreError> {
        let mut rooms: Vec<RoomInfo> = Vec::new();
        loop {
            let after = rooms.last().map(|r| r.name.clone());
            let page = self.rooms_page(after.as_ref(), MAX_ROOMS_PAGE).await?;
            let done = !page.has_more || page.rooms.is_empty();
            rooms.extend(page.rooms);
            if done {
                return Ok(rooms);
            }
        }
    }

    /// Moves `user`'s read watermark in `room` up to `seq` (protocol.md §12),
    /// clamped to the room's head: a watermark never passes the last
    /// message, and never moves back (a `seq` at or below it changes
    /// nothing). Read state is kept per (user, room), so it follows the user
    /// to every device. Returns the watermark after, and whether it moved.
    ///
    /// # Errors
    ///
    /// As [`append`](Store::append): nothing changed on `Err`.
    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError>;

    /// `user`'s read state in `room`: the watermark (`Seq::ZERO` if never
    /// marked) and how many messages by others lie after it, deleted ones
    /// not counted (nor events: an edit is not news).
    ///
    /// A backend counts with an index range from the watermark, never a scan
    /// of the room: the cost grows with what is unread, not with history.
    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError>;

    /// The highest read watermarks in `room`: at most `limit` (clamped to
    /// `1..=MAX_PAGE`) `(user, read_seq)`, highest first (ties by user id).
    /// A joining connection is told them, so it shows who has read what
    /// (protocol.md §12) without waiting for them to read again. A backend
    /// answers from an index on `(room, read_seq)`, not a scan of the marks.
    async fn room_reads(&self, room: &RoomName, limit: usize) -> Result<Vec<(UserId, Seq)>, StoreError>;

    /// Checks that the store can serve requests *and store messages* (for
    /// `/readyz`): a store that still reads but can no longer write (a
    /// deleted data directory, a full or read-only disk, a read-only
    /// database) is not ready, since every post would fail. Whatever it
    /// writes to find out leaves no trace in any room. Each backend says
    /// what it checks.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the store cannot write now.
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// What [`Store::apply`] made of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Stored (or, for a resend, stored before): this is the event.
    Stored(Event),
    /// A reaction that was already as asked: nothing stored, nothing to tell.
    Unchanged,
    /// Refused: nothing stored.
    Refused(EventRefusal),
}

/// Why [`Store::apply`] refused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventRefusal {
    /// The target is not a message of the room, or it is deleted.
    NotFound,
    /// An edit or delete of someone else's message.
    NotAuthor,
}

/// A page of a room's log ([`Store::log`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogPage {
    /// Consecutive seqs, oldest first.
    pub entries: Vec<Entry>,
    /// Whether the log goes on after the last entry.
    pub has_more: bool,
}

/// What a store can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or refused the work for now (including a
    /// store whose writer is gone); nothing was stored, or a resend with the
    /// same client ids finds what was, and trying again later may succeed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug, corrupt data, an impossible state.
    #[error("store failed: {0}")]
    Internal(String),
}

/// Which part of a room's history to read. Build one with the constructors;
/// the limit is always within `1..=MAX_PAGE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRange {
    after: Option<Seq>,
    before: Option<Seq>,
    limit: usize,
}

impl ReadRange {
    /// The latest `limit` messages.
    pub fn latest(limit: usize) -> Self {
        ReadRange { after: None, before: None, limit: clamp(limit) }
    }

    /// The first `limit` messages with `seq > after`.
    pub fn after(after: Seq, limit: usize) -> Self {
        ReadRange { after: Some(after), before: None, limit: clamp(limit) }
    }

    /// The last `limit` messages with `seq < before`.
    pub fn before(before: Seq, limit: usize) -> Self {
        ReadRange { after: None, before: Some(before), limit: clamp(limit) }
    }

    /// The first `limit` messages with `after < seq < before`.
    pub fn between(after: Seq, before: Seq, limit: usize) -> Self {
        ReadRange { after: Some(after), before: Some(before), limit: clamp(limit) }
    }

    /// Exclusive lower bound, if any.
    pub fn after_seq(&self) -> Option<Seq> {
        self.after
    }

    /// Exclusive upper bound, if any.
    pub fn before_seq(&self) -> Option<Seq> {
        self.before
    }

    /// Most messages to return.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether the page is taken from the newest end (no lower bound): such
    /// a page is the *last* `limit` messages below `before`, returned oldest first.
    pub fn from_newest(&self) -> bool {
        self.after.is_none()
    }
}

pub(crate) fn clamp(limit: usize) -> usize {
    limit.clamp(1, MAX_PAGE)
}

/// A page of history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Whether more messages lie in the direction read: older ones for a page
    /// taken from the newest end, newer ones for a page read forward.
    pub has_more: bool,
}

/// A page of rooms, by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomsPage {
    /// By name.
    pub rooms: Vec<RoomInfo>,
    /// Whether rooms lie after the last one of this page.
    pub has_more: bool,
}

impl RoomsPage {
    /// The first page of `rooms` (by name, already past the cursor), at most
    /// [`rooms_limit`]`(limit)` of them: for stores that keep rooms in order
    /// in memory. It takes one more than the page to tell whether more lie
    /// beyond it.
    pub fn first(rooms: impl Iterator<Item = RoomInfo>, limit: usize) -> RoomsPage {
        let limit = rooms_limit(limit);
        let mut rooms: Vec<RoomInfo> = rooms.take(limit + 1).collect();
        let has_more = rooms.len() > limit;
        rooms.truncate(limit);
        RoomsPage { rooms, has_more }
    }
}

/// The limit of a rooms page, within `1..=MAX_ROOMS_PAGE`.
pub fn rooms_limit(limit: usize) -> usize {
    limit.clamp(1, MAX_ROOMS_PAGE)
}

/// What [`Store::mark_read`] made of a read mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMark {
    /// The watermark now.
    pub read_seq: Seq,
    /// Whether this mark moved it (others are then told: a `receipt`).
    pub moved: bool,
}

/// One user's read state in one room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    /// The highest seq the user has read (`Seq::ZERO`: nothing yet).
    pub read_seq: Seq,
    /// Messages by others after it.
    pub unread: u64,
}

/// A room's head, as stores report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// The room.
    pub name: RoomName,
    /// Its latest seq: its log's length, messages and events.
    pub last_seq: Seq,
    /// Its history id.
    pub epoch: Epoch,
    /// When its latest message was accepted.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_message_at: Option<OffsetDateTime>,
}

impl RoomInfo {
    /// The head of a room nobody wrote to.
    pub fn empty(name: RoomName) -> Self {
        RoomInfo { name, last_seq: Seq::ZERO, epoch: Epoch(0), last_message_at: None }
    }
}
