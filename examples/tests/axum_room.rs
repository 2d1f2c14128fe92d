//! The axum example's app on a real socket: two WebSocket clients chat
//! through its `/chat` route, the app's own sign-in and rules hold (a
//! private room, a word filter), its shutdown closes upgraded sockets, and
//! its own routes still answer.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

// An example cannot be imported: the test compiles its source as a module.
#[path = "../examples/axum_room.rs"]
#[allow(dead_code)] // its `main`
mod axum_room;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for any one frame: a hang fails the test instead of stalling it.
const WAIT: Duration = Duration::from_secs(10);

/// Serves the example's app on a free loopback port; beginning the returned
/// shutdown shuts it down.
async fn start_app() -> (SocketAddr, whisper_axum::Shutdown) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let users = axum_room::demo_users();
    let shutdown = whisper_axum::Shutdown::new();
    let app = axum_room::app(axum_room::chat_for(&users), users, shutdown.clone());
    let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown.signal());
    tokio::spawn(async move { serve.await });
    (addr, shutdown)
}

async fn start() -> SocketAddr {
    start_app().await.0
}

async fn connect(addr: SocketAddr, query: &str) -> Client {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/chat{query}")).await.expect("upgrade");
    ws
}

/// The next text frame, as JSON.
async fn next(ws: &mut Client) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).expect("JSON"),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Reads until a frame of `kind` that `accept` takes.
async fn next_of(ws: &mut Client, kind: &str, accept: impl Fn(&Value) -> bool) -> Value {
    loop {
        let frame = next(ws).await;
        if frame["type"] == kind && accept(&frame) {
            return frame;
        }
    }
}

/// Reads `presence` and `presence_changes` frames of the lobby until `n`
/// users are online; returns them, user id to name.
async fn online_until(ws: &mut Client, n: usize) -> std::collections::HashMap<String, String> {
    let mut online = std::collections::HashMap::new();
    let entry = |u: &Value| (u["user_id"].as_str().unwrap().to_string(), u["name"].as_str().unwrap().to_string());
    while online.len() != n {
        let frame = next(ws).await;
        match frame["type"].as_str() {
            Some("presence") => online = frame["users"].as_array().expect("users").iter().map(entry).collect(),
            Some("presence_changes") => {
                for id in frame["left"].as_array().expect("left") {
                    online.remove(id.as_str().unwrap());
                }
                online.extend(frame["joined"].as_array().expect("joined").iter().map(entry));
            }
            _ => continue,
        }
        assert_eq!(frame["room"], "lobby");
    }
    online
}

