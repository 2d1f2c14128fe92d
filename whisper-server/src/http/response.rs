//! The shapes every HTTP answer takes: a complete body, a JSON value, and the
//! JSON error of protocol.md §11 (`{"error":{"code","message"}}`).

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde::Serialize;
use whisper_core::codec::{HttpError, HttpErrorBody, HttpErrorCode};

/// A response body: a complete buffer for nearly every answer, a stream
/// for a file (protocol.md §17), read as the client takes it.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// A body of `bytes`, complete.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A body streamed from a file store.
pub fn streamed(body: whisper_core::files::ByteStream) -> Body {
    StreamBody::new(body.map_ok(Frame::data)).boxed_unsync()
}

/// A JSON response.
pub fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut res = Response::new(full(body));
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
