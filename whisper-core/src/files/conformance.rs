//! What every [`FileStore`] must do, as one call: `run(&store).await` panics
//! on the first check a backend fails, naming it.
//!
//! The blobs are larger than one chunk of the database backends (256 KiB)
//! and the ranges cross chunk edges, so a backend that stores in pieces is
//! checked where pieces meet.

use std::io;

use bytes::Bytes;

use super::{BlobKey, ByteStream, FileStore, collect, stream_of};
use crate::model::FileId;

/// Runs every check against `files`.
pub async fn run(files: &dyn FileStore) {
    keeps_and_reads_back(files).await;
    reads_ranges(files).await;
    a_failed_put_leaves_nothing(files).await;
    deletes_idempotently(files).await;
    keeps_the_variants_apart(files).await;
}

/// `len` bytes that differ at every offset a range might start at.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// `bytes` as a stream of `piece`-byte chunks, as an upload arrives.
fn in_pieces(bytes: &[u8], piece: usize) -> ByteStream {
    let chunks: Vec<io::Result<Bytes>> = bytes.chunks(piece).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Box::pin(futures_util::stream::iter(chunks))
}

async fn read(files: &dyn FileStore, key: BlobKey, range: std::ops::Range<u64>) -> Option<Vec<u8>> {
    let body = files.get(key, range).await.expect("get");
    match body {
        Some(body) => Some(collect(body).await.expect("read the body")),
        None => None,
    }
}

async fn keeps_and_reads_back(files: &dyn FileStore) {
    let key = BlobKey::original(FileId::generate());
    assert_eq!(read(files, key, 0..10).await, None, "nothing is kept under a new key");
    let bytes = pattern(600 * 1024 + 7);
    let kept = files.put(key, in_pieces(&bytes, 64 * 1024 + 3)).await.expect("put");
    assert_eq!(kept, bytes.len() as u64, "put counts what it kept");
    assert_eq!(read(files, key, 0..bytes.len() as u64).await.as_deref(), Some(&bytes[..]), "read back whole");
    let empty = BlobKey::original(FileId::generate());
    assert_eq!(files.put(empty, stream_of(Vec::new())).await.expect("put empty"), 0);
    assert_eq!(read(files, empty, 0..0).await, Some(Vec::new()), "an empty blob is kept, and empty");
    let replaced = pattern(10);
    files.put(empty, stream_of(replaced.clone())).await.expect("replace");
    assert_eq!(read(files, empty, 0..10).await, Some(replaced), "a second put replaces");
}

async fn reads_ranges(files: &dyn FileStore) {
    let key = BlobKey::original(FileId::generate());
    let bytes = pattern(3 * 256 * 1024 + 100);
    files.put(key, in_pieces(&bytes, 100_000)).await.expect("put");
    let len = bytes.len() as u64;
    let chunk = 256 * 1024u64;
    for range in [0..1, 5..17, chunk - 3..chunk + 3, chunk..2 * chunk, 10..len, len - 1..len, 2 * chunk + 1..len] {
        let got = read(files, key, range.clone()).await.expect("kept");
        assert_eq!(got, &bytes[range.start as usize..range.end as usize], "range {range:?}");
    }
    assert_eq!(read(files, key, len - 4..len + 100).await.expect("kept"), &bytes[bytes.len() - 4..], "cut at the end");
    assert_eq!(read(files, key, len + 5..len + 9).await, Some(Vec::new()), "past the end is empty");
}

async fn a_failed_put_leaves_nothing(files: &dyn FileStore) {
    let key = BlobKey::original(FileId::generate());
    let failing: ByteStream = Box::pin(futures_util::stream::iter(vec![
        Ok(Bytes::from(pattern(300 * 1024))),
        Err(io::Error::new(io::ErrorKind::ConnectionReset, "the uploader went away")),
    ]));
    assert!(files.put(key, failing).await.is_err(), "a body that fails fails the put");
    assert_eq!(read(files, key, 0..10).await, None, "and leaves nothing under the key");
}

async fn deletes_idempotently(files: &dyn FileStore) {
    let key = BlobKey::original(FileId::generate());
    files.put(key, stream_of(pattern(1000))).await.expect("put");
    files.delete(key).await.expect("delete");
    assert_eq!(read(files, key, 0..10).await, None, "deleted");
    files.delete(key).await.expect("deleting what is gone is not an error");
}

async fn keeps_the_variants_apart(files: &dyn FileStore) {
    let file = FileId::generate();
    files.put(BlobKey::original(file), stream_of(pattern(50))).await.expect("put original");
    files.put(BlobKey::thumb(file), stream_of(vec![7u8; 20])).await.expect("put thumb");
    assert_eq!(read(files, BlobKey::original(file), 0..100).await, Some(pattern(50)));
    assert_eq!(read(files, BlobKey::thumb(file), 0..100).await, Some(vec![7u8; 20]));
    files.delete(BlobKey::thumb(file)).await.expect("delete thumb");
    assert_eq!(read(files, BlobKey::original(file), 0..100).await, Some(pattern(50)), "the other stays");
}
