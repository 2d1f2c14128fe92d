//! The network edge over real sockets: the global connection cap (503, and
//! the health reserve that still answers), descriptors exhausted in a child
//! process with a tiny RLIMIT_NOFILE, per-IP slots for plain HTTP sockets
//! and IPv6, the 16 KiB request-head cap (431), trusted proxies, the
//! upgrade's HTTP/1.1 and Host checks, and `--metrics-bind`. Every load is
//! a few hundred sockets at most.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite;
use whisper_server::{Config, Server};

use support::process::free_addr;
use support::server::{Client, http_get, start_with};

/// An answer read off the wire: the status, the head and the body.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    /// The `code` of a JSON error body.
    fn code(&self) -> String {
        let json: Value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        json["error"]["code"].as_str().unwrap_or("").to_owned()
    }
}

/// Sends `request` over a fresh connection (from `source`, if given) while
/// reading, and returns what came back. A reset after the answer (the
/// server closed with our bytes unread) still returns the answer; no answer
/// within 10 s fails the test: that is a hang.
async fn raw_from(source: Option<IpAddr>, addr: SocketAddr, request: Vec<u8>) -> Answer {
    let tcp = connect_from(source, addr).await;
    let (mut rx, mut tx) = tcp.into_split();
    let writer = tokio::spawn(async move {
        let _ = tx.write_all(&request).await;
        tx
    });
    let mut raw = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
            if complete(&raw) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.expect("an answer within 10 s, not a hang");
    writer.abort();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status: {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Answer { status, head: head.to_ascii_lowercase(), body: body.to_owned() }
}

/// Whether `raw` holds a whole response (its head and `content-length` bytes).
fn complete(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw).to_ascii_lowercase();
    let Some((head, body)) = text.split_once("\r\n\r\n") else { return false };
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
    length.is_some_and(|n: usize| body.len() >= n)
}

async fn raw(addr: SocketAddr, request: impl Into<Vec<u8>>) -> Answer {
    raw_from(None, addr, request.into()).await
}

/// `GET path` with extra header lines.
fn get(addr: SocketAddr, path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n")
}

async fn connect_from(source: Option<IpAddr>, addr: SocketAddr) -> TcpStream {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() }.expect("socket");
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).expect("bind the source address");
    }
    socket.connect(addr).await.expect("connect")
}

/// `n` connections that never send a byte: slow-header sockets.
async fn idle(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(connect_from(None, addr).await);
    }
    held
}

