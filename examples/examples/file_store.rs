//! A custom [`Store`]: WhisperChat's history in an append-only JSON-lines
//! file, with no dependency beyond `serde_json`, hosting a
//! [`Chat`](whisper_core::Chat).
//!
//! Run with: `cargo run -p whisper-examples --example file_store -- [DIR]`
//!
//! Each run opens the store in `DIR` (default: a fresh temporary directory),
//! hosts a `Chat` on it, sends one message through a session, and prints the
//! room's latest history. Run it twice with the same `DIR`: the second run's
//! message takes the next seq, because the store rebuilt its index from the
//! file.
//!
//! # Writing a store for another backend
//!
//! A backend implements the thirteen methods of [`Store`] (and `ping`, for
//! `/readyz`, if it can tell) and maps its driver's errors into
//! [`StoreError`] (`Unavailable`: nothing was stored and a retry may succeed;
//! `Internal`: anything else). What the hub, the sessions and every client
//! rely on:
//!
//! 1. **`append` is atomic and durable.** All of the batch or none of it,
//!    and only once it is on disk does it return: the server acks a message
//!    (and broadcasts it) as soon as `append` returns. Here: one batch is one
//!    line of the log, written and `fdatasync`ed before the index changes; a
//!    torn last line (a crash mid-write) is cut off on open, so it is as if
//!    that batch, which nobody was acked for, never happened.
//! 2. **Seqs are gap-free per room and assigned in commit order.** Each room's
//!    n-th message has `seq = n`; the messages of a batch take consecutive
//!    seqs in input order; one writer at a time (a mutex here, a row lock or a
//!    serialisable transaction in a database) assigns and commits.
//! 3. **Idempotent resend.** A message whose `(user_id, client_id)` is
//!    already stored is not stored again; the original is returned in its
//!    place, also within one batch and also when the resend names another
//!    room. Keep an index of `(user_id, client_id)` (a unique index in SQL).
//! 4. **Paging.** [`ReadRange`] is `(after, before)` exclusive with a limit
//!    (already clamped to `1..=MAX_PAGE`); a range with no lower bound is taken
//!    from the newest end. Pages are oldest first, and `has_more` says whether
//!    more lie in the direction read.
//! 5. **Heads.** `room` returns `last_seq`, a non-zero `epoch` once the room
//!    has messages (fixed when the room's first message is stored, kept for
//!    as long as its history is) and `last_message_at`; an unknown room is
//!    [`RoomInfo::empty`]. `rooms_page` lists a page of the rooms that have
//!    messages, by name, after a cursor: keep rooms in an ordered index (a
//!    `BTreeMap` here, the primary key in SQL) and read a range from the
//!    cursor, never every room (the provided `rooms` follows the pages).
//! 6. **Cancellation and time.** An append whose caller stopped waiting
//!    before the store began writing it is skipped; once begun, it completes
//!    all or nothing (here: the blocking task runs to the end whether or not
//!    anyone awaits it). `created_at` is kept to whole milliseconds. A store
//!    whose writer is gone answers `Unavailable`.
//! 7. **Read marks.** `mark_read` clamps the seq to the room's head and never
//!    moves a watermark back (it says whether it moved); `read_state` counts
//!    the messages by others after it, from an index at the watermark in a
//!    real database. Here: one unsynced line per mark that moved, in a file
//!    of its own (a crash may take back the last marks, never a message).
//!
//! 8. **The timeline.** `apply` stores an edit, delete or reaction at the
//!    room's next seq, checked against its target in the same step as the
//!    write (the target exists in the room and is not deleted; only its
//!    author edits or deletes; a reaction already so changes nothing); a
//!    resend with the same `(user_id, client_id)` returns the original.
//!    `read` and `message` give messages in their current state, `log` the
//!    log as posted. A delete erases the text from the store: an
//!    append-only file still holds it, so here a delete rewrites the log
//!    from the index (to a temporary file, synced, renamed over the old
//!    one). The rules themselves are [`RoomTimeline`]'s, which any store
//!    that keeps its index in memory can use.
//!
//! 9. **Rooms with members.** `create_room` stores a room's first events
//!    (`NewRoom::events`) only if it has no log; `apply` decides a
//!    membership or title change with `rules::decide` on the room's facts
//!    (here, `RoomTimeline` keeps them: the fold of its `member` and `room`
//!    events); `access`, `members` and `member_rooms` read them. A real
//!    database keeps a table of standings with an index by member, so a
//!    user's rooms are a range, not this store's walk of every room.
//!
//! Then run the conformance suite on it, with whisper-core's `test-util`
//! feature: `whisper_core::store_conformance_tests!(async { Arc::new(MyStore::open().await) })`
//! generates one test per check, as `tests/file_store.rs` does (its factory
//! wraps each store in `conformance::Guarded` with its temporary directory,
//! removed after the store is closed); `conformance::run_all(factory)` runs
//! them all in one test.
//!
//! `Store` is declared with `#[async_trait]`, which whisper-core re-exports:
//! write `#[whisper_core::async_trait] impl Store for MyStore { async fn … }`.
//!
//! What this store leaves out, and a production backend would add: it keeps
//! every message in memory (a large history would keep byte offsets instead
//! and read lines on demand), syncs once per batch (the SQLite and PostgreSQL
//! stores group concurrent batches into one commit), and trusts that only one
//! process opens the directory at a time.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use whisper_core::model::{
    Access, Attachment, Change, ClientId, DisplayName, Entry, Epoch, Event, FileId, FileRecord, Message, MessageId,
    NewEvent, NewMessage, PostedFile, RoomName, Seq, Standing, StoredThumb, ThumbSize, UserId, Visibility,
};
use whisper_core::store::{
    Applied, LogPage, MemberRoomsPage, Page, ReadMark, ReadRange, ReadState, RoomInfo, RoomTimeline, RoomsPage, Search,
    SearchPage, Store, StoreError, rules,
};

