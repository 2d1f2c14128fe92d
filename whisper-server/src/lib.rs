//! WhisperChat's server: whisper-core wired to hyper 1.x, tokio-tungstenite,
//! SQLite (default) or PostgreSQL, with the HTTP API and Prometheus metrics.
//!
//! # Layout
//!
//! From the socket inwards; each module only uses those below it.
//!
//! - [`server`] — the accept loop: [`Server::builder`] opens the configured
//!   store and broker, [`Server::run`] serves a listener until a shutdown
//!   future completes; [`run`] does both (`main` maps the command line onto a
//!   [`Config`] and calls it).
//! - [`admission`] — a connection as it is accepted: the connection cap
//!   and per-IP limit (canned 503/429 refusals), the accept backoff.
//! - [`http`] — the routing table and one module per endpoint: the JSON API
//!   (`/v1/chat/messages`, `/v1/rooms`, health), the WebSocket upgrade
//!   (token, Origin, per-IP limit, 101), the web client's files, the
//!   client's address behind trusted proxies, and the response shapes
//!   (JSON, JSON errors).
//! - [`socket`] — one upgraded WebSocket: a core session over tungstenite.
//! - [`state`] — [`AppState`](state::AppState), what every handler shares.
//! - [`permits`] — the global connection cap (and its health reserve) and
//!   connections per address, held for a connection's life.
//! - [`descriptors`] — the file-descriptor limit the cap is derived from.
//! - [`shutdown`] — the signal (SIGINT, SIGTERM), the stopping flag, and the
//!   count of live connections the server waits for.
//! - [`identity`] — HMAC-signed identity tokens and the server secret.
//! - [`store`] — the SQLite and PostgreSQL stores, from `whisper-store`.
//! - [`broker`] — the NATS broker for several nodes (feature `nats`).
//! - [`metrics`] — Prometheus metrics.
//! - [`config`] — [`Config`], the server's settings as a plain value.
//! - [`error`] — [`Error`], why a server could not be built or run.
//!
//! ```no_run
//! # async fn demo() -> Result<(), whisper_server::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
//! let config = whisper_server::Config::new(listener.local_addr().expect("address"), "./data");
//! whisper_server::run(listener, config, whisper_server::shutdown_signal()).await
//! # }
//! ```

#![warn(missing_docs)]

pub mod accounts;
pub mod admission;
pub mod broker;
pub mod client_addr;
pub mod config;
pub mod descriptors;
pub mod error;
pub mod files;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod permits;
pub mod read_rate;
pub mod server;
pub mod shutdown;
pub mod socket;
pub mod state;
pub mod store;

pub use config::Config;
pub use error::Error;
pub use server::{Server, ServerBuilder, run};
pub use shutdown::shutdown_signal;
