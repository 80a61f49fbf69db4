//! The hop stage of a capture thread: the middlebox hop matcher ([`crate::correlate::hop`])
//! fed every RTP datagram in capture order, and the snapshot of its hops that `/hops`,
//! `/metrics` and the hop records read.
//!
//! The matcher runs on the capture thread, beside the routing, because the ingress and the
//! egress stream of a hop are on different workers when an SFU rewrites the SSRC. Its time is
//! the capture time, so a replay and a live capture of the same packets give the same hops.
//!
//! What is published ([`HopSnapshot`], inside the capture thread's
//! [`super::snapshot::CaptureSnapshot`]) is bounded and built at most every
//! [`PUBLISH_EVERY`] of wall time (and once more when the capture ends), never per packet:
//!
//! * the hops still forwarding, then those that stopped within `linger_ns` of capture time,
//!   at most `cap` of them (the exporter's `max_stream_series`), the rest counted `omitted`;
//! * cumulative totals per bounded label set (ingress and egress observation point, how the
//!   hop was paired, media kind): each publish adds what every hop gained since the previous
//!   one, so a total never goes down when a hop ends or the matcher forgets it;
//! * the forwarding delay histogram with bucket bounds that are powers of two microseconds
//!   ([`DELAY_BOUNDS_US`]): exact edges of the matcher's own histogram
//!   ([`crate::correlate::hop::DelayHist`]), so every delay lands in the right bucket; `_sum`
//!   takes each delay as its matcher bucket's midpoint (within 1.6 % above 64 µs).

use crate::correlate::hop::{
    summarize, DelayHist, Done, HopCounters, HopMatcher, HopRecord, Limits, MatchedBy,
};
use crate::engine::{ObservationPoint, PointNames, StreamKey};
use crate::export::aggregate::Histogram;
use crate::export::labels::Kind;
use crate::forward::hop_record;
use crate::forward::record::RecordOptions;
use crate::forward::RecordTx;
use crate::wire::Datagram;
use crossbeam_channel::Sender;
use foldhash::HashMap;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often (wall time) a capture thread rebuilds its hop snapshot.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// Upper bounds of the forwarding delay histogram, µs: 64 µs to 1.05 s, doubling.
pub const DELAY_BOUNDS_US: [u64; 15] = [
    1 << 6,
    1 << 7,
    1 << 8,
    1 << 9,
    1 << 10,
    1 << 11,
    1 << 12,
    1 << 13,
    1 << 14,
    1 << 15,
    1 << 16,
    1 << 17,
    1 << 18,
    1 << 19,
    1 << 20,
];

/// [`DELAY_BOUNDS_US`] in seconds, as the exporter writes them.
pub const DELAY_BOUNDS: &[f64] = &[
    0.000064, 0.000128, 0.000256, 0.000512, 0.001024, 0.002048, 0.004096, 0.008192, 0.016384,
    0.032768, 0.065536, 0.131072, 0.262144, 0.524288, 1.048576,
];

/// The bounded labels of the hop aggregates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HopLabels {
    pub ingress_point: Arc<str>,
    pub egress_point: Arc<str>,
    /// `ssrc` or `fingerprint`.
    pub matched_by: &'static str,
    pub kind: Kind,
}

/// Cumulative totals of every hop with one label set (never decreasing).
#[derive(Debug, Clone, PartialEq)]
pub struct HopTotals {
    pub packets_in: u64,
    pub packets_out: u64,
    pub lost_inside: u64,
    pub lost_upstream: u64,
    pub late: u64,
    pub rtx_packets: u64,
    pub delay: Histogram,
    /// Hops of this label set still forwarding (a gauge).
    pub active: u64,
}

impl Default for HopTotals {
    fn default() -> Self {
        HopTotals {
            packets_in: 0,
            packets_out: 0,
            lost_inside: 0,
            lost_upstream: 0,
            late: 0,
            rtx_packets: 0,
            delay: Histogram::new(DELAY_BOUNDS),
            active: 0,
        }
    }
}

/// One hop as `/hops` shows it: the replay JSON's hop object, plus where each side was seen
/// and whether it is still forwarding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveHop {
    #[serde(flatten)]
    pub record: HopRecord,
    pub ingress_observed_at: String,
    pub egress_observed_at: String,
    pub active: bool,
    #[serde(skip)]
    pub kind: Kind,
}

/// What one capture thread's matcher shows (see the module docs).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HopSnapshot {
    /// Capture time of the newest frame when this was built (ns).
    pub capture_now: i64,
    /// Still forwarding first (in order of pairing), then recently stopped; at most `cap`.
    pub hops: Vec<LiveHop>,
    /// Hops left out of `hops` by the cap.
    pub omitted: u64,
    pub totals: BTreeMap<HopLabels, HopTotals>,
    pub counters: HopCounters,
}

