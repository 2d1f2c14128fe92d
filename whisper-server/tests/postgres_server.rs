//! The server on PostgreSQL, end to end: the seed flow, history across a
//! restart, and nacks (never acks) while the database connections are cut.

mod support;

use serde_json::json;
use support::server::start_in;
use whisper_core::codec::{AckStatus, ErrorCode};
use whisper_store::testing::pg::fresh_database;

#[tokio::test]
async fn chat_on_postgres_survives_a_server_restart() {
    let Some(db) = fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url().to_string();
    let server = start_in(dir.path(), |c| c.database_url = Some(url.clone())).await;
    let mut ada = server.join("").await;
    let mut bob = server.join("").await;
    let seed = format!(r#"{{"type":"messages","data":[{{"user_id":"{}","content":"Hello, world!"}}]}}"#, ada.user_id);
    ada.send_raw(tokio_tungstenite::tungstenite::Message::text(seed)).await;
    let (status, ids, _) = ada.ack().await;
    assert_eq!(status, AckStatus::Success);
    assert_eq!(bob.messages().await[0].id, ids[0]);
    let token = ada.token.clone();
    drop((ada, bob));
    server.stop().await;

    let server = start_in(dir.path(), |c| c.database_url = Some(url.clone())).await;
    let (_, body) = server.get("/v1/chat/messages").await;
    assert_eq!(body["data"][0]["id"], ids[0].to_string(), "history survived the restart");
    let mut ada = server.join(&format!("token={token}")).await;
    ada.say("again").await;
    let (_, body) = server.get("/v1/chat/messages").await;
    assert_eq!(body["data"][1]["seq"], 2);
    server.stop().await;
}

#[tokio::test]
async fn a_database_outage_gives_nacks_loses_nothing_and_the_server_recovers() {
    let Some(db) = fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url().to_string();
    let server = start_in(dir.path(), |c| c.database_url = Some(url)).await;
    let mut ada = server.join("").await;
    ada.say("before").await;
    let mut sent = vec!["before".to_string()];
    let mut nacks = 0;
    // Cut every connection the server holds, several times, while sending.
    // Like a real client, resend a refused message with the same client_id
    // until it is acked: a refusal means "not known to be stored".
    for round in 0..3 {
        db.terminate_connections().await;
        for i in 0..5 {
            let content = format!("round {round} message {i}");
            let frame = json!({"type":"messages","data":[{"content":content,"client_id":format!("r{round}-{i}")}]});
            let mut tries = 0;
            loop {
                ada.send(frame.clone()).await;
                let (status, _, refusal) = ada.ack().await;
                if status == AckStatus::Success {
                    break;
                }
                assert_eq!(refusal.unwrap().code, ErrorCode::StorageUnavailable, "never internal");
                nacks += 1;
                tries += 1;
                assert!(tries < 100, "the server recovers once PostgreSQL answers again");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            sent.push(content);
        }
    }
    // Now the database refuses connections altogether: a nack, never an ack.
    db.set_reachable(false).await;
    ada.send(json!({"type":"messages","data":[{"content":"during the outage","client_id":"outage"}]})).await;
    let (status, _, refusal) = ada.ack().await;
    assert_eq!(status, AckStatus::Error, "no ack while the database is down");
    assert_eq!(refusal.unwrap().code, ErrorCode::StorageUnavailable);
    assert_eq!(server.get("/readyz").await.0, 503);
    assert_eq!(server.get("/healthz").await.0, 200, "the server stays up");
    db.set_reachable(true).await;
    let mut tries = 0;
    loop {
        ada.send(json!({"type":"messages","data":[{"content":"during the outage","client_id":"outage"}]})).await;
        if ada.ack().await.0 == AckStatus::Success {
            break;
        }
        tries += 1;
        assert!(tries < 100, "the server recovers without a restart");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    sent.push("during the outage".into());
    assert_eq!(server.get("/readyz").await.0, 200);
    eprintln!("{nacks} nacks while connections were cut; recovered after {tries} retries");
    // Every message is stored exactly once, in order.
    let (_, body) = server.get("/v1/chat/messages?limit=500").await;
    let stored: Vec<String> =
        body["data"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap().to_string()).collect();
    assert_eq!(stored, sent);
    server.stop().await;
}
