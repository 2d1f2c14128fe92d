//! An axum application that hosts WhisperChat rooms on its own route, with
//! its own sign-in and its own rules: `whisper-axum` answers the WebSocket
//! upgrade at `/chat` and hands the socket to a whisper-core session, on
//! the in-memory store. The rest is an ordinary axum app (`GET /`,
//! `GET /healthz`).
//!
//! - **The app's identity.** `Authorization: Bearer <token>` (or `?token=`,
//!   which browsers can send) names one of the app's own users (here a
//!   fixed table, [`demo_users`]), by the app's own id for them: the
//!   session is that `External` principal, with the app's name for it (it
//!   cannot rename itself). No token is a guest; an unknown one is 401
//!   before the upgrade.
//! - **The app's rules.** [`House`], a [`Policy`]: the room `private` is for
//!   the app's staff only, and a word filter stars out "darn" everywhere.
//! - **Graceful shutdown.** Upgraded sockets outlive axum's own graceful
//!   shutdown; the route is given the app's [`Shutdown`], and each session
//!   closes with 1001 when it begins.
//!
//! The glue is the part between the two `glue` marks: the app's extractor
//! of its user, and what it makes of one ([`ChatUser`]).
//!
//! Run with: `cargo run -p whisper-examples --example axum_room [ADDR]`
//! (or `AXUM_ROOM_ADDR=…`; default `127.0.0.1:3000`), then e.g.
//! `websocat 'ws://127.0.0.1:3000/chat?token=ada-secret&room=private'`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::get;
use whisper_axum::{Asked, ChatUser, Shutdown};
use whisper_core::Chat;
use whisper_core::model::{DisplayName, ExternalId, Principal, RoomName};
use whisper_core::policy::{Denied, Policy, Post, Verdict};
use whisper_core::session::Connection;
use whisper_core::store::MemoryStore;

/// One of the app's own users.
#[derive(Clone, Debug)]
pub(crate) struct AppUser {
    /// The app's own id for the user, not a UUID.
    pub(crate) id: ExternalId,
    pub(crate) name: DisplayName,
    pub(crate) staff: bool,
}

/// The app's users by their sign-in token (an app would look them up in its
/// own database or session store).
pub(crate) fn demo_users() -> HashMap<String, AppUser> {
    let user = |id: &str, name: &str, staff| AppUser {
        id: ExternalId::parse(id).unwrap(),
        name: DisplayName::parse(name).unwrap(),
        staff,
    };
    HashMap::from([
        ("ada-secret".to_string(), user("user:1", "Ada", true)),
        ("bob-secret".to_string(), user("user:2", "Bob", false)),
    ])
}

/// The app's rules: `private` is for staff; "darn" is starred out.
#[derive(Debug)]
pub(crate) struct House {
    staff: Vec<ExternalId>,
}

#[whisper_core::async_trait]
impl Policy for House {
    async fn join(&self, who: &Principal, room: &RoomName) -> Verdict {
        if room.as_str() == "private" && !who.external_id.as_ref().is_some_and(|id| self.staff.contains(id)) {
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
    users: Arc<HashMap<String, AppUser>>,
}

/// The chat, with the app's rules for `users`.
pub(crate) fn chat_for(users: &HashMap<String, AppUser>) -> Chat {
    let staff = users.values().filter(|u| u.staff).map(|u| u.id.clone()).collect();
    Chat::builder(Arc::new(MemoryStore::new())).policy(Arc::new(House { staff })).build()
}

/// The app: its own pages, and the chat at `/chat`, whose sockets close
/// when `shutdown` begins.
pub(crate) fn app(chat: Chat, users: HashMap<String, AppUser>, shutdown: Shutdown) -> Router {
    Router::new()
        .route("/", get(|| async { "Hello from axum; WhisperChat is at ws://…/chat?token=…&room=…\n" }))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/chat", whisper_axum::route::<Visitor, App>(chat, shutdown))
        .with_state(App { users: Arc::new(users) })
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

impl ChatUser for Visitor {
    fn connection(self, asked: Asked) -> Connection {
        match self.0 {
            Some(user) => asked.as_principal(Principal::external(user.id, user.name)),
            None => asked.guest(),
        }
    }
}

// ---- end of glue ----

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::args().nth(1).or_else(|| std::env::var("AXUM_ROOM_ADDR").ok());
    let listener = tokio::net::TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:3000")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let users = demo_users();
    let shutdown = Shutdown::new();
    let app = app(chat_for(&users), users, shutdown.clone());
    // On Ctrl-C: axum stops taking requests, and the sockets close (1001).
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    axum::serve(listener, app).with_graceful_shutdown(shutdown.after(ctrl_c)).await?;
    Ok(())
}
