//! [`DirectoryFiles`]: files' bytes as files in a directory (protocol.md
//! §17), the default beside the SQLite store.
//!
//! A blob is written under a temporary name in `tmp/`, synced, renamed to
//! its place and the directory synced: a reader sees the whole file or no
//! file, and a crash mid-upload leaves only a temporary file, removed when
//! the directory is next opened. Blobs are spread over 1,024 folders by the
//! last two characters of their file id (the random end of a ULID), so no
//! folder grows huge.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use whisper_core::files::{BlobKey, ByteStream, FileStore};
use whisper_core::store::StoreError;

/// The most bytes one read of a blob hands on at a time.
const READ_BYTES: usize = 64 * 1024;

/// A [`FileStore`] in a directory.
#[derive(Clone, Debug)]
pub struct DirectoryFiles {
    root: PathBuf,
}

fn unavailable(what: &str, path: &Path, e: io::Error) -> StoreError {
    StoreError::Unavailable(format!("files: cannot {what} {}: {e}", path.display()))
}

impl DirectoryFiles {
    /// Opens (creating) the directory at `root`, removing what an upload
    /// cut short by a crash left in its `tmp/`.
    pub async fn open(root: impl Into<PathBuf>) -> Result<DirectoryFiles, StoreError> {
        let root = root.into();
        let tmp = root.join("tmp");
        tokio::fs::create_dir_all(&tmp).await.map_err(|e| unavailable("create", &tmp, e))?;
        let mut left = tokio::fs::read_dir(&tmp).await.map_err(|e| unavailable("read", &tmp, e))?;
        while let Some(entry) = left.next_entry().await.map_err(|e| unavailable("read", &tmp, e))? {
            if let Err(e) = tokio::fs::remove_file(entry.path()).await {
                tracing::warn!(path = %entry.path().display(), error = %e, "could not remove a partial upload");
            }
        }
        Ok(DirectoryFiles { root })
    }

    /// Where `key` is kept.
    fn path(&self, key: BlobKey) -> PathBuf {
        let name = key.to_string();
        let id = key.file.to_string();
        self.root.join(&id[id.len() - 2..]).join(name)
    }

    async fn write(&self, key: BlobKey, temp: &Path, mut body: ByteStream) -> io::Result<u64> {
        let mut file = tokio::fs::File::create(temp).await?;
        let mut total = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            total += chunk.len() as u64;
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        drop(file);
        let path = self.path(key);
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::rename(temp, &path).await?;
        // The rename is durable once its directory is.
        tokio::fs::File::open(&dir).await?.sync_all().await?;
        Ok(total)
    }
}

#[async_trait]
impl FileStore for DirectoryFiles {
    async fn put(&self, key: BlobKey, body: ByteStream) -> Result<u64, StoreError> {
        let temp = self.root.join("tmp").join(format!("{key}.{}", uuid::Uuid::new_v4().simple()));
        match self.write(key, &temp, body).await {
            Ok(total) => Ok(total),
            Err(e) => {
                // Best effort: `open` removes what this cannot.
                let _ = tokio::fs::remove_file(&temp).await;
                Err(unavailable("write", &self.path(key), e))
            }
        }
    }

    async fn get(&self, key: BlobKey, range: Range<u64>) -> Result<Option<ByteStream>, StoreError> {
        let path = self.path(key);
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unavailable("open", &path, e)),
        };
        file.seek(io::SeekFrom::Start(range.start)).await.map_err(|e| unavailable("read", &path, e))?;
        let left = range.end.saturating_sub(range.start);
        let body = futures_util::stream::unfold((file, left), |(mut file, left)| async move {
            if left == 0 {
                return None;
            }
            let mut buffer = BytesMut::with_capacity(READ_BYTES.min(left as usize));
            match file.read_buf(&mut buffer).await {
                Ok(0) => None,
                Ok(n) => Some((Ok(buffer.freeze()), (file, left - n as u64))),
                Err(e) => Some((Err(e), (file, 0))),
            }
        });
        Ok(Some(Box::pin(body)))
    }

    async fn delete(&self, key: BlobKey) -> Result<(), StoreError> {
        let path = self.path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(unavailable("remove", &path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = DirectoryFiles::open(dir.path().join("files")).await.expect("open");
        whisper_core::files::conformance::run(&files).await;
    }

    #[tokio::test]
    async fn opening_removes_partial_uploads() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("files");
        DirectoryFiles::open(&root).await.expect("open");
        std::fs::write(root.join("tmp").join("cut-short"), b"half").expect("write");
        DirectoryFiles::open(&root).await.expect("reopen");
        assert_eq!(std::fs::read_dir(root.join("tmp")).expect("tmp").count(), 0, "nothing half written is left");
    }
}
