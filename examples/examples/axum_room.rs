//! An axum application that hosts WhisperChat rooms on its own route, with
//! its own sign-in and its own rules: axum answers the WebSocket upgrade at
//! `/chat` and hands the socket to a whisper-core session, on the in-memory
//! store. The rest is an ordinary axum app (`GET /`, `GET /healthz`).
//!
//! - **The app's identity.** `Authorization: Bearer <token>` (or `?token=`,
//!   which browsers can send) names one of the app's own users (here a
//!   fixed table, [`demo_users`]); the session is told who it is, with the
//!   app's name for it, as an `External` principal (it cannot rename
//!   itself). No token is a guest; an unknown one is 401 before the upgrade.
//! - **The app's rules.** [`House`], a [`Policy`]: the room `private` is for
//!   the app's staff only, and a word filter stars out "darn" everywhere.
//! - **Graceful shutdown.** Upgraded sockets outlive axum's own graceful
//!   shutdown, so each session is given the app's shutdown signal and
//!   closes with 1001 when it fires.
//!
//! The glue is the part between the two `glue` marks: the extractor of the
//! app's user, the route's handler, and `run_session`, which adapts axum's
//! `WebSocket` to the session's `Inbound` stream and `Outgoing` sink.
//!
//! axum 0.8's WebSocket is tokio-tungstenite 0.29, one major behind the
//! workspace's 0.30: both are built, which costs build time only.
//!
//! Run with: `cargo run -p whisper-examples --example axum_room [ADDR]`
//! (or `AXUM_ROOM_ADDR=…`; default `127.0.0.1:3000`), then e.g.
//! `websocat 'ws://127.0.0.1:3000/chat?token=ada-secret&room=private'`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt, future};
use tokio::sync::watch;
use whisper_core::Chat;
use whisper_core::model::{DisplayName, Principal, PrincipalKind, RoomName, UserId};
use whisper_core::policy::{Denied, Policy, Post, Verdict};
use whisper_core::session::{self, Connection, Inbound, Outgoing};
use whisper_core::store::MemoryStore;

/// One of the app's own users.
#[derive(Clone, Debug)]
pub(crate) struct AppUser {
    pub(crate) id: UserId,
    pub(crate) name: DisplayName,
    pub(crate) staff: bool,
}

/// The app's users by their sign-in token (an app would look them up in its
/// own database or session store).
pub(crate) fn demo_users() -> HashMap<String, AppUser> {
    let user = |name: &str, staff| AppUser { id: UserId::random(), name: DisplayName::parse(name).unwrap(), staff };
    HashMap::from([("ada-secret".to_string(), user("Ada", true)), ("bob-secret".to_string(), user("Bob", false))])
}

/// The app's rules: `private` is for staff; "darn" is starred out.
#[derive(Debug)]
pub(crate) struct House {
    staff: Vec<UserId>,
}

#[whisper_core::async_trait]
impl Policy for House {
    async fn join(&self, who: &Principal, room: &RoomName) -> Verdict {
        if room.as_str() == "private" && !self.staff.contains(&who.user_id) {
            return Err(Denied::forbidden("private is for staff"));
        }
        Ok(())
    }

    async fn post(&self, _who: &Principal, post: &mut Post) -> Verdict {
        post.content = post.content.replace("darn", "****").into();
        Ok(())
    }
}

/// What the routes share.
#[derive(Clone)]
pub(crate) struct App {
    chat: Chat,
    users: Arc<HashMap<String, AppUser>>,
    /// Turns `true` when the app shuts down.
    stopping: watch::Receiver<bool>,
}

/// The chat, with the app's rules for `users`.
pub(crate) fn chat_for(users: &HashMap<String, AppUser>) -> Chat {
    let staff = users.values().filter(|u| u.staff).map(|u| u.id).collect();
    Chat::builder(Arc::new(MemoryStore::new())).policy(Arc::new(House { staff })).build()
}

/// The app: its own pages, and the chat at `/chat`.
pub(crate) fn app(chat: Chat, users: HashMap<String, AppUser>, stopping: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/", get(|| async { "Hello from axum; WhisperChat is at ws://…/chat?token=…&room=…\n" }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/chat", get(chat_socket))
        .with_state(App { chat, users: Arc::new(users), stopping })
}

// ---- glue ----

/// Who is connecting, by the app's own rules: a user of the app, or a guest.
struct Visitor(Option<AppUser>);

impl FromRequestParts<App> for Visitor {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get("authorization").and_then(|v| v.to_str().ok());
        let query = parts.uri.query().unwrap_or_default().split('&').find_map(|kv| kv.strip_prefix("token="));
        match header.and_then(|h| h.strip_prefix("Bearer ")).or(query) {
            None => Ok(Visitor(None)),
            Some(token) => app
                .users
                .get(token)
                .cloned()
                .map(|u| Visitor(Some(u)))
                .ok_or((StatusCode::UNAUTHORIZED, "unknown token")),
        }
    }
}

/// `/chat?room=&name=`: the room to join (default `lobby`), and a guest's
/// name; an invalid one is refused with 400 by `Query`, before the upgrade.
#[derive(serde::Deserialize)]
struct ChatQuery {
    name: Option<DisplayName>,
    room: Option<RoomName>,
}

async fn chat_socket(
    ws: WebSocketUpgrade,
    Visitor(user): Visitor,
    Query(q): Query<ChatQuery>,
    State(app): State<App>,
) -> Response {
    let room = Some(q.room.unwrap_or_else(RoomName::lobby));
    let conn = match user {
        Some(user) => {
            Connection { kind: PrincipalKind::External, name: Some(user.name), ..Connection::guest(user.id, room) }
        }
        None => Connection { name: q.name, ..Connection::guest(UserId::random(), room) },
    };
    let mut stopping = app.stopping.clone();
    let shutdown = async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    // The session closes frames over the limit with 1009; twice the limit
    // bounds what axum buffers (a bigger one just drops the connection).
    let limit = 2 * app.chat.limits().max_frame_bytes;
    ws.max_message_size(limit).on_upgrade(move |socket| run_session(socket, app.chat, conn, shutdown))
}

/// axum's `WebSocket` as the session's stream of `Inbound` and sink of `Outgoing`.
async fn run_session(socket: WebSocket, chat: Chat, conn: Connection, shutdown: impl Future<Output = ()>) {
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
    session::run(chat, conn, inbound, outgoing, shutdown).await;
}

// ---- end of glue ----

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).or_else(|| std::env::var("AXUM_ROOM_ADDR").ok());
    let listener = tokio::net::TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:3000")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let users = demo_users();
    let (stop, stopping) = watch::channel(false);
    let serve = axum::serve(listener, app(chat_for(&users), users, stopping.clone()));
    serve
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            // Sockets already upgraded are the sessions' to close (1001).
            let _ = stop.send(true);
        })
        .await?;
    Ok(())
}
