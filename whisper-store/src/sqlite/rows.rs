//! Rows and messages: the queries that read messages, events, the log and
//! room heads, and the decoding of their rows (checked, so a corrupt file is an error, never
//! a wrong message).

use std::sync::Arc;

use rusqlite::types::{Type, ValueRef};
use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;
use whisper_core::model::{
    Change, ClientId, DisplayName, Emoji, Entry, Epoch, Event, ExternalId, Message, MessageId, PrincipalKind,
    Reactions, RoomName, Seq, UserId,
};
use whisper_core::store::{LogPage, Page, ReadRange, RoomInfo};

/// The columns every query of messages in their current state selects, in
/// the order [`Decoder`] reads them.
macro_rules! message_columns {
    () => {
        "SELECT room, seq, id, user_id, name, coalesce(edited_content, content), client_id, created_at, reply_to,
                edited_at, deleted, principal, external_id, attachments FROM messages "
    };
}
/// The same columns for a message as posted (its tombstone if deleted):
/// what the log holds and a resend answers.
macro_rules! posted_columns {
    () => {
        "SELECT room, seq, id, user_id, name, content, client_id, created_at, reply_to, NULL, deleted, principal,
                external_id, attachments FROM messages "
    };
}
pub(super) const SELECT_ORIGINAL: &str = concat!(posted_columns!(), "WHERE user_id = ?1 AND client_id = ?2");
pub(super) const READ_NEWEST: &str =
    concat!(message_columns!(), "WHERE room = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3");
pub(super) const READ_FORWARD: &str =
    concat!(message_columns!(), "WHERE room = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq LIMIT ?4");