/// A WebSocket upgrade: the client, or the HTTP status and body it was refused with.
async fn ws(url: &str, headers: &[(&'static str, &str)]) -> Result<Client, (u16, String)> {
    match Client::connect_with(url, headers).await {
        Ok(client) => Ok(client),
        Err(tungstenite::Error::Http(res)) => {
            let body = res.body().as_deref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            Err((res.status().as_u16(), body))
        }
        Err(e) => panic!("the upgrade failed without an answer: {e}"),
    }
}

/// Retries a WebSocket connect until it is let in (the server notices
/// closed sockets on its own time), within 20 s.
async fn eventually_connects(url: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Client::connect(url).await {
            Ok(client) => return client,
            Err(e) => assert!(Instant::now() < deadline, "still refused: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in the metrics"))
}

#[tokio::test]
async fn at_the_connection_cap_users_get_503_and_the_health_reserve_still_answers() {
    let server = start_with(|c| {
        c.max_connections = Some(20);
        c.max_connections_per_ip = 1000;
        c.handshake_timeout_secs = 60;
    })
    .await;
    let url = server.ws_url("room=");
    let held = idle(server.addr, 20).await;

    // The cap is full: a user lands in the reserve, which serves health only.
    let (status, body) = ws(&url, &[]).await.err().expect("refused at the cap");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("too_many_connections"), "{body}");
    let (status, body) = http_get(server.addr, "/healthz", &[]).await;
    assert_eq!(status, 200, "the orchestrator still sees the node: {body}");
    assert_eq!(http_get(server.addr, "/readyz", &[]).await.0, 200);
    let history = raw(server.addr, get(server.addr, "/v1/rooms", "")).await;
    assert_eq!((history.status, history.code().as_str()), (503, "too_many_connections"), "{history:?}");
    assert!(history.head.contains("\r\nretry-after: 5"), "{}", history.head);

    // Reserve full too: the answer is written at accept, without reading.
    let reserve = idle(server.addr, 16).await;
    let full = raw(server.addr, get(server.addr, "/v1/rooms", "")).await;
    assert_eq!((full.status, full.code().as_str()), (503, "too_many_connections"), "{full:?}");
    assert!(full.head.contains("\r\nretry-after: 5"), "{}", full.head);

    // The idle sockets go: users are let in again.
    drop(held);
    drop(reserve);
    let mut user = eventually_connects(&server.ws_url("")).await;
    user.say("in at last").await;
    let (status, metrics) = server.get("/metrics").await;
    assert_eq!(status, 200);
    let refused = metric(metrics.as_str().unwrap_or_default(), "whisper_tcp_refused_total");
    assert!(refused >= 1.0, "refusals are counted: {refused}");
    server.stop().await;
}

#[tokio::test]
async fn plain_http_sockets_count_against_the_per_ip_limit() {
    let server = start_with(|c| {
        c.max_connections_per_ip = 5;
        c.handshake_timeout_secs = 60;
    })
    .await;
    let held = idle(server.addr, 5).await;
    let over = raw(server.addr, get(server.addr, "/healthz", "")).await;
    assert_eq!((over.status, over.code().as_str()), (429, "rate_limited"), "{over:?}");
    assert!(over.head.contains("\r\nretry-after: 5"), "{}", over.head);
    // A WebSocket from the same address is refused the same way.
    let (status, _) = ws(&server.ws_url("room="), &[]).await.err().expect("over the per-IP limit");
    assert_eq!(status, 429);
    // Another address has its own slots.
    let other =
        raw_from(Some("127.0.0.2".parse().unwrap()), server.addr, get(server.addr, "/healthz", "").into()).await;
    assert_eq!(other.status, 200, "{other:?}");
    drop(held);
    eventually_connects(&server.ws_url("room=")).await;
    server.stop().await;
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_address_block() {
    let listener = match tokio::net::TcpListener::bind("[::1]:0").await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("skipped: no IPv6 loopback ({e})");
            return;
        }
    };
    let addr = listener.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(addr, dir.path());
    config.max_connections_per_ip = 2;
    config.handshake_timeout_secs = 60;
    let server = Server::builder(config).build().await.expect("server builds");
    let running = tokio::spawn(server.run(listener, std::future::pending()));
    let held = idle(addr, 2).await;
    let over = raw(addr, get(addr, "/healthz", "")).await;
    assert_eq!((over.status, over.code().as_str()), (429, "rate_limited"), "{over:?}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    while raw(addr, get(addr, "/healthz", "")).await.status != 200 {
        assert!(Instant::now() < deadline, "[::1] never got its slots back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.abort();
}

#[tokio::test]
async fn a_request_head_over_16_kib_gets_431() {
    let server = start_with(|_| {}).await;
    let filler = |n: usize| format!("X-Filler: {}\r\n", "a".repeat(n));
    let fits = raw(server.addr, get(server.addr, "/healthz", &filler(12 * 1024))).await;
    assert_eq!(fits.status, 200, "{fits:?}");
    let over = raw(server.addr, get(server.addr, "/healthz", &filler(20 * 1024))).await;
    assert_eq!(over.status, 431, "{over:?}");
    let huge = raw(server.addr, get(server.addr, "/healthz", &filler(300 * 1024))).await;
    assert_eq!(huge.status, 431, "a 300 KB header is refused: {huge:?}");
    // Many headers adding up over the cap, too.
    let many: String = (0..200).map(|i| format!("X-Filler-{i}: {}\r\n", "b".repeat(100))).collect();
    let many = raw(server.addr, get(server.addr, "/healthz", &many)).await;
    assert_eq!(many.status, 431, "{many:?}");
    assert_eq!(server.get("/healthz").await.0, 200, "the server carries on");
    server.stop().await;
}

#[tokio::test]
async fn a_trusted_proxy_lets_its_forwarded_users_through_and_spoofing_gets_nothing() {
    // Behind a trusted balancer on 127.0.0.1: 300 users, each its own address.
    let server = start_with(|c| {
        c.max_connections_per_ip = 50;
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let url = server.ws_url("room=");
    let mut users = Vec::new();
    for i in 0..300 {
        let client = format!("198.51.{}.{}", i / 200, i % 200 + 1);
        let user = ws(&url, &[("x-forwarded-for", &client)]).await;
        users.push(user.unwrap_or_else(|e| panic!("user {i} ({client}) refused: {e:?}")));
    }
    // One forwarded address still has its limit.
    let mut same = Vec::new();
    for _ in 0..50 {
        same.push(ws(&url, &[("x-forwarded-for", "203.0.113.7")]).await.expect("within its limit"));
    }
    let (status, body) = ws(&url, &[("x-forwarded-for", "203.0.113.7")]).await.err().expect("over its limit");
    assert_eq!(status, 429, "{body}");
    // RFC 7239 works as well.
    ws(&url, &[("forwarded", "for=\"[2001:db8::5]:4711\";proto=https")]).await.expect("Forwarded: for=");
    drop((users, same));
    server.stop().await;

    // The same headers from a peer that is not trusted are ignored.
    let server = start_with(|c| c.max_connections_per_ip = 50).await;
    let url = server.ws_url("room=");
    let (mut admitted, mut limited) = (Vec::new(), 0);
    for i in 0..60 {
        match ws(&url, &[("x-forwarded-for", &format!("198.51.100.{}", i + 1))]).await {
            Ok(user) => admitted.push(user),
            Err((429, _)) => limited += 1,
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
    }
    assert_eq!((admitted.len(), limited), (50, 10), "a spoofed X-Forwarded-For buys no extra slots");
    drop(admitted);
    server.stop().await;
}

#[tokio::test]
async fn an_upgrade_over_http_1_0_or_without_host_is_refused_with_400() {
    let server = start_with(|_| {}).await;
    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let old =
        raw(server.addr, format!("GET /v1/chat/ws?room= HTTP/1.0\r\nHost: {}\r\n{upgrade}\r\n", server.addr)).await;
    assert_eq!((old.status, old.code().as_str()), (400, "invalid_request"), "{old:?}");
    assert!(old.body.contains("HTTP/1.1"), "{}", old.body);
    let hostless = raw(server.addr, format!("GET /v1/chat/ws?room= HTTP/1.1\r\n{upgrade}\r\n")).await;
    assert_eq!((hostless.status, hostless.code().as_str()), (400, "invalid_request"), "{hostless:?}");
    assert!(hostless.body.contains("Host"), "{}", hostless.body);
    // The same upgrade with both is let in.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let request = format!("GET /v1/chat/ws?room= HTTP/1.1\r\nHost: {}\r\n{upgrade}\r\n", server.addr);
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut status = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), tcp.read_exact(&mut status)).await.unwrap().unwrap();
    assert_eq!(&status, b"HTTP/1.1 101");
    server.stop().await;
}

#[tokio::test]
async fn metrics_bind_serves_metrics_there_and_the_main_listener_404s_them() {
    let metrics_addr = free_addr();
    let server = start_with(|c| c.metrics_bind = Some(metrics_addr)).await;
    let (status, body) = server.get("/metrics").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(metrics_addr).await.is_err() {
        assert!(Instant::now() < deadline, "the metrics listener never came up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, text) = http_get(metrics_addr, "/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(text.contains("whisper_tcp_connections"), "{text}");
    assert_eq!(http_get(metrics_addr, "/healthz", &[]).await.0, 404, "the metrics address serves metrics only");
    assert_eq!(server.get("/healthz").await.0, 200);
    server.stop().await;
}

/// The server binary under `ulimit -n <nofile>` (soft and hard, so it
/// cannot raise it), its log in a file.
struct Limited {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Limited {
    async fn start(dir: &Path, nofile: u32, args: &[&str]) -> Limited {
        let addr = free_addr();
        let log = dir.join("server.log");
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(r#"ulimit -S -n {nofile} && ulimit -H -n {nofile} && exec "$0" "$@""#))
            .arg(env!("CARGO_BIN_EXE_whisper-server"))
            .args(["--bind", &addr.to_string(), "--handshake-timeout-secs", "60"])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(args)
            .env("RUST_LOG", "warn,whisper_server=info")
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
            .spawn()
            .expect("whisper-server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(addr).await.is_ok() && http_get(addr, "/readyz", &[]).await.0 == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "whisper-server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Limited { child, addr, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn with_descriptors_exhausted_users_get_503_not_silence() {
    let _ = rlimit::increase_nofile_limit(4096);
    let dir = tempfile::tempdir().unwrap();
    // 160 descriptors: the derived cap is 16, plus 16 in the reserve.
    let server = Limited::start(dir.path(), 160, &["--max-connections-per-ip", "1000"]).await;
    assert!(server.log().contains("max_connections=16"), "{}", server.log());
    // More idle sockets than the process has descriptors.
    let attackers = idle(server.addr, 200).await;
    for user in 0..12 {
        let answer = raw(server.addr, get(server.addr, "/v1/rooms", "")).await;
        assert_eq!((answer.status, answer.code().as_str()), (503, "too_many_connections"), "user {user}: {answer:?}");
    }
    drop(attackers);
    let url = format!("ws://{}/v1/chat/ws", server.addr);
    let mut user = eventually_connects(&url).await;
    user.say("the idle sockets are gone").await;
    assert!(!server.log().contains("Too many open files"), "the cap kept the server under its limit");
}

#[tokio::test]
async fn out_of_descriptors_the_accept_loop_backs_off_and_logs_once() {
    let _ = rlimit::increase_nofile_limit(4096);
    let dir = tempfile::tempdir().unwrap();
    // A cap above the descriptor limit: accepts fail instead.
    let server =
        Limited::start(dir.path(), 160, &["--max-connections", "1000", "--max-connections-per-ip", "1000"]).await;
    let attackers = idle(server.addr, 200).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.log().contains("backing off") {
        assert!(Instant::now() < deadline, "no accept failed: {}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Accepts keep failing meanwhile; the log does not grow with them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(attackers);
    let url = format!("ws://{}/v1/chat/ws", server.addr);
    let mut user = eventually_connects(&url).await;
    user.say("accepting again").await;
    let log = server.log();
    let failures = log.lines().filter(|l| l.contains("accept failed")).count();
    assert!((1..=2).contains(&failures), "one warning per backoff episode, got {failures}:\n{log}");
    assert!(log.contains("accepting again"), "{log}");
}

#[tokio::test]
async fn the_room_may_be_named_in_the_path() {
    let server = start_with(|_| {}).await;
    let base = format!("ws://{}/v1/chat/ws", server.addr);
    // Seed 003's form: `/v1/chat/ws/<room>`, the `/` of a room as is or escaped.
    for path in ["/acme%2Fgeneral", "/acme/general", "/acme/general?room=acme%2Fgeneral"] {
        let mut client = ws(&format!("{base}{path}"), &[]).await.unwrap_or_else(|e| panic!("{path}: {e:?}"));
        let joined = client
            .next_where(|f| match f {
                whisper_core::codec::ServerFrame::Joined { room, .. } => Some(room),
                _ => None,
            })
            .await;
        assert_eq!(joined.as_str(), "acme/general", "{path}");
    }
    for (path, says) in [
        ("/lobby?room=other", "named twice"),
        ("/Not%20A%20Room", "room: "),
        ("/", "the path names no room"),
        ("/bad%zzescape", "malformed percent-escape"),
    ] {
        let (status, body) = ws(&format!("{base}{path}"), &[]).await.map(|_| "upgraded").unwrap_err();
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!((status, &body["error"]["code"]), (400, &Value::from("invalid_request")), "{path}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(says), "{path}: {body}");
    }
}
