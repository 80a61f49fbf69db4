//! Per-packet audio experience state: loss runs and BurstR, RFC 3611 burst/gap metrics,
//! jitter buffer emulation and the measured packetisation interval (docs/output.md, "Audio").
//!
//! Fed by [`super::stream::Stream::on_rtp`] with every counted packet's sequence event, capture
//! time and RTP timestamp; O(1) per packet and no allocation (the state is one box per stream,
//! allocated when the stream passes probation). What it computes:
//!
//! * the loss pattern in sequence order, settled after a bounded reorder window, feeding the
//!   G.107 two-state Markov model (BurstR), RFC 3611 §4.7.2 burst/gap (Gmin 16) and a
//!   loss-run-length histogram ([`pattern`]);
//! * a fixed and an adaptive jitter buffer ([`jbuf`]): late (discarded) packets, buffer delay;
//!   fixed-buffer discards join network loss in the *effective* pattern (RFC 3611 §4.7.2 counts
//!   packets "lost or discarded"; the E-model's Ppl is the loss the listener hears);
//! * ptime: the smallest positive RTP timestamp step between consecutive in-order packets (the
//!   minimum, not the mode: DTX and loss only ever make steps longer, and it is O(1) state).
//!
//! Talkspurts: the marker bit on an in-order packet (RFC 3551 §4.1: set on the first packet
//! of a talkspurt), a timestamp step of more than 1.5 ptime between consecutive sequence
//! numbers (DTX, comfort noise: RFC 3389, silence without a sequence gap, when the sender sets
//! no marker), a change to or from another payload type (comfort noise, PT 13), or a sequence
//! restart starts a new talkspurt, where the buffers re-anchor. The timestamp step into a
//! marked packet spans the silence before it and is not taken as a ptime.
//!
//! The jitter buffers need the clock rate: a stream whose rate is static (RFC 3551) or
//! configured has them; a dynamic payload type without configuration, whose rate is still
//! being inferred when the stream starts, gets the loss pattern only (its jitter buffer fields
//! are null: running the buffers for every candidate rate would multiply the state). 90 kHz
//! streams are video and get no audio state.

pub mod jbuf;
pub mod pattern;
pub mod ticks;

#[cfg(test)]
mod appendix_a2;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod truth_tests;

use super::seq::SeqEvent;
use jbuf::JitterBuffers;
use pattern::{BurstGap, Markov, Pattern, Settled, Window};
use serde::Serialize;

/// Default `engine.jitter_buffer_ms`.
pub const DEFAULT_JITTER_BUFFER_MS: u32 = 60;

/// One stream's audio state.
///
/// `repr(C)`: what every packet touches comes first (the settle window, the segment's highest
/// sequence number, the previous timestamp and ptime, then the jitter buffers' per-packet part
/// and their delay histogram), the settled counters, touched about once per 28 packets, last.
/// Aligned to a cache line, so that the 128 bytes a packet of a clean stream touches are two
/// lines, not three (the size, 512, is a multiple of 64 anyway).
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct Audio {
    /// The settle window; its `end` is the segment's highest extended sequence number + 1.
    window: Window,
    /// RTP timestamp of the latest in-order main-PT packet, if `has_prev` (its extended
    /// sequence number is then the segment's highest: see [`Audio::on_packet`]).
    prev_ts: u32,
    /// Smallest positive timestamp step between consecutive packets, ticks (0: none yet).
    min_step: u32,
    has_prev: bool,
    jb: Option<JitterBuffers>,
    settled: Settled,
    rate: u32,
}

impl Audio {
    /// State for a stream that just passed probation with sequence numbers `base..=ext`
    /// (A.1 needed them in a row: they are taken as arrived). `rate`: the known clock rate,
    /// None while inferred.
    pub fn new(rate: Option<u32>, fixed_ms: u32, base: u64, ext: u64) -> Self {
        let mut pattern = Pattern::default();
        let first = base.min(ext).max(ext.saturating_sub(pattern::SETTLE - 1));
        for e in first..=ext {
            pattern.on_arrival(e, false);
        }
        Audio {
            window: pattern.window,
            settled: pattern.settled,
            rate: rate.unwrap_or(0),
            jb: rate
                .filter(|&r| r > 0)
                .map(|r| JitterBuffers::new(fixed_ms, r)),
            prev_ts: 0,
            has_prev: false,
            min_step: 0,
        }
    }

    /// One counted packet (not an A.1 `bad` one). `main`: of the stream's main payload type.
    /// `seg_base`: the tracker's base after this packet (the new base on a restart).
    /// `marker`: the RTP marker bit, which audio senders set on the first packet of a
    /// talkspurt (RFC 3551 §4.1): for an in-order packet, a talkspurt start. Inlined into the
    /// established stream's packet path: a call here saved and restored five registers.
    #[inline(always)]
    pub fn on_packet(
        &mut self,
        now: i64,
        ts: u32,
        marker: bool,
        main: bool,
        ev: &SeqEvent,
        seg_base: u64,
    ) {
        let (ext, in_order) = match *ev {
            SeqEvent::Valid { ext_seq, gap } => (ext_seq, Some(gap)),
            SeqEvent::Late { ext_seq } => (ext_seq, None),
            SeqEvent::Restart => {
                let top = self.window.end().saturating_sub(1);
                self.window.restart(top, &mut self.settled);
                self.has_prev = false;
                if let Some(jb) = self.jb.as_mut() {
                    jb.reanchor();
                }
                (seg_base, Some(0))
            }
            _ => return,
        };
        let mut discarded = false;
        if !main {
            // Comfort noise or another codec: a talkspurt boundary on both sides.
            self.has_prev = false;
            if let Some(jb) = self.jb.as_mut() {
                jb.reanchor();
            }
        } else {
            let mut silence = false;
            if let Some(gap) = in_order {
                silence = marker;
                // The previous in-order packet of the segment is the highest so far (the
                // window's `end` − 1): consecutive when nothing was skipped. Across a marker
                // the step spans the silence before the talkspurt: not a packetisation interval.
                if self.has_prev && gap == 0 && !marker && ext == self.window.end() {
                    let step = ts.wrapping_sub(self.prev_ts) as i32;
                    // The usual step, the ptime itself, changes nothing: checked first.
                    if step > 0 && step as u32 != self.min_step {
                        let step = step as u32;
                        if self.min_step != 0 && step > self.min_step + self.min_step / 2 {
                            silence = true;
                        }
                        if self.min_step == 0 || step < self.min_step {
                            self.min_step = step;
                        }
                    }
                }
                self.prev_ts = ts;
                self.has_prev = true;
            }
            if let Some(jb) = self.jb.as_mut() {
                if silence {
                    jb.reanchor();
                }
                discarded = jb.on_packet(now, ts);
            }
        }
        self.window.on_arrival(ext, discarded, &mut self.settled);
    }