/// The log's file name inside the store's directory.
pub const LOG_FILE: &str = "messages.jsonl";
/// The read watermarks' file in the store's directory: one `{user, room,
/// seq}` per line, each mark that moved one; the highest per (user, room)
/// wins on open.
pub const MARKS_FILE: &str = "read_marks.jsonl";

/// A store in one directory: an append-only log of committed batches, one JSON
/// object per line, and an in-memory index rebuilt from it on open.
///
/// Cheap to clone; clones share the same log.
#[derive(Clone, Debug)]
pub struct FileStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// Held for a whole append, write and sync included: appends commit one
    /// at a time, in the order they take this lock.
    writer: Mutex<Writer>,
    /// Held only briefly, never across I/O, so reads do not wait for a sync.
    index: Mutex<Index>,
    /// Read watermarks (`Store::mark_read`), with their own file.
    marks: Mutex<Marks>,
}

#[derive(Debug)]
struct Marks {
    file: File,
    by_user: HashMap<(UserId, RoomName), Seq>,
}

/// One line of the marks file.
#[derive(Debug, Serialize, Deserialize)]
struct MarkLine {
    user: UserId,
    room: RoomName,
    seq: Seq,
}

#[derive(Debug)]
struct Writer {
    /// The log's path, for rewriting it.
    path: PathBuf,
    file: File,
    /// The length of the log's committed part.
    len: u64,
    /// Set when a failed write could not be undone: the log's tail is
    /// unknown, so nothing more is appended until the store is reopened.
    broken: bool,
}

/// What the log says, in memory.
#[derive(Debug, Default)]
struct Index {
    /// By name, so that a page of rooms is a range of the map.
    rooms: BTreeMap<RoomName, RoomTimeline>,
    /// `(user, client id)` → where the original is, for idempotent resend.
    sent: HashMap<(UserId, ClientId), (RoomName, Seq)>,
    /// The same for events.
    events_sent: HashMap<(UserId, ClientId), (RoomName, Seq)>,
    /// Every message in the order of the log: a message's search position
    /// is its index here plus one.
    posted: Vec<(RoomName, Seq)>,
    /// Uploaded files not swept, and the live messages carrying each.
    files: BTreeMap<FileId, KeptFile>,
}

/// A file's line and what references it now.
#[derive(Debug)]
struct KeptFile {
    line: FileLine,
    carried_by: std::collections::BTreeSet<(RoomName, Seq)>,
}

/// A file's record as the log writes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct FileLine {
    attachment: Attachment,
    uploader: UserId,
    uploaded_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    thumb: Option<(ThumbSize, String, u64)>,
    /// Whether a message ever carried it (a rewritten log no longer shows
    /// the deleted messages that did).
    #[serde(default)]
    posted: bool,
}

