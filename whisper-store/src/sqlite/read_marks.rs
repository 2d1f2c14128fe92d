//! Read watermarks (protocol.md §12): written on a connection of their own,
//! beside the writer thread's, and counted on the readers.
//!
//! A mark is one small upsert: it does not wait for a group commit behind
//! thousands of messages, and it commits with `synchronous = NORMAL` (WAL
//! order is kept, the sync is skipped): a power cut may take back the last
//! read marks, never a message.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use whisper_core::model::{RoomName, Seq, UserId};
use whisper_core::store::{ReadMark, ReadState, StoreError};

use super::error::store_error;
use super::rows::seq_param;
use super::schema::BUSY_TIMEOUT;

/// Moves the watermark up to `?3`, clamped to the room's head; a mark that
/// would not move it (or a room with no messages) writes nothing and returns
/// no row.
const MARK: &str = "INSERT INTO read_marks (user_id, room, read_seq)
     SELECT ?1, ?2, min(?3, last_seq) FROM rooms WHERE name = ?2 AND min(?3, last_seq) > 0
     ON CONFLICT (user_id, room) DO UPDATE SET read_seq = excluded.read_seq
         WHERE excluded.read_seq > read_marks.read_seq
     RETURNING read_seq";

const SELECT_MARK: &str = "SELECT read_seq FROM read_marks WHERE user_id = ?1 AND room = ?2";

/// Messages by others after the watermark, deleted ones not counted: a range of the primary key
/// `(room, seq)` from the watermark on, so it costs what is unread, not the
/// room's history (the plan is in docs/performance.md).
pub(super) const COUNT_UNREAD: &str =
    "SELECT count(*) FROM messages WHERE room = ?1 AND seq > ?2 AND user_id <> ?3 AND deleted = 0";

/// The highest watermarks of a room, highest first: a range of
/// `read_marks_by_room` read backwards.
pub(super) const ROOM_READS: &str =
    "SELECT user_id, read_seq FROM read_marks WHERE room = ?1 ORDER BY read_seq DESC, user_id LIMIT ?2";

/// Opens the connection marks are written on (the schema is the writer's).
pub(super) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(store_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(store_error)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;").map_err(store_error)?;
    Ok(conn)
}

pub(super) fn mark(conn: &Connection, user: UserId, room: &RoomName, seq: Seq) -> rusqlite::Result<ReadMark> {
    let user = user.to_string();
    let moved: Option<i64> = conn
        .prepare_cached(MARK)?
        .query_row(params![user, room.as_str(), seq_param(seq)], |row| row.get(0))
        .optional()?;
    if let Some(read_seq) = moved {
        return Ok(ReadMark { read_seq: Seq(read_seq as u64), moved: true });
    }
    Ok(ReadMark { read_seq: watermark(conn, &user, room)?, moved: false })
}

pub(super) fn state(conn: &Connection, user: UserId, room: &RoomName) -> rusqlite::Result<ReadState> {
    let user = user.to_string();
    let read_seq = watermark(conn, &user, room)?;
    let unread: i64 = conn
        .prepare_cached(COUNT_UNREAD)?
        .query_row(params![room.as_str(), seq_param(read_seq), user], |row| row.get(0))?;
    Ok(ReadState { read_seq, unread: unread as u64 })
}

pub(super) fn room_reads(conn: &Connection, room: &RoomName, limit: usize) -> rusqlite::Result<Vec<(UserId, Seq)>> {
    let mut stmt = conn.prepare_cached(ROOM_READS)?;
    let rows = stmt.query_map(params![room.as_str(), i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
        let user = row.get_ref(0)?.as_str()?;
        let user = UserId::parse(user).map_err(|e| super::rows::corrupt(0, e))?;
        Ok((user, Seq(row.get::<_, i64>(1)?.max(0) as u64)))
    })?;
    rows.collect()
}

fn watermark(conn: &Connection, user: &str, room: &RoomName) -> rusqlite::Result<Seq> {
    let seq: Option<i64> =
        conn.prepare_cached(SELECT_MARK)?.query_row(params![user, room.as_str()], |row| row.get(0)).optional()?;
    Ok(Seq(seq.unwrap_or(0) as u64))
}
