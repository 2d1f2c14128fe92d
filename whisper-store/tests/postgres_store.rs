//! The PostgreSQL store against a real server: the conformance suite, restarts,
//! several nodes sharing a database, and losing the database mid-flight.
//!
//! Each test creates its own database (`whisper_store::testing::pg`) and
//! drops it afterwards; without a reachable PostgreSQL the tests say they
//! were skipped (and fail under `CI=true`).
#![cfg(feature = "postgres")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use whisper_core::model::{ClientId, DisplayName, Message, NewMessage, RoomName, Seq, UserId};
use whisper_core::store::conformance::Guarded;
use whisper_core::store::{MAX_PAGE, ReadRange, Store, StoreError};
use whisper_core::testing::{Mode, Proxy};
use whisper_store::PostgresStore;
use whisper_store::testing::pg::{TestDb, fresh_database};

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("valid room")
}

fn draft(room: &RoomName, user: UserId, content: &str, client_id: Option<&str>) -> NewMessage {
    NewMessage::now(
        room.clone(),
        user,
        DisplayName::parse("tester").expect("valid name"),
        content,
        client_id.map(|c| ClientId::parse(c).expect("valid client id")),
    )
}

/// Every message of `room`, oldest first.
async fn history(store: &dyn Store, room: &RoomName) -> Vec<Message> {
    let mut all = Vec::new();
    let mut after = Seq::ZERO;
    loop {
        let page = store.read(room, ReadRange::after(after, MAX_PAGE)).await.expect("read");
        if let Some(last) = page.messages.last() {
            after = last.seq;
        }
        all.extend(page.messages);
        if !page.has_more {
            return all;
        }
    }
}

fn assert_gap_free(messages: &[Message], what: &str) {
    let seqs: Vec<u64> = messages.iter().map(|m| m.seq.0).collect();
    let want: Vec<u64> = (1..=messages.len() as u64).collect();
    assert_eq!(seqs, want, "{what}: seqs must be exactly 1..={}", messages.len());
}

/// The shared conformance suite, each check its own test on its own database.
mod conformance {
    use super::*;

    /// A store in a database of its own, dropped after the store, so that no
    /// two checks see each other's rows.
    async fn own_database() -> Option<Arc<Guarded<PostgresStore, TestDb>>> {
        let db = fresh_database().await?;
        let store = PostgresStore::connect(db.url()).await.expect("connect");
        Some(Arc::new(Guarded::new(store, db)))
    }

    whisper_core::store_conformance_tests!(maybe own_database());

    /// Files' bytes in the database pass the file store's suite.
    #[tokio::test]
    async fn files_in_postgres() {
        let Some(db) = fresh_database().await else { return };
        let store = PostgresStore::connect(db.url()).await.expect("connect");
        whisper_core::files::conformance::run(&store.files()).await;
    }
}

/// History, seqs, epochs and idempotency survive closing and reopening the store.
#[tokio::test]
async fn reopening_keeps_history_and_seq_continues() {
    let Some(db) = fresh_database().await else { return };
    let lobby = room("lobby");
    let user = UserId::random();
    let (first, head) = {
        let store = PostgresStore::connect(db.url()).await.expect("connect");
        let batch = (0..5).map(|i| draft(&lobby, user, &format!("m{i}"), Some(&format!("c{i}")))).collect();
        let first = store.append(batch).await.expect("append");
        (first, store.room(&lobby).await.expect("room"))
    };
    // Running the migrations again must be a no-op.
    let store = PostgresStore::connect(db.url()).await.expect("reconnect");
    assert_eq!(history(&store, &lobby).await, first, "history survives a restart");
    let again = store.room(&lobby).await.expect("room");
    assert_eq!(again, head, "the room's head and epoch survive a restart");
    let next = store.append(vec![draft(&lobby, user, "after", None)]).await.expect("append");
    assert_eq!(next[0].seq, Seq(6), "the seq continues");
    let resend = store.append(vec![draft(&lobby, user, "m2", Some("c2"))]).await.expect("resend");
    assert_eq!(resend[0], first[2], "a resend after a restart still returns the original");
    assert_eq!(store.rooms().await.expect("rooms").len(), 1);
}

