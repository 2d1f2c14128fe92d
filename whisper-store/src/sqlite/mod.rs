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
//! A request whose caller stopped waiting before the writer took it into a
//! group is skipped; once in a group it commits (or fails) whole, as
//! [`Store::append`] promises.
//!
//! # Reads
//!
//! Reads use separate read-only connections (at most [`MAX_READERS`], opened
//! lazily, pooled) on tokio's blocking threads. WAL lets them read while the
//! writer writes; they see only committed messages.
//!
//! # Schema
//!
//! Versioned by `PRAGMA user_version`: `schema::MIGRATIONS[i]` takes the file from
//! version `i` to `i + 1`, and [`SqliteStore::open`] applies whatever is
//! missing. A later version adds a step at the end and never edits one.
//!
//! The store expects to be the file's only writer. Another connection writing
//! to it is detected (`PRAGMA data_version`) and the writer then reloads its
//! cached heads, so seqs stay gap-free, but two servers on one file would still
//! each keep their own live fan-out.
//!
//! # Layout
//!
//! This file is the store's API; `schema` opens the file and migrates it,
//! `writer` is the writer thread and its group commit, `rows` turns rows into
//! messages and back, and `error` maps SQLite's errors to [`StoreError`].

mod accounts;
mod error;
mod files;
mod members;
mod read_marks;
mod rows;
mod schema;
mod search;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc, oneshot};
use whisper_core::model::{
    Access, DisplayName, Event, FileId, FileRecord, Message, MessageId, NewEvent, NewMessage, PostedFile, RoomName,
    Seq, Standing, UserId,
};
use whisper_core::store::{
    Applied, LogPage, MAX_PAGE, MemberRoomsPage, NewRoom, Page, ReadMark, ReadRange, ReadState, RoomInfo, RoomsPage,
    Search, SearchPage, Store, StoreError, members_limit, rooms_limit,
};

