//! Files (protocol.md §17) in the SQLite file, schema version 8: their
//! records, written on a connection of their own beside the writer's (an
//! upload does not wait behind a group commit), and the references the
//! writer keeps in the transactions that store and delete messages.

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;
use whisper_core::model::{
    Attachment, FileId, FileName, FileRecord, PostedFile, RoomName, StoredThumb, ThumbSize, UserId,
};
use whisper_core::store::StoreError;

use super::error::store_error;
use super::rows::{corrupt, from_unix_millis, unix_millis};
use super::schema::BUSY_TIMEOUT;

const FILE_COLUMNS: &str = "id, uploader, name, type, size, width, height, thumb_width, thumb_height, thumb_type,
     thumb_size, uploaded_at";

const INSERT_FILE: &str = "INSERT INTO files (id, uploader, name, type, size, width, height, thumb_width,
     thumb_height, thumb_type, thumb_size, uploaded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// The rooms of the live messages that carry a file: a range of the
/// primary key.
const FILE_ROOMS: &str = "SELECT DISTINCT room FROM message_files WHERE file = ?1 ORDER BY room";

/// References a file from a message, if the file has a record; the count
/// moves only when a row went in.
const ATTACH: &str = "INSERT OR IGNORE INTO message_files (file, room, seq)
     SELECT id, ?2, ?3 FROM files WHERE id = ?1";
const COUNT_IN: &str = "UPDATE files SET refs = refs + 1, posted = 1 WHERE id = ?1";
const CARRIED: &str = "SELECT file FROM message_files WHERE room = ?1 AND seq = ?2";
const COUNT_OUT: &str = "UPDATE files SET refs = refs - 1 WHERE id = ?1";
const RELEASE: &str = "DELETE FROM message_files WHERE room = ?1 AND seq = ?2";

/// Opens the connection file records are written on (the schema is the
/// writer's). `synchronous = FULL`, as for messages: a record a message
/// references must survive what the message survives.
pub(super) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(store_error)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(store_error)?;
    conn.execute_batch("PRAGMA synchronous = FULL;").map_err(store_error)?;
    Ok(conn)
}

pub(super) fn add(conn: &Connection, file: &FileRecord) -> rusqlite::Result<()> {
    let a = &file.attachment;
    let thumb = file.thumb.as_ref();
    conn.prepare_cached(INSERT_FILE)?.execute(params![
        a.id.to_string(),
        file.uploader.to_string(),
        a.name.as_str(),
        &*a.media_type,
        i64::try_from(a.size).unwrap_or(i64::MAX),
        a.width,
        a.height,
        thumb.map(|t| t.size.width),
        thumb.map(|t| t.size.height),
        thumb.map(|t| &*t.media_type),
        thumb.map(|t| i64::try_from(t.bytes).unwrap_or(i64::MAX)),
        unix_millis(file.uploaded_at),
    ])?;
    Ok(())
}

pub(super) fn file(conn: &Connection, id: FileId) -> rusqlite::Result<Option<PostedFile>> {
    let id = id.to_string();
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE id = ?1");
    let Some(record) = conn.prepare_cached(&sql)?.query_row(params![id], record).optional()? else {
        return Ok(None);
    };
    let mut rooms = Vec::new();
    for room in conn.prepare_cached(FILE_ROOMS)?.query_map(params![id], |row| row.get::<_, String>(0))? {
        let room = room?;
        rooms.push(RoomName::parse(&room).map_err(|e| corrupt(0, e))?);
    }
    Ok(Some(PostedFile { record, rooms }))
}

/// Takes out up to `limit` records nothing references, in one statement:
/// from the `files_unreferenced` index.
pub(super) fn sweep(
    conn: &Connection,
    unposted_before: OffsetDateTime,
    limit: usize,
) -> rusqlite::Result<Vec<FileRecord>> {
    let sql = format!(
        "DELETE FROM files WHERE id IN (
             SELECT id FROM files WHERE refs = 0 AND (posted = 1 OR uploaded_at < ?1) LIMIT ?2)
         RETURNING {FILE_COLUMNS}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![unix_millis(unposted_before), limit as i64], record)?;
    rows.collect()
}

/// Inside the writer's transaction: `room`/`seq` (just stored) carries
/// `attachments`.
pub(super) fn attach(conn: &Connection, room: &RoomName, seq: i64, attachments: &[Attachment]) -> rusqlite::Result<()> {
    for attachment in attachments {
        let id = attachment.id.to_string();
        if conn.prepare_cached(ATTACH)?.execute(params![id, room.as_str(), seq])? == 1 {
            conn.prepare_cached(COUNT_IN)?.execute(params![id])?;
        }
    }
    Ok(())
}

/// Inside the writer's transaction: `room`/`seq` (being deleted) carries
/// nothing any more.
pub(super) fn release(conn: &Connection, room: &RoomName, seq: i64) -> rusqlite::Result<()> {
    let carried: Vec<String> = conn
        .prepare_cached(CARRIED)?
        .query_map(params![room.as_str(), seq], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    for id in carried {
        conn.prepare_cached(COUNT_OUT)?.execute(params![id])?;
    }
    conn.prepare_cached(RELEASE)?.execute(params![room.as_str(), seq])?;
    Ok(())
}

/// A row of [`FILE_COLUMNS`].
fn record(row: &Row<'_>) -> rusqlite::Result<FileRecord> {
    let id = FileId::parse(row.get_ref(0)?.as_str()?).map_err(|e| corrupt(0, e))?;
    let uploader = UserId::parse(row.get_ref(1)?.as_str()?).map_err(|e| corrupt(1, e))?;
    let size = u64::try_from(row.get::<_, i64>(4)?).map_err(|e| corrupt(4, e))?;
    let thumb = match row.get_ref(9)? {
        ValueRef::Null => None,
        media_type => Some(StoredThumb {
            size: ThumbSize { width: row.get(7)?, height: row.get(8)? },
            media_type: Arc::from(media_type.as_str()?),
            bytes: u64::try_from(row.get::<_, i64>(10)?).map_err(|e| corrupt(10, e))?,
        }),
    };
    Ok(FileRecord {
        attachment: Attachment {
            id,
            name: FileName::clean(row.get_ref(2)?.as_str()?),
            media_type: Arc::from(row.get_ref(3)?.as_str()?),
            size,
            width: row.get(5)?,
            height: row.get(6)?,
            thumb: thumb.as_ref().map(|t| t.size),
        },
        uploader,
        uploaded_at: from_unix_millis(11, row.get(11)?)?,
        thumb,
    })
}
