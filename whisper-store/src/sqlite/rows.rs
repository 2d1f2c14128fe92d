//! Rows and messages: the queries that read messages and room heads, and
//! the decoding of their rows (checked, so a corrupt file is an error, never
//! a wrong message).

use std::sync::Arc;

use rusqlite::types::{Type, ValueRef};
use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;
use whisper_core::model::{ClientId, DisplayName, Epoch, Message, MessageId, RoomName, Seq, UserId};
use whisper_core::store::{Page, ReadRange, RoomInfo};

/// The columns every message query selects, in the order [`Decoder`] reads them.
macro_rules! message_columns {
    () => {
        "SELECT room, seq, id, user_id, name, content, client_id, created_at FROM messages "
    };
}
pub(super) const SELECT_ORIGINAL: &str = concat!(message_columns!(), "WHERE user_id = ?1 AND client_id = ?2");
pub(super) const READ_NEWEST: &str =
    concat!(message_columns!(), "WHERE room = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3");
pub(super) const READ_FORWARD: &str =
    concat!(message_columns!(), "WHERE room = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq LIMIT ?4");
pub(super) const SELECT_HEAD: &str = "SELECT last_seq, epoch, last_message_at FROM rooms WHERE name = ?1";
/// A page of rooms after `?1` (`''` for the first page: every name sorts
/// after it), at most `?2`: a range scan of the primary key from the cursor.
pub(super) const SELECT_ROOMS_PAGE: &str =
    "SELECT name, last_seq, epoch, last_message_at FROM rooms WHERE name > ?1 AND last_seq > 0 ORDER BY name LIMIT ?2";

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
        Ok(Message { id, room, seq, user_id, name, content, client_id, created_at })
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
        }
    }
}

pub(super) fn head_from_row(row: &Row<'_>) -> rusqlite::Result<Head> {
    Head::from_row(row, 0)
}