/// What was last added to the totals for one open hop, and its record marks.
#[derive(Default)]
struct Seen {
    labels: Option<HopLabels>,
    packets_in: u64,
    packets_out: u64,
    lost_inside: u64,
    lost_upstream: u64,
    late: u64,
    rtx_packets: u64,
    delay_counts: [u64; DELAY_BOUNDS_US.len() + 1],
    delay_sum: f64,
    /// End of the hop's latest record (capture time); 0 before the first.
    mark_ns: i64,
}

/// An open hop's name: ingress, egress, capture time it was paired.
type HopKey = (StreamKey, StreamKey, i64);

/// Hop records for the sinks (schema version 2, [`crate::forward::hop_record`]).
struct Records {
    tx: RecordTx,
    opts: RecordOptions,
    /// The next interval boundary (capture time); `i64::MIN` before the first packet.
    next_cut: i64,
}

/// The matcher and its published view, owned by one capture thread's feeder (or the
/// single-threaded replay's run).
///
/// Call [`HopStage::on_datagram`] for every datagram, [`HopStage::expire`] at every tick
/// (before the engine's own expiry) and [`HopStage::finish`] at the end; after each that says
/// so, [`HopStage::drain`] hands the loss splits to the engine owning the streams and ends
/// the hops: final record, the replay collector, the recently stopped list, the totals.
pub struct HopStage {
    matcher: HopMatcher,
    names: Arc<PointNames>,
    cap: usize,
    linger_ns: i64,
    /// Per open hop (entries of ended hops are removed: bounded by the matcher's `max_hops`).
    seen: HashMap<HopKey, Seen>,
    /// Recently stopped hops, newest first, with the capture time they stopped: at most
    /// `cap`, none older than `linger_ns`.
    stopped: VecDeque<(i64, LiveHop)>,
    totals: BTreeMap<HopLabels, HopTotals>,
    last: Option<Instant>,
    snapshot: Arc<HopSnapshot>,
    records: Option<Records>,
    /// Where ended hops go for the replay's report (its collector thread), when there is one.
    collector: Option<Sender<(u64, HopRecord)>>,
}

impl HopStage {
    /// A stage publishing at most `cap` hops, keeping stopped ones for `linger_ns` of capture
    /// time; `names` names the observation points (the pipeline's table).
    pub fn new(limits: Limits, names: Arc<PointNames>, cap: usize, linger_ns: i64) -> Self {
        HopStage {
            matcher: HopMatcher::new(limits).with_point_names(Arc::clone(&names)),
            names,
            cap,
            linger_ns: linger_ns.max(0),
            seen: HashMap::default(),
            stopped: VecDeque::new(),
            totals: BTreeMap::new(),
            last: None,
            snapshot: Arc::default(),
            records: None,
            collector: None,
        }
    }

    /// Also send hop records to the sinks: one per open hop and interval of
    /// `opts.interval_ns` (capture time) and one when the hop ends, like the stream records.
    pub fn with_records(mut self, tx: RecordTx, opts: RecordOptions) -> Self {
        self.records = Some(Records {
            tx,
            opts,
            next_cut: i64::MIN,
        });
        self
    }

    /// Also send each ended hop, numbered in the order hops end, to `tx` (the replay's
    /// collector thread).
    pub fn with_collector(mut self, tx: Sender<(u64, HopRecord)>) -> Self {
        self.collector = Some(tx);
        self
    }

    /// Feed one decoded datagram seen at `point` (call for every datagram, in capture order).
    /// True when something ended: call [`HopStage::drain`].
    pub fn on_datagram(&mut self, now: i64, dg: &Datagram<'_>, point: ObservationPoint) -> bool {
        if self.records.is_some() {
            self.cut(now);
        }
        if let Some((k, p)) = summarize(dg, point) {
            self.matcher.on_rtp(now, &k, &p);
        }
        self.matcher.has_done()
    }

    /// A capture-time tick (about every second, before the engine's expiry at `now`): end
    /// the streams idle for more than `idle_ns` (the engine's idle timeout). Then
    /// [`HopStage::drain`].
    pub fn expire(&mut self, now: i64, idle_ns: i64) {
        self.matcher.expire(now, idle_ns);
    }

    /// The capture is over: end every hop (replay's end of file, live shutdown). Then
    /// [`HopStage::drain`], before the engine ends its streams.
    pub fn finish(&mut self, now: i64) {
        self.matcher.finish(now);
    }

