//! One RTP stream's state: sequence accounting, jitter, clock rate, RTCP-derived facts.
//!
//! A stream is (source addr:port, destination addr:port, SSRC): the same SSRC relayed on two
//! legs is two streams. All methods take the capture time; nothing here reads a clock, and the
//! per-packet path ([`Stream::on_rtp`]) never allocates.

use super::clock::{static_clock_rate, ClockRateEstimator};
use super::jitter::Jitter;
use super::record::{rfc3339_micros, Feedback, RemoteReport, RttSummary, SenderInfo, StreamRecord};
use super::rtt::{RttMethod, RttStats, SrHistory};
use super::seq::{SeqEvent, SeqTracker};
use super::{EndReason, StreamKey};
use crate::config::Resolved;
use std::collections::BTreeMap;

/// Payload types remembered per stream.
const MAX_PTS: usize = 8;
/// Arrivals buffered while a dynamic payload type's clock rate is being inferred; jitter is
/// computed over them once the rate is known.
const PENDING: usize = 64;

/// Where the clock rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    Static,
    Config,
    Inferred,
}

impl ClockSource {
    pub fn name(self) -> &'static str {
        match self {
            ClockSource::Static => "static",
            ClockSource::Config => "config",
            ClockSource::Inferred => "inferred",
        }
    }
}

/// The last report block received about this stream.
#[derive(Debug, Clone, Copy)]
pub struct Remote {
    pub fraction_lost: u8,
    pub cumulative_lost: i32,
    pub ext_highest_seq: u32,
    pub jitter: u32,
    pub reports: u64,
    /// Loss after the probe computed at the last report, if the report's range was tracked.
    pub downstream: Option<i64>,
}

/// All state of one stream.
#[derive(Debug, Clone)]
pub struct Stream {
    pub key: StreamKey,
    /// Order of first appearance, for output ordering.
    pub order: u64,
    pub seq: SeqTracker,
    jitter: Jitter,
    clock_rate: Option<u32>,
    clock_source: Option<ClockSource>,
    estimator: ClockRateEstimator,
    pending: [(i64, u32); PENDING],
    pending_len: usize,
    main_pt: u8,
    pts: [u8; MAX_PTS],
    n_pts: usize,
    pub packets: u64,
    pub bytes: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    max_gap_ns: i64,
    pub srs: SrHistory,
    pub sender: Option<SenderInfo>,
    pub remote: Option<Remote>,
    pub rtt: [RttStats; 4],
    pub feedback: Feedback,
    pub cname: Option<String>,
    pub srtcp: bool,
}

impl Stream {
    /// A stream seen for the first time; `first_seq` starts RFC 3550 A.1 probation.
    pub fn new(
        key: StreamKey,
        order: u64,
        now: i64,
        first_seq: u16,
        pt: u8,
        cfg: &Resolved,
    ) -> Self {
        let (clock_rate, clock_source) = match (cfg.clock_rate(pt), static_clock_rate(pt)) {
            (Some(r), _) => (Some(r), Some(ClockSource::Config)),
            (None, Some(r)) => (Some(r), Some(ClockSource::Static)),
            (None, None) => (None, None),
        };
        Stream {
            key,
            order,
            seq: SeqTracker::new(first_seq),
            jitter: Jitter::new(),
            clock_rate,
            clock_source,
            estimator: ClockRateEstimator::new(),
            pending: [(0, 0); PENDING],
            pending_len: 0,
            main_pt: pt,
            pts: [0; MAX_PTS],
            n_pts: 0,
            packets: 0,
            bytes: 0,
            first_seen: now,
            last_seen: now,
            max_gap_ns: 0,
            srs: SrHistory::default(),
            sender: None,
            remote: None,
            rtt: [RttStats::default(); 4],
            feedback: Feedback::default(),
            cname: None,
            srtcp: false,
        }
    }

    /// Account one RTP packet. The first packet of the stream was passed to [`Stream::new`] and
    /// must be passed here too. Returns the sequence event.
    pub fn on_rtp(&mut self, now: i64, seq: u16, ts: u32, pt: u8, wire_len: usize) -> SeqEvent {
        let ev = if self.packets == 0 {
            SeqEvent::Probation
        } else {
            self.seq.update(seq)
        };
        if ev == SeqEvent::Bad {
            // A.1: a jump that is not (yet) a restart: not counted, not used for jitter.
            self.last_seen = now;
            return ev;
        }
        if self.packets > 0 {
            // Capture times are any i64 (libpcap saturates) and may go backwards.
            self.max_gap_ns = self.max_gap_ns.max(now.saturating_sub(self.last_seen));
        }
        self.packets += 1;
        self.bytes += wire_len as u64;
        self.last_seen = now;
        self.note_pt(pt);
        if pt == self.main_pt {
            self.on_timing(now, ts, &ev);
        }
        ev
    }

    fn note_pt(&mut self, pt: u8) {
        let known = self.pts.get(..self.n_pts).is_some_and(|s| s.contains(&pt));
        if !known && self.n_pts < MAX_PTS {
            if let Some(slot) = self.pts.get_mut(self.n_pts) {
                *slot = pt;
                self.n_pts += 1;
            }
        }
    }

