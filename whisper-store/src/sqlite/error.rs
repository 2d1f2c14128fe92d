//! SQLite's errors as [`StoreError`]s: what may pass on a retry is
//! `Unavailable`, anything else `Internal`.

use rusqlite::ErrorCode;
use whisper_core::store::StoreError;

pub(super) fn writer_stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer has stopped".into())
}

/// Maps a driver error: what may pass if retried later (locks, I/O, a full
/// disk, permissions) is `Unavailable`, anything else `Internal`.
pub(super) fn store_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed,
        ) => StoreError::Unavailable(format!("SQLite: {e}")),
        _ => StoreError::Internal(format!("SQLite: {e}")),
    }
}
