//! The server's stores: SQLite (embedded, the default; feature `sqlite`) and
//! PostgreSQL (feature `postgres`). Both implement `whisper_core::store::Store`
//! and pass its conformance suite.

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
