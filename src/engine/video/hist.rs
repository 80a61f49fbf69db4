//! A bounded histogram of frame intervals in whole milliseconds, for percentiles.
//!
//! Log-linear buckets (the HdrHistogram idea with 4 sub-bucket bits): every millisecond below
//! 32 ms has its own bucket; from 32 ms to 8191 ms each power of two is split into 16 equal
//! buckets, so a bucket is at most 1/16 (6.25 %) of its values wide (2 ms wide at 33 ms, a 30
//! frames/s interval; 16 ms wide at 300 ms); 8192 ms and above share one bucket. A percentile
//! is reported as the largest value its bucket holds (an upper bound, never below the true
//! value by more than the bucket width), except in the last bucket, which reports the largest
//! interval seen. 161 `u32` counters: 644 bytes, fixed, no allocation per sample.

/// Values below this have a bucket each.
const LINEAR: u64 = 32;
/// Sub-buckets per power of two above [`LINEAR`].
const SUB: u64 = 16;
/// Powers of two split into sub-buckets: 32..64, …, 4096..8192.
const OCTAVES: u64 = 8;
/// Number of buckets: linear, log-linear, and one for 8192 ms and above.
pub const BUCKETS: usize = (LINEAR + SUB * OCTAVES + 1) as usize;

/// Counts per bucket of frame intervals (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hist {
    counts: [u32; BUCKETS],
    /// Largest value added, ms (what the last bucket reports).
    max_ms: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            counts: [0; BUCKETS],
            max_ms: 0,
        }
    }
}

/// The bucket of `ms`.
pub fn index(ms: u64) -> usize {
    if ms < LINEAR {
        return ms as usize;
    }
    // ms >= 32: its highest set bit is 5 or more.
    let e = u64::from(63 - ms.leading_zeros());
    let octave = e - 5;
    if octave >= OCTAVES {
        return BUCKETS - 1;
    }
    let sub = (ms >> (e - 4)) - SUB;
    (LINEAR + octave * SUB + sub) as usize
}

/// The largest value bucket `i` holds (for the last bucket: `u64::MAX`).
pub fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    if i >= BUCKETS as u64 - 1 {
        return u64::MAX;
    }
    let octave = (i - LINEAR) / SUB;
    let sub = (i - LINEAR) % SUB;
    let width = 1u64 << (octave + 1);
    (SUB + sub) * width + width - 1
}

impl Hist {
    pub fn add(&mut self, ms: u64) {
        if let Some(c) = self.counts.get_mut(index(ms)) {
            *c = c.saturating_add(1);
        }
        self.max_ms = self.max_ms.max(ms);
    }

    /// Samples added.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|&c| u64::from(c)).sum()
    }

    /// The `q` quantile (0 < q ≤ 1) of the samples added since `since` (a copy of this
    /// histogram taken earlier; `None`: all of them), as the largest value of its bucket;
    /// `None` without samples.
    pub fn quantile(&self, q: f64, since: Option<&Hist>) -> Option<u64> {
        let count = |i: usize| {
            let now = self.counts.get(i).copied().unwrap_or(0);
            let before = since.and_then(|s| s.counts.get(i)).copied().unwrap_or(0);
            u64::from(now.saturating_sub(before))
        };
        let n: u64 = (0..BUCKETS).map(count).sum();
        if n == 0 {
            return None;
        }
        // The smallest value with at least ⌈q·n⌉ samples at or below it.
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for i in 0..BUCKETS {
            seen += count(i);
            if seen >= rank {
                return Some(upper(i).min(self.max_ms));
            }
        }
        Some(self.max_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_once_and_in_order() {
        let mut prev = 0;
        for ms in 0..10_000u64 {
            let i = index(ms);
            assert!(i >= prev && i < BUCKETS, "{ms} -> {i}");
            assert!(ms <= upper(i), "{ms} above its bucket's upper {}", upper(i));
            if i > 0 && i < BUCKETS - 1 {
                assert!(ms > upper(i - 1), "{ms} also fits bucket {}", i - 1);
            }
            prev = i;
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        assert_eq!((index(31), upper(31)), (31, 31));
        assert_eq!((index(32), upper(32)), (32, 33));
        assert_eq!(index(33), 32);
        assert_eq!(upper(BUCKETS - 2), 8191);
    }

    #[test]
    fn width_is_at_most_a_sixteenth() {
        for i in LINEAR as usize..BUCKETS - 1 {
            let low = upper(i - 1) + 1;
            assert!((upper(i) - low + 1) * 16 <= low.max(32), "bucket {i}");
        }
    }

    #[test]
    fn quantiles_of_all_and_of_a_difference() {
        let mut h = Hist::default();
        for _ in 0..95 {
            h.add(20);
        }
        let early = h.clone();
        for _ in 0..5 {
            h.add(500);
        }
        assert_eq!(h.quantile(0.95, None), Some(20));
        // 500 lies in [496, 511]: the bucket's top, but never above the largest value seen.
        assert_eq!(upper(index(500)), 511);
        assert_eq!(h.quantile(0.96, None), Some(500));
        assert_eq!(h.quantile(0.95, Some(&early)), Some(500));
        h.add(505);
        assert_eq!(h.quantile(1.0, None), Some(505));
        assert_eq!(early.quantile(0.95, Some(&early)), None);
        h.add(20_000);
        assert_eq!(
            h.quantile(1.0, None),
            Some(20_000),
            "the last bucket reports the max"
        );
    }
}
