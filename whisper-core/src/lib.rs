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
//! - [`hub`] — rooms and their subscribers: in-order, encode-once fan-out into
//!   bounded outboxes, presence, typing.
//! - [`broker`] — the [`Broker`](broker::Broker) trait for fan-out across nodes,
//!   with the in-process [`LocalBroker`](broker::LocalBroker); a node in a
//!   cluster also publishes its rosters and heartbeats, so presence is the
//!   union of every node's users.
//! - [`chat`] — [`Chat`], one node's service: store + hub + broker + limits.
//! - [`session`] — [`session::run`], one connection's conversation over any
//!   `Stream`/`Sink` of text frames.
//! - [`limits`] — the limits of `docs/protocol.md` §10 and their defaults.
//! - [`history`] — the history checker: judges a run (a test, a load) by
//!   what was sent, acked and delivered against the stored history.
//! - `testing` — (feature `test-util`) test doubles shared by the
//!   workspace's tests: a failing store, a TCP proxy that can be cut.
//!
//! # Example
//!
//! A room hosted over plain channels — the same way a server hosts it over a
//! WebSocket:
//!
//! ```
//! use std::sync::Arc;
//! use futures_util::{SinkExt, StreamExt};
//! use whisper_core::{Chat, Limits, model::UserId, store::MemoryStore};
//! use whisper_core::codec::ServerFrame;
//! use whisper_core::session::{self, Connection, Inbound, Outgoing};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let chat = Chat::new(Arc::new(MemoryStore::new()), Limits::default());
//! let user = UserId::random();
//! let conn = Connection { user_id: user, token: "t".into(), name: None, room: Some("lobby".parse().unwrap()) };
//!
//! // The client's side: frames in, frames out.
//! let (to_session, from_client) = futures_channel_pair();
//! let (to_client, mut from_session) = tokio::sync::mpsc::unbounded_channel();
//! let sink = futures_util::sink::unfold(to_client, |tx, out: Outgoing| async move {
//!     tx.send(out).map(|()| tx).map_err(|_| "client gone")
//! });
//! let session = tokio::spawn(session::run(chat, conn, from_client, Box::pin(sink), std::future::pending()));
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
//! # fn futures_channel_pair() -> (tokio::sync::mpsc::UnboundedSender<Inbound<String>>,
//! #     impl futures_util::Stream<Item = Inbound<String>> + Unpin) {
//! #     let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
//! #     (tx, Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) })))
//! # }
//! ```

pub mod broker;
pub mod chat;
mod cluster;
pub mod codec;
pub mod history;
pub mod hub;
pub mod limits;
pub mod model;
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
