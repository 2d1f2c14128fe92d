//! The whisper-server binary as a child process, for tests that must kill
//! it with SIGKILL or run several nodes, and reading a room's whole history
//! over the HTTP API.

#![allow(dead_code)]

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use whisper_core::codec::HistoryPage;
use whisper_core::model::{Message, RoomName};

use super::server::http_get;

/// A running `whisper-server` process.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
}

/// A free port on loopback (bound and released; the server takes it next).
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

impl ServerProcess {
    /// Starts the binary on `addr` with `args` (and lifted message rate
    /// limits and write budgets, `RUST_LOG=warn`), and waits until `/readyz` answers 200.
    /// `WHISPER_TEST_SERVER_LOG=whisper_core=debug` (a `RUST_LOG` filter)
    /// shows the servers' logs instead, to see what a failing test's nodes did.
    pub async fn start(addr: SocketAddr, args: &[OsString]) -> ServerProcess {
        let log = std::env::var("WHISPER_TEST_SERVER_LOG").ok();
        let child = Command::new(env!("CARGO_BIN_EXE_whisper-server"))
            .args(["--bind", &addr.to_string(), "--messages-per-second", "100000", "--message-burst", "100000"])
            .args(NO_QUOTAS)
            .args(args)
            .env("RUST_LOG", log.as_deref().unwrap_or("warn"))
            .stdout(if log.is_some() { Stdio::inherit() } else { Stdio::null() })
            .stderr(Stdio::inherit())
            .spawn()
            .expect("whisper-server starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() && http_get(addr, "/readyz", &[]).await.0 == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "whisper-server did not become ready on {addr}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        ServerProcess { child, addr }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Arguments from anything string-like (paths included).
pub fn args<I, S>(items: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    items.into_iter().map(Into::into).collect()
}

/// The whole stored log of `room` (messages and events), oldest first, page
/// by page from `GET /v1/chat/events`.
pub async fn stored_log(addr: SocketAddr, room: &RoomName) -> Vec<whisper_core::model::Entry> {
    let mut out: Vec<whisper_core::model::Entry> = Vec::new();
    loop {
        let after = out.last().map_or(0, |e| e.seq().0);
        let path = format!("/v1/chat/events?room={room}&after_seq={after}&limit=500");
        let (status, body) = http_get(addr, &path, &[]).await;
        assert_eq!(status, 200, "{body}");
        let page: whisper_core::codec::EventsPage = serde_json::from_str(&body).expect("a log page");
        let more = page.has_more;
        out.extend(page.data.into_owned());
        if !more {
            return out;
        }
    }
}

/// Every stored message of `room`, oldest first, page by page.
pub async fn stored_history(addr: SocketAddr, room: &RoomName) -> Vec<Message> {
    let mut out: Vec<Message> = Vec::new();
    loop {
        let after = out.last().map_or(0, |m| m.seq.0);
        let path = format!("/v1/chat/messages?room={room}&after_seq={after}&limit=500");
        let (status, body) = http_get(addr, &path, &[]).await;
        assert_eq!(status, 200, "{body}");
        let page: HistoryPage = serde_json::from_str(&body).expect("a history page");
        let more = page.has_more;
        out.extend(page.data.into_owned());
        if !more {
            return out;
        }
    }
}

/// The options that turn every write budget and room-creation cap off: the
/// tests send from one address, faster than any person.
const NO_QUOTAS: [&str; 16] = [
    "--user-write-bytes-per-minute",
    "0",
    "--user-write-bytes-per-day",
    "0",
    "--address-write-bytes-per-minute",
    "0",
    "--address-write-bytes-per-day",
    "0",
    "--user-rooms-per-hour",
    "0",
    "--user-rooms-per-day",
    "0",
    "--address-rooms-per-hour",
    "0",
    "--address-rooms-per-day",
    "0",
];
