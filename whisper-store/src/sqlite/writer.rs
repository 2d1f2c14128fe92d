//! The writer thread: it owns the only write connection, takes every append
//! queued meanwhile into one group, and commits the group in one transaction
//! (one sync for all of it), each request under its own savepoint.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};
use whisper_core::model::{
    Change, ClientId, Event, ExternalId, Message, NewEvent, NewMessage, Request as Asked, RoomName, Seq,
};
use whisper_core::store::{Applied, EventRefusal, NewRoom, StoreError};

use super::error::store_error;
use super::rows::{
    Decoder, Head, SELECT_HEAD, SELECT_ORIGINAL, SELECT_ORIGINAL_EVENT, corrupt, decode_event, from_unix_millis,
    head_from_row, seq_param, unix_millis,
};
use super::search::Reindex;
use super::{MAX_GROUP_MESSAGES, MAX_GROUP_REQUESTS};

/// The writer forgets its cached heads past this many rooms, so a flood of
/// rooms cannot grow its memory without bound; heads reload on demand.
const MAX_CACHED_HEADS: usize = 65_536;

/// Stores a message unless its `(user_id, client_id)` is already stored.
const INSERT_MESSAGE: &str =
    "INSERT INTO messages (room, seq, id, user_id, name, content, client_id, created_at, reply_to, principal,
                           external_id, attachments)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
     ON CONFLICT (user_id, client_id) WHERE client_id IS NOT NULL DO NOTHING";

/// Moves a room's head to where the group left it.
const UPSERT_HEAD: &str = "INSERT INTO rooms (name, last_seq, epoch, last_message_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (name) DO UPDATE SET last_seq = excluded.last_seq, last_message_at = excluded.last_message_at";

/// Stores an event at the seq the writer gives it.
pub(super) const INSERT_EVENT: &str = "INSERT INTO events
     (room, seq, id, target, user_id, name, kind, content, emoji, reacted, count, client_id, created_at, detail)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

/// An event's target, as the checks need it.
pub(super) const SELECT_TARGET: &str = "SELECT seq, user_id, deleted FROM messages WHERE room = ?1 AND id = ?2";

/// One write waiting for the writer.
pub(super) enum Request {
    /// Messages to append.
    Append { batch: Vec<NewMessage>, reply: oneshot::Sender<Result<Vec<Message>, StoreError>> },
    /// An event to check and store (taken when the writer stores it).
    Apply { event: Option<Box<NewEvent>>, reply: oneshot::Sender<Result<Applied, StoreError>> },
    /// A room to create (taken when the writer stores it).
    Create { room: Option<Box<NewRoom>>, reply: oneshot::Sender<Result<Option<Vec<Event>>, StoreError>> },
}

impl Request {
    fn is_closed(&self) -> bool {
        match self {
            Request::Append { reply, .. } => reply.is_closed(),
            Request::Apply { reply, .. } => reply.is_closed(),
            Request::Create { reply, .. } => reply.is_closed(),
        }
    }

    /// The rows it writes, about: what bounds a group.
    fn size(&self) -> usize {
        match self {
            Request::Append { batch, .. } => batch.len(),
            Request::Apply { .. } => 1,
            Request::Create { room, .. } => room.as_ref().map_or(1, |r| r.members.len() + 2),
        }
    }
}

/// The writer's answer to one request.
pub(super) enum Answer {
    Append(Result<Vec<Message>, StoreError>),
    Apply(Result<Applied, StoreError>),
    Create(Result<Option<Vec<Event>>, StoreError>),
}

impl Answer {
    fn send(self, request: Request) {
        // The caller may have stopped waiting once its request was in the
        // group; what it asked is stored all the same, and a resend finds it.
        match (request, self) {
            (Request::Append { reply, .. }, Answer::Append(answer)) => drop(reply.send(answer)),
            (Request::Apply { reply, .. }, Answer::Apply(answer)) => drop(reply.send(answer)),
            (Request::Create { reply, .. }, Answer::Create(answer)) => drop(reply.send(answer)),
            (request, _) => {
                Answer::failed(request, StoreError::Internal("SQLite writer answered the wrong request".into()))
            }
        }
    }

    fn failed(request: Request, e: StoreError) {
        match request {
            Request::Append { reply, .. } => drop(reply.send(Err(e))),
            Request::Apply { reply, .. } => drop(reply.send(Err(e))),
            Request::Create { reply, .. } => drop(reply.send(Err(e))),
        }
    }
}

