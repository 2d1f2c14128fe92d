//! An axum application that hosts a WhisperChat room on its own route: axum
//! answers the WebSocket upgrade at `/chat` and hands the socket to a
//! whisper-core session, with the in-memory store. The rest is an ordinary
//! axum app (`GET /`, `GET /healthz`).
//!
//! The glue is 28 lines of code (as rustfmt lays them out, not counting
//! blank lines, comments and `use`s), between the two `glue` marks below:
//! the route's query and handler, and `run_session`, which adapts axum's
//! `WebSocket` to the session's `Inbound` stream and `Outgoing` sink.
//!
//! Each connection is a new user with a random id, in the `lobby`;
//! `/chat?name=Ada` sets its display name. This app issues no identity
//! tokens (`welcome` carries an empty one), so a reconnect is a new user; see
//! whisper-server for signed tokens, Origin checks and graceful shutdown.
//!
//! axum 0.8's WebSocket is tokio-tungstenite 0.29, one major behind the
//! workspace's 0.30: both are built, which costs build time only.
//!
//! Run with: `cargo run -p whisper-examples --example axum_room [ADDR]`
//! (or `AXUM_ROOM_ADDR=…`; default `127.0.0.1:3000`), then e.g.
//! `websocat 'ws://127.0.0.1:3000/chat?name=Ada'`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt, future};
use whisper_core::Chat;
use whisper_core::model::{DisplayName, PrincipalKind, RoomName, UserId};
use whisper_core::session::{self, Connection, Inbound, Outgoing};
use whisper_core::store::MemoryStore;

/// The app: its own pages, and the chat at `/chat`.
pub(crate) fn app(chat: Chat) -> Router {
    Router::new()
        .route("/", get(|| async { "Hello from axum; WhisperChat is at ws://…/chat?name=you\n" }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/chat", get(chat_socket))
        .with_state(chat)
}

// ---- glue ----

/// `/chat?name=Ada`: the display name to start with (else a guest name); an
/// invalid one is refused with 400 by `Query`, before the upgrade.
#[derive(serde::Deserialize)]
struct ChatQuery {
    name: Option<DisplayName>,
}

async fn chat_socket(ws: WebSocketUpgrade, Query(query): Query<ChatQuery>, State(chat): State<Chat>) -> Response {
    let conn = Connection {
        user_id: UserId::random(),
        kind: PrincipalKind::Guest,
        session: None,
        token: None,
        name: query.name,
        room: Some(RoomName::lobby()),
        address: None,
    };
    // The session closes frames over the limit with 1009; twice the limit
    // bounds what axum buffers (a bigger one just drops the connection).
    ws.max_message_size(2 * chat.limits().max_frame_bytes).on_upgrade(move |socket| run_session(socket, chat, conn))
}

/// axum's `WebSocket` as the session's stream of `Inbound` and sink of `Outgoing`.
async fn run_session(socket: WebSocket, chat: Chat, conn: Connection) {
    let (sink, stream) = socket.split();
    // A read error ends the session; axum answers pings, and a close frame
    // is followed by the end of the stream.
    let inbound = stream.take_while(|read| future::ready(read.is_ok())).filter_map(|read| {
        future::ready(match read {
            Ok(Message::Text(text)) => Some(Inbound::Text(text.to_string())),
            Ok(Message::Binary(_)) => Some(Inbound::Binary),
            Ok(Message::Pong(_)) => Some(Inbound::Pong),
            _ => None,
        })
    });
    let outgoing = sink.with(|out| {
        future::ok::<_, axum::Error>(match out {
            Outgoing::Frame(frame) => Message::Text(frame.to_text().into()),
            Outgoing::Ping => Message::Ping(Bytes::new()),
            Outgoing::Close { code, reason } => Message::Close(Some(CloseFrame { code, reason: (&*reason).into() })),
        })
    });
    session::run(chat, conn, inbound, outgoing, future::pending()).await;
}

// ---- end of glue ----

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).or_else(|| std::env::var("AXUM_ROOM_ADDR").ok());
    let listener = tokio::net::TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:3000")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let chat = Chat::builder(Arc::new(MemoryStore::new())).build();
    axum::serve(listener, app(chat)).await?;
    Ok(())
}
