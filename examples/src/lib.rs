//! Examples of embedding and driving WhisperChat.
//!
//! - `examples/examples/`: small programs (`cargo run -p whisper-examples --example NAME`):
//!   two sessions over channels, a terminal chat client.
//! - `src/bin/`: the load tools (`cargo run --release -p whisper-examples --bin NAME`):
//!   `loadgen`, the load generator, and `baseline_server`, the simplest broadcast
//!   server to hold whisper-server against. `tests/load.rs` runs both against real
//!   servers.
