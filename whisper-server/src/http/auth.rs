//! The account endpoints (protocol.md §14): register, sign in and out, the
//! caller's profile, and its sign-in sessions ("devices").
//!
//! Every answer is JSON; every refusal a JSON error that says what to fix.
//! Neither passwords nor tokens are logged. A state-changing request made
//! with the cookie must come from an allowed Origin (a page elsewhere cannot
//! sign a visitor out or rename them).

use std::net::IpAddr;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ORIGIN, RETRY_AFTER, SET_COOKIE, USER_AGENT};
use hyper::{HeaderMap, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::time::Duration;
use whisper_core::codec::HttpErrorCode;
use whisper_core::model::DisplayName;
use whisper_store::accounts::{Account, AccountError, NewAccount, NewSession, SessionInfo};

use super::api::store_error;
use super::response::{Body, error, json};
use crate::accounts::{self, Accounts, Caller, Refused, SESSION_DAYS, cookie, password, tokens};
use crate::state::AppState;

/// Most bytes an account request's body may have.
const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Deserialize)]
struct Register {
    email: String,
    password: String,
    name: String,
    #[serde(default)]
    guest_token: Option<String>,
}

#[derive(Deserialize)]
struct Login {
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct Patch {
    name: Option<String>,
}

/// The answer to register and login.
#[derive(Serialize)]
struct SignedIn<'a> {
    user_id: String,
    name: &'a str,
    email: &'a str,
    session_id: &'a str,
    /// For programmatic clients (`Authorization: Bearer`); a browser uses
    /// the cookie set with it and may ignore this.
    token: &'a str,
}

#[derive(Serialize)]
struct Me<'a> {
    user_id: String,
    name: &'a str,
    email: &'a str,
    created_at: i64,
}

#[derive(Serialize)]
struct Device<'a> {
    id: &'a str,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
    user_agent: Option<&'a str>,
    current: bool,
}

#[derive(Serialize)]
struct Devices<'a> {
    sessions: Vec<Device<'a>>,
}

fn me(account: &Account) -> Response<Body> {
    json(
        StatusCode::OK,
        &Me {
            user_id: account.user_id.to_string(),
            name: account.name.as_str(),
            email: &account.email,
            created_at: account.created_at,
        },
    )
}

fn no_accounts() -> Response<Body> {
    error(HttpErrorCode::NotFound, "this server keeps no accounts")
}

fn too_many(wait: Duration, what: &str) -> Response<Body> {
    let secs = wait.as_secs().max(1);
    let mut res = error(HttpErrorCode::RateLimited, format!("too many {what}; retry in {secs} s"));
    res.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    res
}

/// Reads a JSON body of at most [`MAX_BODY_BYTES`].
async fn body<T: for<'de> Deserialize<'de>>(req: Request<Incoming>) -> Result<T, Response<Body>> {
    let bytes = match Limited::new(req.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Err(error(
                HttpErrorCode::InvalidRequest,
                format!("the body must be at most {MAX_BODY_BYTES} bytes"),
            ));
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| error(HttpErrorCode::InvalidRequest, format!("the body: {e}")))
}

/// Whether the server is reached over HTTPS (so the cookie is `Secure`).
fn secure(state: &AppState) -> bool {
    state.config.public_origin.as_deref().is_some_and(|o| o.starts_with("https://"))
}

/// A refusal for a request whose Origin may not act with the cookie.
fn foreign_origin(headers: &HeaderMap, state: &AppState) -> Option<Response<Body>> {
    let has_origin = headers.get(ORIGIN).is_some();
    (has_origin && !super::upgrade::origin_allowed(headers, &state.config))
        .then(|| error(HttpErrorCode::Forbidden, "this Origin may not act on accounts here"))
}

