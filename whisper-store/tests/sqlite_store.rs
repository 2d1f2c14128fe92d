//! The SQLite store: the shared conformance suite, plus what only a durable,
//! group-committing store has to show (restart, group commit, a failing
//! request inside a group, schema versions, a request whose caller gave up,
//! the writer gone).
#![cfg(feature = "sqlite")]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use whisper_core::model::{
    ClientId, DisplayName, Emoji, Message, MessageId, NewEvent, NewMessage, PrincipalKind, Request, RoomName, Seq,
    UserId,
};
use whisper_core::store::conformance::Guarded;
use whisper_core::store::{Applied, MAX_PAGE, ReadRange, Store, StoreError};
use whisper_store::SqliteStore;

/// The shared conformance suite, each check its own test on a store in a
/// temporary directory of its own, removed after the store closed the file.
mod conformance {
    use super::*;

    whisper_core::store_conformance_tests!(async {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("whisper.db")).await.unwrap();
        Arc::new(Guarded::new(store, dir))
    });
}

fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap()
}

fn draft(room: &RoomName, user: UserId, content: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage::now(
        room.clone(),
        user,
        DisplayName::parse("tester").unwrap(),
        content,
        client_id.map(|c| ClientId::parse(c).unwrap()),
    )
}

async fn all_messages(store: &dyn Store, room: &RoomName) -> Vec<Message> {
    let mut all = Vec::new();
    let mut after = Seq::ZERO;
    loop {
        let page = store.read(room, ReadRange::after(after, MAX_PAGE)).await.unwrap();
        if let Some(last) = page.messages.last() {
            after = last.seq;
        }
        all.extend(page.messages);
        if !page.has_more {
            return all;
        }
    }
}

