//! The HTTP read API under load (protocol.md §10, §11): `/v1/rooms` pages,
//! history pages are capped in bytes, each address has a request rate, and
//! bulk reads leave the store's readers to joins. Real server, real SQLite,
//! real sockets on 127.0.0.1.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::server::{TestServer, start_in, start_on_store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use whisper_core::model::{DisplayName, Message, MessageId, NewEvent, NewMessage, RoomName, Seq, UserId};
use whisper_core::store::{
    Applied, LogPage, Page, ReadMark, ReadRange, ReadState, RoomInfo, RoomsPage, Store, StoreError,
};
use whisper_store::SqliteStore;

/// Fills `<dir>/whisper.db` with one message in each of `rooms` rooms
/// (`r00000`, `r00001`, …) and `messages` messages of `content` in `lobby`,
/// then closes it, for a server to open.
async fn fill(dir: &Path, rooms: usize, messages: usize, content: &str) {
    let store = SqliteStore::open(dir.join("whisper.db")).await.expect("open SQLite");
    let user = UserId::random();
    let name = DisplayName::parse("filler").unwrap();
    let new = |room: RoomName, content: &str| NewMessage::now(room, user, name.clone(), content, None);
    let names: Vec<RoomName> = (0..rooms).map(|i| RoomName::parse(&format!("r{i:05}")).unwrap()).collect();
    for chunk in names.chunks(100) {
        store.append(chunk.iter().map(|r| new(r.clone(), "hi")).collect()).await.expect("append");
    }
    for _ in 0..messages.div_ceil(100) {
        let n = messages.min(100);
        store.append((0..n).map(|_| new(RoomName::lobby(), content)).collect()).await.expect("append");
    }
}

/// A store that counts the reads the HTTP API makes (`read`, `rooms_page`,
/// `log`, `message`) that it serves at once, and the most it ever served at
/// once. A join's own reads (read state, the room's read marks) are not
/// counted: they do not go through the HTTP read bound.
#[derive(Debug)]
struct CountingReads {
    inner: Arc<dyn Store>,
    now: AtomicUsize,
    most: AtomicUsize,
}

impl CountingReads {
    async fn counted<T>(&self, read: impl std::future::Future<Output = T>) -> T {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        let out = read.await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

#[whisper_core::async_trait]
impl Store for CountingReads {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        self.inner.append(batch).await
    }
    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError> {
        self.counted(self.inner.read(room, range)).await
    }
    async fn apply(&self, event: NewEvent) -> Result<Applied, StoreError> {
        self.inner.apply(event).await
    }
    async fn message(&self, room: &RoomName, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.counted(self.inner.message(room, id)).await
    }
    async fn log(&self, room: &RoomName, after: Seq, limit: usize) -> Result<LogPage, StoreError> {
        self.counted(self.inner.log(room, after, limit)).await
    }
    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        self.inner.room(room).await
    }
    async fn room_reads(&self, room: &RoomName, limit: usize) -> Result<Vec<(UserId, Seq)>, StoreError> {
        self.inner.room_reads(room, limit).await
    }
    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError> {
        self.counted(self.inner.rooms_page(after, limit)).await
    }
    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        self.inner.mark_read(user, room, seq).await
    }
    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError> {
        self.inner.read_state(user, room).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn create_room(
        &self,
        room: whisper_core::store::NewRoom,
    ) -> Result<Option<Vec<whisper_core::model::Event>>, StoreError> {
        self.inner.create_room(room).await
    }
    async fn access(&self, room: &RoomName, user: UserId) -> Result<whisper_core::model::Access, StoreError> {
        self.inner.access(room, user).await
    }
    async fn members(
        &self,
        room: &RoomName,
        banned: bool,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, DisplayName, whisper_core::model::Standing)>, StoreError> {
        self.inner.members(room, banned, after, limit).await
    }
    async fn member_rooms(
        &self,
        user: UserId,
        after: Option<&RoomName>,
        limit: usize,
    ) -> Result<whisper_core::store::MemberRoomsPage, StoreError> {
        self.inner.member_rooms(user, after, limit).await
    }
    async fn search(
        &self,
        search: &whisper_core::store::Search,
    ) -> Result<whisper_core::store::SearchPage, StoreError> {
        self.inner.search(search).await
    }
    async fn add_file(&self, file: whisper_core::model::FileRecord) -> Result<(), StoreError> {
        self.inner.add_file(file).await
    }
    async fn file(
        &self,
        id: whisper_core::model::FileId,
    ) -> Result<Option<whisper_core::model::PostedFile>, StoreError> {
        self.inner.file(id).await
    }
    async fn sweep_files(
        &self,
        before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<whisper_core::model::FileRecord>, StoreError> {
        self.inner.sweep_files(before, limit).await
    }
}

/// A server on a filled SQLite file, with `tweak` applied.
async fn filled(
    rooms: usize,
    messages: usize,
    content: &str,
    tweak: impl FnOnce(&mut whisper_server::Config),
) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    fill(dir.path(), rooms, messages, content).await;
    let server = start_in(dir.path(), tweak).await;
    (server, dir)
}

