//! [`AccountStore`] on the SQLite file (schema version 4): a connection of
//! its own beside the writer's, like read marks, since sign-ins are few and
//! must not wait behind a group commit of messages.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use whisper_core::model::{DisplayName, UserId};
use whisper_core::store::StoreError;

use super::error::store_error;
use super::schema::BUSY_TIMEOUT;
use crate::accounts::{
    Account, AccountError, AccountStore, NewAccount, NewSession, SessionInfo, TOUCH_EVERY_MS, name_key,
};

/// The accounts of one SQLite file. Cheap to clone.
#[derive(Clone)]
pub struct SqliteAccounts {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteAccounts")
    }
}

const ACCOUNT_COLUMNS: &str = "a.user_id, a.email, a.name, a.created_at";
const SESSION_COLUMNS: &str = "s.id, s.created_at, s.last_used_at, s.expires_at, s.user_agent";

impl SqliteAccounts {
    /// Opens a connection to the store's file at `path` (whose schema the
    /// store's writer keeps up to date).
    pub(super) fn open(path: &Path) -> Result<SqliteAccounts, StoreError> {
        let conn = Connection::open(path).map_err(store_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(store_error)?;
        conn.execute_batch("PRAGMA foreign_keys = ON;").map_err(store_error)?;
        Ok(SqliteAccounts { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` on the connection, on a blocking thread.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, AccountError> + Send + 'static,
    ) -> Result<T, AccountError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&conn)
        })
        .await
        .map_err(|e| AccountError::Store(StoreError::Internal(format!("an accounts query panicked: {e}"))))?
    }
}

fn account_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    account_row_at(row, 0)
}

fn session_row(row: &Row<'_>, at: usize) -> rusqlite::Result<SessionInfo> {
    Ok(SessionInfo {
        id: row.get(at)?,
        created_at: row.get(at + 1)?,
        last_used_at: row.get(at + 2)?,
        expires_at: row.get(at + 3)?,
        user_agent: row.get(at + 4)?,
    })
}

/// Which unique constraint a failed insert or update broke.
fn taken(e: rusqlite::Error) -> AccountError {
    let text = e.to_string();
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
        if text.contains("accounts.email") {
            return AccountError::EmailTaken;
        }
        if text.contains("accounts.name_key") {
            return AccountError::NameTaken;
        }
        if text.contains("accounts.user_id") {
            return AccountError::UserTaken;
        }
    }
    AccountError::Store(store_error(e))
}

fn plain(e: rusqlite::Error) -> AccountError {
    AccountError::Store(store_error(e))
}

fn flat<T>(r: Result<T, AccountError>) -> Result<T, StoreError> {
    r.map_err(|e| match e {
        AccountError::Store(e) => e,
        other => StoreError::Internal(other.to_string()),
    })
}

#[async_trait]
impl AccountStore for SqliteAccounts {
    async fn create(&self, new: NewAccount) -> Result<Account, AccountError> {
        self.with(move |conn| {
            let a = &new.account;
            conn.prepare_cached(
                "INSERT INTO accounts (user_id, email, name, name_key, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(plain)?
            .execute(params![
                a.user_id.to_string(),
                a.email,
                a.name.as_str(),
                name_key(&a.name),
                new.password_hash,
                a.created_at
            ])
            .map_err(taken)?;
            Ok(new.account)
        })
        .await
    }

    async fn by_email(&self, email: &str) -> Result<Option<(Account, String)>, StoreError> {
        let email = email.to_owned();
        flat(
            self.with(move |conn| {
                let sql = format!("SELECT {ACCOUNT_COLUMNS}, a.password_hash FROM accounts a WHERE a.email = ?1");
                conn.prepare_cached(&sql)
                    .and_then(|mut s| s.query_row([email], |r| Ok((account_row(r)?, r.get(4)?))).optional())
                    .map_err(plain)
            })
            .await,
        )
    }

    async fn account(&self, user: UserId) -> Result<Option<Account>, StoreError> {
        flat(
            self.with(move |conn| {
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.user_id = ?1");
                conn.prepare_cached(&sql)
                    .and_then(|mut s| s.query_row([user.to_string()], account_row).optional())
                    .map_err(plain)
            })
            .await,
        )
    }

    async fn by_name(&self, name: &DisplayName) -> Result<Option<Account>, StoreError> {
        let key = name_key(name);
        flat(
            self.with(move |conn| {
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.name_key = ?1");
                conn.prepare_cached(&sql).and_then(|mut s| s.query_row([key], account_row).optional()).map_err(plain)
            })
            .await,
        )
    }

    async fn rename(&self, user: UserId, name: &DisplayName) -> Result<Option<Account>, AccountError> {
        let name = name.clone();
        self.with(move |conn| {
            // RETURNING takes no table qualifiers in SQLite.
            let sql = "UPDATE accounts SET name = ?2, name_key = ?3 WHERE user_id = ?1
                       RETURNING user_id, email, name, created_at";
            conn.prepare_cached(sql)
                .map_err(plain)?
                .query_row(params![user.to_string(), name.as_str(), name_key(&name)], account_row)
                .optional()
                .map_err(taken)
        })
        .await
    }

    async fn start_session(&self, s: NewSession) -> Result<(), StoreError> {
        flat(
            self.with(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO auth_sessions (id, token_hash, user_id, created_at, last_used_at, expires_at, user_agent)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        s.id,
                        &s.token_hash[..],
                        s.user_id.to_string(),
                        s.created_at,
                        s.expires_at,
                        s.user_agent
                    ])
                })
                .map_err(plain)?;
                Ok(())
            })
            .await,
        )
    }

    async fn session(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<(SessionInfo, Account)>, StoreError> {
        let hash = *token_hash;
        flat(
            self.with(move |conn| {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS}, {ACCOUNT_COLUMNS} FROM auth_sessions s
                     JOIN accounts a ON a.user_id = s.user_id WHERE s.token_hash = ?1"
                );
                let found = conn
                    .prepare_cached(&sql)
                    .and_then(|mut st| {
                        st.query_row([&hash[..]], |r| Ok((session_row(r, 0)?, account_row_at(r, 5)?))).optional()
                    })
                    .map_err(plain)?;
                let Some((mut session, account)) = found else { return Ok(None) };
                if session.expires_at <= now {
                    conn.prepare_cached("DELETE FROM auth_sessions WHERE id = ?1")
                        .and_then(|mut st| st.execute([&session.id]))
                        .map_err(plain)?;
                    return Ok(None);
                }
                if now - session.last_used_at >= TOUCH_EVERY_MS {
                    conn.prepare_cached("UPDATE auth_sessions SET last_used_at = ?2 WHERE id = ?1")
                        .and_then(|mut st| st.execute(params![session.id, now]))
                        .map_err(plain)?;
                    session.last_used_at = now;
                }
                Ok(Some((session, account)))
            })
            .await,
        )
    }

    async fn sessions(&self, user: UserId, now: i64) -> Result<Vec<SessionInfo>, StoreError> {
        flat(
            self.with(move |conn| {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM auth_sessions s WHERE s.user_id = ?1 AND s.expires_at > ?2
                     ORDER BY s.last_used_at DESC, s.id"
                );
                conn.prepare_cached(&sql)
                    .and_then(|mut st| st.query_map(params![user.to_string(), now], |r| session_row(r, 0))?.collect())
                    .map_err(plain)
            })
            .await,
        )
    }

    async fn end_session(&self, user: UserId, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        flat(
            self.with(move |conn| {
                conn.prepare_cached("DELETE FROM auth_sessions WHERE id = ?1 AND user_id = ?2")
                    .and_then(|mut st| st.execute(params![id, user.to_string()]))
                    .map(|n| n > 0)
                    .map_err(plain)
            })
            .await,
        )
    }
}

/// An account read from columns `at..at + 4` of a joined row.
fn account_row_at(row: &Row<'_>, at: usize) -> rusqlite::Result<Account> {
    let user: String = row.get(at)?;
    let name: String = row.get(at + 2)?;
    let bad = |what: &str| rusqlite::Error::InvalidColumnType(at, what.into(), rusqlite::types::Type::Text);
    Ok(Account {
        user_id: UserId::parse(&user).map_err(|_| bad("user_id"))?,
        email: row.get(at + 1)?,
        name: DisplayName::parse(&name).map_err(|_| bad("name"))?,
        created_at: row.get(at + 3)?,
    })
}