    /// Hand out what ended at `now`: each egress stream's loss split to `split` (its key,
    /// lost upstream, lost inside: for the engine owning it), each ended hop to its final
    /// record, the collector (else `hop`), the recently stopped list and the totals.
    pub fn drain(
        &mut self,
        now: i64,
        split: &mut dyn FnMut(StreamKey, u64, u64),
        hop: &mut dyn FnMut(u64, HopRecord),
    ) {
        // The matcher's queue is bounded (MAX_DONE); taken out to end hops with `self`.
        let done: Vec<Done> = self.matcher.drain().collect();
        for d in done {
            match d {
                Done::Split {
                    key,
                    upstream,
                    inside,
                } => split(key, upstream, inside),
                Done::Hop {
                    seq,
                    hop: r,
                    delays,
                } => {
                    let r = *r;
                    self.end(now, &r, &delays);
                    match &self.collector {
                        // The receiving end gone (the replay is being torn down): nothing to keep.
                        Some(tx) => {
                            let _ = tx.send((seq, r));
                        }
                        None => hop(seq, r),
                    }
                }
            }
        }
    }

    /// Hop `r` ended at `now`: its final record, its last gains into the totals, the
    /// recently stopped list; then forget it.
    fn end(&mut self, now: i64, r: &HopRecord, delays: &DelayHist) {
        let id = (r.ingress_key, r.egress_key, r.paired_ns);
        let mut seen = self.seen.remove(&id).unwrap_or_default();
        let labels = self.labels(&mut seen, r);
        add(
            self.totals.entry(labels.clone()).or_default(),
            &mut seen,
            r,
            delays,
        );
        self.record(r, &seen, hop_record::HOP_FINAL, now);
        if self.cap == 0 {
            return;
        }
        self.stopped.push_front((
            now,
            LiveHop {
                record: r.clone(),
                ingress_observed_at: labels.ingress_point.to_string(),
                egress_observed_at: labels.egress_point.to_string(),
                active: false,
                kind: labels.kind,
            },
        ));
        self.stopped.truncate(self.cap);
    }

    /// The labels of hop `r` (kept in `seen` once made).
    fn labels(&self, seen: &mut Seen, r: &HopRecord) -> HopLabels {
        seen.labels
            .get_or_insert_with(|| HopLabels {
                ingress_point: self.names.name(r.ingress_key.point),
                egress_point: self.names.name(r.egress_key.point),
                matched_by: match r.matched_by {
                    MatchedBy::Ssrc => "ssrc",
                    MatchedBy::Fingerprint => "fingerprint",
                },
                kind: Kind::of(Some(r.ingress_pt), None),
            })
            .clone()
    }

    /// Send hop `r`'s record of `kind` from its previous mark (or its pairing) to `end`.
    fn record(&self, r: &HopRecord, seen: &Seen, kind: &str, end: i64) {
        let Some(rec) = &self.records else { return };
        let start = if seen.mark_ns == 0 {
            r.paired_ns
        } else {
            seen.mark_ns
        };
        let (ip, ep) = (
            self.names.name(r.ingress_key.point),
            self.names.name(r.egress_key.point),
        );
        let hid = hop_record::HopId {
            ingress_observed_at: &ip,
            egress_observed_at: &ep,
            occurrence: 0,
            since_ns: r.paired_ns,
        };
        rec.tx.send_hop(&hop_record::hop_record(
            &rec.opts, r, &hid, kind, start, end,
        ));
    }

    /// Close the record interval when `now` reached its boundary (before `now`'s packet is
    /// handled: the interval holds the packets before the boundary, as stream records do):
    /// an interval record of every open hop.
    fn cut(&mut self, now: i64) {
        let Some(r) = &mut self.records else { return };
        let every = r.opts.interval_ns.max(1);
        let next = now
            .div_euclid(every)
            .saturating_add(1)
            .saturating_mul(every);
        if r.next_cut == i64::MIN {
            r.next_cut = next;
            return;
        }
        if now < r.next_cut {
            return;
        }
        let boundary = r.next_cut;
        r.next_cut = next;
        for r in self.matcher.report() {
            let id = (r.ingress_key, r.egress_key, r.paired_ns);
            let mut seen = self.seen.remove(&id).unwrap_or_default();
            self.record(&r, &seen, hop_record::HOP_INTERVAL, boundary);
            seen.mark_ns = boundary;
            self.seen.insert(id, seen);
        }
    }

    /// The matcher (reports and tests).
    pub fn matcher(&self) -> &HopMatcher {
        &self.matcher
    }

