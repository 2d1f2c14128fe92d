//! `GET /v1/chat/ws`: checks the upgrade (token, handshake headers, HTTP/1.1
//! with a Host, Origin, room and name, the per-IP limit of the client behind
//! a trusted proxy), answers 101, and hands the upgraded socket, with its
//! connection's permits, to [`crate::socket`]. Every refusal is a JSON
//! error before the upgrade (protocol.md §1).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::header::{
    CONNECTION, HOST, HeaderMap, HeaderValue, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE,
};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use whisper_core::codec::HttpErrorCode;
use whisper_core::model::{DisplayName, PrincipalKind, RoomName, UserId};
use whisper_core::session::Connection;

use super::query::param;
use super::response::{Body, error};
use crate::accounts::{self, Caller, Refused};
use crate::client_addr::client_addr;
use crate::permits::{ConnectionPermit, SessionPermits};
use crate::socket;
use crate::state::AppState;

/// Answers `GET /v1/chat/ws` (or `/v1/chat/ws/<room>`, the decoded room
/// given as `path_room`) on a connection holding `permit`.
pub async fn upgrade(
    mut req: Request<Incoming>,
    state: Arc<AppState>,
    peer: SocketAddr,
    permit: Arc<ConnectionPermit>,
    path_room: Option<String>,
) -> Response<Body> {
    // The token first: a browser cannot see why an upgrade failed, so a
    // client may check its token with a plain GET (401 here, 426 otherwise).
    let query = req.uri().query().map(str::to_owned);
    let query = query.as_deref();
    // `?token=`, else a bearer token, else the session cookie (protocol.md
    // §14); nothing at all is a new guest.
    let caller = match accounts::caller(&state, req.headers(), param(query, "token")).await {
        Ok(caller) => caller,
        Err(Refused::Invalid(why)) => {
            state.metrics.connections_refused.inc();
            tracing::info!(%peer, "refused: bad token");
            return error(HttpErrorCode::Unauthorized, why);
        }
        Err(Refused::Store(e)) => return super::api::store_error(&e),
    };
    let headers = req.headers();
    if !has_token(headers, CONNECTION, "upgrade") || !has_token(headers, UPGRADE, "websocket") {
        return error(HttpErrorCode::UpgradeRequired, "this endpoint speaks WebSocket only");
    }
    // RFC 6455 §4.1: an HTTP/1.1 GET with a Host.
    if req.version() != Version::HTTP_11 {
        return error(HttpErrorCode::InvalidRequest, "a WebSocket upgrade needs HTTP/1.1");
    }
    if headers.get(HOST).is_none_or(HeaderValue::is_empty) {
        return error(HttpErrorCode::InvalidRequest, "a WebSocket upgrade needs a Host header");
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
    if !origin_allowed(headers, &state.config) {
        state.metrics.connections_refused.inc();
        tracing::info!(%peer, origin = ?headers.get(ORIGIN), "refused: origin not allowed");
        return error(HttpErrorCode::Forbidden, "this Origin may not open a WebSocket here");
    }
    // No `room` joins the lobby; an empty `room=` joins nothing; a room in
    // the path is joined as if it were `?room=`, and may not disagree with one.
    let asked = match (path_room, param(query, "room")) {
        (Some(path), Some(query)) if path != query => {
            return error(HttpErrorCode::InvalidRequest, "room: named twice, in the path and as ?room=, differently");
        }
        (Some(path), _) if path.is_empty() => {
            return error(HttpErrorCode::InvalidRequest, "room: the path names no room (/v1/chat/ws/<room>)");
        }
        (path, query) => path.or(query),
    };
    let room = match asked {
        None => Some(RoomName::lobby()),
        Some(r) if r.is_empty() => None,
        Some(r) => match RoomName::parse(&r) {
            Ok(room) => Some(room),
            Err(e) => return error(HttpErrorCode::InvalidRequest, format!("room: {e}")),
        },
    };
    // `name=` is a guest's choice; anyone else shows the name it is known by.
    let is_guest = caller.as_ref().is_none_or(|c| matches!(c, Caller::Guest(_)));
    let name = match param(query, "name").filter(|n| !n.trim().is_empty()) {
        Some(n) if is_guest => match DisplayName::parse(&n) {
            Ok(name) => Some(name),
            Err(e) => return error(HttpErrorCode::InvalidRequest, format!("name: {e}")),
        },
        _ => None,
    };
    // A direct client's address slot was claimed when its connection was
    // accepted; a client behind a trusted proxy claims its own now.
    let client = client_addr(headers, peer, &state.config.trusted_proxies);
    let forwarded = if permit.ip.is_some() {
        None
    } else {
        match state.ip_permit(client) {
            Some(slot) => Some(slot),
            None => {
                state.metrics.connections_refused.inc();
                tracing::info!(%peer, %client, "refused: too many connections from this address");
                return error(HttpErrorCode::RateLimited, "too many connections from this address");
            }
        }
    };
    let permits = SessionPermits::new(permit, forwarded);
    // Budgets are per client address: behind a trusted proxy, the forwarded one.
    let conn = match caller {
        // The client holds its session already (as a cookie, which no
        // script may read, or as its bearer token): no token to give back.
        Some(Caller::Account { account, session, .. }) => Connection {
            kind: PrincipalKind::Account,
            session: Some(session.id.into()),
            name: Some(account.name),
            address: Some(client),
            ..Connection::guest(account.user_id, room)
        },
        Some(Caller::External(external)) => {
            Connection { address: Some(client), ..Connection::external(external.id, external.name, room) }
        }
        guest => {
            let user = guest.map_or_else(UserId::random, |g| g.user_id());
            Connection {
                token: Some(state.identity.issue(user)),
                name,
                address: Some(client),
                ..Connection::guest(user, room)
            }
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let conn = Box::new(conn);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let socket =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(socket::config()))
                        .await;
                socket::serve(socket, state, conn, client, permits).await;
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

/// Browsers always send Origin: it must be on the allow-list or this
/// server's own — the configured public origin, or else the request's Host.
/// Clients without Origin are not browsers, and cannot be tricked by a page
/// into connecting.
///
/// Host alone is not proof: a page on `evil.example` whose name was rebound
/// to 127.0.0.1 sends a matching Origin and Host. So without a public origin,
/// a server listening on loopback takes only loopback names (`localhost`,
/// `127.x.y.z`, `[::1]`) as its own.
pub(crate) fn origin_allowed(headers: &HeaderMap, config: &crate::config::Config) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    if config.allowed_origins.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    if let Some(public) = &config.public_origin {
        return public.trim_end_matches('/').eq_ignore_ascii_case(origin);
    }
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    let same_host = matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h));
    same_host && (!config.bind.ip().is_loopback() || host.is_some_and(is_loopback_host))
}

