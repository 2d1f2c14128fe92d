//! Requests per address for the HTTP read API (protocol.md §10, §11): a
//! token bucket per client address, the same [`TokenBucket`] a session meters
//! its frames with, so `/v1/chat/messages` and `/v1/rooms` cannot be read
//! faster than a socket may send.
//!
//! The table of buckets is bounded: a bucket that has refilled is the same as
//! a new one, so once the table holds [`MAX_TRACKED_ADDRESSES`] the full ones
//! are forgotten (at most once a second, so a full table of busy addresses
//! does not cost a sweep per request). A new address that still finds no
//! room is refused until some bucket refills: the limiter never grows with
//! the number of addresses that ask.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use tokio::time::{Duration, Instant};
use whisper_core::rate::TokenBucket;

/// Most addresses with a bucket at once (each a few dozen bytes).
pub const MAX_TRACKED_ADDRESSES: usize = 65_536;

/// How often a full table is swept of refilled buckets, at most.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// What a refused request is told to wait when the table has no room.
const TABLE_FULL_RETRY: Duration = Duration::from_secs(1);

/// Token buckets by client address. A std `Mutex`: held for one map update,
/// never across an await.
#[derive(Debug)]
pub struct RequestsPerIp {
    rate: u32,
    burst: u32,
    capacity: usize,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<IpAddr, TokenBucket>,
    swept: Option<Instant>,
}

impl RequestsPerIp {
    /// `rate` requests per second per address after a burst of `burst`; a
    /// rate of 0 lets every request through.
    pub fn new(rate: u32, burst: u32) -> Self {
        Self::with_capacity(rate, burst, MAX_TRACKED_ADDRESSES)
    }

    fn with_capacity(rate: u32, burst: u32, capacity: usize) -> Self {
        RequestsPerIp { rate, burst, capacity, table: Mutex::new(Table { buckets: HashMap::new(), swept: None }) }
    }

    /// Takes one request from `ip`'s allowance: `Err` with how long to wait
    /// when it has none left.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.rate == 0 {
            return Ok(());
        }
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if !table.buckets.contains_key(&ip) && table.buckets.len() >= self.capacity {
            table.sweep();
            if table.buckets.len() >= self.capacity {
                return Err(TABLE_FULL_RETRY);
            }
        }
        let bucket = table.buckets.entry(ip).or_insert_with(|| TokenBucket::new(self.rate, self.burst));
        if bucket.try_take(1) { Ok(()) } else { Err(bucket.wait_for(1)) }
    }

    /// Addresses with a bucket now.
    pub fn tracked(&self) -> usize {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).buckets.len()
    }
}

impl Table {
    /// Forgets the buckets that have refilled, unless it did so less than
    /// [`SWEEP_INTERVAL`] ago.
    fn sweep(&mut self) {
        let now = Instant::now();
        if self.swept.is_some_and(|at| now.saturating_duration_since(at) < SWEEP_INTERVAL) {
            return;
        }
        self.swept = Some(now);
        self.buckets.retain(|_, bucket| !bucket.is_full());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_refused_then_recovers() {
        let limiter = RequestsPerIp::new(10, 3);
        for _ in 0..3 {
            assert!(limiter.check(ip(1)).is_ok());
        }
        let wait = limiter.check(ip(1)).expect_err("past the burst");
        assert_eq!(wait, Duration::from_millis(100), "one token at 10/s");
        assert!(limiter.check(ip(2)).is_ok(), "another address has its own bucket");
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(limiter.check(ip(1)).is_ok(), "refilled");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_of_zero_is_no_limit() {
        let limiter = RequestsPerIp::new(0, 1);
        for _ in 0..100 {
            assert!(limiter.check(ip(1)).is_ok());
        }
        assert_eq!(limiter.tracked(), 0, "nothing tracked");
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_stays_bounded_and_forgets_idle_addresses() {
        let limiter = RequestsPerIp::with_capacity(10, 2, 100);
        for n in 0..100 {
            assert!(limiter.check(ip(n)).is_ok());
        }
        assert!(limiter.check(ip(1000)).is_err(), "a full table of busy addresses refuses a new one");
        assert_eq!(limiter.tracked(), 100);
        assert!(limiter.check(ip(5)).is_ok(), "a known address is still served");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(limiter.check(ip(1000)).is_ok(), "refilled buckets are forgotten, making room");
        assert!(limiter.tracked() <= 100, "never more than the capacity: {}", limiter.tracked());
        for n in 2000..10_000 {
            let _ = limiter.check(ip(n));
        }
        assert!(limiter.tracked() <= 100, "many addresses, still bounded: {}", limiter.tracked());
    }
}
