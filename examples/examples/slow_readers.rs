//! What slow readers pin: a server in this process, a busy room, and 20
//! clients in it that stop reading (each with a 4 kB receive buffer). Prints
//! the process's resident memory (VmRSS) before, at its peak while the room
//! is busy, and after the slow readers have been cut off and the room has
//! gone quiet. Bounded: 18 s of traffic, then 6 s of quiet; it stops by itself.
//!
//! `cargo run --release -p whisper-examples --example slow_readers` with the
//! defaults (`--outbox-bytes` 4 MiB, `--write-timeout-secs` 10), or with
//! `-- unbounded` for the frame bound alone (no byte bound, no write
//! timeout: the server as it was). docs/performance.md records the figures.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use whisper_server::{Config, Server};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const SLOW_READERS: usize = 20;
const WRITERS: usize = 4;
const BUSY: Duration = Duration::from_secs(18);
const QUIET: Duration = Duration::from_secs(6);

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Connects, optionally with a small receive buffer, and reads up to `joined`.
async fn connect(addr: std::net::SocketAddr, recv_buffer: Option<u32>) -> anyhow::Result<Socket> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    let tcp = socket.connect(addr).await?;
    let url = format!("ws://{addr}/v1/chat/ws?room=lobby");
    let (mut ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)).await?;
    while let Some(msg) = ws.next().await {
        if let Message::Text(text) = msg? {
            if text.contains("\"type\":\"joined\"") {
                return Ok(ws);
            }
        }
    }
    anyhow::bail!("closed before joined")
}

/// Posts batches of ten ~3,900-character messages until `until`, reading
/// everything it is sent (acks and broadcasts).
async fn write_until(mut ws: Socket, until: Instant) -> anyhow::Result<u64> {
    let content = "x".repeat(3900);
    let batch = json!({"type":"messages","data":(0..10).map(|_| json!({"content": content})).collect::<Vec<_>>()});
    let batch = batch.to_string();
    let mut sent = 0;
    while Instant::now() < until {
        ws.send(Message::text(batch.clone())).await?;
        sent += 10;
        while let Some(msg) = ws.next().await {
            if let Message::Text(text) = msg? {
                if text.contains("\"type\":\"message_ids\"") {
                    break;
                }
            }
        }
    }
    Ok(sent)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let unbounded = std::env::args().any(|a| a == "unbounded");
    let dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut config = Config::new(addr, dir.path());
    config.messages_per_second = 1_000_000;
    config.message_burst = 1_000_000;
    config.max_connections_per_ip = 1000;
    // Every writer comes from one address, far past the write budgets.
    config.lift_quotas();
    if unbounded {
        config.outbox_bytes = usize::MAX;
        config.write_timeout_secs = 1_000_000;
    }
    let server = Server::builder(config).build().await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(listener, async {
        let _ = stopped.await;
    }));

    let before = rss_mb();
    let mut slow = Vec::new();
    for _ in 0..SLOW_READERS {
        slow.push(connect(addr, Some(4096)).await?);
    }
    // One reader that keeps up.
    let mut reader = connect(addr, None).await?;
    let reading = tokio::spawn(async move {
        let mut frames = 0u64;
        while let Some(Ok(_)) = reader.next().await {
            frames += 1;
        }
        frames
    });
    let until = Instant::now() + BUSY;
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let ws = connect(addr, None).await?;
        writers.push(tokio::spawn(write_until(ws, until)));
    }
    let mut peak = before;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak = peak.max(rss_mb());
    }
    let mut sent = 0;
    for w in writers {
        sent += w.await??;
    }
    let busy_end = rss_mb();
    // The room goes quiet; the slow readers are still connected (stalled).
    tokio::time::sleep(QUIET).await;
    let quiet = rss_mb();
    // Then they go away.
    drop(slow);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_mb();
    let _ = stop.send(());
    running.await??;
    let received = reading.await?;
    println!(
        "{}: {sent} messages sent, {received} frames read by the reader that keeps up",
        if unbounded { "frame bound only" } else { "byte bound + write timeout" }
    );
    println!(
        "VmRSS MB: before {before:.0}, peak {peak:.0}, end of traffic {busy_end:.0}, \
         after {} s of quiet {quiet:.0}, after the slow readers left {after:.0}",
        QUIET.as_secs()
    );
    Ok(())
}
