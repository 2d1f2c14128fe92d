//! The timeline (protocol.md §13) in PostgreSQL: an event is checked and
//! stored in one transaction of its own, the room's log is read from one
//! snapshot, and a page's reactions with one range scan.
//!
//! # An event's transaction
//!
//! It locks the target message's row (`FOR UPDATE`), so two events on one
//! message (two reactions, a reaction and a delete) are checked one after
//! the other, then takes the room's next seq by bumping its `rooms` row,
//! which stays locked until commit exactly as a group of messages does: a
//! room's seqs stay gap-free and in commit order across messages, events,
//! connections and nodes. Locks are taken message row first, room row
//! second; a group of messages locks only room rows, so the two never wait
//! on each other in a cycle.
//!
//! Events are rarer than messages and are not group-committed: one round
//! trip each (a handful of statements in one transaction).

use tokio_postgres::Row;
use whisper_core::model::{Change, Entry, Message, MessageId, NewEvent, Reactions, Request, RoomName, Seq, index_text};
use whisper_core::store::{Applied, EventRefusal, LogPage, MAX_PAGE, StoreError};

use super::PostgresStore;
use super::error::{bounded_raw, classify, discard, timed_out};
use super::rows::{decode_error, decode_event, decode_message, decode_reactor, from_millis, to_i64, to_millis};

/// The columns [`decode_event`] reads.
pub(super) const EVENT_COLUMNS: &str =
    "room, seq, id, target, user_id::text, name, kind, content, emoji, reacted, count, client_id, created_at, detail";
/// A message's columns for [`decode_message`], in its current state.
const CURRENT_COLUMNS: &str = "room, seq, id, user_id::text, name, COALESCE(edited_content, content), client_id, \
     created_at, reply_to, edited_at, deleted, principal, external_id, attachments";
/// The same, as posted (its tombstone if deleted): what the log holds.
const POSTED_COLUMNS: &str = "room, seq, id, user_id::text, name, content, client_id, created_at, reply_to, NULL::int8, deleted, principal, \
     external_id, attachments";

/// How many times an event is tried when it collides with another
/// transaction (the same client id stored at the same moment, a deadlock).
const MAX_ATTEMPTS: usize = 3;

/// Why one try at an event failed.
pub(super) enum Failure {
    Db(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl PostgresStore {
    /// [`Store::apply`](whisper_core::store::Store::apply): see the module docs.
    pub(super) async fn apply_event(&self, new: NewEvent) -> Result<Applied, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut client = self.client().await?;
            match bounded_raw(apply_once(&mut client, &new)).await {
                Some(Ok(applied)) => return Ok(applied),
                Some(Err(Failure::Store(e))) => return Err(e),
                Some(Err(Failure::Db(e))) => {
                    let conflict = matches!(e.code().map(|c| c.code()), Some("23505" | "40001" | "40P01"));
                    if conflict && attempt < MAX_ATTEMPTS {
                        // A resend stored concurrently is found on the next
                        // try; a deadlock victim simply tries again.
                        continue;
                    }
                    let error = classify(&e);
                    if matches!(error, StoreError::Unavailable(_)) {
                        // Whether a lost COMMIT landed is unknown: a resend
                        // with the same client id finds out.
                        discard(client);
                    }
                    return Err(error);
                }
                None => {
                    discard(client);
                    return Err(timed_out());
                }
            }
        }
    }

    /// [`Store::message`](whisper_core::store::Store::message).
    pub(super) async fn read_message(&self, room: &RoomName, id: MessageId) -> Result<Option<Message>, StoreError> {
        let sql = format!("SELECT {CURRENT_COLUMNS} FROM messages WHERE room = $1 AND id = $2");
        let rows = self.query(&sql, &[&room.as_str(), &id.to_string()]).await?;
        let Some(row) = rows.first() else { return Ok(None) };
        let mut messages = vec![decode_message(row)?];
        self.add_reactions(&mut messages).await?;
        Ok(messages.pop())
    }

