//! A log-linear latency histogram in microseconds: 32 buckets per power of
//! two (about 3% precision), cheap to record into and to merge across
//! connections and processes.

use serde::{Deserialize, Serialize};

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Up to 2^36 µs (about 19 hours); larger values land in the last bucket.
const BUCKETS: usize = ((36 - SUB_BITS + 1) * SUB as u32) as usize;

/// Latencies in microseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Histogram {
    /// `(bucket, count)` pairs when serialized; dense while recording.
    #[serde(with = "sparse")]
    counts: Vec<u64>,
    count: u64,
    max: u64,
}

impl Histogram {
    pub fn record(&mut self, micros: u64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        self.counts[bucket(micros)] += 1;
        self.count += 1;
        self.max = self.max.max(micros);
    }

    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1): the upper edge of its bucket,
    /// capped at the largest value recorded.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return upper_edge(i).min(self.max);
            }
        }
        self.max
    }
}

fn bucket(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // v in [2^exp, 2^(exp+1))
    let shift = exp - SUB_BITS;
    let mantissa = (v >> shift) - SUB; // 0..SUB
    (((shift + 1) as u64 * SUB + mantissa) as usize).min(BUCKETS - 1)
}

fn upper_edge(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = i / SUB - 1;
    let mantissa = i % SUB;
    ((SUB + mantissa + 1) << shift) - 1
}

mod sparse {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(counts: &[u64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(counts.iter().enumerate().filter(|(_, n)| **n > 0))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
        let pairs = Vec::<(usize, u64)>::deserialize(d)?;
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let mut counts = vec![0; super::BUCKETS];
        for (i, n) in pairs {
            if let Some(c) = counts.get_mut(i) {
                *c = n;
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_values() {
        for v in [0, 1, 31, 32, 33, 63, 64, 100, 1_000, 12_345, 1_000_000, 60_000_000] {
            let b = bucket(v);
            assert!(upper_edge(b) >= v, "{v} in bucket {b} with edge {}", upper_edge(b));
            if b > 0 {
                assert!(upper_edge(b - 1) < v, "{v}: previous edge {}", upper_edge(b - 1));
            }
        }
    }

    #[test]
    fn quantiles_are_within_three_percent() {
        let mut h = Histogram::default();
        for v in 1..=10_000 {
            h.record(v);
        }
        let p50 = h.quantile(0.5) as f64;
        assert!((p50 - 5_000.0).abs() / 5_000.0 < 0.04, "p50 {p50}");
        assert_eq!(h.quantile(1.0), 10_000);
        let json = serde_json::to_string(&h).unwrap();
        let back: Histogram = serde_json::from_str(&json).unwrap();
        assert_eq!(back.quantile(0.99), h.quantile(0.99));
    }
}
