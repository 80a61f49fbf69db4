//! Jitter buffer emulation: which packets a receiver would have discarded as too late to play,
//! with a fixed buffer and with an adaptive one.
//!
//! Both judge a packet by its *relative delay*: its transit time (capture time minus RTP
//! timestamp in seconds, RFC 3550 §6.4.1's "relative transit time") minus the smallest transit
//! of the current talkspurt so far. The packet with the smallest transit is the one that came
//! soonest after it was sent: a receiver anchored on it plays every packet exactly its buffer
//! depth after that reference, so a packet whose relative delay exceeds the depth misses its
//! playout time and is discarded. The anchor is reset at every talkspurt start (a real buffer
//! re-anchors there, the silence absorbing the shift): a marker bit, an RTP timestamp jump
//! without a sequence gap (DTX or comfort noise, RFC 3389: silence, not loss), and a sequence
//! restart. The talkspurt's first packet is never late.
//!
//! * **Fixed**: depth `engine.jitter_buffer_ms` (default 60).
//! * **Adaptive**, NetEq-like (WebRTC's `DelayManager`: target delay from a high percentile of
//!   a forgetting histogram of recent delays): relative delays go into a histogram of
//!   [`BUCKETS`] buckets of [`BUCKET_MS`] ms; every [`UPDATE_EVERY`] packets the target becomes
//!   the upper edge of the bucket holding the [`PERCENTILE`] % point, at least [`MIN_TARGET_MS`];
//!   a higher target is taken at once, a lower one at most [`STEP_DOWN_MS`] per update; every
//!   [`FORGET_EVERY`] packets all buckets are halved (forgetting). Initial target
//!   [`INITIAL_TARGET_MS`]. A packet is late when its relative delay exceeds the target in
//!   force when it arrives; the target is the buffer delay reported (mean and max over packets).
//!
//! Per packet O(1) (the histogram pass is once per [`UPDATE_EVERY`] packets), no allocation, no
//! division ([`TicksToNs`]); the mean and max delay are summed once per [`UPDATE_EVERY`]
//! packets, when the target may change.

use super::ticks::TicksToNs;

/// Adaptive buffer: histogram bucket width, ms.
pub const BUCKET_MS: i64 = 10;
/// Adaptive buffer: number of buckets (the last is open: 310 ms and more).
pub const BUCKETS: usize = 32;
/// Adaptive buffer: the percentile of recent delays the target covers.
pub const PERCENTILE: u64 = 95;
/// Adaptive buffer: the target is recomputed every this many packets.
pub const UPDATE_EVERY: u32 = 16;
/// Adaptive buffer: the histogram is halved every this many packets.
pub const FORGET_EVERY: u32 = 512;
/// Adaptive buffer: target bounds and steps, ms.
pub const MIN_TARGET_MS: i64 = 20;
pub const INITIAL_TARGET_MS: i64 = 40;
pub const STEP_DOWN_MS: i64 = 10;

const MS: i64 = 1_000_000;

/// A packet this far (ns, 2^61: about 73 years) from its talkspurt's reference starts a new
/// talkspurt ([`JitterBuffers::on_packet`]).
pub const MAX_ELAPSED_NS: u64 = 1 << 61;

/// One stream's emulated buffers.
///
/// `repr(C)`: what every packet reads and writes comes first (the talkspurt reference, the
/// depths, the conversion of RTP ticks, the packet count, then the delay histogram, whose low
/// buckets a clean stream hits); the totals, touched on a late packet and once per
/// [`UPDATE_EVERY`] packets, last.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct JitterBuffers {
    /// Reference packet of the talkspurt: capture time and RTP timestamp.
    ref_at: i64,
    /// Smallest relative transit of the talkspurt so far, ns (relative to the reference).
    anchor: i64,
    fixed_ns: i64,
    /// RTP ticks to ns at the stream's clock rate, without a division per packet.
    to_ns: TicksToNs,
    ref_ts: u32,
    /// Packets judged, modulo 2^32 (a multiple of [`UPDATE_EVERY`] and [`FORGET_EVERY`], so
    /// the periodic steps keep their period across the wrap).
    tick: u32,
    /// The adaptive target in force, ns (at most [`BUCKETS`] × [`BUCKET_MS`] ms).
    target_ns: i32,
    anchored: bool,
    /// Sum of `hist`, kept as packets are added: the target update needs it every
    /// [`UPDATE_EVERY`] packets, and then scans only up to the percentile's bucket (the first,
    /// for a stream in good health) rather than the whole histogram. At most 1024 (see
    /// [`JitterBuffers::observe`]).
    total: u16,
    hist: [u16; BUCKETS],
    pub fixed_late: u64,
    pub adaptive_late: u64,
    /// Packets judged up to the last multiple of [`UPDATE_EVERY`] (the rest: `tick`).
    judged_base: u64,
    /// Sum and max of the adaptive target over the packets judged up to `judged_base`, ns:
    /// the target changes only every [`UPDATE_EVERY`] packets, so it is added then, 16 at once.
    delay_sum_base: i64,
    delay_max_base: i64,
}

impl JitterBuffers {
    /// Buffers for a stream of clock `rate` Hz (not 0), the fixed one `fixed_ms` deep.
    pub fn new(fixed_ms: u32, rate: u32) -> Self {
        JitterBuffers {
            fixed_ns: i64::from(fixed_ms) * MS,
            to_ns: TicksToNs::new(rate),
            ref_at: 0,
            ref_ts: 0,
            anchor: 0,
            anchored: false,
            fixed_late: 0,
            adaptive_late: 0,
            tick: 0,
            judged_base: 0,
            total: 0,
            hist: [0; BUCKETS],
            target_ns: (INITIAL_TARGET_MS * MS) as i32,
            delay_sum_base: 0,
            delay_max_base: 0,
        }
    }

