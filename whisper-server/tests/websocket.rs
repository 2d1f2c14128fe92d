//! The WebSocket protocol end to end: a real server on 127.0.0.1:0 with
//! SQLite, real tokio-tungstenite clients.

mod support;

use serde_json::json;
use support::server::{Client, start, start_with};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use whisper_core::codec::{AckStatus, ErrorCode, ServerFrame};

#[tokio::test]
async fn the_seed_flow() {
    let server = start().await;
    let mut ada = server.join("").await;
    let mut bob = server.join("").await;
    let seed = format!(r#"{{"type":"messages","data":[{{"user_id":"{}","content":"Hello, world!"}}]}}"#, ada.user_id);
    ada.send_raw(Message::text(seed)).await;
    let ack = ada
        .next_where(|f| match f {
            f @ ServerFrame::MessageIds { .. } => Some(f),
            _ => None,
        })
        .await;
    // The exact ack shape of the seed: type, status, message_ids.
    let ack_json: serde_json::Value = serde_json::from_str(ack.encode().to_text()).unwrap();
    assert_eq!(ack_json["type"], "message_ids");
    assert_eq!(ack_json["status"], "success");
    let id = ack_json["message_ids"][0].as_str().unwrap().to_string();
    assert_eq!(id.len(), 26, "a ULID");
    for client in [&mut ada, &mut bob] {
        let got = client.messages().await;
        assert_eq!(got[0].id.to_string(), id);
        assert_eq!(&*got[0].content, "Hello, world!");
    }
    let (status, body) = server.get("/v1/chat/messages").await;
    assert_eq!(status, 200);
    assert_eq!(body["type"], "messages");
    assert_eq!(body["data"][0]["id"], id);
    assert_eq!(body["data"][0]["user_id"], ada.user_id.to_string());
    assert_eq!(body["data"][0]["content"], "Hello, world!");
    assert_eq!(body["has_more"], false);
    server.stop().await;
}

#[tokio::test]
async fn rooms_are_isolated_and_presence_and_typing_flow() {
    let server = start().await;
    let mut ada = server.join("room=acme/general&name=Ada").await;
    let mut bob = server.join("room=acme/general&name=Bob").await;
    let mut eve = server.join("room=other&name=Eve").await;
    // Presence names both, once each: Bob, who joined last, gets the full
    // list; Ada, already in, gets Bob's arrival only.
    let users = bob
        .next_where(|f| match f {
            ServerFrame::Presence { users, .. } => Some(users.into_owned()),
            _ => None,
        })
        .await;
    let names: Vec<String> = users.iter().map(|u| u.name.to_string()).collect();
    assert_eq!(names, ["Ada", "Bob"]);
    let (joined, left) = ada
        .next_where(|f| match f {
            ServerFrame::PresenceChanges { joined, left, .. } => Some((joined.into_owned(), left.into_owned())),
            _ => None,
        })
        .await;
    assert_eq!(joined.iter().map(|u| u.user_id).collect::<Vec<_>>(), [bob.user_id], "only the change");
    assert!(left.is_empty());
    assert_eq!(ada.online("acme/general"), ["Ada", "Bob"]);

    bob.send(json!({"type":"typing","room":"acme/general"})).await;
    let typist = ada
        .next_where(|f| match f {
            ServerFrame::Typing { user_id, name, .. } => Some((user_id, name.to_string())),
            _ => None,
        })
        .await;
    assert_eq!(typist, (bob.user_id, "Bob".to_string()));

    bob.say("in general").await;
    eve.say("in other").await;
    assert_eq!(&*ada.messages().await[0].content, "in general", "ada never sees room other");
    assert_eq!(&*eve.messages().await[0].content, "in other");

    // Bob leaves: Ada is told he left, and shows herself alone.
    let bob_id = bob.user_id;
    drop(bob);
    let left = ada
        .next_where(|f| match f {
            ServerFrame::PresenceChanges { left, .. } if !left.is_empty() => Some(left.into_owned()),
            _ => None,
        })
        .await;
    assert_eq!(left, [bob_id]);
    assert_eq!(ada.online("acme/general"), ["Ada"]);
    server.stop().await;
}

#[tokio::test]
async fn a_token_keeps_the_identity_and_a_forged_one_is_refused() {
    let server = start().await;
    let first = server.connect("").await;
    let again = server.connect(&format!("token={}", first.token)).await;
    assert_eq!(again.user_id, first.user_id, "reconnecting with the token keeps the identity");
    let forged = first.token.replace(&first.user_id.to_string(), &whisper_core::model::UserId::random().to_string());
    for bad in [forged.as_str(), "v1.garbage", "nope"] {
        let refused = Client::connect(&server.ws_url(&format!("token={bad}"))).await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 401),
            Err(e) => panic!("expected HTTP 401, got {e}"),
            Ok(_) => panic!("a forged token was accepted"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn a_resend_after_reconnect_is_idempotent() {
    let server = start().await;
    let mut ada = server.join("").await;
    ada.send(json!({"type":"messages","data":[{"content":"once","client_id":"c-1"}]})).await;
    let (_, first, _) = ada.ack().await;
    let token = ada.token.clone();
    drop(ada);
    let mut ada = server.join(&format!("token={token}")).await;
    ada.send(json!({"type":"messages","data":[{"content":"once","client_id":"c-1"}]})).await;
    let (status, again, _) = ada.ack().await;
    assert_eq!(status, AckStatus::Success);
    assert_eq!(again, first, "the resend is acked with the original id");
    let (_, body) = server.get("/v1/chat/messages").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1, "stored once");
    server.stop().await;
}

#[tokio::test]
async fn join_with_since_seq_recovers_exactly_the_missed_messages() {
    let server = start().await;
    let mut ada = server.join("").await;
    let mut bob = server.join("").await;
    bob.say("one").await;
    assert_eq!(ada.messages().await[0].seq.0, 1);
    drop(ada);
    for text in ["two", "three", "four"] {
        bob.say(text).await;
    }
    let mut ada = server.connect("room=").await;
    ada.send(json!({"type":"join","room":"lobby","since_seq":1})).await;
    assert_eq!(ada.joined().await, (4, true));
    let replay = ada.messages().await;
    let got: Vec<(u64, String)> = replay.iter().map(|m| (m.seq.0, m.content.to_string())).collect();
    assert_eq!(got, [(2, "two".to_string()), (3, "three".to_string()), (4, "four".to_string())]);
    bob.say("five").await;
    assert_eq!(ada.messages().await[0].seq.0, 5, "live continues right after the replay");
    server.stop().await;
}

#[tokio::test]
async fn every_refusal_code_reachable_over_the_wire() {
    let server = start_with(|c| c.messages_per_second = 1).await;
    let mut ada = server.join("").await;

    ada.send_raw(Message::text("{oops")).await;
    assert_eq!(ada.error().await.code, ErrorCode::InvalidFrame);
    ada.send(json!({"type":"shout"})).await;
    assert_eq!(ada.error().await.code, ErrorCode::UnknownType);
    ada.send(json!({"type":"leave","room":"never-joined"})).await;
    assert_eq!(ada.error().await.code, ErrorCode::NotFound);

    let other = whisper_core::model::UserId::random().to_string();
    ada.send(json!({"type":"messages","data":[{"content":"x","user_id":other}]})).await;
    assert_eq!(ada.ack().await.2.unwrap().code, ErrorCode::Forbidden);
    let many: Vec<_> = (0..101).map(|_| json!({"content":"x"})).collect();
    ada.send(json!({"type":"messages","data":many})).await;
    assert_eq!(ada.ack().await.2.unwrap().code, ErrorCode::TooLarge);
    ada.send(json!({"type":"messages","data":[{"content":""}]})).await;
    let refusal = ada.ack().await.2.unwrap();
    assert_eq!(refusal.code, ErrorCode::InvalidFrame);
    assert_eq!(refusal.details, ["data[0].content: must not be empty"]);

    // The rate is 1/s with a burst of 40: on a fresh connection the 41st
    // message in a row is refused. Both frames go before either ack is read,
    // so a slow commit of the first cannot let a token refill in between.
    let mut bob = server.join("").await;
    let burst: Vec<_> = (0..40).map(|i| json!({"content":format!("m{i}")})).collect();
    bob.send(json!({"type":"messages","data":burst})).await;
    bob.send(json!({"type":"messages","data":[{"content":"too fast"}]})).await;
    assert_eq!(bob.ack().await.0, AckStatus::Success);
    let refusal = bob.ack().await.2.unwrap();
    assert_eq!(refusal.code, ErrorCode::RateLimited);
    assert!(refusal.retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 1000), "{refusal:?}");

    // Nothing refused was stored; the socket is still open.
    let (_, body) = server.get("/v1/chat/messages?limit=500").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 40);
    ada.send(json!({"type":"typing","room":"lobby"})).await;
    ada.send(json!({"type":"join","room":"acme/x"})).await;
    assert_eq!(ada.joined().await.0, 0);
    server.stop().await;
}

