//! WhisperChat server library.

pub mod store;
