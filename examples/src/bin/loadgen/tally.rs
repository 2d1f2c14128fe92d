//! Which messages each connection saw, to count losses and duplicates: a
//! bitmap per sender, since each sender numbers its messages 0, 1, 2, …

use std::collections::HashMap;

/// A growable set of message numbers.
#[derive(Clone, Debug, Default)]
pub struct Bits(Vec<u64>);

impl Bits {
    /// Adds `n`; false if it was already there.
    pub fn insert(&mut self, n: u64) -> bool {
        let (word, bit) = ((n / 64) as usize, n % 64);
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        let was = self.0[word] & (1 << bit) != 0;
        self.0[word] |= 1 << bit;
        !was
    }

    pub fn len(&self) -> u64 {
        self.0.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// How many of `self` are not in `other`.
    pub fn missing_from(&self, other: &Bits) -> u64 {
        self.0
            .iter()
            .enumerate()
            .map(|(i, w)| u64::from((w & !other.0.get(i).copied().unwrap_or(0)).count_ones()))
            .sum()
    }
}

/// What one subscriber received, by sender.
#[derive(Debug, Default)]
pub struct Inbox {
    pub by_sender: HashMap<u32, Bits>,
    pub duplicates: u64,
}

impl Inbox {
    pub fn receive(&mut self, sender: u32, n: u64) {
        if !self.by_sender.entry(sender).or_default().insert(n) {
            self.duplicates += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_losses_and_duplicates() {
        let mut acked = Bits::default();
        for n in 0..200 {
            acked.insert(n);
        }
        let mut inbox = Inbox::default();
        for n in (0..200).filter(|n| n % 50 != 0) {
            inbox.receive(1, n);
        }
        inbox.receive(1, 7);
        assert_eq!(inbox.duplicates, 1);
        assert_eq!(acked.missing_from(&inbox.by_sender[&1]), 4);
        assert_eq!(acked.len(), 200);
    }
}
