//! Uploads (protocol.md §17): what the server does between the bytes
//! arriving and a file being kept — spooling with the size limit, telling
//! the type by content, an image's size and thumbnail — and the janitor
//! that removes files nothing references. Who may keep, attach and read a
//! file is core's ([`whisper_core::attachments`]); where the bytes live is
//! a [`FileStore`]'s.

pub mod janitor;
pub mod picture;
pub mod sniff;
pub mod spool;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use whisper_core::Chat;
use whisper_core::attachments::KeepError;
use whisper_core::files::{BlobKey, ByteStream, FileStore, stream_of};
use whisper_core::model::{
    Attachment, FileId, FileName, FileRecord, INLINE_IMAGE_TYPES, Principal, StoredThumb, ThumbSize, now_millis,
};
use whisper_core::policy::Denied;
use whisper_core::store::StoreError;

use self::picture::Unusable;
use self::sniff::Allowed;
use self::spool::{Incoming, Refused};
use crate::config::Config;

/// Images waiting for the darkroom; more uploads wait to queue.
const DARKROOM_QUEUE: usize = 64;

/// An image for the darkroom thread, and where to say what it is.
type Develop = (PathBuf, &'static str, tokio::sync::oneshot::Sender<Result<picture::Picture, Unusable>>);

/// The server's uploads: the file store, the rules, the spool directory.
#[derive(Debug)]
pub struct Files {
    /// Where the bytes are kept.
    pub store: Arc<dyn FileStore>,
    /// The types accepted.
    pub allowed: Allowed,
    /// The most bytes an upload may have.
    pub max_bytes: u64,
    spool_dir: PathBuf,
    /// The one thread images are decoded on, in turn: decoding takes a core
    /// and up to a few hundred MB, and memory a thread's allocator arena
    /// took stays with that thread. On the runtime's blocking pool, each of
    /// ten uploads at once decoded on a thread of its own and kept its
    /// arena: measured 141 MiB over idle for ten 10 MiB images, against
    /// the one image's worth it is now (docs/performance.md).
    darkroom: tokio::sync::mpsc::Sender<Develop>,
    janitor: Option<tokio::task::AbortHandle>,
}

impl Drop for Files {
    fn drop(&mut self) {
        if let Some(janitor) = &self.janitor {
            janitor.abort();
        }
    }
}

/// Why an upload was not kept.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Refused while reading (size, type, a broken body).
    #[error(transparent)]
    Refused(#[from] Refused),
    /// An image that cannot be used.
    #[error(transparent)]
    Image(#[from] Unusable),
    /// The application's policy refused it.
    #[error("{0}")]
    Denied(Denied),
    /// The store could not keep it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Files {
    /// Uploads spooled under `<data-dir>/uploads` (what a crash left there
    /// is removed now) and kept in `store`, swept by a janitor on `chat`.
    pub async fn start(config: &Config, store: Arc<dyn FileStore>, chat: &Chat) -> std::io::Result<Files> {
        let spool_dir = config.data_dir.join("uploads");
        tokio::fs::create_dir_all(&spool_dir).await?;
        let mut left = tokio::fs::read_dir(&spool_dir).await?;
        while let Some(entry) = left.next_entry().await? {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
        let keep_unposted = std::time::Duration::from_secs(config.unposted_file_secs);
        let every = std::time::Duration::from_secs(config.file_sweep_secs.max(1));
        let janitor = tokio::spawn(janitor::run(chat.clone(), store.clone(), keep_unposted, every)).abort_handle();
        Ok(Files {
            store,
            allowed: Allowed::new(&config.allow_file_types),
            max_bytes: config.max_upload_bytes,
            spool_dir,
            darkroom: darkroom()?,
            janitor: Some(janitor),
        })
    }

    /// What the image at `path` is, from the darkroom.
    async fn develop(&self, path: PathBuf, media_type: &'static str) -> Result<picture::Picture, UploadError> {
        let gone = || UploadError::Store(StoreError::Internal("the image thread has stopped".into()));
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.darkroom.send((path, media_type, reply)).await.map_err(|_| gone())?;
        Ok(answer.await.map_err(|_| gone())??)
    }

    /// Receives an upload of `who`: spooled and checked, an image measured
    /// and given a thumbnail, the record kept (the policy asked), then the
    /// bytes. Answers what messages will carry.
    pub async fn receive(
        &self,
        chat: &Chat,
        who: &Principal,
        body: Incoming,
        name: FileName,
        declared: Option<&str>,
    ) -> Result<Attachment, UploadError> {
        let spooled = spool::spool(body, &self.spool_dir, self.max_bytes, &self.allowed, declared).await?;
        let media_type = spooled.media_type;
        let picture = if INLINE_IMAGE_TYPES.contains(&media_type) {
            Some(self.develop(spooled.path().to_owned(), media_type).await?)
        } else {
            None
        };
        let id = FileId::generate();
        let thumb = picture.as_ref().map(|p| StoredThumb {
            size: ThumbSize { width: p.thumb.width, height: p.thumb.height },
            media_type: Arc::from(p.thumb.media_type),
            bytes: p.thumb.bytes.len() as u64,
        });
        let attachment = Attachment {
            id,
            name,
            media_type: Arc::from(media_type),
            size: spooled.size,
            width: picture.as_ref().map(|p| p.width),
            height: picture.as_ref().map(|p| p.height),
            thumb: thumb.as_ref().map(|t| t.size),
        };
        let record =
            FileRecord { attachment: attachment.clone(), uploader: who.user_id, uploaded_at: now_millis(), thumb };
        // The record first: bytes kept after it are never without one (a
        // failure below leaves a record the janitor sweeps in its time).
        chat.keep_file(who, record).await.map_err(|e| match e {
            KeepError::Denied(why) => UploadError::Denied(why),
            KeepError::Store(e) => UploadError::Store(e),
        })?;
        self.store.put(BlobKey::original(id), read_file(spooled.path()).await?).await?;
        if let Some(picture) = picture {
            self.store.put(BlobKey::thumb(id), stream_of(picture.thumb.bytes)).await?;
        }
        Ok(attachment)
    }
}

/// Starts the thread that decodes images, one at a time, until every
/// sender is gone (the server with it).
fn darkroom() -> std::io::Result<tokio::sync::mpsc::Sender<Develop>> {
    let (queue, mut images) = tokio::sync::mpsc::channel::<Develop>(DARKROOM_QUEUE);
    std::thread::Builder::new().name("whisper-darkroom".into()).spawn(move || {
        while let Some((path, media_type, reply)) = images.blocking_recv() {
            // A caller that stopped waiting gets nothing; the next goes on.
            let _ = reply.send(picture::picture(&path, media_type));
        }
    })?;
    Ok(queue)
}

/// The file at `path` as a stream of 64 KiB pieces.
async fn read_file(path: &Path) -> Result<ByteStream, StoreError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| StoreError::Unavailable(format!("reopening the upload {}: {e}", path.display())))?;
    let body = futures_util::stream::unfold(file, |mut file| async move {
        let mut buffer = BytesMut::with_capacity(64 * 1024);
        match file.read_buf(&mut buffer).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(buffer.freeze()), file)),
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok(Box::pin(body))
}
