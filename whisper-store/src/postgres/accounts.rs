//! [`AccountStore`] on PostgreSQL (migration 4): plain statements on the
//! store's pool; each is one statement, so each is its own transaction.

use async_trait::async_trait;
use deadpool_postgres::Pool;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use whisper_core::model::{DisplayName, UserId};
use whisper_core::store::StoreError;

use super::error::{bounded, classify, pool_error};
use crate::accounts::{
    Account, AccountError, AccountStore, NewAccount, NewSession, SessionInfo, TOUCH_EVERY_MS, name_key,
};

/// The accounts of one PostgreSQL store. Cheap to clone.
#[derive(Clone)]
pub struct PostgresAccounts {
    pool: Pool,
}

impl std::fmt::Debug for PostgresAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresAccounts")
    }
}

const ACCOUNT_COLUMNS: &str = "a.user_id::text, a.email, a.name, a.created_at";
const SESSION_COLUMNS: &str = "s.id, s.created_at, s.last_used_at, s.expires_at, s.user_agent";

impl PostgresAccounts {
    pub(super) fn new(pool: Pool) -> PostgresAccounts {
        PostgresAccounts { pool }
    }

    /// Runs one statement, mapping a broken unique constraint to what it means.
    async fn run(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, AccountError> {
        bounded(async {
            let client = self.pool.get().await.map_err(pool_error)?;
            let statement = client.prepare_cached(sql).await.map_err(|e| classify(&e))?;
            Ok(client.query(&statement, params).await)
        })
        .await?
        .map_err(|e| match e.as_db_error().and_then(|d| d.constraint()) {
            Some("accounts_email_key") => AccountError::EmailTaken,
            Some("accounts_name_key_key") => AccountError::NameTaken,
            Some("accounts_pkey") => AccountError::UserTaken,
            _ => AccountError::Store(classify(&e)),
        })
    }

    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        self.run(sql, params).await.map_err(|e| match e {
            AccountError::Store(e) => e,
            other => StoreError::Internal(other.to_string()),
        })
    }
}

fn account_at(row: &Row, at: usize) -> Result<Account, StoreError> {
    let corrupt = |what: &str| StoreError::Internal(format!("accounts: a stored {what} is not valid"));
    let user: &str = row.try_get(at).map_err(|e| classify(&e))?;
    let name: String = row.try_get(at + 2).map_err(|e| classify(&e))?;
    Ok(Account {
        user_id: UserId::parse(user).map_err(|_| corrupt("user id"))?,
        email: row.try_get(at + 1).map_err(|e| classify(&e))?,
        name: DisplayName::parse(&name).map_err(|_| corrupt("name"))?,
        created_at: row.try_get(at + 3).map_err(|e| classify(&e))?,
    })
}

fn session_at(row: &Row, at: usize) -> Result<SessionInfo, StoreError> {
    let get = |i: usize| row.try_get::<_, i64>(at + i).map_err(|e| classify(&e));
    Ok(SessionInfo {
        id: row.try_get(at).map_err(|e| classify(&e))?,
        created_at: get(1)?,
        last_used_at: get(2)?,
        expires_at: get(3)?,
        user_agent: row.try_get(at + 4).map_err(|e| classify(&e))?,
    })
}

#[async_trait]
impl AccountStore for PostgresAccounts {
    async fn create(&self, new: NewAccount) -> Result<Account, AccountError> {
        let a = &new.account;
        self.run(
            "INSERT INTO accounts (user_id, email, name, name_key, password_hash, created_at)
             VALUES ($1::text::uuid, $2, $3, $4, $5, $6)",
            &[
                &a.user_id.to_string(),
                &a.email,
                &a.name.as_str(),
                &name_key(&a.name),
                &new.password_hash,
                &a.created_at,
            ],
        )
        .await?;
        Ok(new.account)
    }

    async fn by_email(&self, email: &str) -> Result<Option<(Account, String)>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS}, a.password_hash FROM accounts a WHERE a.email = $1");
        let rows = self.query(&sql, &[&email]).await?;
        rows.first().map(|row| Ok((account_at(row, 0)?, row.try_get(4).map_err(|e| classify(&e))?))).transpose()
    }

    async fn account(&self, user: UserId) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.user_id = $1::text::uuid");
        self.query(&sql, &[&user.to_string()]).await?.first().map(|row| account_at(row, 0)).transpose()
    }

    async fn by_name(&self, name: &DisplayName) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.name_key = $1");
        self.query(&sql, &[&name_key(name)]).await?.first().map(|row| account_at(row, 0)).transpose()
    }

    async fn rename(&self, user: UserId, name: &DisplayName) -> Result<Option<Account>, AccountError> {
        let sql = format!(
            "UPDATE accounts AS a SET name = $2, name_key = $3 WHERE a.user_id = $1::text::uuid RETURNING {ACCOUNT_COLUMNS}"
        );
        let rows = self.run(&sql, &[&user.to_string(), &name.as_str(), &name_key(name)]).await?;
        Ok(rows.first().map(|row| account_at(row, 0)).transpose()?)
    }

    async fn start_session(&self, s: NewSession) -> Result<(), StoreError> {
        self.query(
            "INSERT INTO auth_sessions (id, token_hash, user_id, created_at, last_used_at, expires_at, user_agent)
             VALUES ($1, $2, $3::text::uuid, $4, $4, $5, $6)",
            &[&s.id, &&s.token_hash[..], &s.user_id.to_string(), &s.created_at, &s.expires_at, &s.user_agent],
        )
        .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &[u8; 32], now: i64) -> Result<Option<(SessionInfo, Account)>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, {ACCOUNT_COLUMNS} FROM auth_sessions s
             JOIN accounts a ON a.user_id = s.user_id WHERE s.token_hash = $1"
        );
        let rows = self.query(&sql, &[&&token_hash[..]]).await?;
        let Some(row) = rows.first() else { return Ok(None) };
        let (mut session, account) = (session_at(row, 0)?, account_at(row, 5)?);
        if session.expires_at <= now {
            self.query("DELETE FROM auth_sessions WHERE id = $1", &[&session.id]).await?;
            return Ok(None);
        }
        if now - session.last_used_at >= TOUCH_EVERY_MS {
            self.query("UPDATE auth_sessions SET last_used_at = $2 WHERE id = $1", &[&session.id, &now]).await?;
            session.last_used_at = now;
        }
        Ok(Some((session, account)))
    }

    async fn sessions(&self, user: UserId, now: i64) -> Result<Vec<SessionInfo>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM auth_sessions s WHERE s.user_id = $1::text::uuid AND s.expires_at > $2
             ORDER BY s.last_used_at DESC, s.id"
        );
        self.query(&sql, &[&user.to_string(), &now]).await?.iter().map(|row| session_at(row, 0)).collect()
    }

    async fn end_session(&self, user: UserId, id: &str) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "DELETE FROM auth_sessions WHERE id = $1 AND user_id = $2::text::uuid RETURNING id",
                &[&id, &user.to_string()],
            )
            .await?;
        Ok(!rows.is_empty())
    }
}
