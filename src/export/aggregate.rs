//! Cumulative aggregates and histograms kept by each shard worker for the exporter.
//!
//! Counters must never go down, yet streams end: a sum over live streams alone would drop
//! when one ends. So each worker folds the final values of every ended stream into running
//! totals per bounded label set ([`AggKey`]) and publishes, at each snapshot, ended totals plus
//! the live streams' current values. A live stream's value can still shrink (a late packet
//! makes RFC 3550 A.3 `lost` smaller), so each published counter is also held at its
//! previous published value until the sum passes it again: the series stays monotonic.
//!
//! The lost counter takes each stream's `lost_settled` (sequence numbers that can no longer
//! arrive, docs/metrics.md), not RFC 3550's signed `lost`, which a duplicate lowers and a late
//! packet may still fill: so it only grows, and never passes the streams' final loss.
//!
//! A stream's labels are fixed for its life, because a stream that moved from one label set
//! to another would leave its old contribution behind in the first (held there by the rule
//! above) and count twice. The media kind of a dynamic payload type depends on a clock rate
//! that may only be inferred after a few packets, so a stream joins the aggregates once its
//! clock rate is known, or after [`LABEL_AFTER_SNAPSHOTS`] snapshots without one (then kind
//! `unknown`); until then it is in no counter.
//!
//! The histograms are observed here too, once per snapshot and live stream (never per
//! packet): the current RFC 3550 A.8 jitter, the loss ratio of the interval since the last
//! snapshot (RFC 3550 A.3 lost / expected, both as deltas), the E-model MOS-LQ of streams with a
//! voice codec, and the latest RTT of each method that produced new samples (RFC 3550 §6.4.1,
//! STUN, RFC 3611 XR). All of this is O(live streams) per
//! snapshot; nothing allocates per packet.

use super::labels::{AggKey, Direction, Kind, Labeller};
use crate::engine::record::StreamRecord;
use foldhash::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// Upper bounds of the jitter histogram, seconds (20 ms audio frames: 30 ms is poor).
pub const JITTER_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5,
];
/// Upper bounds of the MOS-LQ histogram: G.107 Annex B's user-satisfaction boundaries
/// (R = 50, 60, 70, 80, 90 give MOS 2.58, 3.10, 3.60, 4.03, 4.34), and the scale's top.
pub const MOS_BUCKETS: &[f64] = &[1.5, 2.0, 2.58, 3.1, 3.6, 4.03, 4.34, 4.5];
/// Upper bounds of the interval loss ratio histogram (ratio 0–1).
pub const LOSS_BUCKETS: &[f64] = &[0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];
/// Upper bounds of the RTT histogram, seconds (ITU-T G.114: 150 ms one way is the limit).
pub const RTT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0,
];
/// Snapshots a stream without a clock rate waits before it is labelled `unknown`.
pub const LABEL_AFTER_SNAPSHOTS: u8 = 3;
/// RTT methods, as in the record's `rtt_ms` keys.
pub const RTT_METHODS: [&str; 5] = ["capture_point", "end_to_end", "sr_chain", "stun", "xr"];

/// Counter values of one label set (packets; `lost*` are never negative).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggValues {
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    pub lost_upstream: u64,
    pub lost_downstream: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub nacks: u64,
    pub plis: u64,
    pub firs: u64,
    pub probe_dropped: u64,
    /// Packets the emulated fixed jitter buffer discarded (audio streams, engine/audio).
    pub jitter_buffer_late: u64,
    /// Streams that ended, all reasons (not a sum over live streams).
    pub streams_ended: u64,
    /// Video streams (src/engine/video): frames, freezes and their duration (ms), pauses.
    pub video_frames: u64,
    pub video_freezes: u64,
    pub video_freeze_ms: u64,
    pub video_pauses: u64,
}

impl AggValues {
    fn of(r: &StreamRecord) -> AggValues {
        let pos = |v: i64| u64::try_from(v).unwrap_or(0);
        AggValues {
            packets: r.packets,
            bytes: r.bytes,
            lost: r.lost_settled,
            lost_upstream: r.loss_upstream.map_or(0, pos),
            lost_downstream: r.loss_downstream.map_or(0, pos),
            duplicates: r.duplicates,
            reordered: r.reordered,
            nacks: r.feedback.nacks,
            plis: r.feedback.plis,
            firs: r.feedback.firs,
            probe_dropped: r.probe_dropped,
            jitter_buffer_late: r.jitter_buffer.map_or(0, |j| j.fixed_late),
            streams_ended: 0,
            video_frames: r.video.as_ref().map_or(0, |v| v.frames),
            video_freezes: r.video.as_ref().map_or(0, |v| v.freeze_count),
            video_freeze_ms: r.video.as_ref().map_or(0, |v| v.freeze_duration_ms),
            video_pauses: r.video.as_ref().map_or(0, |v| v.pauses),
        }
    }