pub(super) const SELECT_BY_ID: &str = concat!(message_columns!(), "WHERE room = ?1 AND id = ?2");
const LOG_MESSAGES: &str = concat!(posted_columns!(), "WHERE room = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
/// The columns every event query selects, in the order [`decode_event`] reads them.
macro_rules! event_columns {
    () => {
        "SELECT room, seq, id, target, user_id, name, kind, content, emoji, reacted, count, client_id, created_at,
                detail
         FROM events "
    };
}
pub(super) const LOG_EVENTS: &str = concat!(event_columns!(), "WHERE room = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
pub(super) const SELECT_ORIGINAL_EVENT: &str = concat!(event_columns!(), "WHERE user_id = ?1 AND client_id = ?2");
/// The standing reactions of a range of a room's messages, in the order
/// they were made: a range of the primary key.
pub(super) const SELECT_REACTIONS: &str = "SELECT target_seq, emoji, user_id FROM reactions
     WHERE room = ?1 AND target_seq >= ?2 AND target_seq <= ?3 ORDER BY target_seq, seq";
pub(super) const SELECT_HEAD: &str = "SELECT last_seq, epoch, last_message_at FROM rooms WHERE name = ?1";
/// A room's head with its profile.
pub(super) const SELECT_ROOM: &str =
    "SELECT last_seq, epoch, last_message_at, visibility, title, topic FROM rooms WHERE name = ?1";
/// A page of rooms after `?1` (`''` for the first page: every name sorts
/// after it), at most `?2`: a range scan of the primary key from the cursor.
/// Public rooms only, from the `public_rooms` partial index.
pub(super) const SELECT_ROOMS_PAGE: &str = "SELECT name, last_seq, epoch, last_message_at, visibility, title, topic
     FROM rooms INDEXED BY public_rooms
     WHERE visibility = 0 AND name > ?1 AND last_seq > 0 ORDER BY name LIMIT ?2";

/// A value in the file that no valid message could have produced.
pub(super) fn corrupt(column: usize, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Text, e.into())
}

pub(super) fn read_page(conn: &Connection, room: RoomName, range: ReadRange) -> rusqlite::Result<Page> {
    let limit = range.limit();
    // One more than asked tells whether more lie beyond the page.
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let before = range.before_seq().map_or(i64::MAX, seq_param);
    let mut decoder = Decoder::new(room);
    let mut messages = Vec::with_capacity((limit + 1).min(64));
    let newest = range.from_newest();
    // Messages and their reactions from one snapshot.
    let snapshot = conn.unchecked_transaction()?;
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
    add_reactions(conn, &mut messages)?;
    snapshot.commit()?;
    Ok(Page { messages, has_more })
}

/// A message of `room` by id, in its current state.
pub(super) fn read_message(conn: &Connection, room: RoomName, id: MessageId) -> rusqlite::Result<Option<Message>> {
    let mut buf = [0u8; ulid::ULID_LEN];
    let id = id.as_ulid().array_to_str(&mut buf);
    let mut decoder = Decoder::new(room);
    let snapshot = conn.unchecked_transaction()?;
    let mut messages = {
        let mut stmt = conn.prepare_cached(SELECT_BY_ID)?;
        let mut rows = stmt.query(params![decoder.room.as_str(), &*id])?;
        let Some(row) = rows.next()? else { return Ok(None) };
        vec![decoder.decode(row)?]
    };
    add_reactions(conn, &mut messages)?;
    snapshot.commit()?;
    Ok(messages.pop())
}

/// Fills in the reactions of `messages` (oldest first, of one room) with
/// one range scan over their seqs.
pub(super) fn add_reactions(conn: &Connection, messages: &mut [Message]) -> rusqlite::Result<()> {
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else { return Ok(()) };
    let room = first.room.clone();
    let mut stmt = conn.prepare_cached(SELECT_REACTIONS)?;
    let mut rows = stmt.query(params![room.as_str(), seq_param(first.seq), seq_param(last.seq)])?;
    let mut standing: Vec<(Seq, Emoji, UserId)> = Vec::new();
    while let Some(row) = rows.next()? {
        let seq = Seq(get_u64(row, 0)?);
        let emoji = Emoji::parse(row.get_ref(1)?.as_str()?).map_err(|e| corrupt(1, e))?;
        let user = UserId::parse(row.get_ref(2)?.as_str()?).map_err(|e| corrupt(2, e))?;
        standing.push((seq, emoji, user));
    }
    for run in standing.chunk_by(|a, b| a.0 == b.0) {
        if let Ok(i) = messages.binary_search_by_key(&run[0].0, |m| m.seq) {
            messages[i].reactions = Reactions::tally(run.iter().map(|(_, e, u)| (e, *u)));
        }
    }
    Ok(())
}

/// The log after `after`: messages as posted and events, merged by seq.
pub(super) fn read_log(conn: &Connection, room: RoomName, after: Seq, limit: usize) -> rusqlite::Result<LogPage> {
    let fetch = i64::try_from(limit + 1).unwrap_or(i64::MAX);
    let mut decoder = Decoder::new(room);
    let mut entries: Vec<Entry> = Vec::new();
    // One snapshot for both tables: read apart, a commit between them could
    // show an event past a message not yet seen, a gap.
    let snapshot = conn.unchecked_transaction()?;
    {
        let mut stmt = conn.prepare_cached(LOG_MESSAGES)?;
        let mut rows = stmt.query(params![decoder.room.as_str(), seq_param(after), fetch])?;
        while let Some(row) = rows.next()? {
            entries.push(Entry::Message(decoder.decode(row)?));
        }
    }
    {
        let mut stmt = conn.prepare_cached(LOG_EVENTS)?;
        let mut rows = stmt.query(params![decoder.room.as_str(), seq_param(after), fetch])?;
        while let Some(row) = rows.next()? {
            entries.push(Entry::Event(decode_event(row)?));
        }
    }
    snapshot.commit()?;
    // Both were read in one snapshot, each in seq order:
    // merged, their first `limit` are the log's.
    entries.sort_unstable_by_key(Entry::seq);
    let has_more = entries.len() > limit;
    entries.truncate(limit);
    Ok(LogPage { entries, has_more })
}

/// An event row (the columns of `event_columns!`).
pub(super) fn decode_event(row: &Row<'_>) -> rusqlite::Result<Event> {
    let room = RoomName::parse(row.get_ref(0)?.as_str()?).map_err(|e| corrupt(0, e))?;
    let seq = Seq(get_u64(row, 1)?);
    let id = MessageId::parse(row.get_ref(2)?.as_str()?).map_err(|_| corrupt(2, "not a ULID"))?;
    let target = match row.get_ref(3)?.as_str()? {
        // A membership or title event has no target.
        "" => None,
        id => Some(MessageId::parse(id).map_err(|_| corrupt(3, "not a ULID"))?),
    };
    let user_id = UserId::parse(row.get_ref(4)?.as_str()?).map_err(|e| corrupt(4, e))?;
    let name = DisplayName::parse(row.get_ref(5)?.as_str()?).map_err(|e| corrupt(5, e))?;
    let change = match row.get_ref(6)?.as_str()? {
        "edit" => Change::Edit { content: Arc::from(row.get_ref(7)?.as_str()?) },
        "delete" => Change::Delete,
        "reaction" => Change::Reaction {
            emoji: Emoji::parse(row.get_ref(8)?.as_str()?).map_err(|e| corrupt(8, e))?,
            on: row.get::<_, i64>(9)? != 0,
            count: u32::try_from(get_u64(row, 10)?).map_err(|e| corrupt(10, e))?,
        },
        "member" | "room" => super::members::decode_detail(13, row.get_ref(13)?.as_str()?)?,
        other => return Err(corrupt(6, format!("unknown event kind {other:?}"))),
    };
    let client_id = match row.get_ref(11)? {
        ValueRef::Null => None,
        value => Some(ClientId::parse(value.as_str()?).map_err(|e| corrupt(11, e))?),
    };
    let created_at = from_unix_millis(12, row.get(12)?)?;
    Ok(Event { seq, id, room, target, user_id, name, change, client_id, created_at })
}

/// A seq as SQLite's signed integer. Seqs beyond `i64::MAX` cannot be stored,
/// so as a bound such a seq means "past everything".
pub(super) fn seq_param(seq: Seq) -> i64 {
    i64::try_from(seq.0).unwrap_or(i64::MAX)
}

pub(super) fn unix_millis(t: OffsetDateTime) -> i64 {
    // Rounding down, also before 1970. In range for any year SQLite or
    // `time` can represent.
    t.unix_timestamp_nanos().div_euclid(1_000_000) as i64
}

pub(super) fn from_unix_millis(column: usize, ms: i64) -> rusqlite::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(|e| corrupt(column, e))
}

