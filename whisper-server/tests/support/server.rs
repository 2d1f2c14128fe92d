//! A real server on 127.0.0.1:0 with a temporary data directory, and real
//! WebSocket and HTTP clients for it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use whisper_core::codec::{AckStatus, PresenceUser, Refusal, ServerFrame};
use whisper_core::model::{Message as ChatMessage, MessageId, UserId};
use whisper_core::store::Store;
use whisper_server::{Config, Server};

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), whisper_server::Error>>>,
    _dir: Option<Arc<tempfile::TempDir>>,
}

/// Starts a server on SQLite in a fresh temporary directory.
pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

/// Starts a server on SQLite in a fresh temporary directory, with `tweak`
/// applied to its configuration.
pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut server = start_in(dir.path(), tweak).await;
    server._dir = Some(dir);
    server
}

/// Starts a server on the data in `data_dir` (kept by the caller).
pub async fn start_in(data_dir: &Path, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = Config::new(addr, data_dir);
    tweak(&mut config);
    let server = Server::builder(config).build().await.expect("server builds");
    run(server, listener, data_dir)
}

/// Starts a server on SQLite in a fresh temporary directory, built by
/// `build` from its builder (a policy, say).
pub async fn start_built(
    build: impl FnOnce(whisper_server::ServerBuilder) -> whisper_server::ServerBuilder,
) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = build(Server::builder(Config::new(addr, dir.path()))).build().await.expect("server builds");
    let mut running = run(server, listener, dir.path());
    running._dir = Some(dir);
    running
}

/// Starts a server on a store of the test's choosing.
pub async fn start_on_store(store: Arc<dyn Store>, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = Config::new(addr, dir.path());
    tweak(&mut config);
    let server = Server::builder(config).store(store).build().await.expect("server builds");
    let mut running = run(server, listener, dir.path());
    running._dir = Some(dir);
    running
}

fn run(server: Server, listener: tokio::net::TcpListener, data_dir: &Path) -> TestServer {
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(server.run(listener, async {
        let _ = stopped.await;
    }));
    TestServer { addr, data_dir: data_dir.to_path_buf(), stop: Some(stop), handle: Some(handle), _dir: None }
}

impl TestServer {
    /// `ws://…/v1/chat/ws?<query>`.
    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/v1/chat/ws?{query}", self.addr)
    }

    /// Connects a WebSocket client and reads its `welcome`.
    pub async fn connect(&self, query: &str) -> Client {
        Client::connect(&self.ws_url(query)).await.expect("websocket connects")
    }

    /// Connects and waits until the client has joined the room of `query`.
    pub async fn join(&self, query: &str) -> Client {
        let mut c = self.connect(query).await;
        c.joined().await;
        c
    }

    /// A GET request; the status and the body parsed as JSON (or as a string).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (status, body) = http_get(self.addr, path, &[]).await;
        let json = serde_json::from_str(&body).unwrap_or(Value::String(body));
        (status, json)
    }

    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let result = tokio::time::timeout(Duration::from_secs(15), handle).await;
            result.expect("the server stops within 15 s").expect("no panic").expect("run returns Ok");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A plain HTTP/1.1 GET over a fresh connection.
pub async fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// An HTTP/1.1 answer: status, headers (lower-cased names) and body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The body as JSON (`null` when empty).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The error code of a JSON error.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// Any HTTP/1.1 request over a fresh connection, with a JSON body if given.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned())).collect();
    Answer { status, headers, body: body.to_owned() }
}

/// A WebSocket client speaking the chat protocol.
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub user_id: UserId,
    pub token: String,
    /// The presence list the client would show, per room: the last
    /// `presence` frame with the `presence_changes` since applied.
    pub presence: std::collections::HashMap<String, Vec<PresenceUser>>,
}

impl Client {
    /// Connects and reads `welcome`.
    pub async fn connect(url: &str) -> Result<Client, tungstenite::Error> {
        Client::connect_with(url, &[]).await
    }