    fn add(&mut self, o: &AggValues) {
        self.zip(o, |a, b| a.saturating_add(b));
    }

    /// Field by field maximum (keeps published counters monotonic).
    fn max(&mut self, o: &AggValues) {
        self.zip(o, u64::max);
    }

    fn zip(&mut self, o: &AggValues, f: impl Fn(u64, u64) -> u64) {
        let AggValues {
            packets,
            bytes,
            lost,
            lost_upstream,
            lost_downstream,
            duplicates,
            reordered,
            nacks,
            plis,
            firs,
            probe_dropped,
            jitter_buffer_late,
            streams_ended,
            video_frames,
            video_freezes,
            video_freeze_ms,
            video_pauses,
        } = o;
        self.packets = f(self.packets, *packets);
        self.bytes = f(self.bytes, *bytes);
        self.lost = f(self.lost, *lost);
        self.lost_upstream = f(self.lost_upstream, *lost_upstream);
        self.lost_downstream = f(self.lost_downstream, *lost_downstream);
        self.duplicates = f(self.duplicates, *duplicates);
        self.reordered = f(self.reordered, *reordered);
        self.nacks = f(self.nacks, *nacks);
        self.plis = f(self.plis, *plis);
        self.firs = f(self.firs, *firs);
        self.probe_dropped = f(self.probe_dropped, *probe_dropped);
        self.jitter_buffer_late = f(self.jitter_buffer_late, *jitter_buffer_late);
        self.streams_ended = f(self.streams_ended, *streams_ended);
        self.video_frames = f(self.video_frames, *video_frames);
        self.video_freezes = f(self.video_freezes, *video_freezes);
        self.video_freeze_ms = f(self.video_freeze_ms, *video_freeze_ms);
        self.video_pauses = f(self.video_pauses, *video_pauses);
    }
}

/// Labels of the histograms: the aggregate labels without the payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub kind: Kind,
    pub direction: Direction,
    pub group: u16,
}

impl From<AggKey> for GroupKey {
    fn from(k: AggKey) -> Self {
        GroupKey {
            kind: k.kind,
            direction: k.direction,
            group: k.group,
        }
    }
}

/// A cumulative histogram with fixed bounds: `counts[i]` observations ≤ `bounds[i]` and above
/// `bounds[i-1]`; the last slot is above every bound (+Inf).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub bounds: &'static [f64],
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        let i = self.bounds.partition_point(|&b| b < v);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}

/// What one worker publishes for the exporter, sorted by labels.
#[derive(Debug, Clone, Default)]
pub struct Aggregates {
    pub counters: Vec<(AggKey, AggValues)>,
    /// Live streams per label set.
    pub active: Vec<(AggKey, u64)>,
    pub jitter: Vec<(GroupKey, Histogram)>,
    pub loss: Vec<(GroupKey, Histogram)>,
    /// E-model MOS-LQ of each live stream with a voice codec (engine::emodel).
    pub mos: Vec<(GroupKey, Histogram)>,
    /// Keyed by labels and index into [`RTT_METHODS`].
    pub rtt: Vec<((GroupKey, usize), Histogram)>,
    /// Findings of the streams that ended ([`crate::diagnose`]), by code and severity (indexes
    /// into `Code::ALL` and `Severity::ALL`): one per stream and code.
    pub findings: Findings,
}

/// Counts by finding code and severity.
pub type Findings = [[u64; 3]; crate::diagnose::Code::ALL.len()];

/// A live stream's values at the previous snapshot.
#[derive(Debug, Clone, Copy, Default)]
struct Prev {
    /// The stream's labels, fixed once known.
    key: Option<AggKey>,
    /// Snapshots seen without a clock rate before `key` was fixed.
    waited: u8,
    expected: u64,
    lost: i64,
    rtt_samples: [u64; 5],
    seen: u64,
}