/// A second connection to the store's file, as an operator's `sqlite3` shell.
fn side_connection(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

/// Holds the file's write lock, so the writer's next transaction waits and
/// the appends sent meanwhile pile up in its queue: they then go into one
/// group whatever the scheduling, and the tests below do not depend on timing.
fn hold_write_lock(path: &Path) -> rusqlite::Connection {
    let conn = side_connection(path);
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_seqs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet: open creates it.
    let path = dir.path().join("data").join("whisper.db");
    let lobby = room("lobby");
    let user = UserId::random();

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.path(), path);
    let first =
        store.append(vec![draft(&lobby, user, "one", Some("c1")), draft(&lobby, user, "two", None)]).await.unwrap();
    store.append(vec![draft(&room("acme/general"), user, "elsewhere", None)]).await.unwrap();
    let head = store.room(&lobby).await.unwrap();
    assert_eq!(head.last_seq, Seq(2));
    drop(store);

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.room(&lobby).await.unwrap(), head, "the head, epoch and time included, survive");
    let stored = all_messages(&store, &lobby).await;
    assert_eq!(stored, first, "every field survives");
    let next = store.append(vec![draft(&lobby, user, "three", None)]).await.unwrap();
    assert_eq!(next[0].seq, Seq(3), "seqs go on where they stopped");
    let resend = store.append(vec![draft(&lobby, user, "one", Some("c1"))]).await.unwrap();
    assert_eq!(resend[0], first[0], "a resend after a restart gets the original");
    let names: Vec<String> = store.rooms().await.unwrap().iter().map(|r| r.name.to_string()).collect();
    assert_eq!(names, ["acme/general", "lobby"]);
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_commits() {
    const REQUESTS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whisper.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let lobby = room("lobby");

    let lock = hold_write_lock(&path);
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let store = store.clone();
            let lobby = lobby.clone();
            tokio::spawn(async move {
                let stored = store.append(vec![draft(&lobby, UserId::random(), &format!("m{i}"), None)]).await;
                stored.unwrap()[0].seq
            })
        })
        .collect();
    // Not an assertion on time: only gives the tasks a chance to queue.
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock.execute_batch("ROLLBACK").unwrap();

    let mut seqs = BTreeSet::new();
    for task in tasks {
        seqs.insert(task.await.unwrap().0);
    }
    assert_eq!(seqs, (1..=REQUESTS as u64).collect(), "every append got its own seq, gap-free");
    let commits = store.commits();
    assert!(commits < REQUESTS as u64, "{REQUESTS} appends took {commits} commits: no group commit");
    assert_eq!(store.room(&lobby).await.unwrap().last_seq, Seq(REQUESTS as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_request_does_not_fail_its_group() {
    const REQUESTS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whisper.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let lobby = room("lobby");
    // The store has no input that fails on its own, so a trigger refuses one.
    side_connection(&path)
        .execute_batch(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON messages WHEN NEW.content = 'boom'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();

    let lock = hold_write_lock(&path);
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let store = store.clone();
            let lobby = lobby.clone();
            tokio::spawn(async move {
                let user = UserId::random();
                let fails = i % 10 == 5;
                // A failing request's first message is stored before its
                // second fails: it must be rolled back with it.
                let batch = if fails {
                    vec![draft(&lobby, user, &format!("doomed {i}"), Some("d")), draft(&lobby, user, "boom", None)]
                } else {
                    vec![draft(&lobby, user, &format!("ok {i}"), Some("k"))]
                };
                (fails, store.append(batch).await)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock.execute_batch("ROLLBACK").unwrap();

    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            (true, Err(StoreError::Internal(_))) => {}
            (false, Ok(stored)) => {
                assert_eq!(stored.len(), 1);
                ok += 1;
            }
            (fails, outcome) => panic!("request failing = {fails} answered {outcome:?}"),
        }
    }
    assert_eq!(ok, 90);
    let commits = store.commits();
    assert!(commits < REQUESTS as u64, "{REQUESTS} appends took {commits} commits: no group commit");

    let stored = all_messages(&*store, &lobby).await;
    let seqs: Vec<u64> = stored.iter().map(|m| m.seq.0).collect();
    assert_eq!(seqs, (1..=90).collect::<Vec<u64>>(), "failed requests took no seq");
    assert!(stored.iter().all(|m| m.content.starts_with("ok ")), "nothing of a failed request is stored");

    // The failure left nothing behind: the writer goes on, and the client id
    // of a rolled-back message is free.
    let user = UserId::random();
    let again = store.append(vec![draft(&lobby, user, "after", Some("d"))]).await.unwrap();
    assert_eq!(again[0].seq, Seq(91));
    assert_eq!(store.room(&lobby).await.unwrap().last_seq, Seq(91));
}

#[tokio::test]
async fn another_writer_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whisper.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let lobby = room("lobby");
    let user = UserId::random();
    store.append(vec![draft(&lobby, user, "one", None), draft(&lobby, user, "two", None)]).await.unwrap();

    // Someone appends behind the store's back (another process, a repair).
    let conn = side_connection(&path);
    conn.execute(
        "INSERT INTO messages (room, seq, id, user_id, name, content, client_id, created_at)
         VALUES ('lobby', 3, ?1, ?2, 'other', 'from elsewhere', NULL, 0)",
        (MessageId::generate().to_string(), UserId::random().to_string()),
    )
    .unwrap();
    conn.execute_batch("UPDATE rooms SET last_seq = 3 WHERE name = 'lobby'").unwrap();

    let next = store.append(vec![draft(&lobby, user, "four", None)]).await.unwrap();
    assert_eq!(next[0].seq, Seq(4), "the writer reloads the head another connection moved");
    let seqs: Vec<u64> = all_messages(&store, &lobby).await.iter().map(|m| m.seq.0).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
}

#[tokio::test]
async fn schema_is_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whisper.db");
    drop(SqliteStore::open(&path).await.unwrap());
    let conn = side_connection(&path);
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 8);
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");

    // Reopening an up-to-date file migrates nothing.
    drop(SqliteStore::open(&path).await.unwrap());

    // A file from a newer version is refused rather than misread.
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    match SqliteStore::open(&path).await {
        Err(StoreError::Internal(message)) => assert!(message.contains("99"), "{message}"),
        other => panic!("a newer schema must be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_file_that_cannot_be_opened_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    // The path is a directory: SQLite cannot open it as a database.
    match SqliteStore::open(dir.path()).await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// A request whose caller gave up before the writer took it into a group is
/// skipped (`Store::append`): nothing of it is stored, and its seqs go to
/// the next message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_append_abandoned_while_queued_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whisper.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let lobby = room("lobby");
    let user = UserId::random();

    // The writer takes `first` into a group and waits for the lock; the
    // abandoned append queues behind it.
    let lock = hold_write_lock(&path);
    let first = tokio::spawn({
        let (store, lobby) = (store.clone(), lobby.clone());
        async move { store.append(vec![draft(&lobby, user, "kept", Some("k"))]).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let abandoned = tokio::spawn({
        let (store, lobby) = (store.clone(), lobby.clone());
        async move { store.append(vec![draft(&lobby, user, "abandoned", Some("a"))]).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    abandoned.abort();
    assert!(abandoned.await.unwrap_err().is_cancelled());
    lock.execute_batch("ROLLBACK").unwrap();

    assert_eq!(first.await.unwrap().unwrap()[0].seq, Seq(1));
    let next = store.append(vec![draft(&lobby, user, "next", Some("n"))]).await.unwrap();
    assert_eq!(next[0].seq, Seq(2), "the abandoned append took no seq");
    let contents: Vec<String> = all_messages(&*store, &lobby).await.iter().map(|m| m.content.to_string()).collect();
    assert_eq!(contents, ["kept", "next"], "nothing of the abandoned append is stored");
}

/// The data directory removed under a running store: the open file keeps
/// answering reads, but nothing could be written there any more, so `ping`
/// (what `/readyz` asks) fails, and leaves nothing behind while healthy.
#[tokio::test]
async fn ping_fails_once_the_data_dir_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = SqliteStore::open(data.join("whisper.db")).await.unwrap();
    store.ping().await.expect("a healthy store is ready");
    let mut names: Vec<String> =
        std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert!(!names.iter().any(|n| n.ends_with("-ready")), "the probe is removed: {names:?}");
    std::fs::remove_dir_all(&data).unwrap();
    match store.ping().await {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("cannot write"), "{why}"),
        other => panic!("a store whose directory is gone must not be ready: {other:?}"),
    }
}

/// A file written by v1 (schema version 1, as it shipped) opens, migrates to
/// the current schema, and keeps every message: read back, appended after,
/// counted as unread, and edited, reacted to and logged like a new one.
#[tokio::test]
async fn a_v1_file_migrates_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whisper.db");
    {
        let conn = side_connection(&path);
        conn.execute_batch(
            "CREATE TABLE rooms (
                name TEXT NOT NULL PRIMARY KEY, last_seq INTEGER NOT NULL, epoch INTEGER NOT NULL,
                last_message_at INTEGER
            ) WITHOUT ROWID;
            CREATE TABLE messages (
                room TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, user_id TEXT NOT NULL,
                name TEXT NOT NULL, content TEXT NOT NULL, client_id TEXT, created_at INTEGER NOT NULL,
                PRIMARY KEY (room, seq)
            ) WITHOUT ROWID;
            CREATE UNIQUE INDEX messages_by_client_id ON messages (user_id, client_id) WHERE client_id IS NOT NULL;
            INSERT INTO rooms VALUES ('lobby', 2, 1700000000000, 1700000000002);
            INSERT INTO messages VALUES
                ('lobby', 1, '01HZY3Q5V5K9G7W0000000000A', '5948830d-8f95-4fb0-ab18-728248fa24e7', 'Bob', 'from v1', 'c1', 1700000000001),
                ('lobby', 2, '01HZY3Q5V5K9G7W0000000000B', '5948830d-8f95-4fb0-ab18-728248fa24e7', 'Bob', 'also v1', NULL, 1700000000002);
            PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let lobby = RoomName::lobby();
    let page = store.read(&lobby, ReadRange::latest(50)).await.unwrap();
    let contents: Vec<&str> = page.messages.iter().map(|m| &*m.content).collect();
    assert_eq!(contents, ["from v1", "also v1"]);
    let ada = UserId::random();
    assert_eq!(store.read_state(ada, &lobby).await.unwrap().unread, 2, "v1 messages count as unread");
    assert!(store.mark_read(ada, &lobby, Seq(1)).await.unwrap().moved);
    assert_eq!(store.read_state(ada, &lobby).await.unwrap().unread, 1);
    let bob = UserId::parse("5948830d-8f95-4fb0-ab18-728248fa24e7").unwrap();
    let resend = NewMessage::now(
        lobby.clone(),
        bob,
        DisplayName::parse("Bob").unwrap(),
        "from v1",
        Some(ClientId::parse("c1").unwrap()),
    );
    let stored = store.append(vec![resend]).await.unwrap();
    assert_eq!(stored[0].seq, Seq(1), "a v1 client id still finds its original");
    assert!(!stored[0].deleted && stored[0].edited_at.is_none() && stored[0].reply_to.is_none());
    assert_eq!(stored[0].principal, PrincipalKind::Guest, "a v1 message was a guest's, and says so");
    let v1 = stored[0].id;
    let bob_name = DisplayName::parse("Bob").unwrap();
    let edit =
        NewEvent::now(lobby.clone(), Some(v1), bob, bob_name.clone(), Request::Edit { content: "edited".into() }, None);
    assert!(matches!(store.apply(edit).await.unwrap(), Applied::Stored(e) if e.seq == Seq(3)), "v1 seqs go on");
    let react = Request::React { emoji: Emoji::parse("👍").unwrap(), on: true };
    assert!(matches!(
        store.apply(NewEvent::now(lobby.clone(), Some(v1), ada, bob_name, react, None)).await.unwrap(),
        Applied::Stored(_)
    ));
    let now = store.message(&lobby, v1).await.unwrap().unwrap();
    assert_eq!((&*now.content, now.reactions.len()), ("edited", 1));
    let log = store.log(&lobby, Seq::ZERO, 10).await.unwrap();
    assert_eq!(log.entries.iter().map(|e| e.seq().0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(found(&store, "v1").await, ["also v1"], "v1 messages are indexed, and the edit re-indexed");
    assert_eq!(found(&store, "edited").await, ["edited"]);
    drop(store);
    let version: i64 = side_connection(&path).query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 8);
}

/// What a search of everything finds, newest first.
async fn found(store: &dyn Store, text: &str) -> Vec<String> {
    let query = whisper_core::model::SearchQuery::parse(text).expect("valid search");
    let page = store.search(&whisper_core::store::Search::new(query, None)).await.expect("search");
    page.messages.iter().map(|m| m.content.to_string()).collect()
}
