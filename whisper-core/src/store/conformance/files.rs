//! The conformance checks of files (protocol.md §17): a message carries its
//! attachments' metadata everywhere it is read, the rooms a file is posted
//! in follow the messages that carry it, and a sweep takes exactly the
//! files nothing references.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::timeline::{event, stored, whole_log};
use super::{append, draft, room};
use crate::model::{
    Attachment, Entry, FileId, FileName, FileRecord, Request, StoredThumb, ThumbSize, UserId, now_millis,
};
use crate::store::{ReadRange, Store};

/// A file `uploader` uploaded at `uploaded_at`.
pub fn file_record(uploader: UserId, uploaded_at: OffsetDateTime) -> FileRecord {
    let id = FileId::generate();
    FileRecord {
        attachment: Attachment {
            id,
            name: FileName::clean("cat.png"),
            media_type: Arc::from("image/png"),
            size: 12_345,
            width: Some(640),
            height: Some(480),
            thumb: Some(ThumbSize { width: 320, height: 240 }),
        },
        uploader,
        uploaded_at,
        thumb: Some(StoredThumb {
            size: ThumbSize { width: 320, height: 240 },
            media_type: Arc::from("image/jpeg"),
            bytes: 2_048,
        }),
    }
}

/// A file without a thumbnail or dimensions (not an image).
fn plain_record(uploader: UserId, uploaded_at: OffsetDateTime) -> FileRecord {
    let mut record = file_record(uploader, uploaded_at);
    record.attachment.name = FileName::clean("notes.pdf");
    record.attachment.media_type = Arc::from("application/pdf");
    (record.attachment.width, record.attachment.height, record.attachment.thumb, record.thumb) =
        (None, None, None, None);
    record
}

async fn rooms_of(store: &dyn Store, id: FileId) -> Vec<String> {
    let posted = store.file(id).await.expect("file").expect("the file is kept");
    posted.rooms.iter().map(|r| r.as_str().to_owned()).collect()
}

/// A kept record reads back as stored; a message carries its files'
/// metadata in `append`'s answer, in history, by id and in the log; a
/// resend references nothing twice.
pub async fn attachments_round_trip(store: Arc<dyn Store>) {
    let (ada, lobby) = (UserId::random(), room("lobby"));
    let (image, pdf) = (file_record(ada, now_millis()), plain_record(ada, now_millis()));
    for record in [&image, &pdf] {
        store.add_file(record.clone()).await.expect("add file");
        let kept = store.file(record.id()).await.expect("file").expect("kept");
        assert_eq!(&kept.record, record, "a record reads back as kept");
        assert!(kept.rooms.is_empty(), "a file not posted is in no room");
    }
    assert_eq!(store.file(FileId::generate()).await.expect("file"), None, "no such file");

    let mut message = draft(&lobby, ada, "", Some("files-1"));
    message.attachments = vec![image.attachment.clone(), pdf.attachment.clone()];
    let stored = append(&*store, vec![message.clone()]).await.remove(0);
    assert_eq!(stored.attachments, message.attachments, "append answers with the attachments, in order");
    assert_eq!(&*stored.content, "", "a message may be files alone");
    let page = store.read(&lobby, ReadRange::latest(10)).await.expect("read");
    assert_eq!(page.messages[0].attachments, message.attachments, "history carries them");
    let by_id = store.message(&lobby, stored.id).await.expect("message").expect("found");
    assert_eq!(by_id.attachments, message.attachments, "the message by id carries them");
    let log = whole_log(&*store, &lobby).await;
    assert!(
        matches!(&log[0], Entry::Message(m) if m.attachments == message.attachments),
        "the log carries them: {log:?}"
    );
    assert_eq!(rooms_of(&*store, image.id()).await, ["lobby"]);

    let resent = append(&*store, vec![message]).await.remove(0);
    assert_eq!((resent.id, resent.seq), (stored.id, stored.seq), "a resend is the original");
    stored_delete(&*store, &lobby, stored.id, ada).await;
    assert!(rooms_of(&*store, image.id()).await.is_empty(), "one delete drops the one reference a resend left");
}

