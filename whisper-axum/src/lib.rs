//! WhisperChat rooms on an axum route: the application says who is
//! connecting with its own extractor, whisper-core's session does the rest
//! (protocol.md §14, §15).
//!
//! Three pieces, each usable alone:
//!
//! - [`route`]: a `GET` route that answers the WebSocket upgrade for
//!   `?room=&name=`, asking the application's extractor (any
//!   `FromRequestParts` that is [`ChatUser`]) who the caller is. A refusal
//!   of the extractor (say 401) is answered before the upgrade, and so is a
//!   browser's upgrade from another site ([`SameOrigin`], 403).
//! - [`upgrade`]: the same inside a handler of the application's own, for
//!   an app that wants to decide more before upgrading.
//! - [`Shutdown`]: upgraded sockets outlive axum's graceful shutdown;
//!   handed one, every session closes with 1001 when it begins.
//!
//! ```no_run
//! use axum::extract::FromRequestParts;
//! use axum::http::{StatusCode, request::Parts};
//! use whisper_axum::{Asked, ChatUser, Shutdown};
//! use whisper_core::model::{DisplayName, ExternalId, Principal};
//! use whisper_core::session::Connection;
//!
//! /// The app's own idea of who is signed in (here: a header it trusts).
//! struct Member(Option<Principal>);
//!
//! impl<S: Sync> FromRequestParts<S> for Member {
//!     type Rejection = StatusCode;
//!     async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, StatusCode> {
//!         let Some(id) = parts.headers.get("x-app-user") else { return Ok(Member(None)) };
//!         let id = id.to_str().ok().and_then(|s| ExternalId::parse(s).ok()).ok_or(StatusCode::UNAUTHORIZED)?;
//!         Ok(Member(Some(Principal::external(id, DisplayName::parse("Member").unwrap()))))
//!     }
//! }
//!
//! impl ChatUser for Member {
//!     fn connection(self, asked: Asked) -> Connection {
//!         match self.0 {
//!             Some(who) => asked.as_principal(who),
//!             None => asked.guest(),
//!         }
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let chat = whisper_core::Chat::builder(std::sync::Arc::new(whisper_core::store::MemoryStore::new())).build();
//! let shutdown = Shutdown::new();
//! let app = axum::Router::new().route("/chat", whisper_axum::route::<Member, ()>(chat, shutdown.clone()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).with_graceful_shutdown(shutdown.after(async { /* ctrl-c */ })).await
//! # }
//! ```

mod route;
mod shutdown;
mod socket;

pub use route::{Asked, ChatUser, ClientAddr, SameOrigin, route, upgrade};
pub use shutdown::Shutdown;
pub use socket::serve_socket;