/// Whether a Host header names the loopback interface.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        // `[::1]:8080`, `127.0.0.1:8080`, `localhost:8080`; not the `::` of a bare IPv6.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
        let mut config = crate::config::Config::new("127.0.0.1:8080".parse().unwrap(), "data");
        let on = |c: &crate::config::Config, host: &'static str, origin: &'static str| {
            origin_allowed(&headers(&[("host", host), ("origin", origin)]), c)
        };
        assert!(origin_allowed(&headers(&[("host", "127.0.0.1:8080")]), &config), "no Origin: not a browser");
        assert!(on(&config, "127.0.0.1:8080", "http://127.0.0.1:8080"));
        assert!(on(&config, "localhost:8080", "http://localhost:8080"));
        assert!(!on(&config, "127.0.0.1:8080", "http://evil.example"));
        assert!(!on(&config, "evil.example:8080", "http://evil.example:8080"), "DNS rebinding onto loopback");
        config.bind = "0.0.0.0:8080".parse().unwrap();
        assert!(on(&config, "chat.internal:8080", "http://chat.internal:8080"), "same host off loopback");
        config.public_origin = Some("https://chat.example.com".into());
        assert!(on(&config, "whatever", "https://chat.example.com"));
        assert!(!on(&config, "evil.example", "http://evil.example"), "the public origin, not Host, is own");
        config.public_origin = None;
        config.allowed_origins = vec!["https://chat.example.com".to_string()];
        assert!(on(&config, "10.0.0.1", "https://chat.example.com"));
        assert!(!on(&config, "10.0.0.1", "https://chat.example.co"));
    }

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "LOCALHOST:80", "127.0.0.1", "127.9.9.9:8080", "[::1]:8080", "::1"] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["evil.example", "localhost.evil.example:8080", "10.0.0.1:8080", "[::2]:80"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn connection_header_tokens() {
        assert!(has_token(&headers(&[("connection", "keep-alive, Upgrade")]), CONNECTION, "upgrade"));
        assert!(!has_token(&headers(&[("connection", "keep-alive")]), CONNECTION, "upgrade"));
    }
}
