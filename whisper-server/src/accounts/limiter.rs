//! Sign-in attempts, counted per address and per account (protocol.md
//! §14): a fixed window each, so guessing passwords is slow from one place
//! and slow against one account from many.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::{Duration, Instant};

/// Most keys tracked at once; past it, expired windows are swept, and a new
/// key that still finds no room is refused until one expires.
const MAX_KEYS: usize = 65_536;

/// Attempts per window per key.
#[derive(Debug)]
pub struct Attempts {
    limit: u32,
    window: Duration,
    table: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Attempts {
    /// `limit` attempts per `window` per key.
    pub fn new(limit: u32, window: Duration) -> Attempts {
        Attempts { limit, window, table: Mutex::new(HashMap::new()) }
    }

    /// Counts an attempt for `key`: `Err` with the wait when it has none left.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if table.len() >= MAX_KEYS && !table.contains_key(key) {
            table.retain(|_, (start, _)| now.duration_since(*start) < self.window);
            if table.len() >= MAX_KEYS {
                return Err(Duration::from_secs(1));
            }
        }
        let (start, count) = table.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(*start) >= self.window {
            *start = now;
            *count = 0;
        }
        if *count >= self.limit {
            return Err(self.window.saturating_sub(now.duration_since(*start)).max(Duration::from_secs(1)));
        }
        *count += 1;
        Ok(())
    }

    /// Forgets `key`'s attempts (a successful sign-in clears its account).
    pub fn clear(&self, key: &str) {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_key_gets_its_limit_per_window() {
        let attempts = Attempts::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            attempts.take("ada").unwrap();
        }
        let wait = attempts.take("ada").unwrap_err();
        assert!(wait <= Duration::from_secs(60) && wait >= Duration::from_secs(59), "{wait:?}");
        attempts.take("bob").unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        attempts.take("ada").unwrap();
        attempts.clear("ada");
        for _ in 0..3 {
            attempts.take("ada").unwrap();
        }
    }
}
