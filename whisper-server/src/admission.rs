//! What happens to a TCP connection as it is accepted, before hyper reads a
//! byte of it (protocol.md §10): it takes a slot under the global cap (or
//! one of the health reserve) and, unless it comes from a trusted proxy, a
//! slot of its address. A connection that gets neither is answered at once
//! with a canned JSON error (503 `too_many_connections` or 429
//! `rate_limited`, with `Retry-After`) and closed, so that a client at the
//! cap learns why instead of hanging. And when `accept` itself fails (out
//! of file descriptors), the loop backs off instead of spinning.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use whisper_core::codec::{HttpError, HttpErrorBody, HttpErrorCode};

use crate::client_addr::is_trusted;
use crate::permits::{ConnectionPermit, Slot};
use crate::state::AppState;

/// Seconds a refused client is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 5;

/// Refusals being written at once; past it a refused socket is just closed
/// (each holds a descriptor for up to [`REFUSAL_LINGER`], and they come out
/// of the descriptor margin).
const MAX_REFUSING: usize = 64;

/// How long a refused socket is kept to write its answer and read what the
/// client sent meanwhile (closing with unread input would reset the
/// connection and could lose the answer).
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Which listener a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The main one (`--bind`).
    Main,
    /// `--metrics-bind`: `/metrics` only.
    Metrics,
}

/// An admitted connection: who it is from, where, and whether it holds one
/// of the health reserve's slots.
#[derive(Clone, Copy, Debug)]
pub struct Admitted {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The listener it came in on.
    pub listener: Listener,
    /// In the health reserve: health checks and metrics only, one request.
    pub reserve: bool,
}

/// Admits `tcp` (its permits, and where it stands), or refuses it (and
/// answers it on a task of its own).
pub(crate) fn admit(
    tcp: TcpStream,
    peer: SocketAddr,
    listener: Listener,
    state: &AppState,
) -> Option<(TcpStream, Admitted, Arc<ConnectionPermit>)> {
    let (slot, reserve) = match state.connections.claim() {
        Slot::Open(slot) => (slot, false),
        Slot::Reserve(slot) => (slot, true),
        Slot::Full => {
            tracing::debug!(%peer, "refused: at the connection cap");
            refuse(tcp, HttpErrorCode::TooManyConnections, "the server is at its connection limit; retry later", state);
            return None;
        }
    };
    let ip = if is_trusted(peer.ip(), &state.config.trusted_proxies) {
        // The clients it forwards are counted at their WebSocket upgrade.
        None
    } else {
        match state.ip_permit(peer.ip()) {
            Some(permit) => Some(permit),
            None => {
                tracing::debug!(%peer, "refused: too many connections from this address");
                refuse(tcp, HttpErrorCode::RateLimited, "too many connections from this address", state);
                return None;
            }
        }
    };
    Some((tcp, Admitted { peer, listener, reserve }, Arc::new(ConnectionPermit::new(slot, ip))))
}

/// Answers `code` on `tcp` without reading a request, then closes it.
/// The answer is written at once (a fresh socket's send buffer takes it
/// whole), whatever else is going on; then, within [`MAX_REFUSING`], the
/// socket lingers to read what the client sent, since closing with unread
/// input resets the connection and can destroy the answer in flight.
fn refuse(tcp: TcpStream, code: HttpErrorCode, message: &str, state: &AppState) {
    state.metrics.tcp_refused.inc();
    let Ok(tcp) = tcp.into_std() else { return };
    let _ = (&tcp).write(&canned(code, message));
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let refusing = state.refusing.clone();
    if refusing.fetch_add(1, Ordering::AcqRel) >= MAX_REFUSING {
        refusing.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    tokio::spawn(async move {
        if let Ok(mut tcp) = TcpStream::from_std(tcp) {
            let _ = tokio::time::timeout(REFUSAL_LINGER, async {
                // Read (and drop) what the client sent until it closes too.
                let mut sink = [0u8; 4096];
                while tcp.read(&mut sink).await.is_ok_and(|n| n > 0) {}
            })
            .await;
        }
        refusing.fetch_sub(1, Ordering::AcqRel);
    });
}

/// A complete HTTP/1.1 response carrying the JSON error of protocol.md §11.
fn canned(code: HttpErrorCode, message: &str) -> Vec<u8> {
    let body = serde_json::to_string(&HttpError { error: HttpErrorBody { code, message: message.into() } })
        .unwrap_or_default();
    let status = code.status();
    let reason = match status {
        429 => "Too Many Requests",
        _ => "Service Unavailable",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncache-control: no-store\r\n\
         retry-after: {RETRY_AFTER_SECS}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The accept loop's pause after a failed accept: from 10 ms, doubling up
/// to 1 s while accepts keep failing. One warning starts an episode and one
/// line ends it, however many accepts failed in between.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    failures: u64,
    pause: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// Whether an accept error is about this connection only (it went away
    /// before it was accepted), not about the server.
    pub(crate) fn is_transient(e: &std::io::Error) -> bool {
        use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted, WouldBlock};
        matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted | WouldBlock)
    }

    /// The pause after another failed accept.
    pub(crate) fn failed(&mut self, e: &std::io::Error, open: usize) -> Duration {
        if self.failures == 0 {
            tracing::warn!(
                error = %e,
                open,
                "accept failed (out of file descriptors?); backing off until it succeeds"
            );
            self.pause = Backoff::FIRST;
        } else {
            self.pause = (self.pause * 2).min(Backoff::MAX);
        }
        self.failures += 1;
        self.pause
    }

    /// An accept succeeded: the episode, if any, is over.
    pub(crate) fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::warn!(failed = self.failures, "accepting again");
            self.failures = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_a_second_and_starts_over() {
        let e = std::io::Error::other("Too many open files");
        let mut backoff = Backoff::default();
        let pauses: Vec<_> = (0..10).map(|_| backoff.failed(&e, 0).as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.succeeded();
        assert_eq!(backoff.failed(&e, 0).as_millis(), 10);
        assert!(Backoff::is_transient(&std::io::ErrorKind::ConnectionAborted.into()));
        assert!(!Backoff::is_transient(&e));
    }

    #[test]
    fn a_canned_refusal_is_a_complete_json_response() {
        let text = String::from_utf8(canned(HttpErrorCode::TooManyConnections, "later")).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{head}");
        assert!(head.contains("\r\nretry-after: 5\r\n"), "{head}");
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())), "{head}");
        assert_eq!(body, r#"{"error":{"code":"too_many_connections","message":"later"}}"#);
    }
}
