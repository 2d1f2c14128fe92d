//! Examples of embedding and driving WhisperChat.
//!
//! - `examples/examples/`: small programs (`cargo run -p whisper-examples --example NAME`):
//!   `axum_room` (a room mounted in an axum app), `file_store` (a store of your
//!   own, checked by the conformance suite), `chat_cli` (a terminal client),
//!   `bot` (answers `@bot` mentions, streaming its reply), `two_sessions` (two
//!   sessions over channels). `tests/` runs each against a real server or socket.
//! - `src/bin/`: the load tools (`cargo run --release -p whisper-examples --bin NAME`):
//!   `loadgen`, the load generator, and `baseline_server`, the simplest broadcast
//!   server to hold whisper-server against. `tests/load.rs` runs both against real
//!   servers.
