//! Accounts (protocol.md §14): who a request or an upgrade is, from a guest
//! token, a sign-in session's bearer token or its cookie; registering,
//! signing in and out; the rules a password and an email meet; sign-in
//! attempts counted per address and per account.
//!
//! - `password` — the rule, and Argon2id hashing off the async threads;
//! - `tokens` — session tokens, kept only as their SHA-256;
//! - `cookie` — the `HttpOnly`, `SameSite=Lax` session cookie;
//! - `limiter` — sign-in attempts per window.

pub mod cookie;
pub mod jwt;
pub mod limiter;
pub mod password;
pub mod tokens;

use std::sync::Arc;

use hyper::HeaderMap;
use hyper::header::AUTHORIZATION;
use tokio::time::Duration;
use whisper_core::model::{Principal, UserId};
use whisper_core::store::StoreError;
use whisper_store::accounts::{Account, AccountStore, SessionInfo};

use self::limiter::Attempts;

/// How long a sign-in session lasts.
pub const SESSION_DAYS: i64 = 30;
/// Sign-in and registration attempts per address per window.
pub const ATTEMPTS_PER_ADDRESS: u32 = 20;
/// Failed sign-ins per account per window.
pub const FAILURES_PER_ACCOUNT: u32 = 10;
/// The window both are counted over.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most bytes an email may have (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// The server's accounts: where they are kept, and the attempt counters.
#[derive(Debug)]
pub struct Accounts {
    /// Where accounts and sessions are kept.
    pub store: Arc<dyn AccountStore>,
    /// Attempts per client address.
    pub per_address: Attempts,
    /// Failed attempts per account (by email).
    pub per_account: Attempts,
}

impl Accounts {
    /// Accounts kept in `store`.
    pub fn new(store: Arc<dyn AccountStore>) -> Accounts {
        Accounts {
            store,
            per_address: Attempts::new(ATTEMPTS_PER_ADDRESS, ATTEMPT_WINDOW),
            per_account: Attempts::new(FAILURES_PER_ACCOUNT, ATTEMPT_WINDOW),
        }
    }
}

/// Who is asking.
#[derive(Clone, Debug)]
pub enum Caller {
    /// A guest, by its token.
    Guest(UserId),
    /// A user of the embedding application, by its JWT.
    External(jwt::External),
    /// A signed-in account, by one of its sessions.
    Account {
        /// The account.
        account: Account,
        /// The session it presented.
        session: SessionInfo,
        /// Whether it came as the cookie (not a bearer token or `?token=`).
        by_cookie: bool,
    },
}

impl Caller {
    /// The caller's user id.
    pub fn user_id(&self) -> UserId {
        match self {
            Caller::Guest(user) => *user,
            Caller::External(external) => external.id.user_id(),
            Caller::Account { account, .. } => account.user_id,
        }
    }

    /// The caller as the policy sees it; a guest shows its guest name
    /// (it has no stored one).
    pub fn principal(&self) -> Principal {
        match self {
            Caller::Guest(user) => Principal::guest(*user, None),
            Caller::External(external) => Principal::external(external.id.clone(), external.name.clone()),
            Caller::Account { account, .. } => Principal::account(account.user_id, account.name.clone()),
        }
    }
}

/// Why a presented credential was refused.
#[derive(Debug)]
pub enum Refused {
    /// Not a token this server issued, a session that ended, or a JWT that
    /// does not verify: the sentence says which check failed.
    Invalid(std::borrow::Cow<'static, str>),
    /// The store could not tell.
    Store(StoreError),
}

/// Who `headers` and `query_token` say the caller is: `?token=` first, then
/// `Authorization: Bearer`, then the session cookie; `None` when nothing is
/// presented. A presented credential that is not valid is refused, never
/// taken for "nobody". The token's shape says what it is: a session's
/// (`ws1.`), a JWT (with `--jwt-secret`/`--jwt-public-key`), else a guest's.
pub async fn caller(
    state: &crate::state::AppState,
    headers: &HeaderMap,
    query_token: Option<String>,
) -> Result<Option<Caller>, Refused> {
    let (identity, accounts, now) = (&state.identity, state.accounts.as_ref(), now_ms());
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let (token, by_cookie) = match query_token.filter(|t| !t.is_empty()).or(bearer.filter(|t| !t.is_empty())) {
        Some(token) => (token, false),
        None => match cookie::token(headers) {
            Some(token) => (token, true),
            None => return Ok(None),
        },
    };
    if let Some(jwt) = &state.jwt
        && jwt::Jwt::looks_like(&token)
    {
        return jwt
            .verify(&token)
            .map(|external| Some(Caller::External(external)))
            .map_err(|why| Refused::Invalid(why.into()));
    }
    if !tokens::looks_like(&token) {
        return match identity.verify(&token) {
            Some(user) => Ok(Some(Caller::Guest(user))),
            None => Err(Refused::Invalid("the token is not valid here".into())),
        };
    }
    let Some(accounts) = accounts else { return Err(Refused::Invalid("this server has no accounts".into())) };
    match accounts.store.session(&tokens::digest(&token), now).await {
        Ok(Some((session, account))) => Ok(Some(Caller::Account { account, session, by_cookie })),
        Ok(None) => Err(Refused::Invalid("the session has ended: it expired, was revoked or signed out".into())),
        Err(e) => Err(Refused::Store(e)),
    }
}

/// Now, in Unix milliseconds: the clock sessions expire by.
pub fn now_ms() -> i64 {
    (whisper_core::model::now_millis().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The email as it is kept: trimmed and lower-cased, or why it is not one.
pub fn email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    let Some((local, domain)) = email.split_once('@') else { return Err("must be an email address (name@host)") };
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err("must be an email address (name@host)");
    }
    if email.len() > MAX_EMAIL_BYTES {
        return Err("must be at most 254 bytes");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters");
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_kept_lower_cased_and_checked() {
        assert_eq!(email("  Ada@Example.COM "), Ok("ada@example.com".into()));
        for bad in ["ada", "@example.com", "ada@", "a@b@c", "a b@c.d", &format!("{}@x.y", "a".repeat(260))] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }
}