/// Several nodes starting at once against an empty database migrate it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_migrate_once() {
    let Some(db) = fresh_database().await else { return };
    let mut starts = JoinSet::new();
    for _ in 0..4 {
        let url = db.url().to_owned();
        starts.spawn(async move { PostgresStore::connect(&url).await });
    }
    let mut stores = Vec::new();
    while let Some(started) = starts.join_next().await {
        stores.push(started.expect("no panic").expect("every node starts"));
    }
    for store in &stores {
        store.append(vec![draft(&room("lobby"), UserId::random(), "hi", None)]).await.expect("append");
    }
    assert_gap_free(&history(&stores[0], &room("lobby")).await, "lobby");
}

/// Two nodes (two stores, two pools, two writers) appending to the same rooms
/// at once: seqs stay gap-free and every task sees its own appends in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_stay_gap_free() {
    let Some(db) = fresh_database().await else { return };
    let nodes: [Arc<dyn Store>; 2] = [
        Arc::new(PostgresStore::connect(db.url()).await.expect("node a")),
        Arc::new(PostgresStore::connect(db.url()).await.expect("node b")),
    ];
    let rooms = [room("shared"), room("acme/other")];
    const TASKS: usize = 16;
    const APPENDS: usize = 25;
    let mut tasks = JoinSet::new();
    for t in 0..TASKS {
        let nodes = nodes.clone();
        let rooms = rooms.clone();
        tasks.spawn(async move {
            let user = UserId::random();
            let mut seen: Vec<(RoomName, u64)> = Vec::new();
            for i in 0..APPENDS {
                let target = &rooms[(t + i) % 2];
                let node = &nodes[(t + i / 3) % 2];
                let n = 1 + (t * 7 + i) % 4;
                let batch = (0..n).map(|j| draft(target, user, &format!("t{t}-{i}-{j}"), Some(&format!("{i}-{j}"))));
                let stored = node.append(batch.collect()).await.expect("append");
                seen.extend(stored.iter().map(|m| (m.room.clone(), m.seq.0)));
            }
            seen
        });
    }
    let mut total = 0;
    while let Some(result) = tasks.join_next().await {
        let seen = result.expect("no panic");
        total += seen.len();
        for r in &rooms {
            let mine: Vec<u64> = seen.iter().filter(|(name, _)| name == r).map(|(_, s)| *s).collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "a task's appends to {r} get increasing seqs: {mine:?}");
        }
    }
    let mut stored = 0;
    for r in &rooms {
        for node in &nodes {
            let all = history(&**node, r).await;
            assert_gap_free(&all, r.as_str());
            let distinct: BTreeSet<_> = all.iter().map(|m| (m.user_id, m.client_id.clone())).collect();
            assert_eq!(distinct.len(), all.len(), "{r}: every message stored once");
            assert_eq!(node.room(r).await.expect("room").last_seq, Seq(all.len() as u64));
        }
        stored += history(&*nodes[0], r).await.len();
    }
    assert_eq!(stored, total, "every message stored once");
}