/// The close code the server ends with, after any frames before it.
async fn close_code(ws: &mut Client) -> CloseCode {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a close in time") {
            Some(Ok(Message::Close(Some(close)))) => return close.code,
            Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

async fn send(ws: &mut Client, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.expect("send");
}

/// A plain HTTP/1.1 GET: the status line and the body.
async fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tokio::time::timeout(WAIT, tcp.read_to_string(&mut response)).await.expect("in time").expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete response");
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

#[tokio::test]
async fn two_clients_chat_through_the_axum_route() {
    let addr = start().await;
    let mut ada = connect(addr, "?name=Ada").await;
    let mut bob = connect(addr, "").await;

    let ada_welcome = next(&mut ada).await;
    assert_eq!(ada_welcome["type"], "welcome", "the first frame: {ada_welcome}");
    let ada_id = ada_welcome["user_id"].as_str().expect("a user id").to_string();
    let bob_welcome = next(&mut bob).await;
    assert_eq!(bob_welcome["type"], "welcome", "the first frame: {bob_welcome}");
    let bob_id = bob_welcome["user_id"].as_str().expect("a user id").to_string();
    assert_ne!(ada_id, bob_id, "each connection is its own user");

    // Both see both in the lobby, Ada under the name from her query: the
    // one who joined last from the full list, the other from the change.
    for ws in [&mut ada, &mut bob] {
        let online = online_until(ws, 2).await;
        assert_eq!(online.get(ada_id.as_str()).map(String::as_str), Some("Ada"), "Ada is online: {online:?}");
        assert!(online.contains_key(bob_id.as_str()), "Bob is online: {online:?}");
    }

    // Ada's message is acked to her and delivered to Bob as the room's first.
    send(&mut ada, json!({"type": "messages", "data": [{"content": "Hello, Bob!", "client_id": "ada-1"}]})).await;
    let ack = next_of(&mut ada, "message_ids", |_| true).await;
    assert_eq!(ack["status"], "success", "{ack}");
    assert_eq!(ack["client_ids"], json!(["ada-1"]));
    let ids = ack["message_ids"].as_array().expect("ids");
    assert_eq!(ids.len(), 1);
    let delivered = next_of(&mut bob, "messages", |_| true).await;
    let message = &delivered["data"][0];
    assert_eq!(message["seq"], 1, "{delivered}");
    assert_eq!(message["id"], ids[0]);
    assert_eq!(message["user_id"], ada_id.as_str());
    assert_eq!(message["name"], "Ada");
    assert_eq!(message["content"], "Hello, Bob!");
    assert_eq!(message["room"], "lobby");

    // A bad frame is refused with an error frame; the socket stays usable.
    ada.send(Message::text("{not json")).await.expect("send");
    let error = next_of(&mut ada, "error", |_| true).await;
    assert_eq!(error["code"], "invalid_frame", "{error}");
    send(&mut bob, json!({"type": "messages", "data": [{"content": "Hi Ada"}]})).await;
    let reply = next_of(&mut ada, "messages", |f| f["data"][0]["user_id"] == bob_id.as_str()).await;
    assert_eq!(reply["data"][0]["seq"], 2, "{reply}");
    assert_eq!(reply["data"][0]["content"], "Hi Ada");

    // Binary frames and frames over the limit close with their codes.
    ada.send(Message::binary(vec![1, 2, 3])).await.expect("send");
    assert_eq!(close_code(&mut ada).await, CloseCode::Unsupported);
    let too_big = json!({"type": "messages", "data": [{"content": "x".repeat(70 * 1024)}]});
    send(&mut bob, too_big).await;
    assert_eq!(close_code(&mut bob).await, CloseCode::Size);
}

#[tokio::test]
async fn the_app_serves_its_own_routes_beside_the_chat() {
    let addr = start().await;
    let (status, body) = http_get(addr, "/").await;
    assert!(status.ends_with("200 OK"), "{status}");
    assert!(body.contains("/chat"), "the home page points at the chat: {body}");
    let (status, body) = http_get(addr, "/healthz").await;
    assert!(status.ends_with("200 OK"), "{status}");
    assert_eq!(body, "ok\n");
    let (status, _) = http_get(addr, "/chat").await;
    assert!(status.starts_with("HTTP/1.1 4"), "a plain GET of the chat is no upgrade: {status}");

    // A name the chat refuses is refused before the upgrade.
    let long_name = "a".repeat(40);
    let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/chat?name={long_name}")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("expected HTTP 400, got {other:?}"),
    }
}

#[tokio::test]
async fn the_apps_own_sign_in_and_rules_hold() {
    let addr = start().await;
    // The app's user Ada (staff) joins `private` under the app's name for her.
    let mut ada = connect(addr, "?token=ada-secret&room=private&name=Mallory").await;
    assert_eq!(next(&mut ada).await["type"], "welcome");
    let joined = next_of(&mut ada, "joined", |_| true).await;
    assert_eq!(joined["room"], "private");
    // Bob is a user but not staff; a guest is neither: both are refused.
    for query in ["?token=bob-secret&room=private", "?room=private"] {
        let mut ws = connect(addr, query).await;
        let refusal = next_of(&mut ws, "error", |_| true).await;
        assert_eq!(
            (refusal["code"].as_str(), refusal["room"].as_str()),
            (Some("forbidden"), Some("private")),
            "{query}"
        );
    }
    // An unknown token is refused before the upgrade.
    match tokio_tungstenite::connect_async(format!("ws://{addr}/chat?token=forged")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("expected HTTP 401, got {other:?}"),
    }
    // The word filter rewrites what is stored and delivered; the app's
    // user cannot take another name.
    send(&mut ada, json!({"type": "messages", "data": [{"content": "darn it"}]})).await;
    let message = next_of(&mut ada, "messages", |_| true).await;
    assert_eq!(
        (message["data"][0]["content"].as_str(), message["data"][0]["name"].as_str()),
        (Some("**** it"), Some("Ada"))
    );
    // Under the app's own id for her, not one it had to make up.
    assert_eq!(message["data"][0]["external_id"], "user:1");
    send(&mut ada, json!({"type": "profile", "name": "Eve"})).await;
    assert_eq!(next_of(&mut ada, "error", |_| true).await["code"], "forbidden");
}

#[tokio::test]
async fn shutting_the_app_down_closes_upgraded_sockets() {
    let (addr, shutdown) = start_app().await;
    let mut ws = connect(addr, "").await;
    assert_eq!(next(&mut ws).await["type"], "welcome");
    shutdown.begin();
    assert_eq!(close_code(&mut ws).await, CloseCode::Away);
    // And a new upgrade is refused while it stops.
    match tokio_tungstenite::connect_async(format!("ws://{addr}/chat")).await {
        Err(_) => {}
        Ok(_) => panic!("an upgrade after the shutdown began"),
    }
}
