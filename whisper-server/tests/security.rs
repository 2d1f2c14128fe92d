//! What the server must never do and must always do against hostile or
//! broken clients, on the real binary: no message bodies or tokens in its
//! logs (even at debug level), slow handshakes dropped, silent clients
//! closed by the heartbeat, forged and tampered tokens refused.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use support::server::{Client, http_get};

/// The server binary with its log in a file.
struct Logged {
    child: Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Logged {
    async fn start(dir: &Path, args: &[&str]) -> Logged {
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let log = dir.join("server.log");
        let child = Command::new(env!("CARGO_BIN_EXE_whisper-server"))
            .args(["--bind", &addr.to_string()])
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(args)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
            .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
            .spawn()
            .expect("whisper-server starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < deadline, "whisper-server did not listen");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Logged { child, addr, log }
    }

    /// SIGTERM, wait, and the whole log.
    fn stop(mut self) -> String {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn logs_hold_no_message_bodies_and_no_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let server = Logged::start(dir.path(), &[]).await;
    let url = |q: &str| format!("ws://{}/v1/chat/ws?{q}", server.addr);

    let secret = format!("the-body-{}", uuid::Uuid::new_v4().simple());
    let mut ada = Client::connect(&url("room=lobby&name=Ada")).await.unwrap();
    let token = ada.token.clone();
    ada.joined().await;
    ada.send(json!({"type":"messages","data":[{"content":secret,"client_id":"log-1"}]})).await;
    ada.ack().await;
    // A refused frame and a malformed one carry the body too.
    ada.send(json!({"type":"messages","data":[{"content":secret,"user_id":uuid::Uuid::new_v4()}]})).await;
    ada.ack().await;
    ada.send_raw(Message::text(format!("{{\"type\":\"messages\",\"data\":[{{\"content\":\"{secret}\""))).await;
    ada.error().await;
    // The same identity again, with its token; then a tampered and a forged one.
    let mut again = Client::connect(&url(&format!("room=lobby&token={token}"))).await.unwrap();
    again.joined().await;
    // Change the signature's last hex digit to a different one: always
    // writing "0" left the token valid whenever it already ended in "0".
    let last = if token.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &token[..token.len() - 1]);
    assert_ne!(tampered, token);
    let forged = format!("v1.{}.{}", uuid::Uuid::new_v4(), "ab".repeat(32));
    for bad in [&tampered, &forged] {
        let (status, body) = http_get(server.addr, &format!("/v1/chat/ws?token={bad}"), &[]).await;
        assert_eq!(status, 401, "{body}");
        assert!(Client::connect(&url(&format!("token={bad}"))).await.is_err(), "no socket with a bad token");
    }
    let (status, body) = http_get(server.addr, "/v1/chat/messages?room=lobby", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains(&secret), "the message itself was stored");
    drop((ada, again));

    let log = server.stop();
    assert!(log.contains("connected"), "the log is there and at debug level:\n{log}");
    assert!(log.contains("refused: bad token"), "refusals are logged, without the token");
    assert!(!log.contains("WARN"), "a lone node chatting normally has nothing to warn about:\n{log}");
    assert!(!log.contains('\u{1b}'), "a log that is not a terminal has no colour codes:\n{log}");
    for (what, needle) in
        [("message body", &secret), ("token", &token), ("tampered token", &tampered), ("forged token", &forged)]
    {
        assert!(!log.contains(needle.as_str()), "the log holds a {what}:\n{log}");
    }
    // Not even the signature part of the token.
    let signature = token.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "the log holds a token signature");
}

#[tokio::test]
async fn a_slow_handshake_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let server = Logged::start(dir.path(), &["--handshake-timeout-secs", "1"]).await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Half a request line, then nothing.
    tcp.write_all(b"GET /v1/chat/ws HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf)).await;
    let closed = matches!(read, Ok(Ok(_)) | Ok(Err(_)));
    assert!(closed, "the server closed the connection");
    assert!(started.elapsed() < Duration::from_secs(8), "within a few seconds of the 1 s limit");
    // Meanwhile others are served.
    let (status, _) = http_get(server.addr, "/healthz", &[]).await;
    assert_eq!(status, 200);
    server.stop();
}

#[tokio::test]
async fn a_client_that_never_answers_pings_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Logged::start(dir.path(), &["--heartbeat-secs", "1"]).await;
    // A raw socket: a WebSocket library would answer the pings by itself.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /v1/chat/ws?room=lobby HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    // Read everything the server sends until it closes, answering nothing.
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "the server closed the connection within 10 s");
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response") + 4;
    assert!(raw.starts_with(b"HTTP/1.1 101"), "upgraded");
    // Walk the (unmasked) server frames: text frames, pings, then the close.
    let (mut at, mut pings, mut close) = (head_end, 0, None);
    while at + 2 <= raw.len() {
        let opcode = raw[at] & 0x0f;
        let (len, header) = match raw[at + 1] & 0x7f {
            126 => (u16::from_be_bytes([raw[at + 2], raw[at + 3]]) as usize, 4),
            127 => panic!("no frame here is that large"),
            n => (n as usize, 2),
        };
        let payload = &raw[at + header..at + header + len];
        match opcode {
            0x9 => pings += 1,
            0x8 => {
                close = Some((
                    u16::from_be_bytes([payload[0], payload[1]]),
                    String::from_utf8_lossy(&payload[2..]).into_owned(),
                ))
            }
            _ => {}
        }
        at += header + len;
    }
    assert!(pings >= 2, "pinged before giving up: {pings}");
    let (code, reason) = close.expect("a close frame before the end");
    assert_eq!(code, 1001);
    assert_eq!(reason, "no answer to heartbeats");
    server.stop();
}
