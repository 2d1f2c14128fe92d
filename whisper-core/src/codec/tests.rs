//! Every client frame, every decode problem, and round-trips of every server
//! frame.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::limits::{Limits, WireLimits};
use crate::model::{ClientId, DisplayName, Epoch, FileId, MessageId, NewMessage, RoomName, Seq, UserId};

fn decode(v: serde_json::Value) -> Result<ClientFrame, DecodeError> {
    ClientFrame::decode(&v.to_string(), &Limits::default())
}

fn refused(v: serde_json::Value) -> DecodeError {
    decode(v.clone()).expect_err(&format!("{v} must be refused"))
}

#[test]
fn the_seed_frame_decodes() {
    let user = UserId::random();
    let text = format!(r#"{{"type":"messages","data":[{{"user_id":"{user}","content":"Hello, world!"}}]}}"#);
    let frame = ClientFrame::decode(&text, &Limits::default()).unwrap();
    let ClientFrame::Messages { data } = frame else { panic!("not a messages frame") };
    assert_eq!(data.len(), 1);
    assert_eq!(&*data[0].content, "Hello, world!");
    assert_eq!(data[0].user_id, Some(user));
    assert_eq!(data[0].room, None);
    assert_eq!(data[0].client_id, None);
}

#[test]
fn messages_with_every_field() {
    let frame = decode(json!({"type":"messages","data":[
        {"content":"  hi  ","client_id":"c-1","room":"acme/general"},
        {"content":"two\nlines","unknown":"ignored"}
    ]}))
    .unwrap();
    let ClientFrame::Messages { data } = frame else { panic!() };
    assert_eq!(&*data[0].content, "hi", "content is trimmed");
    assert_eq!(data[0].client_id, Some(ClientId::parse("c-1").unwrap()));
    assert_eq!(data[0].room, Some(RoomName::parse("acme/general").unwrap()));
    assert_eq!(&*data[1].content, "two\nlines");
}

#[test]
fn join_leave_typing_profile() {
    assert_eq!(
        decode(json!({"type":"join","room":"lobby","since_seq":41,"epoch":7})).unwrap(),
        ClientFrame::Join { room: RoomName::lobby(), since_seq: Some(Seq(41)), epoch: Some(Epoch(7)) }
    );
    assert_eq!(
        decode(json!({"type":"join","room":"lobby"})).unwrap(),
        ClientFrame::Join { room: RoomName::lobby(), since_seq: None, epoch: None }
    );
    assert_eq!(decode(json!({"type":"leave","room":"lobby"})).unwrap(), ClientFrame::Leave { room: RoomName::lobby() });
    assert_eq!(
        decode(json!({"type":"typing","room":"lobby"})).unwrap(),
        ClientFrame::Typing { room: RoomName::lobby() }
    );
    assert_eq!(
        decode(json!({"type":"profile","name":" Ada "})).unwrap(),
        ClientFrame::Profile { name: DisplayName::parse("Ada").unwrap() }
    );
}

#[test]
fn client_frames_round_trip_through_encode() {
    let frames = [
        ClientFrame::Join { room: RoomName::lobby(), since_seq: Some(Seq(3)), epoch: None },
        ClientFrame::Leave { room: RoomName::lobby() },
        ClientFrame::Typing { room: RoomName::lobby() },
        ClientFrame::Profile { name: DisplayName::parse("Ada").unwrap() },
        ClientFrame::Messages {
            data: vec![Draft {
                content: "hi".into(),
                client_id: Some(ClientId::parse("c").unwrap()),
                room: None,
                user_id: Some(UserId::random()),
                reply_to: Some(MessageId::generate()),
                attachments: vec![FileId::generate()],
            }],
        },
        ClientFrame::Edit {
            room: RoomName::lobby(),
            id: MessageId::generate(),
            content: "fixed".into(),
            client_id: ClientId::parse("e-1").unwrap(),
        },
        ClientFrame::Delete {
            room: RoomName::lobby(),
            id: MessageId::generate(),
            client_id: ClientId::parse("d").unwrap(),
        },
        ClientFrame::React {
            room: RoomName::lobby(),
            id: MessageId::generate(),
            emoji: crate::model::Emoji::parse("👍").unwrap(),
            on: true,
            client_id: ClientId::parse("r").unwrap(),
        },
    ];
    for frame in frames {
        assert_eq!(ClientFrame::decode(&frame.encode(), &Limits::default()).unwrap(), frame);
    }
}

#[test]
fn bad_json_is_invalid_frame() {
    for text in ["", "{", "not json", "{\"type\":\"join\",}", "\u{0}"] {
        let e = ClientFrame::decode(text, &Limits::default()).unwrap_err();
        assert_eq!(e.refusal.code, ErrorCode::InvalidFrame, "{text:?}");
        assert!(e.refusal.details[0].starts_with("json: "), "{:?}", e.refusal.details);
        assert_eq!(e.frame_type, None);
    }
}

#[test]
fn not_an_object_or_no_type() {
    assert_eq!(refused(json!([1, 2])).refusal.details, ["frame: must be an object, got an array"]);
    assert_eq!(refused(json!({"room":"lobby"})).refusal.details, ["type: is required"]);
    assert_eq!(refused(json!({"type": 5})).refusal.details, ["type: must be a string, got a number"]);
}

#[test]
fn unknown_type_is_its_own_code() {
    let e = refused(json!({"type":"subscribe","room":"lobby"}));
    assert_eq!(e.refusal.code, ErrorCode::UnknownType);
    assert!(e.refusal.message.contains("subscribe"));
}

#[test]
fn every_problem_is_listed() {
    let user = UserId::random();
    let e = refused(json!({"type":"messages","data":[
        {"content":""},
        {"content":5,"client_id":"ok-1"},
        {"room":"Bad Room"},
        {"content":"x","user_id":"nope","client_id":""},
        "just a string",
        {"content":"fine","user_id":user.to_string(),"client_id":"ok-2"}
    ]}));
    assert_eq!(e.refusal.code, ErrorCode::InvalidFrame);
    assert_eq!(e.frame_type, Some(FrameType::Messages));
    assert_eq!(
        e.refusal.details,
        [
            "data[0].content: must not be empty",
            "data[1].content: must be a string, got a number",
            "data[2].content: is required",
            "data[2].room: may only contain a-z, 0-9, '_' and '-', with at most one '/'",
            "data[3].client_id: must not be empty",
            "data[3].user_id: must be a UUID v4",
            "data[4]: must be an object, got a string",
        ]
    );
    // Client ids that could be read come back so the client can mark them failed.
    assert_eq!(e.client_ids.len(), 6);
    assert_eq!(e.client_ids[1], Some(ClientId::parse("ok-1").unwrap()));
    assert_eq!(e.client_ids[5], Some(ClientId::parse("ok-2").unwrap()));
    assert_eq!(e.client_ids[0], None);
}

#[test]
fn data_shape_problems() {
    assert_eq!(refused(json!({"type":"messages"})).refusal.details, ["data: is required"]);
    assert_eq!(
        refused(json!({"type":"messages","data":{}})).refusal.details,
        ["data: must be an array, got an object"]
    );
    assert_eq!(refused(json!({"type":"messages","data":[]})).refusal.details, ["data: must hold at least one message"]);
}

#[test]
fn size_problems_alone_are_too_large() {
    let limits = Limits::default();
    let many: Vec<_> = (0..=limits.max_batch).map(|_| json!({"content":"x"})).collect();
    let e = refused(json!({"type":"messages","data":many}));
    assert_eq!(e.refusal.code, ErrorCode::TooLarge);
    assert_eq!(e.refusal.details, ["data: holds 101 messages, at most 100 are allowed"]);

    let long = "é".repeat(limits.max_content_chars + 1);
    let e = refused(json!({"type":"messages","data":[{"content":long}]}));
    assert_eq!(e.refusal.code, ErrorCode::TooLarge);
    assert_eq!(e.refusal.details, ["data[0].content: is 4001 characters long, at most 4000 are allowed"]);

    // Exactly at the limit, counted in characters, not bytes, after trimming.
    let exact = format!("  {}  ", "é".repeat(limits.max_content_chars));
    assert!(decode(json!({"type":"messages","data":[{"content":exact}]})).is_ok());

    // Size and another fault together are invalid_frame, with both listed.
    let e = refused(json!({"type":"messages","data":[{"content":long},{"content":""}]}));
    assert_eq!(e.refusal.code, ErrorCode::InvalidFrame);
    assert_eq!(e.refusal.details.len(), 2);
}

#[test]
fn control_characters_are_refused_but_newlines_and_tabs_are_text() {
    let e = refused(json!({"type":"messages","data":[{"content":"a\u{0007}b"}]}));
    assert_eq!(e.refusal.details, ["data[0].content: must not contain control character U+0007"]);
    assert!(decode(json!({"type":"messages","data":[{"content":"a\tb\r\nc"}]})).is_ok());
}

#[test]
fn join_problems() {
    assert_eq!(refused(json!({"type":"join"})).refusal.details, ["room: is required"]);
    assert_eq!(
        refused(json!({"type":"join","room":"ok","since_seq":-1})).refusal.details,
        ["since_seq: must be a non-negative integer below 2^63"]
    );
    assert_eq!(
        refused(json!({"type":"join","room":"ok","since_seq":"5"})).refusal.details,
        ["since_seq: must be a non-negative integer, got a string"]
    );
    assert_eq!(
        refused(json!({"type":"join","room":"ok","since_seq":1.5})).refusal.details,
        ["since_seq: must be a non-negative integer below 2^63"]
    );
    let huge = ClientFrame::decode(r#"{"type":"join","room":"ok","since_seq":1e400}"#, &Limits::default());
    assert_eq!(huge.unwrap_err().refusal.code, ErrorCode::InvalidFrame);
    let e = refused(json!({"type":"join","room":"", "epoch": true}));
    assert_eq!(e.refusal.details, ["room: must not be empty", "epoch: must be a non-negative integer, got a boolean"]);
    assert_eq!(e.frame_type, Some(FrameType::Join));
}

#[test]
fn leave_typing_profile_problems() {
    assert_eq!(refused(json!({"type":"leave","room":7})).refusal.details, ["room: must be a string, got a number"]);
    assert_eq!(refused(json!({"type":"typing","room":"a/b/c"})).refusal.details.len(), 1);
    assert_eq!(refused(json!({"type":"profile"})).refusal.details, ["name: is required"]);
    assert_eq!(refused(json!({"type":"profile","name":"  "})).refusal.details, ["name: must not be empty"]);
    assert_eq!(
        refused(json!({"type":"profile","name":"x".repeat(33)})).refusal.details,
        ["name: must be at most 32 characters"]
    );
}

#[test]
fn deep_nesting_is_refused_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = ClientFrame::decode(&deep, &Limits::default()).unwrap_err();
    assert_eq!(e.refusal.code, ErrorCode::InvalidFrame);
    let nested = format!(r#"{{"type":"messages","data":[{{"content":{}1{}}}]}}"#, "[".repeat(5000), "]".repeat(5000));
    assert_eq!(ClientFrame::decode(&nested, &Limits::default()).unwrap_err().refusal.code, ErrorCode::InvalidFrame);
}

#[test]
fn every_error_code_has_its_wire_name() {
    let codes = [
        (ErrorCode::InvalidFrame, "invalid_frame"),
        (ErrorCode::UnknownType, "unknown_type"),
        (ErrorCode::Forbidden, "forbidden"),
        (ErrorCode::TooLarge, "too_large"),
        (ErrorCode::RateLimited, "rate_limited"),
        (ErrorCode::StorageUnavailable, "storage_unavailable"),
        (ErrorCode::NotFound, "not_found"),
        (ErrorCode::Internal, "internal"),
    ];
    for (code, name) in codes {
        assert_eq!(code.as_str(), name);
        assert_eq!(serde_json::to_value(code).unwrap(), name);
        let frame = ServerFrame::Error(Refusal::new(code, "m")).encode();
        let v: serde_json::Value = serde_json::from_str(frame.to_text()).unwrap();
        assert_eq!(v, json!({"type":"error","code":name,"message":"m"}));
    }
}

fn message(seq: u64, content: &str) -> crate::model::Message {
    NewMessage::now(RoomName::lobby(), UserId::random(), DisplayName::parse("Ada").unwrap(), content, None)
        .stored_at(Seq(seq))
}

#[test]
fn server_frames_have_the_spec_shape() {
    let user = UserId::random();
    let welcome = ServerFrame::Welcome {
        user_id: user,
        token: "tok".into(),
        server_id: "node-1".into(),
        limits: WireLimits::from(&Limits::default()),
    };
    let v: serde_json::Value = serde_json::from_str(welcome.encode().to_text()).unwrap();
    assert_eq!(v["type"], "welcome");
    assert_eq!(v["user_id"], user.to_string());
    assert_eq!(v["token"], "tok");
    assert_eq!(v["limits"]["max_batch"], 100);

    let id = MessageId::generate();
    let ack = ServerFrame::MessageIds {
        status: AckStatus::Success,
        message_ids: vec![id],
        client_ids: vec![None],
        error: None,
    };
    let v: serde_json::Value = serde_json::from_str(ack.encode().to_text()).unwrap();
    assert_eq!(v, json!({"type":"message_ids","status":"success","message_ids":[id.to_string()],"client_ids":[null]}));

    let m = message(1, "hi");
    let frame = ServerFrame::Messages { room: RoomName::lobby(), data: vec![m.clone()].into(), recovered: None };
    let v: serde_json::Value = serde_json::from_str(frame.encode().to_text()).unwrap();
    assert_eq!(v["type"], "messages");
    assert_eq!(v["room"], "lobby");
    assert_eq!(v["data"][0]["seq"], 1);
    assert!(v.get("recovered").is_none());
}

#[test]
fn server_frames_round_trip() {
    let user = UserId::random();
    let frames: Vec<ServerFrame<'static>> = vec![
        ServerFrame::Welcome {
            user_id: user,
            token: "t".into(),
            server_id: "s".into(),
            limits: WireLimits::from(&Limits::default()),
        },
        ServerFrame::MessageIds {
            status: AckStatus::Error,
            message_ids: vec![],
            client_ids: vec![Some(ClientId::parse("c").unwrap())],
            error: Some(Refusal {
                details: vec!["x".into()],
                ..Refusal::new(ErrorCode::RateLimited, "slow").retry_after(std::time::Duration::from_millis(50))
            }),
        },
        ServerFrame::Messages {
            room: RoomName::lobby(),
            data: vec![message(1, "a"), message(2, "b")].into(),
            recovered: Some(true),
        },
        ServerFrame::Joined {
            room: RoomName::lobby(),
            seq: Seq(9),
            epoch: Epoch(3),
            recovered: false,
            read_seq: Some(Seq(4)),
            unread: Some(2),
        },
        ServerFrame::Presence {
            room: RoomName::lobby(),
            users: vec![PresenceUser::guest(user, DisplayName::parse("Ada").unwrap())].into(),
        },
        ServerFrame::Typing {
            room: RoomName::lobby(),
            user_id: user,
            name: DisplayName::parse("Ada").unwrap(),
            principal: crate::model::PrincipalKind::Account,
        },
        ServerFrame::Error(Refusal::new(ErrorCode::NotFound, "no such room")),
        ServerFrame::Error(Refusal::new(ErrorCode::StorageUnavailable, "later").in_room(&RoomName::lobby())),
    ];
    for frame in frames {
        let encoded = frame.encode();
        assert_eq!(ServerFrame::decode(encoded.to_text()).unwrap(), frame);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoding_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = ClientFrame::decode(&text, &Limits::default());
    }

    #[test]
    fn decoding_arbitrary_json_never_panics(v in arb_json()) {
        let _ = ClientFrame::decode(&v.to_string(), &Limits::default());
    }

    #[test]
    fn valid_messages_round_trip(
        contents in prop::collection::vec("[a-zA-Z0-9 .,!?é🦀\n]{0,40}[a-z]", 1..5),
        client in prop::option::of("[a-z0-9-]{1,20}"),
        room in prop::option::of("[a-z0-9_-]{1,10}(/[a-z0-9_-]{1,10})?"),
    ) {
        let frame = ClientFrame::Messages {
            data: contents.iter().map(|c| Draft {
                content: c.trim().into(),
                client_id: client.as_deref().map(|c| ClientId::parse(c).unwrap()),
                room: room.as_deref().map(|r| RoomName::parse(r).unwrap()),
                user_id: None,
                reply_to: None,
                attachments: Vec::new(),
            }).collect(),
        };
        prop_assert_eq!(ClientFrame::decode(&frame.encode(), &Limits::default()).unwrap(), frame);
    }

    #[test]
    fn server_messages_round_trip(content in "\\PC{1,200}", seq in 1u64..1_000_000) {
        let m = message(seq, &content);
        let frame = ServerFrame::Messages { room: RoomName::lobby(), data: vec![m].into(), recovered: None };
        prop_assert_eq!(ServerFrame::decode(frame.encode().to_text()).unwrap(), frame);
    }
}

/// JSON values shaped like frames: objects with a plausible `type` and fields
/// of any kind, so the validator's every branch sees wrong types.
fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)),
        "[a-z/]{0,8}".prop_map(serde_json::Value::from),
        prop_oneof![Just("messages"), Just("join"), Just("leave"), Just("typing"), Just("profile")]
            .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type"),
                    Just("data"),
                    Just("content"),
                    Just("room"),
                    Just("since_seq"),
                    Just("name"),
                    Just("client_id"),
                    Just("user_id")
                ]
                .prop_map(String::from),
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn a_draft_may_be_files_alone() {
    let (a, b) = (FileId::generate(), FileId::generate());
    let frame = decode(json!({"type": "messages", "data": [
        {"attachments": [a.to_string()]},
        {"content": "  ", "attachments": [a.to_string(), b.to_string()]},
        {"content": " look ", "attachments": [b.to_string()]},
    ]}))
    .expect("files alone are a message");
    let ClientFrame::Messages { data } = frame else { panic!("not messages: {frame:?}") };
    assert_eq!((&*data[0].content, &data[0].attachments), ("", &vec![a]));
    assert_eq!((&*data[1].content, &data[1].attachments), ("", &vec![a, b]));
    assert_eq!(&*data[2].content, "look");
}

