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
mod tests {
    use super::*;

    /// A stage fed a synthetic hop scenario, `every` frames between snapshots; each
    /// snapshot's totals, and the hops in the order they ended.
    fn staged(
        name: &str,
        every: usize,
        linger_ns: i64,
    ) -> (
        HopStage,
        Vec<BTreeMap<HopLabels, HopTotals>>,
        Vec<HopRecord>,
    ) {
        let (cap, _) = crate::synth::hop::named(name).unwrap().build();
        let names = PointNames::shared("capture");
        let mut st = HopStage::new(Limits::default(), names, 8, linger_ns);
        let mut seen = Vec::new();
        let mut ended = Vec::new();
        for (n, f) in cap.frames.iter().enumerate() {
            let link = crate::wire::LinkType::from_dlt(f.linktype as i32).unwrap();
            let dg = crate::wire::decode_udp(link, &f.bytes).unwrap();
            if st.on_datagram(f.ts_ns, &dg, ObservationPoint::CAPTURE) {
                st.drain(f.ts_ns, &mut |_, _, _| {}, &mut |_, h| ended.push(h));
            }
            // The stage keeps state for open hops only.
            assert!(st.seen.len() <= st.matcher().open_hop_count(), "{name}");
            if n % every == 0 {
                st.rebuild(f.ts_ns);
                seen.push(st.snapshot.totals.clone());
            }
        }
        let end = cap.frames.last().unwrap().ts_ns;
        st.finish(end);
        st.drain(end, &mut |_, _, _| {}, &mut |_, h| ended.push(h));
        assert!(st.seen.is_empty(), "{name}: nothing open after the end");
        st.snapshot(end, true);
        seen.push(st.snapshot.totals.clone());
        (st, seen, ended)
    }

    #[test]
    fn totals_never_go_down_and_end_as_the_ended_hops_say() {
        // Simulcast: hops stop (layer switches); fan-out: three at once.
        for name in ["simulcast", "fanout", "sfu"] {
            let (st, seen, ended) = staged(name, 97, i64::MAX);
            for w in seen.windows(2) {
                for (k, b) in &w[1] {
                    let a = w[0].get(k).cloned().unwrap_or_default();
                    assert!(b.packets_in >= a.packets_in, "{name}");
                    assert!(b.packets_out >= a.packets_out, "{name}");
                    assert!(b.lost_inside >= a.lost_inside, "{name}");
                    assert!(b.delay.count >= a.delay.count, "{name}");
                    assert!(b
                        .delay
                        .counts
                        .iter()
                        .zip(&a.delay.counts)
                        .all(|(x, y)| x >= y));
                }
            }
            assert!(st.matcher().report().is_empty(), "{name}");
            assert!(!ended.is_empty(), "{name}");
            let last = seen.last().unwrap();
            let sum = |f: fn(&HopTotals) -> u64| last.values().map(f).sum::<u64>();
            let want = |f: fn(&HopRecord) -> u64| ended.iter().map(f).sum::<u64>();
            assert_eq!(sum(|t| t.packets_in), want(|h| h.packets_in), "{name}");
            assert_eq!(sum(|t| t.packets_out), want(|h| h.packets_out), "{name}");
            assert_eq!(sum(|t| t.lost_inside), want(|h| h.lost_inside), "{name}");
            assert_eq!(sum(|t| t.delay.count), want(|h| h.packets_out - h.late));
            assert_eq!(sum(|t| t.active), 0, "{name}: the end stops every hop");
            // The published list: every hop (stopped ones linger for ever here), capped at 8,
            // the last to end first.
            let shown = &st.snapshot.hops;
            assert_eq!(shown.len(), ended.len().min(8), "{name}");
            assert_eq!(shown[0].record, *ended.last().unwrap(), "{name}");
            assert_eq!(
                st.snapshot.omitted,
                ended.len().saturating_sub(8) as u64,
                "{name}"
            );
        }
        // Without linger only the hops stopped by the end itself are shown: in the simulcast
        // scenario, the three layers forwarded when the capture ended, not the three before.
        let (st, _, ended) = staged("simulcast", 97, 0);
        assert_eq!(ended.len(), 6);
        assert_eq!(st.snapshot.hops.len(), 3);
        assert_eq!(st.snapshot.hops[0].record, ended[5]);
    }

    #[test]
    fn the_stopped_list_is_capped() {
        let (cap, _) = crate::synth::hop::named("simulcast").unwrap().build();
        let mut st = HopStage::new(
            Limits::default(),
            PointNames::shared("capture"),
            2,
            i64::MAX,
        );
        let mut ended = 0;
        for f in &cap.frames {
            let link = crate::wire::LinkType::from_dlt(f.linktype as i32).unwrap();
            let dg = crate::wire::decode_udp(link, &f.bytes).unwrap();
            if st.on_datagram(f.ts_ns, &dg, ObservationPoint::CAPTURE) {
                st.drain(f.ts_ns, &mut |_, _, _| {}, &mut |_, _| ended += 1);
            }
            assert!(st.stopped.len() <= 2);
        }
        st.finish(0);
        st.drain(0, &mut |_, _, _| {}, &mut |_, _| ended += 1);
        assert_eq!(ended, 6);
        assert_eq!(st.stopped.len(), 2);
        let snap = st.snapshot(0, true);
        assert_eq!((snap.hops.len(), snap.omitted), (2, 0));
    }

    #[test]
    fn bounds_in_seconds_are_the_microsecond_bounds() {
        assert_eq!(DELAY_BOUNDS.len(), DELAY_BOUNDS_US.len());
        for (s, us) in DELAY_BOUNDS.iter().zip(DELAY_BOUNDS_US) {
            assert_eq!(*s, us as f64 / 1e6);
        }
    }

    #[test]
    fn delays_land_in_their_bucket_and_sum_within_the_bucket_error() {
        let mut h = DelayHist::default();
        // 10 µs, 100 µs, 1 ms, 1.5 ms, 20 ms, 2 s (above every bound).
        for ns in [
            10_000,
            100_000,
            1_000_000,
            1_500_000,
            20_000_000,
            2_000_000_000,
        ] {
            h.add(ns);
        }
        let (c, sum) = delay_buckets(&h);
        let mut want = [0u64; 16];
        want[0] = 1; // ≤ 64 µs
        want[1] = 1; // ≤ 128 µs
        want[4] = 1; // ≤ 1.024 ms
        want[5] = 1; // ≤ 2.048 ms
        want[9] = 1; // ≤ 32.768 ms
        want[15] = 1; // +Inf
        assert_eq!(c, want);
        let exact = 0.00001 + 0.0001 + 0.001 + 0.0015 + 0.02;
        // The 2 s delay shares the matcher's last bucket (about 67 s): only the rest is close.
        assert!(sum > 2.0, "{sum}");
        let mut small = DelayHist::default();
        for ns in [10_000, 100_000, 1_000_000, 1_500_000, 20_000_000] {
            small.add(ns);
        }
        let (_, s) = delay_buckets(&small);
        assert!((s - exact).abs() <= exact / 32.0, "{s} vs {exact}");
    }
}
