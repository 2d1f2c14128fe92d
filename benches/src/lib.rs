//! Shared fixtures for WhisperChat's criterion benchmarks (see `benches/`).

use whisper_core::model::{DisplayName, Message, NewMessage, RoomName, Seq, UserId};

/// Bytes of message content the benchmarks use: a typical chat line.
pub const CONTENT_LEN: usize = 100;

/// ASCII text of exactly [`CONTENT_LEN`] bytes, with spaces like a sentence.
pub fn content() -> String {
    let text: String = "the quick brown fox jumps over the lazy dog ".chars().cycle().take(CONTENT_LEN).collect();
    debug_assert_eq!(text.len(), CONTENT_LEN);
    text
}

/// A stored message of [`CONTENT_LEN`] bytes by `user` in `room` at `seq`,
/// with a client id, as the store would hand it to the hub.
pub fn message(room: &RoomName, user: UserId, name: &DisplayName, text: &str, seq: Seq) -> Message {
    let client_id = whisper_core::model::ClientId::parse(&format!("c-{}", seq.0)).ok();
    NewMessage::now(room.clone(), user, name.clone(), text, client_id).stored_at(seq)
}
