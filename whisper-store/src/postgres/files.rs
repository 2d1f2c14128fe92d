//! File records (protocol.md §17) in PostgreSQL, schema version 8: kept,
//! read with the rooms that carry them, and swept. The references are
//! written by the message writer and by deletes, in their transactions.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio_postgres::Row;
use whisper_core::model::{
    Attachment, FileId, FileName, FileRecord, PostedFile, RoomName, StoredThumb, ThumbSize, UserId,
};
use whisper_core::store::{MAX_PAGE, StoreError};

use super::PostgresStore;
use super::rows::{corrupt, decode_error, from_millis, to_millis};

const FILE_COLUMNS: &str = "id, uploader::text, name, type, size, width, height, thumb_width, thumb_height, \
     thumb_type, thumb_size, uploaded_at";

const INSERT_FILE: &str = "INSERT INTO files (id, uploader, name, type, size, width, height, thumb_width, \
     thumb_height, thumb_type, thumb_size, uploaded_at) \
     VALUES ($1, $2::text::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

/// The rooms of the live messages that carry a file: a range of the
/// primary key.
const FILE_ROOMS: &str = "SELECT DISTINCT room FROM message_files WHERE file = $1 ORDER BY room";

impl PostgresStore {
    pub(super) async fn add_file_record(&self, file: &FileRecord) -> Result<(), StoreError> {
        let a = &file.attachment;
        let thumb = file.thumb.as_ref();
        let (width, height) = (a.width.map(to_i32), a.height.map(to_i32));
        let (thumb_width, thumb_height) = (thumb.map(|t| to_i32(t.size.width)), thumb.map(|t| to_i32(t.size.height)));
        let thumb_type = thumb.map(|t| &*t.media_type);
        let thumb_size = thumb.map(|t| i64::try_from(t.bytes).unwrap_or(i64::MAX));
        let (id, uploader) = (a.id.to_string(), file.uploader.to_string());
        let size = i64::try_from(a.size).unwrap_or(i64::MAX);
        self.write(
            INSERT_FILE,
            &[
                &id,
                &uploader,
                &a.name.as_str(),
                &&*a.media_type,
                &size,
                &width,
                &height,
                &thumb_width,
                &thumb_height,
                &thumb_type,
                &thumb_size,
                &to_millis(file.uploaded_at),
            ],
        )
        .await
        .map(drop)
    }

    pub(super) async fn file_record(&self, id: FileId) -> Result<Option<PostedFile>, StoreError> {
        let id = id.to_string();
        let rows = self.query(&format!("SELECT {FILE_COLUMNS} FROM files WHERE id = $1"), &[&id]).await?;
        let Some(row) = rows.first() else { return Ok(None) };
        let record = record(row)?;
        let mut rooms = Vec::new();
        for row in self.query(FILE_ROOMS, &[&id]).await? {
            let room: &str = row.try_get(0).map_err(|e| decode_error(&e))?;
            rooms.push(RoomName::parse(room).map_err(|_| corrupt("room name", room))?);
        }
        Ok(Some(PostedFile { record, rooms }))
    }

    /// One statement, from the `files_unreferenced` index. `SKIP LOCKED`:
    /// two nodes sweeping at once take different files.
    pub(super) async fn sweep_file_records(
        &self,
        unposted_before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let limit = i64::try_from(limit.clamp(1, MAX_PAGE)).unwrap_or(1);
        let sql = format!(
            "DELETE FROM files WHERE id IN ( \
                 SELECT id FROM files WHERE refs = 0 AND (posted OR uploaded_at < $1) \
                 LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING {FILE_COLUMNS}"
        );
        let rows = self.write(&sql, &[&to_millis(unposted_before), &limit]).await?;
        rows.iter().map(record).collect()
    }
}

fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn from_i32(row: &Row, column: usize) -> Result<Option<u32>, StoreError> {
    let v: Option<i32> = row.try_get(column).map_err(|e| decode_error(&e))?;
    v.map(|v| u32::try_from(v).map_err(|_| corrupt("pixel size", &v.to_string()))).transpose()
}

fn from_i64(row: &Row, column: usize) -> Result<Option<u64>, StoreError> {
    let v: Option<i64> = row.try_get(column).map_err(|e| decode_error(&e))?;
    v.map(|v| u64::try_from(v).map_err(|_| corrupt("byte size", &v.to_string()))).transpose()
}

/// A row of [`FILE_COLUMNS`].
fn record(row: &Row) -> Result<FileRecord, StoreError> {
    let text = |i: usize| row.try_get::<_, &str>(i).map_err(|e| decode_error(&e));
    let (id, uploader) = (text(0)?, text(1)?);
    let thumb_type: Option<&str> = row.try_get(9).map_err(|e| decode_error(&e))?;
    let thumb = match (thumb_type, from_i32(row, 7)?, from_i32(row, 8)?, from_i64(row, 10)?) {
        (Some(media_type), Some(width), Some(height), Some(bytes)) => {
            Some(StoredThumb { size: ThumbSize { width, height }, media_type: Arc::from(media_type), bytes })
        }
        _ => None,
    };
    let uploaded_at: i64 = row.try_get(11).map_err(|e| decode_error(&e))?;
    Ok(FileRecord {
        attachment: Attachment {
            id: FileId::parse(id).map_err(|_| corrupt("file id", id))?,
            name: FileName::clean(text(2)?),
            media_type: Arc::from(text(3)?),
            size: from_i64(row, 4)?.unwrap_or_default(),
            width: from_i32(row, 5)?,
            height: from_i32(row, 6)?,
            thumb: thumb.as_ref().map(|t| t.size),
        },
        uploader: UserId::parse(uploader).map_err(|_| corrupt("user id", uploader))?,
        uploaded_at: from_millis(uploaded_at)?,
        thumb,
    })
}
