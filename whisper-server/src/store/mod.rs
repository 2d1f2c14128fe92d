//! The server's stores: SQLite (embedded, the default) and PostgreSQL. Both
//! implement `whisper_core::store::Store` and pass its conformance suite.

pub mod postgres;
pub mod sqlite;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
