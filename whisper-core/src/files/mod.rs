//! Where files' bytes live (protocol.md §17): the [`FileStore`] trait every
//! backend implements, the in-memory [`MemoryFiles`], and (feature
//! `test-util`) the conformance suite every backend must pass.
//!
//! A file's metadata and the messages that carry it are the message
//! [`Store`](crate::store::Store)'s, in the same transactions as the
//! messages; a file store keeps only bytes, under a [`BlobKey`], so a
//! directory, a database table or an object store can hold them.

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
mod memory;

use std::fmt;
use std::io;
use std::ops::Range;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;

pub use memory::MemoryFiles;

use crate::model::FileId;
use crate::store::StoreError;

/// Bytes as they stream in from an upload or out to a reader.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Which of a file's blobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// The bytes as uploaded.
    Original,
    /// An image's thumbnail, made by the server.
    Thumb,
}

/// What a blob is kept under: its file and which of its blobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey {
    /// The file.
    pub file: FileId,
    /// Which blob of it.
    pub variant: Variant,
}

impl BlobKey {
    /// The uploaded bytes of `file`.
    pub fn original(file: FileId) -> BlobKey {
        BlobKey { file, variant: Variant::Original }
    }

    /// The thumbnail of `file`.
    pub fn thumb(file: FileId) -> BlobKey {
        BlobKey { file, variant: Variant::Thumb }
    }
}

/// `01J…` for the original, `01J….thumb` for the thumbnail: a name safe as
/// a file name and a database key.
impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.variant {
            Variant::Original => write!(f, "{}", self.file),
            Variant::Thumb => write!(f, "{}.thumb", self.file),
        }
    }
}

/// A store of files' bytes.
///
/// Object-safe, so the server holds an `Arc<dyn FileStore>` and picks the
/// backend at start-up, as for [`Store`](crate::store::Store).
#[async_trait]
pub trait FileStore: fmt::Debug + Send + Sync + 'static {
    /// Keeps `body` under `key`, replacing what was there, visible whole or
    /// not at all: a reader never sees part of it, and a put that fails
    /// (the body's stream errs, the store fails, the process dies) leaves
    /// nothing new behind. Returns how many bytes it kept.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the backend cannot be reached;
    /// [`StoreError::Internal`] for anything else, an error of `body`
    /// included.
    async fn put(&self, key: BlobKey, body: ByteStream) -> Result<u64, StoreError>;

    /// The bytes under `key` in `range`, cut to the blob's length (a range
    /// past the end is empty), or `None` when nothing is kept under `key`.
    /// The caller knows the length from the file's record.
    async fn get(&self, key: BlobKey, range: Range<u64>) -> Result<Option<ByteStream>, StoreError>;

    /// Removes what is kept under `key`; removing nothing is not an error,
    /// so a sweep that stopped halfway can run again.
    async fn delete(&self, key: BlobKey) -> Result<(), StoreError>;
}

/// A [`ByteStream`] of `bytes`, in one piece.
pub fn stream_of(bytes: impl Into<Bytes>) -> ByteStream {
    let bytes: Bytes = bytes.into();
    Box::pin(futures_util::stream::once(async move { Ok(bytes) }))
}

/// Reads a whole [`ByteStream`] into memory: for tests and small blobs.
pub async fn collect(mut body: ByteStream) -> io::Result<Vec<u8>> {
    use futures_util::StreamExt;
    let mut all = Vec::new();
    while let Some(chunk) = body.next().await {
        all.extend_from_slice(&chunk?);
    }
    Ok(all)
}
