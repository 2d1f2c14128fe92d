//! Clients that stop reading, on a real server: a write that cannot finish
//! times out even in a quiet room, a shutdown is not held up by them, and
//! the outbox's byte bound cuts them off long before its frame bound would.
//! Each stalled client connects with a tiny receive buffer, so the server's
//! socket buffers fill after a few megabytes.

mod support;

use serde_json::json;
use support::server::{Client, TestServer, start_with};
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use whisper_core::codec::AckStatus;

/// A client in the lobby that reads `welcome` and `joined`, then nothing.
async fn stalled(server: &TestServer) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let (ws, _) = tokio_tungstenite::client_async(server.ws_url(""), MaybeTlsStream::Plain(tcp)).await.unwrap();
    let mut client = Client::from_socket(ws).await.unwrap();
    client.joined().await;
    client
}

/// Posts `batches` frames of ten 3,900-character messages (about 40 kB per
/// broadcast), each acked before the next; stops early once `stop` says so.
async fn publish(writer: &mut Client, batches: usize, mut stop: impl AsyncFnMut() -> bool) -> usize {
    let big = "x".repeat(3900);
    for sent in 0..batches {
        if sent % 10 == 0 && stop().await {
            return sent;
        }
        let batch: Vec<_> = (0..10).map(|_| json!({"content": big})).collect();
        writer.send(json!({"type":"messages","data":batch})).await;
        assert_eq!(writer.ack().await.0, AckStatus::Success);
    }
    batches
}

/// A counter of `/metrics` (0 when absent).
async fn metric(server: &TestServer, name: &str) -> u64 {
    let (_, body) = server.get("/metrics").await;
    let body = body.as_str().unwrap_or_default().to_string();
    body.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse::<f64>().ok())).map_or(0, |v| v as u64)
}

/// Polls `/metrics` until `name` reaches `at_least` (at most 20 s).
async fn wait_for_metric(server: &TestServer, name: &str, at_least: u64) -> bool {
    for _ in 0..200 {
        if metric(server, name).await >= at_least {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_client_that_stops_reading_in_a_quiet_room_is_closed_by_the_write_timeout() {
    let server = start_with(|c| {
        // The load comes from one address, far past the write budgets.
        c.lift_quotas();
        // Short, yet long enough that a reader that keeps up (the writer,
        // on a loaded machine) is never taken for a stalled one.
        c.write_timeout_secs = 3;
        // Neither bound of the outbox can cut it off: only the timeout can.
        c.outbox_capacity = 1_000_000;
        c.outbox_bytes = usize::MAX;
        c.messages_per_second = 100_000;
        c.message_burst = 100_000;
    })
    .await;
    let mut stalled = stalled(&server).await;
    let mut writer = server.join("").await;
    // About 8 MB: more than the socket buffers hold. Then the room is quiet.
    publish(&mut writer, 200, async || false).await;
    assert!(
        wait_for_metric(&server, "whisper_write_timeouts_total", 1).await,
        "the stalled client's session is still stuck in a write"
    );
    assert_eq!(metric(&server, "whisper_slow_consumers_total").await, 0, "not cut off by the outbox");
    // It sees what was buffered, then the close (1013) or the connection's end.
    if let Some(frame) = stalled.closed().await {
        assert_eq!(frame.code, CloseCode::Again);
    }
    // The writer is still served.
    writer.say("after").await;
    server.stop().await;
}

#[tokio::test]
async fn shutdown_is_not_held_up_by_clients_stuck_in_a_write() {
    let server = start_with(|c| {
        // The load comes from one address, far past the write budgets.
        c.lift_quotas();
        // Neither the write timeout nor the grace would end it in time:
        // `stop` gives the server 15 s.
        c.write_timeout_secs = 120;
        c.shutdown_grace_secs = 120;
        c.outbox_capacity = 1_000_000;
        c.outbox_bytes = usize::MAX;
        c.messages_per_second = 100_000;
        c.message_burst = 100_000;
    })
    .await;
    let _stalled = [stalled(&server).await, stalled(&server).await, stalled(&server).await];
    let mut writer = server.join("").await;
    publish(&mut writer, 200, async || false).await;
    // A reader that keeps up sees the last broadcast: the stalled sessions
    // have had it pushed too, and are blocked writing what came before.
    writer.say("last").await;
    server.stop().await;
}

#[tokio::test]
async fn the_byte_bound_cuts_a_slow_reader_off_before_the_frame_bound() {
    let server = start_with(|c| {
        // The load comes from one address, far past the write budgets.
        c.lift_quotas();
        c.outbox_capacity = 1024;
        c.outbox_bytes = 256 * 1024;
        c.write_timeout_secs = 120;
        c.messages_per_second = 100_000;
        c.message_burst = 100_000;
    })
    .await;
    let mut stalled = stalled(&server).await;
    let mut writer = server.join("").await;
    let sent = publish(&mut writer, 1000, async || metric(&server, "whisper_slow_consumers_total").await > 0).await;
    // 1,000 broadcasts of ~40 kB never fill 1,024 frames; ~7 of them fill
    // 256 kB once the socket buffers are full.
    assert!(sent < 1000, "the stalled client was never cut off");
    let frame = stalled.closed().await.expect("a close frame after the buffered data");
    assert_eq!(frame.code, CloseCode::Again);
    writer.say("after").await;
    server.stop().await;
}