/// A plain GET over a fresh connection: status, head (lowercased) and the
/// body's size and JSON.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, usize, Value) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, head.to_ascii_lowercase(), body.len(), json)
}

fn no_rate_limit(c: &mut whisper_server::Config) {
    c.http_requests_per_second = 0;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rooms_are_paged_every_room_once_in_order() {
    const ROOMS: usize = 1_234;
    let (server, _dir) = filled(ROOMS, 0, "", no_rate_limit).await;

    let (status, _, _, first) = get(server.addr, "/v1/rooms").await;
    assert_eq!(status, 200);
    assert_eq!(first["rooms"].as_array().unwrap().len(), 100, "the default page is 100 rooms");
    assert_eq!((first["has_more"].as_bool(), first["next"].as_str()), (Some(true), Some("r00099")));

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/rooms?limit=500&after={a}"),
            None => "/v1/rooms?limit=500".to_owned(),
        };
        let (status, _, bytes, page) = get(server.addr, &path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(bytes < 100_000, "a page of 500 rooms is small: {bytes} bytes");
        pages += 1;
        let rooms = page["rooms"].as_array().unwrap();
        assert!(rooms.len() <= 500, "a page is at most 500 rooms");
        seen.extend(rooms.iter().map(|r| r["name"].as_str().unwrap().to_owned()));
        if page["has_more"] == true {
            assert_eq!(page["next"].as_str(), seen.last().map(String::as_str), "next is the page's last room");
            after = page["next"].as_str().map(str::to_owned);
        } else {
            assert!(page["next"].is_null(), "no next on the last page");
            break;
        }
        assert!(pages <= 10, "paging ends");
    }
    assert_eq!(pages, 3, "1,234 rooms are three pages of 500");
    let want: Vec<String> = (0..ROOMS).map(|i| format!("r{i:05}")).collect();
    assert_eq!(seen, want, "every room once, by name");
    let (_, _, _, tail) = get(server.addr, "/v1/rooms?after=r01233").await;
    assert_eq!(tail, serde_json::json!({"rooms": [], "has_more": false, "next": null}), "past the last room");
    server.stop().await;
}

