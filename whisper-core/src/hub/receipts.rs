//! Read receipts in one room (protocol.md §12): a member's watermark can move
//! on every scroll, so the room is told at most once per user per interval,
//! and the latest watermark of a burst is always told, at the interval's end.

use std::collections::HashMap;

use tokio::time::{Duration, Instant};

use crate::model::{Seq, UserId};

/// Past this many users, entries whose interval is over are forgotten, so a
/// long-lived busy room does not keep one per reader forever.
const PRUNE_ABOVE: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct Receipts {
    users: HashMap<UserId, Entry>,
}

#[derive(Debug)]
struct Entry {
    sent_at: Instant,
    /// A watermark held back until the interval is over.
    pending: Option<Seq>,
}

/// What to do with a watermark that moved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Relay {
    /// Tell the room now.
    Now,
    /// Tell the room at this instant (schedule one flush).
    At(Instant),
    /// A flush is already scheduled: it will tell the latest.
    Held,
}

impl Receipts {
    /// `user` read up to `seq` at `now`.
    pub(crate) fn offer(&mut self, user: UserId, seq: Seq, now: Instant, interval: Duration) -> Relay {
        if self.users.len() > PRUNE_ABOVE {
            self.users.retain(|_, e| e.pending.is_some() || now.duration_since(e.sent_at) < interval);
        }
        match self.users.get_mut(&user) {
            Some(entry) if now.duration_since(entry.sent_at) < interval => {
                let scheduled = entry.pending.is_some();
                entry.pending = Some(entry.pending.map_or(seq, |p| p.max(seq)));
                if scheduled { Relay::Held } else { Relay::At(entry.sent_at + interval) }
            }
            _ => {
                self.users.insert(user, Entry { sent_at: now, pending: None });
                Relay::Now
            }
        }
    }

    /// The flush scheduled by [`Relay::At`]: the watermark to tell, if any.
    pub(crate) fn flush(&mut self, user: UserId, now: Instant) -> Option<Seq> {
        let entry = self.users.get_mut(&user)?;
        let seq = entry.pending.take()?;
        entry.sent_at = now;
        Some(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_told_once_now_and_its_latest_at_the_interval_end() {
        let mut r = Receipts::default();
        let (ada, bob) = (UserId::random(), UserId::random());
        let t0 = Instant::now();
        let second = Duration::from_secs(1);
        assert_eq!(r.offer(ada, Seq(1), t0, second), Relay::Now);
        assert_eq!(r.offer(ada, Seq(3), t0 + Duration::from_millis(10), second), Relay::At(t0 + second));
        assert_eq!(r.offer(ada, Seq(2), t0 + Duration::from_millis(20), second), Relay::Held);
        assert_eq!(r.offer(bob, Seq(2), t0, second), Relay::Now, "each user has their own interval");
        assert_eq!(r.flush(ada, t0 + second), Some(Seq(3)), "the highest of the burst");
        assert_eq!(r.flush(ada, t0 + second), None, "told once");
        assert_eq!(r.offer(ada, Seq(4), t0 + second * 3, second), Relay::Now);
    }
}