async fn close_code_for(message: Message) -> CloseCode {
    let server = start().await;
    let mut c = server.join("").await;
    c.send_raw(message).await;
    let frame = c.closed().await.expect("a close frame");
    server.stop().await;
    frame.code
}

#[tokio::test]
async fn protocol_violations_close_with_their_codes() {
    assert_eq!(close_code_for(Message::binary(vec![1, 2, 3])).await, CloseCode::Unsupported);
    assert_eq!(close_code_for(Message::text("x".repeat(64 * 1024 + 1))).await, CloseCode::Size);
    // A text frame whose payload is not UTF-8 (sent raw: the client library
    // would refuse to build it as text).
    let header = FrameHeader { opcode: OpCode::Data(Data::Text), ..FrameHeader::default() };
    let invalid = Frame::from_payload(header, vec![0xff, 0xfe, 0xfd].into());
    assert_eq!(close_code_for(Message::Frame(invalid)).await, CloseCode::Invalid);
}

#[tokio::test]
async fn a_bad_origin_is_refused_and_the_allow_list_admits() {
    let server = start_with(|c| c.allowed_origins = vec!["https://chat.example.com".into()]).await;
    let url = server.ws_url("");
    match Client::connect_with(&url, &[("Origin", "https://evil.example")]).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|c| c.user_id)),
    }
    Client::connect_with(&url, &[("Origin", "https://chat.example.com")]).await.expect("allow-listed origin");
    let own = format!("http://{}", server.addr);
    Client::connect_with(&url, &[("Origin", own.as_str())]).await.expect("same origin");
    server.stop().await;
}