/// The worker's side: ended totals, published values, histograms, interval state.
pub struct Aggregator {
    labeller: Arc<Labeller>,
    ended: HashMap<AggKey, AggValues>,
    published: HashMap<AggKey, AggValues>,
    jitter: HashMap<GroupKey, Histogram>,
    loss: HashMap<GroupKey, Histogram>,
    mos: HashMap<GroupKey, Histogram>,
    rtt: HashMap<(GroupKey, usize), Histogram>,
    findings: Findings,
    prev: HashMap<u64, Prev>,
    generation: u64,
    hasher: foldhash::fast::FixedState,
}

impl Aggregator {
    /// The labeller (address privacy forms), for logs that name a stream.
    pub fn labeller(&self) -> &Labeller {
        &self.labeller
    }

    pub fn new(labeller: Arc<Labeller>) -> Aggregator {
        Aggregator {
            labeller,
            ended: HashMap::default(),
            published: HashMap::default(),
            jitter: HashMap::default(),
            loss: HashMap::default(),
            mos: HashMap::default(),
            rtt: HashMap::default(),
            findings: Findings::default(),
            prev: HashMap::default(),
            generation: 0,
            hasher: foldhash::fast::FixedState::with_seed(0x7274_6370),
        }
    }

    /// Fold the final values of a stream that ended into the totals. Call once per record.
    pub fn fold_ended(&mut self, r: &StreamRecord) {
        let id = self.stream_id(r);
        let key = self
            .prev
            .remove(&id)
            .and_then(|p| p.key)
            .unwrap_or_else(|| self.labeller.key(r));
        let mut v = AggValues::of(r);
        v.streams_ended = 1;
        self.ended.entry(key).or_default().add(&v);
        for f in &r.findings {
            let code = crate::diagnose::Code::ALL.iter().position(|c| *c == f.code);
            let sev = crate::diagnose::Severity::ALL
                .iter()
                .position(|s| *s == f.severity);
            if let Some(n) = code
                .zip(sev)
                .and_then(|(c, s)| self.findings.get_mut(c)?.get_mut(s))
            {
                *n += 1;
            }
        }
    }

    fn stream_id(&self, r: &StreamRecord) -> u64 {
        let mut h = self.hasher.build_hasher();
        r.src.hash(&mut h);
        r.dst.hash(&mut h);
        r.ssrc.hash(&mut h);
        h.finish()
    }

    /// Observe the live streams and return the aggregates to publish.
    pub fn snapshot(&mut self, live: &[(u64, StreamRecord)]) -> Aggregates {
        self.generation += 1;
        let mut totals = self.ended.clone();
        let mut active: HashMap<AggKey, u64> = HashMap::default();
        for (_, r) in live {
            let id = self.stream_id(r);
            let prev = self.prev.get(&id).copied().unwrap_or_default();
            let key = match prev.key {
                Some(k) => Some(k),
                None if r.clock_rate.is_some() || prev.waited + 1 >= LABEL_AFTER_SNAPSHOTS => {
                    Some(self.labeller.key(r))
                }
                None => None,
            };
            let Some(key) = key else {
                self.prev.insert(
                    id,
                    Prev {
                        waited: prev.waited + 1,
                        seen: self.generation,
                        ..prev
                    },
                );
                continue;
            };
            let g = GroupKey::from(key);
            totals.entry(key).or_default().add(&AggValues::of(r));
            *active.entry(key).or_default() += 1;
            if let Some(j) = r.jitter_ms {
                self.jitter
                    .entry(g)
                    .or_insert_with(|| Histogram::new(JITTER_BUCKETS))
                    .observe(j / 1e3);
            }
            if let Some(q) = &r.quality {
                self.mos
                    .entry(g)
                    .or_insert_with(|| Histogram::new(MOS_BUCKETS))
                    .observe(q.mos_lq);
            }
            let expected = r.expected.saturating_sub(prev.expected);
            if expected > 0 {
                let lost = r.lost.saturating_sub(prev.lost).max(0) as f64;
                self.loss
                    .entry(g)
                    .or_insert_with(|| Histogram::new(LOSS_BUCKETS))
                    .observe((lost / expected as f64).min(1.0));
            }
            let mut rtt_samples = prev.rtt_samples;
            for (m, s) in &r.rtt_ms {
                let Some(i) = RTT_METHODS.iter().position(|x| x == m) else {
                    continue;
                };
                let before = rtt_samples.get(i).copied().unwrap_or(0);
                if s.samples > before {
                    self.rtt
                        .entry((g, i))
                        .or_insert_with(|| Histogram::new(RTT_BUCKETS))
                        .observe(s.last / 1e3);
                }
                if let Some(slot) = rtt_samples.get_mut(i) {
                    *slot = s.samples;
                }
            }
            self.prev.insert(
                id,
                Prev {
                    key: Some(key),
                    waited: prev.waited,
                    expected: r.expected.max(prev.expected),
                    lost: if expected > 0 { r.lost } else { prev.lost },
                    rtt_samples,
                    seen: self.generation,
                },
            );
        }
        let generation = self.generation;
        self.prev.retain(|_, p| p.seen == generation);
        for (k, v) in &totals {
            self.published.entry(*k).or_default().max(v);
        }
        let mut counters: Vec<(AggKey, AggValues)> =
            self.published.iter().map(|(k, v)| (*k, *v)).collect();
        counters.sort_by_key(|(k, _)| *k);
        // Every label set ever seen keeps its gauge, at 0 when no stream is live.
        let mut active: Vec<(AggKey, u64)> = self
            .published
            .keys()
            .map(|k| (*k, active.get(k).copied().unwrap_or(0)))
            .collect();
        active.sort_by_key(|(k, _)| *k);
        Aggregates {
            counters,
            active,
            jitter: sorted(&self.jitter),
            loss: sorted(&self.loss),
            mos: sorted(&self.mos),
            rtt: sorted(&self.rtt),
            findings: self.findings,
        }
    }
}