    /// The latest snapshot, rebuilt first when [`PUBLISH_EVERY`] has passed (and always
    /// after [`HopStage::finish`]'s drain when `force`).
    pub fn snapshot(&mut self, now: i64, force: bool) -> Arc<HopSnapshot> {
        if force || !self.last.is_some_and(|t| t.elapsed() < PUBLISH_EVERY) {
            self.rebuild(now);
        }
        Arc::clone(&self.snapshot)
    }

    /// Fold what every open hop gained into the totals and rebuild the published list.
    fn rebuild(&mut self, now: i64) {
        self.last = Some(Instant::now());
        for t in self.totals.values_mut() {
            t.active = 0;
        }
        let linger = self.linger_ns;
        while self
            .stopped
            .back()
            .is_some_and(|(at, _)| now.saturating_sub(*at) > linger)
        {
            self.stopped.pop_back();
        }
        let mut live: Vec<LiveHop> = Vec::new();
        let mut open = 0usize;
        let mut seen_map = std::mem::take(&mut self.seen);
        for v in self.matcher.open_hops() {
            let r = v.record;
            let seen = seen_map
                .entry((r.ingress_key, r.egress_key, r.paired_ns))
                .or_default();
            let labels = self.labels(seen, &r);
            let t = self.totals.entry(labels.clone()).or_default();
            add(t, seen, &r, v.delays);
            t.active += 1;
            open += 1;
            if live.len() < self.cap {
                live.push(LiveHop {
                    record: r,
                    ingress_observed_at: labels.ingress_point.to_string(),
                    egress_observed_at: labels.egress_point.to_string(),
                    active: true,
                    kind: labels.kind,
                });
            }
        }
        self.seen = seen_map;
        let total = open + self.stopped.len();
        live.extend(
            self.stopped
                .iter()
                .take(self.cap.saturating_sub(live.len()))
                .map(|(_, h)| h.clone()),
        );
        self.snapshot = Arc::new(HopSnapshot {
            capture_now: now,
            omitted: total.saturating_sub(live.len()) as u64,
            hops: live,
            totals: self.totals.clone(),
            counters: *self.matcher.counters(),
        });
    }
}

/// Add to `t` what hop `r` gained since `seen`, and remember its new values.
fn add(t: &mut HopTotals, seen: &mut Seen, r: &HopRecord, delays: &DelayHist) {
    let gain = |now: u64, before: &mut u64| {
        let d = now.saturating_sub(*before);
        *before = (*before).max(now);
        d
    };
    t.packets_in += gain(r.packets_in, &mut seen.packets_in);
    t.packets_out += gain(r.packets_out, &mut seen.packets_out);
    t.lost_inside += gain(r.lost_inside, &mut seen.lost_inside);
    t.lost_upstream += gain(r.lost_upstream, &mut seen.lost_upstream);
    t.late += gain(r.late, &mut seen.late);
    t.rtx_packets += gain(r.rtx_packets, &mut seen.rtx_packets);
    let (counts, sum) = delay_buckets(delays);
    for (i, (&now, before)) in counts.iter().zip(seen.delay_counts.iter_mut()).enumerate() {
        let d = gain(now, before);
        if let Some(c) = t.delay.counts.get_mut(i) {
            *c += d;
        }
        t.delay.count += d;
    }
    if sum > seen.delay_sum {
        t.delay.sum += sum - seen.delay_sum;
        seen.delay_sum = sum;
    }
}

/// A matcher histogram in the exporter's buckets (per bucket, not cumulative; the last is
/// above every bound) and the sum of its delays (bucket midpoints), seconds.
pub fn delay_buckets(h: &DelayHist) -> ([u64; DELAY_BOUNDS_US.len() + 1], f64) {
    let mut counts = [0u64; DELAY_BOUNDS_US.len() + 1];
    let (mut prev, mut sum) = (0u64, 0.0f64);
    for (hi_s, cumulative) in h.cumulative() {
        let n = cumulative.saturating_sub(prev);
        prev = cumulative;
        let hi = (hi_s * 1e6).round() as u64;
        // The matcher's buckets are 1 µs wide below 64 µs, then 1/32 of their power of two.
        let e = 63 - u64::leading_zeros(hi.saturating_sub(1).max(1));
        let width = if hi <= 64 {
            1
        } else {
            1u64 << e.saturating_sub(5)
        };
        sum += n as f64 * (hi as f64 - width as f64 / 2.0) / 1e6;
        let i = DELAY_BOUNDS_US.partition_point(|&b| b < hi);
        if let Some(c) = counts.get_mut(i) {
            *c += n;
        }
    }
    (counts, sum)
}

#[cfg(test)]
#[path = "hops_tests.rs"]
mod tests;
