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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};
use whisper_core::model::{ClientId, DisplayName, Epoch, Message, MessageId, NewMessage, RoomName, Seq, UserId};
use whisper_core::store::{Page, ReadRange, RoomInfo, Store, StoreError};

/// Most messages the writer commits in one group. Bounds the statement's
/// parameter arrays; a single larger batch is still committed whole.
pub const MAX_GROUP_MESSAGES: usize = 2048;

/// Connections in the pool: [`WRITER_CONNECTIONS`] are held by the writer,
/// the rest serve reads.
const POOL_SIZE: usize = 16;
/// Connections the writer commits groups on; at most this many commits are
/// in flight at once (see [`dispatch`]).
const WRITER_CONNECTIONS: usize = 2;
/// Least messages in a group sent while another group is being committed:
/// about as many rows as cost PostgreSQL what one commit costs (a round trip
/// and a WAL flush, ~0.3 ms, against ~10 µs per row), so that an overlapped
/// commit is not mostly overhead.
const OVERLAP_MIN_MESSAGES: usize = 32;
/// How long a request may wait for a pooled connection, or for a new one to
/// be established or an idle one checked, before the store reports itself
/// unavailable.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);
/// Connect timeout, when the URL sets none.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Idle time before TCP keep-alive probes start, at most.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
/// Bound on one statement (or one group's statements), measured here rather
/// than by the server, so that a silently dead connection cannot hang a
/// caller. Generous: a group commit normally takes milliseconds.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// Append requests that may wait for the writer; beyond this, `append` waits
/// for room in the queue (back-pressure).
const QUEUE_CAPACITY: usize = 4096;
/// Tries of one group: the optimistic one, then retries while it keeps
/// colliding with stored client ids or other nodes' writes.
const MAX_ATTEMPTS: usize = 5;
/// Key of the advisory lock that serialises migrations across nodes.
const MIGRATION_LOCK: i64 = 0x5768_6973_7065_7231; // "Whisper1"

/// The migrations, in order: `(version, SQL)`. Never edit one that shipped;
/// add the next version instead.
const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    r#"
    CREATE TABLE rooms (
        name            TEXT COLLATE "C" PRIMARY KEY,
        last_seq        BIGINT NOT NULL CHECK (last_seq >= 0),
        epoch           BIGINT NOT NULL,
        last_message_at BIGINT
    );
    CREATE TABLE messages (
        room       TEXT COLLATE "C" NOT NULL,
        seq        BIGINT NOT NULL,
        id         TEXT NOT NULL,
        user_id    UUID NOT NULL,
        name       TEXT NOT NULL,
        content    TEXT NOT NULL,
        client_id  TEXT,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (room, seq),
        UNIQUE (user_id, client_id)
    );
    "#,
)];

/// A page read forward: the first `$4` messages of room `$1` with
/// `$2 < seq < $3`. Columns as [`decode_message`] reads them.
const READ_FORWARD_SQL: &str = "SELECT room, seq, id, user_id::text, name, content, client_id, created_at \
     FROM messages WHERE room = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4";
/// A page from the newest end: the last `$4` messages of room `$1` with
/// `$2 < seq < $3`, newest first.
const READ_NEWEST_SQL: &str = "SELECT room, seq, id, user_id::text, name, content, client_id, created_at \
     FROM messages WHERE room = $1 AND seq > $2 AND seq < $3 ORDER BY seq DESC LIMIT $4";

/// The stored messages with any of the given `(user_id, client_id)` pairs.
/// User ids travel as text: the driver is built without its UUID support.
///
/// A `LATERAL ... LIMIT 1` subquery rather than a plain join: PostgreSQL
/// cannot flatten it, so the plan is one probe of the unique index per pair
/// whatever the statistics say. (A plain join's generic plan, made while the
/// table was small, can be a hash join over a sequential scan, which gets
/// slower with every message stored.)
const LOOKUP_SQL: &str = "SELECT m.room, m.seq, m.id, m.user_id::text, m.name, m.content, m.client_id, m.created_at \
     FROM UNNEST($1::text[], $2::text[]) AS k(user_id, client_id) \
     CROSS JOIN LATERAL ( \
         SELECT * FROM messages WHERE user_id = k.user_id::uuid AND client_id = k.client_id LIMIT 1 \
     ) m";

