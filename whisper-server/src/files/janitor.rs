//! Removes files nothing references (protocol.md §17): uploads no message
//! carried within their time (a day by default), and files whose every
//! message was deleted — within a sweep interval, and at once after a
//! delete this node stored. The store takes the records out in one indexed
//! statement (on PostgreSQL, nodes sweeping together take different files),
//! then their bytes are removed.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use whisper_core::Chat;
use whisper_core::chat::Committed;
use whisper_core::files::{BlobKey, FileStore};
use whisper_core::model::{Change, FileRecord, now_millis};
use whisper_core::store::{MAX_PAGE, StoreError};

/// Sweeps until the task is aborted.
pub async fn run(chat: Chat, files: Arc<dyn FileStore>, keep_unposted: Duration, every: Duration) {
    let mut committed = chat.committed();
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            event = committed.recv() => match event {
                Ok(Committed::Event(event)) if event.change == Change::Delete => {}
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => committed = chat.committed(),
            },
        }
        match sweep(&chat, &*files, keep_unposted).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "removed files nothing references"),
            Err(e) => tracing::warn!(error = %e, "could not sweep files; trying again later"),
        }
    }
}

/// One sweep to the end: how many files it removed.
pub async fn sweep(chat: &Chat, files: &dyn FileStore, keep_unposted: Duration) -> Result<usize, StoreError> {
    let unposted_before = now_millis() - keep_unposted;
    let mut removed = 0;
    loop {
        let swept = chat.store().sweep_files(unposted_before, MAX_PAGE).await?;
        for record in &swept {
            remove_bytes(files, record).await;
        }
        removed += swept.len();
        if swept.len() < MAX_PAGE {
            return Ok(removed);
        }
    }
}

/// The record is gone already, so nothing serves these bytes any more; a
/// failure here leaves bytes nobody can reach, said in the log.
async fn remove_bytes(files: &dyn FileStore, record: &FileRecord) {
    let mut keys = vec![BlobKey::original(record.id())];
    if record.thumb.is_some() {
        keys.push(BlobKey::thumb(record.id()));
    }
    for key in keys {
        if let Err(e) = files.delete(key).await {
            tracing::warn!(%key, error = %e, "could not remove a swept file's bytes");
        }
    }
}
