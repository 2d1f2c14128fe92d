//! [`MemoryFiles`]: bytes in a map, for tests and for embedders whose files
//! need not outlive the process.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::{BlobKey, ByteStream, FileStore, stream_of};
use crate::store::StoreError;

/// A [`FileStore`] in memory. A put collects its body first and inserts it
/// whole, so a failed put leaves nothing.
#[derive(Debug, Default)]
pub struct MemoryFiles {
    blobs: Mutex<HashMap<BlobKey, Bytes>>,
}

impl MemoryFiles {
    /// An empty store.
    pub fn new() -> MemoryFiles {
        MemoryFiles::default()
    }

    /// How many blobs it keeps.
    pub fn len(&self) -> usize {
        self.blobs.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether it keeps none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl FileStore for MemoryFiles {
    async fn put(&self, key: BlobKey, mut body: ByteStream) -> Result<u64, StoreError> {
        let mut all = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StoreError::Internal(format!("reading {key}: {e}")))?;
            all.extend_from_slice(&chunk);
        }
        let len = all.len() as u64;
        self.blobs.lock().unwrap_or_else(|p| p.into_inner()).insert(key, all.freeze());
        Ok(len)
    }

    async fn get(&self, key: BlobKey, range: Range<u64>) -> Result<Option<ByteStream>, StoreError> {
        let blobs = self.blobs.lock().unwrap_or_else(|p| p.into_inner());
        let Some(bytes) = blobs.get(&key) else { return Ok(None) };
        let end = (range.end as usize).min(bytes.len());
        let start = (range.start as usize).min(end);
        Ok(Some(stream_of(bytes.slice(start..end))))
    }

    async fn delete(&self, key: BlobKey) -> Result<(), StoreError> {
        self.blobs.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        crate::files::conformance::run(&MemoryFiles::new()).await;
    }
}
