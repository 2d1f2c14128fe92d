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
//! A backend implements the six methods of [`Store`] (and `ping`, for
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
use whisper_core::model::{ClientId, Epoch, Message, NewMessage, RoomName, Seq, UserId};
use whisper_core::store::{Page, ReadMark, ReadRange, ReadState, RoomInfo, RoomsPage, Store, StoreError};

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
    rooms: BTreeMap<RoomName, RoomLog>,
    /// `(user, client id)` → where the original is, for idempotent resend.
    sent: HashMap<(UserId, ClientId), (RoomName, Seq)>,
}

#[derive(Debug)]
struct RoomLog {
    epoch: Epoch,
    /// `messages[i]` has `seq = i + 1`.
    messages: Vec<Message>,
}

/// One line of the log: a committed batch.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    /// The rooms this batch wrote first, with the epoch each was given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rooms: Vec<NewRoom>,
    /// The batch's new messages (resends are not written again), in seq order
    /// within each room.
    messages: Vec<Message>,
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
                path,
                writer: Mutex::new(Writer { file, len, broken: false }),
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
            if self.rooms.insert(room.clone(), RoomLog { epoch, messages: Vec::new() }).is_some() {
                return Err(format!("room {room} created twice"));
            }
        }
        for message in record.messages {
            let log = self.rooms.get_mut(&message.room).ok_or_else(|| format!("room {} unknown", message.room))?;
            let want = Seq(log.messages.len() as u64 + 1);
            if message.seq != want {
                return Err(format!("{} has seq {}, expected {want}", message.room, message.seq));
            }
            if let Some(client_id) = &message.client_id {
                self.sent.insert((message.user_id, client_id.clone()), (message.room.clone(), message.seq));
            }
            log.messages.push(message);
        }
        Ok(())
    }

    fn find(&self, room: &RoomName, seq: Seq) -> Option<&Message> {
        let log = self.rooms.get(room)?;
        log.messages.get(usize::try_from(seq.0).ok()?.checked_sub(1)?)
    }

    fn head(&self, room: &RoomName) -> u64 {
        self.rooms.get(room).map_or(0, |log| log.messages.len() as u64)
    }

    /// Works out what `batch` stores, without changing anything: the record to
    /// write and the messages to return (originals in place of resends).
    fn plan(&self, batch: Vec<NewMessage>) -> Result<(Record, Vec<Message>), StoreError> {
        let mut record = Record { rooms: Vec::new(), messages: Vec::new() };
        let mut out = Vec::with_capacity(batch.len());
        // Within this batch: seqs taken per room, client ids already placed.
        let mut taken: HashMap<RoomName, u64> = HashMap::new();
        let mut placed: HashMap<(UserId, ClientId), usize> = HashMap::new();
        for new in batch {
            let key = new.client_id.clone().map(|c| (new.user_id, c));
            if let Some(key) = &key {
                if let Some((room, seq)) = self.sent.get(key) {
                    let original = self
                        .find(room, *seq)
                        .ok_or_else(|| StoreError::Internal("client id points at nothing".into()))?;
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
        let mut line = serde_json::to_vec(&record).map_err(|e| StoreError::Internal(e.to_string()))?;
        line.push(b'\n');
        let written = writer.file.write_all(&line).and_then(|()| writer.file.sync_data());
        if let Err(e) = written {
            // Undo the partial write so the log ends on a committed line.
            let len = writer.len;
            if writer.file.set_len(len).and_then(|()| writer.file.sync_data()).is_err() {
                writer.broken = true;
            }
            return Err(io("write the log")(e));
        }
        writer.len += line.len() as u64;
        lock(&self.index)?.apply(record).map_err(StoreError::Internal)?;
        Ok(out)
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
        let Some(log) = index.rooms.get(room) else {
            return Ok(Page { messages: Vec::new(), has_more: false });
        };
        let head = log.messages.len() as u64;
        // The seqs in range, as the 0-based half-open window [lo, hi).
        let lo = range.after_seq().map_or(0, |s| s.0.min(head)) as usize;
        let hi = range.before_seq().map_or(head, |s| s.0.saturating_sub(1).min(head)) as usize;
        let window = if hi > lo { &log.messages[lo..hi] } else { &[][..] };
        let limit = range.limit();
        let (slice, has_more) = if range.from_newest() {
            let start = window.len().saturating_sub(limit);
            (&window[start..], start > 0)
        } else {
            let end = window.len().min(limit);
            (&window[..end], end < window.len())
        };
        Ok(Page { messages: slice.to_vec(), has_more })
    }

    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        let index = lock(&self.inner.index)?;
        Ok(index.rooms.get(room).map_or_else(|| RoomInfo::empty(room.clone()), |log| info(room, log)))
    }

    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError> {
        let index = lock(&self.inner.index)?;
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let rooms = index.rooms.range::<RoomName, _>((from, Bound::Unbounded));
        Ok(RoomsPage::first(rooms.map(|(name, log)| info(name, log)), limit))
    }

    /// Clamped to the head; a mark that moves is one line, written before
    /// the watermark moves in memory.
    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        let head = lock(&self.inner.index)?.rooms.get(room).map_or(0, |log| log.messages.len() as u64);
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

    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError> {
        let read_seq = lock(&self.inner.marks)?.by_user.get(&(user, room.clone())).copied().unwrap_or(Seq::ZERO);
        let index = lock(&self.inner.index)?;
        let after = index.rooms.get(room).map_or(&[][..], |log| {
            log.messages.get(usize::try_from(read_seq.0).unwrap_or(usize::MAX)..).unwrap_or(&[])
        });
        Ok(ReadState { read_seq, unread: after.iter().filter(|m| m.user_id != user).count() as u64 })
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

fn info(name: &RoomName, log: &RoomLog) -> RoomInfo {
    RoomInfo {
        name: name.clone(),
        last_seq: Seq(log.messages.len() as u64),
        epoch: log.epoch,
        last_message_at: log.messages.last().map(|m| m.created_at),
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
            user_id: UserId::random(),
            token: None,
            name: DisplayName::parse("demo").ok(),
            room: Some(lobby.clone()),
            address: None,
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
