//! The local NATS server the cluster and broker tests use.

/// `WHISPER_TEST_NATS_URL`, or the local NATS.
pub fn nats_url() -> String {
    std::env::var("WHISPER_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// NATS's host:port, or `None` (after saying so) when it is unreachable
/// outside CI.
pub async fn nats_addr() -> Option<String> {
    let nats = nats_url();
    let addr = nats.trim_start_matches("nats://").to_owned();
    if tokio::net::TcpStream::connect(&addr).await.is_err() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "NATS unreachable at {nats} and CI=true");
        eprintln!("skipped: NATS unreachable at {nats}");
        return None;
    }
    Some(addr)
}
