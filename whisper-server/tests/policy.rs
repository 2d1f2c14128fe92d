//! An application's policy on the standalone server (protocol.md §14): one
//! rule asked on every path — the WebSocket join and post, and the HTTP
//! history and log — so a refused reader learns nothing on any of them.

mod support;

use std::sync::Arc;

use serde_json::json;
use support::server::{Client, http_get, http_request, start_built};
use whisper_core::codec::{AckStatus, ErrorCode};
use whisper_core::model::{Principal, PrincipalKind, RoomName};
use whisper_core::policy::{Denied, Policy, Post, Verdict};

/// `staff` is for accounts; nobody posts links.
#[derive(Debug)]
struct StaffOnly;

#[whisper_core::async_trait]
impl Policy for StaffOnly {
    async fn join(&self, who: &Principal, room: &RoomName) -> Verdict {
        self.read_history(Some(who), room).await
    }

    async fn post(&self, _who: &Principal, post: &mut Post) -> Verdict {
        if post.content.contains("http") { Err(Denied::invalid("no links")) } else { Ok(()) }
    }

    async fn read_history(&self, who: Option<&Principal>, room: &RoomName) -> Verdict {
        let account = who.is_some_and(|p| p.kind == PrincipalKind::Account);
        if room.as_str() == "staff" && !account { Err(Denied::forbidden("staff is for accounts")) } else { Ok(()) }
    }
}

#[tokio::test]
async fn one_rule_on_every_path() {
    let server = start_built(|b| b.policy(Arc::new(StaffOnly))).await;
    // A guest: refused on the socket and over HTTP, with the policy's reason.
    let mut guest = server.connect("room=").await;
    guest.send(json!({"type":"join","room":"staff"})).await;
    let refusal = guest.error().await;
    assert_eq!((refusal.code, refusal.message.as_str()), (ErrorCode::Forbidden, "staff is for accounts"));
    for path in ["/v1/chat/messages?room=staff", "/v1/chat/events?room=staff"] {
        let (status, body) = http_get(server.addr, path, &[]).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("staff is for accounts"));
    }
    guest.send(json!({"type":"messages","data":[{"room":"lobby","content":"see http://x"}]})).await;
    let (status, _, error) = guest.ack().await;
    assert_eq!((status, error.unwrap().code), (AckStatus::Error, ErrorCode::InvalidFrame));

    // An account is let in everywhere.
    let body = json!({"email":"ada@example.com","password":"correct horse","name":"Ada"});
    let registered = http_request(server.addr, "POST", "/v1/auth/register", &[], Some(&body)).await;
    let cookie = registered.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let mut ada = Client::connect_with(&server.ws_url("room=staff"), &[("cookie", &cookie)]).await.unwrap();
    ada.joined().await;
    ada.say("for staff only").await;
    for path in ["/v1/chat/messages?room=staff", "/v1/chat/events?room=staff"] {
        let (status, body) = http_get(server.addr, path, &[("cookie", &cookie)]).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.contains("for staff only"));
    }
    server.stop().await;
}
