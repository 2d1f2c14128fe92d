//! HTTP routing and the JSON error shape shared by every endpoint (protocol.md §11).

pub mod api;
pub mod query;
pub mod static_files;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use whisper_core::codec::{HttpError, HttpErrorBody};

use crate::server::AppState;

/// Every response body is a complete buffer.
pub type Body = Full<Bytes>;

/// Routes one request.
pub async fn route(
    req: Request<Incoming>,
    state: Arc<AppState>,
    peer: SocketAddr,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let response = match (req.method(), path.as_str()) {
        (&Method::GET, "/v1/chat/ws") => crate::ws::upgrade(req, state, peer),
        (&Method::GET, "/v1/chat/messages") => api::messages(req.uri().query(), &state).await,
        (&Method::GET, "/v1/rooms") => api::rooms(&state).await,
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
            error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "only GET is allowed here")
        }
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
    };
    Ok(response)
}

/// A JSON response.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The error shape of protocol.md §11: `{"error":{"code","message"}}`.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response<Body> {
    json(status, &HttpError { error: HttpErrorBody { code: code.into(), message: message.into() } })
}
