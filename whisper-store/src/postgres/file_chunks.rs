//! [`PostgresFiles`]: files' bytes in PostgreSQL (protocol.md §17), so every
//! node of a cluster serves every file. A blob is rows of 256 KiB in
//! `file_chunks`, written in one transaction (a failed upload leaves no
//! row) and read a chunk per query, so a slow reader holds no connection
//! between chunks.

use std::io;
use std::ops::Range;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use deadpool_postgres::Pool;
use futures_util::StreamExt;
use whisper_core::files::{BlobKey, ByteStream, FileStore};
use whisper_core::store::StoreError;

use super::error::{bounded, classify, pool_error};

/// Bytes per row: large enough that a 10 MiB file is 40 rows, small
/// enough that a range read fetches little more than it needs.
pub(super) const CHUNK_BYTES: usize = 256 * 1024;

/// A [`FileStore`] in the store's PostgreSQL database. Cheap to clone.
#[derive(Clone)]
pub struct PostgresFiles {
    pool: Pool,
}

impl std::fmt::Debug for PostgresFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresFiles")
    }
}

impl super::PostgresStore {
    /// The files' bytes kept in this database, on the store's pool.
    pub fn files(&self) -> PostgresFiles {
        PostgresFiles { pool: self.pool.clone() }
    }
}

fn db(e: tokio_postgres::Error) -> StoreError {
    classify(&e)
}

#[async_trait]
impl FileStore for PostgresFiles {
    async fn put(&self, key: BlobKey, mut body: ByteStream) -> Result<u64, StoreError> {
        let key = key.to_string();
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute("DELETE FROM file_chunks WHERE key = $1", &[&key]).await.map_err(db)?;
        let insert =
            tx.prepare_cached("INSERT INTO file_chunks (key, n, data) VALUES ($1, $2, $3)").await.map_err(db)?;
        let (mut buffer, mut n, mut total) = (BytesMut::with_capacity(CHUNK_BYTES), 0i32, 0u64);
        loop {
            let chunk = body.next().await;
            let done = chunk.is_none();
            if let Some(chunk) = chunk {
                // Dropping `tx` on this error rolls back: nothing is kept.
                let chunk = chunk.map_err(|e| StoreError::Internal(format!("reading {key}: {e}")))?;
                total += chunk.len() as u64;
                buffer.extend_from_slice(&chunk);
            }
            // Full rows go as they fill; the last (maybe empty, so an empty
            // file is still a row) when the body ends.
            while buffer.len() >= CHUNK_BYTES || (done && (!buffer.is_empty() || n == 0)) {
                let row = buffer.split_to(buffer.len().min(CHUNK_BYTES));
                bounded(async { tx.execute(&insert, &[&key, &n, &&row[..]]).await.map_err(db) }).await?;
                n += 1;
                if done && buffer.is_empty() {
                    break;
                }
            }
            if done {
                break;
            }
        }
        bounded(async { tx.commit().await.map_err(db) }).await?;
        Ok(total)
    }

    async fn get(&self, key: BlobKey, range: Range<u64>) -> Result<Option<ByteStream>, StoreError> {
        let key = key.to_string();
        let client = self.pool.get().await.map_err(pool_error)?;
        let last: Option<i32> = client
            .query_one("SELECT max(n) FROM file_chunks WHERE key = $1", &[&key])
            .await
            .map_err(db)?
            .try_get(0)
            .map_err(db)?;
        drop(client);
        let Some(last) = last else { return Ok(None) };
        let chunk = CHUNK_BYTES as u64;
        let first = i32::try_from(range.start / chunk).unwrap_or(i32::MAX);
        let end = range.end.max(range.start);
        let read = Reading { pool: self.pool.clone(), key, n: first, last, start: range.start, end };
        let body = futures_util::stream::unfold(read, move |mut read| async move {
            if read.n > read.last || u64::try_from(read.n).unwrap_or(0) * chunk >= read.end {
                return None;
            }
            let piece = read.next().await;
            read.n += 1;
            Some((piece, read))
        });
        Ok(Some(Box::pin(body)))
    }

    async fn delete(&self, key: BlobKey) -> Result<(), StoreError> {
        let key = key.to_string();
        let client = self.pool.get().await.map_err(pool_error)?;
        bounded(async { client.execute("DELETE FROM file_chunks WHERE key = $1", &[&key]).await.map_err(db) }).await?;
        Ok(())
    }
}

/// Where a range read is.
struct Reading {
    pool: Pool,
    key: String,
    /// The next row to read.
    n: i32,
    /// The blob's last row.
    last: i32,
    start: u64,
    end: u64,
}

impl Reading {
    /// Row `n`, cut to the range.
    async fn next(&self) -> io::Result<Bytes> {
        let client = self.pool.get().await.map_err(io::Error::other)?;
        let statement = client
            .prepare_cached("SELECT data FROM file_chunks WHERE key = $1 AND n = $2")
            .await
            .map_err(io::Error::other)?;
        let row = client.query_opt(&statement, &[&self.key, &self.n]).await.map_err(io::Error::other)?;
        let row = row.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{} was removed", self.key)))?;
        let data: &[u8] = row.try_get(0).map_err(io::Error::other)?;
        let at = u64::try_from(self.n).unwrap_or(0) * CHUNK_BYTES as u64;
        let lo = (self.start.saturating_sub(at) as usize).min(data.len());
        let hi = ((self.end - at).min(data.len() as u64) as usize).max(lo);
        Ok(Bytes::copy_from_slice(&data[lo..hi]))
    }
}