pub(super) fn get_u64(row: &Row<'_>, column: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(column)?;
    u64::try_from(v).map_err(|e| corrupt(column, e))
}

/// Turns message rows (the columns of `message_columns!`) back into
/// messages, sharing the room's and the last author's name between them
/// rather than allocating one per row.
pub(super) struct Decoder {
    room: RoomName,
    last_name: Option<DisplayName>,
}

impl Decoder {
    pub(super) fn new(room: RoomName) -> Self {
        Decoder { room, last_name: None }
    }

    pub(super) fn decode(&mut self, row: &Row<'_>) -> rusqlite::Result<Message> {
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
        let reply_to = match row.get_ref(8)? {
            ValueRef::Null => None,
            value => Some(MessageId::parse(value.as_str()?).map_err(|_| corrupt(8, "not a ULID"))?),
        };
        let edited_at = match row.get::<_, Option<i64>>(9)? {
            Some(ms) => Some(from_unix_millis(9, ms)?),
            None => None,
        };
        let deleted = row.get::<_, i64>(10)? != 0;
        let principal = PrincipalKind::from_code(row.get(11)?);
        let external_id = match row.get_ref(12)? {
            ValueRef::Null => None,
            value => Some(ExternalId::parse(value.as_str()?).map_err(|e| corrupt(12, e))?),
        };
        let attachments = match row.get_ref(13)? {
            ValueRef::Null => Vec::new(),
            value => serde_json::from_str(value.as_str()?).map_err(|e| corrupt(13, e))?,
        };
        Ok(Message {
            id,
            room,
            seq,
            user_id,
            name,
            principal,
            external_id,
            content,
            client_id,
            created_at,
            reply_to,
            edited_at,
            deleted,
            reactions: Vec::new(),
            attachments,
        })
    }
}

/// A room's head as the writer tracks it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Head {
    pub(super) last_seq: Seq,
    pub(super) epoch: Epoch,
    /// Unix milliseconds.
    pub(super) last_message_at: Option<i64>,
}

impl Head {
    /// The head of a room about to get its first message.
    pub(super) fn fresh() -> Self {
        Head { last_seq: Seq::ZERO, epoch: Epoch::fresh(), last_message_at: None }
    }

    /// Reads `last_seq, epoch, last_message_at` starting at column `first`.
    pub(super) fn from_row(row: &Row<'_>, first: usize) -> rusqlite::Result<Head> {
        let last_message_at: Option<i64> = row.get(first + 2)?;
        if let Some(ms) = last_message_at {
            // Checked here so that `info` cannot fail.
            from_unix_millis(first + 2, ms)?;
        }
        Ok(Head { last_seq: Seq(get_u64(row, first)?), epoch: Epoch(get_u64(row, first + 1)?), last_message_at })
    }

    pub(super) fn info(self, name: RoomName) -> RoomInfo {
        RoomInfo {
            name,
            last_seq: self.last_seq,
            epoch: self.epoch,
            last_message_at: self
                .last_message_at
                .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()),
            profile: Default::default(),
        }
    }
}

pub(super) fn head_from_row(row: &Row<'_>) -> rusqlite::Result<Head> {
    Head::from_row(row, 0)
}
