//! Where messages live: the [`Store`] trait every backend implements, the
//! in-memory [`MemoryStore`], and (feature `test-util`) the conformance suite
//! every store must pass.

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
mod memory;
pub mod rules;
mod search;
mod timeline;

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use memory::{MemoryStore, highest_reads};
pub use search::{DEFAULT_SEARCH_PAGE, MAX_SEARCH_PAGE, Search, SearchCursor, SearchPage};
pub use timeline::{NotStored, RoomTimeline};

use crate::model::{
    Access, DisplayName, Entry, Epoch, Event, FileId, FileRecord, Member, Message, MessageId, NewEvent, NewMessage,
    PostedFile, Role, RoomName, RoomProfile, Seq, Standing, UserId,
};

/// The most messages one read returns (protocol.md §11: `limit` max 500).
pub const MAX_PAGE: usize = 500;
/// The page size when a reader names none.
pub const DEFAULT_PAGE: usize = 50;
/// The most rooms one [`Store::rooms_page`] returns (protocol.md §11:
/// `GET /v1/rooms` `limit` max 500).
pub const MAX_ROOMS_PAGE: usize = 500;
/// The rooms page size when a reader names none.
pub const DEFAULT_ROOMS_PAGE: usize = 100;
/// The most members one [`Store::members`] returns.
pub const MAX_MEMBERS_PAGE: usize = 1000;

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
    /// - an edit by anyone but the target's author, or a delete by anyone
    ///   but its author and the room's owners and moderators
    ///   ([`rules::may_delete`]), is [`EventRefusal::NotAuthor`];
    /// - a membership or title change ([`Request::Member`](crate::model::Request::Member),
    ///   [`Request::Retitle`](crate::model::Request::Retitle)) is what
    ///   [`rules::decide`] makes of it with the room's facts as the
    ///   transaction reads them, and a stored one changes the room's
    ///   members, bans or profile in the same transaction;
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

    /// A page of the public rooms that have messages, by name: the first `limit`
    /// (clamped to `1..=MAX_ROOMS_PAGE`) whose name sorts after `after`
    /// (byte order, as [`RoomName`]'s `Ord`), or from the first room when
    /// `after` is `None`. `after` need not name a room that exists.
    ///
    /// A backend answers it with an index range scan from `after`, never by
    /// listing every room and skipping: one page costs the same however many
    /// rooms there are (`GET /v1/rooms`, protocol.md §11, is open to anyone).
    /// A private or direct room is never listed: an index of public rooms
    /// alone keeps the page as cheap with 10,000 private rooms beside them.
    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError>;

    /// Creates `room` with its first events, all in one transaction: a
    /// `room` event (created) by the creator, then a `member` event (added)
    /// for the creator (the owner; a plain member in a direct room) and for
    /// each other member, in order, taking seqs 1, 2, 3…
    ///
    /// `None`, storing nothing, when a room of that name has a log already
    /// (so two creations of one direct room at once, on two nodes, end as
    /// one room: the second finds it).
    async fn create_room(&self, room: NewRoom) -> Result<Option<Vec<Event>>, StoreError>;

    /// What `user` may do in `room`: its visibility (public for a room
    /// nobody created explicitly, or that does not exist) and the user's
    /// standing. Asked on every join and every post to a room not joined,
    /// so a backend answers it from two primary-key lookups.
    async fn access(&self, room: &RoomName, user: UserId) -> Result<Access, StoreError>;

    /// The room's members, by user id after `after`, at most `limit`
    /// (clamped to `1..=MAX_MEMBERS_PAGE`), and (when `banned`) the banned
    /// instead.
    async fn members(
        &self,
        room: &RoomName,
        banned: bool,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, DisplayName, Standing)>, StoreError>;

    /// A page of the rooms `user` is a member of, by name after `after`,
    /// with its role in each: from an index on `(user, room)`, never a
    /// scan of the rooms.
    async fn member_rooms(
        &self,
        user: UserId,
        after: Option<&RoomName>,
        limit: usize,
    ) -> Result<MemberRoomsPage, StoreError>;

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

    /// The messages `search.reader` may read ([`Search::may_read`]) that
    /// match `search.query` ([`SearchQuery::matches`](crate::model::SearchQuery::matches)
    /// is the reference), in `search.room` when given, older than
    /// `search.before`: newest first, at most [`Search::limit`], each in its
    /// current state. A deleted message is never found, and an edited one
    /// is found by its edited text only.
    ///
    /// A backend answers from a full-text index that it changes in the
    /// transaction that stores the message, the edit or the delete: a
    /// search never finds what a read would not show. The index is walked
    /// newest first, so a page costs the same however old the history.
    async fn search(&self, search: &Search) -> Result<SearchPage, StoreError>;

    /// Keeps the record of an uploaded file, whose bytes a
    /// [`FileStore`](crate::files::FileStore) holds already (protocol.md
    /// §17). It is not posted yet: [`sweep_files`](Store::sweep_files)
    /// takes it once old enough unless a message carries it first.
    ///
    /// Every message [`append`](Store::append) stores with
    /// [`attachments`](NewMessage::attachments) references each of its
    /// files, in the same transaction; a stored delete
    /// ([`apply`](Store::apply)) drops its message's references with its
    /// text. A reference to a file without a record is not an error (core
    /// checks files before it posts them): it is simply not kept.
    async fn add_file(&self, file: FileRecord) -> Result<(), StoreError>;

    /// The file `id` and the rooms whose live messages carry it, by name;
    /// `None` for no such file (never uploaded, or swept).
    async fn file(&self, id: FileId) -> Result<Option<PostedFile>, StoreError>;

    /// Takes out the records of files nothing references: those only
    /// deleted messages carried, and those never posted that were uploaded
    /// before `unposted_before`; at most `limit` (clamped to
    /// `1..=MAX_PAGE`), returned so that their bytes can be removed. A
    /// backend finds them from an index of unreferenced files, never a scan
    /// of all files.
    async fn sweep_files(&self, unposted_before: OffsetDateTime, limit: usize) -> Result<Vec<FileRecord>, StoreError>;

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
    /// The asker may not do this in this room (the reason says why, and
    /// never whether a room the asker may not see exists).
    Forbidden(&'static str),
    /// It contradicts the room's state (already a member, the last owner
    /// leaving).
    Conflict(&'static str),
}

/// A room to create ([`Store::create_room`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRoom {
    /// Its name (for a private room, one the server picked).
    pub name: RoomName,
    /// Its kind, title and topic.
    pub profile: RoomProfile,
    /// Who creates it (its owner, unless it is a direct room).
    pub creator: (UserId, DisplayName),
    /// Its other members, without the creator, each once.
    pub members: Vec<(UserId, DisplayName)>,
    /// When, whole milliseconds.
    pub created_at: OffsetDateTime,
}

