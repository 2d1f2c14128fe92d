//! HTTP: the routing table. Each endpoint lives in its own module: the JSON
//! API ([`api`]), the WebSocket upgrade ([`upgrade`]), the web client's files
//! ([`static_files`]); [`response`] holds the shapes every answer takes.

pub mod api;
pub mod query;
pub mod rate_limit;
pub mod response;
pub mod static_files;
pub mod upgrade;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use whisper_core::codec::HttpErrorCode;

pub use self::response::{Body, error, json};
use crate::state::AppState;

/// The address a request is counted against (the read API's rate,
/// protocol.md §10): the peer's.
pub fn client_ip(peer: SocketAddr) -> IpAddr {
    peer.ip()
}

/// Routes one request.
pub async fn route(
    req: Request<Incoming>,
    state: Arc<AppState>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    // The read API answers within its address's rate (protocol.md §10).
    if req.method() == Method::GET && matches!(path.as_str(), "/v1/chat/messages" | "/v1/rooms") {
        if let Err(wait) = state.read_rate(client_ip(peer)) {
            return Ok(api::rate_limited(wait));
        }
    }
    let response = match (req.method(), path.as_str()) {
        (&Method::GET, "/v1/chat/ws") => upgrade::upgrade(req, state, peer),
        (&Method::GET, "/v1/chat/messages") => api::messages(req.uri().query(), &state).await,
        (&Method::GET, "/v1/rooms") => api::rooms(req.uri().query(), &state).await,
        (&Method::GET, "/healthz") => json(StatusCode::OK, &serde_json::json!({"status": "ok"})),
        (&Method::GET, "/readyz") => api::ready(&state).await,
        (&Method::GET, "/metrics") => {
            let mut res = Response::new(Full::new(Bytes::from(state.metrics.render())));
            res.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            res
        }
        (&Method::GET | &Method::HEAD, _) if !path.starts_with("/v1/") => static_files::serve(&path, &state).await,
        (_, "/v1/chat/ws" | "/v1/chat/messages" | "/v1/rooms" | "/healthz" | "/readyz" | "/metrics") => {
            error(HttpErrorCode::MethodNotAllowed, "only GET is allowed here")
        }
        _ => error(HttpErrorCode::NotFound, "no such endpoint"),
    };
    Ok(response)
}
