//! The embedded SQLite store, the server's default: one file
//! (`<data dir>/whisper.db`), nothing to install.
//!
//! # Durability
//!
//! The file is in WAL mode with `synchronous=FULL`: `COMMIT` returns only once
//! the write-ahead log is synced to disk, and an append is answered only after
//! its `COMMIT` returned, so an ack means durable (protocol.md §6).
//!
//! # Writes: one writer, group commit
//!
//! A dedicated thread owns the only write connection. [`Store::append`] queues
//! its batch on a channel and waits for the answer. The writer blocks for the
//! first request, then takes everything already queued (up to
//! [`MAX_GROUP_REQUESTS`] requests or about [`MAX_GROUP_MESSAGES`] messages) and
//! commits all of it in one transaction: one sync for the whole group, so the
//! cost of durability is shared by every request that arrived while the
//! previous group was syncing. Each request runs under its own `SAVEPOINT`, so a
//! request that fails is rolled back alone and the rest of its group commits.
//!
//! The writer assigns seqs from its own cache of room heads, so appending a
//! message is one `INSERT` (plus one `SELECT` for a resend). Idempotency by
//! `(user_id, client_id)` is the unique index's job: `INSERT … ON CONFLICT DO
//! NOTHING` stores nothing for a resend, which is then answered with the
//! original. This covers resends of messages stored long ago, earlier in the
//! same group and earlier in the same batch alike.
//!
//! # Reads
//!
//! Reads use separate read-only connections (at most [`MAX_READERS`], opened
//! lazily, pooled) on tokio's blocking threads. WAL lets them read while the
//! writer writes; they see only committed messages.
//!
//! # Schema
//!
//! Versioned by `PRAGMA user_version`: `MIGRATIONS[i]` takes the file from
//! version `i` to `i + 1`, and [`SqliteStore::open`] applies whatever is
//! missing. A later version adds a step at the end and never edits one.
//!
//! The store expects to be the file's only writer. Another connection writing
//! to it is detected (`PRAGMA data_version`) and the writer then reloads its
//! cached heads, so seqs stay gap-free, but two servers on one file would still
//! each keep their own live fan-out.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::{Type, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc, oneshot};
use whisper_core::model::{ClientId, DisplayName, Epoch, Message, MessageId, NewMessage, RoomName, Seq, UserId};
use whisper_core::store::{Page, ReadRange, RoomInfo, Store, StoreError};

/// The most append requests one transaction commits.
pub const MAX_GROUP_REQUESTS: usize = 1_000;
/// The writer stops adding requests to a group once it holds this many
/// messages (a group may exceed it by one request's batch). Bounds how long
/// one transaction holds the requests that arrive meanwhile.
pub const MAX_GROUP_MESSAGES: usize = 10_000;
/// The most read connections open at once (and reads running at once).
pub const MAX_READERS: usize = 4;

/// Append requests waiting for the writer. When full, appenders wait
/// (asynchronously) for room: back-pressure instead of unbounded memory.
const QUEUE_CAPACITY: usize = 4_096;
/// How long a statement waits for a lock held by another connection before
/// failing with `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The writer forgets its cached heads past this many rooms, so a flood of
/// rooms cannot grow its memory without bound; heads reload on demand.
const MAX_CACHED_HEADS: usize = 65_536;

