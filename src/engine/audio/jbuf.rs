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
//! Per packet O(1) (the histogram pass is once per [`UPDATE_EVERY`] packets), no allocation.

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

/// One stream's emulated buffers.
#[derive(Debug, Clone, Copy)]
pub struct JitterBuffers {
    fixed_ns: i64,
    /// Reference packet of the talkspurt: capture time and RTP timestamp.
    ref_at: i64,
    ref_ts: u32,
    /// Smallest relative transit of the talkspurt so far, ns (relative to the reference).
    anchor: i64,
    anchored: bool,
    pub fixed_late: u64,
    pub adaptive_late: u64,
    /// Packets judged (the talkspurt starts included).
    pub judged: u64,
    hist: [u16; BUCKETS],
    since_update: u32,
    since_forget: u32,
    target_ns: i64,
    /// Sum and max of the adaptive target over judged packets, ns.
    pub delay_sum_ns: i64,
    pub delay_max_ns: i64,
}

impl JitterBuffers {
    pub fn new(fixed_ms: u32) -> Self {
        JitterBuffers {
            fixed_ns: i64::from(fixed_ms) * MS,
            ref_at: 0,
            ref_ts: 0,
            anchor: 0,
            anchored: false,
            fixed_late: 0,
            adaptive_late: 0,
            judged: 0,
            hist: [0; BUCKETS],
            since_update: 0,
            since_forget: 0,
            target_ns: INITIAL_TARGET_MS * MS,
            delay_sum_ns: 0,
            delay_max_ns: 0,
        }
    }

    /// Start a new talkspurt at the next packet.
    pub fn reanchor(&mut self) {
        self.anchored = false;
    }

    /// Judge one packet (not a duplicate) captured at `now` with RTP timestamp `ts`, clock
    /// `rate` Hz. Returns whether the fixed buffer discards it.
    pub fn on_packet(&mut self, now: i64, ts: u32, rate: u32) -> bool {
        self.judged += 1;
        self.note_target();
        if !self.anchored || rate == 0 {
            self.anchored = true;
            self.ref_at = now;
            self.ref_ts = ts;
            self.anchor = 0;
            self.observe(0);
            return false;
        }
        // Timestamps compare as a signed 32-bit difference (RFC 3550 wraps them).
        let ticks = i64::from(ts.wrapping_sub(self.ref_ts) as i32);
        let media_ns = ticks.saturating_mul(1_000_000_000) / i64::from(rate);
        let transit = now.saturating_sub(self.ref_at).saturating_sub(media_ns);
        self.anchor = self.anchor.min(transit);
        let delay = transit.saturating_sub(self.anchor);
        let fixed_late = delay > self.fixed_ns;
        if fixed_late {
            self.fixed_late += 1;
        }
        if delay > self.target_ns {
            self.adaptive_late += 1;
        }
        self.observe(delay);
        fixed_late
    }

    fn note_target(&mut self) {
        self.delay_sum_ns = self.delay_sum_ns.saturating_add(self.target_ns);
        self.delay_max_ns = self.delay_max_ns.max(self.target_ns);
    }

    /// Histogram update, and the periodic target update and forgetting.
    fn observe(&mut self, delay_ns: i64) {
        let i = usize::try_from(delay_ns / (BUCKET_MS * MS))
            .unwrap_or(0)
            .min(BUCKETS - 1);
        if let Some(b) = self.hist.get_mut(i) {
            *b = b.saturating_add(1);
        }
        self.since_update += 1;
        if self.since_update >= UPDATE_EVERY {
            self.since_update = 0;
            self.update_target();
        }
        self.since_forget += 1;
        if self.since_forget >= FORGET_EVERY {
            self.since_forget = 0;
            for b in &mut self.hist {
                *b /= 2;
            }
        }
    }

    #[cold]
    fn update_target(&mut self) {
        let total: u64 = self.hist.iter().map(|&b| u64::from(b)).sum();
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
        self.target_ns = if want >= self.target_ns {
            want
        } else {
            want.max(self.target_ns - STEP_DOWN_MS * MS)
        };
    }

    /// The fixed buffer's depth, ms.
    pub fn fixed_ms(&self) -> f64 {
        self.fixed_ns as f64 / 1e6
    }
}
