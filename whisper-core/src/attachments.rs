//! Files on messages (protocol.md §17): the [`Chat`] methods the server's
//! `/v1/files` endpoints, its sessions and an embedding application call,
//! so all of them answer the same. Who may keep a file (any identity the
//! policy allows), who may attach it (its uploader only) and who may read
//! it (its uploader, and whoever may read a room a live message carries it
//! in) is decided here; the bytes are a [`FileStore`](crate::files::FileStore)'s.

use crate::Chat;
use crate::chat::ReadError;
use crate::model::{Attachment, FileId, FileRecord, Principal, UserId};
use crate::policy::Denied;
use crate::store::StoreError;

/// Why [`Chat::open_file`] shows nothing. It never says whether a file the
/// reader may not read exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// No such file, or not one the reader may read (HTTP 404 either way).
    #[error("no such file")]
    NotFound,
    /// The store could not.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why [`Chat::keep_file`] kept nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeepError {
    /// The policy refused the upload.
    #[error("{0}")]
    Denied(Denied),
    /// The store could not.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A draft's attachment that cannot be posted: which, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAttachable {
    /// Its place in the draft's `attachments`.
    pub index: usize,
    /// The id asked for.
    pub id: FileId,
}

impl Chat {
    /// Keeps the record of a file `who` uploaded (its bytes are in the
    /// server's file store already), once the policy allows it. Until a
    /// message carries it, only `who` may read or attach it.
    pub async fn keep_file(&self, who: &Principal, record: FileRecord) -> Result<(), KeepError> {
        if let Some(policy) = self.policy() {
            policy.upload(who, &record.attachment).await.map_err(KeepError::Denied)?;
        }
        Ok(self.store().add_file(record).await?)
    }

    /// The file `id` if `who` (`None`: a reader without an identity) may
    /// read it: its uploader, or anyone who may read one of the rooms a
    /// live message carries it in ([`Chat::may_read`], the policy
    /// included). Anything else is [`FileError::NotFound`], said the same
    /// way as for a file that does not exist.
    pub async fn open_file(&self, who: Option<&Principal>, id: FileId) -> Result<FileRecord, FileError> {
        let Some(posted) = self.store().file(id).await? else { return Err(FileError::NotFound) };
        if who.is_some_and(|w| w.user_id == posted.record.uploader) {
            return Ok(posted.record);
        }
        for room in &posted.rooms {
            match self.may_read(who, room).await {
                Ok(()) => return Ok(posted.record),
                Err(ReadError::Denied(_)) => continue,
                Err(ReadError::Store(e)) => return Err(FileError::Store(e)),
            }
        }
        Err(FileError::NotFound)
    }

    /// The metadata of the files `author` asks to attach, in order, or the
    /// first that is not theirs to attach: a file that does not exist (or
    /// was swept) and one someone else uploaded are refused alike, so a
    /// guessed id tells nothing.
    pub async fn attachments(
        &self,
        author: UserId,
        ids: &[FileId],
    ) -> Result<Result<Vec<Attachment>, NotAttachable>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for (index, &id) in ids.iter().enumerate() {
            match self.store().file(id).await? {
                Some(posted) if posted.record.uploader == author => found.push(posted.record.attachment),
                _ => return Ok(Err(NotAttachable { index, id })),
            }
        }
        Ok(Ok(found))
    }
}
