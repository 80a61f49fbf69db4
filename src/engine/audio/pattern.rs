//! The loss pattern of one stream, in sequence order: which sequence numbers arrived, which
//! never did, and which arrived too late for a receiver's jitter buffer (discarded).
//!
//! Packets arrive out of order, so a sequence number is *settled* (declared received or lost)
//! only once it is [`SETTLE`] numbers behind the highest received (then, in one batch, every
//! number more than 100 behind it): a reordered packet that
//! arrives within that window is received, not lost (RFC 3550 A.1 accepts packets up to
//! `MAX_MISORDER` − 1 = 99 behind the highest, so every packet the sequence tracker calls late
//! lands in the window). When the stream ends, everything up to the highest is settled. Live
//! figures (interval records, `/streams`) cover the settled part only: they lag the stream by
//! at most [`SETTLE`] packets, and they never go back (counters only grow).
//!
//! Settled positions are fed, in runs, to three consumers that are O(1) per run:
//! * the two-state Markov (Gilbert) model of ITU-T G.107 (06/2015) §3.7 (where `BurstR` enters
//!   `Ie,eff`; the same clause the E-model's other terms come from, see `engine::emodel`): transition
//!   counts found→found, found→lost, lost→found, lost→lost, from which `p`, `q` and
//!   BurstR = 1/(p + q) follow ([`Markov`]);
//! * RFC 3611 §4.7.2's burst/gap state machine with Gmin = 16, exactly the per-packet counting
//!   of RFC 3611 Appendix A.2 ([`BurstGap`]; a run of received packets is `pkt += n`, a run of
//!   `n` losses is the first loss's branch then `n − 1` times the `pkt == 0` branch);
//! * a loss-run-length histogram with bounded buckets ([`RUN_BUCKETS`]).
//!
//! Two patterns are kept per stream: network loss only, and network loss plus the packets the
//! fixed jitter buffer discarded as late ("lost or discarded", RFC 3611 §4.7.2), which is the
//! effective loss the E-model's Ppl and BurstR take.

/// Sequence numbers kept unsettled behind the highest received (the width of the bitmaps).
pub const SETTLE: u64 = 128;
/// When the window is full, positions are settled down to this many behind the arriving one:
/// at least RFC 3550 A.1's `MAX_MISORDER` (100), so every packet A.1 accepts as late still finds
/// its position unsettled.
const KEEP: u64 = 100;

/// Upper bounds (inclusive) of the loss-run-length histogram buckets, in packets; the last
/// bucket is open (21 and more).
pub const RUN_BUCKETS: [u64; 7] = [1, 2, 3, 5, 10, 20, u64::MAX];
/// Bucket names as output (docs/output.md, "Audio").
pub const RUN_BUCKET_NAMES: [&str; 7] = ["1", "2", "3", "4-5", "6-10", "11-20", "21+"];

/// RFC 3611 §4.7.2 / Appendix A.2: the gap threshold, in received packets.
pub const GMIN: u64 = 16;

/// Transition counts of the two-state Markov model (G.107 §3.7: p = P(loss | found),
/// q = P(found | loss)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Markov {
    pub found_found: u64,
    pub found_lost: u64,
    pub lost_found: u64,
    pub lost_lost: u64,
    /// State of the last settled position: 0 none yet, 1 found, 2 lost.
    last: u8,
}

impl Markov {
    fn run(&mut self, lost: bool, n: u64) {
        if n == 0 {
            return;
        }
        match (self.last, lost) {
            (1, false) => self.found_found += 1,
            (1, true) => self.found_lost += 1,
            (2, false) => self.lost_found += 1,
            (2, true) => self.lost_lost += 1,
            _ => {}
        }
        if lost {
            self.lost_lost += n - 1;
        } else {
            self.found_found += n - 1;
        }
        self.last = if lost { 2 } else { 1 };
    }

    /// The transitions counted since `base` (a snapshot of the same stream): an interval's.
    pub fn since(&self, base: &Markov) -> Markov {
        Markov {
            found_found: self.found_found.saturating_sub(base.found_found),
            found_lost: self.found_lost.saturating_sub(base.found_lost),
            lost_found: self.lost_found.saturating_sub(base.lost_found),
            lost_lost: self.lost_lost.saturating_sub(base.lost_lost),
            last: self.last,
        }
    }

