//! The shapes every HTTP answer takes: a complete body, a JSON value, and the
//! JSON error of protocol.md §11 (`{"error":{"code","message"}}`).

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;
use whisper_core::codec::{HttpError, HttpErrorBody, HttpErrorCode};

/// Every response body is a complete buffer.
pub type Body = Full<Bytes>;

/// A JSON response.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The error shape of protocol.md §11: `{"error":{"code","message"}}`,
/// with the status that goes with `code`.
pub fn error(code: HttpErrorCode, message: impl Into<String>) -> Response<Body> {
    let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, &HttpError { error: HttpErrorBody { code, message: message.into() } })
}