    /// [`Store::log`](whisper_core::store::Store::log): messages as posted
    /// and events, read in one `REPEATABLE READ` snapshot (read apart, a
    /// commit between the two reads could show an event past a message not
    /// yet seen: a gap) and merged by seq.
    pub(super) async fn read_log(&self, room: &RoomName, after: Seq, limit: usize) -> Result<LogPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
        let after = to_i64(after.0);
        let messages_sql =
            format!("SELECT {POSTED_COLUMNS} FROM messages WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3");
        let events_sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE room = $1 AND seq > $2 ORDER BY seq LIMIT $3");
        let mut retried = false;
        loop {
            let mut client = self.client().await?;
            let read = bounded_raw(async {
                let tx = client
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await?;
                let messages =
                    tx.query(&tx.prepare_cached(&messages_sql).await?, &[&room.as_str(), &after, &fetch]).await?;
                let events =
                    tx.query(&tx.prepare_cached(&events_sql).await?, &[&room.as_str(), &after, &fetch]).await?;
                tx.commit().await?;
                Ok::<(Vec<Row>, Vec<Row>), tokio_postgres::Error>((messages, events))
            })
            .await;
            let (messages, events) = match read {
                Some(Ok(rows)) => rows,
                Some(Err(e)) => match classify(&e) {
                    StoreError::Unavailable(why) => {
                        discard(client);
                        if retried {
                            return Err(StoreError::Unavailable(why));
                        }
                        retried = true;
                        continue;
                    }
                    other => return Err(other),
                },
                None => {
                    discard(client);
                    return Err(timed_out());
                }
            };
            let mut entries = Vec::with_capacity(messages.len() + events.len());
            for row in &messages {
                entries.push(Entry::Message(decode_message(row)?));
            }
            for row in &events {
                entries.push(Entry::Event(decode_event(row, 0)?));
            }
            entries.sort_unstable_by_key(Entry::seq);
            let has_more = entries.len() > limit;
            entries.truncate(limit);
            return Ok(LogPage { entries, has_more });
        }
    }

    /// Fills in the reactions of `messages` (oldest first, of one room):
    /// one range scan of the primary key over their seqs.
    pub(super) async fn add_reactions(&self, messages: &mut [Message]) -> Result<(), StoreError> {
        let (Some(first), Some(last)) = (messages.first(), messages.last()) else { return Ok(()) };
        let room = first.room.clone();
        let (from, to) = (to_i64(first.seq.0), to_i64(last.seq.0));
        let rows = self
            .query(
                "SELECT target_seq, emoji, user_id::text FROM reactions \
                 WHERE room = $1 AND target_seq >= $2 AND target_seq <= $3 ORDER BY target_seq, seq",
                &[&room.as_str(), &from, &to],
            )
            .await?;
        let mut standing = Vec::with_capacity(rows.len());
        for row in &rows {
            let seq: i64 = row.try_get(0).map_err(|e| decode_error(&e))?;
            let (emoji, user) = decode_reactor(row, 1)?;
            standing.push((Seq(u64::try_from(seq).unwrap_or(0)), emoji, user));
        }
        for run in standing.chunk_by(|a, b| a.0 == b.0) {
            if let Ok(i) = messages.binary_search_by_key(&run[0].0, |m| m.seq) {
                messages[i].reactions = Reactions::tally(run.iter().map(|(_, e, u)| (e, *u)));
            }
        }
        Ok(())
    }
}