    /// BurstR = 1/(p + q) (ITU-T G.107 (06/2015) §3.7, the definition of BurstR given with
    /// `Ie,eff`'s equation for a 2-state Markov loss model): 1 for
    /// random loss, above 1 for bursty loss. 1 when nothing was lost (random by convention: G.107
    /// uses BurstR only with Ppl > 0); None before two positions were settled or when p + q = 0
    /// (one loss run that never ended, after no reception).
    pub fn burst_r(&self) -> Option<f64> {
        let found = self.found_found + self.found_lost;
        let lost = self.lost_found + self.lost_lost;
        if found + lost == 0 {
            return None;
        }
        if self.found_lost + lost == 0 {
            return Some(1.0);
        }
        let p = ratio(self.found_lost, found);
        let q = ratio(self.lost_found, lost);
        let s = p + q;
        (s > 0.0).then(|| 1.0 / s)
    }
}

/// The counters of RFC 3611 Appendix A.2 (names as there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BurstGap {
    pub pkt: u64,
    pub lost: u64,
    pub c11: u64,
    pub c13: u64,
    pub c14: u64,
    pub c22: u64,
    pub c23: u64,
    pub c33: u64,
}

/// RFC 3611 §4.7.2 metrics derived from [`BurstGap`] counters (Appendix A.2's final step).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BurstGapMetrics {
    /// Fraction (0..1) of packets within bursts that were lost or discarded (the RFC's 8-bit
    /// field is this × 256).
    pub burst_density: f64,
    pub gap_density: f64,
    /// Mean duration of bursts and gaps, ms (needs the packet duration `m`).
    pub burst_duration_ms: Option<f64>,
    pub gap_duration_ms: Option<f64>,
}

impl BurstGap {
    fn run(&mut self, lost: bool, n: u64) {
        if n == 0 {
            return;
        }
        if !lost {
            self.pkt += n;
            return;
        }
        self.one_loss();
        // Every further loss of the run finds pkt == 0 < Gmin: `lost++; c33++`.
        self.lost += n - 1;
        self.c33 += n - 1;
    }

    /// Appendix A.2, the branch for a lost or discarded packet.
    fn one_loss(&mut self) {
        if self.pkt >= GMIN {
            if self.lost == 1 {
                self.c14 += 1;
            } else {
                self.c13 += 1;
            }
            self.lost = 1;
            self.c11 += self.pkt;
        } else {
            self.lost += 1;
            if self.pkt == 0 {
                self.c33 += 1;
            } else {
                self.c23 += 1;
                self.c22 += self.pkt - 1;
            }
        }
        self.pkt = 0;
    }

    /// The counters accumulated since `base` (a snapshot of the same stream): an interval's.
    /// `pkt` and `lost` are state, not counts: the current ones are kept.
    pub fn since(&self, base: &BurstGap) -> BurstGap {
        BurstGap {
            pkt: self.pkt,
            lost: self.lost,
            c11: self.c11.saturating_sub(base.c11),
            c13: self.c13.saturating_sub(base.c13),
            c14: self.c14.saturating_sub(base.c14),
            c22: self.c22.saturating_sub(base.c22),
            c23: self.c23.saturating_sub(base.c23),
            c33: self.c33.saturating_sub(base.c33),
        }
    }

