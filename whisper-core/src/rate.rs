//! A token bucket: `rate` tokens per second, holding at most `burst`. A
//! session meters its frames with it (protocol.md §10), and the server its
//! HTTP read requests per address.

use tokio::time::{Duration, Instant};

/// `rate` tokens per second, holding at most `burst`; starts full.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket { rate: f64::from(rate), burst, tokens: burst, at: Instant::now() }
    }

    /// Takes `n` tokens if there are that many — or, for `n` above the burst
    /// (a large batch), if the bucket is full: the bucket then goes into debt,
    /// so the average rate holds while a batch of any allowed size can pass.
    /// Otherwise takes none.
    pub fn try_take(&mut self, n: usize) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.at);
        self.at = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        let n = n as f64;
        if self.tokens >= n.min(self.burst) {
            self.tokens -= n;
            true
        } else {
            false
        }
    }

    /// Whether the bucket has refilled to its burst: such a bucket is the
    /// same as a new one, so a table of buckets may forget it.
    pub fn is_full(&self) -> bool {
        let elapsed = Instant::now().saturating_duration_since(self.at);
        self.tokens + elapsed.as_secs_f64() * self.rate >= self.burst
    }

    /// How long until `n` tokens are there (for the error message).
    pub fn wait_for(&self, n: usize) -> Duration {
        let missing = ((n as f64).min(self.burst) - self.tokens).max(0.0);
        if self.rate <= 0.0 {
            return Duration::MAX;
        }
        Duration::from_secs_f64(missing / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_rate() {
        let mut bucket = TokenBucket::new(20, 40);
        assert!(bucket.try_take(40), "a full burst at once");
        assert!(!bucket.try_take(1), "then nothing");
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(bucket.try_take(2), "20/s refills 2 in 100 ms");
        assert!(!bucket.try_take(1));
        assert!(!bucket.try_take(5), "a refused take takes nothing");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(bucket.try_take(40));
        assert!(!bucket.try_take(1), "never more than the burst");
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_is_full_again_once_refilled() {
        let mut bucket = TokenBucket::new(10, 5);
        assert!(bucket.is_full(), "a new bucket is full");
        assert!(bucket.try_take(5));
        assert!(!bucket.is_full());
        tokio::time::advance(Duration::from_millis(400)).await;
        assert!(!bucket.is_full(), "4 of 5 tokens back");
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(bucket.is_full(), "5 tokens at 10/s take 500 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_above_the_burst_passes_when_full_and_is_paid_back() {
        let mut bucket = TokenBucket::new(20, 40);
        assert!(bucket.try_take(100), "a full bucket lets a 100-message batch through");
        assert!(!bucket.try_take(1), "then it is in debt");
        tokio::time::advance(Duration::from_millis(2900)).await;
        assert!(!bucket.try_take(1), "60 tokens of debt take 3 s to pay back");
        tokio::time::advance(Duration::from_millis(200)).await;
        assert!(bucket.try_take(1));
        assert!(!bucket.try_take(100), "a large batch needs a full bucket");
    }
}