/// Two nodes receive the same resend at the same moment: both look it up,
/// find nothing, and try to store it; the `UNIQUE (user_id, client_id)`
/// constraint stops the second, which retries and returns the original. It is
/// stored once and both nodes return the same message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_racing_on_one_client_id_store_it_once() {
    let Some(db) = fresh_database().await else { return };
    let nodes: [Arc<dyn Store>; 2] = [
        Arc::new(PostgresStore::connect(db.url()).await.expect("node a")),
        Arc::new(PostgresStore::connect(db.url()).await.expect("node b")),
    ];
    let (lobby, user) = (room("lobby"), UserId::random());
    const ROUNDS: usize = 30;
    for i in 0..ROUNDS {
        // Another message first in each batch makes the race window wider,
        // and checks that the retry keeps the whole batch atomic.
        let batch = |node: usize| {
            vec![
                draft(&lobby, user, &format!("own {i} {node}"), Some(&format!("own-{i}-{node}"))),
                draft(&lobby, user, "race", Some(&format!("race-{i}"))),
            ]
        };
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let racers = nodes.iter().enumerate().map(|(n, node)| {
            let (node, barrier, batch) = (node.clone(), barrier.clone(), batch(n));
            tokio::spawn(async move {
                barrier.wait().await;
                node.append(batch).await.expect("racing append")
            })
        });
        let results: Vec<Vec<Message>> =
            futures_util::future::join_all(racers).await.into_iter().map(|r| r.expect("no panic")).collect();
        assert_eq!(results[0][1], results[1][1], "round {i}: both nodes return the one stored message");
        assert_ne!(results[0][0].seq, results[1][0].seq);
    }
    let all = history(&*nodes[0], &lobby).await;
    assert_gap_free(&all, "lobby");
    assert_eq!(all.len(), 3 * ROUNDS, "each round stores two own messages and one raced message");
}

/// A request PostgreSQL refuses (text with a NUL byte) fails alone: the
/// requests committed in the same group still succeed, without gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bad_request_does_not_sink_its_group() {
    let Some(db) = fresh_database().await else { return };
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(db.url()).await.expect("connect"));
    let lobby = room("lobby");
    for round in 0..5 {
        let mut tasks = JoinSet::new();
        for t in 0..32 {
            let store = store.clone();
            let message = if t == 13 {
                draft(&lobby, UserId::random(), "nul \0 byte", None)
            } else {
                draft(&lobby, UserId::random(), &format!("round {round} task {t}"), None)
            };
            tasks.spawn(async move { (t, store.append(vec![message]).await) });
        }
        while let Some(result) = tasks.join_next().await {
            let (t, outcome) = result.expect("no panic");
            if t == 13 {
                assert!(matches!(outcome, Err(StoreError::Internal(_))), "the bad request is refused: {outcome:?}");
            } else {
                outcome.expect("the other requests are stored");
            }
        }
    }
    let all = history(&*store, &lobby).await;
    assert_eq!(all.len(), 5 * 31);
    assert_gap_free(&all, "lobby");
}

/// The server kills the store's connections (as a restart or failover
/// would): the next append succeeds on a new connection or reports
/// `Unavailable`, never `Internal` and never hangs; the one after succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_its_connections_being_terminated() {
    let Some(db) = fresh_database().await else { return };
    let store = PostgresStore::connect(db.url()).await.expect("connect");
    let lobby = room("lobby");
    let user = UserId::random();
    store.append(vec![draft(&lobby, user, "before", None)]).await.expect("append");
    store.read(&lobby, ReadRange::latest(10)).await.expect("read");
    for round in 0..3 {
        assert!(db.terminate_connections().await > 0, "the store had connections to kill");
        let start = Instant::now();
        let outcome =
            tokio::time::timeout(Duration::from_secs(20), store.append(vec![draft(&lobby, user, "during", None)]))
                .await
                .expect("an append never hangs");
        assert!(start.elapsed() < Duration::from_secs(15));
        match outcome {
            Ok(stored) => assert_eq!(stored.len(), 1),
            Err(StoreError::Unavailable(_)) => {}
            Err(other) => panic!("round {round}: a lost connection must be Unavailable, got {other}"),
        }
        // Reads too: an error is Unavailable, and a retry works.
        match store.read(&lobby, ReadRange::latest(10)).await {
            Ok(_) | Err(StoreError::Unavailable(_)) => {}
            Err(other) => panic!("round {round}: a lost connection must be Unavailable, got {other}"),
        }
        store.append(vec![draft(&lobby, user, "after", None)]).await.expect("the next append succeeds");
        store.read(&lobby, ReadRange::latest(10)).await.expect("reads work again");
        store.ping().await.expect("ping");
    }
    assert_gap_free(&history(&store, &lobby).await, "lobby");
}

