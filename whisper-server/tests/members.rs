//! Rooms with members over real HTTP and WebSockets (protocol.md §15), on
//! SQLite and on PostgreSQL: a private room and who may do what in it
//! (each action as member, stranger, banned and moderator), a kick taking
//! a live socket out of the room at once, titles, direct rooms (one per
//! pair, also when opened twice at once), the room list, and every bad
//! input refused with nothing stored.

mod support;

use serde_json::{Value, json};
use support::people::{Person, call, register};
use support::server::{Answer, Client, TestServer, http_request, start_in};
use whisper_core::codec::{AckStatus, ErrorCode, RoomChange, ServerFrame};
use whisper_store::testing::pg::fresh_database;

#[tokio::test]
async fn members_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), |_| {}).await;
    members(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn members_on_postgres() {
    let Some(db) = fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url().to_string();
    let server = start_in(dir.path(), |c| c.database_url = Some(url)).await;
    members(&server).await;
    server.stop().await;
}

async fn connect(server: &TestServer, who: &Person, room: &str) -> Client {
    server.connect(&format!("room={room}&token={}", who.token)).await
}

fn enc(room: &str) -> String {
    room.replace('/', "%2F")
}

/// The room frames' changes a client gets until `want` arrives.
async fn room_frame(client: &mut Client, want: RoomChange) -> String {
    client
        .next_where(|f| match f {
            ServerFrame::Room { room, change } if change == want => Some(room.to_string()),
            _ => None,
        })
        .await
}

async fn members(server: &TestServer) {
    let (ada, bob, eve) = (register(server, "Ada").await, register(server, "Bob").await, register(server, "Eve").await);
    // Bob is online in the lobby: he is told when a room is his.
    let mut bob_lobby = connect(server, &bob, "lobby").await;
    bob_lobby.joined().await;

    // Ada creates a private room with Bob: the server names it.
    let created = call(
        server,
        Some(&ada),
        "POST",
        "/v1/rooms",
        Some(json!({"title": "$$Money$$", "topic": "budget", "members": [bob.id]})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let room = created.json()["room"]["name"].as_str().unwrap().to_owned();
    assert!(room.starts_with("p/"), "{room}");
    assert_eq!(created.json()["room"]["role"], "owner");
    assert_eq!(created.json()["room"]["visibility"], "private");
    assert_eq!(room_frame(&mut bob_lobby, RoomChange::Added).await, room, "Bob's socket hears he was added");

    // The list: members see it with title and role; strangers and readers
    // without identity do not.
    let listed = |answer: &Answer| -> Vec<Value> {
        answer.json()["rooms"].as_array().unwrap().iter().filter(|r| r["name"] == room.as_str()).cloned().collect()
    };
    let bobs = call(server, Some(&bob), "GET", "/v1/rooms", None).await;
    let mine = listed(&bobs);
    assert_eq!(mine.len(), 1, "{}", bobs.body);
    assert_eq!((mine[0]["title"].as_str(), mine[0]["role"].as_str()), (Some("$$Money$$"), Some("member")));
    assert_eq!(mine[0]["topic"], "budget");
    assert!(listed(&call(server, Some(&eve), "GET", "/v1/rooms", None).await).is_empty());
    assert!(listed(&call(server, None, "GET", "/v1/rooms", None).await).is_empty());

    // --- The matrix: each action as a member, a stranger, the moderator.
    let mut bob_in = connect(server, &bob, &room).await;
    bob_in.joined().await;
    let posted = bob_in.say("the plan").await;
    let mut ada_in = connect(server, &ada, &room).await;
    let (head, _) = ada_in.joined().await;

    // A stranger: join, post, history, events, the room's page, typing and
    // read (not joined) — refused, and said the same way as for a private
    // room that does not exist.
    let mut eve_c = connect(server, &eve, "lobby").await;
    eve_c.joined().await;
    eve_c.send(json!({"type":"join","room": room})).await;
    let refused = eve_c.error().await;
    assert_eq!(refused.code, ErrorCode::Forbidden);
    eve_c.send(json!({"type":"join","room":"p/00000000000000000000000000000000"})).await;
    let nowhere = eve_c.error().await;
    assert_eq!(refused.message.replace(&room, "X"), nowhere.message.replace("p/00000000000000000000000000000000", "X"));
    eve_c.send(json!({"type":"messages","data":[{"room": room, "content":"let me in","client_id":"e1"}]})).await;
    let (status, _, why) = eve_c.ack().await;
    assert_eq!((status, why.map(|r| r.code)), (AckStatus::Error, Some(ErrorCode::Forbidden)));
    eve_c.send(json!({"type":"messages","data":[{"room":"p/squat","content":"mine now","client_id":"e2"}]})).await;
    assert_eq!(eve_c.ack().await.0, AckStatus::Error, "nobody creates a room in the p/ space by posting");
    eve_c.send(json!({"type":"typing","room": room})).await;
    assert_eq!(eve_c.error().await.code, ErrorCode::NotFound, "typing needs a joined room");
    for path in [
        format!("/v1/chat/messages?room={room}"),
        format!("/v1/chat/events?room={room}"),
        format!("/v1/rooms/{}", enc(&room)),
    ] {
        let as_eve = call(server, Some(&eve), "GET", &path, None).await;
        assert_eq!(as_eve.status, 403, "{path}: {}", as_eve.body);
        assert_eq!(call(server, None, "GET", &path, None).await.status, 403, "{path} without identity");
        let other = path
            .replace(&room, "p/00000000000000000000000000000000")
            .replace(&enc(&room), "p%2F00000000000000000000000000000000");
        assert_eq!(call(server, Some(&eve), "GET", &other, None).await.status, 403, "{other}: a 403 like any other");
    }
    for (method, path, body) in [
        ("POST", format!("/v1/rooms/{}/members", enc(&room)), Some(json!({"user_id": eve.id}))),
        ("PATCH", format!("/v1/rooms/{}", enc(&room)), Some(json!({"title": "mine"}))),
        ("DELETE", format!("/v1/rooms/{}/members/{}", enc(&room), bob.id), None),
    ] {
        let answer = call(server, Some(&eve), method, &path, body).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.body);
    }
    let head_now = call(server, Some(&ada), "GET", &format!("/v1/rooms/{}", enc(&room)), None).await;
    assert_eq!(head_now.json()["room"]["last_seq"], head, "the stranger stored nothing");

    // A member reads and writes, but does not moderate.
    let history = call(server, Some(&bob), "GET", &format!("/v1/chat/messages?room={room}"), None).await;
    assert_eq!(history.status, 200);
    let bob_invites = call(
        server,
        Some(&bob),
        "POST",
        &format!("/v1/rooms/{}/members", enc(&room)),
        Some(json!({"user_id": eve.id})),
    )
    .await;
    assert_eq!(bob_invites.status, 403, "{}", bob_invites.body);
    let detail = call(server, Some(&bob), "GET", &format!("/v1/rooms/{}", enc(&room)), None).await.json();
    assert_eq!(detail["members"].as_array().unwrap().len(), 2);
    assert!(detail.get("banned").is_none(), "only moderators see bans");

    // The owner deletes Bob's message; everyone in the room sees it go.
    ada_in.send(json!({"type":"delete","room": room, "id": posted.to_string(), "client_id":"d1"})).await;
    assert_eq!(ada_in.event_ack().await.0, AckStatus::Success);
    let gone = bob_in.events().await;
    assert_eq!(gone[0].user_id.to_string(), ada.id);
    assert_eq!(gone[0].change.kind(), "delete");

    // Retitle: a `room` event everyone joined sees; the list follows.
    let retitled =
        call(server, Some(&ada), "PATCH", &format!("/v1/rooms/{}", enc(&room)), Some(json!({"title": "Money"}))).await;
    assert_eq!(retitled.status, 200, "{}", retitled.body);
    assert_eq!(bob_in.events().await[0].change.kind(), "room");
    let title = call(server, Some(&bob), "GET", &format!("/v1/rooms/{}", enc(&room)), None).await.json();
    assert_eq!(title["room"]["title"], "Money");

    // A kick takes Bob's live socket out of the room at once.
    let kick =
        call(server, Some(&ada), "DELETE", &format!("/v1/rooms/{}/members/{}?reason=spam", enc(&room), bob.id), None)
            .await;
    assert_eq!(kick.status, 200, "{}", kick.body);
    let reason = bob_in
        .next_where(|f| match f {
            ServerFrame::Left { room: r, reason } if r.as_str() == room => Some(reason.to_string()),
            _ => None,
        })
        .await;
    assert_eq!(reason, "removed by Ada: spam");
    bob_in.send(json!({"type":"messages","data":[{"room": room, "content":"still here?","client_id":"b2"}]})).await;
    assert_eq!(bob_in.ack().await.0, AckStatus::Error, "a removed member cannot post");
    bob_in.send(json!({"type":"join","room": room})).await;
    assert_eq!(bob_in.error().await.code, ErrorCode::Forbidden);
    let after_kick = call(server, Some(&bob), "GET", &format!("/v1/chat/messages?room={room}"), None).await;
    assert_eq!(after_kick.status, 403);

    // Invited again, then banned: a ban also keeps the invite away.
    let invite = |user: &str| json!({"user_id": user});
    let members_path = format!("/v1/rooms/{}/members", enc(&room));
    assert_eq!(call(server, Some(&ada), "POST", &members_path, Some(invite(&bob.id))).await.status, 200);
    let bans = format!("/v1/rooms/{}/bans", enc(&room));
    let ban = call(server, Some(&ada), "POST", &bans, Some(json!({"user_id": bob.id, "reason": "again"}))).await;
    assert_eq!(ban.status, 200, "{}", ban.body);
    let rejoin = call(server, Some(&ada), "POST", &members_path, Some(invite(&bob.id))).await;
    assert_eq!((rejoin.status, rejoin.code()), (409, "conflict".into()), "{}", rejoin.body);
    let detail = call(server, Some(&ada), "GET", &format!("/v1/rooms/{}", enc(&room)), None).await.json();
    assert_eq!(detail["banned"][0]["user_id"], bob.id.as_str());
    assert_eq!(call(server, Some(&ada), "DELETE", &format!("{bans}/{}", bob.id), None).await.status, 200);

    // The log tells a member who was away what happened, in order.
    let log = call(server, Some(&ada), "GET", &format!("/v1/chat/events?room={room}"), None).await.json();
    let actions: Vec<String> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "member")
        .map(|e| format!("{} {}", e["action"].as_str().unwrap(), e["member_name"].as_str().unwrap()))
        .collect();
    assert_eq!(actions, ["added Ada", "added Bob", "kicked Bob", "added Bob", "banned Bob", "unbanned Bob"]);

    // Bad input: each a clear error, nothing half-stored.
    let nobody = "00000000-0000-4000-8000-000000000000";
    let unknown = call(server, Some(&ada), "POST", &members_path, Some(invite(nobody))).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let long = call(server, Some(&ada), "POST", "/v1/rooms", Some(json!({"title": "x".repeat(81)}))).await;
    assert_eq!(long.status, 400, "{}", long.body);
    let untitled = call(server, Some(&ada), "POST", "/v1/rooms", Some(json!({}))).await;
    assert_eq!(untitled.status, 400, "{}", untitled.body);
    let bad_name =
        call(server, Some(&ada), "POST", "/v1/rooms", Some(json!({"visibility":"public","name":"Not Valid"}))).await;
    assert_eq!(bad_name.status, 400);
    eve_c.say("hello lobby").await;
    let taken =
        call(server, Some(&ada), "POST", "/v1/rooms", Some(json!({"visibility":"public","name":"lobby"}))).await;
    assert_eq!(taken.status, 409, "the lobby exists: {}", taken.body);
    let squat =
        call(server, Some(&ada), "POST", "/v1/rooms", Some(json!({"visibility":"public","name":"dm/mine"}))).await;
    assert_eq!(squat.status, 400);
    assert_eq!(call(server, Some(&ada), "POST", &members_path, Some(invite(&bob.id))).await.status, 200);
    let last_owner = call(server, Some(&ada), "DELETE", &format!("{members_path}/{}", ada.id), None).await;
    assert_eq!(last_owner.status, 409, "{}", last_owner.body);
    let guest = server.connect("room=lobby&name=Gus").await;
    let guest_auth = format!("Bearer {}", guest.token);
    let by_guest =
        http_request(server.addr, "POST", "/v1/rooms", &[("authorization", &guest_auth)], Some(&json!({"title":"g"})))
            .await;
    assert_eq!(by_guest.status, 403);
    assert_eq!(call(server, None, "POST", "/v1/rooms", Some(json!({"title":"g"}))).await.status, 401);

    // Direct rooms: one per pair, also when both open it at once; not with
    // oneself; the other is told.
    let dm_self = call(server, Some(&ada), "POST", "/v1/dm", Some(json!({"user_id": ada.id}))).await;
    assert_eq!(dm_self.status, 400);
    let (one, two) = tokio::join!(
        call(server, Some(&ada), "POST", "/v1/dm", Some(json!({"user_id": bob.id}))),
        call(server, Some(&bob), "POST", "/v1/dm", Some(json!({"user_id": ada.id}))),
    );
    let mut statuses = [one.status, two.status];
    statuses.sort();
    assert!(statuses == [200, 201] || statuses == [201, 201], "{statuses:?}: {} / {}", one.body, two.body);
    let dm = one.json()["room"]["name"].as_str().unwrap().to_owned();
    assert_eq!(two.json()["room"]["name"], dm.as_str(), "one room for the pair");
    assert!(dm.starts_with("dm/"));
    assert_eq!(one.json()["room"]["peer"]["name"], "Bob");
    let dm_log = call(server, Some(&bob), "GET", &format!("/v1/chat/events?room={dm}"), None).await.json();
    assert_eq!(dm_log["data"].as_array().unwrap().len(), 3, "created once: {dm_log}");
    assert_eq!(call(server, Some(&eve), "GET", &format!("/v1/chat/messages?room={dm}"), None).await.status, 403);
    let leave_dm =
        call(server, Some(&bob), "DELETE", &format!("/v1/rooms/{}/members/{}", enc(&dm), bob.id), None).await;
    assert_eq!(leave_dm.status, 409);
    let found = call(server, Some(&ada), "GET", "/v1/users?name=bob", None).await;
    assert_eq!((found.status, found.json()["user_id"].as_str()), (200, Some(bob.id.as_str())));
    assert_eq!(call(server, Some(&ada), "GET", "/v1/users?name=nobody", None).await.status, 404);
}