impl FileLine {
    fn new(record: &FileRecord) -> FileLine {
        FileLine {
            attachment: record.attachment.clone(),
            uploader: record.uploader,
            uploaded_at_ms: (record.uploaded_at.unix_timestamp_nanos() / 1_000_000) as i64,
            thumb: record.thumb.as_ref().map(|t| (t.size, t.media_type.to_string(), t.bytes)),
            posted: false,
        }
    }

    fn record(&self) -> FileRecord {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.uploaded_at_ms) * 1_000_000);
        FileRecord {
            attachment: self.attachment.clone(),
            uploader: self.uploader,
            uploaded_at: at.unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            thumb: self.thumb.as_ref().map(|(size, media_type, bytes)| StoredThumb {
                size: *size,
                media_type: Arc::from(media_type.as_str()),
                bytes: *bytes,
            }),
        }
    }
}

/// What an event asks of the log.
enum EventPlan {
    /// Write it.
    Write(Event),
    /// Write nothing; answer this.
    Answer(Applied),
}

/// One line of the log: a committed batch, or an event.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    /// The rooms this batch wrote first, with the epoch each was given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rooms: Vec<NewRoom>,
    /// The batch's new messages (resends are not written again), in seq order
    /// within each room.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    messages: Vec<Message>,
    /// Events, after the record's messages (a record holds one or the other).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    events: Vec<Event>,
    /// Uploaded files, before any message that carries them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileLine>,
    /// Files swept: their records are gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    swept: Vec<FileId>,
}

#[derive(Debug, Serialize, Deserialize)]
struct NewRoom {
    room: RoomName,
    epoch: Epoch,
}

impl FileStore {
    /// Opens (or creates) the store in `dir` and rebuilds its index from the
    /// log. Blocking file I/O: call it before serving, or from
    /// `spawn_blocking`.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(io("create the store directory"))?;
        let path = dir.join(LOG_FILE);
        let created = !path.exists();
        let mut file =
            OpenOptions::new().read(true).append(true).create(true).open(&path).map_err(io("open the log"))?;
        if created {
            // The new file's directory entry must be durable too.
            File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync the store directory"))?;
        }
        let (index, len) = replay(&mut file)?;
        let marks = open_marks(&dir.join(MARKS_FILE))?;
        Ok(FileStore {
            inner: Arc::new(Inner {
                path: path.clone(),
                writer: Mutex::new(Writer { path, file, len, broken: false }),
                index: Mutex::new(index),
                marks: Mutex::new(marks),
            }),
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

/// Reads the marks file. A line that does not parse (the last one, cut short
/// by a crash) is skipped: a mark lost to a crash is only a mark.
fn open_marks(path: &Path) -> Result<Marks, StoreError> {
    let file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(io("open the marks"))?;
    let mut by_user: HashMap<(UserId, RoomName), Seq> = HashMap::new();
    for line in BufReader::new(&file).lines() {
        let line = line.map_err(io("read the marks"))?;
        if let Ok(MarkLine { user, room, seq }) = serde_json::from_str::<MarkLine>(&line) {
            let mark = by_user.entry((user, room)).or_default();
            *mark = (*mark).max(seq);
        }
    }
    Ok(Marks { file, by_user })
}

/// Reads the log into an index. A last line cut short by a crash is removed;
/// any other bad line means the log is corrupt, and opening fails.
fn replay(file: &mut File) -> Result<(Index, u64), StoreError> {
    let mut index = Index::default();
    let mut reader = BufReader::new(&mut *file);
    let mut line = Vec::new();
    let mut committed = 0u64;
    let mut torn = false;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io("read the log"))?;
        if n == 0 {
            break;
        }
        let complete = line.last() == Some(&b'\n');
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) if complete => {
                index.apply(record).map_err(|e| StoreError::Internal(format!("log at byte {committed}: {e}")))?;
                committed += n as u64;
            }
            _ => {
                // Only the very last line may be torn.
                let rest = reader.fill_buf().map_err(io("read the log"))?;
                if !rest.is_empty() {
                    return Err(StoreError::Internal(format!("log corrupt at byte {committed}")));
                }
                torn = true;
                break;
            }
        }
    }
    if torn {
        file.set_len(committed).map_err(io("cut the log's torn tail"))?;
        file.sync_data().map_err(io("sync the log"))?;
    }
    file.seek(SeekFrom::End(0)).map_err(io("seek the log"))?;
    Ok((index, committed))
}

