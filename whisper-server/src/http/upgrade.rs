//! `GET /v1/chat/ws`: checks the upgrade (token, handshake headers, Origin,
//! room and name, the per-IP limit), answers 101, and hands the upgraded
//! socket to [`crate::socket`]. Every refusal is a JSON
//! error before the upgrade (protocol.md §1).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, HOST, HeaderMap, HeaderValue, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE,
};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use whisper_core::codec::HttpErrorCode;
use whisper_core::model::{DisplayName, RoomName, UserId};
use whisper_core::session::Connection;

use super::query::param;
use super::response::{Body, error};
use crate::socket;
use crate::state::AppState;

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
                return error(HttpErrorCode::Unauthorized, "the token is not valid here");
            }
        },
    };
    let headers = req.headers();
    if !has_token(headers, CONNECTION, "upgrade") || !has_token(headers, UPGRADE, "websocket") {
        return error(HttpErrorCode::UpgradeRequired, "this endpoint speaks WebSocket only");
    }
    if headers.get(SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) != Some(b"13") {
        let mut res = error(HttpErrorCode::InvalidRequest, "Sec-WebSocket-Version must be 13");
        res.headers_mut().insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return res;
    }
    let Some(key) = headers.get(SEC_WEBSOCKET_KEY).filter(|k| k.len() == 24) else {
        return error(HttpErrorCode::InvalidRequest, "Sec-WebSocket-Key is missing or malformed");
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    if !origin_allowed(headers, &state.config.allowed_origins) {
        state.metrics.connections_refused.inc();
        tracing::info!(%peer, origin = ?headers.get(ORIGIN), "refused: origin not allowed");
        return error(HttpErrorCode::Forbidden, "this Origin may not open a WebSocket here");
    }
    // No `room` joins the lobby; an empty `room=` joins nothing.
    let room = match param(query, "room") {
        None => Some(RoomName::lobby()),
        Some(r) if r.is_empty() => None,
        Some(r) => match RoomName::parse(&r) {
            Ok(room) => Some(room),
            Err(e) => return error(HttpErrorCode::InvalidRequest, format!("room: {e}")),
        },
    };
    let name = match param(query, "name").filter(|n| !n.trim().is_empty()) {
        None => None,
        Some(n) => match DisplayName::parse(&n) {
            Ok(name) => Some(name),
            Err(e) => return error(HttpErrorCode::InvalidRequest, format!("name: {e}")),
        },
    };
    let Some(permit) = state.ip_permit(peer.ip()) else {
        state.metrics.connections_refused.inc();
        tracing::info!(%peer, "refused: too many connections from this address");
        return error(HttpErrorCode::RateLimited, "too many connections from this address");
    };
    let conn =
        Connection { user_id: user, token: Some(state.identity.issue(user)), name, room, address: Some(peer.ip()) };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(socket::config()))
                        .await;
                socket::serve(socket, state, conn, peer, permit).await;
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
    fn connection_header_tokens() {
        assert!(has_token(&headers(&[("connection", "keep-alive, Upgrade")]), CONNECTION, "upgrade"));
        assert!(!has_token(&headers(&[("connection", "keep-alive")]), CONNECTION, "upgrade"));
    }
}