    /// Start a new talkspurt at the next packet.
    #[inline]
    pub fn reanchor(&mut self) {
        self.anchored = false;
    }

    /// Judge one packet (not a duplicate) captured at `now` with RTP timestamp `ts`. Returns
    /// whether the fixed buffer discards it.
    ///
    /// A packet captured more than [`MAX_ELAPSED_NS`] (about 73 years) before or after the
    /// talkspurt's reference starts a new talkspurt: no real stream does that, and it keeps
    /// every difference below in range without saturating arithmetic on the packet path
    /// (|elapsed| < 2^61, |media time| ≤ 2^31 ticks × 10⁹ ns < 2^61, so |transit| < 2^62 and
    /// 0 ≤ delay < 2^63).
    #[inline(always)]
    pub fn on_packet(&mut self, now: i64, ts: u32) -> bool {
        self.tick = self.tick.wrapping_add(1);
        let elapsed = match now.checked_sub(self.ref_at) {
            Some(e) if self.anchored && e.unsigned_abs() < MAX_ELAPSED_NS => e,
            _ => {
                self.anchored = true;
                self.ref_at = now;
                self.ref_ts = ts;
                self.anchor = 0;
                self.observe(0);
                return false;
            }
        };
        // Timestamps compare as a signed 32-bit difference (RFC 3550 wraps them).
        let media_ns = self.to_ns.ns(ts.wrapping_sub(self.ref_ts) as i32);
        let transit = elapsed - media_ns;
        self.anchor = self.anchor.min(transit);
        let delay = transit - self.anchor;
        let fixed_late = delay > self.fixed_ns;
        if fixed_late {
            self.fixed_late += 1;
        }
        if delay > i64::from(self.target_ns) {
            self.adaptive_late += 1;
        }
        self.observe(delay);
        fixed_late
    }

    /// Packets judged (the talkspurt starts included).
    pub fn judged(&self) -> u64 {
        self.judged_base + u64::from(self.tick % UPDATE_EVERY)
    }

    /// Sum of the adaptive target over judged packets (the target in force when each came), ns.
    pub fn delay_sum_ns(&self) -> i64 {
        let pending = i64::from(self.tick % UPDATE_EVERY) * i64::from(self.target_ns);
        self.delay_sum_base.saturating_add(pending)
    }

    /// Largest adaptive target in force over judged packets, ns (0 before any).
    pub fn delay_max_ns(&self) -> i64 {
        if self.tick % UPDATE_EVERY == 0 {
            self.delay_max_base
        } else {
            self.delay_max_base.max(i64::from(self.target_ns))
        }
    }

    /// Histogram update, and the periodic target update and forgetting.
    #[inline(always)]
    fn observe(&mut self, delay_ns: i64) {
        // The first bucket without the division: nearly every packet of a stream in good
        // health lands there, and the multiply-high it compiles to sits on the path to the
        // histogram's load.
        let i = if delay_ns < BUCKET_MS * MS {
            0
        } else {
            usize::try_from(delay_ns / (BUCKET_MS * MS))
                .unwrap_or(0)
                .min(BUCKETS - 1)
        };
        // No overflow: a bucket gains at most FORGET_EVERY (512) between halvings, so it stays
        // at most 1024, and so does the total.
        if let Some(b) = self.hist.get_mut(i) {
            *b = b.wrapping_add(1);
            self.total = self.total.wrapping_add(1);
        }
        if self.tick % UPDATE_EVERY == 0 {
            self.every_update();
        }
    }

    /// Every [`UPDATE_EVERY`] packets: the totals of the packets since the last time (all
    /// judged under the same target), the new target, and every [`FORGET_EVERY`] packets the
    /// forgetting.
    #[cold]
    fn every_update(&mut self) {
        let target = i64::from(self.target_ns);
        self.judged_base += u64::from(UPDATE_EVERY);
        self.delay_sum_base = self
            .delay_sum_base
            .saturating_add(target * i64::from(UPDATE_EVERY));
        self.delay_max_base = self.delay_max_base.max(target);
        self.update_target();
        if self.tick % FORGET_EVERY == 0 {
            let mut total = 0u16;
            for b in &mut self.hist {
                *b /= 2;
                total = total.saturating_add(*b);
            }
            self.total = total;
        }
    }

    fn update_target(&mut self) {
        let total = u64::from(self.total);
        if total == 0 {
            return;
        }
        let need = (total * PERCENTILE).div_ceil(100);
        let mut acc = 0;
        let mut k = BUCKETS - 1;
        for (i, &b) in self.hist.iter().enumerate() {
            acc += u64::from(b);
            if acc >= need {
                k = i;
                break;
            }
        }
        let want = ((k as i64 + 1) * BUCKET_MS).max(MIN_TARGET_MS) * MS;
        let target = i64::from(self.target_ns);
        let next = if want >= target {
            want
        } else {
            want.max(target - STEP_DOWN_MS * MS)
        };
        // At most BUCKETS x BUCKET_MS ms: 320 ms fits an i32 of ns.
        self.target_ns = i32::try_from(next).unwrap_or(i32::MAX);
    }

    /// Whether the kept total equals the histogram's sum (tests).
    #[cfg(test)]
    pub fn total_is_exact(&self) -> bool {
        u32::from(self.total) == self.hist.iter().map(|&b| u32::from(b)).sum::<u32>()
    }

    /// The fixed buffer's depth, ms.
    pub fn fixed_ms(&self) -> f64 {
        self.fixed_ns as f64 / 1e6
    }
}
