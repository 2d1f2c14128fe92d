//! The PostgreSQL store: several nodes may share one database (docs/deployment.md).
//!
//! # Schema (migration 1)
//!
//! ```sql
//! rooms    (name TEXT COLLATE "C" PRIMARY KEY, last_seq BIGINT, epoch BIGINT, last_message_at BIGINT)
//! messages (room TEXT COLLATE "C", seq BIGINT, id TEXT, user_id UUID, name TEXT, content TEXT,
//!           client_id TEXT NULL, created_at BIGINT, PRIMARY KEY (room, seq), UNIQUE (user_id, client_id))
//! ```
//!
//! Times are Unix milliseconds in `BIGINT`s: messages are accepted at
//! millisecond precision, so this round-trips them exactly without needing the
//! driver's date-time support. `COLLATE "C"` makes room names sort bytewise,
//! as `RoomName` does, whatever the database's locale.
//!
//! Migrations are versioned in `whisper_migrations` and run at start-up under
//! an advisory lock, so several nodes may start at once.
//!
//! # Writes: group commit
//!
//! Every [`Store::append`] goes to one writer task over a channel. The writer
//! takes everything queued (up to [`MAX_GROUP_MESSAGES`]) as one group and
//! stores it with a single statement, which PostgreSQL runs as one
//! transaction: it upserts every touched room's row, adding the number of new
//! messages to `last_seq` (`RETURNING last_seq`), and inserts all new messages
//! with seqs derived from it (`INSERT ... SELECT FROM UNNEST`). The room row
//! stays locked until commit, so a room's seqs are assigned in commit order
//! and without gaps across every node and connection. Rooms are upserted in
//! name order, so two transactions never deadlock on them.
//!
//! The writer has two connections. The second is used only for a large group
//! while the first is still committing, so that under heavy load PostgreSQL
//! starts on the next group while the previous one's reply is still on its way
//! (see `dispatch`). Two appends in flight at once may thus commit in either
//! order, as they may on two nodes; appends awaited one after the other are
//! stored in that order.
//!
//! Idempotent resend rests on `UNIQUE (user_id, client_id)`. Resends are
//! rare, so a group is first stored optimistically, as if none of its client
//! ids were known: one round trip per group. If one was (a resend, or another
//! node storing the same message at the same moment), the constraint fails
//! the statement, nothing of it is stored, and the group is tried again after
//! one query that looks up all its `(user_id, client_id)` pairs: those found
//! return their originals and only the rest are stored. Duplicates within a
//! group are resolved before anything is sent.
//!
//! Each request in a group stays atomic: the statement stores all of the group
//! or none of it. If it fails for a reason that is not the database's
//! availability (so possibly caused by one request's data), every request is
//! retried on its own so that one bad request does not sink the others.
//!
//! A request whose caller stopped waiting before its group was sent is
//! skipped, and a store whose writer task is gone answers `Unavailable`, as
//! [`Store::append`] promises.
//!
//! # Failures
//!
//! Lost connections, timeouts, an administrator shutting the server down and
//! the like become [`StoreError::Unavailable`], never an acknowledgement. A
//! connection that failed is dropped, not returned to the pool, and the next
//! request opens a fresh one, so the store recovers by itself once PostgreSQL
//! is back. Every wait is bounded (connecting, waiting for the pool, each
//! statement), so a dead database answers within seconds instead of hanging.
//!
//! A request is tried once more on a fresh connection when that is safe:
//! reads always; a group when the connection failed before its statement was
//! sent, or when every message in it has a client id (the retry then finds
//! whatever a lost first try committed). Otherwise a statement whose reply
//! was lost may or may not have committed, and the caller gets
//! `Unavailable`; a client resending with its client id gets the original
//! either way.
//!
//! # Connections
//!
//! [`PostgresStore::connect`] keeps the tables in the connection's default
//! schema; [`PostgresStore::connect_with_schema`] in a schema of their own
//! (set as `search_path` on every pooled connection), so that several stores
//! can share a database, e.g. one per test.

