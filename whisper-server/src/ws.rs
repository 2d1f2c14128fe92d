//! The WebSocket endpoint: validates the upgrade (handshake headers, Origin,
//! token, per-IP limit), answers 101, and runs a core session over the socket.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, HOST, HeaderMap, HeaderValue, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE,
};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes, error::CapacityError};
use whisper_core::model::{DisplayName, RoomName, UserId};
use whisper_core::session::{self, Connection, Inbound, Outgoing};

use crate::http::query::param;
use crate::http::{Body, error};
use crate::server::{AppState, IpPermit};

/// Frames and messages over this close the socket with 1009 (protocol.md §5, §10).
const MAX_FRAME: usize = 64 * 1024;

fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
        // Small buffers keep an idle socket cheap. Client frames are small
        // (a message is a few hundred bytes); a larger one grows the buffer
        // and is read in 512-byte steps, at most 128 reads for the largest.
        .read_buffer_size(512)
        .write_buffer_size(8 * 1024)
        // Must hold the write buffer plus one largest frame.
        .max_write_buffer_size(8 * 1024 + 2 * MAX_FRAME)
}

/// Answers `GET /v1/chat/ws`.
pub fn upgrade(mut req: Request<Incoming>, state: Arc<AppState>, peer: SocketAddr) -> Response<Body> {
    // The token first: a browser cannot see why an upgrade failed, so a
    // client may check its token with a plain GET (401 here, 426 otherwise).
    let query = req.uri().query();
    let user = match param(query, "token").filter(|t| !t.is_empty()) {
        None => UserId::random(),
        Some(token) => match state.identity.verify(&token) {
            Some(user) => user,
            None => {
                state.metrics.connections_refused.inc();
                tracing::info!(%peer, "refused: bad token");
                return error(StatusCode::UNAUTHORIZED, "unauthorized", "the token is not valid here");
            }
        },
    };
    let headers = req.headers();
    if !has_token(headers, CONNECTION, "upgrade") || !has_token(headers, UPGRADE, "websocket") {
        return error(StatusCode::UPGRADE_REQUIRED, "upgrade_required", "this endpoint speaks WebSocket only");
    }
    if headers.get(SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        let mut res = error(StatusCode::BAD_REQUEST, "bad_request", "Sec-WebSocket-Version must be 13");
        res.headers_mut().insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return res;
    }
    let Some(key) = headers.get(SEC_WEBSOCKET_KEY).filter(|k| k.len() == 24) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "Sec-WebSocket-Key is missing or malformed");
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    if !origin_allowed(headers, &state.config.allowed_origins) {
        state.metrics.connections_refused.inc();
        tracing::info!(%peer, origin = ?headers.get(ORIGIN), "refused: origin not allowed");
        return error(StatusCode::FORBIDDEN, "forbidden", "this Origin may not open a WebSocket here");
    }
    // No `room` joins the lobby; an empty `room=` joins nothing.
    let room = match param(query, "room") {
        None => Some(RoomName::lobby()),
        Some(r) if r.is_empty() => None,
        Some(r) => match RoomName::parse(&r) {
            Ok(room) => Some(room),
            Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request", format!("room: {e}")),
        },
    };
    let name = match param(query, "name").filter(|n| !n.trim().is_empty()) {
        None => None,
        Some(n) => match DisplayName::parse(&n) {
            Ok(name) => Some(name),
            Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request", format!("name: {e}")),
        },
    };
    let Some(permit) = state.ip_permit(peer.ip()) else {
        state.metrics.connections_refused.inc();
        tracing::info!(%peer, "refused: too many connections from this address");
        return error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many connections from this address");
    };
    let conn = Connection { user_id: user, token: Some(state.identity.issue(user)), name, room };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(socket_config())).await;
                serve_socket(socket, state, conn, peer, permit).await;
            }
            Err(e) => tracing::debug!(%peer, error = %e, "upgrade failed"),
        }
    });
    let mut res = Response::new(Body::default());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        h.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    res
}

/// Runs the session until it ends, translating between WebSocket messages
/// and the session's frames.
async fn serve_socket<S>(
    socket: WebSocketStream<S>,
    state: Arc<AppState>,
    conn: Connection,
    peer: SocketAddr,
    permit: IpPermit,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let _session = state.session_started();
    let user = conn.user_id;
    tracing::info!(%peer, %user, "connected");
    let (sink, stream) = socket.split();
    let inbound = Box::pin(futures_util::stream::unfold(stream, |mut stream| async move {
        loop {
            let inbound = match stream.next().await? {
                Ok(Message::Text(text)) => Inbound::Text(text),
                Ok(Message::Binary(_)) => Inbound::Binary,
                Ok(Message::Pong(_)) => Inbound::Pong,
                // tungstenite answers pings itself.
                Ok(Message::Ping(_) | Message::Frame(_)) => continue,
                Ok(Message::Close(_)) => return None,
                Err(WsError::Capacity(CapacityError::MessageTooLong { .. })) => Inbound::TooLarge,
                Err(WsError::Utf8(_)) => Inbound::InvalidUtf8,
                Err(_) => return None,
            };
            return Some((inbound, stream));
        }
    }));
    let outgoing = sink.with_flat_map(|out: Outgoing| futures_util::stream::iter(WireFrames::of(out)));
    let mut stop = state.shutdown_signal();
    let shutdown = async move {
        let _ = stop.wait_for(|stopping| *stopping).await;
    };
    let end = session::run(state.chat.clone(), conn, inbound, Box::pin(outgoing), shutdown).await;
    drop(permit);
    tracing::info!(%peer, %user, end = ?end, "disconnected");
}

