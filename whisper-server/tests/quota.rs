//! Storage quotas through real sockets and SQLite (protocol.md §10): write
//! budgets per user and per address, the room-creation cap, and `/readyz`
//! when the store can no longer write.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::MaybeTlsStream;
use whisper_core::codec::{AckStatus, ErrorCode};

use support::server::{Client, TestServer, start_with};

/// A frame of one message of `bytes` bytes into `room`.
fn message(room: &str, bytes: usize) -> Value {
    json!({"type": "messages", "data": [{"room": room, "content": "x".repeat(bytes)}]})
}

/// How many messages the room's history holds, over HTTP.
async fn stored(server: &TestServer, room: &str) -> usize {
    let (status, body) = server.get(&format!("/v1/chat/messages?room={room}&limit=500")).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().expect("data").len()
}

/// Connects from `local` (any address of 127/8 is this host), so that a test
/// can be two clients on two addresses.
async fn connect_from(server: &TestServer, local: &str, query: &str) -> Client {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(format!("{local}:0").parse().expect("address")).expect("bind");
    let tcp = socket.connect(server.addr).await.expect("connect");
    let (ws, _) = tokio_tungstenite::client_async(server.ws_url(query), MaybeTlsStream::Plain(tcp))
        .await
        .expect("websocket handshake");
    Client::from_socket(ws).await.expect("welcome")
}

