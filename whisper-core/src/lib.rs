//! WhisperChat's core: everything about chat that does not depend on a web
//! framework or a database driver.
//!
//! # Layout
//!
//! - [`model`] — the domain's validated values: [`RoomName`](model::RoomName),
//!   [`UserId`](model::UserId), [`Seq`](model::Seq), [`Message`](model::Message)…
//! - [`codec`] — the wire protocol (`docs/protocol.md` §3–§5): [`ClientFrame::decode`](codec::ClientFrame::decode)
//!   reports every problem of a bad frame; [`ServerFrame::encode`](codec::ServerFrame::encode)
//!   encodes once into shared bytes.
//! - [`store`] — the async [`Store`](store::Store) trait, the in-memory
//!   [`MemoryStore`](store::MemoryStore), and (feature `test-util`) the
//!   conformance suite every store passes.
//! - `hub` (internal) — rooms and their subscribers: in-order, encode-once
//!   fan-out into bounded outboxes, presence, typing. Reached through
//!   [`Chat`]'s methods, and by a broker through [`broker::Hub`].
//! - [`broker`] — the [`Broker`](broker::Broker) trait for fan-out across nodes,
//!   with the in-process [`LocalBroker`](broker::LocalBroker), and (feature
//!   `test-util`) the conformance suite every broker passes; a node in a
//!   cluster also publishes its rosters and heartbeats, so presence is the
//!   union of every node's users.
//! - [`chat`] — [`Chat`], one node's service: store + hub + broker + limits,
//!   made with [`Chat::builder`].
//! - [`policy`] — the [`Policy`](policy::Policy) an application adds its
//!   own rules with (who may join, post, edit, rename…), asked by the
//!   session before anything is stored.
//! - [`session`] — [`session::run`], one connection's conversation over any
//!   `Stream`/`Sink` of text frames.
//! - [`limits`] — the limits of `docs/protocol.md` §10 and their defaults.
//! - `quota` (internal) — write budgets and room-creation caps per user and
//!   per address, shared by a node's sessions and charged before the store.
//! - `testing` (feature `test-util`) — test tools: the history checker
//!   (judges a run by what was sent, acked and delivered against the stored
//!   history), a session's transport over channels, a failing store, a TCP
//!   proxy a test can cut, the hub fixture of the fan-out benchmark.
//!
//! # Example
//!
//! A room hosted over plain channels — the same way a server hosts it over a
//! WebSocket (the channels come from `testing`, feature `test-util`):
//!
//! ```
//! use std::sync::Arc;
//! use whisper_core::{Chat, model::UserId, store::MemoryStore};
//! use whisper_core::codec::ServerFrame;
//! use whisper_core::session::{self, Connection, Inbound, Outgoing};
//! use whisper_core::testing::{inbound_channel, outgoing_channel};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let chat = Chat::builder(Arc::new(MemoryStore::new())).build();
//! let user = UserId::random();
//! let conn = Connection::guest(user, Some("lobby".parse().unwrap()));
//!
//! // The client's side: frames in, frames out.
//! let (to_session, inbound) = inbound_channel();
//! let (outgoing, mut from_session) = outgoing_channel();
//! let session = tokio::spawn(session::run(chat, conn, inbound, outgoing, std::future::pending()));
//!
//! let hello = format!(r#"{{"type":"messages","data":[{{"user_id":"{user}","content":"Hello, world!"}}]}}"#);
//! to_session.send(Inbound::Text(hello)).unwrap();
//!
//! let mut acked = false;
//! while let Some(Outgoing::Frame(frame)) = from_session.recv().await {
//!     if let Ok(ServerFrame::MessageIds { message_ids, .. }) = ServerFrame::decode(frame.to_text()) {
//!         assert_eq!(message_ids.len(), 1);
//!         acked = true;
//!         break;
//!     }
//! }
//! assert!(acked);
//! drop(to_session); // the client leaves; the session ends
//! session.await.unwrap();
//! # }
//! ```

//! # Embedding with your own authentication
//!
//! Your application decides who connects; the session is told with a
//! [`Connection`](session::Connection), and your rules are a
//! [`Policy`](policy::Policy) given to the [`Chat`]:
//!
//! ```
//! use std::sync::Arc;
//! use whisper_core::model::{DisplayName, ExternalId, Principal, PrincipalKind, RoomName};
//! use whisper_core::policy::{Denied, Policy, Verdict};
//! use whisper_core::session::Connection;
//! use whisper_core::{Chat, store::MemoryStore};
//!
//! /// Only your own users may join `support`.
//! #[derive(Debug)]
//! struct Rules;
//!
//! #[whisper_core::async_trait]
//! impl Policy for Rules {
//!     async fn join(&self, who: &Principal, room: &RoomName) -> Verdict {
//!         let yours = who.kind == PrincipalKind::External;
//!         if room.as_str() == "support" && !yours { Err(Denied::forbidden("sign in first")) } else { Ok(()) }
//!     }
//! }
//!
//! let chat = Chat::builder(Arc::new(MemoryStore::new())).policy(Arc::new(Rules)).build();
//! // In your WebSocket handler, once your own auth has found the user, by
//! // your own id for them (no UUID to make up: the user id is derived):
//! let (id, name) = (ExternalId::parse("crm:42").unwrap(), DisplayName::parse("Ada").unwrap());
//! // Shows `name`, cannot rename itself, and its messages carry `external_id`.
//! let conn = Connection::external(id, name, Some("support".parse().unwrap()));
//! // …then `session::run(chat.clone(), conn, inbound, outgoing, shutdown)`,
//! // as in the example above; `chat.evict`, `chat.disconnect` and
//! // `chat.committed()` act on and watch what happens.
//! # let _ = (chat, conn);
//! ```
//!
//! In an axum app, the `whisper-axum` crate is that handler (a route, the
//! app's extractor, graceful shutdown); `examples/examples/axum_room.rs`
//! uses it with its own sign-in, a private room and a word filter.

pub mod attachments;
pub mod broker;
pub mod chat;
mod cluster;
pub mod codec;
pub mod files;
mod hub;
pub mod limits;
pub mod model;
pub mod policy;
mod quota;
pub mod rate;
pub mod rooms;
pub mod search;
pub mod session;
pub mod store;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;

/// The attribute [`Store`](store::Store) and [`Broker`](broker::Broker) are
/// declared with, so that a store or broker outside this crate is written
/// with `#[whisper_core::async_trait]` and plain `async fn`s, without a
/// dependency of its own.
pub use async_trait::async_trait;
pub use chat::Chat;
pub use limits::Limits;