#[tokio::test]
async fn the_per_ip_connection_limit_holds() {
    let server = start_with(|c| c.max_connections_per_ip = 2).await;
    let _one = server.connect("").await;
    let two = server.connect("").await;
    match Client::connect(&server.ws_url("")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 429),
        other => panic!("expected 429, got {:?}", other.map(|c| c.user_id)),
    }
    drop(two);
    // The slot frees when a connection ends.
    let mut freed = None;
    for _ in 0..250 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if let Ok(c) = Client::connect(&server.ws_url("")).await {
            freed = Some(c);
            break;
        }
    }
    assert!(freed.is_some(), "a closed connection gives its slot back");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_1013_and_the_others_keep_up() {
    let server = start_with(|c| {
        c.outbox_capacity = 8;
        c.messages_per_second = 100_000;
        c.message_burst = 100_000;
        // Megabytes from one user: far past a person's write budget.
        c.lift_quotas();
    })
    .await;
    let mut stalled = server.join("").await;
    let mut reader = server.join("").await;
    let mut writer = server.join("").await;
    let big = "x".repeat(3900);
    let mut sent = 0u64;
    // Publish until the server reports a slow consumer cut off: the stalled
    // client's socket buffers fill, then its outbox. Look often: the server
    // gives the 1013 close frame `close_timeout` (5 s) to get through, and
    // the stalled client only starts reading once the cut is seen.
    loop {
        for _ in 0..10 {
            let batch: Vec<_> = (0..10).map(|_| json!({"content": big})).collect();
            writer.send(json!({"type":"messages","data":batch})).await;
            assert_eq!(writer.ack().await.0, AckStatus::Success);
            sent += 10;
            // The reader keeps up.
            let mut got = 0;
            while got < 10 {
                got += reader.messages().await.len();
            }
        }
        let (_, metrics) = server.get("/metrics").await;
        let metrics = metrics.as_str().unwrap_or_default().to_string();
        if metrics.lines().any(|l| l.starts_with("whisper_slow_consumers_total") && !l.ends_with(" 0")) {
            break;
        }
        assert!(sent < 20_000, "the stalled client was never cut off");
    }
    let frame = stalled.closed().await.expect("a close frame after the buffered data");
    assert_eq!(frame.code, CloseCode::Again);
    // The reader is unaffected.
    writer.say("after").await;
    assert_eq!(&*reader.messages().await[0].content, "after");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001_and_returns() {
    let server = start().await;
    let mut ada = server.join("").await;
    let stopping = tokio::spawn(server.stop());
    let frame = ada.closed().await.expect("a close frame");
    assert_eq!(frame.code, CloseCode::Away);
    stopping.await.unwrap();
}

#[tokio::test]
async fn large_frames_arrive_whole_across_fragments() {
    let server = start().await;
    let mut ada = server.join("").await;
    let mut bob = server.join("").await;
    // 4,000 characters of 2 and 3 bytes: an ack-then-broadcast well over one
    // 4 KiB fragment, split in the middle of characters.
    let content: String = "é€".repeat(2000);
    let drafts: Vec<_> = (0..5).map(|i| json!({"content": content, "client_id": format!("big-{i}")})).collect();
    ada.send(json!({"type":"messages","data":drafts})).await;
    assert_eq!(ada.ack().await.0, AckStatus::Success);
    for client in [&mut ada, &mut bob] {
        let got = client.messages().await;
        assert_eq!(got.len(), 5);
        assert!(got.iter().all(|m| *m.content == *content), "content intact");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_new_room_is_announced_to_every_connection() {
    let server = start().await;
    // In the lobby only: it hears of the room all the same.
    let mut watcher = server.join("room=lobby").await;
    let mut founder = server.join("room=fresh-room").await;
    founder.say("the first word").await;
    let (room, change) = watcher
        .next_where(|f| match f {
            ServerFrame::Room { room, change } => Some((room, change)),
            _ => None,
        })
        .await;
    assert_eq!((room.as_str(), change), ("fresh-room", whisper_core::codec::RoomChange::Created));
    // Once: a second message creates nothing.
    founder.say("and another").await;
    watcher.send(json!({"type":"messages","data":[{"content":"still here"}]})).await;
    let next = watcher
        .next_where(|f| match f {
            ServerFrame::Room { room, .. } => Some(format!("room {room}")),
            ServerFrame::MessageIds { .. } => Some("ack".to_owned()),
            _ => None,
        })
        .await;
    assert_eq!(next, "ack", "no second `room` frame for the same room");
}

/// A `ping` is answered by a `pong` with its id, after the answers to the
/// frames before it: a message sent just before is acked first, so a pong
/// also says that everything before it was taken (protocol.md §4).
#[tokio::test]
async fn a_ping_is_answered_in_order() {
    let server = start().await;
    let mut ada = server.join("").await;
    ada.send(json!({"type": "messages", "data": [{"content": "first", "client_id": "c-1"}]})).await;
    ada.send(json!({"type": "ping", "id": "p-1"})).await;
    ada.send(json!({"type": "ping"})).await;
    let mut order = Vec::new();
    while order.len() < 3 {
        match ada.next().await {
            ServerFrame::MessageIds { status, .. } => order.push(format!("ack {status:?}")),
            ServerFrame::Pong { id } => {
                order.push(format!("pong {}", id.map_or("-".into(), |i| i.as_str().to_owned())))
            }
            _ => {}
        }
    }
    assert_eq!(order, ["ack Success", "pong p-1", "pong -"]);
    ada.send(json!({"type": "ping", "id": "no spaces allowed"})).await;
    assert_eq!(ada.error().await.code, ErrorCode::InvalidFrame);
    server.stop().await;
}

/// `status` marks a connection away; others see its user away once every
/// connection of theirs in the room is, and back as soon as one is
/// (protocol.md §9).
#[tokio::test]
async fn a_user_shows_away_once_every_tab_is_away() {
    let server = start().await;
    let mut ada_one = server.join("room=lobby&name=Ada").await;
    let token = ada_one.token.clone();
    let mut ada_two = server.join(&format!("room=lobby&token={token}")).await;
    let mut bob = server.join("room=lobby&name=Bob").await;
    let ada = ada_one.user_id;
    async fn until(client: &mut Client, want: impl Fn(&[whisper_core::codec::PresenceUser]) -> bool) {
        loop {
            if client.presence.get("lobby").is_some_and(|users| want(users)) {
                return;
            }
            client.next().await;
        }
    }
    until(&mut bob, |users| users.len() == 2).await;
    let away = |ada, want: bool| {
        move |users: &[whisper_core::codec::PresenceUser]| users.iter().any(|u| u.user_id == ada && u.away == want)
    };
    ada_one.send(json!({"type": "status", "away": true})).await;
    ada_two.send(json!({"type": "ping", "id": "after-status"})).await;
    ada_two.next_where(|f| matches!(f, ServerFrame::Pong { .. }).then_some(())).await;
    // One tab of two away: nothing to tell. Both away: Ada is away.
    ada_two.send(json!({"type": "status", "away": true})).await;
    until(&mut bob, away(ada, true)).await;
    ada_one.send(json!({"type": "status", "away": false})).await;
    until(&mut bob, away(ada, false)).await;
    ada_one.send(json!({"type": "status", "away": "yes"})).await;
    let refusal = ada_one.error().await;
    assert_eq!(refusal.details, ["away: must be true or false, got a string"]);
    server.stop().await;
}