pub use self::accounts::SqliteAccounts;
use self::error::{store_error, writer_stopped};
use self::rows::{Head, SELECT_ROOM, SELECT_ROOMS_PAGE, corrupt, head_from_row, read_log, read_message, read_page};
use self::schema::{BUSY_TIMEOUT, open_writer};
use self::writer::{Request, Writer};

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
    /// The connection read marks are written on, opened at the first mark.
    marks: Arc<Mutex<Option<Connection>>>,
    /// The connection file records are written on, opened at the first.
    files: Arc<Mutex<Option<Connection>>>,
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
        let writer = Writer::new(conn, rx, commits.clone());
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
            marks: Arc::default(),
            files: Arc::default(),
        })
    }

    /// The accounts and sign-in sessions kept in this file, on a connection
    /// of their own (protocol.md §14).
    pub async fn accounts(&self) -> Result<SqliteAccounts, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || SqliteAccounts::open(&path))
            .await
            .map_err(|e| StoreError::Internal(format!("opening the accounts connection failed: {e}")))?
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

    /// Runs `f` on the files connection (opened at the first use), on a
    /// blocking thread.
    async fn with_files<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (conn, path) = (self.files.clone(), self.path.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            if conn.is_none() {
                *conn = Some(files::open(&path)?);
            }
            let conn = conn.as_ref().ok_or_else(|| StoreError::Internal("no files connection".into()))?;
            f(conn).map_err(store_error)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("SQLite files task failed: {e}")))?
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
        self.marks.lock().unwrap_or_else(PoisonError::into_inner).take();
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
        requests.send(Request::Append { batch, reply }).await.map_err(|_| writer_stopped())?;
        // A closed reply channel means the writer thread is gone.
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError> {
        let room = room.clone();
        self.with_reader(move |conn| read_page(conn, room, range)).await
    }

    /// Through the writer, like an append: the event takes its seq from the
    /// room's head in the same group commit, and its checks run in the
    /// same transaction as its write.
    async fn apply(&self, event: NewEvent) -> Result<Applied, StoreError> {
        let requests = self.requests.as_ref().ok_or_else(writer_stopped)?;
        let (reply, answer) = oneshot::channel();
        let request = Request::Apply { event: Some(Box::new(event)), reply };
        requests.send(request).await.map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn message(&self, room: &RoomName, id: MessageId) -> Result<Option<Message>, StoreError> {
        let room = room.clone();
        self.with_reader(move |conn| read_message(conn, room, id)).await
    }

    async fn log(&self, room: &RoomName, after: Seq, limit: usize) -> Result<LogPage, StoreError> {
        let room = room.clone();
        let limit = limit.clamp(1, MAX_PAGE);
        self.with_reader(move |conn| read_log(conn, room, after, limit)).await
    }

    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        let room = room.clone();
        self.with_reader(move |conn| {
            let head = conn
                .prepare_cached(SELECT_ROOM)?
                .query_row([room.as_str()], |row| Ok((head_from_row(row)?, members::profile_from_row(row, 3)?)))
                .optional()?;
            Ok(match head {
                Some((head, profile)) if head.last_seq > Seq::ZERO => RoomInfo { profile, ..head.info(room) },
                _ => RoomInfo::empty(room),
            })
        })
        .await
    }

    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError> {
        let after = after.map_or_else(String::new, |r| r.as_str().to_owned());
        let limit = rooms_limit(limit);
        self.with_reader(move |conn| {
            let mut stmt = conn.prepare_cached(SELECT_ROOMS_PAGE)?;
            // One more than asked tells whether more lie beyond the page.
            let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
            let rows = stmt.query_map(params![after, fetch], |row| {
                let name = row.get_ref(0)?.as_str()?;
                let name = RoomName::parse(name).map_err(|e| corrupt(0, e))?;
                Ok(RoomInfo { profile: members::profile_from_row(row, 4)?, ..Head::from_row(row, 1)?.info(name) })
            })?;
            let mut rooms = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            let has_more = rooms.len() > limit;
            rooms.truncate(limit);
            Ok(RoomsPage { rooms, has_more })
        })
        .await
    }

    /// Through the writer, like an event: the room's head row, its events
    /// and its members' rows in one transaction.
    async fn create_room(&self, room: NewRoom) -> Result<Option<Vec<Event>>, StoreError> {
        let requests = self.requests.as_ref().ok_or_else(writer_stopped)?;
        let (reply, answer) = oneshot::channel();
        let request = Request::Create { room: Some(Box::new(room)), reply };
        requests.send(request).await.map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }

    async fn access(&self, room: &RoomName, user: UserId) -> Result<Access, StoreError> {
        let room = room.clone();
        self.with_reader(move |conn| members::access(conn, &room, user)).await
    }

    async fn members(
        &self,
        room: &RoomName,
        banned: bool,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, DisplayName, Standing)>, StoreError> {
        let room = room.clone();
        let limit = members_limit(limit);
        self.with_reader(move |conn| members::members(conn, &room, banned, after, limit)).await
    }

    async fn member_rooms(
        &self,
        user: UserId,
        after: Option<&RoomName>,
        limit: usize,
    ) -> Result<MemberRoomsPage, StoreError> {
        let after = after.cloned();
        let limit = rooms_limit(limit);
        self.with_reader(move |conn| members::member_rooms(conn, user, after.as_ref(), limit)).await
    }

    async fn search(&self, search: &Search) -> Result<SearchPage, StoreError> {
        let search = search.clone();
        self.with_reader(move |conn| search::search(conn, &search)).await
    }

    async fn add_file(&self, file: FileRecord) -> Result<(), StoreError> {
        self.with_files(move |conn| files::add(conn, &file)).await
    }

    async fn file(&self, id: FileId) -> Result<Option<PostedFile>, StoreError> {
        self.with_reader(move |conn| files::file(conn, id)).await
    }

    async fn sweep_files(&self, unposted_before: OffsetDateTime, limit: usize) -> Result<Vec<FileRecord>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        self.with_files(move |conn| files::sweep(conn, unposted_before, limit)).await
    }

    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        let (marks, path, room) = (self.marks.clone(), self.path.clone(), room.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = marks.lock().unwrap_or_else(PoisonError::into_inner);
            if conn.is_none() {
                *conn = Some(read_marks::open(&path)?);
            }
            let conn = conn.as_ref().ok_or_else(|| StoreError::Internal("no read-mark connection".into()))?;
            read_marks::mark(conn, user, &room, seq).map_err(store_error)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("SQLite read-mark task failed: {e}")))?
    }

    async fn room_reads(&self, room: &RoomName, limit: usize) -> Result<Vec<(UserId, Seq)>, StoreError> {
        let (room, limit) = (room.clone(), limit.clamp(1, MAX_PAGE));
        self.with_reader(move |conn| read_marks::room_reads(conn, &room, limit)).await
    }

    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError> {
        let room = room.clone();
        self.with_reader(move |conn| read_marks::state(conn, user, &room)).await
    }

    /// Ready when the writer thread runs, the database file is still where
    /// it was opened (an open file keeps working after its directory is
    /// deleted, while nothing new could be opened there), its directory
    /// takes a small real write (a 4 KiB probe file, written, synced and
    /// removed: a full or read-only disk fails it), and a reader can query
    /// the file.
    async fn ping(&self) -> Result<(), StoreError> {
        if self.requests.as_ref().is_none_or(mpsc::Sender::is_closed) {
            return Err(writer_stopped());
        }
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || probe_writable(&path))
            .await
            .map_err(|e| StoreError::Internal(format!("SQLite readiness probe failed: {e}")))??;
        // Touches the file, so an unreadable one is noticed.
        self.with_reader(|conn| {
            conn.prepare_cached("SELECT 1 FROM rooms LIMIT 1")?.query_row([], |_| Ok(())).optional()
        })
        .await
        .map(drop)
    }
}

