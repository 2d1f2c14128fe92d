//! HTTP: the routing table. Each endpoint lives in its own module: the JSON
//! API ([`api`]), the WebSocket upgrade ([`upgrade`]), the web client's files
//! ([`static_files`]); [`response`] holds the shapes every answer takes and
//! [`headers`] the security headers they all carry.

pub mod api;
pub mod auth;
pub mod files;
pub mod headers;
pub mod query;
pub mod range;
pub mod response;
pub mod rooms;
pub mod search;
pub mod static_files;
pub mod upgrade;

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use whisper_core::codec::HttpErrorCode;

pub use self::response::{Body, error, json};
use crate::admission::{Admitted, Listener, RETRY_AFTER_SECS};
use crate::permits::ConnectionPermit;
use crate::state::AppState;

/// The most bytes a request's line and headers may take; hyper answers a
/// longer one with a bare 431 and closes the connection (protocol.md §10).
pub const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;

/// Routes one request of an admitted connection (`permit` is the
/// connection's, for a WebSocket to keep).
pub async fn route(
    req: Request<Incoming>,
    state: Arc<AppState>,
    conn: Admitted,
    permit: Arc<ConnectionPermit>,
) -> Result<Response<Body>, Infallible> {
    let mut response = answer(req, state, conn, permit).await;
    headers::secure(&mut response);
    Ok(response)
}

