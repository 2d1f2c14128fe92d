//! WhisperChat's server: whisper-core wired to hyper 1.x, tokio-tungstenite,
//! SQLite (default) or PostgreSQL, with the HTTP API and Prometheus metrics.
//!
//! # Layout
//!
//! - [`server`] — the accept loop, shared state, graceful shutdown; [`run`] is
//!   the entry point (`main` only parses the configuration and calls it).
//! - [`ws`] — the WebSocket endpoint: upgrade checks (Origin, token, per-IP
//!   limit) and the bridge between tungstenite and a core session.
//! - [`http`] — routing, the JSON API (`/v1/chat/messages`, `/v1/rooms`,
//!   health), static files of the web client, JSON errors.
//! - [`identity`] — HMAC-signed identity tokens and the server secret.
//! - [`store`] — the SQLite and PostgreSQL stores, from `whisper-store`.
//! - [`metrics`] — Prometheus metrics.
//! - [`config`] — command-line options with environment fallbacks.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let config = whisper_server::Config::new(listener.local_addr()?, "./data");
//! whisper_server::run(listener, config, whisper_server::shutdown_signal()).await
//! # }
//! ```

#![warn(missing_docs)]

pub mod broker;
pub mod config;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod server;
pub mod store;
pub mod ws;

pub use config::Config;
pub use server::{Server, run, shutdown_signal};