/// Starts a session for `account` and answers with its cookie.
async fn sign_in(
    state: &AppState,
    accounts: &Accounts,
    account: &Account,
    headers: &HeaderMap,
    status: StatusCode,
) -> Response<Body> {
    let (Ok((token, hash)), Ok(id)) = (tokens::issue(), tokens::session_id()) else {
        return error(HttpErrorCode::Internal, "no randomness for a session token");
    };
    let now = accounts::now_ms();
    let user_agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| truncate(ua, 256).to_owned());
    let session = NewSession {
        id: id.clone(),
        token_hash: hash,
        user_id: account.user_id,
        created_at: now,
        expires_at: now + SESSION_DAYS * 86_400_000,
        user_agent,
    };
    if let Err(e) = accounts.store.start_session(session).await {
        return store_error(&e);
    }
    let body = SignedIn {
        user_id: account.user_id.to_string(),
        name: account.name.as_str(),
        email: &account.email,
        session_id: &id,
        token: &token,
    };
    let mut res = json(status, &body);
    if let Ok(value) = HeaderValue::from_str(&cookie::set(&token, SESSION_DAYS * 86_400, secure(state))) {
        res.headers_mut().insert(SET_COOKIE, value);
    }
    res
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// What register and login check first: accounts kept, an allowed Origin,
/// an attempt left for the address; then the body.
async fn attempt<'s, T: for<'de> Deserialize<'de>>(
    req: Request<Incoming>,
    state: &'s AppState,
    client: IpAddr,
) -> Result<(&'s Accounts, HeaderMap, T), Response<Body>> {
    let Some(accounts) = &state.accounts else { return Err(no_accounts()) };
    let headers = req.headers().clone();
    if let Some(refusal) = foreign_origin(&headers, state) {
        return Err(refusal);
    }
    if let Err(wait) = accounts.per_address.take(&client.to_string()) {
        return Err(too_many(wait, "sign-in attempts from this address"));
    }
    Ok((accounts, headers, body(req).await?))
}

/// `POST /v1/auth/register {email, password, name, guest_token?}`.
pub async fn register(req: Request<Incoming>, state: &AppState, client: IpAddr) -> Response<Body> {
    let (accounts, headers, form) = match attempt::<Register>(req, state, client).await {
        Ok(parts) => parts,
        Err(res) => return res,
    };
    let email = match accounts::email(&form.email) {
        Ok(email) => email,
        Err(why) => return error(HttpErrorCode::InvalidRequest, format!("email: {why}")),
    };
    let name = match DisplayName::parse(&form.name) {
        Ok(name) => name,
        Err(e) => return error(HttpErrorCode::InvalidRequest, format!("name: {e}")),
    };
    if let Some(rule) = password::weakness(&form.password, &email, name.as_str()) {
        return error(HttpErrorCode::WeakPassword, format!("password: {rule}"));
    }
    // A guest that registers keeps its id, and with it everything it posted.
    let user_id = match form.guest_token.as_deref().filter(|t| !t.is_empty()) {
        None => whisper_core::model::UserId::random(),
        Some(token) => match state.identity.verify(token) {
            Some(user) => user,
            None => return error(HttpErrorCode::Unauthorized, "guest_token: is not a guest token of this server"),
        },
    };
    let password_hash = match password::hash(form.password).await {
        Ok(hash) => hash,
        Err(e) => {
            tracing::error!(error = %e, "password hashing failed");
            return error(HttpErrorCode::Internal, "could not hash the password");
        }
    };
    let account = Account { user_id, email, name, created_at: accounts::now_ms() };
    match accounts.store.create(NewAccount { account, password_hash }).await {
        Ok(account) => {
            tracing::info!(user = %account.user_id, "account registered");
            sign_in(state, accounts, &account, &headers, StatusCode::CREATED).await
        }
        Err(AccountError::EmailTaken) => error(HttpErrorCode::EmailTaken, "email: an account with this email exists"),
        Err(AccountError::NameTaken) => error(HttpErrorCode::NameTaken, "name: an account with this name exists"),
        Err(AccountError::UserTaken) => {
            error(HttpErrorCode::EmailTaken, "guest_token: this guest has registered already; sign in instead")
        }
        Err(AccountError::Store(e)) => store_error(&e),
    }
}

/// `POST /v1/auth/login {email, password}`.
pub async fn login(req: Request<Incoming>, state: &AppState, client: IpAddr) -> Response<Body> {
    let (accounts, headers, form) = match attempt::<Login>(req, state, client).await {
        Ok(parts) => parts,
        Err(res) => return res,
    };
    let email = accounts::email(&form.email).unwrap_or_default();
    if let Err(wait) = accounts.per_account.take(&email) {
        return too_many(wait, "failed sign-ins for this account");
    }
    let found = match accounts.store.by_email(&email).await {
        Ok(found) => found,
        Err(e) => return store_error(&e),
    };
    let (account, hash) = found.map_or((None, None), |(a, h)| (Some(a), Some(h)));
    // Verified even without an account, so that both answers take as long.
    let matches = password::verify(form.password, hash).await;
    match account.filter(|_| matches) {
        Some(account) => {
            accounts.per_account.clear(&email);
            sign_in(state, accounts, &account, &headers, StatusCode::OK).await
        }
        None => error(HttpErrorCode::InvalidCredentials, "the email or the password is wrong"),
    }
}