//!
//! # Layout
//!
//! This file is the store's API and its reads; `schema` holds the tables,
//! their migrations and the database administration tests use; `writer` the
//! writer task and its group commit; `plan` the pure part of planning a
//! group (seqs and duplicates, no database); `rows` the decoding of rows; and
//! `error` the mapping of driver and pool errors to [`StoreError`];
//! `timeline` the events (protocol.md §13): their checked writes, the log
//! and reactions.

mod accounts;
mod error;
mod file_chunks;
mod files;
mod members;
mod plan;
mod rows;
mod schema;
mod search;
mod timeline;
mod writer;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row};
use whisper_core::model::{
    Access, DisplayName, Event, FileId, FileRecord, Message, MessageId, NewEvent, NewMessage, PostedFile, RoomName,
    Seq, Standing, UserId,
};
use whisper_core::store::{
    Applied, LogPage, MemberRoomsPage, NewRoom, Page, ReadMark, ReadRange, ReadState, RoomInfo, RoomsPage, Search,
    SearchPage, Store, StoreError, members_limit, rooms_limit,
};

pub use self::accounts::PostgresAccounts;
use self::error::{bounded, bounded_raw, classify, discard, pool_error, timed_out, writer_gone};
pub use self::file_chunks::PostgresFiles;
use self::rows::{decode_message, decode_room, to_i64};
use self::schema::{admin, identifier, migrate, with_database};
use self::writer::{AppendRequest, WRITER_CONNECTIONS, Writer, dispatch};

/// Most messages the writer commits in one group. Bounds the statement's
/// parameter arrays; a single larger batch is still committed whole.
pub const MAX_GROUP_MESSAGES: usize = 2048;

/// Connections in the pool: [`WRITER_CONNECTIONS`] are held by the writer,
/// the rest serve reads.
const POOL_SIZE: usize = 16;

/// How long a request may wait for a pooled connection, or for a new one to
/// be established or an idle one checked, before the store reports itself
/// unavailable.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);
/// Connect timeout, when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Idle time before TCP keep-alive probes start, at most.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// Append requests that may wait for the writer; beyond this, `append` waits
/// for room in the queue (back-pressure).
const QUEUE_CAPACITY: usize = 4096;

/// A page read forward: the first `$4` messages of room `$1` with
/// `$2 < seq < $3`. Columns as [`decode_message`] reads them.
const READ_FORWARD_SQL: &str = "SELECT room, seq, id, user_id::text, name, COALESCE(edited_content, content), \
            client_id, created_at, reply_to, edited_at, deleted, principal, external_id, attachments \
     FROM messages WHERE room = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4";
/// A page from the newest end: the last `$4` messages of room `$1` with
/// `$2 < seq < $3`, newest first.
const READ_NEWEST_SQL: &str = "SELECT room, seq, id, user_id::text, name, COALESCE(edited_content, content), \
            client_id, created_at, reply_to, edited_at, deleted, principal, external_id, attachments \
     FROM messages WHERE room = $1 AND seq > $2 AND seq < $3 ORDER BY seq DESC LIMIT $4";

/// A page of rooms: those after `$1` by name, at most `$2`.
/// Moves a read watermark up to `$3`, clamped to the room's head
/// (protocol.md §12); returns a row only when it moved.
const MARK_READ_SQL: &str = "INSERT INTO read_marks AS r (user_id, room, read_seq) \
     SELECT $1::text::uuid, $2, LEAST($3, last_seq) FROM rooms WHERE name = $2 AND LEAST($3, last_seq) > 0 \
     ON CONFLICT (user_id, room) DO UPDATE SET read_seq = excluded.read_seq WHERE excluded.read_seq > r.read_seq \
     RETURNING read_seq";
const SELECT_MARK_SQL: &str = "SELECT read_seq FROM read_marks WHERE user_id = $1::text::uuid AND room = $2";
/// A user's watermark in a room and the messages by others after it,
/// deleted ones not counted.
const READ_STATE_SQL: &str = "WITH mark AS (SELECT COALESCE( \
         (SELECT read_seq FROM read_marks WHERE user_id = $1::text::uuid AND room = $2), 0) AS seq) \
     SELECT mark.seq, (SELECT count(*) FROM messages m \
         WHERE m.room = $2 AND m.seq > mark.seq AND m.user_id <> $1::text::uuid AND NOT m.deleted) FROM mark";
