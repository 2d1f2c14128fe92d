//! The writer task and its group commit: every append goes to one task,
//! which takes everything queued as one group and stores it with a single
//! statement on one of its [`WRITER_CONNECTIONS`] connections, retrying
//! collisions and lost connections when that is safe.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{Object, Pool};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use whisper_core::model::{ClientId, Epoch, ExternalId, Message, NewMessage, UserId, index_text};
use whisper_core::store::StoreError;

use super::MAX_GROUP_MESSAGES;
use super::error::{bounded_raw, classify, describe, discard, pool_error, timed_out};
use super::plan::GroupPlan;
use super::rows::{decode_error, decode_message, to_i64, to_millis};

/// Connections the writer commits groups on; at most this many commits are
/// in flight at once (see [`dispatch`]).
pub(super) const WRITER_CONNECTIONS: usize = 2;
/// Least messages in a group sent while another group is being committed:
/// about as many rows as cost PostgreSQL what one commit costs (a round trip
/// and a WAL flush, ~0.3 ms, against ~10 µs per row), so that an overlapped
/// commit is not mostly overhead.
const OVERLAP_MIN_MESSAGES: usize = 32;

/// Tries of one group: the optimistic one, then retries while it keeps
/// colliding with stored client ids or other nodes' writes.
const MAX_ATTEMPTS: usize = 5;

/// The stored messages with any of the given `(user_id, client_id)` pairs.
/// User ids travel as text: the driver is built without its UUID support.
///
/// A `LATERAL ... LIMIT 1` subquery rather than a plain join: PostgreSQL
/// cannot flatten it, so the plan is one probe of the unique index per pair
/// whatever the statistics say. (A plain join's generic plan, made while the
/// table was small, can be a hash join over a sequential scan, which gets
/// slower with every message stored.)
const LOOKUP_SQL: &str = "SELECT m.room, m.seq, m.id, m.user_id::text, m.name, m.content, m.client_id, m.created_at, \
            m.reply_to, NULL::int8, m.deleted, m.principal, m.external_id, m.attachments \
     FROM UNNEST($1::text[], $2::text[]) AS k(user_id, client_id) \
     CROSS JOIN LATERAL ( \
         SELECT * FROM messages WHERE user_id = k.user_id::uuid AND client_id = k.client_id LIMIT 1 \
     ) m";

/// Stores a group in one statement (hence one transaction). `heads` bumps
/// each room's `last_seq` by its number of new messages ($2), creating rooms
/// as needed with epoch $3, and returns the new `last_seq`, locking the row
/// until commit. A message's seq is then `last_seq - back`, where `back` ($6)
/// is how many of the group's new messages in its room come after it.
/// Inserted in the group's order, so each message's `doc` (its search
/// position) follows the order they were sent; `$16` is each one's words
/// for the search index, `$17` its attachments (JSON). `carried` and
/// `counted` reference each stored message's files that have a record
/// (protocol.md §17); for messages without files they read the stored rows
/// and write nothing.
const WRITE_SQL: &str = "WITH heads AS ( \
         INSERT INTO rooms AS r (name, last_seq, epoch, last_message_at) \
         SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::int8[]) \
         ON CONFLICT (name) DO UPDATE \
             SET last_seq = r.last_seq + EXCLUDED.last_seq, last_message_at = EXCLUDED.last_message_at \
         RETURNING r.name, r.last_seq \
     ), stored AS ( \
         INSERT INTO messages (room, seq, id, user_id, name, content, client_id, created_at, reply_to, principal, \
                               external_id, search_words, attachments) \
         SELECT m.room, h.last_seq - m.back, m.id, m.user_id::uuid, m.name, m.content, m.client_id, m.created_at, \
                m.reply_to, m.principal, m.external_id, to_tsvector('simple', m.words), m.attachments \
         FROM UNNEST($5::text[], $6::int8[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
                     $12::int8[], $13::text[], $14::int2[], $15::text[], $16::text[], $17::text[]) WITH ORDINALITY \
                     AS m(room, back, id, user_id, name, content, client_id, created_at, reply_to, principal, \
                     external_id, words, attachments, ord) \
         JOIN heads h ON h.name = m.room \
         ORDER BY m.ord \
         RETURNING room, seq, attachments \
     ), carried AS ( \
         INSERT INTO message_files (file, room, seq) \
         SELECT DISTINCT a.file, s.room, s.seq \
         FROM stored s CROSS JOIN LATERAL ( \
             SELECT e ->> 'id' AS file FROM jsonb_array_elements(s.attachments::jsonb) e \
         ) a \
         WHERE s.attachments IS NOT NULL AND EXISTS (SELECT 1 FROM files f WHERE f.id = a.file) \
         ON CONFLICT DO NOTHING \
         RETURNING file \
     ), counted AS ( \
         UPDATE files f SET refs = f.refs + c.n, posted = true \
         FROM (SELECT file, count(*) AS n FROM carried GROUP BY file) c WHERE f.id = c.file \
     ) \
     SELECT name, last_seq FROM heads";

