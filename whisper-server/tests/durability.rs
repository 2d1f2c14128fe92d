//! History and identity survive a restart; store failures are nacks, never acks.

mod support;

use std::sync::Arc;

use serde_json::json;
use support::server::{start_in, start_on_store};
use whisper_core::codec::{AckStatus, ErrorCode};
use whisper_core::store::StoreError;
use whisper_core::testing::FailingStore;

#[tokio::test]
async fn restarting_the_server_keeps_history_and_identities_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), |_| {}).await;
    let mut ada = server.join("").await;
    let id = ada.say("before the restart").await;
    let token = ada.token.clone();
    let user = ada.user_id;
    drop(ada);
    server.stop().await;

    let server = start_in(dir.path(), |_| {}).await;
    let (_, body) = server.get("/v1/chat/messages").await;
    assert_eq!(body["data"][0]["id"], id.to_string());
    let mut ada = server.join(&format!("token={token}")).await;
    assert_eq!(ada.user_id, user, "the secret was kept, so the token still verifies");
    ada.say("after the restart").await;
    let (_, body) = server.get("/v1/chat/messages").await;
    assert_eq!(body["data"][1]["seq"], 2, "seqs continue");
    server.stop().await;
}

#[tokio::test]
async fn store_failures_become_nacks_and_http_errors() {
    for (error, code, status) in [
        (StoreError::Unavailable("connection refused".into()), ErrorCode::StorageUnavailable, 503),
        (StoreError::Internal("corrupt page".into()), ErrorCode::Internal, 500),
    ] {
        let server = start_on_store(Arc::new(FailingStore::everything(error)), |_| {}).await;
        let mut ada = server.join("").await;
        ada.send(json!({"type":"messages","data":[{"content":"kept?","client_id":"k1"}]})).await;
        let (ack, ids, refusal) = ada.ack().await;
        assert_eq!(ack, AckStatus::Error);
        assert!(ids.is_empty());
        assert_eq!(refusal.unwrap().code, code);
        let (got, body) = server.get("/v1/chat/messages").await;
        assert_eq!(got, status);
        assert_eq!(body["error"]["code"], code.as_str());
        assert_eq!(server.get("/readyz").await.0, status);
        assert_eq!(server.get("/healthz").await.0, 200, "the process is up");
        server.stop().await;
    }
}