#[test]
fn attachments_are_checked() {
    let id = FileId::generate().to_string();
    let eleven: Vec<String> = (0..11).map(|_| FileId::generate().to_string()).collect();
    for (attachments, detail) in [
        (json!([id, id]), format!("data[0].attachments[1]: names file {id} twice")),
        (json!(eleven), "data[0].attachments: has 11 files, at most 10 are allowed".to_owned()),
        (json!(["nope"]), "data[0].attachments[0]: must be a file id (a ULID)".to_owned()),
        (json!([7]), "data[0].attachments[0]: must be a string, got a number".to_owned()),
        (json!("x"), "data[0].attachments: must be an array of file ids, got a string".to_owned()),
    ] {
        let err = decode(json!({"type": "messages", "data": [{"content": "hi", "attachments": attachments}]}))
            .expect_err("refused");
        assert_eq!(err.refusal.details, vec![detail]);
    }
    let err = decode(json!({"type": "messages", "data": [{"content": " ", "attachments": []}]})).expect_err("empty");
    assert_eq!(err.refusal.details, vec!["data[0].content: must not be empty".to_owned()]);
}

#[test]
fn pings_carry_an_optional_id() {
    assert_eq!(decode(json!({"type": "ping"})).unwrap(), ClientFrame::Ping { id: None });
    let tagged = decode(json!({"type": "ping", "id": "p-7"})).unwrap();
    assert_eq!(tagged, ClientFrame::Ping { id: Some(ClientId::parse("p-7").unwrap()) });
    assert_eq!(refused(json!({"type": "ping", "id": "two words"})).refusal.details.len(), 1);
    assert_eq!(refused(json!({"type": "ping", "id": 3})).refusal.details, ["id: must be a string, got a number"]);
    let pong = ServerFrame::Pong { id: Some(ClientId::parse("p-7").unwrap()) };
    assert_eq!(serde_json::to_value(&pong).unwrap(), json!({"type": "pong", "id": "p-7"}));
    assert_eq!(serde_json::to_value(ServerFrame::Pong { id: None }).unwrap(), json!({"type": "pong"}));
}
