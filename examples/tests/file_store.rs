//! The JSON-lines file store of `examples/file_store.rs`: the core
//! conformance suite, history surviving a reopen, and a torn last line cut off.

#[path = "../examples/file_store.rs"]
#[allow(dead_code, unreachable_pub)]
mod file_store;

use std::io::Write;
use std::sync::Arc;

use file_store::{FileStore, LOG_FILE};
use whisper_core::model::{ClientId, DisplayName, NewMessage, RoomName, Seq, UserId};
use whisper_core::store::conformance::Guarded;
use whisper_core::store::{ReadRange, Store};

/// Every conformance check, each its own test on a fresh store in its own
/// directory (removed after the store is closed).
mod conformance_suite {
    use super::*;

    whisper_core::store_conformance_tests!(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStore::open(dir.path()).expect("store opens");
        Arc::new(Guarded::new(store, dir))
    });
}

fn draft(room: &RoomName, user: UserId, content: &str, client_id: &str) -> NewMessage {
    NewMessage::now(
        room.clone(),
        user,
        DisplayName::parse("Ada").expect("name"),
        content,
        Some(ClientId::parse(client_id).expect("client id")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_a_reopen_and_seqs_continue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (lobby, other) = (RoomName::lobby(), RoomName::parse("acme/general").expect("room"));
    let ada = UserId::random();

    let store = FileStore::open(dir.path()).expect("store opens");
    let first = store
        .append(vec![
            draft(&lobby, ada, "one", "c1"),
            draft(&other, ada, "elsewhere", "c2"),
            draft(&lobby, ada, "two", "c3"),
        ])
        .await
        .expect("append");
    let head = store.room(&lobby).await.expect("room");
    drop(store);

    let store = FileStore::open(dir.path()).expect("store reopens");
    let page = store.read(&lobby, ReadRange::latest(50)).await.expect("read");
    assert_eq!(page.messages, [first[0].clone(), first[2].clone()], "every field survives");
    assert_eq!(store.room(&lobby).await.expect("room"), head, "same seq, epoch and last_message_at");
    let rooms: Vec<String> = store.rooms().await.expect("rooms").iter().map(|r| r.name.to_string()).collect();
    assert_eq!(rooms, ["acme/general", "lobby"]);

    // A resend after the reopen is recognised; a new message takes the next seq.
    let again =
        store.append(vec![draft(&lobby, ada, "two", "c3"), draft(&lobby, ada, "three", "c4")]).await.expect("append");
    assert_eq!(again[0].id, first[2].id, "the resend returns the original");
    assert_eq!(again[1].seq, Seq(3), "seqs continue after a reopen");
    drop(store);

    let store = FileStore::open(dir.path()).expect("store reopens");
    let page = store.read(&lobby, ReadRange::after(Seq::ZERO, 50)).await.expect("read");
    let contents: Vec<&str> = page.messages.iter().map(|m| &*m.content).collect();
    assert_eq!(contents, ["one", "two", "three"]);
    assert_eq!(store.room(&other).await.expect("room").last_seq, Seq(1));
    assert_eq!(store.room(&lobby).await.expect("room").epoch, head.epoch, "the epoch stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_line_is_cut_off_on_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lobby = RoomName::lobby();
    let ada = UserId::random();
    let store = FileStore::open(dir.path()).expect("store opens");
    store.append(vec![draft(&lobby, ada, "kept", "k1")]).await.expect("append");
    drop(store);

    // A crash in the middle of writing the next batch.
    let path = dir.path().join(LOG_FILE);
    let committed = std::fs::metadata(&path).expect("log").len();
    let mut log = std::fs::OpenOptions::new().append(true).open(&path).expect("log");
    log.write_all(br#"{"messages":[{"id":"01M82E00CQEX49YV97FX"#).expect("write");
    drop(log);

    let store = FileStore::open(dir.path()).expect("a torn tail does not stop the store");
    assert_eq!(std::fs::metadata(&path).expect("log").len(), committed, "the torn line is gone");
    let next = store.append(vec![draft(&lobby, ada, "next", "k2")]).await.expect("append");
    assert_eq!(next[0].seq, Seq(2));
    drop(store);
    let store = FileStore::open(dir.path()).expect("store reopens");
    assert_eq!(store.room(&lobby).await.expect("room").last_seq, Seq(2));

    // Damage before the last line is corruption, not a torn write: refused.
    drop(store);
    let text = std::fs::read_to_string(&path).expect("log");
    std::fs::write(&path, text.replacen("kept", "kept\"", 1)).expect("write");
    assert!(FileStore::open(dir.path()).is_err(), "a corrupt log is refused");
}

/// Events survive a reopen, and a delete leaves no trace of the text in
/// the file (the log is rewritten without it), edits included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_erases_the_text_from_the_file_and_events_survive_a_reopen() {
    use whisper_core::model::{Emoji, NewEvent, Request};
    use whisper_core::store::Applied;

    let dir = tempfile::tempdir().expect("temp dir");
    let lobby = RoomName::lobby();
    let ada = UserId::random();
    let name = DisplayName::parse("Ada").expect("name");
    let store = FileStore::open(dir.path()).expect("store opens");
    let posted = store
        .append(vec![draft(&lobby, ada, "a secret", "c1"), draft(&lobby, ada, "kept", "c2")])
        .await
        .expect("append");
    let edit = Request::Edit { content: "a bigger secret".into() };
    let react = Request::React { emoji: Emoji::parse("👀").expect("emoji"), on: true };
    for (target, request) in [(posted[0].id, edit), (posted[1].id, react)] {
        let answer = store.apply(NewEvent::now(lobby.clone(), Some(target), ada, name.clone(), request, None)).await;
        assert!(matches!(answer, Ok(Applied::Stored(_))), "{answer:?}");
    }
    let file = std::fs::read_to_string(dir.path().join(LOG_FILE)).expect("log");
    assert!(file.contains("a bigger secret"), "before the delete the edit is in the file");
    let delete = NewEvent::now(lobby.clone(), Some(posted[0].id), ada, name.clone(), Request::Delete, None);
    assert!(matches!(store.apply(delete).await, Ok(Applied::Stored(e)) if e.seq == Seq(5)));
    let file = std::fs::read_to_string(dir.path().join(LOG_FILE)).expect("log");
    assert!(!file.contains("secret"), "the text is gone from the file:\n{file}");
    let before = store.log(&lobby, Seq::ZERO, 50).await.expect("log");
    drop(store);

    let store = FileStore::open(dir.path()).expect("store reopens");
    assert_eq!(store.log(&lobby, Seq::ZERO, 50).await.expect("log"), before, "the log survives the rewrite");
    let kept = store.message(&lobby, posted[1].id).await.expect("message").expect("kept");
    assert_eq!(kept.reactions.len(), 1);
    assert!(store.message(&lobby, posted[0].id).await.expect("message").expect("tombstone").deleted);
    let next = store.append(vec![draft(&lobby, ada, "after", "c3")]).await.expect("append");
    assert_eq!(next[0].seq, Seq(6), "seqs go on after the rewrite");
}
