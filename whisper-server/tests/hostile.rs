//! Hostile input over a real socket: every kind of broken frame gets the
//! right error frame, nack or close code, the connection survives what it
//! should survive, nothing refused is stored, and the server never falls
//! over. Floods from one address hit the limits without hurting anyone else.

mod support;

use futures_util::SinkExt;
use serde_json::json;
use support::server::{Client, start_with};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use whisper_core::codec::{AckStatus, ErrorCode, ServerFrame};

/// What the server answered to one frame.
#[derive(Debug, PartialEq)]
enum Answer {
    Error(ErrorCode),
    Nack(ErrorCode),
}

async fn answer(client: &mut Client, text: &str) -> Answer {
    client.send_raw(Message::text(text.to_owned())).await;
    client
        .next_where(|f| match f {
            ServerFrame::Error(r) => Some(Answer::Error(r.code)),
            ServerFrame::MessageIds { status: AckStatus::Error, error: Some(r), .. } => Some(Answer::Nack(r.code)),
            ServerFrame::MessageIds { status: AckStatus::Success, .. } => panic!("{text:?} was stored"),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn every_broken_frame_gets_its_answer_and_the_socket_stays_open() {
    use Answer::{Error, Nack};
    use ErrorCode::{InvalidFrame, UnknownType};
    let server = start_with(|_| {}).await;
    let mut eve = server.join("").await;
    let deep = format!("{{\"type\":\"join\",\"room\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(String, Answer)> = vec![
        // Not JSON, or not an object.
        ("{oops".into(), Error(InvalidFrame)),
        ("".into(), Error(InvalidFrame)),
        ("null".into(), Error(InvalidFrame)),
        ("[1,2,3]".into(), Error(InvalidFrame)),
        ("\"messages\"".into(), Error(InvalidFrame)),
        (deep, Error(InvalidFrame)),
        // Types.
        (r#"{"type":"shout"}"#.into(), Error(UnknownType)),
        (r#"{"type":5}"#.into(), Error(InvalidFrame)),
        (r#"{"data":[]}"#.into(), Error(InvalidFrame)),
        // Numbers too large, negative, fractional, or strings.
        (r#"{"type":"join","room":"lobby","since_seq":1e400}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"join","room":"lobby","since_seq":123456789012345678901234567890}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"join","room":"lobby","since_seq":-1}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"join","room":"lobby","since_seq":1.5}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"join","room":"lobby","since_seq":"3"}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"join","room":"lobby","epoch":"x"}"#.into(), Error(InvalidFrame)),
        // Every field of every frame with the wrong type.
        (r#"{"type":"join","room":7}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"join"}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"leave","room":["lobby"]}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"typing","room":{}}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"profile","name":{"first":"Eve"}}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"messages","data":"hello"}"#.into(), Nack(InvalidFrame)),
        (r#"{"type":"messages","data":[]}"#.into(), Nack(InvalidFrame)),
        (r#"{"type":"messages","data":[{"content":42}]}"#.into(), Nack(InvalidFrame)),
        (r#"{"type":"messages","data":[{"content":"x","client_id":42}]}"#.into(), Nack(InvalidFrame)),
        (r#"{"type":"messages","data":[{"content":"x","room":true}]}"#.into(), Nack(InvalidFrame)),
        (r#"{"type":"messages","data":[{"content":"x","user_id":1}]}"#.into(), Nack(InvalidFrame)),
        (r#"{"type":"messages","data":[7]}"#.into(), Nack(InvalidFrame)),
        // Values of the right type that break the rules.
        (r#"{"type":"messages","data":[{"content":"bell \u0007"}]}"#.into(), Nack(InvalidFrame)),
        (r#"{"type":"messages","data":[{"content":"   "}]}"#.into(), Nack(InvalidFrame)),
        (r#"{"type":"messages","data":[{"content":"x","client_id":"has space"}]}"#.into(), Nack(InvalidFrame)),
        (r#"{"type":"join","room":"Lobby!"}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"join","room":"a/b/c"}"#.into(), Error(InvalidFrame)),
        (r#"{"type":"profile","name":"\u202eevil"}"#.into(), Error(InvalidFrame)),
        (format!(r#"{{"type":"messages","data":[{{"content":"{}"}}]}}"#, "x".repeat(4001)), Nack(ErrorCode::TooLarge)),
    ];
    for (text, expected) in cases {
        let got = answer(&mut eve, &text).await;
        let shown: String = text.chars().take(80).collect();
        assert_eq!(got, expected, "for {shown:?}");
    }
    // Still open, and nothing of the above was stored.
    eve.send(json!({"type":"messages","data":[{"content":"still here","client_id":"ok-1"}]})).await;
    assert_eq!(eve.ack().await.0, AckStatus::Success);
    let (_, body) = server.get("/v1/chat/messages").await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn a_one_megabyte_frame_closes_with_1009_and_the_server_carries_on() {
    let server = start_with(|_| {}).await;
    let mut eve = server.join("").await;
    let mut ada = server.join("").await;
    let huge = format!(r#"{{"type":"messages","data":[{{"content":"{}"}}]}}"#, "x".repeat(1024 * 1024));
    eve.send_raw(Message::text(huge)).await;
    let close = eve.closed().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Size);
    // The others never noticed.
    ada.send(json!({"type":"messages","data":[{"content":"unaffected"}]})).await;
    assert_eq!(ada.ack().await.0, AckStatus::Success);
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// A WebSocket client connecting from another loopback address.
async fn connect_from(source: &str, url: &str) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
    let addr: std::net::SocketAddr = url.trim_start_matches("ws://").split('/').next().unwrap().parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(tcp)).await?;
    Client::from_socket(ws).await
}

#[tokio::test]
async fn floods_from_one_address_hit_the_limits_and_nobody_else_notices() {
    let server = start_with(|c| {
        c.max_connections_per_ip = 10;
        // Slow enough that however long the 40 commits take on a loaded
        // machine, few tokens come back meanwhile.
        c.messages_per_second = 1;
        c.message_burst = 10;
    })
    .await;
    let url = server.ws_url("");
    // Someone else, from another address, in the same room.
    let mut ada = connect_from("127.0.0.2", &url).await.expect("ada connects");
    ada.joined().await;

    // A connection flood from 127.0.0.1: ten get in, the rest get 429.
    let mut flood = Vec::new();
    let mut refused = 0;
    for _ in 0..60 {
        match Client::connect(&url).await {
            Ok(c) => flood.push(c),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) if res.status() == 429 => refused += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(flood.len(), 10);
    assert_eq!(refused, 50);

    // A message flood from one of them: the burst passes, the rest is refused.
    let flooder = &mut flood[0];
    let mut nacked = 0;
    for i in 0..40 {
        flooder.send(json!({"type":"messages","data":[{"content":format!("spam {i}")}]})).await;
    }
    for _ in 0..40 {
        if flooder.ack().await.0 == AckStatus::Error {
            nacked += 1;
        }
    }
    assert!(nacked >= 25, "the rate limit held: {nacked} of 40 refused");

    // Ada, from her own address, still connects again and chats at once.
    let mut bob = connect_from("127.0.0.2", &url).await.expect("a second connection from 127.0.0.2");
    bob.joined().await;
    ada.send(json!({"type":"messages","data":[{"content":"hello from ada","client_id":"ada-1"}]})).await;
    assert_eq!(ada.ack().await.0, AckStatus::Success);
    let got = bob.messages().await;
    assert!(got.iter().any(|m| &*m.content == "hello from ada"), "bob got ada's message");
    server.stop().await;
}

#[tokio::test]
async fn an_invalid_frame_flood_closes_with_1008_and_the_room_carries_on() {
    let server = start_with(|_| {}).await;
    let mut eve = server.join("").await;
    let mut ada = server.join("").await;
    // Frames that do not decode take control tokens: the burst (40) is
    // answered, then 40 more are refused, then the connection is closed.
    for _ in 0..200 {
        eve.send_raw(Message::text("{oops")).await;
    }
    let close = eve.closed().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Policy);
    assert_eq!(close.reason.as_str(), "too many refused frames");
    ada.say("unaffected").await;
    server.stop().await;
}

#[tokio::test]
async fn a_ping_flood_closes_with_1008_and_the_room_carries_on() {
    let server = start_with(|_| {}).await;
    let mut eve = server.join("").await;
    let mut ada = server.join("").await;
    // A few pings are fine.
    for _ in 0..5 {
        eve.send_raw(Message::Ping(Vec::new().into())).await;
    }
    eve.say("still here").await;
    for _ in 0..500 {
        if eve.ws.send(Message::Ping(Vec::new().into())).await.is_err() {
            break;
        }
    }
    let close = eve.closed().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Policy);
    assert_eq!(close.reason.as_str(), "too many pings");
    ada.say("unaffected").await;
    server.stop().await;
}

/// Upgrades a raw TCP socket, writes `frame` as is, and returns the close
/// frame's code and reason the server sent before ending the connection.
async fn close_after_raw_frame(addr: std::net::SocketAddr, frame: &[u8]) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /v1/chat/ws?room=lobby HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0, "no upgrade");
        raw.extend_from_slice(&buf[..n]);
    }
    assert!(raw.starts_with(b"HTTP/1.1 101"), "upgraded");
    tcp.write_all(frame).await.unwrap();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), tcp.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "the server ended the connection");
    let mut at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    // Walk the server's (unmasked) frames to the close.
    while at + 2 <= raw.len() {
        let (len, header) = match raw[at + 1] & 0x7f {
            126 => (u16::from_be_bytes([raw[at + 2], raw[at + 3]]) as usize, 4),
            127 => panic!("no frame here is that large"),
            n => (n as usize, 2),
        };
        let payload = &raw[at + header..at + header + len];
        if raw[at] & 0x0f == 0x8 {
            // No status code: RFC 6455 reports it as 1005.
            let code = if payload.len() >= 2 { u16::from_be_bytes([payload[0], payload[1]]) } else { 1005 };
            return Some((code, String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned()));
        }
        at += header + len;
    }
    None
}

#[tokio::test]
async fn websocket_protocol_errors_close_with_1002() {
    let server = start_with(|_| {}).await;
    let mut ada = server.join("").await;
    let mask = [1u8, 2, 3, 4];
    let masked = |first: u8, payload: &[u8]| {
        let mut f = vec![first, 0x80 | payload.len() as u8];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        f
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("an unmasked text frame", vec![0x81, 0x02, b'h', b'i']),
        ("a reserved data opcode", masked(0x83, b"hi")),
        ("a reserved control opcode", masked(0x8b, b"")),
        ("a reserved bit", masked(0xc1, b"hi")),
        ("a continuation with nothing to continue", masked(0x80, b"hi")),
        ("a fragmented ping", masked(0x09, b"")),
    ];
    for (what, frame) in cases {
        let close = close_after_raw_frame(server.addr, &frame).await;
        let (code, reason) = close.unwrap_or_else(|| panic!("{what}: no close frame"));
        assert_eq!(code, 1002, "{what}: {reason}");
        assert_eq!(reason, "websocket protocol error", "{what}");
    }
    ada.say("unaffected").await;
    server.stop().await;
}