/// The database becomes unreachable for a while (a proxy between store and
/// server refuses connections and cuts the open ones): appends, reads and
/// pings fail fast with `Unavailable` and are never acknowledged; once it is
/// back, the same store works again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_after_the_database_was_unreachable() {
    let Some(db) = fresh_database().await else { return };
    let (proxy, url) = proxy_to(&db).await;
    let store = PostgresStore::connect(&url).await.expect("connect through the proxy");
    let lobby = room("lobby");
    let user = UserId::random();
    store.append(vec![draft(&lobby, user, "before", Some("c0"))]).await.expect("append");

    proxy.set(Mode::Down);
    for i in 0..3 {
        let start = Instant::now();
        let outcome = tokio::time::timeout(
            Duration::from_secs(20),
            store.append(vec![draft(&lobby, user, "while down", Some(&format!("down-{i}")))]),
        )
        .await
        .expect("an append never hangs");
        assert!(matches!(outcome, Err(StoreError::Unavailable(_))), "down: must be Unavailable, got {outcome:?}");
        assert!(start.elapsed() < Duration::from_secs(10), "a dead database answers quickly: {:?}", start.elapsed());
        let read = store.read(&lobby, ReadRange::latest(10)).await;
        assert!(matches!(read, Err(StoreError::Unavailable(_))), "down: read must be Unavailable, got {read:?}");
        assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
    }

    proxy.set(Mode::Up);
    let stored = store.append(vec![draft(&lobby, user, "back", Some("c1"))]).await.expect("works once it is back");
    assert_eq!(stored[0].seq, Seq(2), "nothing was stored while down");
    store.ping().await.expect("ping");
    let all = history(&store, &lobby).await;
    assert_gap_free(&all, "lobby");
    assert_eq!(all.len(), 2);
}

/// The database stops answering without closing anything (a hung server, a
/// network partition): an append gives up with `Unavailable` within the
/// store's statement timeout instead of hanging, and once the database
/// answers again the store works without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gives_up_on_a_database_that_stopped_answering() {
    let Some(db) = fresh_database().await else { return };
    let (proxy, url) = proxy_to(&db).await;
    let store = PostgresStore::connect(&url).await.expect("connect through the proxy");
    let lobby = room("lobby");
    let user = UserId::random();
    store.append(vec![draft(&lobby, user, "before", Some("c0"))]).await.expect("append");

    proxy.set(Mode::Stalled);
    let start = Instant::now();
    let outcome =
        tokio::time::timeout(Duration::from_secs(30), store.append(vec![draft(&lobby, user, "stalled", Some("c1"))]))
            .await
            .expect("an append never hangs");
    assert!(matches!(outcome, Err(StoreError::Unavailable(_))), "stalled: must be Unavailable, got {outcome:?}");
    assert!(start.elapsed() < Duration::from_secs(20), "gave up after {:?}", start.elapsed());

    proxy.set(Mode::Up);
    // The stalled statement may have reached the server once the proxy let
    // it through: the resend of c1 then returns it, stored once.
    let stored = store.append(vec![draft(&lobby, user, "stalled", Some("c1"))]).await.expect("works once it answers");
    let again = store.append(vec![draft(&lobby, user, "after", Some("c2"))]).await.expect("append");
    assert_eq!(again[0].seq, stored[0].seq.next());
    let all = history(&store, &lobby).await;
    assert_gap_free(&all, "lobby");
    assert_eq!(all.len(), 3);
}

/// A proxy to the test database's server, and the URL that reaches that
/// database through it.
async fn proxy_to(db: &TestDb) -> (Proxy, String) {
    let proxy = Proxy::start(db.server_addr()).await;
    let url = db.url_via(proxy.addr());
    (proxy, url)
}