impl Index {
    /// Adds a committed record, checking that it continues every room's seqs.
    fn apply(&mut self, record: Record) -> Result<(), String> {
        for NewRoom { room, epoch } in record.rooms {
            if self.rooms.insert(room.clone(), RoomTimeline::new(epoch)).is_some() {
                return Err(format!("room {room} created twice"));
            }
        }
        for line in record.files {
            self.files.insert(line.attachment.id, KeptFile { line, carried_by: Default::default() });
        }
        for message in record.messages {
            let log = self.rooms.get_mut(&message.room).ok_or_else(|| format!("room {} unknown", message.room))?;
            if let Some(client_id) = &message.client_id {
                self.sent.insert((message.user_id, client_id.clone()), (message.room.clone(), message.seq));
            }
            self.posted.push((message.room.clone(), message.seq));
            for attachment in &message.attachments {
                if let Some(file) = self.files.get_mut(&attachment.id) {
                    file.line.posted = true;
                    file.carried_by.insert((message.room.clone(), message.seq));
                }
            }
            log.push_message(message)?;
        }
        for event in record.events {
            let log = self.rooms.get_mut(&event.room).ok_or_else(|| format!("room {} unknown", event.room))?;
            if let Some(client_id) = &event.client_id {
                self.events_sent.insert((event.user_id, client_id.clone()), (event.room.clone(), event.seq));
            }
            // A delete drops its message's files with its text.
            let dropped: Vec<(FileId, Seq)> = match (&event.change, event.target.and_then(|t| log.message(t))) {
                (Change::Delete, Some(target)) => target.attachments.iter().map(|a| (a.id, target.seq)).collect(),
                _ => Vec::new(),
            };
            let room = event.room.clone();
            log.commit_event(event)?;
            for (id, seq) in dropped {
                if let Some(file) = self.files.get_mut(&id) {
                    file.carried_by.remove(&(room.clone(), seq));
                }
            }
        }
        for id in record.swept {
            self.files.remove(&id);
        }
        Ok(())
    }

    fn find(&self, room: &RoomName, seq: Seq) -> Option<&Entry> {
        self.rooms.get(room)?.entry(seq)
    }

    fn head(&self, room: &RoomName) -> u64 {
        self.rooms.get(room).map_or(0, |log| log.head().0)
    }

    /// What `new` stores: the event to write, or the answer when nothing is.
    fn plan_event(&self, new: NewEvent) -> EventPlan {
        if let Some(client_id) = &new.client_id
            && let Some((room, seq)) = self.events_sent.get(&(new.user_id, client_id.clone()))
            && let Some(Entry::Event(original)) = self.find(room, *seq)
        {
            return EventPlan::Answer(Applied::Stored(original.clone()));
        }
        let Some(log) = self.rooms.get(&new.room) else {
            return EventPlan::Answer(Applied::Refused(rules::no_room(&new)));
        };
        match log.check(new) {
            Ok(event) => EventPlan::Write(event),
            Err(not_stored) => EventPlan::Answer(not_stored.into()),
        }
    }

    /// The whole index as records, in seq order per room: what a rewritten
    /// log holds (erased text stays erased).
    fn records(&self) -> Vec<Record> {
        let files = self.files.values().map(|f| f.line.clone()).collect();
        let mut records = vec![Record { files, ..Record::default() }];
        for (name, log) in &self.rooms {
            records
                .push(Record { rooms: vec![NewRoom { room: name.clone(), epoch: log.epoch() }], ..Record::default() });
            for run in log.entries().chunk_by(|a, b| matches!(a, Entry::Message(_)) == matches!(b, Entry::Message(_))) {
                let mut record = Record::default();
                for entry in run {
                    match entry {
                        Entry::Message(m) => record.messages.push(m.clone()),
                        Entry::Event(e) => record.events.push(e.clone()),
                    }
                }
                records.push(record);
            }
        }
        records
    }

