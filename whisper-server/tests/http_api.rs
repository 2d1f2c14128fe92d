//! The HTTP API: history paging, rooms, health, metrics, errors, static page.

mod support;

use support::server::{http_get, start};

#[tokio::test]
async fn history_pages_by_seq() {
    let server = start().await;
    let mut ada = server.join("room=acme/general").await;
    for i in 1..=12 {
        ada.say(&format!("m{i}")).await;
    }
    let seqs = |body: &serde_json::Value| -> Vec<u64> {
        body["data"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect()
    };
    let (status, body) = server.get("/v1/chat/messages?room=acme%2Fgeneral&limit=5").await;
    assert_eq!(status, 200);
    assert_eq!(seqs(&body), [8, 9, 10, 11, 12], "the latest, oldest first");
    assert_eq!(body["has_more"], true);
    let (_, body) = server.get("/v1/chat/messages?room=acme/general&before_seq=8&limit=5").await;
    assert_eq!(seqs(&body), [3, 4, 5, 6, 7]);
    let (_, body) = server.get("/v1/chat/messages?room=acme/general&before_seq=3&limit=5").await;
    assert_eq!((seqs(&body), body["has_more"].as_bool()), (vec![1, 2], Some(false)));
    let (_, body) = server.get("/v1/chat/messages?room=acme/general&after_seq=0&limit=5").await;
    assert_eq!(seqs(&body), [1, 2, 3, 4, 5]);
    let (_, body) = server.get("/v1/chat/messages?room=acme/general&after_seq=10").await;
    assert_eq!((seqs(&body), body["has_more"].as_bool()), (vec![11, 12], Some(false)));
    let (_, body) = server.get("/v1/chat/messages?room=empty").await;
    assert_eq!((seqs(&body), body["has_more"].as_bool()), (vec![], Some(false)));
    let m = &body["data"];
    assert!(m.as_array().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn bad_queries_are_json_errors() {
    let server = start().await;
    for (path, field) in [
        ("/v1/chat/messages?room=Bad%20Room", "room"),
        ("/v1/chat/messages?limit=0", "limit"),
        ("/v1/chat/messages?limit=501", "limit"),
        ("/v1/chat/messages?limit=ten", "limit"),
        ("/v1/chat/messages?before_seq=-1", "before_seq"),
        ("/v1/chat/messages?after_seq=1.5", "after_seq"),
    ] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"]["code"], "invalid_request", "{path}");
        assert!(body["error"]["message"].as_str().unwrap().starts_with(field), "{path}: {body}");
    }
    let (status, body) = server.get("/v1/nothing").await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, body) = server.get("/v1/chat/ws").await;
    assert_eq!((status, body["error"]["code"].as_str()), (426, Some("upgrade_required")));
    // A client can check its token with a plain GET: a bad one is 401.
    let (status, body) = server.get("/v1/chat/ws?token=v1.forged.00").await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    // A malformed upgrade is a 400 with the same code as every other 400.
    let upgrade = [("Connection", "Upgrade"), ("Upgrade", "websocket")];
    for extra in [
        [("Sec-WebSocket-Version", "8"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")],
        [("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "short")],
    ] {
        let headers: Vec<_> = upgrade.iter().chain(&extra).copied().collect();
        let (status, body) = http_get(server.addr, "/v1/chat/ws", &headers).await;
        let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_request")), "{extra:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn rooms_health_metrics_and_the_front_page() {
    let server = start().await;
    let mut ada = server.join("room=acme/general").await;
    ada.say("hi").await;
    let (status, body) = server.get("/v1/rooms").await;
    assert_eq!(status, 200);
    let rooms = body["rooms"].as_array().unwrap();
    assert_eq!(rooms.len(), 1);
    assert_eq!(rooms[0]["name"], "acme/general");
    assert_eq!(rooms[0]["online"], 1);
    assert_eq!(rooms[0]["last_seq"], 1);
    assert!(rooms[0]["last_message_at"].as_str().unwrap().ends_with('Z'));

    assert_eq!(server.get("/healthz").await, (200, serde_json::json!({"status":"ok"})));
    assert_eq!(server.get("/readyz").await, (200, serde_json::json!({"status":"ready"})));

    let (status, metrics) = server.get("/metrics").await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap();
    for name in [
        "whisper_connections ",
        "whisper_messages_in_total 1",
        "whisper_messages_out_total",
        "whisper_store_append_seconds_count 1",
        "whisper_fanout_seconds_total",
        "whisper_slow_consumers_total 0",
    ] {
        assert!(metrics.lines().any(|l| l.starts_with(name)), "{name} missing from\n{metrics}");
    }

    let (status, page) = http_get(server.addr, "/", &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("WhisperChat"));
    server.stop().await;
}

#[tokio::test]
async fn a_slow_handshake_is_dropped() {
    let server = support::server::start_with(|c| c.handshake_timeout_secs = 1).await;
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tcp.write_all(b"GET /v1/chat/ws HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // ...and never finishes the headers.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server closed the connection");
    server.stop().await;
}