    /// Connects with extra request headers (e.g. Origin).
    pub async fn connect_with(url: &str, headers: &[(&'static str, &str)]) -> Result<Client, tungstenite::Error> {
        let mut request = url.into_client_request()?;
        for (k, v) in headers {
            request.headers_mut().insert(*k, v.parse().expect("header value"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(request).await?;
        Client::from_socket(ws).await
    }

    /// Wraps a socket opened by other means, and reads `welcome`.
    pub async fn from_socket(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Result<Client, tungstenite::Error> {
        let mut client = Client { ws, user_id: UserId::random(), token: String::new(), presence: Default::default() };
        match client.next().await {
            ServerFrame::Welcome { user_id, token, .. } => {
                client.user_id = user_id;
                client.token = token.into_owned();
            }
            other => panic!("expected welcome, got {other:?}"),
        }
        Ok(client)
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws.send(Message::text(frame.to_string())).await.expect("send");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// The next server frame (pings are answered by tungstenite and skipped).
    pub async fn next(&mut self) -> ServerFrame<'static> {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a frame within 10 s")
                .expect("the connection is open")
                .expect("a valid frame");
            match msg {
                Message::Text(text) => {
                    let frame = ServerFrame::decode(&text).expect("a protocol frame");
                    self.track_presence(&frame);
                    return frame;
                }
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Applies a presence frame to [`Client::presence`].
    fn track_presence(&mut self, frame: &ServerFrame<'_>) {
        match frame {
            ServerFrame::Presence { room, users } => {
                self.presence.insert(room.to_string(), users.to_vec());
            }
            ServerFrame::PresenceChanges { room, joined, left } => {
                let list = self.presence.entry(room.to_string()).or_default();
                list.retain(|u| !left.contains(&u.user_id) && !joined.iter().any(|j| j.user_id == u.user_id));
                list.extend(joined.iter().cloned());
                list.sort_by(|a, b| {
                    let key = |u: &PresenceUser| (u.name.as_str().to_lowercase(), u.user_id);
                    key(a).cmp(&key(b))
                });
            }
            _ => {}
        }
    }

    /// The names the client shows online in `room`, in list order.
    pub fn online(&self, room: &str) -> Vec<String> {
        self.presence.get(room).map(|l| l.iter().map(|u| u.name.to_string()).collect()).unwrap_or_default()
    }

    pub async fn next_where<T>(&mut self, mut pick: impl FnMut(ServerFrame<'static>) -> Option<T>) -> T {
        loop {
            if let Some(t) = pick(self.next().await) {
                return t;
            }
        }
    }

    pub async fn joined(&mut self) -> (u64, bool) {
        self.next_where(|f| match f {
            ServerFrame::Joined { seq, recovered, .. } => Some((seq.0, recovered)),
            _ => None,
        })
        .await
    }

    pub async fn ack(&mut self) -> (AckStatus, Vec<MessageId>, Option<Refusal>) {
        self.next_where(|f| match f {
            ServerFrame::MessageIds { status, message_ids, error, .. } => Some((status, message_ids, error)),
            _ => None,
        })
        .await
    }

    pub async fn error(&mut self) -> Refusal {
        self.next_where(|f| match f {
            ServerFrame::Error(r) => Some(r),
            _ => None,
        })
        .await
    }

    pub async fn messages(&mut self) -> Vec<ChatMessage> {
        self.next_where(|f| match f {
            ServerFrame::Messages { data, .. } => Some(data.into_owned()),
            _ => None,
        })
        .await
    }

    /// The next `ack` (of an `edit`, `delete` or `react`): status and seq.
    pub async fn event_ack(&mut self) -> (AckStatus, Option<u64>, Option<Refusal>) {
        self.next_where(|f| match f {
            ServerFrame::Ack { status, seq, error, .. } => Some((status, seq.map(|s| s.0), error)),
            _ => None,
        })
        .await
    }

    /// The next `events` frame's events.
    pub async fn events(&mut self) -> Vec<whisper_core::model::Event> {
        self.next_where(|f| match f {
            ServerFrame::Events { data, .. } => Some(data.into_owned()),
            _ => None,
        })
        .await
    }

    /// Sends one message and returns its id once acked.
    pub async fn say(&mut self, content: &str) -> MessageId {
        self.send(serde_json::json!({"type":"messages","data":[{"content":content}]})).await;
        let (status, ids, error) = self.ack().await;
        assert_eq!(status, AckStatus::Success, "{error:?}");
        ids[0]
    }

    /// Reads until the server closes; returns the close frame (None if the
    /// connection ended without one).
    pub async fn closed(&mut self) -> Option<CloseFrame> {
        loop {
            match tokio::time::timeout(Duration::from_secs(20), self.ws.next()).await.expect("closed within 20 s") {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}