/// One try at an event, in one transaction.
async fn apply_once(client: &mut deadpool_postgres::Object, new: &NewEvent) -> Result<Applied, Failure> {
    let tx = client.transaction().await?;
    let user = new.user_id.to_string();
    let room = new.room.as_str();
    if let Some(client_id) = &new.client_id {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE user_id = $1::text::uuid AND client_id = $2");
        if let Some(row) = tx.query_opt(&tx.prepare_cached(&sql).await?, &[&user, &client_id.as_str()]).await? {
            return Ok(Applied::Stored(decode_event(&row, 0)?));
        }
    }
    if let Request::Member { .. } | Request::Retitle { .. } = &new.request {
        return super::members::apply_room_change(tx, new).await;
    }
    let Some(target) = new.target else { return Ok(Applied::Refused(EventRefusal::NotFound)) };
    let target = target.to_string();
    let found = tx
        .query_opt(
            &tx.prepare_cached(
                "SELECT seq, user_id::text, deleted FROM messages WHERE room = $1 AND id = $2 FOR UPDATE",
            )
            .await?,
            &[&room, &target],
        )
        .await?;
    let Some(found) = found else { return Ok(Applied::Refused(EventRefusal::NotFound)) };
    let target_seq: i64 = found.try_get(0)?;
    let author: &str = found.try_get(1)?;
    let deleted: bool = found.try_get(2)?;
    if deleted {
        return Ok(Applied::Refused(EventRefusal::NotFound));
    }
    match &new.request {
        Request::Edit { .. } if author != user => return Ok(Applied::Refused(EventRefusal::NotAuthor)),
        Request::Delete if author != user => {
            // Someone else's message: the room's moderators only.
            if !super::members::access_in(&tx, &new.room, new.user_id).await?.moderates() {
                return Ok(Applied::Refused(EventRefusal::NotAuthor));
            }
        }
        Request::Edit { .. } | Request::Delete => {}
        // Decided by the room's rules above.
        Request::Member { .. } | Request::Retitle { .. } => return Ok(Applied::Refused(EventRefusal::NotFound)),
        Request::React { emoji, on } => {
            let had = tx
                .query_opt(
                    &tx.prepare_cached(
                        "SELECT 1 FROM reactions \
                         WHERE room = $1 AND target_seq = $2 AND emoji = $3 AND user_id = $4::text::uuid",
                    )
                    .await?,
                    &[&room, &target_seq, &emoji.as_str(), &user],
                )
                .await?
                .is_some();
            if had == *on {
                return Ok(Applied::Unchanged);
            }
        }
    }
    let head = tx
        .query_one(
            &tx.prepare_cached("UPDATE rooms SET last_seq = last_seq + 1 WHERE name = $1 RETURNING last_seq").await?,
            &[&room],
        )
        .await?;
    let seq: i64 = head.try_get(0)?;
    let created_at = to_millis(new.created_at);
    let mut count: i64 = 0;
    match &new.request {
        Request::Edit { content } => {
            tx.execute(
                &tx.prepare_cached(
                    "UPDATE messages SET edited_content = $3, edited_at = $4, search_words = to_tsvector('simple', $5) \
                     WHERE room = $1 AND seq = $2",
                )
                .await?,
                &[&room, &target_seq, &&**content, &created_at, &index_text(content)],
            )
            .await?;
        }
        Request::Delete => {
            tx.execute(
                &tx.prepare_cached(
                    "UPDATE messages SET content = '', edited_content = NULL, edited_at = NULL, deleted = true, \
                     search_words = NULL, attachments = NULL WHERE room = $1 AND seq = $2",
                )
                .await?,
                &[&room, &target_seq],
            )
            .await?;
            // Its files are carried by one message fewer (protocol.md §17).
            tx.execute(
                &tx.prepare_cached(
                    "WITH released AS (DELETE FROM message_files WHERE room = $1 AND seq = $2 RETURNING file) \
                     UPDATE files f SET refs = f.refs - 1 FROM released r WHERE f.id = r.file",
                )
                .await?,
                &[&room, &target_seq],
            )
            .await?;
            tx.execute(
                &tx.prepare_cached("UPDATE events SET content = '' WHERE room = $1 AND target = $2 AND kind = 'edit'")
                    .await?,
                &[&room, &target],
            )
            .await?;
            tx.execute(
                &tx.prepare_cached("DELETE FROM reactions WHERE room = $1 AND target_seq = $2").await?,
                &[&room, &target_seq],
            )
            .await?;
        }
        Request::React { emoji, on } => {
            if *on {
                let sql = "INSERT INTO reactions (room, target_seq, emoji, user_id, seq) \
                           VALUES ($1, $2, $3, $4::text::uuid, $5)";
                tx.execute(&tx.prepare_cached(sql).await?, &[&room, &target_seq, &emoji.as_str(), &user, &seq]).await?;
            } else {
                let sql = "DELETE FROM reactions \
                           WHERE room = $1 AND target_seq = $2 AND emoji = $3 AND user_id = $4::text::uuid";
                tx.execute(&tx.prepare_cached(sql).await?, &[&room, &target_seq, &emoji.as_str(), &user]).await?;
            }
            count = tx
                .query_one(
                    &tx.prepare_cached(
                        "SELECT count(*) FROM reactions WHERE room = $1 AND target_seq = $2 AND emoji = $3",
                    )
                    .await?,
                    &[&room, &target_seq, &emoji.as_str()],
                )
                .await?
                .try_get(0)?;
        }
        Request::Member { .. } | Request::Retitle { .. } => {}
    }
    let seq = u64::try_from(seq).map_err(|_| StoreError::Internal(format!("room {room} returned seq {seq}")))?;
    let mut event = new.clone().stored_at(Seq(seq), u32::try_from(count).unwrap_or(u32::MAX));
    event.created_at = from_millis(created_at)?;
    let (content, emoji, reacted, stored_count): (Option<&str>, Option<&str>, Option<bool>, Option<i64>) =
        match &event.change {
            Change::Edit { content } => (Some(content), None, None, None),
            Change::Reaction { emoji, on, count } => (None, Some(emoji.as_str()), Some(*on), Some(i64::from(*count))),
            Change::Delete | Change::Member { .. } | Change::Room { .. } => (None, None, None, None),
        };
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO events (room, seq, id, target, user_id, name, kind, content, emoji, reacted, count, client_id, \
             created_at) VALUES ($1, $2, $3, $4, $5::text::uuid, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .await?,
        &[
            &room,
            &to_i64(seq),
            &event.id.to_string(),
            &target,
            &user,
            &event.name.as_str(),
            &event.change.kind(),
            &content,
            &emoji,
            &reacted,
            &stored_count,
            &event.client_id.as_ref().map(|c| c.as_str()),
            &created_at,
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(Applied::Stored(event))
}
