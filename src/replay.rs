//! Offline analysis of a capture file: read, decode, track, report.
//!
//! The same engine as live capture, fed from a file; time is the capture timestamp. A damaged
//! or truncated file stops the read with an error naming the packet, and everything read before
//! it is still analysed and reported ([`Report::summary`] `error`).

use crate::capture::{CaptureError, FileSource, PacketSource};
use crate::config::Resolved;
use crate::correlate::hop::{self, HopCounters, HopMatcher, HopRecord};
use crate::engine::record::{rfc3339_micros, StreamRecord};
use crate::engine::{Counters, Engine, ObservationPoint};
use crate::forward::Hook;
use crate::wire::{decode_udp, DecodeError, LinkType};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// How often (capture time) idle streams are expired.
const EXPIRE_EVERY_NS: i64 = 1_000_000_000;

/// The capture as a whole.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub file: String,
    /// pcap LINKTYPE_ value of the file.
    pub linktype: i32,
    /// Frames read from the file.
    pub frames: u64,
    pub first_packet: Option<String>,
    pub last_packet: Option<String>,
    pub duration_secs: f64,
    /// Frames not decoded down to UDP, by bounded reason (`not_udp`, `ip_fragment`, `truncated_ipv4`, …).
    pub undecoded: BTreeMap<&'static str, u64>,
    /// What the engine saw and counted.
    pub counters: Counters,
    pub streams: usize,
    /// Set when the file could not be read to its end: which packet and why.
    pub error: Option<String>,
}

/// The result of a replay: a summary and one record per stream, in order of first appearance.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub summary: Summary,
    pub streams: Vec<StreamRecord>,
    /// Middlebox hops found (docs/output.md, "Hops"); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<HopRecord>,
    /// What the hop matcher counted about its own bounds; absent when all zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub hop_matcher: HopCounters,
}

fn is_zero(c: &HopCounters) -> bool {
    *c == HopCounters::default()
}

/// Hops of `m` (finished), and each egress stream's loss split into `streams`.
pub fn settle_hops(m: &HopMatcher, streams: &mut [StreamRecord]) -> Vec<HopRecord> {
    let hops = m.report();
    let mut by_key: std::collections::HashMap<(&str, &str, u32), usize> =
        std::collections::HashMap::new();
    let keys: Vec<(String, String, u32)> = streams
        .iter()
        .map(|r| (r.src.clone(), r.dst.clone(), r.ssrc))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        by_key.entry((k.0.as_str(), k.1.as_str(), k.2)).or_insert(i);
    }
    for h in &hops {
        let k = (h.egress.src.as_str(), h.egress.dst.as_str(), h.egress.ssrc);
        if let Some(r) = by_key.get(&k).and_then(|&i| streams.get_mut(i)) {
            let split = r.loss_split.get_or_insert_with(Default::default);
            split.upstream += h.lost_upstream;
            split.inside_middlebox += h.lost_inside;
            split.downstream = r.loss_downstream;
        }
    }
    hops
}

/// Why a replay produced no report at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Open(#[from] CaptureError),
    #[error("{path}: unsupported link type {linktype}")]
    Link { path: String, linktype: i32 },
}

/// Analyse a whole capture file.
pub fn replay_file(path: &Path, cfg: &Resolved) -> Result<Report, ReplayError> {
    replay_file_with(path, cfg, None)
}

