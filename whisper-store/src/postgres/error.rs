//! PostgreSQL's errors as [`StoreError`]s: whatever means "not now" (a lost
//! connection, a timeout, a server shutting down, the pool closed, the writer
//! gone) is `Unavailable`, so clients retry; anything else `Internal`. Also
//! the bound on every wait, since a timeout is one of those errors.

use std::time::Duration;

use deadpool_postgres::{Object, PoolError};
use whisper_core::store::StoreError;

/// Bound on one statement (or one group's statements), measured here rather
/// than by the server, so that a silently dead connection cannot hang a
/// caller. Generous: a group commit normally takes milliseconds.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Maps a driver error: SQLSTATEs that mean "not now" (connection
/// exceptions, shutdown, lack of resources, cancellation, a read-only
/// standby) and errors without a SQLSTATE (I/O, closed connection, connect
/// timeout) are `Unavailable`; any other database error is `Internal`.
/// Decoding errors never get here: they are mapped by `decode_error`.
pub(super) fn classify(e: &tokio_postgres::Error) -> StoreError {
    let Some(db) = e.as_db_error() else {
        return StoreError::Unavailable(describe(e));
    };
    let code = db.code().code();
    let transient = code.starts_with("08") // connection_exception
        || code.starts_with("53") // insufficient_resources: disk full, too many connections
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" // admin_shutdown, crash_shutdown, cannot_connect_now
                | "57014" // query_canceled (statement_timeout)
                | "25006" // read_only_sql_transaction: connected to a standby
                | "40001" | "40P01" // serialization_failure, deadlock_detected
                | "55P03" // lock_not_available
                | "58030" // io_error
        );
    let message = format!("PostgreSQL {code}: {}", db.message());
    if transient { StoreError::Unavailable(message) } else { StoreError::Internal(message) }
}

pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(source) => format!("PostgreSQL: {e}: {source}"),
        None => format!("PostgreSQL: {e}"),
    }
}

/// Not getting a connection, for whatever reason (refused, the database not
/// accepting connections, a timeout), means the store cannot work now:
/// always `Unavailable`, so clients retry rather than give up.
pub(super) fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => StoreError::Unavailable(format!("cannot connect: {}", describe(&e))),
        PoolError::Timeout(kind) => StoreError::Unavailable(format!("PostgreSQL connection pool timed out ({kind:?})")),
        PoolError::Closed => StoreError::Unavailable("the PostgreSQL connection pool is closed".into()),
        other => StoreError::Unavailable(format!("PostgreSQL connection pool: {other}")),
    }
}

/// Removes a connection from the pool for good, so that a broken one is
/// never handed out again.
pub(super) fn discard(conn: Object) {
    drop(Object::take(conn));
}

/// Bounds a database operation by [`STATEMENT_TIMEOUT`].
pub(super) async fn bounded<T>(work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    bounded_raw(work).await.unwrap_or_else(|| Err(timed_out()))
}

pub(super) async fn bounded_raw<T>(work: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(STATEMENT_TIMEOUT, work).await.ok()
}

pub(super) fn timed_out() -> StoreError {
    StoreError::Unavailable(format!("PostgreSQL did not answer within {} s", STATEMENT_TIMEOUT.as_secs()))
}

/// The writer task is gone (its runtime shut down, or it panicked): nothing
/// more can be stored through this handle.
pub(super) fn writer_gone() -> StoreError {
    StoreError::Unavailable("the PostgreSQL writer task has stopped".into())
}