async fn stored_delete(store: &dyn Store, room_name: &crate::model::RoomName, id: crate::model::MessageId, by: UserId) {
    stored(store, event(room_name, id, by, Request::Delete, None)).await;
}

/// The rooms a file is posted in are those of its live messages: a
/// delete drops its message's reference, and a tombstone carries no files
/// in history or the log.
pub async fn deleting_a_message_drops_its_files(store: Arc<dyn Store>) {
    let (ada, lobby, dev) = (UserId::random(), room("lobby"), room("dev"));
    let record = file_record(ada, now_millis());
    store.add_file(record.clone()).await.expect("add file");
    let mut first = draft(&lobby, ada, "here", None);
    first.attachments = vec![record.attachment.clone()];
    let mut second = draft(&dev, ada, "and here", None);
    second.attachments = vec![record.attachment.clone()];
    let first = append(&*store, vec![first]).await.remove(0);
    let second = append(&*store, vec![second]).await.remove(0);
    assert_eq!(rooms_of(&*store, record.id()).await, ["dev", "lobby"], "by name");

    stored_delete(&*store, &lobby, first.id, ada).await;
    assert_eq!(rooms_of(&*store, record.id()).await, ["dev"], "the deleted message's room is gone");
    let page = store.read(&lobby, ReadRange::latest(10)).await.expect("read");
    assert!(page.messages[0].deleted && page.messages[0].attachments.is_empty(), "a tombstone carries no files");
    let log = whole_log(&*store, &lobby).await;
    assert!(matches!(&log[0], Entry::Message(m) if m.attachments.is_empty()), "nor in the log: {log:?}");
    let far_past = now_millis() - Duration::days(365);
    assert!(store.sweep_files(far_past, 100).await.expect("sweep").is_empty(), "still carried: kept");

    stored_delete(&*store, &dev, second.id, ada).await;
    assert!(rooms_of(&*store, record.id()).await.is_empty());
    let swept = store.sweep_files(far_past, 100).await.expect("sweep");
    assert_eq!(swept, vec![record.clone()], "a file only deleted messages carried goes, however new");
    assert_eq!(store.file(record.id()).await.expect("file"), None, "and is gone");
    assert!(store.sweep_files(far_past, 100).await.expect("sweep").is_empty(), "once");
}

/// A file never posted is kept until it is older than the cutoff, then
/// swept once; a posted one stays; `limit` bounds a sweep.
pub async fn unposted_files_are_swept_after_the_cutoff(store: Arc<dyn Store>) {
    let ada = UserId::random();
    let day_ago = now_millis() - Duration::hours(25);
    let old: Vec<FileRecord> = (0..3).map(|_| plain_record(ada, day_ago)).collect();
    let fresh = file_record(ada, now_millis());
    let posted = file_record(ada, day_ago);
    for record in old.iter().chain([&fresh, &posted]) {
        store.add_file(record.clone()).await.expect("add file");
    }
    let mut message = draft(&room("lobby"), ada, "kept", None);
    message.attachments = vec![posted.attachment.clone()];
    append(&*store, vec![message]).await;

    let cutoff = now_millis() - Duration::hours(24);
    let first = store.sweep_files(cutoff, 2).await.expect("sweep");
    assert_eq!(first.len(), 2, "a sweep takes at most `limit`");
    let rest = store.sweep_files(cutoff, 100).await.expect("sweep");
    let mut swept: Vec<FileId> = first.iter().chain(&rest).map(FileRecord::id).collect();
    swept.sort();
    let mut expected: Vec<FileId> = old.iter().map(FileRecord::id).collect();
    expected.sort();
    assert_eq!(swept, expected, "exactly the old unposted files, each once");
    assert!(store.file(fresh.id()).await.expect("file").is_some(), "a fresh upload waits to be posted");
    assert_eq!(rooms_of(&*store, posted.id()).await, ["lobby"], "a posted file stays");
}