/// Stores a group in one statement (hence one transaction). `heads` bumps
/// each room's `last_seq` by its number of new messages ($2), creating rooms
/// as needed with epoch $3, and returns the new `last_seq`, locking the row
/// until commit. A message's seq is then `last_seq - back`, where `back` ($6)
/// is how many of the group's new messages in its room come after it.
const WRITE_SQL: &str = "WITH heads AS ( \
         INSERT INTO rooms AS r (name, last_seq, epoch, last_message_at) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::int8[]) \
         ON CONFLICT (name) DO UPDATE \
             SET last_seq = r.last_seq + EXCLUDED.last_seq, last_message_at = EXCLUDED.last_message_at \
         RETURNING r.name, r.last_seq \
     ), stored AS ( \
         INSERT INTO messages (room, seq, id, user_id, name, content, client_id, created_at) \
         SELECT m.room, h.last_seq - m.back, m.id, m.user_id::uuid, m.name, m.content, m.client_id, m.created_at \
         FROM UNNEST($5::text[], $6::int8[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
                     $12::int8[]) AS m(room, back, id, user_id, name, content, client_id, created_at) \
         JOIN heads h ON h.name = m.room \
     ) \
     SELECT name, last_seq FROM heads";

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
        let writers = (0..WRITER_CONNECTIONS).map(|_| Writer { pool: pool.clone(), conn: first.take() }).collect();
        tokio::spawn(dispatch(queue, writers, pool.clone()));
        Ok(PostgresStore { pool, writer, schema: schema.map(str::to_owned) })
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
        let mut retried = false;
        loop {
            let client = self.client().await?;
            let rows = bounded_raw(async {
                let statement = client.prepare_cached(sql).await?;
                client.query(&statement, params).await
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
        self.writer
            .send(AppendRequest { batch, reply })
            .await
            .map_err(|_| StoreError::Internal("the PostgreSQL writer task has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Internal("the PostgreSQL writer dropped a request".into()))?
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
        Ok(Page { messages, has_more })
    }

    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        let rows = self
            .query("SELECT name, last_seq, epoch, last_message_at FROM rooms WHERE name = $1", &[&room.as_str()])
            .await?;
        match rows.first() {
            Some(row) => decode_room(row),
            None => Ok(RoomInfo::empty(room.clone())),
        }
    }

    async fn rooms(&self) -> Result<Vec<RoomInfo>, StoreError> {
        let rows = self
            .query("SELECT name, last_seq, epoch, last_message_at FROM rooms WHERE last_seq > 0 ORDER BY name", &[])
            .await?;
        rows.iter().map(decode_room).collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.query("SELECT 1", &[]).await.map(drop)
    }
}

/// One `append` waiting for the writer.
struct AppendRequest {
    batch: Vec<NewMessage>,
    reply: oneshot::Sender<Result<Vec<Message>, StoreError>>,
}

/// One of the writer's connections, committing one group at a time.
struct Writer {
    pool: Pool,
    /// Its connection, kept between groups; `None` after a failure until the
    /// next group needs one.
    conn: Option<Object>,
}

/// Why an attempt at storing a group failed.
enum Failure {
    /// Collided with another transaction (another node stored the same client
    /// id, or a deadlock or serialisation failure): trying again may succeed.
    Conflict(String),
    /// The connection failed (or the server is going away). If the write had
    /// been sent, it may have committed all the same: the reply was lost.
    Lost { error: StoreError, maybe_stored: bool },
    /// PostgreSQL refused the statement for another reason, perhaps one
    /// request's data: nothing was stored.
    Refused(StoreError),
    /// Anything else (a bug, corrupt data): the store's final answer.
    Store(StoreError),
}

/// Why a group was not stored, as [`Writer::attempt`] reports it.
struct GroupError {
    error: StoreError,
    /// Whether the data of one request may be the cause, so that storing each
    /// request alone could succeed for the others.
    refused: bool,
}

impl From<StoreError> for GroupError {
    fn from(error: StoreError) -> Self {
        GroupError { error, refused: false }
    }
}

/// Forms groups from the queue and commits them on the writers'
/// connections. Ends when every `PostgresStore` handle (every sender) is gone
/// and everything queued has been answered.
///
/// A group goes out as soon as a writer is free, except that while one group
/// is being committed another is sent only if it is already large
/// ([`OVERLAP_MIN_MESSAGES`]). Overlapping two commits keeps PostgreSQL busy
/// while the other connection's reply travels and its callers are answered,
/// but two commits to one room still queue on its row lock, so overlapping
/// small groups would only spend a commit each on them; waiting lets them
/// join into the next group instead.
async fn dispatch(mut queue: mpsc::Receiver<AppendRequest>, mut idle: Vec<Writer>, pool: Pool) {
    let mut busy: JoinSet<Writer> = JoinSet::new();
    let mut pending: Vec<AppendRequest> = Vec::new();
    let mut pending_messages = 0;
    let mut open = true;
    loop {
        while open && pending_messages < MAX_GROUP_MESSAGES {
            match queue.try_recv() {
                Ok(request) => {
                    pending_messages += request.batch.len();
                    pending.push(request);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => open = false,
            }
        }
        if !pending.is_empty() && (busy.is_empty() || pending_messages >= OVERLAP_MIN_MESSAGES) {
            if let Some(mut writer) = idle.pop() {
                let group = std::mem::take(&mut pending);
                pending_messages = 0;
                busy.spawn(async move {
                    writer.commit(group).await;
                    writer
                });
                continue;
            }
        }
        if !open && pending.is_empty() && busy.is_empty() {
            return;
        }
        tokio::select! {
            done = busy.join_next(), if !busy.is_empty() => match done {
                Some(Ok(writer)) => idle.push(writer),
                Some(Err(error)) => {
                    // A commit panicked (a bug): its callers get an error
                    // from their dropped replies; replace its writer.
                    tracing::error!(%error, "a PostgreSQL commit task failed");
                    idle.push(Writer { pool: pool.clone(), conn: None });
                }
                None => {}
            },
            request = queue.recv(), if open && pending_messages < MAX_GROUP_MESSAGES => match request {
                Some(request) => {
                    pending_messages += request.batch.len();
                    pending.push(request);
                }
                None => open = false,
            },
        }
    }
}

impl Writer {
    /// Stores a group and answers each of its requests.
    async fn commit(&mut self, group: Vec<AppendRequest>) {
        // A caller that gave up cannot learn the outcome; not storing its
        // messages is as correct as storing them, and cheaper.
        let group: Vec<AppendRequest> = group.into_iter().filter(|r| !r.reply.is_closed()).collect();
        if group.is_empty() {
            return;
        }
        let batches: Vec<&[NewMessage]> = group.iter().map(|r| r.batch.as_slice()).collect();
        let outcome = self.attempt(&batches).await;
        match outcome {
            Ok(stored) => {
                for (request, messages) in group.into_iter().zip(stored) {
                    let _ = request.reply.send(Ok(messages));
                }
            }
            Err(GroupError { error, refused: true }) if group.len() > 1 => {
                // Perhaps one request's data made the statement fail: store
                // each alone, in order, so only the culprit is refused.
                tracing::warn!(%error, requests = group.len(), "group commit refused; committing its requests one by one");
                let mut unavailable = None;
                for request in group {
                    let result = match &unavailable {
                        Some(error) => Err(StoreError::clone(error)),
                        None => match self.attempt(&[request.batch.as_slice()]).await {
                            Ok(stored) => stored.into_iter().next().ok_or_else(|| {
                                StoreError::Internal("the PostgreSQL writer lost a batch's messages".into())
                            }),
                            Err(failure) => Err(failure.error),
                        },
                    };
                    if let Err(error @ StoreError::Unavailable(_)) = &result {
                        // The database went away: fail the rest fast rather
                        // than wait out a timeout for each.
                        unavailable = Some(error.clone());
                    }
                    let _ = request.reply.send(result);
                }
            }
            Err(GroupError { error, .. }) => {
                for request in group {
                    let _ = request.reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// Stores a group, retrying collisions with stored messages and other
    /// nodes; returns each batch's messages.
    async fn attempt(&mut self, batches: &[&[NewMessage]]) -> Result<Vec<Vec<Message>>, GroupError> {
        let mut last_conflict = String::new();
        let mut reconnected = false;
        // Optimistic first: no lookup until a client id turns out to be known.
        let mut lookup = false;
        // Whether storing the group twice is harmless: when every message has
        // a client id, a second try finds whatever the first one stored.
        let idempotent = batches.iter().flat_map(|b| b.iter()).all(|m| m.client_id.is_some());
        for _ in 0..MAX_ATTEMPTS {
            let conn = self.connection().await?;
            let failure = match bounded_raw(write_group(conn, batches, lookup)).await {
                Some(Ok(stored)) => return Ok(stored),
                Some(Err(failure)) => failure,
                None => {
                    self.discard();
                    return Err(timed_out().into());
                }
            };
            match failure {
                Failure::Conflict(why) => {
                    lookup = true;
                    last_conflict = why;
                }
                Failure::Lost { error, maybe_stored } if !reconnected && (!maybe_stored || idempotent) => {
                    // Typically a connection the server closed (restart,
                    // failover, idle timeout): one retry on a fresh one, with
                    // the lookup in case the lost try did commit.
                    tracing::info!(%error, "PostgreSQL connection lost; retrying on a new one");
                    self.discard();
                    reconnected = true;
                    lookup |= maybe_stored;
                }
                Failure::Lost { error, .. } => {
                    self.discard();
                    return Err(error.into());
                }
                Failure::Refused(error) => return Err(GroupError { error, refused: true }),
                Failure::Store(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Unavailable(format!("gave up after {MAX_ATTEMPTS} conflicting attempts: {last_conflict}"))
            .into())
    }

    /// The writer's connection, from the pool if it has none (or its old one
    /// was closed by the server).
    async fn connection(&mut self) -> Result<&Object, StoreError> {
        if self.conn.as_ref().is_some_and(|c| c.is_closed()) {
            self.discard();
        }
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.pool.get().await.map_err(pool_error)?,
        };
        Ok(self.conn.insert(conn))
    }

    fn discard(&mut self) {
        if let Some(conn) = self.conn.take() {
            discard(conn);
        }
    }
}

/// Where one input message of a group ends up.
enum Slot {
    /// Already stored (a resend): its original.
    Known(Message),
    /// The group's `i`-th new message.
    New(usize),
}

/// A room's share of a group's new messages.
#[derive(Default)]
struct RoomPlan {
    count: i64,
    last_created_at: i64,
}

/// One try at storing a group: with `lookup`, a query for the group's client
/// ids already stored, then one statement storing the rest.
async fn write_group(client: &Object, batches: &[&[NewMessage]], lookup: bool) -> Result<Vec<Vec<Message>>, Failure> {
    let mut known: HashMap<(UserId, ClientId), Message> = HashMap::new();
    if lookup {
        let mut seen: HashSet<(UserId, &ClientId)> = HashSet::new();
        let (mut users, mut client_ids): (Vec<String>, Vec<&str>) = (Vec::new(), Vec::new());
        for new in batches.iter().flat_map(|b| b.iter()) {
            if let Some(client_id) = &new.client_id
                && seen.insert((new.user_id, client_id))
            {
                users.push(new.user_id.to_string());
                client_ids.push(client_id.as_str());
            }
        }
        if !users.is_empty() {
            let statement = client.prepare_cached(LOOKUP_SQL).await.map_err(before_write)?;
            let rows = client.query(&statement, &[&users, &client_ids]).await.map_err(before_write)?;
            for row in &rows {
                let original = decode_message(row).map_err(Failure::Store)?;
                if let Some(client_id) = &original.client_id {
                    known.insert((original.user_id, client_id.clone()), original);
                }
            }
        }
    }

    // Number the new messages within their rooms, in input order, and send
    // later duplicates within the group to the first of them.
    let mut slots: Vec<Vec<Slot>> = Vec::with_capacity(batches.len());
    let mut fresh: Vec<(&NewMessage, i64)> = Vec::new();
    let mut fresh_by_key: HashMap<(UserId, &ClientId), usize> = HashMap::new();
    let mut rooms: BTreeMap<&RoomName, RoomPlan> = BTreeMap::new();
    for batch in batches {
        let mut batch_slots = Vec::with_capacity(batch.len());
        for new in batch.iter() {
            if let Some(client_id) = &new.client_id {
                if !known.is_empty()
                    && let Some(original) = known.get(&(new.user_id, client_id.clone()))
                {
                    batch_slots.push(Slot::Known(original.clone()));
                    continue;
                }
                if let Some(&i) = fresh_by_key.get(&(new.user_id, client_id)) {
                    batch_slots.push(Slot::New(i));
                    continue;
                }
                fresh_by_key.insert((new.user_id, client_id), fresh.len());
            }
            let plan = rooms.entry(&new.room).or_default();
            plan.count += 1;
            plan.last_created_at = to_millis(new.created_at);
            batch_slots.push(Slot::New(fresh.len()));
            fresh.push((new, plan.count));
        }
        slots.push(batch_slots);
    }

    let mut heads: HashMap<String, i64> = HashMap::new();
    if !fresh.is_empty() {
        // BTreeMap order: every node locks room rows in the same order.
        let room_names: Vec<&str> = rooms.keys().map(|r| r.as_str()).collect();
        let room_counts: Vec<i64> = rooms.values().map(|p| p.count).collect();
        let epoch = to_i64(Epoch::fresh().0);
        let room_epochs: Vec<i64> = vec![epoch; rooms.len()];
        let room_last: Vec<i64> = rooms.values().map(|p| p.last_created_at).collect();
        let mut m_room = Vec::with_capacity(fresh.len());
        let mut m_back = Vec::with_capacity(fresh.len());
        let mut m_id = Vec::with_capacity(fresh.len());
        let mut m_user = Vec::with_capacity(fresh.len());
        let mut m_name = Vec::with_capacity(fresh.len());
        let mut m_content = Vec::with_capacity(fresh.len());
        let mut m_client = Vec::with_capacity(fresh.len());
        let mut m_created = Vec::with_capacity(fresh.len());
        for &(new, ordinal) in &fresh {
            let count = rooms.get(&new.room).map_or(ordinal, |p| p.count);
            m_room.push(new.room.as_str());
            m_back.push(count - ordinal);
            m_id.push(new.id.to_string());
            m_user.push(new.user_id.to_string());
            m_name.push(new.name.as_str());
            m_content.push(&*new.content);
            m_client.push(new.client_id.as_ref().map(ClientId::as_str));
            m_created.push(to_millis(new.created_at));
        }
        let statement = client.prepare_cached(WRITE_SQL).await.map_err(before_write)?;
        let rows = client
            .query(
                &statement,
                &[
                    &room_names,
                    &room_counts,
                    &room_epochs,
                    &room_last,
                    &m_room,
                    &m_back,
                    &m_id,
                    &m_user,
                    &m_name,
                    &m_content,
                    &m_client,
                    &m_created,
                ],
            )
            .await
            .map_err(during_write)?;
        for row in &rows {
            let name: &str = row.try_get(0).map_err(|e| Failure::Store(decode_error(&e)))?;
            let last_seq: i64 = row.try_get(1).map_err(|e| Failure::Store(decode_error(&e)))?;
            heads.insert(name.to_owned(), last_seq);
        }
    }

    // The statement has committed: from here on nothing may fail but a bug.
    let mut stored: Vec<Message> = Vec::with_capacity(fresh.len());
    for &(new, ordinal) in &fresh {
        let (Some(&last_seq), Some(plan)) = (heads.get(new.room.as_str()), rooms.get(&new.room)) else {
            return Err(Failure::Store(StoreError::Internal(format!("no head returned for room {}", new.room))));
        };
        let seq = last_seq - plan.count + ordinal;
        let seq = u64::try_from(seq).ok().filter(|s| *s > 0).ok_or_else(|| {
            Failure::Store(StoreError::Internal(format!("room {} returned impossible seq {seq}", new.room)))
        })?;
        let mut message = new.clone().stored_at(Seq(seq));
        message.created_at = from_millis(to_millis(new.created_at)).map_err(Failure::Store)?;
        stored.push(message);
    }
    Ok(slots
        .into_iter()
        .map(|batch| {
            batch
                .into_iter()
                .map(|slot| match slot {
                    Slot::Known(message) => message,
                    Slot::New(i) => stored[i].clone(),
                })
                .collect()
        })
        .collect())
}

/// Runs the migrations not yet applied, under an advisory lock held until
/// the transaction ends, so nodes starting together migrate once.
async fn migrate(client: &mut Object, schema: Option<&str>) -> Result<(), StoreError> {
    let latest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    let tx = client.transaction().await.map_err(|e| classify(&e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(|e| classify(&e))?;
    // `IF NOT EXISTS` on an existing table is a NOTICE that the driver logs
    // at INFO on every start; this transaction keeps only warnings.
    tx.batch_execute("SET LOCAL client_min_messages = warning").await.map_err(|e| classify(&e))?;
    if let Some(schema) = schema {
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await.map_err(|e| classify(&e))?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS whisper_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await
    .map_err(|e| classify(&e))?;
    let current: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM whisper_migrations", &[])
        .await
        .map_err(|e| classify(&e))?
        .try_get(0)
        .map_err(|e| decode_error(&e))?;
    if current > latest {
        // A newer server migrated this database; an older one must not write
        // to a schema it does not know.
        return Err(StoreError::Internal(format!(
            "the database is at schema version {current}, newer than this server's {latest}"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).await.map_err(|e| classify(&e))?;
        tx.execute(
            "INSERT INTO whisper_migrations (version, applied_at) VALUES ($1, $2)",
            &[version, &to_millis(OffsetDateTime::now_utc())],
        )
        .await
        .map_err(|e| classify(&e))?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    tx.commit().await.map_err(|e| classify(&e))
}

/// Runs one administrative statement on its own connection to `url`.
async fn admin(url: &str, sql: &str) -> Result<(), StoreError> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| StoreError::Internal(format!("invalid database URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    bounded(async {
        let (client, connection) = config.connect(NoTls).await.map_err(|e| classify(&e))?;
        let driver = tokio::spawn(connection);
        let result = client.batch_execute(sql).await.map_err(|e| classify(&e));
        drop(client);
        // The connection ends once the client is gone; its own error, if
        // any, adds nothing to the statement's.
        let _ = driver.await;
        result
    })
    .await
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        // A `key=value` string: a later key overrides an earlier one.
        return format!("{url} dbname={name}");
    };
    let (base, query) = url.split_at(url.find('?').unwrap_or(url.len()));
    let authority_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..authority_end])
}

/// Checks that `name` is a plain lowercase identifier, safe to splice into
/// SQL between double quotes.
fn identifier(name: &str) -> Result<&str, StoreError> {
    let mut bytes = name.bytes();
    let valid = name.len() <= 63
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(name)
    } else {
        Err(StoreError::Internal(format!("{name:?} is not a valid name: use [a-z_][a-z0-9_]*, at most 63 bytes")))
    }
}

/// Removes a connection from the pool for good, so that a broken one is
/// never handed out again.
fn discard(conn: Object) {
    drop(Object::take(conn));
}

/// Bounds a database operation by [`STATEMENT_TIMEOUT`].
async fn bounded<T>(work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    bounded_raw(work).await.unwrap_or_else(|| Err(timed_out()))
}

async fn bounded_raw<T>(work: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(STATEMENT_TIMEOUT, work).await.ok()
}

fn timed_out() -> StoreError {
    StoreError::Unavailable(format!("PostgreSQL did not answer within {} s", STATEMENT_TIMEOUT.as_secs()))
}

fn before_write(e: tokio_postgres::Error) -> Failure {
    match classify(&e) {
        error @ StoreError::Unavailable(_) => Failure::Lost { error, maybe_stored: false },
        error => Failure::Store(error),
    }
}

fn during_write(e: tokio_postgres::Error) -> Failure {
    match e.code().map(|c| c.code()) {
        // unique_violation (a client id already stored, or being stored by
        // another node), serialization_failure, deadlock_detected: the
        // statement failed as a whole, and trying again may succeed.
        Some(code @ ("23505" | "40001" | "40P01")) => Failure::Conflict(format!("{code}: {}", describe(&e))),
        _ => match classify(&e) {
            error @ StoreError::Unavailable(_) => Failure::Lost { error, maybe_stored: true },
            error => Failure::Refused(error),
        },
    }
}

/// Maps a driver error: SQLSTATEs that mean "not now" (connection
/// exceptions, shutdown, lack of resources, cancellation, a read-only
/// standby) and errors without a SQLSTATE (I/O, closed connection, connect
/// timeout) are `Unavailable`; any other database error is `Internal`.
/// Decoding errors never get here: they are mapped by `decode_error`.
fn classify(e: &tokio_postgres::Error) -> StoreError {
    let Some(db) = e.as_db_error() else {
        return StoreError::Unavailable(describe(e));
    };
    let code = db.code().code();
    let transient = code.starts_with("08") // connection_exception
        || code.starts_with("53") // insufficient_resources: disk full, too many connections
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" // admin_shutdown, crash_shutdown, cannot_connect_now
                | "57014" // query_canceled (statement_timeout)
                | "25006" // read_only_sql_transaction: connected to a standby
                | "40001" | "40P01" // serialization_failure, deadlock_detected
                | "55P03" // lock_not_available
                | "58030" // io_error
        );
    let message = format!("PostgreSQL {code}: {}", db.message());
    if transient { StoreError::Unavailable(message) } else { StoreError::Internal(message) }
}

fn describe(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("PostgreSQL: {e}: {source}"),
        None => format!("PostgreSQL: {e}"),
    }
}

/// Not getting a connection, for whatever reason (refused, the database not
/// accepting connections, a timeout), means the store cannot work now:
/// always `Unavailable`, so clients retry rather than give up.
fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => StoreError::Unavailable(format!("cannot connect: {}", describe(&e))),
        PoolError::Timeout(kind) => StoreError::Unavailable(format!("PostgreSQL connection pool timed out ({kind:?})")),
        PoolError::Closed => StoreError::Unavailable("the PostgreSQL connection pool is closed".into()),
        other => StoreError::Unavailable(format!("PostgreSQL connection pool: {other}")),
    }
}

fn decode_error(e: &tokio_postgres::Error) -> StoreError {
    StoreError::Internal(format!("unexpected data from PostgreSQL: {}", describe(e)))
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("stored {what} {value:?} is invalid"))
}

/// Reads a message from columns `room, seq, id, user_id::text, name,
/// content, client_id, created_at`.
fn decode_message(row: &Row) -> Result<Message, StoreError> {
    let text = |i: usize| row.try_get::<_, &str>(i).map_err(|e| decode_error(&e));
    let room = text(0)?;
    let seq: i64 = row.try_get(1).map_err(|e| decode_error(&e))?;
    let id = text(2)?;
    let user = text(3)?;
    let name = text(4)?;
    let content = text(5)?;
    let client_id: Option<&str> = row.try_get(6).map_err(|e| decode_error(&e))?;
    let created_at: i64 = row.try_get(7).map_err(|e| decode_error(&e))?;
    Ok(Message {
        id: MessageId::parse(id).map_err(|_| corrupt("message id", id))?,
        room: RoomName::parse(room).map_err(|_| corrupt("room name", room))?,
        seq: Seq(u64::try_from(seq).map_err(|_| corrupt("seq", &seq.to_string()))?),
        user_id: UserId::parse(user).map_err(|_| corrupt("user id", user))?,
        name: DisplayName::parse(name).map_err(|_| corrupt("display name", name))?,
        content: content.into(),
        client_id: client_id.map(|c| ClientId::parse(c).map_err(|_| corrupt("client id", c))).transpose()?,
        created_at: from_millis(created_at)?,
    })
}

/// Reads a `rooms` row: name, last_seq, epoch, last_message_at.
fn decode_room(row: &Row) -> Result<RoomInfo, StoreError> {
    let name: &str = row.try_get(0).map_err(|e| decode_error(&e))?;
    let last_seq: i64 = row.try_get(1).map_err(|e| decode_error(&e))?;
    let epoch: i64 = row.try_get(2).map_err(|e| decode_error(&e))?;
    let last_message_at: Option<i64> = row.try_get(3).map_err(|e| decode_error(&e))?;
    Ok(RoomInfo {
        name: RoomName::parse(name).map_err(|_| corrupt("room name", name))?,
        last_seq: Seq(u64::try_from(last_seq).map_err(|_| corrupt("last_seq", &last_seq.to_string()))?),
        epoch: Epoch(u64::try_from(epoch).map_err(|_| corrupt("epoch", &epoch.to_string()))?),
        last_message_at: last_message_at.map(from_millis).transpose()?,
    })
}

/// Unix milliseconds, rounding down (messages carry whole milliseconds).
fn to_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| corrupt("timestamp", &ms.to_string()))
}

/// Seqs and epochs are `u64` in the model and `BIGINT` here; a bound beyond
/// `i64::MAX` means "beyond everything".
fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_in_urls() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(
            with_database("postgres://u@h:5432/test?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgresql://u@h", "x"), "postgresql://u@h/x");
        assert_eq!(with_database("postgres://u@h?application_name=a", "x"), "postgres://u@h/x?application_name=a");
        assert_eq!(with_database("host=h user=u dbname=test", "x"), "host=h user=u dbname=test dbname=x");
    }

    #[test]
    fn identifiers() {
        assert!(identifier("whisper_test_0af3").is_ok());
        assert!(identifier("_x").is_ok());
        for bad in ["", "1abc", "Abc", "a-b", "a\"b", "a b", &"a".repeat(64)] {
            assert!(identifier(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn milliseconds_round_trip() {
        let now = whisper_core::model::now_millis();
        assert_eq!(from_millis(to_millis(now)), Ok(now));
        let before_1970 = OffsetDateTime::from_unix_timestamp_nanos(-1_500_000).unwrap_or(now);
        assert_eq!(to_millis(before_1970), -2);
    }
}