fn sorted<K: Ord + Copy>(m: &HashMap<K, Histogram>) -> Vec<(K, Histogram)> {
    let mut v: Vec<(K, Histogram)> = m.iter().map(|(k, h)| (*k, h.clone())).collect();
    v.sort_by_key(|(k, _)| *k);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExporterConfig;

    fn agg() -> Aggregator {
        Aggregator::new(Arc::new(Labeller::new(&ExporterConfig::default(), vec![])))
    }

    fn rec(packets: u64, expected: u64, lost: i64) -> StreamRecord {
        let mut r = crate::export::test_record();
        r.packets = packets;
        r.expected = expected;
        r.lost = lost;
        r.lost_settled = u64::try_from(lost).unwrap_or(0);
        r
    }

    #[test]
    fn histogram_buckets_are_upper_bounds() {
        let mut h = Histogram::new(&[0.0, 0.5, 1.0]);
        for v in [0.0, 0.2, 0.5, 0.7, 3.0, f64::NAN] {
            h.observe(v);
        }
        assert_eq!(h.counts, [1, 2, 1, 1]);
        assert_eq!(h.count, 5);
        assert!((h.sum - 4.4).abs() < 1e-9);
    }

    #[test]
    fn counters_stay_monotonic_when_streams_end_or_shrink() {
        let mut a = agg();
        let live = vec![(1, rec(100, 105, 5))];
        let s1 = a.snapshot(&live);
        assert_eq!(s1.counters[0].1.packets, 100);
        assert_eq!(s1.counters[0].1.lost, 5);
        // A late packet: lost goes down to 4 for the live stream; the counter holds at 5.
        let s2 = a.snapshot(&[(1, rec(101, 105, 4))]);
        assert_eq!(s2.counters[0].1.lost, 5);
        // The stream ends with more packets: totals come from the ended part alone.
        a.fold_ended(&rec(150, 160, 10));
        let s3 = a.snapshot(&[]);
        assert_eq!(s3.counters[0].1.packets, 150);
        assert_eq!(s3.counters[0].1.lost, 10);
        assert_eq!(s3.counters[0].1.streams_ended, 1);
        assert_eq!(s3.active[0].1, 0);
    }

    /// Video frames, freezes and pauses are counters like the others: a live stream's current
    /// values, then its final ones once it ended.
    #[test]
    fn video_counters_follow_the_streams() {
        let mut v = crate::engine::video::Video::default();
        let ms = 1_000_000;
        for (i, t) in [0, 33, 66, 100, 133, 166, 700, 733, 6800]
            .iter()
            .enumerate()
        {
            v.on_packet(t * ms, 3000 * i as u32, Default::default());
        }
        let mut r = rec(9, 9, 0);
        r.video = Some(v.record(9000, 6_800 * ms, 0));
        let mut a = agg();
        let s = a.snapshot(&[(1, r.clone())]);
        let c = s.counters[0].1;
        assert_eq!(
            (
                c.video_frames,
                c.video_freezes,
                c.video_freeze_ms,
                c.video_pauses
            ),
            (9, 1, 534, 1)
        );
        a.fold_ended(&r);
        assert_eq!(a.snapshot(&[]).counters[0].1.video_frames, 9);
    }

    #[test]
    fn the_lost_counter_takes_the_settled_loss_not_a_gap_still_open() {
        let mut a = agg();
        // Live: 3 missing right now, none of them settled (they may still arrive late).
        let mut live = rec(97, 100, 3);
        live.lost_settled = 0;
        assert_eq!(a.snapshot(&[(1, live)]).counters[0].1.lost, 0);
        // They did arrive: the stream ends with no loss, and nothing was ever counted.
        let mut fin = rec(100, 100, 0);
        fin.lost_settled = 0;
        a.fold_ended(&fin);
        assert_eq!(a.snapshot(&[]).counters[0].1.lost, 0);
    }

    #[test]
    fn labels_are_fixed_once_the_clock_rate_is_known() {
        let mut a = agg();
        let mut r = rec(10, 10, 0);
        r.payload_types = vec![96];
        r.clock_rate = None;
        let s = a.snapshot(&[(1, r.clone())]);
        assert!(
            s.counters.is_empty(),
            "not labelled before the clock rate is known"
        );
        r.clock_rate = Some(90_000);
        r.packets = 20;
        let s = a.snapshot(&[(1, r.clone())]);
        assert_eq!(s.counters.len(), 1);
        assert_eq!(s.counters[0].0.kind, Kind::Video);
        // Even if the rate changed later, the stream stays in its first label set.
        r.clock_rate = None;
        r.packets = 30;
        a.fold_ended(&r);
        let s = a.snapshot(&[]);
        assert_eq!(s.counters.len(), 1);
        assert_eq!(s.counters[0].1.packets, 30);
    }

    #[test]
    fn interval_loss_ratio_uses_deltas() {
        let mut a = agg();
        a.snapshot(&[(1, rec(90, 100, 10))]); // first interval: 10 %
        a.snapshot(&[(1, rec(190, 200, 10))]); // second: 0 %
        let s = a.snapshot(&[(1, rec(190, 200, 10))]); // nothing expected: no observation
        let h = &s.loss[0].1;
        assert_eq!(h.count, 2);
        assert_eq!(h.counts[0], 1); // le 0
        assert_eq!(h.counts[6], 1); // 0.05 < 0.1 <= 0.1
    }

    #[test]
    fn mos_lq_of_streams_with_a_voice_codec_is_observed_by_labels() {
        let mut a = agg();
        // The test record is PCMU: 5 lost of 100, no RTT: MOS-LQ of R = 93.2 − 95·5/30.1.
        let mut voice = rec(95, 100, 5);
        voice.quality = voice.estimate_quality();
        let want = voice.quality.map(|q| q.mos_lq).expect("PCMU is rated");
        let mut video = rec(100, 100, 0);
        video.payload_types = vec![96];
        video.clock_rate = Some(90_000);
        video.quality = video.estimate_quality();
        assert!(video.quality.is_none());
        let s = a.snapshot(&[(1, voice), (2, video)]);
        assert_eq!(s.mos.len(), 1, "only the voice stream's labels");
        let h = &s.mos[0].1;
        assert_eq!((h.count, h.sum), (1, want));
        // 3.6 < MOS-LQ ≤ 4.03: the "satisfied" bucket (index 5).
        assert!((3.6..=4.03).contains(&want), "{want}");
        assert_eq!(h.counts[5], 1);
    }

    #[test]
    fn findings_of_ended_streams_are_counted_by_code_and_severity() {
        use crate::diagnose::{Code, Finding, Severity, Side};
        let mut a = agg();
        let mut r = rec(100, 100, 0);
        let f = |code, severity| Finding {
            code,
            severity,
            side: Side::Upstream,
            message: String::new(),
        };
        r.findings = vec![
            f(Code::LossUpstream, Severity::Critical),
            f(Code::NoRtcp, Severity::Info),
        ];
        // Live streams' findings are not counted (they may still change).
        assert_eq!(a.snapshot(&[(1, r.clone())]).findings, Findings::default());
        a.fold_ended(&r);
        a.fold_ended(&r);
        let s = a.snapshot(&[]).findings;
        assert_eq!(s[0], [0, 0, 2]); // loss_upstream: critical
        assert_eq!(s[Code::ALL.len() - 1], [2, 0, 0]); // no_rtcp: info
        assert_eq!(s.iter().flatten().sum::<u64>(), 4);
    }
}