    /// Works out what `batch` stores, without changing anything: the record to
    /// write and the messages to return (originals in place of resends).
    fn plan(&self, batch: Vec<NewMessage>) -> Result<(Record, Vec<Message>), StoreError> {
        let mut record = Record::default();
        let mut out = Vec::with_capacity(batch.len());
        // Within this batch: seqs taken per room, client ids already placed.
        let mut taken: HashMap<RoomName, u64> = HashMap::new();
        let mut placed: HashMap<(UserId, ClientId), usize> = HashMap::new();
        for new in batch {
            let key = new.client_id.clone().map(|c| (new.user_id, c));
            if let Some(key) = &key {
                if let Some((room, seq)) = self.sent.get(key) {
                    let Some(Entry::Message(original)) = self.find(room, *seq) else {
                        return Err(StoreError::Internal("client id points at nothing".into()));
                    };
                    out.push(original.clone());
                    continue;
                }
                if let Some(&i) = placed.get(key) {
                    out.push(record.messages[i].clone());
                    continue;
                }
            }
            if !self.rooms.contains_key(&new.room) && !record.rooms.iter().any(|r| r.room == new.room) {
                record.rooms.push(NewRoom { room: new.room.clone(), epoch: Epoch::fresh() });
            }
            let n = taken.entry(new.room.clone()).or_insert(0);
            *n += 1;
            let seq = Seq(self.head(&new.room) + *n);
            let mut message = new.stored_at(seq);
            // Whole milliseconds, as every store keeps them (`Store::append`),
            // and as the log's JSON writes them.
            message.created_at =
                message.created_at.replace_millisecond(message.created_at.millisecond()).unwrap_or(message.created_at);
            if let Some(key) = key {
                placed.insert(key, record.messages.len());
            }
            out.push(message.clone());
            record.messages.push(message);
        }
        Ok((record, out))
    }
}

fn io(what: &'static str) -> impl Fn(std::io::Error) -> StoreError {
    move |e| StoreError::Unavailable(format!("file store: cannot {what}: {e}"))
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, StoreError> {
    m.lock().map_err(|_| StoreError::Internal("file store lock poisoned".into()))
}

impl Inner {
    /// The whole append, on a blocking thread: plan under the index lock,
    /// write and sync the record with only the writer lock held, then publish
    /// it to the index.
    fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        let mut writer = lock(&self.writer)?;
        if writer.broken {
            return Err(StoreError::Unavailable("file store: the log needs reopening after a failed write".into()));
        }
        // Only appends change the index, and they hold the writer lock, so the
        // plan stays valid until it is applied below.
        let (record, out) = lock(&self.index)?.plan(batch)?;
        if record.messages.is_empty() {
            return Ok(out); // all resends: nothing to write
        }
        writer.write(&record)?;
        lock(&self.index)?.apply(record).map_err(StoreError::Internal)?;
        Ok(out)
    }

    /// An event, on a blocking thread, like an append: checked under the
    /// index lock, written and synced, then applied. A delete then rewrites
    /// the log without the text it erased.
    fn apply(&self, event: NewEvent) -> Result<Applied, StoreError> {
        let mut writer = lock(&self.writer)?;
        if writer.broken {
            return Err(StoreError::Unavailable("file store: the log needs reopening after a failed write".into()));
        }
        let event = match lock(&self.index)?.plan_event(event) {
            EventPlan::Write(event) => event,
            EventPlan::Answer(answer) => return Ok(answer),
        };
        let record = Record { events: vec![event.clone()], ..Record::default() };
        writer.write(&record)?;
        let mut index = lock(&self.index)?;
        index.apply(record).map_err(StoreError::Internal)?;
        if event.change == Change::Delete {
            // The delete is durable already; the rewrite only removes the
            // erased text from the file. If it fails the store stops taking
            // writes until reopened, rather than keep the text unnoticed.
            let records = index.records();
            drop(index);
            writer.rewrite(&records)?;
        }
        Ok(Applied::Stored(event))
    }
}

impl Inner {
    /// A record of added files, on a blocking thread, like an event's:
    /// written and synced, then applied.
    fn add_files(&self, record: Record) -> Result<(), StoreError> {
        let mut writer = lock(&self.writer)?;
        if writer.broken {
            return Err(StoreError::Unavailable("file store: the log needs reopening after a failed write".into()));
        }
        writer.write(&record)?;
        lock(&self.index)?.apply(record).map_err(StoreError::Internal)
    }