/// One `append` waiting for the writer.
pub(super) struct AppendRequest {
    pub(super) batch: Vec<NewMessage>,
    pub(super) reply: oneshot::Sender<Result<Vec<Message>, StoreError>>,
}

/// One of the writer's connections, committing one group at a time.
pub(super) struct Writer {
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
pub(super) async fn dispatch(mut queue: mpsc::Receiver<AppendRequest>, mut idle: Vec<Writer>, pool: Pool) {
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
                    idle.push(Writer::new(pool.clone(), None));
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
    /// A writer taking connections from `pool`, starting with `conn` if given.
    pub(super) fn new(pool: Pool, conn: Option<Object>) -> Self {
        Writer { pool, conn }
    }

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

    let plan = GroupPlan::new(batches, &known);
    let mut heads: HashMap<String, i64> = HashMap::new();
    if !plan.is_empty() {
        let rooms = plan.rooms();
        let room_names: Vec<&str> = rooms.keys().map(|r| r.as_str()).collect();
        let room_counts: Vec<i64> = rooms.values().map(|p| p.count).collect();
        let epoch = to_i64(Epoch::fresh().0);
        let room_epochs: Vec<i64> = vec![epoch; rooms.len()];
        let room_last: Vec<i64> = rooms.values().map(|p| p.last_created_at).collect();
        let (mut m_room, mut m_back, mut m_id, mut m_user) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut m_name, mut m_content, mut m_client, mut m_created) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut m_reply: Vec<Option<String>> = Vec::new();
        let (mut m_principal, mut m_external): (Vec<i16>, Vec<Option<&str>>) = (Vec::new(), Vec::new());
        let mut m_words: Vec<String> = Vec::new();
        let mut m_files: Vec<Option<String>> = Vec::new();
        for (new, back) in plan.fresh() {
            m_room.push(new.room.as_str());
            m_back.push(back);
            m_id.push(new.id.to_string());
            m_user.push(new.user_id.to_string());
            m_name.push(new.name.as_str());
            m_content.push(&*new.content);
            m_client.push(new.client_id.as_ref().map(ClientId::as_str));
            m_created.push(to_millis(new.created_at));
            m_reply.push(new.reply_to.map(|id| id.to_string()));
            m_principal.push(new.principal.code());
            m_external.push(new.external_id.as_ref().map(ExternalId::as_str));
            m_words.push(index_text(&new.content));
            m_files.push(match new.attachments.as_slice() {
                [] => None,
                files => Some(
                    serde_json::to_string(files).map_err(|e| Failure::Store(StoreError::Internal(e.to_string())))?,
                ),
            });
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
                    &m_reply,
                    &m_principal,
                    &m_external,
                    &m_words,
                    &m_files,
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
    plan.settle(&heads).map_err(Failure::Store)
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