/// The writer thread's state. Never panics: every failure becomes an answer.
pub(super) struct Writer {
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
    /// A writer on `conn` (open, migrated) answering `requests`.
    pub(super) fn new(conn: Connection, requests: mpsc::Receiver<Request>, commits: Arc<AtomicU64>) -> Self {
        Writer {
            conn,
            requests,
            commits,
            heads: HashMap::new(),
            dirty: HashMap::new(),
            undo: Vec::new(),
            data_version: None,
        }
    }

    /// Commits groups until the queue is closed and empty.
    pub(super) fn run(mut self) {
        let mut group: Vec<Request> = Vec::new();
        let mut answers: Vec<Answer> = Vec::new();
        while let Some(first) = self.requests.blocking_recv() {
            // Everything that queued up while the previous group was syncing
            // goes into this one, except requests whose caller stopped
            // waiting: nobody can learn their outcome, so they are skipped
            // (the contract of `Store::append`; a resend stores them).
            let mut messages = 0;
            let mut next = Some(first);
            while let Some(request) = next.take() {
                if !request.is_closed() {
                    messages += request.size();
                    group.push(request);
                }
                if group.len() < MAX_GROUP_REQUESTS && messages < MAX_GROUP_MESSAGES {
                    next = self.requests.try_recv().ok();
                }
            }
            if !group.is_empty() {
                self.commit_group(&mut group, &mut answers);
            }
        }
        // The queue is closed and empty. Dropping the connection closes the
        // file (checkpointing the WAL into it).
    }

    /// Commits a group and answers each of its requests, only after COMMIT.
    fn commit_group(&mut self, group: &mut Vec<Request>, answers: &mut Vec<Answer>) {
        answers.clear();
        match self.write_group(group, answers) {
            Ok(()) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                if self.heads.len() > MAX_CACHED_HEADS {
                    self.heads.clear();
                }
                self.heads.extend(self.dirty.drain());
                for (request, answer) in group.drain(..).zip(answers.drain(..)) {
                    answer.send(request);
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
                    Answer::failed(request, e.clone());
                }
            }
        }
    }

    /// Writes every request of `group` in one transaction and commits it,
    /// pushing one answer per request into `answers`. An error fails the
    /// whole group; a request's own failure is its answer only.
    fn write_group(&mut self, group: &mut [Request], answers: &mut Vec<Answer>) -> rusqlite::Result<()> {
        let Writer { conn, heads, dirty, undo, data_version, .. } = self;
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        let version: i64 = conn.prepare_cached("PRAGMA data_version")?.query_row([], |row| row.get(0))?;
        if *data_version != Some(version) {
            heads.clear();
            *data_version = Some(version);
        }
        let mut stmts = Statements {
            conn,
            insert: conn.prepare_cached(INSERT_MESSAGE)?,
            original: conn.prepare_cached(SELECT_ORIGINAL)?,
            head: conn.prepare_cached(SELECT_HEAD)?,
            reindex: Reindex::default(),
        };
        let mut savepoint = conn.prepare_cached("SAVEPOINT request")?;
        let mut release = conn.prepare_cached("RELEASE request")?;
        let mut rollback_to = conn.prepare_cached("ROLLBACK TO request")?;
        for request in group.iter_mut() {
            savepoint.execute([])?;
            let indexed = stmts.reindex.mark();
            let done = match request {
                Request::Append { batch, .. } => {
                    append_batch(&mut stmts, heads, dirty, undo, std::mem::take(batch)).map(|m| Answer::Append(Ok(m)))
                }
                Request::Apply { event, .. } => match event.take() {
                    Some(event) => {
                        apply_event(conn, &mut stmts, heads, dirty, undo, *event).map(|a| Answer::Apply(Ok(a)))
                    }
                    None => Ok(Answer::Apply(Err(StoreError::Internal("event taken twice".into())))),
                },
                Request::Create { room, .. } => match room.take() {
                    Some(room) => super::members::create_room(conn, &mut stmts, heads, dirty, undo, *room)
                        .map(|c| Answer::Create(Ok(c))),
                    None => Ok(Answer::Create(Err(StoreError::Internal("room taken twice".into())))),
                },
            };
            match done {
                Ok(answer) => {
                    release.execute([])?;
                    answers.push(answer);
                }
                Err(e) => {
                    if conn.is_autocommit() {
                        // SQLite rolled back the whole transaction (I/O
                        // error, full disk…): the group is lost.
                        return Err(e);
                    }
                    rollback_to.execute([])?;
                    release.execute([])?;
                    stmts.reindex.rewind(indexed);
                    for (room, before) in undo.drain(..).rev() {
                        match before {
                            Some(head) => dirty.insert(room, head),
                            None => dirty.remove(&room),
                        };
                    }
                    tracing::warn!(error = %e, "SQLite write failed; the rest of its group goes on");
                    answers.push(match request {
                        Request::Append { .. } => Answer::Append(Err(store_error(e))),
                        Request::Apply { .. } => Answer::Apply(Err(store_error(e))),
                        Request::Create { .. } => Answer::Create(Err(store_error(e))),
                    });
                }
            }
            undo.clear();
        }
        let mut reindex = std::mem::take(&mut stmts.reindex);
        drop(stmts);
        reindex.apply(conn)?;
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
pub(super) struct Statements<'conn> {
    /// The connection, for the rarer statements (files).
    conn: &'conn Connection,
    insert: rusqlite::CachedStatement<'conn>,
    original: rusqlite::CachedStatement<'conn>,
    head: rusqlite::CachedStatement<'conn>,
    /// What the group changes in the search index.
    pub(super) reindex: Reindex,
}

