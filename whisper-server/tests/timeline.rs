//! The timeline over real sockets (protocol.md §13), on SQLite and on
//! PostgreSQL: two people edit, delete, react, reply and read; one who was
//! away comes back with `since_seq` and gets every missed event in order,
//! once; history and the log over HTTP say the same.

mod support;

use serde_json::{Value, json};
use support::server::{Client, TestServer, http_get, start_in};
use whisper_core::codec::{AckStatus, ErrorCode, ServerFrame};
use whisper_core::model::Change;
use whisper_store::testing::pg::fresh_database;

#[tokio::test]
async fn the_timeline_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), |_| {}).await;
    two_people(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn the_timeline_on_postgres() {
    let Some(db) = fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url().to_string();
    let server = start_in(dir.path(), |c| c.database_url = Some(url)).await;
    two_people(&server).await;
    server.stop().await;
}

/// The next frame of `client` that is a message or an event: `(seq, kind)`.
async fn next_entry(client: &mut Client) -> Vec<(u64, String, Option<bool>)> {
    client
        .next_where(|f| match f {
            ServerFrame::Messages { data, recovered, .. } => {
                Some(data.iter().map(|m| (m.seq.0, "message".to_string(), recovered)).collect())
            }
            ServerFrame::Events { data, recovered, .. } => {
                Some(data.iter().map(|e| (e.seq.0, e.change.kind().to_string(), recovered)).collect())
            }
            _ => None,
        })
        .await
}

async fn two_people(server: &TestServer) {
    let mut ada = server.join("room=tl").await;
    let mut bob = server.join("room=tl").await;
    let first = ada.say("helo").await;
    assert_eq!(bob.messages().await[0].id, first);
    assert_eq!(ada.messages().await[0].id, first, "everyone gets the broadcast, the author too");

    // A reply, an edit, a reaction: each takes the next seq and reaches the other live.
    bob.send(json!({"type":"messages","data":[{"content":"hi!","reply_to":first.to_string()}]})).await;
    let (status, ids, _) = bob.ack().await;
    assert_eq!(status, AckStatus::Success);
    let reply = ada.messages().await;
    assert_eq!(reply[0].id, ids[0]);
    assert_eq!(reply[0].reply_to, Some(first));
    ada.send(json!({"type":"edit","room":"tl","id":first.to_string(),"content":"hello","client_id":"e1"})).await;
    assert_eq!(ada.event_ack().await, (AckStatus::Success, Some(3), None));
    let edit = bob.events().await;
    assert_eq!((edit[0].seq.0, &edit[0].change), (3, &Change::Edit { content: "hello".into() }));
    assert_eq!(ada.events().await[0].seq.0, 3);
    bob.send(json!({"type":"react","room":"tl","id":first.to_string(),"emoji":"👍","on":true,"client_id":"r1"})).await;
    assert_eq!(bob.event_ack().await.1, Some(4));
    let reaction = ada.events().await;
    assert!(matches!(&reaction[0].change, Change::Reaction { on: true, count: 1, .. }), "{reaction:?}");
    bob.send(json!({"type":"edit","room":"tl","id":first.to_string(),"content":"mine","client_id":"b-e"})).await;
    assert_eq!(bob.event_ack().await.2.unwrap().code, ErrorCode::Forbidden);
    bob.send(json!({"type":"read","room":"tl","seq":4})).await;
    let receipt = ada
        .next_where(|f| match f {
            ServerFrame::Receipt { user_id, seq, .. } => Some((user_id, seq.0)),
            _ => None,
        })
        .await;
    assert_eq!(receipt, (bob.user_id, 4));

    // Bob goes away at seq 4; Ada edits, reacts, deletes and posts.
    let bob_token = bob.token.clone();
    drop(bob);
    ada.send(json!({"type":"edit","room":"tl","id":first.to_string(),"content":"hello all","client_id":"e2"})).await;
    assert_eq!(ada.event_ack().await.1, Some(5));
    ada.send(json!({"type":"react","room":"tl","id":ids[0].to_string(),"emoji":"🎉","on":true,"client_id":"r2"})).await;
    assert_eq!(ada.event_ack().await.1, Some(6));
    ada.send(json!({"type":"delete","room":"tl","id":first.to_string(),"client_id":"d1"})).await;
    assert_eq!(ada.event_ack().await.1, Some(7));
    ada.say("still here").await;

    // Back: exactly what was missed, in seq order, once, then live.
    let mut bob = server.connect(&format!("token={bob_token}")).await;
    bob.send(json!({"type":"join","room":"tl","since_seq":4})).await;
    let joined = bob
        .next_where(|f| match f {
            ServerFrame::Joined { room, seq, recovered, .. } if room.as_str() == "tl" => Some((seq.0, recovered)),
            _ => None,
        })
        .await;
    assert_eq!(joined, (8, true));
    let mut replayed = Vec::new();
    while replayed.len() < 4 {
        replayed.extend(next_entry(&mut bob).await);
    }
    let expected: Vec<(u64, String, Option<bool>)> = [(5, "edit"), (6, "reaction"), (7, "delete"), (8, "message")]
        .into_iter()
        .map(|(s, k)| (s, k.to_string(), Some(true)))
        .collect();
    assert_eq!(replayed, expected);
    ada.send(json!({"type":"react","room":"tl","id":ids[0].to_string(),"emoji":"🎉","on":false,"client_id":"r3"}))
        .await;
    assert_eq!(ada.event_ack().await.1, Some(9));
    assert_eq!(next_entry(&mut bob).await, [(9, "reaction".to_string(), None)], "live again, nothing twice");

    // History in current state; the deleted text is gone everywhere.
    let (status, history) = server.get("/v1/chat/messages?room=tl").await;
    assert_eq!(status, 200);
    let data = history["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "messages only: {history}");
    assert_eq!((data[0]["deleted"].as_bool(), data[0]["content"].as_str()), (Some(true), Some("")));
    assert_eq!(data[1]["reply_to"], first.to_string());
    assert!(data[1].get("reactions").is_none(), "the 🎉 was taken back: {}", data[1]);
    let (status, log) = server.get("/v1/chat/events?room=tl&after_seq=0&limit=500").await;
    assert_eq!(status, 200);
    let kinds: Vec<&str> = log["data"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message", "message", "edit", "reaction", "edit", "reaction", "delete", "message", "reaction"]);
    assert_eq!(log["next_after_seq"], 9);
    assert_eq!(log["has_more"], false);
    let text = log.to_string();
    assert!(!text.contains("helo") && !text.contains("hello"), "a delete erases the text and its edits: {text}");
    let (_, page) = server.get("/v1/chat/events?room=tl&after_seq=2&limit=2").await;
    assert_eq!(page["data"][0]["seq"], 3);
    assert_eq!((page["has_more"].as_bool(), page["next_after_seq"].as_u64()), (Some(true), Some(4)));
    let (status, body) = server.get("/v1/chat/events?room=Bad!").await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_request")));

    // The room list with the caller's read state: Bob read up to 4.
    let (status, body) = http_get(server.addr, "/v1/rooms", &[("Authorization", &format!("Bearer {bob_token}"))]).await;
    assert_eq!(status, 200);
    let rooms: Value = serde_json::from_str(&body).unwrap();
    let tl = rooms["rooms"].as_array().unwrap().iter().find(|r| r["name"] == "tl").unwrap();
    assert_eq!(
        (tl["read_seq"].as_u64(), tl["unread"].as_u64()),
        (Some(4), Some(1)),
        "Ada's new message, not the deleted one"
    );
    let (_, anonymous) = server.get("/v1/rooms").await;
    assert!(anonymous["rooms"][0].get("unread").is_none(), "no token, no read state");
    let (status, _) = server.get("/v1/rooms?token=not-a-token").await;
    assert_eq!(status, 401);
}
