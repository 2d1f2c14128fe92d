//! PostgreSQL store (placeholder until implemented).

/// The PostgreSQL store.
#[derive(Debug)]
pub struct PostgresStore;