    /// The files a sweep takes, decided and written under the writer lock,
    /// so no append can reference one in between.
    fn sweep(&self, unposted_before: time::OffsetDateTime, limit: usize) -> Result<Vec<FileRecord>, StoreError> {
        let mut writer = lock(&self.writer)?;
        if writer.broken {
            return Err(StoreError::Unavailable("file store: the log needs reopening after a failed write".into()));
        }
        let cutoff_ms = (unposted_before.unix_timestamp_nanos() / 1_000_000) as i64;
        let swept: Vec<FileRecord> = lock(&self.index)?
            .files
            .values()
            .filter(|f| f.carried_by.is_empty() && (f.line.posted || f.line.uploaded_at_ms < cutoff_ms))
            .take(limit.clamp(1, whisper_core::store::MAX_PAGE))
            .map(|f| f.line.record())
            .collect();
        if !swept.is_empty() {
            let record = Record { swept: swept.iter().map(FileRecord::id).collect(), ..Record::default() };
            writer.write(&record)?;
            lock(&self.index)?.apply(record).map_err(StoreError::Internal)?;
        }
        Ok(swept)
    }
}

impl Inner {
    /// A room's creation, on a blocking thread: its first events as one
    /// record, like an event's.
    fn create(&self, room: whisper_core::store::NewRoom) -> Result<Option<Vec<Event>>, StoreError> {
        let mut writer = lock(&self.writer)?;
        if writer.broken {
            return Err(StoreError::Unavailable("file store: the log needs reopening after a failed write".into()));
        }
        if lock(&self.index)?.head(&room.name) > 0 {
            return Ok(None);
        }
        let events = room.events();
        let record = Record {
            rooms: vec![NewRoom { room: room.name.clone(), epoch: Epoch::fresh() }],
            events: events.clone(),
            ..Record::default()
        };
        writer.write(&record)?;
        lock(&self.index)?.apply(record).map_err(StoreError::Internal)?;
        Ok(Some(events))
    }
}

impl Writer {
    /// Appends one record as a line and syncs it.
    fn write(&mut self, record: &Record) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(record).map_err(|e| StoreError::Internal(e.to_string()))?;
        line.push(b'\n');
        let written = self.file.write_all(&line).and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Undo the partial write so the log ends on a committed line.
            let len = self.len;
            if self.file.set_len(len).and_then(|()| self.file.sync_data()).is_err() {
                self.broken = true;
            }
            return Err(io("write the log")(e));
        }
        self.len += line.len() as u64;
        Ok(())
    }

    /// Replaces the log with `records`: written to a temporary file,
    /// synced, renamed over the log, and the directory synced, so a crash
    /// leaves either log whole.
    fn rewrite(&mut self, records: &[Record]) -> Result<(), StoreError> {
        let temp = self.path.with_extension("jsonl.tmp");
        let rewritten = (|| {
            let mut file = File::create(&temp)?;
            let mut len = 0u64;
            for record in records {
                let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
                line.push(b'\n');
                file.write_all(&line)?;
                len += line.len() as u64;
            }
            file.sync_all()?;
            fs::rename(&temp, &self.path)?;
            if let Some(dir) = self.path.parent() {
                File::open(dir)?.sync_all()?;
            }
            let file = OpenOptions::new().read(true).append(true).open(&self.path)?;
            Ok::<_, std::io::Error>((file, len))
        })();
        match rewritten {
            Ok((file, len)) => {
                self.file = file;
                self.len = len;
                Ok(())
            }
            Err(e) => {
                self.broken = true;
                Err(io("rewrite the log")(e))
            }
        }
    }
}