impl NewRoom {
    /// The events creating it: what every store stores, at seqs 1, 2, 3…
    pub fn events(&self) -> Vec<Event> {
        use crate::model::{Change, MemberAction};
        let (creator, creator_name) = self.creator.clone();
        let direct = self.profile.visibility == crate::model::Visibility::Direct;
        let event = |seq: u64, change: Change| Event {
            seq: Seq(seq),
            id: MessageId::generate(),
            room: self.name.clone(),
            target: None,
            user_id: creator,
            name: creator_name.clone(),
            change,
            client_id: None,
            created_at: self.created_at,
        };
        let mut events = vec![event(
            1,
            Change::Room {
                created: true,
                visibility: self.profile.visibility,
                title: self.profile.title.clone(),
                topic: self.profile.topic.clone(),
            },
        )];
        let owner = if direct { Role::Member } else { Role::Owner };
        let everyone = std::iter::once((creator, creator_name.clone(), owner))
            .chain(self.members.iter().map(|(u, n)| (*u, n.clone(), Role::Member)));
        for (user, name, role) in everyone {
            let seq = events.len() as u64 + 1;
            events.push(event(
                seq,
                Change::Member {
                    member: user,
                    member_name: name,
                    action: MemberAction::Added,
                    role: Some(role),
                    reason: None,
                },
            ));
        }
        events
    }
}

/// A page of the rooms a user is a member of ([`Store::member_rooms`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberRoomsPage {
    /// By name, each with the user's role.
    pub rooms: Vec<(RoomInfo, Role)>,
    /// Whether more lie after the last one.
    pub has_more: bool,
}

/// The limit of a members page, within `1..=MAX_MEMBERS_PAGE`.
pub fn members_limit(limit: usize) -> usize {
    limit.clamp(1, MAX_MEMBERS_PAGE)
}

/// A member as listed, from a store's `(user, name, standing)` row.
pub fn member_of(user_id: UserId, name: DisplayName, standing: Standing) -> Option<Member> {
    Some(Member { user_id, name, role: standing.role()? })
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
    /// Its kind, title and topic.
    #[serde(default)]
    pub profile: RoomProfile,
}

impl RoomInfo {
    /// The head of a room nobody wrote to.
    pub fn empty(name: RoomName) -> Self {
        RoomInfo { name, last_seq: Seq::ZERO, epoch: Epoch(0), last_message_at: None, profile: RoomProfile::default() }
    }
}