/// The schema, one step per version (see the module docs). Never edit a
/// released step: add a new one.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    //
    // `messages` is clustered by (room, seq) (WITHOUT ROWID): appending is an
    // insert at the end of the room's range, and a page of history is one
    // contiguous range scan. Ids and user ids are stored as their canonical
    // text so the file reads well in the `sqlite3` shell. `created_at` is
    // Unix milliseconds: a message's time is truncated to milliseconds, so it
    // round-trips exactly. The partial unique index enforces idempotent resend
    // (protocol.md §7) and finds the original of a resend.
    //
    // `rooms` holds each room's head, so a room's latest seq is one lookup and
    // rooms are listed without scanning messages. No foreign key from
    // `messages` to `rooms`: the writer maintains both in one transaction and
    // a per-insert check would only cost time.
    "CREATE TABLE rooms (
        name            TEXT    NOT NULL PRIMARY KEY,
        last_seq        INTEGER NOT NULL,
        epoch           INTEGER NOT NULL,
        last_message_at INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE messages (
        room       TEXT    NOT NULL,
        seq        INTEGER NOT NULL,
        id         TEXT    NOT NULL,
        user_id    TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        content    TEXT    NOT NULL,
        client_id  TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX messages_by_client_id ON messages (user_id, client_id) WHERE client_id IS NOT NULL;",
];

/// Stores a message unless its `(user_id, client_id)` is already stored.
const INSERT_MESSAGE: &str = "INSERT INTO messages (room, seq, id, user_id, name, content, client_id, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
     ON CONFLICT (user_id, client_id) WHERE client_id IS NOT NULL DO NOTHING";
/// The columns every message query selects, in the order [`Decoder`] reads them.
macro_rules! message_columns {
    () => {
        "SELECT room, seq, id, user_id, name, content, client_id, created_at FROM messages "
    };
}
const SELECT_ORIGINAL: &str = concat!(message_columns!(), "WHERE user_id = ?1 AND client_id = ?2");
const READ_NEWEST: &str = concat!(message_columns!(), "WHERE room = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3");
const READ_FORWARD: &str =
    concat!(message_columns!(), "WHERE room = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq LIMIT ?4");
const SELECT_HEAD: &str = "SELECT last_seq, epoch, last_message_at FROM rooms WHERE name = ?1";
const SELECT_ROOMS: &str = "SELECT name, last_seq, epoch, last_message_at FROM rooms WHERE last_seq > 0 ORDER BY name";
const UPSERT_HEAD: &str = "INSERT INTO rooms (name, last_seq, epoch, last_message_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq, last_message_at = excluded.last_message_at";

