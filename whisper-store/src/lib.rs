//! WhisperChat's SQL stores, each an implementation of
//! [`whisper_core::store::Store`] that passes its conformance suite: the
//! embedded [`SqliteStore`] (feature `sqlite`) and the [`PostgresStore`]
//! (feature `postgres`), which several nodes may share.
//!
//! A crate of its own so that an embedder takes a store without the server's
//! HTTP, WebSocket, CLI, metrics and logging dependencies.
//!
//! # Layout
//!
//! Each store is a folder along the same lines:
//!
//! - `mod.rs` — the store's API and its [`Store`](whisper_core::store::Store)
//!   implementation;
//! - `schema.rs` — the tables and their migrations;
//! - `writer.rs` — the single writer and its group commit;
//! - `rows.rs` — rows to messages and back;
//! - `error.rs` — driver errors to [`StoreError`](whisper_core::store::StoreError).
//!
//! PostgreSQL has one more, `plan.rs`: the pure part of planning a group
//! (seqs, duplicates within it), tested without a database.
//!
//! - [`accounts`] — the [`AccountStore`](accounts::AccountStore) trait of
//!   accounts and sign-in sessions, which both stores implement, and (feature
//!   `test-util`) its conformance checks.
//! - [`sqlite`] — the embedded SQLite store (feature `sqlite`).
//! - [`postgres`] — the PostgreSQL store (feature `postgres`).
//! - [`DirectoryFiles`] — files' bytes in a directory, and
//!   [`PostgresFiles`] (feature `postgres`) in the database: the two
//!   [`FileStore`](whisper_core::files::FileStore)s the server picks from.
//! - `testing` — a throwaway PostgreSQL database per test (feature `test-util`).

#![warn(missing_docs)]

pub mod accounts;
mod directory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "test-util")]
pub mod testing;

pub use directory::DirectoryFiles;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresFiles, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