    /// Appendix A.2's final step, in real arithmetic. `m_ms` is the packet duration (the
    /// measured ptime). Where A.2 divides by zero: no transition counted at all gives None; no
    /// gap-to-burst transition (c13 = 0) is counted as one, as deployed implementations
    /// (pjmedia) do, so that durations stay finite; p23 follows A.2's own `(c22 + c23) < 1`
    /// rule; densities with a zero denominator are 0.
    pub fn metrics(&self, m_ms: Option<f64>) -> Option<BurstGapMetrics> {
        let c31 = self.c13;
        let c32 = self.c23;
        let mut ctotal =
            self.c11 + self.c14 + self.c13 + self.c22 + self.c23 + c31 + c32 + self.c33;
        if ctotal == 0 {
            return None;
        }
        let p32 = ratio(c32, c31 + c32 + self.c33);
        let p23 = if self.c22 + self.c23 < 1 {
            1.0
        } else {
            1.0 - ratio(self.c22, self.c22 + self.c23)
        };
        let burst_density = if p23 + p32 > 0.0 {
            p23 / (p23 + p32)
        } else {
            0.0
        };
        let gap_density = ratio(self.c14, self.c11 + self.c14);
        let mut c13 = self.c13;
        if c13 == 0 {
            c13 = 1;
            ctotal += 1;
        }
        let gap_pkts = (self.c11 + self.c14 + c13) as f64 / c13 as f64;
        let burst_pkts = ctotal as f64 / c13 as f64 - gap_pkts;
        Some(BurstGapMetrics {
            burst_density,
            gap_density,
            burst_duration_ms: m_ms.map(|m| burst_pkts * m),
            gap_duration_ms: m_ms.map(|m| gap_pkts * m),
        })
    }
}

/// `a / b`, 0 when `b` is 0.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// What is computed from one settled sequence (network, or network + discards).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Consumers {
    pub markov: Markov,
    pub burst_gap: BurstGap,
}

impl Consumers {
    fn run(&mut self, lost: bool, n: u64) {
        self.markov.run(lost, n);
        self.burst_gap.run(lost, n);
    }
}

/// The settle window: what every packet touches (48 bytes; the stream's audio state keeps it
/// in its first cache line, apart from the counters it feeds, [`Settled`]).
///
/// It keeps the positions *missing* below the segment's highest rather than those that
/// arrived: a packet that arrives in order, right after the highest, the usual case, then
/// only moves `end` (no bit to set). Position `p` in `[next, end)` arrived unless its bit is
/// in `missing`; positions from `end` on have not arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Bit i: `next + i` is below `end` and has not arrived.
    missing: u128,
    /// Bit i: `next + i` arrived but the fixed jitter buffer discarded it as late.
    discarded: u128,
    /// Lowest extended sequence number not settled yet.
    next: u64,
    /// The segment's highest extended sequence number that arrived, plus one (`next` before
    /// any).
    end: u64,
}

/// What settled positions feed: touched once per settled batch (about every 28 packets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settled {
    /// Network loss only.
    pub network: Consumers,
    /// Network loss and fixed-buffer discards.
    pub effective: Consumers,
    /// Loss-run lengths (network), bucketed by [`RUN_BUCKETS`].
    pub runs: [u64; 7],
    /// Length of the network loss run in progress at the settled edge.
    open_run: u64,
}

/// The settle window and what it feeds ([module doc](self)), together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pattern {
    pub window: Window,
    pub settled: Settled,
}

impl Pattern {
    /// [`Window::on_arrival`].
    pub fn on_arrival(&mut self, ext: u64, discarded: bool) {
        self.window.on_arrival(ext, discarded, &mut self.settled);
    }

    /// [`Window::restart`].
    pub fn restart(&mut self, highest: u64) {
        self.window.restart(highest, &mut self.settled);
    }

    /// [`Window::finish`].
    pub fn finish(&mut self, highest: u64) {
        self.window.finish(highest, &mut self.settled);
    }
}