const ROOMS_PAGE_SQL: &str = "SELECT name, last_seq, epoch, last_message_at, visibility, title, topic FROM rooms \
     WHERE visibility = 0 AND name > $1 AND last_seq > 0 ORDER BY name LIMIT $2";

/// A non-negative BIGINT column as a seq or count.
fn seq_of(row: &Row, column: usize) -> Result<u64, StoreError> {
    let n: i64 = row.try_get(column).map_err(|e| StoreError::Internal(format!("read state: {e}")))?;
    u64::try_from(n).map_err(|_| StoreError::Internal(format!("read state: negative value {n}")))
}

/// Messages in PostgreSQL, shared by any number of nodes.
///
/// Cheap to share behind an `Arc`; dropping the last handle stops its writer
/// task and closes its connections.
pub struct PostgresStore {
    pool: Pool,
    writer: mpsc::Sender<AppendRequest>,
    schema: Option<String>,
}

impl fmt::Debug for PostgresStore {
    // By hand: the pool's configuration would print connection details.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("connections", &status.size)
            .field("queued_appends", &(QUEUE_CAPACITY - self.writer.capacity()))
            .finish()
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://` URL or a
    /// `key=value` connection string, as `tokio_postgres::Config` parses),
    /// migrates it to the current schema and starts the writer.
    ///
    /// Tables live in the connection's default `search_path` (normally
    /// `public`). Fails with [`StoreError::Unavailable`] if the database
    /// cannot be reached, and [`StoreError::Internal`] if the URL is invalid
    /// or a migration fails.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open(url, None).await
    }

    /// Like [`connect`](PostgresStore::connect), but keeps every table in
    /// `schema` (created if missing): each pooled connection starts with
    /// `search_path` set to it. Lets several independent stores share one
    /// database, e.g. one per test. `schema` must be a lowercase SQL
    /// identifier (`[a-z_][a-z0-9_]*`, at most 63 bytes).
    pub async fn connect_with_schema(url: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::open(url, Some(identifier(schema)?)).await
    }

    /// Creates the database `name` on the server `url` points at (connecting
    /// to `url`'s own database to do so) and returns `url` rewritten to name
    /// the new database. For tests, benchmarks and tools; `name` must be a
    /// lowercase SQL identifier.
    pub async fn create_database(url: &str, name: &str) -> Result<String, StoreError> {
        let name = identifier(name)?;
        admin(url, &format!("CREATE DATABASE \"{name}\"")).await?;
        Ok(with_database(url, name))
    }

    /// Drops the database `name` (if it exists) on the server `url` points
    /// at, disconnecting whoever is still connected to it.
    pub async fn drop_database(url: &str, name: &str) -> Result<(), StoreError> {
        let name = identifier(name)?;
        admin(url, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await
    }

    async fn open(url: &str, schema: Option<&str>) -> Result<PostgresStore, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Internal(format!("invalid database URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // TCP keep-alives notice a peer that vanished without closing the
        // connection, so an idle pooled connection does not look alive for
        // hours (the driver's default).
        if config.get_keepalives_idle() > KEEPALIVE_IDLE {
            config.keepalives_idle(KEEPALIVE_IDLE);
        }
        // Session settings go in the startup options rather than in `SET`s
        // after connecting, so they hold for every connection the pool ever
        // opens, reconnects included.
        //
        // Generic plans: every statement here is prepared once per connection
        // and its generic plan is the right one whatever the parameters
        // (index probes, or tiny tables). Left to itself PostgreSQL re-plans
        // the group-commit statement on every execution, because its array
        // parameters make custom plans look cheaper: about 0.2 ms per group.
        // Options from the URL come after, so they can override this.
        let mut options = String::from("-c plan_cache_mode=force_generic_plan");
        if let Some(existing) = config.get_options() {
            options = format!("{options} {existing}");
        }
        if let Some(schema) = schema {
            options = format!("{options} -c search_path={schema}");
        }
        config.options(options);
        // `Fast` recycling only checks that the connection is not closed; a
        // connection that fails in use is discarded explicitly instead (see
        // `discard`), which saves a round trip per checkout.
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Internal(format!("cannot build the connection pool: {e}")))?;
        let mut client = pool.get().await.map_err(pool_error)?;
        bounded(migrate(&mut client, schema)).await?;
        let (writer, queue) = mpsc::channel(QUEUE_CAPACITY);
        // The first writer keeps the connection that migrated: it is known good.
        let mut first = Some(client);
        let writers = (0..WRITER_CONNECTIONS).map(|_| Writer::new(pool.clone(), first.take())).collect();
        tokio::spawn(dispatch(queue, writers, pool.clone()));
        Ok(PostgresStore { pool, writer, schema: schema.map(str::to_owned) })
    }

    /// The accounts and sign-in sessions kept in this database, on the
    /// store's pool (protocol.md §14).
    pub fn accounts(&self) -> PostgresAccounts {
        PostgresAccounts::new(self.pool.clone())
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Runs one read on a pooled connection. A connection that fails is
    /// discarded, so that no later request gets it, and the read is tried
    /// once more on another: reads are safe to repeat, and a pooled
    /// connection may have been closed by the server since its last use
    /// (restart, failover, idle timeout). A timeout is not retried: the
    /// caller has waited long enough.
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        self.run_query(sql, params, None).await
    }

    /// [`query`](Self::query) as an unnamed statement of the given
    /// parameter types, which PostgreSQL plans for the parameters of this
    /// one run: for a query whose best plan depends on them (a search for a
    /// rare word walks the full-text index, one for a common word the
    /// newest rows). A named statement settles on one generic plan after a
    /// few runs: measured 100× slower for common words.
    async fn query_planned_each_time(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        types: &[Type],
    ) -> Result<Vec<Row>, StoreError> {
        self.run_query(sql, params, Some(types)).await
    }

    /// Runs one write on a pooled connection, once: unlike a read, a write
    /// whose answer was lost may have been done, so it is not repeated
    /// here (the caller decides).
    async fn write(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let rows = bounded_raw(async {
            let statement = client.prepare_cached(sql).await?;
            client.query(&statement, params).await
        })
        .await;
        match rows {
            Some(Ok(rows)) => Ok(rows),
            Some(Err(e)) => {
                let error = classify(&e);
                if let StoreError::Unavailable(_) = error {
                    discard(client);
                }
                Err(error)
            }
            None => {
                discard(client);
                Err(timed_out())
            }
        }
    }

    async fn run_query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        types: Option<&[Type]>,
    ) -> Result<Vec<Row>, StoreError> {
        let mut retried = false;
        loop {
            let client = self.client().await?;
            let rows = bounded_raw(async {
                match types {
                    None => {
                        let statement = client.prepare_cached(sql).await?;
                        client.query(&statement, params).await
                    }
                    Some(types) => {
                        let typed: Vec<(&(dyn ToSql + Sync), Type)> =
                            params.iter().copied().zip(types.iter().cloned()).collect();
                        client.query_typed(sql, &typed).await
                    }
                }
            })
            .await;
            match rows {
                Some(Ok(rows)) => return Ok(rows),
                Some(Err(e)) => match classify(&e) {
                    StoreError::Unavailable(why) => {
                        discard(client);
                        if retried {
                            return Err(StoreError::Unavailable(why));
                        }
                        retried = true;
                    }
                    other => return Err(other),
                },
                None => {
                    discard(client);
                    return Err(timed_out());
                }
            }
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.writer.send(AppendRequest { batch, reply }).await.map_err(|_| writer_gone())?;
        // A dropped reply means the writer task ended (its runtime shut
        // down, or a commit panicked) before answering.
        answer.await.map_err(|_| writer_gone())?
    }

    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError> {
        let limit = range.limit();
        let after = range.after_seq().map_or(0, |s| to_i64(s.0));
        let before = range.before_seq().map_or(i64::MAX, |s| to_i64(s.0));
        // One row beyond the limit tells whether more lie in the direction read.
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        let sql = if range.from_newest() { READ_NEWEST_SQL } else { READ_FORWARD_SQL };
        let rows = self.query(sql, &[&room.as_str(), &after, &before, &fetch]).await?;
        let has_more = rows.len() > limit;
        let mut messages = rows.iter().take(limit).map(decode_message).collect::<Result<Vec<_>, _>>()?;
        if range.from_newest() {
            messages.reverse();
        }
        self.add_reactions(&mut messages).await?;
        Ok(Page { messages, has_more })
    }

    async fn apply(&self, event: NewEvent) -> Result<Applied, StoreError> {
        self.apply_event(event).await
    }

    async fn message(&self, room: &RoomName, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.read_message(room, id).await
    }

    async fn log(&self, room: &RoomName, after: Seq, limit: usize) -> Result<LogPage, StoreError> {
        self.read_log(room, after, limit).await
    }

    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        let rows = self
            .query(
                "SELECT name, last_seq, epoch, last_message_at, visibility, title, topic FROM rooms WHERE name = $1",
                &[&room.as_str()],
            )
            .await?;
        match rows.first() {
            Some(row) => decode_room(row),
            None => Ok(RoomInfo::empty(room.clone())),
        }
    }

    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError> {
        let limit = rooms_limit(limit);
        // `''` sorts before every name; one row beyond the limit tells
        // whether more follow. A range scan of the primary key (COLLATE "C":
        // byte order, as `RoomName` sorts).
        let after = after.map_or("", RoomName::as_str);
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        let rows = self.query(ROOMS_PAGE_SQL, &[&after, &fetch]).await?;
        let has_more = rows.len() > limit;
        let rooms = rows.iter().take(limit).map(decode_room).collect::<Result<Vec<_>, _>>()?;
        Ok(RoomsPage { rooms, has_more })
    }

    async fn create_room(&self, room: NewRoom) -> Result<Option<Vec<Event>>, StoreError> {
        self.create(room).await
    }

    async fn access(&self, room: &RoomName, user: UserId) -> Result<Access, StoreError> {
        self.access_of(room, user).await
    }

    async fn members(
        &self,
        room: &RoomName,
        banned: bool,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, DisplayName, Standing)>, StoreError> {
        self.members_of(room, banned, after, members_limit(limit)).await
    }

    async fn member_rooms(
        &self,
        user: UserId,
        after: Option<&RoomName>,
        limit: usize,
    ) -> Result<MemberRoomsPage, StoreError> {
        self.rooms_of(user, after, rooms_limit(limit)).await
    }

    /// One upsert, clamped to the room's head in the same statement; a mark
    /// that would not move the watermark writes nothing (and returns no row).
    async fn search(&self, search: &Search) -> Result<SearchPage, StoreError> {
        self.search_messages(search).await
    }

    async fn add_file(&self, file: FileRecord) -> Result<(), StoreError> {
        self.add_file_record(&file).await
    }

    async fn file(&self, id: FileId) -> Result<Option<PostedFile>, StoreError> {
        self.file_record(id).await
    }

    async fn sweep_files(
        &self,
        unposted_before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        self.sweep_file_records(unposted_before, limit).await
    }

    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        let (user, seq) = (user.to_string(), to_i64(seq.0));
        let moved = self.query(MARK_READ_SQL, &[&user, &room.as_str(), &seq]).await?;
        if let Some(row) = moved.first() {
            return Ok(ReadMark { read_seq: Seq(seq_of(row, 0)?), moved: true });
        }
        let rows = self.query(SELECT_MARK_SQL, &[&user, &room.as_str()]).await?;
        let read_seq = rows.first().map(|row| seq_of(row, 0)).transpose()?.unwrap_or(0);
        Ok(ReadMark { read_seq: Seq(read_seq), moved: false })
    }

    async fn room_reads(&self, room: &RoomName, limit: usize) -> Result<Vec<(UserId, Seq)>, StoreError> {
        let limit = i64::try_from(limit.clamp(1, whisper_core::store::MAX_PAGE)).unwrap_or(1);
        let rows = self
            .query(
                "SELECT user_id::text, read_seq FROM read_marks WHERE room = $1 \
                 ORDER BY read_seq DESC, user_id LIMIT $2",
                &[&room.as_str(), &limit],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let user: &str = row.try_get(0).map_err(|e| StoreError::Internal(format!("room reads: {e}")))?;
                let user = UserId::parse(user)
                    .map_err(|_| StoreError::Internal(format!("stored user id {user:?} is invalid")))?;
                Ok((user, Seq(seq_of(row, 1)?)))
            })
            .collect()
    }

    /// The watermark and the count in one round trip; the count is a range
    /// of the primary key `(room, seq)` from the watermark on.
    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError> {
        let rows = self.query(READ_STATE_SQL, &[&user.to_string(), &room.as_str()]).await?;
        let row = rows.first().ok_or_else(|| StoreError::Internal("read state query returned no row".into()))?;
        Ok(ReadState { read_seq: Seq(seq_of(row, 0)?), unread: seq_of(row, 1)? })
    }

    /// Ready when a pooled connection answers and could write: not a
    /// standby in recovery, and not read-only (`transaction_read_only`, e.g.
    /// from `default_transaction_read_only` on the database or role). A
    /// `SELECT 1` alone answers on a database that refuses every append.
    async fn ping(&self) -> Result<(), StoreError> {
        let rows = self.query("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')", &[]).await?;
        let row = rows.first().ok_or_else(|| StoreError::Internal("readiness query returned no row".into()))?;
        let in_recovery: bool = row.try_get(0).map_err(|e| StoreError::Internal(format!("readiness: {e}")))?;
        let read_only: String = row.try_get(1).map_err(|e| StoreError::Internal(format!("readiness: {e}")))?;
        if in_recovery {
            return Err(StoreError::Unavailable("PostgreSQL is in recovery (a standby): it cannot write".into()));
        }
        if read_only == "on" {
            return Err(StoreError::Unavailable("PostgreSQL is read-only here: it cannot write".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use whisper_core::model::{DisplayName, RoomName, UserId};

    use super::*;

    /// A store on a pool that never connects (nothing listens on port 1):
    /// enough for what does not reach the database.
    fn store_with(writer: mpsc::Sender<AppendRequest>) -> PostgresStore {
        let config = tokio_postgres::Config::from_str("host=127.0.0.1 port=1").unwrap();
        let manager = Manager::from_config(config, NoTls, ManagerConfig::default());
        let pool = Pool::builder(manager).runtime(Runtime::Tokio1).build().unwrap();
        PostgresStore { pool, writer, schema: None }
    }

    fn batch() -> Vec<NewMessage> {
        vec![NewMessage::now(RoomName::lobby(), UserId::random(), DisplayName::parse("ada").unwrap(), "hi", None)]
    }

    /// Once the writer task has ended (its runtime shut down, a panic), an
    /// append is `Unavailable` (`Store::append`), never `Internal`: whether
    /// the task is gone before the request is queued or drops it unanswered.
    #[tokio::test]
    async fn a_store_whose_writer_is_gone_is_unavailable() {
        let (writer, queue) = mpsc::channel(1);
        drop(queue);
        let outcome = store_with(writer).append(batch()).await;
        assert!(matches!(outcome, Err(StoreError::Unavailable(_))), "{outcome:?}");

        let (writer, mut queue) = mpsc::channel::<AppendRequest>(1);
        tokio::spawn(async move {
            while let Some(request) = queue.recv().await {
                drop(request);
            }
        });
        let outcome = store_with(writer).append(batch()).await;
        assert!(matches!(outcome, Err(StoreError::Unavailable(_))), "{outcome:?}");
    }
}