/// Checks that the database file exists and that its directory takes a
/// small write, synced to disk; the probe file is removed after.
fn probe_writable(path: &Path) -> Result<(), StoreError> {
    use std::io::Write as _;
    let unavailable = |what: &str, e: std::io::Error| {
        StoreError::Unavailable(format!("the SQLite store cannot write: {what} {}: {e}", path.display()))
    };
    std::fs::metadata(path).map_err(|e| unavailable("database file", e))?;
    let mut probe = path.as_os_str().to_owned();
    probe.push("-ready");
    let probe = PathBuf::from(probe);
    let written = std::fs::File::create(&probe).and_then(|mut file| {
        file.write_all(&[0u8; 4096])?;
        file.sync_all()
    });
    let removed = std::fs::remove_file(&probe);
    written.map_err(|e| unavailable("probe next to", e))?;
    removed.map_err(|e| unavailable("probe next to", e))
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

#[cfg(test)]
mod tests {
    use whisper_core::model::{DisplayName, UserId};

    use super::*;

    /// A page of public rooms starts at the cursor in the index of public
    /// rooms: its cost grows neither with the rooms before it nor with the
    /// private rooms beside it (`Store::rooms_page`), and a user's rooms
    /// are a range of the index by member (`Store::member_rooms`).
    #[test]
    fn room_pages_are_range_scans_of_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("whisper.db")).unwrap();
        let plan_of = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> Vec<String> {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            stmt.query_map(params, |row| row.get(3)).unwrap().collect::<Result<_, _>>().unwrap()
        };
        let plan = plan_of(SELECT_ROOMS_PAGE, &[&"lobby", &10]);
        assert!(plan.iter().any(|step| step.contains("SEARCH rooms USING INDEX public_rooms (name>?)")), "{plan:?}");
        assert!(!plan.iter().any(|step| step.contains("SCAN") || step.contains("TEMP B-TREE")), "{plan:?}");
        let plan = plan_of(members::SELECT_MEMBER_ROOMS, &[&"u", &"", &10]);
        assert!(
            plan.iter().any(|step| step.contains("USING INDEX rooms_by_member (user_id=? AND room>?)")),
            "{plan:?}"
        );
        assert!(plan.iter().any(|step| step.contains("SEARCH r USING PRIMARY KEY (name=?)")), "{plan:?}");
        assert!(!plan.iter().any(|step| step.contains("SCAN") || step.contains("TEMP B-TREE")), "{plan:?}");
    }

    /// The timeline's reads and checks are index searches, never scans of a
    /// room (docs/performance.md shows these plans): unread from the
    /// watermark on, an event's target by id, a page's reactions, the log.
    #[test]
    fn timeline_queries_search_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("whisper.db")).unwrap();
        let queries = [
            (read_marks::COUNT_UNREAD, "SEARCH messages USING PRIMARY KEY (room=? AND seq>?)"),
            (writer::SELECT_TARGET, "SEARCH messages USING INDEX messages_by_id (room=? AND id=?)"),
            (rows::SELECT_REACTIONS, "SEARCH reactions USING PRIMARY KEY (room=? AND target_seq>? AND target_seq<?)"),
            (rows::LOG_EVENTS, "SEARCH events USING PRIMARY KEY (room=? AND seq>?)"),
            (rows::SELECT_BY_ID, "SEARCH messages USING INDEX messages_by_id (room=? AND id=?)"),
            (read_marks::ROOM_READS, "USING COVERING INDEX read_marks_by_room (room=?)"),
        ];
        for (sql, wanted) in queries {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let n = stmt.parameter_count();
            let params: Vec<i64> = vec![1; n];
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(params), |row| row.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            eprintln!("{sql}\n  {}", plan.join("\n  "));
            assert!(plan.iter().any(|step| step.contains(wanted)), "{sql}: {plan:?}");
            assert!(!plan.iter().any(|step| step.starts_with("SCAN")), "{sql}: {plan:?}");
        }
    }

    /// Once the writer thread has ended, appends and pings are `Unavailable`
    /// (`Store::append`), never `Internal`.
    #[tokio::test]
    async fn a_store_whose_writer_is_gone_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(dir.path().join("whisper.db")).await.unwrap();
        // Closing the queue ends the writer thread; the store is left with a
        // sender nobody receives from.
        let (gone, receiver) = mpsc::channel(1);
        drop(receiver);
        drop(store.requests.replace(gone));
        store.writer.take().unwrap().join().unwrap();

        let lobby = RoomName::lobby();
        let new = NewMessage::now(lobby.clone(), UserId::random(), DisplayName::parse("ada").unwrap(), "hi", None);
        assert!(matches!(store.append(vec![new]).await, Err(StoreError::Unavailable(_))));
        assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
        store.read(&lobby, ReadRange::latest(10)).await.expect("reads need no writer");
    }
}