#[tokio::test]
async fn bad_room_queries_are_json_errors() {
    let (server, _dir) = filled(3, 0, "", |_| {}).await;
    for (path, field) in [
        ("/v1/rooms?limit=0", "limit"),
        ("/v1/rooms?limit=501", "limit"),
        ("/v1/rooms?limit=-1", "limit"),
        ("/v1/rooms?limit=many", "limit"),
        ("/v1/rooms?after=Bad%20Room", "after"),
        ("/v1/rooms?after=", "after"),
        ("/v1/rooms?after=a//b", "after"),
    ] {
        let (status, _, _, body) = get(server.addr, path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"]["code"], "invalid_request", "{path}");
        assert!(body["error"]["message"].as_str().unwrap().starts_with(field), "{path}: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_read_api_is_rate_limited_per_address_and_recovers() {
    let (server, _dir) = filled(3, 0, "", |c| {
        c.http_requests_per_second = 2;
        c.http_request_burst = 4;
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let path = if i % 2 == 0 { "/v1/rooms" } else { "/v1/chat/messages?room=r00001" };
        statuses.push(get(server.addr, path).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|s| s.0).collect();
    assert_eq!(codes[..4], [200; 4], "the burst passes: {codes:?}");
    let refused = statuses.iter().find(|s| s.0 == 429).unwrap_or_else(|| panic!("no 429 in {codes:?}"));
    assert_eq!(refused.3["error"]["code"], "rate_limited");
    let retry = refused.1.lines().find_map(|l| l.strip_prefix("retry-after: ")).expect("Retry-After");
    let retry: u64 = retry.trim().parse().expect("Retry-After is whole seconds");
    assert!((1..=5).contains(&retry), "Retry-After {retry}");
    // Other endpoints are not the read API.
    assert_eq!(get(server.addr, "/healthz").await.0, 200);
    assert_eq!(get(server.addr, "/readyz").await.0, 200);
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(get(server.addr, "/v1/rooms").await.0, 200, "after Retry-After the address is served again");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_history_page_is_capped_in_bytes() {
    // 4,000 four-byte characters: 16 KB a message, 8 MB for 500 of them.
    let crab = "🦀".repeat(4000);
    let (server, _dir) = filled(0, 500, &crab, no_rate_limit).await;
    let (status, _, bytes, page) = get(server.addr, "/v1/chat/messages?room=lobby&limit=500").await;
    assert_eq!(status, 200);
    let data = page["data"].as_array().unwrap();
    assert!(bytes <= 1_100_000, "a page is about 1 MiB at most, got {bytes} bytes");
    assert!(data.len() < 500 && !data.is_empty(), "{} messages", data.len());
    assert_eq!(page["has_more"], true, "a page cut short has more");
    assert_eq!(data.last().unwrap()["seq"], 500, "a latest page keeps the newest");
    eprintln!("latest page of 500 × 4,000 crabs: {} messages, {bytes} bytes", data.len());

    // Paging back with before_seq still reads every message exactly once.
    let mut seqs: BTreeSet<u64> = data.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    let mut requests = 1;
    while let Some(&oldest) = seqs.first().filter(|_| requests < 50) {
        let (_, _, bytes, page) =
            get(server.addr, &format!("/v1/chat/messages?room=lobby&limit=500&before_seq={oldest}")).await;
        assert!(bytes <= 1_100_000, "{bytes} bytes");
        requests += 1;
        let data = page["data"].as_array().unwrap();
        for m in data {
            assert!(seqs.insert(m["seq"].as_u64().unwrap()), "each message once");
        }
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(seqs, (1..=500).collect::<BTreeSet<u64>>(), "every message, in {requests} pages");

    // Forward pages keep the oldest.
    let (_, _, _, page) = get(server.addr, "/v1/chat/messages?room=lobby&after_seq=0&limit=500").await;
    assert_eq!(page["data"][0]["seq"], 1);
    assert_eq!(page["has_more"], true);
    server.stop().await;
}

/// 16 loops of bulk reads (pages of 500 rooms, history pages) on 20,000
/// rooms, and meanwhile WebSocket joins: each join still completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joins_complete_while_bulk_reads_run() {
    const LOOPS: usize = 16;
    const REQUESTS_PER_LOOP: usize = 40;
    let dir = tempfile::tempdir().expect("temp dir");
    fill(dir.path(), 20_000, 500, &"x".repeat(2000)).await;
    let sqlite = SqliteStore::open(dir.path().join("whisper.db")).await.expect("open SQLite");
    let store =
        Arc::new(CountingReads { inner: Arc::new(sqlite), now: AtomicUsize::new(0), most: AtomicUsize::new(0) });
    let server = start_on_store(store.clone(), no_rate_limit).await;
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for l in 0..LOOPS {
        let (stop, done) = (stop.clone(), done.clone());
        loops.push(tokio::spawn(async move {
            let mut after = String::from("r00000");
            for i in 0..REQUESTS_PER_LOOP {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let path = if (l + i) % 2 == 0 {
                    format!("/v1/rooms?limit=500&after={after}")
                } else {
                    "/v1/chat/messages?room=lobby&limit=500".to_owned()
                };
                let (status, _, _, body) = get(addr, &path).await;
                assert!(status == 200 || status == 503, "{path}: {status}");
                if let Some(next) = body["next"].as_str() {
                    after = next.to_owned();
                } else if body.get("rooms").is_some() {
                    after = String::from("r00000");
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Let the loops get going, then join rooms while they run.
    while done.load(Ordering::Relaxed) < LOOPS {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut slowest = Duration::ZERO;
    for i in 0..5 {
        let started = Instant::now();
        let query = format!("room=r{:05}", i * 1000);
        let join = server.join(&query);
        let mut client =
            tokio::time::timeout(Duration::from_secs(20), join).await.expect("a join completes under bulk reads");
        slowest = slowest.max(started.elapsed());
        client.say("still here").await;
    }
    let reads_meanwhile = done.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        l.await.expect("a read loop does not panic");
    }
    eprintln!("slowest of 5 joins: {slowest:?} with {LOOPS} bulk read loops ({reads_meanwhile} reads by then)");
    // The bound itself: however many requests wait, the store never serves
    // more HTTP reads at once than the server lets through (the joins here
    // read no history, and their read-state reads are not counted, so every
    // counted read is an HTTP one).
    let most = store.most.load(Ordering::SeqCst);
    let bound = whisper_server::Config::new(addr, dir.path()).http_concurrent_reads;
    assert!(most <= bound, "{most} store reads at once, {bound} allowed");
    assert!(reads_meanwhile >= LOOPS, "the bulk reads ran: {reads_meanwhile}");
    server.stop().await;
}
