//! `GET /v1/search` over real HTTP, with messages posted over real
//! WebSockets, on SQLite and on PostgreSQL (protocol.md §16): words found
//! newest first with their marks, pages by `next`, the index following
//! edits and deletes, each room kind searched only by those who may read it
//! (member, stranger, banned, no identity), and every bad query a 400 that
//! says what to fix.

mod support;

use serde_json::{Value, json};
use support::people::{Person, call, register};
use support::server::{TestServer, start_in};
use whisper_core::codec::AckStatus;
use whisper_store::testing::pg::fresh_database;

#[tokio::test]
async fn search_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), |_| {}).await;
    search(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn search_on_postgres() {
    let Some(db) = fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url().to_string();
    let server = start_in(dir.path(), |c| c.database_url = Some(url)).await;
    search(&server).await;
    server.stop().await;
}

/// `GET /v1/search?{query}` as `who`: the status and the contents found.
async fn find(server: &TestServer, who: Option<&Person>, query: &str) -> (u16, Vec<String>) {
    let answer = call(server, who, "GET", &format!("/v1/search?{query}"), None).await;
    if answer.status != 200 {
        return (answer.status, vec![answer.json()["error"]["message"].as_str().unwrap_or_default().to_owned()]);
    }
    let results = answer.json()["results"].as_array().unwrap().clone();
    (200, results.iter().map(|r| r["message"]["content"].as_str().unwrap().to_owned()).collect())
}

async fn search(server: &TestServer) {
    let (ada, bob, eve) = (register(server, "Ada").await, register(server, "Bob").await, register(server, "Eve").await);
    let mut ada_lobby = server.connect(&format!("room=lobby&token={}", ada.token)).await;
    ada_lobby.joined().await;
    let first = ada_lobby.say("Deploy on Friday 🚀 night").await;
    ada_lobby.say("nothing to see").await;
    let third = ada_lobby.say("deploy again, DEPLOY!").await;

    // Words without case, newest first, each with where the words are (in
    // UTF-16 units: the rocket counts two).
    let answer = call(server, Some(&bob), "GET", "/v1/search?q=deploy", None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["message"]["id"], third.to_string());
    assert_eq!(results[0]["message"]["room"], "lobby");
    assert_eq!(results[0]["marks"], json!([{"start": 0, "end": 6}, {"start": 14, "end": 20}]));
    assert_eq!(results[1]["message"]["id"], first.to_string());
    assert_eq!(body["next"], Value::Null);
    assert_eq!(find(server, None, "q=friday+night").await, (200, vec!["Deploy on Friday 🚀 night".into()]));
    assert_eq!(find(server, None, "q=%22friday+night%22").await.1, vec!["Deploy on Friday 🚀 night"]);
    assert_eq!(find(server, None, "q=deploy+-friday").await.1, vec!["deploy again, DEPLOY!"]);

    // Pages: `next` is the next page's `before`, until the last page.
    let page = call(server, None, "GET", "/v1/search?q=deploy&limit=1", None).await.json();
    assert_eq!(page["results"][0]["message"]["id"], third.to_string());
    let next = page["next"].as_str().expect("a next page").to_owned();
    let page = call(server, None, "GET", &format!("/v1/search?q=deploy&limit=1&before={next}"), None).await.json();
    assert_eq!(page["results"][0]["message"]["id"], first.to_string());
    assert_eq!(page["next"], Value::Null);

    // Edits and deletes: the index follows, at once.
    ada_lobby
        .send(json!({"type":"edit","room":"lobby","id":first.to_string(),"content":"ship it monday","client_id":"e1"}))
        .await;
    assert_eq!(ada_lobby.event_ack().await.0, AckStatus::Success);
    assert_eq!(find(server, None, "q=friday").await.1, Vec::<String>::new(), "the old text is not found");
    assert_eq!(find(server, None, "q=monday").await.1, vec!["ship it monday"]);
    ada_lobby.send(json!({"type":"delete","room":"lobby","id":third.to_string(),"client_id":"d1"})).await;
    assert_eq!(ada_lobby.event_ack().await.0, AckStatus::Success);
    assert_eq!(find(server, None, "q=deploy").await.1, Vec::<String>::new(), "a deleted message is not found");

    // A private room: its members find its messages; a stranger, a reader
    // without identity and a former member do not, not even by naming it,
    // and naming it is refused as naming a room that does not exist is.
    let created =
        call(server, Some(&ada), "POST", "/v1/rooms", Some(json!({"title": "Plans", "members": [bob.id]}))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let plans = created.json()["room"]["name"].as_str().unwrap().to_owned();
    let mut ada_plans = server.connect(&format!("room={plans}&token={}", ada.token)).await;
    ada_plans.joined().await;
    ada_plans.say("secret launch date").await;
    ada_lobby.say("public launch party").await;
    assert_eq!(find(server, Some(&bob), "q=launch").await.1, vec!["public launch party", "secret launch date"]);
    assert_eq!(find(server, Some(&eve), "q=launch").await.1, vec!["public launch party"]);
    assert_eq!(find(server, None, "q=launch").await.1, vec!["public launch party"]);
    let in_plans = format!("q=launch&room={}", plans.replace('/', "%2F"));
    assert_eq!(find(server, Some(&bob), &in_plans).await.1, vec!["secret launch date"]);
    let (status, refused) = find(server, Some(&eve), &in_plans).await;
    let (nowhere_status, nowhere) =
        find(server, Some(&eve), "q=launch&room=p%2F00000000000000000000000000000000").await;
    assert_eq!((status, nowhere_status), (403, 403));
    assert_eq!(refused, nowhere, "a stranger cannot tell a private room from none");
    assert!(!refused[0].contains(&plans));
    let kicked = call(
        server,
        Some(&ada),
        "DELETE",
        &format!("/v1/rooms/{}/members/{}", plans.replace('/', "%2F"), bob.id),
        None,
    )
    .await;
    assert_eq!(kicked.status, 200, "{}", kicked.body);
    assert_eq!(find(server, Some(&bob), "q=launch").await.1, vec!["public launch party"], "a former member does not");

    // A public room one is banned from is not searched for them.
    let square =
        call(server, Some(&ada), "POST", "/v1/rooms", Some(json!({"visibility": "public", "name": "square"}))).await;
    assert_eq!(square.status, 201, "{}", square.body);
    let mut ada_square = server.connect(&format!("room=square&token={}", ada.token)).await;
    ada_square.joined().await;
    ada_square.say("launch in the square").await;
    assert_eq!(find(server, Some(&eve), "q=square").await.1, vec!["launch in the square"]);
    let ban = call(server, Some(&ada), "POST", "/v1/rooms/square/bans", Some(json!({"user_id": eve.id}))).await;
    assert_eq!(ban.status, 200, "{}", ban.body);
    assert_eq!(find(server, Some(&eve), "q=square").await.1, Vec::<String>::new(), "banned: not searched");
    assert_eq!(find(server, Some(&eve), "q=square&room=square").await.0, 403);
    assert_eq!(find(server, Some(&bob), "q=square").await.1, vec!["launch in the square"]);

    // Bad queries: 400 with what to fix, never a 500.
    for (query, says) in [
        ("", "q: is required"),
        ("q=", "type a word"),
        ("q=%3F%21", "type a word"),
        ("q=%22open", "not closed"),
        ("q=-spam", "not only words to leave out"),
        ("q=x&limit=0", "limit:"),
        ("q=x&limit=abc", "limit:"),
        ("q=x&before=-1", "before:"),
        ("q=x&room=a%20b", "room:"),
    ] {
        let answer = call(server, Some(&ada), "GET", &format!("/v1/search?{query}"), None).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
        assert_eq!(answer.code(), "invalid_request");
        let message = answer.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(says), "{query}: {message}");
    }
    let long = format!("q={}", "a".repeat(300));
    assert_eq!(call(server, None, "GET", &format!("/v1/search?{long}"), None).await.status, 400);
    assert_eq!(call(server, None, "POST", "/v1/search?q=x", None).await.status, 405);
}
