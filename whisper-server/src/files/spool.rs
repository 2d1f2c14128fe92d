//! An upload on its way in (protocol.md §17): streamed to a temporary file
//! as it arrives, never whole in memory, with the size limit enforced while
//! reading and the type decided from the first bytes, so a refused upload
//! stops being read as soon as it is refused.

use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use super::sniff::{Allowed, HEAD_BYTES, check, sniff};

/// An upload's bytes as they arrive.
pub type Incoming = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// An upload kept in a temporary file, removed when this is dropped.
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    /// Its length.
    pub size: u64,
    /// Its type, from its content.
    pub media_type: &'static str,
}

impl Spooled {
    /// The temporary file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove a spooled upload");
        }
    }
}

/// Why an upload was not spooled.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Over the limit (HTTP 413).
    #[error("the file is over the limit of {0} bytes")]
    TooLarge(u64),
    /// Not an allowed type, or not the type it claims (HTTP 415).
    #[error("{0}")]
    Type(String),
    /// Nothing was sent (HTTP 400).
    #[error("the file is empty")]
    Empty,
    /// The body broke off or is malformed (HTTP 400).
    #[error("the upload broke off: {0}")]
    Body(String),
    /// The temporary file could not be written (HTTP 503).
    #[error("the server could not keep the upload: {0}")]
    Disk(io::Error),
}

/// Reads `body` into a new file in `dir`: at most `limit` bytes, of a type
/// `allowed` accepts (and `declared`, when it names one, must be it).
pub async fn spool(
    mut body: Incoming,
    dir: &Path,
    limit: u64,
    allowed: &Allowed,
    declared: Option<&str>,
) -> Result<Spooled, Refused> {
    let path = dir.join(format!("{}.upload", uuid::Uuid::new_v4().simple()));
    let mut file = tokio::fs::File::create(&path).await.map_err(Refused::Disk)?;
    // From here the guard removes the file on every way out.
    let mut spooled = Spooled { path, size: 0, media_type: "" };
    let mut head: Vec<u8> = Vec::with_capacity(HEAD_BYTES);
    loop {
        let chunk = body.next().await.transpose().map_err(Refused::Body)?;
        let done = chunk.is_none();
        let chunk = chunk.unwrap_or_default();
        spooled.size += chunk.len() as u64;
        if spooled.size > limit {
            return Err(Refused::TooLarge(limit));
        }
        if spooled.media_type.is_empty() {
            let take = (HEAD_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() == HEAD_BYTES || done {
                if head.is_empty() {
                    return Err(Refused::Empty);
                }
                spooled.media_type = check(sniff(&head), declared, allowed).map_err(Refused::Type)?;
            }
        }
        file.write_all(&chunk).await.map_err(Refused::Disk)?;
        if done {
            break;
        }
    }
    file.flush().await.map_err(Refused::Disk)?;
    Ok(spooled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: Vec<Result<&'static [u8], &'static str>>) -> Incoming {
        let chunks: Vec<Result<Bytes, String>> =
            chunks.into_iter().map(|c| c.map(Bytes::from_static).map_err(str::to_owned)).collect();
        Box::pin(futures_util::stream::iter(chunks))
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[tokio::test]
    async fn an_upload_is_spooled_and_removed_when_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let allowed = Allowed::new(&[]);
        let spooled =
            spool(body(vec![Ok(&PNG[..4]), Ok(&PNG[4..])]), dir.path(), 1024, &allowed, None).await.expect("kept");
        assert_eq!((spooled.size, spooled.media_type), (PNG.len() as u64, "image/png"));
        assert_eq!(std::fs::read(spooled.path()).expect("read"), PNG);
        let path = spooled.path().to_owned();
        drop(spooled);
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn refusals_leave_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let allowed = Allowed::new(&[]);
        let big = vec![0x89u8; 600];
        let big: &'static [u8] = Box::leak(big.into_boxed_slice());
        for (input, declared, expected) in [
            (body(vec![Ok(PNG), Ok(big)]), None, "over the limit"),
            (body(vec![Ok(b"%PDF-1.7\n")]), None, "application/pdf"),
            (body(vec![Ok(PNG)]), Some("image/gif"), "says it is image/gif"),
            (body(vec![]), None, "empty"),
            (body(vec![Ok(PNG), Err("reset")]), None, "broke off"),
        ] {
            let refused = spool(input, dir.path(), 512, &allowed, declared).await.expect_err("refused");
            assert!(refused.to_string().contains(expected), "{refused} should say {expected}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0, "no file left behind");
    }
}
