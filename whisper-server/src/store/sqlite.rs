//! SQLite store (placeholder until implemented).

/// The embedded SQLite store.
#[derive(Debug)]
pub struct SqliteStore;