/// An append whose caller gave up while it waited for the writer is skipped
/// (`Store::append`): nothing of it is stored, and it takes no seq.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_append_abandoned_while_queued_is_skipped() {
    let Some(db) = fresh_database().await else { return };
    let store = Arc::new(PostgresStore::connect(db.url()).await.expect("connect"));
    let (lobby, user) = (room("lobby"), UserId::random());

    // Another connection holds the rooms table, so the writer's first group
    // waits on it; the abandoned append queues behind that group.
    let mut side = db.client().await;
    let lock = side.transaction().await.expect("begin");
    lock.batch_execute("LOCK TABLE rooms IN EXCLUSIVE MODE").await.expect("lock");
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
    assert!(abandoned.await.expect_err("aborted").is_cancelled());
    lock.rollback().await.expect("release the lock");

    assert_eq!(first.await.expect("no panic").expect("append")[0].seq, Seq(1));
    let next = store.append(vec![draft(&lobby, user, "next", Some("n"))]).await.expect("append");
    assert_eq!(next[0].seq, Seq(2), "the abandoned append took no seq");
    let contents: Vec<String> = history(&*store, &lobby).await.iter().map(|m| m.content.to_string()).collect();
    assert_eq!(contents, ["kept", "next"], "nothing of the abandoned append is stored");
}

/// A database that turned read-only (here `default_transaction_read_only`,
/// as a failover to a standby would) still answers `SELECT 1`, but refuses
/// every append: `ping` (what `/readyz` asks) says so, and says ready again
/// once it can write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_fails_while_the_database_is_read_only() {
    let Some(db) = fresh_database().await else { return };
    let store = PostgresStore::connect(db.url()).await.expect("connect");
    store.ping().await.expect("a writable database is ready");
    let admin = db.client().await;
    let set = |on: bool| format!("ALTER DATABASE \"{}\" SET default_transaction_read_only = {on}", db.name());
    admin.batch_execute(&set(true)).await.expect("make read-only");
    // New sessions take the setting: make the pool open new ones.
    db.terminate_connections().await;
    let mut refused = None;
    for _ in 0..3 {
        match store.ping().await {
            Err(StoreError::Unavailable(why)) if why.contains("read-only") => {
                refused = Some(why);
                break;
            }
            // The first try may meet a connection that was just cut.
            Err(StoreError::Unavailable(_)) => continue,
            other => panic!("a read-only database must not be ready: {other:?}"),
        }
    }
    assert!(refused.is_some(), "ping noticed the read-only database");
    // A new session on the database is read-only too, until it says otherwise.
    let admin = db.client().await;
    admin.batch_execute("SET default_transaction_read_only = off").await.expect("a writable session");
    admin.batch_execute(&set(false)).await.expect("make writable");
    db.terminate_connections().await;
    let mut ready = false;
    for _ in 0..3 {
        if store.ping().await.is_ok() {
            ready = true;
            break;
        }
    }
    assert!(ready, "ready again once the database can write");
}

