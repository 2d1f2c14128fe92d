//! The route on a real socket: the application's extractor decides who
//! connects (its user as an external principal, anyone else a guest, a bad
//! credential refused before the upgrade), the query is checked, and the
//! application's shutdown closes upgraded sockets with 1001.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use whisper_axum::{Asked, ChatUser, Shutdown};
use whisper_core::Chat;
use whisper_core::model::{DisplayName, ExternalId, Principal};
use whisper_core::session::Connection;
use whisper_core::store::MemoryStore;

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

/// The app trusts `x-user: <id>` (its own sign-in would set it); `x-user`
/// with a space in it is a bad credential.
struct AppUser(Option<ExternalId>);

impl<S: Sync> FromRequestParts<S> for AppUser {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get("x-user").map(|v| v.to_str().unwrap_or_default()) {
            None => Ok(AppUser(None)),
            Some(id) => {
                ExternalId::parse(id).map(|id| AppUser(Some(id))).map_err(|_| (StatusCode::UNAUTHORIZED, "bad user"))
            }
        }
    }
}

impl ChatUser for AppUser {
    fn connection(self, asked: Asked) -> Connection {
        match self.0 {
            Some(id) => asked.as_principal(Principal::external(id, DisplayName::parse("App User").unwrap())),
            None => asked.guest(),
        }
    }
}

async fn start() -> (SocketAddr, Chat, Shutdown) {
    let chat = Chat::builder(Arc::new(MemoryStore::new())).build();
    let shutdown = Shutdown::new();
    let app = axum::Router::new().route("/chat", whisper_axum::route::<AppUser, ()>(chat.clone(), shutdown.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown.signal());
    tokio::spawn(async move { serve.await });
    (addr, chat, shutdown)
}

async fn connect(addr: SocketAddr, query: &str, user: Option<&str>) -> Result<Client, WsError> {
    let mut request = format!("ws://{addr}/chat{query}").into_client_request().unwrap();
    if let Some(user) = user {
        request.headers_mut().insert("x-user", user.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await.map(|(ws, _)| ws)
}

async fn next_of(ws: &mut Client, kind: &str) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("a frame in time") {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == kind {
                    return frame;
                }
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a {kind} frame, got {other:?}"),
        }
    }
}

fn refused_with(result: Result<Client, WsError>) -> (u16, String) {
    match result {
        Err(WsError::Http(response)) => {
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
            (response.status().as_u16(), body)
        }
        other => panic!("expected an HTTP refusal, got {:?}", other.map(|_| "an upgrade")),
    }
}

#[tokio::test]
async fn the_apps_user_and_a_guest_chat_and_a_bad_credential_is_refused_before_the_upgrade() {
    let (addr, chat, _shutdown) = start().await;
    let id = ExternalId::parse("crm:42").unwrap();
    let mut app_user = connect(addr, "?room=team&name=Mallory", Some("crm:42")).await.unwrap();
    let welcome = next_of(&mut app_user, "welcome").await;
    assert_eq!(welcome["user_id"], id.user_id().to_string(), "the id derived from the app's own");
    next_of(&mut app_user, "joined").await;

    let mut guest = connect(addr, "?room=team&name=Grace", None).await.unwrap();
    next_of(&mut guest, "joined").await;
    app_user.send(Message::text(json!({"type":"messages","data":[{"content":"hi"}]}).to_string())).await.unwrap();
    let seen = next_of(&mut guest, "messages").await;
    let message = &seen["data"][0];
    assert_eq!((&message["name"], &message["principal"]), (&json!("App User"), &json!("external")), "{seen}");
    assert_eq!(message["external_id"], "crm:42");
    guest.send(Message::text(json!({"type":"messages","data":[{"content":"hello"}]}).to_string())).await.unwrap();
    let seen = next_of(&mut app_user, "messages").await;
    let seen = if seen["data"][0]["content"] == "hi" { next_of(&mut app_user, "messages").await } else { seen };
    assert_eq!(seen["data"][0]["name"], "Grace");
    assert!(seen["data"][0].get("principal").is_none(), "a guest is unmarked: {seen}");
    assert_eq!(chat.presence(&"team".parse().unwrap()).len(), 2);

    // A page on another site cannot open it with the user's credentials.
    let mut foreign = format!("ws://{addr}/chat?room=team").into_client_request().unwrap();
    foreign.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    foreign.headers_mut().insert("x-user", "crm:42".parse().unwrap());
    let (status, body) = refused_with(tokio_tungstenite::connect_async(foreign).await.map(|(ws, _)| ws));
    assert_eq!(status, 403, "{body}");
    let mut own = format!("ws://{addr}/chat?room=team").into_client_request().unwrap();
    own.headers_mut().insert("origin", format!("http://{addr}").parse().unwrap());
    assert!(tokio_tungstenite::connect_async(own).await.is_ok(), "the page's own origin is let in");

    let (status, body) = refused_with(connect(addr, "?room=team", Some("has space")).await);
    assert_eq!((status, body.as_str()), (401, "bad user"));
    let (status, body) = refused_with(connect(addr, "?room=no%20spaces%20here", None).await);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, &body["error"]["code"]), (400, &json!("invalid_request")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("room: "), "{body}");
}

#[tokio::test]
async fn the_apps_shutdown_closes_upgraded_sockets_with_1001() {
    let (addr, _chat, shutdown) = start().await;
    let mut ws = connect(addr, "?room=", None).await.unwrap();
    next_of(&mut ws, "welcome").await;
    shutdown.begin();
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("closed in time") {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::Away);
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}