impl<'conn> Statements<'conn> {
    /// The statement that reads a room's head.
    pub(super) fn head(&mut self) -> &mut rusqlite::CachedStatement<'conn> {
        &mut self.head
    }
}

/// Stores one request's batch (inside its savepoint) and returns what the
/// appender gets back: one message per input, in input order.
pub(super) fn append_batch(
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
        let mut reply_buf = [0u8; ulid::ULID_LEN];
        let reply_to = new.reply_to.map(|r| &*r.as_ulid().array_to_str(&mut reply_buf));
        let attachments = match new.attachments.as_slice() {
            [] => None,
            files => Some(serde_json::to_string(files).map_err(|e| corrupt(11, e))?),
        };
        let inserted = stmts.insert.execute(params![
            new.room.as_str(),
            seq_param(seq),
            &*id,
            &*user,
            new.name.as_str(),
            &*new.content,
            new.client_id.as_ref().map(ClientId::as_str),
            created_at,
            reply_to,
            new.principal.code(),
            new.external_id.as_ref().map(ExternalId::as_str),
            attachments,
        ])?;
        if inserted == 1 {
            stmts.reindex.posted(&new.room, seq, &new.content);
            if !new.attachments.is_empty() {
                super::files::attach(stmts.conn, &new.room, seq_param(seq), &new.attachments)?;
            }
            head.last_seq = seq;
            head.last_message_at = Some(created_at);
            // What is read back later: whole milliseconds (`Store::append`).
            let mut message = new.stored_at(seq);
            message.created_at = from_unix_millis(7, created_at)?;
            out.push(message);
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

/// Checks an event against its target and stores it (inside its
/// savepoint), as [`Store::apply`](whisper_core::store::Store::apply) says.
pub(super) fn apply_event(
    conn: &Connection,
    stmts: &mut Statements<'_>,
    heads: &mut HashMap<RoomName, Head>,
    dirty: &mut HashMap<RoomName, Head>,
    undo: &mut Vec<(RoomName, Option<Head>)>,
    new: NewEvent,
) -> rusqlite::Result<Applied> {
    let mut user_buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let user = new.user_id.as_uuid().hyphenated().encode_lower(&mut user_buf).to_owned();
    if let Some(client_id) = &new.client_id {
        let original = conn
            .prepare_cached(SELECT_ORIGINAL_EVENT)?
            .query_row(params![user, client_id.as_str()], decode_event)
            .optional()?;
        if let Some(original) = original {
            return Ok(Applied::Stored(original));
        }
    }
    if let Asked::Member { .. } | Asked::Retitle { .. } = &new.request {
        return super::members::apply_room_change(conn, stmts, heads, dirty, undo, new);
    }
    let Some(target) = new.target else { return Ok(Applied::Refused(EventRefusal::NotFound)) };
    let target = target.to_string();
    let found: Option<(i64, String, i64)> = conn
        .prepare_cached(SELECT_TARGET)?
        .query_row(params![new.room.as_str(), target], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let Some((target_seq, author, deleted)) = found else { return Ok(Applied::Refused(EventRefusal::NotFound)) };
    if deleted != 0 {
        return Ok(Applied::Refused(EventRefusal::NotFound));
    }
    let mut count = 0;
    match &new.request {
        Asked::Edit { .. } if author != user => return Ok(Applied::Refused(EventRefusal::NotAuthor)),
        Asked::Delete if author != user => {
            // Someone else's message: the room's moderators only.
            if !super::members::access(conn, &new.room, new.user_id)?.moderates() {
                return Ok(Applied::Refused(EventRefusal::NotAuthor));
            }
        }
        Asked::Edit { .. } | Asked::Delete => {}
        Asked::React { emoji, on } => {
            let had = conn
                .prepare_cached(
                    "SELECT 1 FROM reactions WHERE room = ?1 AND target_seq = ?2 AND emoji = ?3 AND user_id = ?4",
                )?
                .query_row(params![new.room.as_str(), target_seq, emoji.as_str(), user], |_| Ok(()))
                .optional()?
                .is_some();
            if had == *on {
                return Ok(Applied::Unchanged);
            }
        }
        // Decided by the room's rules above.
        Asked::Member { .. } | Asked::Retitle { .. } => return Ok(Applied::Refused(EventRefusal::NotFound)),
    }
    let head = head_mut(&mut stmts.head, heads, dirty, undo, &new.room)?;
    let seq = head.last_seq.next();
    head.last_seq = seq;
    let seq_value = seq_param(seq);
    let created_at = unix_millis(new.created_at);
    let room = new.room.clone();
    match &new.request {
        Asked::Edit { content } => {
            conn.prepare_cached(
                "UPDATE messages SET edited_content = ?3, edited_at = ?4 WHERE room = ?1 AND seq = ?2",
            )?
            .execute(params![room.as_str(), target_seq, &**content, created_at])?;
            stmts.reindex.changed(&room, Seq(u64::try_from(target_seq).unwrap_or_default()));
        }
        Asked::Delete => {
            conn.prepare_cached(
                "UPDATE messages SET content = '', edited_content = NULL, edited_at = NULL, deleted = 1,
                                     attachments = NULL
                 WHERE room = ?1 AND seq = ?2",
            )?
            .execute(params![room.as_str(), target_seq])?;
            super::files::release(conn, &room, target_seq)?;
            stmts.reindex.changed(&room, Seq(u64::try_from(target_seq).unwrap_or_default()));
            conn.prepare_cached("UPDATE events SET content = '' WHERE room = ?1 AND target = ?2 AND kind = 'edit'")?
                .execute(params![room.as_str(), target])?;
            conn.prepare_cached("DELETE FROM reactions WHERE room = ?1 AND target_seq = ?2")?
                .execute(params![room.as_str(), target_seq])?;
        }
        Asked::React { emoji, on } => {
            if *on {
                conn.prepare_cached(
                    "INSERT INTO reactions (room, target_seq, emoji, user_id, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![room.as_str(), target_seq, emoji.as_str(), user, seq_value])?;
            } else {
                conn.prepare_cached(
                    "DELETE FROM reactions WHERE room = ?1 AND target_seq = ?2 AND emoji = ?3 AND user_id = ?4",
                )?
                .execute(params![room.as_str(), target_seq, emoji.as_str(), user])?;
            }
            count = conn
                .prepare_cached("SELECT count(*) FROM reactions WHERE room = ?1 AND target_seq = ?2 AND emoji = ?3")?
                .query_row(params![room.as_str(), target_seq, emoji.as_str()], |row| row.get::<_, i64>(0))?;
        }
        Asked::Member { .. } | Asked::Retitle { .. } => {}
    }
    let mut event = new.stored_at(seq, u32::try_from(count).unwrap_or(u32::MAX));
    event.created_at = from_unix_millis(12, created_at)?;
    let (content, emoji, reacted, count) = match &event.change {
        Change::Edit { content } => (Some(&**content), None, None, None),
        Change::Reaction { emoji, on, count } => (None, Some(emoji.as_str()), Some(i64::from(*on)), Some(*count)),
        Change::Delete | Change::Member { .. } | Change::Room { .. } => (None, None, None, None),
    };
    conn.prepare_cached(INSERT_EVENT)?.execute(params![
        room.as_str(),
        seq_value,
        event.id.to_string(),
        target,
        user,
        event.name.as_str(),
        event.change.kind(),
        content,
        emoji,
        reacted,
        count,
        event.client_id.as_ref().map(ClientId::as_str),
        created_at,
        None::<&str>,
    ])?;
    Ok(Applied::Stored(event))
}

/// The head of `room` for the group in progress, loaded into `dirty` (from
/// the cache, the file, or fresh) and noted in `undo` on first touch by the
/// current request.
pub(super) fn head_mut<'d>(
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
