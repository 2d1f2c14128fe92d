//! Accounts and sign-in sessions (protocol.md §14) on both stores: the same
//! checks on a fresh SQLite file and a fresh PostgreSQL database.

use whisper_store::accounts::conformance;
use whisper_store::testing::pg::fresh_database;
use whisper_store::{PostgresStore, SqliteStore};

#[tokio::test]
async fn sqlite_keeps_accounts_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("whisper.db")).await.expect("open");
    conformance::check(&store.accounts().await.expect("accounts")).await;
}

#[tokio::test]
async fn postgres_keeps_accounts_and_sessions() {
    let Some(db) = fresh_database().await else { return };
    let store = PostgresStore::connect(db.url()).await.expect("connect");
    conformance::check(&store.accounts()).await;
}