/// The answer to one request, before the headers every answer carries.
async fn answer(
    req: Request<Incoming>,
    state: Arc<AppState>,
    conn: Admitted,
    permit: Arc<ConnectionPermit>,
) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let metrics_here = match conn.listener {
        Listener::Metrics => return metrics_only(req.method(), &path, &state),
        Listener::Main => state.config.metrics_bind.is_none(),
    };
    if conn.reserve && !matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics") {
        // The health reserve is for health checks; everyone else waits.
        return too_many_connections();
    }
    if let Err(problem) = query::check(req.uri().query()) {
        return error(HttpErrorCode::InvalidRequest, problem);
    }
    // The read API answers within its client's rate (protocol.md §10).
    if req.method() == Method::GET
        && matches!(path.as_str(), "/v1/chat/messages" | "/v1/chat/events" | "/v1/rooms" | "/v1/search")
    {
        let client = crate::client_addr::client_addr(req.headers(), conn.peer, &state.config.trusted_proxies);
        if let Err(wait) = state.read_rate(client) {
            return api::rate_limited(wait);
        }
    }
    let client = crate::client_addr::client_addr(req.headers(), conn.peer, &state.config.trusted_proxies);
    if let Some(id) = path.strip_prefix("/v1/me/sessions/") {
        return match *req.method() {
            Method::DELETE => auth::revoke(req.headers(), req.uri().query(), id, &state).await,
            _ => error(HttpErrorCode::MethodNotAllowed, "only DELETE is allowed here"),
        };
    }
    // Seed 003's form, `/v1/chat/ws/<room>`: the room in the path, like
    // `?room=` (protocol.md §1); a room with a `/` may be written as is or
    // as `%2F`.
    if let Some(room) = path.strip_prefix("/v1/chat/ws/") {
        return match (req.method(), query::decode_path(room)) {
            (&Method::GET, Some(room)) => upgrade::upgrade(req, state, conn.peer, permit, Some(room)).await,
            (&Method::GET, None) => {
                error(HttpErrorCode::InvalidRequest, "room: malformed percent-escape (or not UTF-8)")
            }
            _ => error(HttpErrorCode::MethodNotAllowed, "only GET is allowed here"),
        };
    }
    if let Some(rest) = path.strip_prefix("/v1/rooms/") {
        return rooms::one(req, rest, &state).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/files/") {
        return files::serve(&req, rest, &state).await;
    }
    match (req.method(), path.as_str()) {
        (&Method::GET, "/v1/chat/ws") => upgrade::upgrade(req, state, conn.peer, permit, None).await,
        (&Method::POST, "/v1/auth/register") => auth::register(req, &state, client).await,
        (&Method::POST, "/v1/auth/login") => auth::login(req, &state, client).await,
        (&Method::POST, "/v1/auth/logout") => auth::logout(req.headers(), req.uri().query(), &state).await,
        (&Method::GET, "/v1/me") => auth::get_me(req.headers(), req.uri().query(), &state).await,
        (&Method::PATCH, "/v1/me") => auth::patch_me(req, &state).await,
        (&Method::GET, "/v1/me/sessions") => auth::sessions(req.headers(), req.uri().query(), &state).await,
        (_, "/v1/auth/register" | "/v1/auth/login" | "/v1/auth/logout") => {
            error(HttpErrorCode::MethodNotAllowed, "only POST is allowed here")
        }
        (_, "/v1/me") => error(HttpErrorCode::MethodNotAllowed, "only GET and PATCH are allowed here"),
        (_, "/v1/me/sessions") => error(HttpErrorCode::MethodNotAllowed, "only GET is allowed here"),
        (&Method::GET, "/v1/chat/messages") => api::messages(req.headers(), req.uri().query(), &state).await,
        (&Method::GET, "/v1/chat/events") => api::events(req.headers(), req.uri().query(), &state).await,
        (&Method::GET, "/v1/rooms") => rooms::list(req.headers(), req.uri().query(), &state).await,
        (&Method::POST, "/v1/rooms") => rooms::create(req, &state).await,
        (&Method::POST, "/v1/dm") => rooms::direct(req, &state).await,
        (&Method::GET, "/v1/users") => rooms::user_by_name(req.headers(), req.uri().query(), &state).await,
        (&Method::GET, "/v1/search") => search::search(req.headers(), req.uri().query(), &state).await,
        (&Method::POST, "/v1/files") => files::upload(req, &state, client).await,
        (_, "/v1/files") => error(HttpErrorCode::MethodNotAllowed, "only POST is allowed here"),
        (_, "/v1/rooms") => error(HttpErrorCode::MethodNotAllowed, "only GET and POST are allowed here"),
        (_, "/v1/dm") => error(HttpErrorCode::MethodNotAllowed, "only POST is allowed here"),
        (&Method::GET, "/healthz") => healthy(),
        (&Method::GET, "/readyz") => api::ready(&state).await,
        // Probes may ask with HEAD: the same status, no body.
        (&Method::HEAD, "/healthz") => without_body(healthy()),
        (&Method::HEAD, "/readyz") => without_body(api::ready(&state).await),
        (&Method::GET, "/metrics") if metrics_here => metrics(&state),
        (&Method::GET, "/metrics") => error(HttpErrorCode::NotFound, "metrics are served on another address"),
        (&Method::GET | &Method::HEAD, _) if !path.starts_with("/v1/") => {
            let accept = req.headers().get(hyper::header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
            static_files::serve(&path, accept, &state).await
        }
        (
            _,
            "/v1/chat/ws" | "/v1/chat/messages" | "/v1/chat/events" | "/v1/users" | "/v1/search" | "/healthz"
            | "/readyz" | "/metrics",
        ) => error(HttpErrorCode::MethodNotAllowed, "only GET is allowed here"),
        _ => error(HttpErrorCode::NotFound, "no such endpoint"),
    }
}

/// The `--metrics-bind` listener: `/metrics` and nothing else.
fn metrics_only(method: &Method, path: &str, state: &AppState) -> Response<Body> {
    match (method, path) {
        (&Method::GET, "/metrics") => metrics(state),
        (_, "/metrics") => error(HttpErrorCode::MethodNotAllowed, "only GET is allowed here"),
        _ => error(HttpErrorCode::NotFound, "this address serves /metrics only"),
    }
}

/// `GET /metrics`: the Prometheus text exposition.
fn metrics(state: &AppState) -> Response<Body> {
    let mut res = Response::new(response::full(state.metrics.render()));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    res
}

/// 503 `too_many_connections`, with `Retry-After`.
pub fn too_many_connections() -> Response<Body> {
    let mut res = error(HttpErrorCode::TooManyConnections, "the server is at its connection limit; retry later");
    res.headers_mut().insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    res
}

/// `GET /healthz`: the process answers.
fn healthy() -> Response<Body> {
    json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// The answer to a HEAD request: the GET answer's status and headers, no body.
fn without_body(mut response: Response<Body>) -> Response<Body> {
    *response.body_mut() = Body::default();
    response
}