    /// The audio part of the stream's record. `ended`: settle everything up to the highest
    /// sequence number (live records cover the settled part, see [`pattern`]). `expected` and
    /// `missing`: the stream's RFC 3550 counts (for the effective loss ratio).
    pub fn record(&self, ended: bool, expected: u64, missing: u64) -> AudioRecord {
        let mut p = Pattern {
            window: self.window,
            settled: self.settled,
        };
        if ended {
            p.finish(self.window.end().saturating_sub(1));
        }
        let p = p.settled;
        let ptime_ms = (self.min_step > 0 && self.rate > 0)
            .then(|| f64::from(self.min_step) * 1e3 / f64::from(self.rate));
        let fixed_late = self.jb.map(|j| j.fixed_late);
        AudioRecord {
            burst_r: p.effective.markov.burst_r(),
            burst_r_network: p.network.markov.burst_r(),
            loss_runs: LossRuns::from(p.runs),
            burst_gap: p.effective.burst_gap.metrics(ptime_ms),
            burst_gap_network: p.network.burst_gap.metrics(ptime_ms),
            jitter_buffer: self.jb.map(|j| {
                let judged = j.judged();
                JitterBufferRecord {
                    fixed_ms: j.fixed_ms(),
                    fixed_late: j.fixed_late,
                    adaptive_late: j.adaptive_late,
                    adaptive_mean_delay_ms: (judged > 0)
                        .then(|| j.delay_sum_ns() as f64 / judged as f64 / 1e6),
                    adaptive_max_delay_ms: (judged > 0).then(|| j.delay_max_ns() as f64 / 1e6),
                }
            }),
            effective_loss_ratio: (expected > 0).then(|| {
                (missing.saturating_add(fixed_late.unwrap_or(0))) as f64 / expected as f64
            }),
            ptime_ms,
            counters: AudioCounters {
                burst_gap: p.effective.burst_gap,
                markov: p.effective.markov,
                fixed_late: fixed_late.unwrap_or(0),
                adaptive_late: self.jb.map_or(0, |j| j.adaptive_late),
            },
        }
    }
}

/// The audio fields of a stream record (docs/output.md, "Audio").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioRecord {
    pub burst_r: Option<f64>,
    pub burst_r_network: Option<f64>,
    pub loss_runs: LossRuns,
    pub burst_gap: Option<pattern::BurstGapMetrics>,
    pub burst_gap_network: Option<pattern::BurstGapMetrics>,
    pub jitter_buffer: Option<JitterBufferRecord>,
    pub effective_loss_ratio: Option<f64>,
    pub ptime_ms: Option<f64>,
    /// Raw counters, for interval records (deltas between two snapshots).
    pub counters: AudioCounters,
}

/// Monotonic counters behind [`AudioRecord`], for per-interval figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AudioCounters {
    pub burst_gap: BurstGap,
    pub markov: Markov,
    pub fixed_late: u64,
    pub adaptive_late: u64,
}

/// Loss runs (network loss, in sequence order) by length in packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LossRuns {
    #[serde(rename = "1")]
    pub one: u64,
    #[serde(rename = "2")]
    pub two: u64,
    #[serde(rename = "3")]
    pub three: u64,
    #[serde(rename = "4-5")]
    pub four_five: u64,
    #[serde(rename = "6-10")]
    pub six_ten: u64,
    #[serde(rename = "11-20")]
    pub eleven_twenty: u64,
    #[serde(rename = "21+")]
    pub more: u64,
}

impl From<[u64; 7]> for LossRuns {
    fn from(b: [u64; 7]) -> Self {
        let [one, two, three, four_five, six_ten, eleven_twenty, more] = b;
        LossRuns {
            one,
            two,
            three,
            four_five,
            six_ten,
            eleven_twenty,
            more,
        }
    }
}

/// The emulated jitter buffers' verdicts (docs/output.md, "Audio").
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct JitterBufferRecord {
    /// Depth of the fixed buffer (`engine.jitter_buffer_ms`).
    pub fixed_ms: f64,
    /// Packets the fixed buffer would discard as late.
    pub fixed_late: u64,
    /// Packets the adaptive buffer would discard as late.
    pub adaptive_late: u64,
    /// The adaptive buffer's delay (its target), mean and max over packets, ms.
    pub adaptive_mean_delay_ms: Option<f64>,
    pub adaptive_max_delay_ms: Option<f64>,
}
