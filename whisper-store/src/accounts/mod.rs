//! Accounts and their sign-in sessions (protocol.md §14), kept beside the
//! chat's tables: [`AccountStore`], implemented by the SQLite and
//! PostgreSQL stores ([`SqliteStore::accounts`](crate::SqliteStore::accounts),
//! [`PostgresStore::accounts`](crate::PostgresStore::accounts)).
//!
//! The store keeps what it is given: the server hashes passwords (Argon2id)
//! and session tokens (SHA-256) before they get here, so no secret a client
//! could replay is ever written down.

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;

use std::fmt::Debug;

use async_trait::async_trait;
use whisper_core::model::{DisplayName, UserId};
use whisper_core::store::StoreError;

/// A registered account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Its user id: a guest who registered keeps its own.
    pub user_id: UserId,
    /// The email it signs in with, lower-cased.
    pub email: String,
    /// Its display name, unique among accounts whatever the case.
    pub name: DisplayName,
    /// When it registered, in Unix milliseconds.
    pub created_at: i64,
}

/// An account to create, with its password already hashed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAccount {
    /// The account.
    pub account: Account,
    /// The PHC string of the password's hash.
    pub password_hash: String,
}

/// A sign-in session to start, known by the hash of its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    /// The session's public id (what a device list shows and revokes).
    pub id: String,
    /// SHA-256 of the token the client holds.
    pub token_hash: [u8; 32],
    /// Whose it is.
    pub user_id: UserId,
    /// When it started, in Unix milliseconds (also its first use).
    pub created_at: i64,
    /// When it stops being accepted, in Unix milliseconds.
    pub expires_at: i64,
    /// The browser or program that signed in, as it said (cut to 256 bytes).
    pub user_agent: Option<String>,
}

/// A live sign-in session, as a device list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its public id.
    pub id: String,
    /// When it started (Unix ms).
    pub created_at: i64,
    /// When it was last used, to the minute (Unix ms).
    pub last_used_at: i64,
    /// When it expires (Unix ms).
    pub expires_at: i64,
    /// The browser or program that signed in.
    pub user_agent: Option<String>,
}

/// How often a session's `last_used_at` is written: a session used more
/// often than this costs one write per period, not one per request.
pub const TOUCH_EVERY_MS: i64 = 60_000;

/// Why an account was not created or renamed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// Another account has this email.
    #[error("an account with this email exists")]
    EmailTaken,
    /// Another account has this name (in any case).
    #[error("an account with this name exists")]
    NameTaken,
    /// This user id already has an account (a guest that registered twice).
    #[error("this user already has an account")]
    UserTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where accounts and sign-in sessions are kept.
#[async_trait]
pub trait AccountStore: Debug + Send + Sync + 'static {
    /// Creates an account; its email, name and user id must all be new.
    async fn create(&self, account: NewAccount) -> Result<Account, AccountError>;

    /// The account signing in with `email` (lower-cased by the caller),
    /// with its password hash.
    async fn by_email(&self, email: &str) -> Result<Option<(Account, String)>, StoreError>;

    /// The account of `user`, if it has one.
    async fn account(&self, user: UserId) -> Result<Option<Account>, StoreError>;

    /// The account called `name`, in any case ("ada" finds "Ada"): to
    /// invite someone by the name they are shown under.
    async fn by_name(&self, name: &DisplayName) -> Result<Option<Account>, StoreError>;

    /// Renames `user`'s account. `Ok(None)`: it has none.
    async fn rename(&self, user: UserId, name: &DisplayName) -> Result<Option<Account>, AccountError>;

    /// Starts a sign-in session.
    async fn start_session(&self, session: NewSession) -> Result<(), StoreError>;

    /// The live session whose token hashes to `token_hash` at `now`, with
    /// its account; notes the use (at most once per [`TOUCH_EVERY_MS`]).
    /// An expired session is not returned (and is deleted).
    async fn session(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<(SessionInfo, Account)>, StoreError>;

    /// `user`'s live sessions at `now`, most recently used first.
    async fn sessions(&self, user: UserId, now: i64) -> Result<Vec<SessionInfo>, StoreError>;

    /// Ends `user`'s session `id`. Returns whether it had one.
    async fn end_session(&self, user: UserId, id: &str) -> Result<bool, StoreError>;
}

/// The key a name is unique by: lower-cased (so "Ada" and "ada" are one).
pub fn name_key(name: &DisplayName) -> String {
    name.as_str().to_lowercase()
}