/// The embedded SQLite store: one file, a writer thread with group commit, and
/// a small pool of readers. See the [module docs](self).
///
/// Dropping it closes the queue; the writer commits what was already queued,
/// then closes the file, and the drop waits for that (at most one group), so
/// the same file can be reopened at once.
pub struct SqliteStore {
    path: PathBuf,
    /// `None` only while dropping.
    requests: Option<mpsc::Sender<Request>>,
    /// `None` only while dropping.
    writer: Option<JoinHandle<()>>,
    readers: Arc<Readers>,
    /// Bounds reads in flight, so the pool never holds more than
    /// [`MAX_READERS`] connections.
    read_permits: Arc<Semaphore>,
    commits: Arc<AtomicU64>,
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent directories) the database
    /// file at `path`, brings its schema up to date and starts the writer.
    ///
    /// Fails with `Unavailable` if the file cannot be opened or written, and
    /// with `Internal` if it is not a WhisperChat database this version knows
    /// (e.g. written by a newer version).
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let writer_path = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_writer(&writer_path))
            .await
            .map_err(|e| StoreError::Internal(format!("opening the SQLite store failed: {e}")))??;
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let commits = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            conn,
            requests: rx,
            commits: commits.clone(),
            heads: HashMap::new(),
            dirty: HashMap::new(),
            undo: Vec::new(),
            data_version: None,
        };
        let handle = std::thread::Builder::new()
            .name("whisper-sqlite-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Unavailable(format!("cannot start the SQLite writer thread: {e}")))?;
        tracing::info!(path = %path.display(), "SQLite store open");
        Ok(SqliteStore {
            readers: Arc::new(Readers { path: path.clone(), idle: Mutex::new(Vec::new()) }),
            path,
            requests: Some(tx),
            writer: Some(handle),
            read_permits: Arc::new(Semaphore::new(MAX_READERS)),
            commits,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many transactions the writer has committed since the store was
    /// opened. Each acknowledges one or more appends, so appends divided by
    /// commits is the mean group size.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Runs `f` on a read connection, on a blocking thread.
    async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let permit = self
            .read_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Internal("SQLite read permits closed".into()))?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            // Held until the read is done, even if the caller stops waiting.
            let _permit = permit;
            readers.run(f)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("SQLite read task failed: {e}")))?
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("commits", &self.commits())
            .finish_non_exhaustive()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Idle readers go first, so that the writer's connection is the
        // file's last one: closing it checkpoints the WAL and removes it.
        self.readers.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
        // Closing the queue is the writer's signal to finish and stop.
        drop(self.requests.take());
        // Wait for it: once the store is gone, the file is closed and can be
        // reopened at once (a restart in the same process, a test).
        let panicked = self.writer.take().is_some_and(|writer| writer.join().is_err());
        if panicked {
            tracing::error!(path = %self.path.display(), "the SQLite writer thread panicked");
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let requests = self.requests.as_ref().ok_or_else(writer_stopped)?;
        let (reply, answer) = oneshot::channel();
        requests.send(Request { batch, reply }).await.map_err(|_| writer_stopped())?;
        // A closed reply channel means the writer thread is gone.
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError> {
        let room = room.clone();
        self.with_reader(move |conn| read_page(conn, room, range)).await
    }

    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        let room = room.clone();
        self.with_reader(move |conn| {
            let head = conn.prepare_cached(SELECT_HEAD)?.query_row([room.as_str()], head_from_row).optional()?;
            Ok(match head {
                Some(head) if head.last_seq > Seq::ZERO => head.info(room),
                _ => RoomInfo::empty(room),
            })
        })
        .await
    }

    async fn rooms(&self) -> Result<Vec<RoomInfo>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare_cached(SELECT_ROOMS)?;
            let rows = stmt.query_map([], |row| {
                let name = row.get_ref(0)?.as_str()?;
                let name = RoomName::parse(name).map_err(|e| corrupt(0, e))?;
                Ok(Head::from_row(row, 1)?.info(name))
            })?;
            rows.collect()
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.requests.as_ref().is_none_or(mpsc::Sender::is_closed) {
            return Err(writer_stopped());
        }
        // Touches the file, so a deleted or unreadable one is noticed.
        self.with_reader(|conn| {
            conn.prepare_cached("SELECT 1 FROM rooms LIMIT 1")?.query_row([], |_| Ok(())).optional()
        })
        .await
        .map(drop)
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer has stopped".into())
}

/// Maps a driver error: what may pass if retried later (locks, I/O, a full
/// disk, permissions) is `Unavailable`, anything else `Internal`.
fn store_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed,
        ) => StoreError::Unavailable(format!("SQLite: {e}")),
        _ => StoreError::Internal(format!("SQLite: {e}")),
    }
}

/// A value in the file that no valid message could have produced.
fn corrupt(column: usize, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Text, e.into())
}

