//! File descriptors: every TCP connection takes one, and so do the store's
//! files, the NATS link and the logs. Out of them, `accept` fails, the
//! kernel still completes handshakes into the backlog, and clients hang
//! with no answer. So the server raises its soft limit to the hard one at
//! start, and caps its connections below it (protocol.md §10): at the cap a
//! connection still gets a 503 instead of silence.

/// Descriptors kept back from connections by the derived cap: the store
/// (SQLite's database, WAL and shm files; PostgreSQL's pool), NATS, the
/// listeners, stdio and logs, the runtime's own (epoll, wakers), and the
/// sockets being refused with a 503 at the cap.
pub const DESCRIPTOR_MARGIN: usize = 128;

/// Connections beyond the cap that only serve `/healthz`, `/readyz` and
/// `/metrics`, so an orchestrator still sees a full node (protocol.md §10).
pub const HEALTH_RESERVE: usize = 16;

/// The smallest cap derived from a descriptor limit, however low the limit.
const MIN_DERIVED: usize = 16;

/// Raises the soft descriptor limit to the hard one (where the platform has
/// one) and returns the limit the process now has, or `None` if it cannot
/// be read.
pub fn raise_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the file descriptor limit");
            None
        }
    }
}

/// The connection cap a descriptor limit leaves room for: the limit minus
/// [`DESCRIPTOR_MARGIN`] and [`HEALTH_RESERVE`], at least 16.
pub fn cap_for(limit: u64) -> usize {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    limit.saturating_sub(DESCRIPTOR_MARGIN + HEALTH_RESERVE).max(MIN_DERIVED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_a_margin_below_the_limit() {
        assert_eq!(cap_for(20_000), 20_000 - 128 - 16);
        assert_eq!(cap_for(1024), 1024 - 144);
        assert_eq!(cap_for(100), 16, "a tiny limit still takes a few connections");
        assert!(cap_for(u64::MAX) > 1 << 30);
    }
}