/// Sends `frame` and returns the ack's status and the refusal, if any.
async fn post(client: &mut Client, frame: Value) -> (AckStatus, Option<whisper_core::codec::Refusal>) {
    client.send(frame).await;
    let (status, _, error) = client.ack().await;
    (status, error)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_past_its_minute_budget_is_refused_and_nothing_is_stored() {
    let server = start_with(|c| {
        c.user_write_bytes_per_minute = 1000;
        c.address_write_bytes_per_minute = 0;
        c.quota_minute_secs = 1;
    })
    .await;
    let mut ada = server.join("room=budget").await;
    for _ in 0..2 {
        assert_eq!(post(&mut ada, message("budget", 400)).await.0, AckStatus::Success);
    }
    let (status, error) = post(&mut ada, message("budget", 400)).await;
    assert_eq!(status, AckStatus::Error);
    let error = error.expect("a refusal");
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert!(error.message.contains("per minute per user"), "says which budget: {}", error.message);
    assert!(error.retry_after_ms.is_some_and(|ms| ms > 0), "says when to retry");
    assert_eq!(stored(&server, "budget").await, 2, "the refused frame stored nothing");

    // Another user (on the same address, whose budget is off) is unaffected.
    let mut bob = server.join("room=budget").await;
    assert_eq!(post(&mut bob, message("budget", 400)).await.0, AckStatus::Success);

    // Once the window is over the user writes again (retrying, as a client
    // told `retry_after_ms` would; no assumption on how long it takes).
    let mut accepted = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if post(&mut ada, message("budget", 400)).await.0 == AckStatus::Success {
            accepted = true;
            break;
        }
    }
    assert!(accepted, "the budget comes back after its window");
    assert_eq!(stored(&server, "budget").await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_of_one_address_share_its_budget_and_another_address_has_its_own() {
    let server = start_with(|c| {
        c.user_write_bytes_per_minute = 0;
        c.address_write_bytes_per_minute = 1000;
    })
    .await;
    let mut ada = connect_from(&server, "127.0.0.1", "room=shared").await;
    let mut bob = connect_from(&server, "127.0.0.1", "room=shared").await;
    let mut eve = connect_from(&server, "127.0.0.2", "room=shared").await;
    assert_ne!(ada.user_id, bob.user_id);
    assert_eq!(post(&mut ada, message("shared", 600)).await.0, AckStatus::Success);
    let (status, error) = post(&mut bob, message("shared", 600)).await;
    assert_eq!(status, AckStatus::Error, "bob's address already spent 600 of 1000 bytes");
    let error = error.expect("a refusal");
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert!(error.message.contains("per address"), "{}", error.message);
    assert_eq!(post(&mut eve, message("shared", 600)).await.0, AckStatus::Success, "another address: its own budget");
    assert_eq!(post(&mut bob, message("shared", 400)).await.0, AckStatus::Success, "what is left of the budget");
    assert_eq!(stored(&server, "shared").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_room_creation_cap_refuses_one_more_room_and_keeps_the_old_ones_open() {
    let server = start_with(|c| c.user_rooms_per_hour = 3).await;
    // `room=` joins nothing: every message names its room.
    let mut ada = server.connect("room=").await;
    for room in ["r1", "r2", "r3"] {
        assert_eq!(post(&mut ada, message(room, 10)).await.0, AckStatus::Success, "room {room}");
    }
    let (status, error) = post(&mut ada, message("r4", 10)).await;
    assert_eq!(status, AckStatus::Error);
    let error = error.expect("a refusal");
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert!(error.message.contains("3 new rooms per hour per user"), "{}", error.message);
    assert_eq!(stored(&server, "r4").await, 0, "no room r4");

    // A frame that would create a room is refused whole.
    let mixed = json!({"type": "messages", "data": [{"room": "r1", "content": "a"}, {"room": "r5", "content": "b"}]});
    assert_eq!(post(&mut ada, mixed).await.0, AckStatus::Error);
    assert_eq!(stored(&server, "r1").await, 1, "nothing of the refused frame was stored");

    // Rooms that exist take messages, from their creator and from others.
    assert_eq!(post(&mut ada, message("r1", 10)).await.0, AckStatus::Success);
    let mut bob = server.connect("room=r2").await;
    bob.joined().await;
    assert_eq!(post(&mut bob, message("r2", 10)).await.0, AckStatus::Success);
    let (status, body) = server.get("/v1/rooms").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["rooms"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["r1", "r2", "r3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_once_the_data_dir_is_gone() {
    let server = start_with(|_| {}).await;
    assert_eq!(server.get("/readyz").await.0, 200, "a healthy server is ready");
    assert_eq!(server.get("/readyz").await.0, 200, "and stays ready");
    std::fs::remove_dir_all(&server.data_dir).expect("remove the data dir");
    let (status, body) = server.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "storage_unavailable");
    assert_eq!(head(server.addr, "/readyz").await.0, 503, "HEAD answers like GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_on_the_probes_answers_like_get_with_no_body() {
    let server = start_with(|_| {}).await;
    for path in ["/readyz", "/healthz"] {
        let (status, head) = head(server.addr, path).await;
        assert_eq!(status, 200, "{path}: {head}");
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("content-type: application/json"), "{path} is not the web page: {head}");
    }
}

/// A HEAD request; the status and everything the server sent.
async fn head(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let req = format!("HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let (_, body) = text.split_once("\r\n\r\n").expect("end of headers");
    assert!(body.is_empty(), "HEAD has no body: {body:?}");
    (status, text)
}

/// Finding 9's flood, bounded: eight users on one address send 39 KB frames
/// as fast as they are acked (the per-connection message rate lifted, the
/// budgets at their defaults). The address stores at most its 4 MiB per
/// minute, and every sender is told `rate_limited`; without budgets this
/// loop would store its whole 62 MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_stores_at_most_its_budget() {
    const CONTENT: usize = 3900;
    let server = start_with(|c| {
        c.messages_per_second = 100_000;
        c.message_burst = 100_000;
    })
    .await;
    let budget = whisper_server::Config::DEFAULT_ADDRESS_WRITE_BYTES_PER_MINUTE;
    let started = std::time::Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let mut client = server.join("room=flood").await;
        senders.spawn(async move {
            let frame = json!({"type": "messages", "data": vec![json!({"content": "x".repeat(CONTENT)}); 10]});
            let mut stored = 0u64;
            for _ in 0..200 {
                match post(&mut client, frame.clone()).await {
                    (AckStatus::Success, _) => stored += 10 * CONTENT as u64,
                    (_, error) => {
                        assert_eq!(error.expect("a refusal").code, ErrorCode::RateLimited);
                        return (stored, true);
                    }
                }
            }
            (stored, false)
        });
    }
    let mut acked = 0;
    while let Some(joined) = senders.join_next().await {
        let (stored, refused) = joined.expect("sender");
        assert!(refused, "every sender meets a budget");
        acked += stored;
    }
    let (_, rooms) = server.get("/v1/rooms").await;
    let messages = rooms["rooms"][0]["last_seq"].as_u64().expect("the flood room");
    let bytes = messages * CONTENT as u64;
    eprintln!("flood: {bytes} bytes stored in {:?}, budget {budget}", started.elapsed());
    assert_eq!(bytes, acked, "what is stored is what was acked");
    assert!(bytes <= budget, "{bytes} bytes stored, over the address's {budget} per minute");
}