/// Opens the write connection: WAL, `synchronous=FULL`, schema up to date.
fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut conn = Connection::open(path).map_err(store_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(store_error)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(store_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!("{}: SQLite cannot use WAL here (got {mode})", path.display())));
    }
    conn.execute_batch(
        // FULL: a commit syncs the WAL, so an ack survives a power cut, not
        // just a crash of the process (NORMAL would).
        "PRAGMA synchronous = FULL;
         -- Checkpoint every ~40 MiB of WAL rather than SQLite's 4 MiB: the
         -- pages every commit rewrites (b-tree interiors, room heads, the
         -- tails of busy rooms) are copied into the file once per checkpoint,
         -- not once per few commits, and the WAL's blocks are reused rather
         -- than reallocated. Measured: about 3x shorter commits under load
         -- (benches/benches/ingest_sqlite.rs).
         PRAGMA wal_autocheckpoint = 10000;
         -- After a checkpoint, shrink a WAL that a burst grew past 64 MiB.
         PRAGMA journal_size_limit = 67108864;
         -- A request's savepoint keeps the pages it changes in a
         -- sub-journal, which SQLite spills to a temporary file past 64 KiB
         -- (a batch of 100 messages). In memory it is at most a few hundred
         -- KiB per request.
         PRAGMA temp_store = MEMORY;
         -- 32 MiB of page cache for the writer: the tails of the hot rooms
         -- and of the client id index stay in memory.
         PRAGMA cache_size = -32768;",
    )
    .map_err(store_error)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Applies the missing [`MIGRATIONS`] in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // IMMEDIATE: two processes opening a fresh file at once do not both
    // migrate it; the second sees the first one's version.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(store_error)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(store_error)?;
    let from = usize::try_from(version).ok().filter(|v| *v <= MIGRATIONS.len()).ok_or_else(|| {
        StoreError::Internal(format!(
            "database schema version {version} is not one this server knows (1..={}); is it from a newer version?",
            MIGRATIONS.len()
        ))
    })?;
    if from == MIGRATIONS.len() {
        return Ok(());
    }
    for step in &MIGRATIONS[from..] {
        tx.execute_batch(step).map_err(store_error)?;
    }
    // `user_version` lives in the file header and is part of the transaction.
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64).map_err(store_error)?;
    tx.commit().map_err(store_error)?;
    tracing::info!(from, to = MIGRATIONS.len(), "SQLite schema migrated");
    Ok(())
}

/// Opens a read connection. Read-only: only the writer writes.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(store_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(store_error)?;
    Ok(conn)
}

/// Idle read connections, each with its own cache of prepared statements.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    fn run<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        // A panic cannot leave a Vec of idle connections inconsistent, so a
        // poisoned lock is still usable.
        let pooled = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let out = f(&conn).map_err(store_error);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_READERS {
            idle.push(conn);
        }
        out
    }
}

fn read_page(conn: &Connection, room: RoomName, range: ReadRange) -> rusqlite::Result<Page> {
    let limit = range.limit();
    // One more than asked tells whether more lie beyond the page.
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let before = range.before_seq().map_or(i64::MAX, seq_param);
    let mut decoder = Decoder::new(room);
    let mut messages = Vec::with_capacity((limit + 1).min(64));
    let newest = range.from_newest();
    if let Some(after) = range.after_seq() {
        let mut stmt = conn.prepare_cached(READ_FORWARD)?;
        let mut rows = stmt.query(params![decoder.room.as_str(), seq_param(after), before, fetch])?;
        while let Some(row) = rows.next()? {
            messages.push(decoder.decode(row)?);
        }
    } else {
        // The last `limit` below `before`: read newest first, then flip.
        let mut stmt = conn.prepare_cached(READ_NEWEST)?;
        let mut rows = stmt.query(params![decoder.room.as_str(), before, fetch])?;
        while let Some(row) = rows.next()? {
            messages.push(decoder.decode(row)?);
        }
    }
    let has_more = messages.len() > limit;
    messages.truncate(limit);
    if newest {
        messages.reverse();
    }
    Ok(Page { messages, has_more })
}

/// A seq as SQLite's signed integer. Seqs beyond `i64::MAX` cannot be stored,
/// so as a bound such a seq means "past everything".
fn seq_param(seq: Seq) -> i64 {
    i64::try_from(seq.0).unwrap_or(i64::MAX)
}

fn unix_millis(t: OffsetDateTime) -> i64 {
    // In range for any year SQLite or `time` can represent.
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_unix_millis(column: usize, ms: i64) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(|e| corrupt(column, e))
}

fn get_u64(row: &Row<'_>, column: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(column)?;
    u64::try_from(v).map_err(|e| corrupt(column, e))
}

/// Turns message rows (the columns of `message_columns!`) back into
/// messages, sharing the room's and the last author's name between them
/// rather than allocating one per row.
struct Decoder {
    room: RoomName,
    last_name: Option<DisplayName>,
}

