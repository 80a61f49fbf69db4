//! A bounded log-linear histogram of forwarding delays, for quantiles within a known error.
//!
//! Delays are kept in microseconds: exactly below 64 µs, then 32 linear sub-buckets per power
//! of two (a bucket is at most 1/32 of its value wide: ±1.6 %, 0.3 ms at 20 ms) up to
//! [`MAX_US`] (about 67 s), above which values share the last bucket. Quantiles are the midpoint
//! of the bucket holding the rank, clamped to the exact minimum and maximum (the top rank is the
//! exact maximum). Fixed size
//! ([`BUCKETS`] counters), no allocation after creation.
//!
//! The counters (2.8 KB per hop) are a cache miss per forwarded packet when many hops
//! interleave, so [`DelayHist::add`] only notes the bucket in a small buffer beside the
//! histogram's own fields (in the hop's hot cache lines) and adds [`PENDING`] of them at once;
//! every reader sees the buffered values as if added (the numbers are those of adding each).

/// Values at or above this (µs) share the last bucket.
pub const MAX_US: u64 = 1 << 26;
const LINEAR: u64 = 64;
const SUB_BITS: u32 = 5;
/// Bucket count: 64 exact ones, then 32 per power of two from 2^6 to 2^26.
pub const BUCKETS: usize = 64 + 20 * 32;

/// Buckets noted by [`DelayHist::add`] before they are added to the counters.
pub const PENDING: usize = 8;

/// Forwarding delays (ns in, seconds out).
#[derive(Clone, Debug)]
pub struct DelayHist {
    n: u64,
    min_ns: i64,
    max_ns: i64,
    /// Buckets of the latest values not yet in `counts` (the first `n_pending`).
    pending: [u16; PENDING],
    n_pending: u8,
    counts: Box<[u32; BUCKETS]>,
}

impl Default for DelayHist {
    fn default() -> Self {
        DelayHist {
            n: 0,
            min_ns: i64::MAX,
            max_ns: i64::MIN,
            pending: [0; PENDING],
            n_pending: 0,
            counts: Box::new([0; BUCKETS]),
        }
    }
}

/// Equal when they hold the same values, whether added or still buffered.
impl PartialEq for DelayHist {
    fn eq(&self, o: &Self) -> bool {
        self.n == o.n
            && self.min_ns == o.min_ns
            && self.max_ns == o.max_ns
            && *self.counts_now() == *o.counts_now()
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
    #[inline]
    pub fn add(&mut self, ns: i64) {
        let ns = ns.max(0);
        let us = (ns / 1000) as u64;
        // `bucket` < BUCKETS < 2^16.
        if let Some(p) = self.pending.get_mut(usize::from(self.n_pending)) {
            *p = bucket(us) as u16;
            self.n_pending += 1;
        }
        if usize::from(self.n_pending) == PENDING {
            self.flush();
        }
        self.n += 1;
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Add the buffered buckets to the counters.
    #[cold]
    fn flush(&mut self) {
        let n = usize::from(self.n_pending);
        for &b in self.pending.iter().take(n) {
            if let Some(c) = self.counts.get_mut(usize::from(b)) {
                *c = c.saturating_add(1);
            }
        }
        self.n_pending = 0;
    }

    /// The counters with the buffered buckets added (a copy only when some are buffered:
    /// readers are rare, once per record or snapshot).
    fn counts_now(&self) -> std::borrow::Cow<'_, [u32; BUCKETS]> {
        if self.n_pending == 0 {
            return std::borrow::Cow::Borrowed(&*self.counts);
        }
        let mut h = self.clone();
        h.flush();
        std::borrow::Cow::Owned(*h.counts)
    }

    /// Forget every value (the buckets are kept: no allocation).
    pub fn clear(&mut self) {
        self.n_pending = 0;
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
        for (i, c) in self.counts_now().iter().enumerate() {
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
        let counts = self.counts_now();
        let mut seen = 0u64;
        (0..BUCKETS).filter_map(move |i| {
            let c = counts.get(i).copied().unwrap_or(0);
            seen += u64::from(c);
            (c > 0).then(|| (bounds(i).1 as f64 / 1e6, seen))
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
    fn buffered_values_read_as_added() {
        // 1..=2·PENDING+3 values: some flushed, the last three still buffered at each read.
        let mut h = DelayHist::default();
        let mut all = Vec::new();
        for k in 1..=(2 * PENDING as i64 + 3) {
            h.add(k * 700_000);
            all.push(k * 700_000);
            let buffered = usize::from(h.n_pending);
            let mut flushed = h.clone();
            flushed.flush();
            assert_eq!(flushed.n_pending, 0);
            assert_eq!(h, flushed, "after {k} values, {buffered} buffered");
            for q in [0.0, 0.5, 0.95, 0.99, 1.0] {
                assert_eq!(h.quantile_ns(q), flushed.quantile_ns(q), "q {q}");
            }
            // The reference: every value counted in its bucket at once.
            let mut direct = [0u64; BUCKETS];
            for &v in &all {
                direct[bucket((v / 1000) as u64)] += 1;
            }
            let mut seen = 0;
            let want: Vec<_> = (0..BUCKETS)
                .filter_map(|i| {
                    seen += direct[i];
                    (direct[i] > 0).then(|| (bounds(i).1 as f64 / 1e6, seen))
                })
                .collect();
            assert_eq!(h.cumulative().collect::<Vec<_>>(), want, "after {k} values");
        }
        assert_eq!(usize::from(h.n_pending), 3);
        assert_ne!(h, DelayHist::default());
        h.clear();
        assert_eq!(h, DelayHist::default());
        assert_eq!(h.cumulative().count(), 0);
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
