//! The upgrade: who the application says is connecting ([`ChatUser`]),
//! what the client asked for ([`Asked`]), and the session that follows.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use whisper_core::Chat;
use whisper_core::model::{DisplayName, Principal, RoomName, UserId};
use whisper_core::session::Connection;

use crate::{Shutdown, serve_socket};

/// The application's extractor of who is connecting, turned into the
/// session's [`Connection`]: usually [`Asked::as_principal`] for a user of
/// the application, [`Asked::guest`] for anyone else.
pub trait ChatUser {
    /// The connection for this caller, given what the client asked for.
    fn connection(self, asked: Asked) -> Connection;
}

/// What the client asked for in the upgrade's query, and where it connects
/// from: `room` to join on connect (absent: `lobby`; empty: none, the client
/// sends `join` frames), `name` for a guest's display name. A bad value is a
/// 400 with a JSON error before the upgrade.
#[derive(Clone, Debug)]
pub struct Asked {
    room: Option<RoomName>,
    name: Option<DisplayName>,
    address: Option<IpAddr>,
}

impl Asked {
    /// The room to join on connect, if any.
    pub fn room(&self) -> Option<&RoomName> {
        self.room.as_ref()
    }

    /// The name a guest asked for, if any.
    pub fn name(&self) -> Option<&DisplayName> {
        self.name.as_ref()
    }

    /// A fresh guest with the name it asked for.
    pub fn guest(self) -> Connection {
        self.as_principal(Principal::guest(UserId::random(), None))
    }

    /// `who`, as the application knows it: its user id, kind, external id
    /// and name. Only a guest keeps the name the client asked for; anyone
    /// else shows the application's name for them (and cannot rename
    /// itself).
    pub fn as_principal(self, who: Principal) -> Connection {
        let name = if who.kind.names_itself() { self.name.or(Some(who.name)) } else { Some(who.name) };
        Connection {
            kind: who.kind,
            external_id: who.external_id,
            name,
            address: self.address,
            ..Connection::guest(who.user_id, self.room)
        }
    }
}

impl<S: Sync> FromRequestParts<S> for Asked {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let Query(raw) = Query::<RawAsked>::try_from_uri(&parts.uri)
            .map_err(|e| invalid(format!("the query: {}", e.body_text())))?;
        let room = match raw.room.as_deref() {
            None => Some(RoomName::lobby()),
            Some("") => None,
            Some(room) => Some(RoomName::parse(room).map_err(|e| invalid(format!("room: {e}")))?),
        };
        let name = match raw.name.as_deref() {
            None | Some("") => None,
            Some(name) => Some(DisplayName::parse(name).map_err(|e| invalid(format!("name: {e}")))?),
        };
        Ok(Asked { room, name, address: ClientAddr::of(parts).0 })
    }
}

/// The caller's address, when the app serves with
/// `into_make_service_with_connect_info::<SocketAddr>()`; the session's
/// per-address budgets use it (without it, only the per-user ones apply).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    fn of(parts: &Parts) -> ClientAddr {
        ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip()))
    }
}

impl<S: Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr::of(parts))
    }
}

/// Answers the upgrade with a session for `conn`, closed with 1001 when
/// `shutdown` begins. After the shutdown began, a new upgrade is 503.
pub fn upgrade(ws: WebSocketUpgrade, chat: &Chat, conn: Connection, shutdown: &Shutdown) -> Response {
    if shutdown.is_begun() {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server is shutting down".into());
    }
    let chat = chat.clone();
    let signal = shutdown.signal();
    // The session closes frames over the limit with 1009; twice the limit
    // bounds what axum buffers (a bigger one just drops the connection).
    let limit = 2 * chat.limits().max_frame_bytes;
    ws.max_message_size(limit).on_upgrade(move |socket| serve_socket(socket, chat, conn, signal))
}

/// A `GET` route serving `chat`: the upgrade, the same-origin check
/// ([`SameOrigin`]), the application's extractor `U` for who is connecting
/// (its rejection is the answer, say a 401), and the query ([`Asked`]).
pub fn route<U, S>(chat: Chat, shutdown: Shutdown) -> MethodRouter<S>
where
    U: FromRequestParts<S> + ChatUser + Send + 'static,
    S: Clone + Send + Sync + 'static,
{
    axum::routing::get(move |ws: WebSocketUpgrade, _: SameOrigin, user: U, asked: Asked| {
        std::future::ready(upgrade(ws, &chat, user.connection(asked), &shutdown))
    })
}

/// A browser's upgrade from the page's own origin, or a client that is no
/// browser (it sends no `Origin`). A page on another site can make a
/// browser open a WebSocket with the user's cookies, and the upgrade is
/// not covered by CORS: an `Origin` whose host is not the request's `Host`
/// is refused with 403 before the application's extractor runs. An app
/// served under other names than its `Host` writes its own handler around
/// [`upgrade`], with its own allow-list.
#[derive(Clone, Copy, Debug)]
pub struct SameOrigin;

impl<S: Sync> FromRequestParts<S> for SameOrigin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let Some(origin) = parts.headers.get(header::ORIGIN) else { return Ok(SameOrigin) };
        let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest);
        match (origin_host, host) {
            (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host) => Ok(SameOrigin),
            _ => {
                Err(json_error(StatusCode::FORBIDDEN, "forbidden", "this Origin may not open a WebSocket here".into()))
            }
        }
    }
}

fn invalid(message: String) -> Response {
    json_error(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// The error body whisper-server answers with (protocol.md §11).
fn json_error(status: StatusCode, code: &str, message: String) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The query as sent: checked field by field in [`Asked`], so each bad
/// value gets its own sentence.
#[derive(serde::Deserialize)]
struct RawAsked {
    room: Option<String>,
    name: Option<String>,
}