/// The low `n` bits set (`n` ≤ [`SETTLE`]).
#[inline(always)]
fn low_bits(n: u64) -> u128 {
    if n >= SETTLE {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

impl Window {
    /// `ext` arrived (in order or late); `discarded`: the fixed buffer found it late.
    /// Positions already settled (more than [`SETTLE`] behind) stay lost.
    #[inline(always)]
    pub fn on_arrival(&mut self, ext: u64, discarded: bool, s: &mut Settled) {
        // The usual packet: right after the highest, kept, and the window not full. (On a
        // fresh window, `next == end`, so the first arrival at 0 takes this path too; after a
        // restart `end` is 0 and `next` is the old segment's, which the wrapping difference
        // sends to the slow path unless `next` is 0 too, when this path is right as well.)
        if ext == self.end && ext.wrapping_sub(self.next) < SETTLE && !discarded {
            self.end = ext + 1;
            return;
        }
        self.arrival(ext, discarded, s);
    }

    /// [`Window::on_arrival`] for every other packet: out of line.
    #[inline(never)]
    fn arrival(&mut self, ext: u64, discarded: bool, s: &mut Settled) {
        if self.end == 0 {
            // Nothing yet in this segment (`end` is at least 1 once anything arrived).
            self.next = ext;
            self.end = ext;
        }
        if ext < self.next {
            return;
        }
        if ext - self.next >= SETTLE {
            // Settle in batches, down to KEEP behind `ext` (not just the one position that
            // frees the bit): the run-by-run settling then costs once per ~28 packets.
            self.settle_to(ext - KEEP, s);
        }
        let i = ext - self.next;
        if ext >= self.end {
            if ext > self.end {
                // A gap: the positions between the highest and this one are missing.
                let from = self.end.max(self.next) - self.next;
                self.missing |= low_bits(i) & !low_bits(from);
            }
            self.end = ext + 1;
            // A position past the highest has no discard bit yet (settling shifts them in
            // as 0, and only arrivals set them).
            if discarded {
                self.discarded |= 1u128 << i;
            }
        } else {
            let bit = 1u128 << i;
            self.missing &= !bit;
            if discarded {
                self.discarded |= bit;
            } else {
                self.discarded &= !bit;
            }
        }
    }

    /// The highest extended sequence number that arrived in this segment, plus one (0 before
    /// any arrival).
    #[inline(always)]
    pub fn end(&self) -> u64 {
        self.end
    }

    /// A sequence restart: the old segment is settled whole (its unsettled tail up to its
    /// highest, `highest`), and the next arrival starts a new one.
    pub fn restart(&mut self, highest: u64, s: &mut Settled) {
        self.finish(highest, s);
        self.end = 0;
        self.missing = 0;
        self.discarded = 0;
    }

    /// Settle every position up to and including `highest` (the end of the stream).
    pub fn finish(&mut self, highest: u64, s: &mut Settled) {
        if self.end != 0 && highest >= self.next {
            self.settle_to(highest + 1, s);
        }
        s.close_run();
    }

    /// Settle positions `next..to`, run by run.
    #[cold]
    fn settle_to(&mut self, to: u64, s: &mut Settled) {
        let mut arrived = !self.missing & low_bits(self.end.saturating_sub(self.next));
        while self.next < to {
            let left = to - self.next;
            let got = arrived & 1 == 1;
            let run = if got {
                u64::from((!arrived).trailing_zeros())
            } else if arrived == 0 {
                u64::MAX
            } else {
                u64::from(arrived.trailing_zeros())
            }
            .min(left);
            if got {
                // Split the arrived run by discards for the effective pattern.
                let mut done = 0;
                while done < run {
                    let d = self.discarded >> done;
                    let dis = d & 1 == 1;
                    let sub = if dis {
                        u64::from((!d).trailing_zeros())
                    } else if d == 0 {
                        u64::MAX
                    } else {
                        u64::from(d.trailing_zeros())
                    }
                    .min(run - done);
                    s.effective.run(dis, sub);
                    done += sub;
                }
                s.network.run(false, run);
                s.close_run();
            } else {
                s.network.run(true, run);
                s.effective.run(true, run);
                s.open_run = s.open_run.saturating_add(run);
            }
            self.next += run;
            if run >= SETTLE {
                arrived = 0;
                self.discarded = 0;
            } else {
                arrived >>= run;
                self.discarded >>= run;
            }
        }
        self.missing = !arrived & low_bits(self.end.saturating_sub(self.next));
    }
}

impl Settled {
    fn close_run(&mut self) {
        if self.open_run == 0 {
            return;
        }
        let i = RUN_BUCKETS
            .iter()
            .position(|&b| self.open_run <= b)
            .unwrap_or(RUN_BUCKETS.len() - 1);
        if let Some(c) = self.runs.get_mut(i) {
            *c += 1;
        }
        self.open_run = 0;
    }
}
