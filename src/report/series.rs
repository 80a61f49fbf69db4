//! A stream's time series for the report, in bounded memory: at most [`MAX_POINTS`] points
//! whatever the capture's length. When the series is full, neighbouring points are merged in
//! pairs and later records are merged in groups of the new stride, so a long stream keeps its
//! whole span at a coarser resolution (the plots are a few hundred pixels wide anyway).
//!
//! A point keeps sums (lost, expected, bytes, duration) rather than ratios so that merging is
//! exact for loss and bitrate; for jitter and RTT a merged point keeps the highest value and
//! for MOS the lowest: the report is about what went wrong, and averaging would hide a spike.

/// Points kept per stream.
pub const MAX_POINTS: usize = 120;

/// One interval of one stream (one forwarded record, or several merged).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Capture time of the interval's end, ns since the epoch.
    pub end_ns: i64,
    /// Length of the interval, ms (saturating).
    pub dur_ms: u32,
    /// RFC 3550 A.3 loss in the interval (may be negative with duplicates), saturating.
    pub lost: i32,
    pub expected: u32,
    pub bytes: u32,
    /// NaN when unknown.
    pub jitter_ms: f32,
    pub rtt_ms: f32,
    pub mos: f32,
}

impl Point {
    /// Loss in percent of the expected packets, `None` for an interval without any.
    pub fn loss_pct(&self) -> Option<f64> {
        (self.expected > 0).then(|| f64::from(self.lost.max(0)) * 100.0 / f64::from(self.expected))
    }

    /// RTP payload bitrate, kbit/s; `None` for an empty interval.
    pub fn kbps(&self) -> Option<f64> {
        (self.dur_ms > 0).then(|| f64::from(self.bytes) * 8.0 / f64::from(self.dur_ms))
    }

    fn merge(self, later: Point) -> Point {
        Point {
            end_ns: self.end_ns.max(later.end_ns),
            dur_ms: self.dur_ms.saturating_add(later.dur_ms),
            lost: self.lost.saturating_add(later.lost),
            expected: self.expected.saturating_add(later.expected),
            bytes: self.bytes.saturating_add(later.bytes),
            jitter_ms: worst(self.jitter_ms, later.jitter_ms, f32::max),
            rtt_ms: worst(self.rtt_ms, later.rtt_ms, f32::max),
            mos: worst(self.mos, later.mos, f32::min),
        }
    }
}

/// `pick` of two values where NaN means unknown (so the known one wins).
fn worst(a: f32, b: f32, pick: fn(f32, f32) -> f32) -> f32 {
    match (a.is_nan(), b.is_nan()) {
        (true, _) => b,
        (_, true) => a,
        _ => pick(a, b),
    }
}

/// The bounded series of one stream.
#[derive(Debug, Clone, Default)]
pub struct Series {
    points: Vec<Point>,
    /// Records merged into one point (a power of two).
    stride: u32,
    pending: Option<(Point, u32)>,
}

impl Series {
    /// Add the next interval (records arrive in time order per stream).
    pub fn push(&mut self, p: Point) {
        let stride = self.stride.max(1);
        let (acc, n) = match self.pending.take() {
            Some((acc, n)) => (acc.merge(p), n + 1),
            None => (p, 1),
        };
        if n < stride {
            self.pending = Some((acc, n));
            return;
        }
        self.points.push(acc);
        if self.points.len() >= MAX_POINTS {
            self.points = self
                .points
                .chunks(2)
                .filter_map(|c| c.iter().copied().reduce(Point::merge))
                .collect();
            self.stride = stride.saturating_mul(2);
        }
    }

    /// Every point, the partly merged last one included.
    pub fn points(&self) -> Vec<Point> {
        let mut v = self.points.clone();
        v.extend(self.pending.map(|(p, _)| p));
        v
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty() && self.pending.is_none()
    }
}