    /// Jitter (RFC 3550 A.8) with the stream's clock rate; while a dynamic payload type's rate
    /// is unknown, arrivals are buffered and the rate inferred from timestamps.
    fn on_timing(&mut self, now: i64, ts: u32, ev: &SeqEvent) {
        if let Some(rate) = self.clock_rate {
            self.jitter.update(now, ts, rate);
            return;
        }
        let ext = match *ev {
            SeqEvent::Valid { ext_seq, .. } => Some(ext_seq),
            SeqEvent::Probation => Some(self.seq.highest_ext_seq()),
            _ => None,
        };
        if let Some(ext) = ext {
            self.estimator.push(now, ts, ext);
        }
        if let Some(slot) = self.pending.get_mut(self.pending_len) {
            *slot = (now, ts);
            self.pending_len += 1;
        }
        if let Some(rate) = self.estimator.estimate() {
            self.clock_rate = Some(rate);
            self.clock_source = Some(ClockSource::Inferred);
            let n = self.pending_len.min(PENDING);
            for &(t, ts) in self.pending.iter().take(n) {
                self.jitter.update(t, ts, rate);
            }
            self.pending_len = 0;
        }
    }

    pub fn clock_rate(&self) -> Option<u32> {
        self.clock_rate
    }

    /// Whether the stream passed probation (so it is RTP, not random UDP).
    pub fn is_valid(&self) -> bool {
        self.seq.is_valid()
    }

    /// Record a report block about this stream (RFC 3550 §6.4.1) and compute loss after the probe.
    pub fn on_report(
        &mut self,
        fraction_lost: u8,
        cumulative_lost: i32,
        ext_highest_seq: u32,
        jitter: u32,
    ) {
        let ext = self.seq.ext_from_report(ext_highest_seq);
        let downstream = self
            .seq
            .missing_upto(ext)
            .map(|missing| i64::from(cumulative_lost) - missing as i64);
        let reports = self.remote.map_or(0, |r| r.reports) + 1;
        self.remote = Some(Remote {
            fraction_lost,
            cumulative_lost,
            ext_highest_seq,
            jitter,
            reports,
            downstream: downstream.or(self.remote.and_then(|r| r.downstream)),
        });
    }

    pub fn add_rtt(&mut self, method: RttMethod, rtt_ns: i64) -> bool {
        self.rtt
            .get_mut(method as usize)
            .is_some_and(|s| s.add(rtt_ns))
    }

    /// The stream's record, as it stands now.
    pub fn record(&self, ended_by: EndReason) -> StreamRecord {
        let rate = self.clock_rate;
        let ms = |secs: f64| secs * 1e3;
        let has_jitter = rate.is_some() && self.jitter.samples() > 0;
        let jit = |f: &dyn Fn(u32) -> f64| rate.filter(|_| has_jitter).map(|r| ms(f(r)));
        let mut rtt_ms = BTreeMap::new();
        for m in RttMethod::ALL {
            if let Some(s) = self.rtt.get(m as usize).filter(|s| s.samples > 0) {
                rtt_ms.insert(
                    m.name(),
                    RttSummary {
                        last: s.last_ns as f64 / 1e6,
                        min: s.min_ns as f64 / 1e6,
                        mean: s.mean_ns().unwrap_or(0.0) / 1e6,
                        max: s.max_ns as f64 / 1e6,
                        samples: s.samples,
                    },
                );
            }
        }
        let upstream = self
            .seq
            .missing_upto(self.seq.highest_ext_seq())
            .map_or(self.seq.lost().max(0), |m| m as i64);
        StreamRecord {
            src: addr(&self.key.src),
            dst: addr(&self.key.dst),
            ssrc: self.key.ssrc,
            payload_types: self.pts.iter().take(self.n_pts).copied().collect(),
            clock_rate: rate,
            clock_rate_source: self.clock_source.map(ClockSource::name),
            packets: self.packets,
            bytes: self.bytes,
            first_seen: rfc3339_micros(self.first_seen),
            last_seen: rfc3339_micros(self.last_seen),
            expected: self.seq.expected(),
            lost: self.seq.lost(),
            duplicates: self.seq.duplicates(),
            reordered: self.seq.reordered(),
            seq_restarts: self.seq.restarts(),
            max_gap_ms: self.max_gap_ns as f64 / 1e6,
            jitter_ms: jit(&|r| self.jitter.jitter_secs(r)),
            max_jitter_ms: jit(&|r| self.jitter.max_secs(r)),
            mean_jitter_ms: jit(&|r| self.jitter.mean_secs(r)),
            rtt_ms,
            remote: self.remote.map(|r| RemoteReport {
                fraction_lost: f64::from(r.fraction_lost) / 256.0,
                cumulative_lost: i64::from(r.cumulative_lost),
                ext_highest_seq: r.ext_highest_seq,
                jitter_ms: rate.map(|rate| f64::from(r.jitter) * 1e3 / f64::from(rate)),
                reports: r.reports,
            }),
            loss_upstream: self.remote.map(|_| upstream),
            loss_downstream: self.remote.and_then(|r| r.downstream),
            sender: self.sender,
            feedback: self.feedback,
            cname: self.cname.clone(),
            ended_by: ended_by.name(),
            srtcp: self.srtcp,
        }
    }
}

/// `addr:port`, IPv6 as `[addr]:port` (the std `SocketAddr` display does exactly this).
fn addr(a: &std::net::SocketAddr) -> String {
    a.to_string()
}