/// A database written by v1 (migration 1, as it shipped) opens, migrates to
/// the current schema and keeps every message: read back, counted as
/// unread, found by a resend, then edited, reacted to and logged like a new
/// one, its seqs going on.
#[tokio::test]
async fn a_v1_database_migrates_without_loss() {
    use whisper_core::model::{Emoji, NewEvent, Request};
    use whisper_core::store::Applied;

    let Some(db) = fresh_database().await else { return };
    let v1 = db.client().await;
    v1.batch_execute(
        r#"CREATE TABLE whisper_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);
        INSERT INTO whisper_migrations VALUES (1, 1700000000000);
        CREATE TABLE rooms (
            name TEXT COLLATE "C" PRIMARY KEY, last_seq BIGINT NOT NULL CHECK (last_seq >= 0),
            epoch BIGINT NOT NULL, last_message_at BIGINT
        );
        CREATE TABLE messages (
            room TEXT COLLATE "C" NOT NULL, seq BIGINT NOT NULL, id TEXT NOT NULL, user_id UUID NOT NULL,
            name TEXT NOT NULL, content TEXT NOT NULL, client_id TEXT, created_at BIGINT NOT NULL,
            PRIMARY KEY (room, seq), UNIQUE (user_id, client_id)
        );
        INSERT INTO rooms VALUES ('lobby', 2, 1700000000000, 1700000000002);
        INSERT INTO messages VALUES
            ('lobby', 1, '01HZY3Q5V5K9G7W0000000000A', '5948830d-8f95-4fb0-ab18-728248fa24e7', 'Bob', 'from v1', 'c1', 1700000000001),
            ('lobby', 2, '01HZY3Q5V5K9G7W0000000000B', '5948830d-8f95-4fb0-ab18-728248fa24e7', 'Bob', 'also v1', NULL, 1700000000002);"#,
    )
    .await
    .expect("a v1 schema");
    drop(v1);

    let store = PostgresStore::connect(db.url()).await.expect("connect migrates");
    let lobby = room("lobby");
    let page = store.read(&lobby, ReadRange::latest(50)).await.expect("read");
    let contents: Vec<&str> = page.messages.iter().map(|m| &*m.content).collect();
    assert_eq!(contents, ["from v1", "also v1"]);
    assert!(page.messages.iter().all(|m| !m.deleted && m.edited_at.is_none() && m.reactions.is_empty()));
    let ada = UserId::random();
    assert_eq!(store.read_state(ada, &lobby).await.expect("read state").unread, 2);
    let bob = UserId::parse("5948830d-8f95-4fb0-ab18-728248fa24e7").expect("uuid");
    let resend = store.append(vec![draft(&lobby, bob, "from v1", Some("c1"))]).await.expect("append");
    assert_eq!(resend[0].seq, Seq(1), "a v1 client id still finds its original");
    let name = DisplayName::parse("Bob").expect("name");
    let edit = NewEvent::now(
        lobby.clone(),
        Some(resend[0].id),
        bob,
        name.clone(),
        Request::Edit { content: "edited".into() },
        None,
    );
    assert!(matches!(store.apply(edit).await.expect("apply"), Applied::Stored(e) if e.seq == Seq(3)));
    let react = Request::React { emoji: Emoji::parse("👍").expect("emoji"), on: true };
    let reacted =
        store.apply(NewEvent::now(lobby.clone(), Some(resend[0].id), ada, name, react, None)).await.expect("apply");
    assert!(matches!(reacted, Applied::Stored(e) if e.seq == Seq(4)));
    let now = store.message(&lobby, resend[0].id).await.expect("message").expect("found");
    assert_eq!((&*now.content, now.reactions.len()), ("edited", 1));
    let log = store.log(&lobby, Seq::ZERO, 10).await.expect("log");
    assert_eq!(log.entries.iter().map(|e| e.seq().0).collect::<Vec<_>>(), [1, 2, 3, 4]);
    let next = store.append(vec![draft(&lobby, ada, "after", None)]).await.expect("append");
    assert_eq!(next[0].seq, Seq(5));
    assert_eq!(found(&store, "v1").await, ["also v1"], "v1 messages are indexed, and the edit re-indexed");
    let after = store.append(vec![draft(&lobby, ada, "also after", None)]).await.expect("append");
    assert_eq!(after[0].seq, Seq(6));
    assert_eq!(found(&store, "after").await, ["also after", "after"], "new messages number on from the old");
    let versions: i32 =
        db.client().await.query_one("SELECT max(version) FROM whisper_migrations", &[]).await.expect("versions").get(0);
    assert_eq!(versions, 8);
}

/// What a search of everything finds, newest first.
async fn found(store: &dyn Store, text: &str) -> Vec<String> {
    let query = whisper_core::model::SearchQuery::parse(text).expect("valid search");
    let page = store.search(&whisper_core::store::Search::new(query, None)).await.expect("search");
    page.messages.iter().map(|m| m.content.to_string()).collect()
}
