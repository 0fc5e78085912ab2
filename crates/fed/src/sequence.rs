//! Per-share ordering of arriving messages.
//!
//! Each sender numbers its sequenced messages about a share 1, 2, 3, … (its own sequence: the
//! two sides of a share have one each). The receiver keeps the last number it applied and
//! classifies each arrival with [`classify`]: the next one is applied, an old one is a
//! duplicate (answered with its stored receipt), one further ahead reveals a gap: the caller
//! buffers it and sends a `pull` for the missing range, which the sender answers by sending
//! those messages again. [`Reorder`] is the same rule over an in-memory buffer (the node
//! keeps its buffer in the inbox table).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// What to do with an arriving sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// The next one: apply it.
    Apply,
    /// Already applied (or 0): do not apply again.
    Duplicate,
    /// Ahead: these are missing before it can be applied.
    Gap { missing: RangeInclusive<u64> },
}

/// Classifies `arriving` given the last sequence number applied (0 before the first).
pub fn classify(last_applied: u64, arriving: u64) -> Inbound {
    if arriving <= last_applied {
        Inbound::Duplicate
    } else if arriving == last_applied + 1 {
        Inbound::Apply
    } else {
        Inbound::Gap { missing: last_applied + 1..=arriving - 1 }
    }
}

/// An in-order applier over a buffer of early arrivals.
#[derive(Debug, Clone)]
pub struct Reorder<T> {
    last_applied: u64,
    buffered: BTreeMap<u64, T>,
}

/// The result of one arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival<T> {
    /// Messages to apply now, in order.
    pub ready: Vec<(u64, T)>,
    /// The arrival was already applied or already buffered.
    pub duplicate: bool,
    /// Numbers still missing before the first buffered one (to pull), if any.
    pub missing: Option<RangeInclusive<u64>>,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Self::new(0)
    }
}

impl<T> Reorder<T> {
    pub fn new(last_applied: u64) -> Self {
        Reorder { last_applied, buffered: BTreeMap::new() }
    }

    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    pub fn arrive(&mut self, seq: u64, message: T) -> Arrival<T> {
        let mut ready = Vec::new();
        let duplicate = match classify(self.last_applied, seq) {
            Inbound::Duplicate => true,
            Inbound::Gap { .. } => {
                let seen = self.buffered.contains_key(&seq);
                self.buffered.entry(seq).or_insert(message);
                seen
            }
            Inbound::Apply => {
                ready.push((seq, message));
                self.last_applied = seq;
                while let Some(next) = self.buffered.remove(&(self.last_applied + 1)) {
                    self.last_applied += 1;
                    ready.push((self.last_applied, next));
                }
                false
            }
        };
        Arrival { ready, duplicate, missing: self.missing() }
    }

    /// The numbers to pull: from the next expected to just before the first buffered.
    pub fn missing(&self) -> Option<RangeInclusive<u64>> {
        let (&first, _) = self.buffered.first_key_value()?;
        Some(self.last_applied + 1..=first - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(classify(0, 1), Inbound::Apply);
        assert_eq!(classify(4, 5), Inbound::Apply);
        assert_eq!(classify(4, 4), Inbound::Duplicate);
        assert_eq!(classify(4, 1), Inbound::Duplicate);
        assert_eq!(classify(4, 0), Inbound::Duplicate);
        assert_eq!(classify(4, 6), Inbound::Gap { missing: 5..=5 });
        assert_eq!(classify(0, 9), Inbound::Gap { missing: 1..=8 });
    }

    #[test]
    fn buffered_arrivals_are_released_in_order() {
        let mut r = Reorder::new(0);
        let a = r.arrive(3, "c");
        assert_eq!((a.ready.len(), a.duplicate, a.missing), (0, false, Some(1..=2)));
        assert!(r.arrive(3, "c").duplicate);
        let a = r.arrive(1, "a");
        assert_eq!(a.ready, vec![(1, "a")]);
        assert_eq!(a.missing, Some(2..=2));
        let a = r.arrive(2, "b");
        assert_eq!(a.ready, vec![(2, "b"), (3, "c")]);
        assert_eq!(a.missing, None);
        assert!(r.arrive(2, "b").duplicate);
        assert_eq!(r.last_applied(), 3);
    }

    #[test]
    fn any_order_with_duplicates_applies_each_once_in_order() {
        let mut rng = fastrand::Rng::with_seed(0x2545_f491_4f6c_dd1d);
        let mut next = move |n: usize| rng.usize(0..n);
        for _ in 0..200 {
            let n = 1 + next(20) as u64;
            let mut arrivals: Vec<u64> = (1..=n).collect();
            for _ in 0..next(10) {
                arrivals.push(1 + next(n as usize) as u64);
            }
            for i in (1..arrivals.len()).rev() {
                arrivals.swap(i, next(i + 1));
            }
            let mut r = Reorder::new(0);
            let mut applied = Vec::new();
            for seq in arrivals {
                applied.extend(r.arrive(seq, seq).ready.into_iter().map(|(s, m)| {
                    assert_eq!(s, m);
                    s
                }));
            }
            assert_eq!(applied, (1..=n).collect::<Vec<_>>());
            assert_eq!(r.missing(), None);
        }
    }
}
