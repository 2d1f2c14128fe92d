//! The server's stores, from the `whisper-store` crate: SQLite (embedded, the
//! default; feature `sqlite`) and PostgreSQL (feature `postgres`). Both
//! implement `whisper_core::store::Store` and pass its conformance suite; the
//! server opens the one its configuration names (`server::open_store`).

#[cfg(feature = "postgres")]
pub use whisper_store::PostgresStore;
#[cfg(feature = "sqlite")]
pub use whisper_store::SqliteStore;
#[cfg(feature = "postgres")]
pub use whisper_store::postgres;
#[cfg(feature = "sqlite")]
pub use whisper_store::sqlite;
