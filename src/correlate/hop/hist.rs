//! A bounded log-linear histogram of forwarding delays, for quantiles within a known error.
//!
//! Delays are kept in microseconds: exactly below 64 µs, then 32 linear sub-buckets per power
//! of two (a bucket is at most 1/32 of its value wide: ±1.6 %, 0.3 ms at 20 ms) up to
//! [`MAX_US`] (about 67 s), above which values share the last bucket. Quantiles are the midpoint
//! of the bucket holding the rank, clamped to the exact minimum and maximum (the top rank is the
//! exact maximum). Fixed size
//! ([`BUCKETS`] counters), no allocation after creation.

/// Values at or above this (µs) share the last bucket.
pub const MAX_US: u64 = 1 << 26;
const LINEAR: u64 = 64;
const SUB_BITS: u32 = 5;
/// Bucket count: 64 exact ones, then 32 per power of two from 2^6 to 2^26.
pub const BUCKETS: usize = 64 + 20 * 32;

/// Forwarding delays (ns in, seconds out).
#[derive(Clone, Debug, PartialEq)]
pub struct DelayHist {
    counts: Box<[u32; BUCKETS]>,
    n: u64,
    min_ns: i64,
    max_ns: i64,
}

impl Default for DelayHist {
    fn default() -> Self {
        DelayHist {
            counts: Box::new([0; BUCKETS]),
            n: 0,
            min_ns: i64::MAX,
            max_ns: i64::MIN,
        }
    }
}

fn bucket(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let us = us.min(MAX_US - 1);
    let e = 63 - us.leading_zeros(); // ≥ 6
    let sub = (us >> (e - SUB_BITS)) & 31;
    (LINEAR + u64::from(e - 6) * 32 + sub) as usize
}

/// The bucket's bounds in µs, [lo, hi).
fn bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < LINEAR {
        return (i, i + 1);
    }
    let e = (i - LINEAR) / 32 + 6;
    let sub = (i - LINEAR) % 32;
    let w = 1u64 << (e - u64::from(SUB_BITS));
    let lo = (1u64 << e) + sub * w;
    (lo, lo + w)
}

impl DelayHist {
    /// Add one delay (negative delays count as 0).
    pub fn add(&mut self, ns: i64) {
        let ns = ns.max(0);
        let us = (ns / 1000) as u64;
        if let Some(c) = self.counts.get_mut(bucket(us)) {
            *c = c.saturating_add(1);
        }
        self.n += 1;
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Forget every value (the buckets are kept: no allocation).
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.n = 0;
        self.min_ns = i64::MAX;
        self.max_ns = i64::MIN;
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    pub fn min_ns(&self) -> Option<i64> {
        (self.n > 0).then_some(self.min_ns)
    }

    pub fn max_ns(&self) -> Option<i64> {
        (self.n > 0).then_some(self.max_ns)
    }

    /// The `q` quantile (0–1) in ns: the smallest bucket whose cumulative count reaches
    /// ⌈q·n⌉, as its midpoint clamped to [min, max]. `None` when empty.
    pub fn quantile_ns(&self, q: f64) -> Option<i64> {
        if self.n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.n as f64).ceil() as u64).max(1);
        if rank >= self.n {
            return Some(self.max_ns);
        }
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                let (lo, hi) = bounds(i);
                let mid = ((lo + hi) * 1000 / 2) as i64;
                return Some(mid.clamp(self.min_ns, self.max_ns));
            }
        }
        Some(self.max_ns)
    }

    /// Upper bounds (seconds) and cumulative counts of the non-empty buckets, for exporters.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut seen = 0u64;
        self.counts.iter().enumerate().filter_map(move |(i, c)| {
            seen += u64::from(*c);
            (*c > 0).then(|| (bounds(i).1 as f64 / 1e6, seen))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_range_in_order_without_gaps() {
        let mut prev_hi = 0;
        for i in 0..BUCKETS {
            let (lo, hi) = bounds(i);
            assert_eq!(lo, prev_hi, "bucket {i}");
            assert!(hi > lo);
            assert_eq!(bucket(lo), i);
            assert_eq!(bucket(hi - 1), i);
            prev_hi = hi;
        }
        assert_eq!(prev_hi, MAX_US);
    }

    #[test]
    fn quantiles_are_within_the_bucket_error() {
        let mut h = DelayHist::default();
        for ms in 1..=100i64 {
            h.add(ms * 1_000_000);
        }
        let p50 = h.quantile_ns(0.5).unwrap();
        assert!((p50 - 50_000_000).abs() <= 50_000_000 / 32, "{p50}");
        let p99 = h.quantile_ns(0.99).unwrap();
        assert!((p99 - 99_000_000).abs() <= 99_000_000 / 32, "{p99}");
        assert_eq!(h.quantile_ns(1.0), Some(100_000_000));
        assert_eq!(h.min_ns(), Some(1_000_000));
        assert_eq!(DelayHist::default().quantile_ns(0.5), None);
        h.add(i64::MAX);
        assert_eq!(h.max_ns(), Some(i64::MAX));
    }
}