/// The signed-in caller, or the answer to give instead.
async fn signed_in(
    headers: &HeaderMap,
    query: Option<&str>,
    state: &AppState,
) -> Result<(Account, SessionInfo), Response<Body>> {
    let token = super::query::param(query, "token");
    match accounts::caller(state, headers, token).await {
        Ok(Some(Caller::Account { account, session, .. })) => Ok((account, session)),
        Ok(Some(Caller::Guest(_) | Caller::External(_)) | None) => {
            Err(error(HttpErrorCode::Unauthorized, "sign in first: only an account has a profile here"))
        }
        Err(Refused::Invalid(why)) => Err(error(HttpErrorCode::Unauthorized, why)),
        Err(Refused::Store(e)) => Err(store_error(&e)),
    }
}

/// `POST /v1/auth/logout`: ends the session presented, closes its sockets
/// and clears the cookie.
pub async fn logout(headers: &HeaderMap, query: Option<&str>, state: &AppState) -> Response<Body> {
    let Some(accounts) = &state.accounts else { return no_accounts() };
    if let Some(refusal) = foreign_origin(headers, state) {
        return refusal;
    }
    let (account, session) = match signed_in(headers, query, state).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    if let Err(e) = accounts.store.end_session(account.user_id, &session.id).await {
        return store_error(&e);
    }
    state.chat.revoke(account.user_id, &session.id).await;
    let mut res = Response::new(Body::default());
    *res.status_mut() = StatusCode::NO_CONTENT;
    if let Ok(value) = HeaderValue::from_str(&cookie::clear(secure(state))) {
        res.headers_mut().insert(SET_COOKIE, value);
    }
    res
}

/// `GET /v1/me`.
pub async fn get_me(headers: &HeaderMap, query: Option<&str>, state: &AppState) -> Response<Body> {
    match signed_in(headers, query, state).await {
        Ok((account, _)) => me(&account),
        Err(res) => res,
    }
}

/// `PATCH /v1/me {name}`: renames the account, and shows the new name on
/// its live connections, on every node.
pub async fn patch_me(req: Request<Incoming>, state: &AppState) -> Response<Body> {
    let Some(accounts) = &state.accounts else { return no_accounts() };
    if let Some(refusal) = foreign_origin(req.headers(), state) {
        return refusal;
    }
    let (account, _) = match signed_in(req.headers(), req.uri().query(), state).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    let patch: Patch = match body(req).await {
        Ok(patch) => patch,
        Err(res) => return res,
    };
    let Some(name) = patch.name else { return me(&account) };
    let name = match DisplayName::parse(&name) {
        Ok(name) => name,
        Err(e) => return error(HttpErrorCode::InvalidRequest, format!("name: {e}")),
    };
    match accounts.store.rename(account.user_id, &name).await {
        Ok(Some(account)) => {
            state.chat.rename(account.user_id, account.name.clone()).await;
            me(&account)
        }
        Ok(None) => error(HttpErrorCode::Unauthorized, "sign in first"),
        Err(AccountError::NameTaken) => error(HttpErrorCode::NameTaken, "name: an account with this name exists"),
        Err(AccountError::Store(e)) => store_error(&e),
        Err(other) => error(HttpErrorCode::Internal, other.to_string()),
    }
}

/// `GET /v1/me/sessions`: the account's devices, most recently used first.
pub async fn sessions(headers: &HeaderMap, query: Option<&str>, state: &AppState) -> Response<Body> {
    let Some(accounts) = &state.accounts else { return no_accounts() };
    let (account, current) = match signed_in(headers, query, state).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    let list = match accounts.store.sessions(account.user_id, accounts::now_ms()).await {
        Ok(list) => list,
        Err(e) => return store_error(&e),
    };
    let sessions = list
        .iter()
        .map(|s| Device {
            id: &s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            user_agent: s.user_agent.as_deref(),
            current: s.id == current.id,
        })
        .collect();
    json(StatusCode::OK, &Devices { sessions })
}

/// `DELETE /v1/me/sessions/{id}`: ends that session and closes its sockets.
pub async fn revoke(headers: &HeaderMap, query: Option<&str>, id: &str, state: &AppState) -> Response<Body> {
    let Some(accounts) = &state.accounts else { return no_accounts() };
    if let Some(refusal) = foreign_origin(headers, state) {
        return refusal;
    }
    let (account, _) = match signed_in(headers, query, state).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    match accounts.store.end_session(account.user_id, id).await {
        Ok(true) => {
            state.chat.revoke(account.user_id, id).await;
            let mut res = Response::new(Body::default());
            *res.status_mut() = StatusCode::NO_CONTENT;
            res
        }
        Ok(false) => error(HttpErrorCode::NotFound, "no such session of this account"),
        Err(e) => store_error(&e),
    }
}