impl Decoder {
    fn new(room: RoomName) -> Self {
        Decoder { room, last_name: None }
    }

    fn decode(&mut self, row: &Row<'_>) -> rusqlite::Result<Message> {
        let room = row.get_ref(0)?.as_str()?;
        let room = if room == self.room.as_str() {
            self.room.clone()
        } else {
            // Only a resend into another room than the original's gets here.
            RoomName::parse(room).map_err(|e| corrupt(0, e))?
        };
        let seq = Seq(get_u64(row, 1)?);
        let id = MessageId::parse(row.get_ref(2)?.as_str()?).map_err(|_| corrupt(2, "not a ULID"))?;
        let user_id = UserId::parse(row.get_ref(3)?.as_str()?).map_err(|e| corrupt(3, e))?;
        let name = row.get_ref(4)?.as_str()?;
        let name = match &self.last_name {
            Some(last) if last.as_str() == name => last.clone(),
            _ => {
                let parsed = DisplayName::parse(name).map_err(|e| corrupt(4, e))?;
                self.last_name = Some(parsed.clone());
                parsed
            }
        };
        let content: Arc<str> = Arc::from(row.get_ref(5)?.as_str()?);
        let client_id = match row.get_ref(6)? {
            ValueRef::Null => None,
            value => Some(ClientId::parse(value.as_str()?).map_err(|e| corrupt(6, e))?),
        };
        let created_at = from_unix_millis(7, row.get(7)?)?;
        Ok(Message { id, room, seq, user_id, name, content, client_id, created_at })
    }
}

/// A room's head as the writer tracks it.
#[derive(Clone, Copy, Debug)]
struct Head {
    last_seq: Seq,
    epoch: Epoch,
    /// Unix milliseconds.
    last_message_at: Option<i64>,
}

impl Head {
    /// The head of a room about to get its first message.
    fn fresh() -> Self {
        Head { last_seq: Seq::ZERO, epoch: Epoch::fresh(), last_message_at: None }
    }

    /// Reads `last_seq, epoch, last_message_at` starting at column `first`.
    fn from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<Head> {
        let last_message_at: Option<i64> = row.get(first + 2)?;
        if let Some(ms) = last_message_at {
            // Checked here so that `info` cannot fail.
            from_unix_millis(first + 2, ms)?;
        }
        Ok(Head { last_seq: Seq(get_u64(row, first)?), epoch: Epoch(get_u64(row, first + 1)?), last_message_at })
    }

    fn info(self, name: RoomName) -> RoomInfo {
        RoomInfo {
            name,
            last_seq: self.last_seq,
            epoch: self.epoch,
            last_message_at: self
                .last_message_at
                .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()),
        }
    }
}

fn head_from_row(row: &Row<'_>) -> rusqlite::Result<Head> {
    Head::from_row(row, 0)
}

/// One append waiting for the writer.
struct Request {
    batch: Vec<NewMessage>,
    reply: oneshot::Sender<Result<Vec<Message>, StoreError>>,
}

/// The writer thread's state. Never panics: every failure becomes an answer.
struct Writer {
    conn: Connection,
    requests: mpsc::Receiver<Request>,
    commits: Arc<AtomicU64>,
    /// Committed heads of the rooms seen so far. Saves a `SELECT` per
    /// message; only ever holds what is in the file.
    heads: HashMap<RoomName, Head>,
    /// Heads the current group changed, not yet committed.
    dirty: HashMap<RoomName, Head>,
    /// For the request in progress: each room it touched and its `dirty`
    /// entry before, so a failed request's changes can be undone.
    undo: Vec<(RoomName, Option<Head>)>,
    /// `PRAGMA data_version` when this connection last looked: it changes
    /// when another connection commits, which makes `heads` stale.
    data_version: Option<i64>,
}