#[whisper_core::async_trait]
impl Store for FileStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.append(batch))
            .await
            .map_err(|e| StoreError::Internal(format!("file store append task: {e}")))?
    }

    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError> {
        let index = lock(&self.inner.index)?;
        Ok(index.rooms.get(room).map_or(Page { messages: Vec::new(), has_more: false }, |log| log.read(range)))
    }

    async fn apply(&self, mut event: NewEvent) -> Result<Applied, StoreError> {
        // Whole milliseconds, as the log's JSON writes them.
        event.created_at =
            event.created_at.replace_millisecond(event.created_at.millisecond()).unwrap_or(event.created_at);
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.apply(event))
            .await
            .map_err(|e| StoreError::Internal(format!("file store apply task: {e}")))?
    }

    async fn message(&self, room: &RoomName, id: MessageId) -> Result<Option<Message>, StoreError> {
        let index = lock(&self.inner.index)?;
        Ok(index.rooms.get(room).and_then(|log| log.message(id)).cloned())
    }

    async fn log(&self, room: &RoomName, after: Seq, limit: usize) -> Result<LogPage, StoreError> {
        let index = lock(&self.inner.index)?;
        Ok(index.rooms.get(room).map_or(LogPage { entries: Vec::new(), has_more: false }, |log| log.log(after, limit)))
    }

    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        let index = lock(&self.inner.index)?;
        Ok(index.rooms.get(room).map_or_else(|| RoomInfo::empty(room.clone()), |log| log.info(room)))
    }

    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError> {
        let index = lock(&self.inner.index)?;
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let rooms = index.rooms.range::<RoomName, _>((from, Bound::Unbounded));
        let public = rooms.map(|(name, log)| log.info(name)).filter(|r| r.profile.visibility == Visibility::Public);
        Ok(RoomsPage::first(public, limit))
    }

    async fn create_room(&self, mut room: whisper_core::store::NewRoom) -> Result<Option<Vec<Event>>, StoreError> {
        room.created_at = room.created_at.replace_millisecond(room.created_at.millisecond()).unwrap_or(room.created_at);
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.create(room))
            .await
            .map_err(|e| StoreError::Internal(format!("file store create task: {e}")))?
    }

    async fn access(&self, room: &RoomName, user: UserId) -> Result<Access, StoreError> {
        let index = lock(&self.inner.index)?;
        Ok(index.rooms.get(room).map_or_else(Access::default, |log| log.access(user)))
    }

    async fn members(
        &self,
        room: &RoomName,
        banned: bool,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, DisplayName, Standing)>, StoreError> {
        let index = lock(&self.inner.index)?;
        Ok(index.rooms.get(room).map_or_else(Vec::new, |log| log.members(banned, after, limit)))
    }

    /// A walk of every room: a store with many rooms keeps an index by
    /// member instead (see the module docs).
    async fn member_rooms(
        &self,
        user: UserId,
        after: Option<&RoomName>,
        limit: usize,
    ) -> Result<MemberRoomsPage, StoreError> {
        let index = lock(&self.inner.index)?;
        let limit = whisper_core::store::rooms_limit(limit);
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut rooms: Vec<_> = index
            .rooms
            .range::<RoomName, _>((from, Bound::Unbounded))
            .filter_map(|(name, log)| Some((log.info(name), log.access(user).standing.role()?)))
            .take(limit + 1)
            .collect();
        let has_more = rooms.len() > limit;
        rooms.truncate(limit);
        Ok(MemberRoomsPage { rooms, has_more })
    }

    /// A scan from the newest message back, as `MemoryStore` does: a store
    /// with much history keeps a full-text index instead (SQLite's FTS5,
    /// PostgreSQL's GIN), changed in the transaction of each write.
    async fn search(&self, search: &Search) -> Result<SearchPage, StoreError> {
        let index = lock(&self.inner.index)?;
        Ok(SearchPage::scan(search, &index.posted, |room| index.rooms.get(room)))
    }

    async fn add_file(&self, file: FileRecord) -> Result<(), StoreError> {
        let inner = self.inner.clone();
        let record = Record { files: vec![FileLine::new(&file)], ..Record::default() };
        tokio::task::spawn_blocking(move || inner.add_files(record))
            .await
            .map_err(|e| StoreError::Internal(format!("file store add_file task: {e}")))?
    }

    async fn file(&self, id: FileId) -> Result<Option<PostedFile>, StoreError> {
        let index = lock(&self.inner.index)?;
        Ok(index.files.get(&id).map(|file| {
            let mut rooms: Vec<RoomName> = file.carried_by.iter().map(|(room, _)| room.clone()).collect();
            rooms.dedup();
            PostedFile { record: file.line.record(), rooms }
        }))
    }

    /// A walk of every file: a store with many keeps an index of the
    /// unreferenced ones instead.
    async fn sweep_files(
        &self,
        unposted_before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.sweep(unposted_before, limit))
            .await
            .map_err(|e| StoreError::Internal(format!("file store sweep task: {e}")))?
    }

    /// Clamped to the head; a mark that moves is one line, written before
    /// the watermark moves in memory.
    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        let head = lock(&self.inner.index)?.head(room);
        let seq = Seq(seq.0.min(head));
        let mut marks = lock(&self.inner.marks)?;
        let was = marks.by_user.get(&(user, room.clone())).copied().unwrap_or(Seq::ZERO);
        if seq <= was {
            return Ok(ReadMark { read_seq: was, moved: false });
        }
        let mut line = serde_json::to_vec(&MarkLine { user, room: room.clone(), seq })
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        line.push(b'\n');
        marks.file.write_all(&line).map_err(io("write the marks"))?;
        marks.by_user.insert((user, room.clone()), seq);
        Ok(ReadMark { read_seq: seq, moved: true })
    }

    async fn room_reads(&self, room: &RoomName, limit: usize) -> Result<Vec<(UserId, Seq)>, StoreError> {
        let marks = lock(&self.inner.marks)?;
        let reads = marks.by_user.iter().filter(|((_, r), _)| r == room).map(|((u, _), s)| (*u, *s));
        Ok(whisper_core::store::highest_reads(reads, limit))
    }

    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError> {
        let read_seq = lock(&self.inner.marks)?.by_user.get(&(user, room.clone())).copied().unwrap_or(Seq::ZERO);
        let index = lock(&self.inner.index)?;
        let unread = index.rooms.get(room).map_or(0, |log| log.unread(user, read_seq));
        Ok(ReadState { read_seq, unread })
    }

    /// Ready unless a write failed, or the log file is gone (an open file
    /// keeps taking appends after its directory is deleted, lost at exit).
    async fn ping(&self) -> Result<(), StoreError> {
        if lock(&self.inner.writer)?.broken {
            return Err(StoreError::Unavailable("file store: the log needs reopening after a failed write".into()));
        }
        if !self.inner.path.exists() {
            return Err(StoreError::Unavailable("file store: the log file is gone".into()));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The demo: host a Chat on the store and send one message through a session.

#[allow(dead_code)] // used by `main`, not by the tests that include this file
mod demo {
    use std::sync::Arc;

    use whisper_core::Chat;
    use whisper_core::codec::{AckStatus, ServerFrame};
    use whisper_core::model::{DisplayName, RoomName, UserId};
    use whisper_core::session::{self, Connection, Inbound, Outgoing};
    use whisper_core::store::{ReadRange, Store};
    use whisper_core::testing::{inbound_channel, outgoing_channel};

    use super::FileStore;

    pub(crate) async fn run(store: FileStore) -> anyhow::Result<()> {
        let lobby = RoomName::lobby();
        let before = store.room(&lobby).await?;
        println!("store: {}", store.path().display());
        println!("lobby holds {} messages (epoch {})", before.last_seq, before.epoch.0);

        let chat = Chat::builder(Arc::new(store.clone())).build();
        let (to_session, inbound) = inbound_channel();
        let (outgoing, mut from_session) = outgoing_channel();
        let conn = Connection {
            name: DisplayName::parse("demo").ok(),
            ..Connection::guest(UserId::random(), Some(lobby.clone()))
        };
        let session = tokio::spawn(session::run(chat, conn, inbound, outgoing, std::future::pending()));

        let text = format!("hello from run {}", before.last_seq.0 + 1);
        let frame = serde_json::json!({"type": "messages", "data": [{"content": text, "client_id": "demo-1"}]});
        to_session.send(Inbound::Text(frame.to_string()))?;
        while let Some(Outgoing::Frame(frame)) = from_session.recv().await {
            if let Ok(ServerFrame::MessageIds { status, message_ids, error, .. }) = ServerFrame::decode(frame.to_text())
            {
                anyhow::ensure!(status == AckStatus::Success, "not stored: {error:?}");
                println!("acked (on disk): {}", message_ids[0]);
                break;
            }
        }
        drop(to_session);
        session.await?;

        let page = store.read(&lobby, ReadRange::latest(5)).await?;
        println!("latest in lobby:");
        for m in &page.messages {
            println!("  #{} {}: {}  ({})", m.seq, m.name, m.content, m.id);
        }
        Ok(())
    }
}

#[allow(dead_code)] // the tests include this file for the store alone
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (dir, _temp) = match std::env::args_os().nth(1) {
        Some(dir) => (PathBuf::from(dir), None),
        None => {
            let temp = tempfile::tempdir()?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let store = tokio::task::spawn_blocking(move || FileStore::open(dir)).await??;
    demo::run(store).await
}
