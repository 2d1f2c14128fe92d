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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{DisplayName, NewMessage, PrincipalKind, RoomName, now_millis};
    use crate::policy::{Policy, Verdict};
    use crate::store::MemoryStore;

    /// No ZIP files; `staff` is read by accounts only.
    #[derive(Debug)]
    struct Office;

    #[crate::async_trait]
    impl Policy for Office {
        async fn upload(&self, _who: &Principal, file: &Attachment) -> Verdict {
            if &*file.media_type == "application/zip" { Err(Denied::forbidden("no archives here")) } else { Ok(()) }
        }

        async fn read_history(&self, who: Option<&Principal>, room: &RoomName) -> Verdict {
            match who {
                Some(p) if p.kind == PrincipalKind::Account => Ok(()),
                _ if room.as_str() == "staff" => Err(Denied::forbidden("staff is for accounts")),
                _ => Ok(()),
            }
        }
    }

    fn person(name: &str, account: bool) -> Principal {
        let name = DisplayName::parse(name).expect("valid name");
        if account {
            Principal::account(UserId::random(), name)
        } else {
            Principal::guest(UserId::random(), Some(name))
        }
    }

    fn record(uploader: &Principal, media_type: &str) -> FileRecord {
        let mut record = crate::store::conformance::file_record(uploader.user_id, now_millis());
        record.attachment.media_type = Arc::from(media_type);
        record
    }

    #[tokio::test]
    async fn the_policy_decides_uploads_and_reads_and_only_uploaders_attach() {
        let chat = Chat::builder(Arc::new(MemoryStore::new())).policy(Arc::new(Office)).build();
        let (ada, guest) = (person("Ada", true), person("Gus", false));

        let zip = record(&ada, "application/zip");
        assert!(matches!(chat.keep_file(&ada, zip.clone()).await, Err(KeepError::Denied(_))));
        assert_eq!(chat.store().file(zip.id()).await.unwrap(), None, "a refusal keeps nothing");

        let plan = record(&ada, "image/png");
        chat.keep_file(&ada, plan.clone()).await.expect("kept");
        assert_eq!(chat.open_file(Some(&ada), plan.id()).await, Ok(plan.clone()), "its uploader reads it");
        for reader in [Some(&guest), None] {
            assert_eq!(chat.open_file(reader, plan.id()).await, Err(FileError::NotFound), "nobody else, yet");
        }
        let theirs = chat.attachments(guest.user_id, &[plan.id()]).await.unwrap();
        assert_eq!(theirs, Err(NotAttachable { index: 0, id: plan.id() }), "only its uploader attaches it");

        let files = chat.attachments(ada.user_id, &[plan.id()]).await.unwrap().expect("Ada's own");
        let staff = RoomName::parse("staff").unwrap();
        let mut message = NewMessage::now(staff, ada.user_id, ada.name.clone(), "", None).by(&ada);
        message.attachments = files;
        chat.post(vec![message]).await.expect("posted");
        let bob = person("Bob", true);
        assert_eq!(chat.open_file(Some(&bob), plan.id()).await, Ok(plan.clone()), "a reader of the room reads it");
        assert_eq!(chat.open_file(Some(&guest), plan.id()).await, Err(FileError::NotFound), "the policy's no");
        assert_eq!(chat.open_file(None, plan.id()).await, Err(FileError::NotFound));
    }
}