/// Server frames go out in WebSocket fragments of at most this many bytes:
/// a socket's write buffer keeps the capacity of the largest frame it ever
/// held, so without fragments one big presence list or batch would stay
/// allocated for the life of every connection that received it.
const FRAGMENT: usize = 4 * 1024;

/// The WebSocket frames of one `Outgoing`, made without copying or
/// allocating: a shared frame's fragments are slices of its bytes.
enum WireFrames {
    /// The fragments of a text message still to send, from byte `at`.
    Text { bytes: Bytes, at: usize },
    /// A control frame, until it is taken.
    One(Option<Message>),
}

impl WireFrames {
    fn of(out: Outgoing) -> Self {
        match out {
            Outgoing::Frame(frame) => WireFrames::Text { bytes: Bytes::from(frame), at: 0 },
            Outgoing::Ping => WireFrames::One(Some(Message::Ping(Bytes::new()))),
            Outgoing::Close { code, reason } => WireFrames::One(Some(Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: Utf8Bytes::from(&*reason),
            })))),
        }
    }
}

impl Iterator for WireFrames {
    type Item = Result<Message, WsError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            WireFrames::One(message) => message.take().map(Ok),
            WireFrames::Text { bytes, at } => {
                // An empty message is still one (final) frame.
                if *at > 0 && *at >= bytes.len() {
                    return None;
                }
                let end = bytes.len().min(*at + FRAGMENT);
                let opcode = if *at == 0 { Data::Text } else { Data::Continue };
                // The bytes were encoded from a `String`: valid UTF-8 as a
                // whole, which is what RFC 6455 asks of a fragmented message
                // (`Message::Text` would check it again for every recipient).
                let frame = Frame::message(bytes.slice(*at..end), OpCode::Data(opcode), end == bytes.len());
                *at = end.max(1);
                Some(Ok(Message::Frame(frame)))
            }
        }
    }
}

/// Whether a comma-separated header holds `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: hyper::header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Browsers always send Origin: it must be this server's own (same host as
/// the request) or on the allow-list. Clients without Origin are not
/// browsers, and cannot be tricked by a page into connecting.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    if allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origins() {
        let none: Vec<String> = Vec::new();
        assert!(origin_allowed(&headers(&[("host", "127.0.0.1:8080")]), &none), "no Origin: not a browser");
        assert!(origin_allowed(&headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")]), &none));
        assert!(!origin_allowed(&headers(&[("host", "127.0.0.1:8080"), ("origin", "http://evil.example")]), &none));
        let list = vec!["https://chat.example.com".to_string()];
        assert!(origin_allowed(&headers(&[("host", "10.0.0.1"), ("origin", "https://chat.example.com")]), &list));
        assert!(!origin_allowed(&headers(&[("host", "10.0.0.1"), ("origin", "https://chat.example.co")]), &list));
    }

    #[test]
    fn large_frames_are_fragmented_without_copying() {
        let text = "é".repeat(FRAGMENT); // 2 bytes each: fragments split characters
        let frame = Bytes::from(text.clone());
        let frames: Vec<Frame> = WireFrames::Text { bytes: frame.clone(), at: 0 }
            .map(|m| match m.unwrap() {
                Message::Frame(f) => f,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].header().opcode, OpCode::Data(Data::Text));
        assert!(!frames[0].header().is_final);
        assert_eq!(frames[1].header().opcode, OpCode::Data(Data::Continue));
        assert!(frames[1].header().is_final);
        let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload().to_vec()).collect();
        assert_eq!(joined, text.as_bytes());
        let small: Vec<_> = WireFrames::Text { bytes: Bytes::from_static(b"{}"), at: 0 }.collect();
        assert_eq!(small.len(), 1);
        let empty: Vec<_> = WireFrames::Text { bytes: Bytes::new(), at: 0 }.collect();
        assert_eq!(empty.len(), 1, "an empty message is one final frame");
    }

    #[test]
    fn connection_header_tokens() {
        assert!(has_token(&headers(&[("connection", "keep-alive, Upgrade")]), CONNECTION, "upgrade"));
        assert!(!has_token(&headers(&[("connection", "keep-alive")]), CONNECTION, "upgrade"));
    }
}