/// [`replay_file`], also handing interval and final records to `records`.
pub fn replay_file_with(
    path: &Path,
    cfg: &Resolved,
    records: Option<Hook>,
) -> Result<Report, ReplayError> {
    let mut src = FileSource::open(path)?;
    let file = path.display().to_string();
    let linktype = src.linktype();
    let link = LinkType::from_dlt(linktype).ok_or(ReplayError::Link {
        path: file.clone(),
        linktype,
    })?;
    let mut run = Run::new(cfg.clone());
    if let Some(h) = records {
        run = run.with_records(h);
    }
    let error = loop {
        match src.next_frame() {
            Ok(Some(f)) => run.frame(link, f.ts_ns, f.data),
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    Ok(run.finish(file, linktype, error))
}

/// The decode-and-track loop over frames, independent of where frames come from.
pub struct Run {
    engine: Engine,
    frames: u64,
    /// Earliest capture time seen.
    first: Option<i64>,
    /// Latest capture time seen (files are not always in time order); `i64::MIN` before any.
    last: i64,
    next_expire: i64,
    undecoded: BTreeMap<&'static str, u64>,
    /// Interval and final records for the sinks (`replay --records`), if wanted.
    forward: Option<Hook>,
    /// Records of streams that ended while `forward` was draining them.
    ended: Vec<(u64, StreamRecord)>,
    /// Middlebox hops, beside the engine (`crate::correlate::hop`); `None` when turned off.
    hops: Option<HopMatcher>,
}

impl Run {
    pub fn new(cfg: Resolved) -> Self {
        Run {
            engine: Engine::new(cfg),
            frames: 0,
            first: None,
            last: i64::MIN,
            next_expire: i64::MIN,
            undecoded: BTreeMap::new(),
            forward: None,
            ended: Vec::new(),
            hops: Some(HopMatcher::new(hop::Limits::default())),
        }
    }

    /// Do not look for middlebox hops (benchmarks compare with and without).
    pub fn without_hops(mut self) -> Self {
        self.hops = None;
        self
    }

    /// Also make interval and final records, timed by the capture (`replay --records`).
    pub fn with_records(mut self, hook: Hook) -> Self {
        self.engine.set_interval(hook.interval_ns());
        self.forward = Some(hook);
        self
    }

    /// Decode one frame and feed the engine.
    pub fn frame(&mut self, link: LinkType, ts_ns: i64, data: &[u8]) {
        self.frames += 1;
        // The earliest, not the first: merged captures go backwards in time (docs/output.md).
        self.first = Some(self.first.map_or(ts_ns, |f| f.min(ts_ns)));
        self.last = self.last.max(ts_ns);
        if ts_ns >= self.next_expire {
            if self.next_expire != i64::MIN {
                self.engine.expire(ts_ns);
            }
            self.hand_on();
            self.next_expire = ts_ns.saturating_add(EXPIRE_EVERY_NS);
        }
        self.engine.set_frame(self.frames);
        match decode_udp(link, data) {
            Ok(dg) => {
                if let Some(m) = &mut self.hops {
                    if let Some((k, p)) = hop::summarize(&dg, ObservationPoint::CAPTURE) {
                        m.on_rtp(ts_ns, &k, &p);
                    }
                }
                let rtcp = self.engine.on_datagram(ts_ns, &dg);
                if let (Some(buf), Some(f)) = (rtcp, &self.forward) {
                    f.rtcp(ts_ns, dg.src, dg.dst, buf);
                }
            }
            Err(e) => self.count_undecoded(e),
        }
    }

    /// The live streams as they stand (`ended_by` = `active`): what `/metrics` shows of them
    /// while a replay lingers after its last frame.
    pub fn live_records(&self) -> Vec<(u64, StreamRecord)> {
        self.engine.active_records()
    }

    /// Interval records of the intervals the engine closed, then final records of the streams
    /// that ended (records wanted only).
    fn hand_on(&mut self) {
        if let Some(f) = &mut self.forward {
            f.cuts(&self.engine.drain_cuts());
            let ended = self.engine.drain_finished();
            f.ended(&ended);
            self.ended.extend(ended);
        }
    }

    fn count_undecoded(&mut self, e: DecodeError) {
        *self.undecoded.entry(e.reason()).or_default() += 1;
    }

    /// End all streams and build the report.
    pub fn finish(mut self, file: String, linktype: i32, error: Option<String>) -> Report {
        self.engine.finish_all();
        if let Some(f) = &mut self.forward {
            f.cuts(&self.engine.drain_cuts());
        }
        let mut recs = self.engine.drain_finished();
        if let Some(f) = &mut self.forward {
            f.ended(&recs);
        }
        recs.append(&mut self.ended);
        recs.sort_by_key(|(order, _)| *order);
        let mut streams: Vec<StreamRecord> = recs.into_iter().map(|(_, r)| r).collect();
        let (hops, hop_matcher) = match &mut self.hops {
            Some(m) => {
                m.finish(self.last);
                (settle_hops(m, &mut streams), *m.counters())
            }
            None => (Vec::new(), HopCounters::default()),
        };
        // Capture timestamps span all of i64 (libpcap saturates); the difference may not fit.
        let duration_secs = self
            .first
            .map_or(0.0, |f| self.last.abs_diff(f) as f64 / 1e9);
        Report {
            summary: Summary {
                file,
                linktype,
                frames: self.frames,
                first_packet: self.first.map(rfc3339_micros),
                last_packet: self.first.map(|_| rfc3339_micros(self.last)),
                duration_secs,
                undecoded: self.undecoded,
                counters: self.engine.counters().clone(),
                streams: streams.len(),
                error,
            },
            streams,
            hops,
            hop_matcher,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_going_back_in_time_spans_its_earliest_to_its_latest_frame() {
        let mut run = Run::new(Resolved::default());
        let s = 1_000_000_000;
        // Not Ethernet frames: counted as undecoded, but their times count.
        for t in [10 * s, 4 * s, 7 * s, 6 * s] {
            run.frame(LinkType::Ethernet, t, &[0u8; 4]);
        }
        let r = run.finish("t".into(), 1, None);
        assert_eq!(r.summary.duration_secs, 6.0);
        assert_eq!(
            r.summary.first_packet.as_deref(),
            Some("1970-01-01T00:00:04.000000Z")
        );
        assert_eq!(
            r.summary.last_packet.as_deref(),
            Some("1970-01-01T00:00:10.000000Z")
        );
    }
}