impl Writer {
    fn run(mut self) {
        let mut group: Vec<Request> = Vec::new();
        let mut answers: Vec<Result<Vec<Message>, StoreError>> = Vec::new();
        while let Some(first) = self.requests.blocking_recv() {
            // Everything that queued up while the previous group was syncing
            // goes into this one.
            let mut messages = first.batch.len();
            group.push(first);
            while group.len() < MAX_GROUP_REQUESTS && messages < MAX_GROUP_MESSAGES {
                match self.requests.try_recv() {
                    Ok(next) => {
                        messages += next.batch.len();
                        group.push(next);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(&mut group, &mut answers);
        }
        // The queue is closed and empty. Dropping the connection closes the
        // file (checkpointing the WAL into it).
    }

    /// Commits a group and answers each of its requests, only after COMMIT.
    fn commit_group(&mut self, group: &mut Vec<Request>, answers: &mut Vec<Result<Vec<Message>, StoreError>>) {
        answers.clear();
        match self.write_group(group, answers) {
            Ok(()) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                if self.heads.len() > MAX_CACHED_HEADS {
                    self.heads.clear();
                }
                self.heads.extend(self.dirty.drain());
                for (request, answer) in group.drain(..).zip(answers.drain(..)) {
                    // The appender may have stopped waiting; its messages are
                    // stored all the same, and a resend finds them.
                    let _ = request.reply.send(answer);
                }
            }
            Err(e) => {
                let e = store_error(e);
                tracing::warn!(error = %e, requests = group.len(), "SQLite group commit failed");
                if !self.conn.is_autocommit() {
                    if let Err(rollback) = self.conn.execute_batch("ROLLBACK") {
                        tracing::error!(error = %rollback, "SQLite rollback failed");
                    }
                }
                // Whether anything reached the file is not certain after a
                // failed COMMIT: reload every head from the file.
                self.heads.clear();
                self.dirty.clear();
                self.undo.clear();
                for request in group.drain(..) {
                    let _ = request.reply.send(Err(e.clone()));
                }
            }
        }
    }

    /// Writes every request of `group` in one transaction and commits it,
    /// pushing one answer per request into `answers`. An error fails the
    /// whole group; a request's own failure is its answer only.
    fn write_group(
        &mut self,
        group: &mut [Request],
        answers: &mut Vec<Result<Vec<Message>, StoreError>>,
    ) -> rusqlite::Result<()> {
        let Writer { conn, heads, dirty, undo, data_version, .. } = self;
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let version: i64 = conn.prepare_cached("PRAGMA data_version")?.query_row([], |row| row.get(0))?;
        if *data_version != Some(version) {
            heads.clear();
            *data_version = Some(version);
        }
        let mut stmts = Statements {
            insert: conn.prepare_cached(INSERT_MESSAGE)?,
            original: conn.prepare_cached(SELECT_ORIGINAL)?,
            head: conn.prepare_cached(SELECT_HEAD)?,
        };
        let mut savepoint = conn.prepare_cached("SAVEPOINT request")?;
        let mut release = conn.prepare_cached("RELEASE request")?;
        let mut rollback_to = conn.prepare_cached("ROLLBACK TO request")?;
        for request in group.iter_mut() {
            savepoint.execute([])?;
            let batch = std::mem::take(&mut request.batch);
            match append_batch(&mut stmts, heads, dirty, undo, batch) {
                Ok(stored) => {
                    release.execute([])?;
                    answers.push(Ok(stored));
                }
                Err(e) => {
                    if conn.is_autocommit() {
                        // SQLite rolled back the whole transaction (I/O
                        // error, full disk…): the group is lost.
                        return Err(e);
                    }
                    rollback_to.execute([])?;
                    release.execute([])?;
                    for (room, before) in undo.drain(..).rev() {
                        match before {
                            Some(head) => dirty.insert(room, head),
                            None => dirty.remove(&room),
                        };
                    }
                    tracing::warn!(error = %e, "SQLite append failed; the rest of its group goes on");
                    answers.push(Err(store_error(e)));
                }
            }
            undo.clear();
        }
        drop(stmts);
        let mut upsert = conn.prepare_cached(UPSERT_HEAD)?;
        for (room, head) in dirty.iter() {
            // A room touched only by resends of messages stored elsewhere
            // has no message: it gets no row.
            if head.last_seq > Seq::ZERO {
                upsert.execute(params![
                    room.as_str(),
                    seq_param(head.last_seq),
                    head.epoch.0 as i64,
                    head.last_message_at
                ])?;
            }
        }
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }
}

/// The writer's per-message statements, prepared once per group.
struct Statements<'conn> {
    insert: rusqlite::CachedStatement<'conn>,
    original: rusqlite::CachedStatement<'conn>,
    head: rusqlite::CachedStatement<'conn>,
}

/// Stores one request's batch (inside its savepoint) and returns what the
/// appender gets back: one message per input, in input order.
fn append_batch(
    stmts: &mut Statements<'_>,
    heads: &mut HashMap<RoomName, Head>,
    dirty: &mut HashMap<RoomName, Head>,
    undo: &mut Vec<(RoomName, Option<Head>)>,
    batch: Vec<NewMessage>,
) -> rusqlite::Result<Vec<Message>> {
    let mut out = Vec::with_capacity(batch.len());
    for new in batch {
        let head = head_mut(&mut stmts.head, heads, dirty, undo, &new.room)?;
        let seq = head.last_seq.next();
        let created_at = unix_millis(new.created_at);
        // Text forms encoded on the stack: no allocation per message.
        let mut id_buf = [0u8; ulid::ULID_LEN];
        let id = new.id.as_ulid().array_to_str(&mut id_buf);
        let mut user_buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let user = new.user_id.as_uuid().hyphenated().encode_lower(&mut user_buf);
        let inserted = stmts.insert.execute(params![
            new.room.as_str(),
            seq_param(seq),
            &*id,
            &*user,
            new.name.as_str(),
            &*new.content,
            new.client_id.as_ref().map(ClientId::as_str),
            created_at,
        ])?;
        if inserted == 1 {
            head.last_seq = seq;
            head.last_message_at = Some(created_at);
            out.push(new.stored_at(seq));
            continue;
        }
        // Nothing inserted: `(user_id, client_id)` is already stored, maybe
        // earlier in this very batch. Answer with the original.
        let client_id = new.client_id.as_ref().map(ClientId::as_str).ok_or_else(|| corrupt(6, "insert ignored"))?;
        let mut decoder = Decoder::new(new.room);
        let original = stmts.original.query_row(params![&*user, client_id], |row| decoder.decode(row))?;
        out.push(original);
    }
    Ok(out)
}

/// The head of `room` for the group in progress, loaded into `dirty` (from
/// the cache, the file, or fresh) and noted in `undo` on first touch by the
/// current request.
fn head_mut<'d>(
    select_head: &mut rusqlite::CachedStatement<'_>,
    heads: &mut HashMap<RoomName, Head>,
    dirty: &'d mut HashMap<RoomName, Head>,
    undo: &mut Vec<(RoomName, Option<Head>)>,
    room: &RoomName,
) -> rusqlite::Result<&'d mut Head> {
    if !undo.iter().any(|(r, _)| r == room) {
        undo.push((room.clone(), dirty.get(room).copied()));
    }
    Ok(match dirty.entry(room.clone()) {
        Entry::Occupied(entry) => entry.into_mut(),
        Entry::Vacant(entry) => {
            let committed = match heads.get(room) {
                Some(head) => *head,
                None => match select_head.query_row([room.as_str()], head_from_row).optional()? {
                    Some(head) => {
                        heads.insert(room.clone(), head);
                        head
                    }
                    None => Head::fresh(),
                },
            };
            entry.insert(committed)
        }
    })
}
