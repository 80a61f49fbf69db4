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
    summarize, DelayHist, HopCounters, HopMatcher, HopRecord, Limits, MatchedBy,
};
use crate::engine::{ObservationPoint, PointNames, StreamKey};
use crate::export::aggregate::Histogram;
use crate::export::labels::Kind;
use crate::forward::hop_record;
use crate::forward::record::RecordOptions;
use crate::forward::RecordTx;
use crate::wire::Datagram;
use foldhash::HashMap;
use serde::Serialize;
use std::collections::BTreeMap;
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

/// What was last added to the totals for one hop.
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
    /// Capture time the hop was first seen stopped.
    ended_at: Option<i64>,
    /// Capture time the hop was first seen, and the end of its latest record.
    since_ns: Option<i64>,
    mark_ns: i64,
    final_sent: bool,
}

/// Hop records for the sinks (schema version 2, [`crate::forward::hop_record`]).
struct Records {
    tx: RecordTx,
    opts: RecordOptions,
    /// The next interval boundary (capture time); `i64::MIN` before the first packet.
    next_cut: i64,
}

/// The matcher and its published view, owned by one capture thread's feeder.
pub struct HopStage {
    matcher: HopMatcher,
    names: Arc<PointNames>,
    cap: usize,
    linger_ns: i64,
    /// Per hop (ingress, egress, occurrence of that pair): bounded by the matcher's `max_hops`
    /// (entries of hops no longer reported are removed).
    seen: HashMap<(StreamKey, StreamKey, u32), Seen>,
    totals: BTreeMap<HopLabels, HopTotals>,
    last: Option<Instant>,
    snapshot: Arc<HopSnapshot>,
    records: Option<Records>,
}

impl HopStage {
    /// A stage publishing at most `cap` hops, keeping stopped ones for `linger_ns` of capture
    /// time; `names` names the observation points (the pipeline's table).
    pub fn new(limits: Limits, names: Arc<PointNames>, cap: usize, linger_ns: i64) -> Self {
        HopStage {
            matcher: HopMatcher::new(limits),
            names,
            cap,
            linger_ns: linger_ns.max(0),
            seen: HashMap::default(),
            totals: BTreeMap::new(),
            last: None,
            snapshot: Arc::default(),
            records: None,
        }
    }

    /// Also send hop records to the sinks: one per hop and interval of `opts.interval_ns`
    /// (capture time) and one when the hop stops, like the stream records.
    pub fn with_records(mut self, tx: RecordTx, opts: RecordOptions) -> Self {
        self.records = Some(Records {
            tx,
            opts,
            next_cut: i64::MIN,
        });
        self
    }

    /// A capture-time tick (the feeder's, every second): hops that stopped since the last
    /// one get their final record.
    pub fn tick(&mut self, now: i64) {
        if self.records.is_some() {
            self.emit(now, now, false, false);
        }
    }

    /// Close the record interval when `now` reached its boundary (before `now`'s packet is
    /// handled: the interval holds the packets before the boundary, as stream records do).
    fn cut(&mut self, now: i64) {
        let Some(r) = &mut self.records else { return };
        let every = r.opts.interval_ns.max(1);
        if r.next_cut == i64::MIN {
            r.next_cut = now
                .div_euclid(every)
                .saturating_add(1)
                .saturating_mul(every);
            return;
        }
        if now < r.next_cut {
            return;
        }
        let boundary = r.next_cut;
        r.next_cut = now
            .div_euclid(every)
            .saturating_add(1)
            .saturating_mul(every);
        self.emit(boundary, boundary, true, false);
    }

    /// Send records: interval records of the hops still forwarding (`intervals`), final
    /// records of those that stopped (all of them when `all_final`), ending at `end`.
    fn emit(&mut self, now: i64, end: i64, intervals: bool, all_final: bool) {
        let Some(rec) = &self.records else { return };
        let reports = self.matcher.report();
        let state: Vec<(bool, bool)> = self
            .matcher
            .views()
            .map(|v| (v.active, v.settled))
            .collect();
        let mut occurrences: HashMap<(StreamKey, StreamKey), u32> = HashMap::default();
        for (r, (active, settled)) in reports.iter().zip(state) {
            let n = occurrences
                .entry((r.ingress_key, r.egress_key))
                .or_default();
            let id = (r.ingress_key, r.egress_key, *n);
            *n += 1;
            let seen = self.seen.entry(id).or_default();
            let since = *seen.since_ns.get_or_insert(now);
            if seen.final_sent {
                continue;
            }
            // A stopped hop's last in-flight packets settle as its ingress goes on: its final
            // record waits for that, until then it gets interval records like an active one.
            let kind = if settled || all_final {
                seen.final_sent = true;
                hop_record::HOP_FINAL
            } else if intervals && (active || !settled) {
                hop_record::HOP_INTERVAL
            } else {
                continue;
            };
            let start = if seen.mark_ns == 0 {
                since
            } else {
                seen.mark_ns
            };
            seen.mark_ns = end;
            let (ip, ep) = (
                self.names.name(r.ingress_key.point),
                self.names.name(r.egress_key.point),
            );
            let hid = hop_record::HopId {
                ingress_observed_at: &ip,
                egress_observed_at: &ep,
                occurrence: id.2,
                since_ns: since,
            };
            let out = hop_record::hop_record(&rec.opts, r, &hid, kind, start, end);
            rec.tx.send_hop(&out);
        }
    }

    /// Feed one decoded datagram seen at `point` (call for every datagram, in capture order).
    pub fn on_datagram(&mut self, now: i64, dg: &Datagram<'_>, point: ObservationPoint) {
        if self.records.is_some() {
            self.cut(now);
        }
        if let Some((k, p)) = summarize(dg, point) {
            self.matcher.on_rtp(now, &k, &p);
        }
    }

    /// The capture is over: settle every in-flight packet (replay's end of file, live
    /// shutdown), then rebuild the snapshot.
    pub fn finish(&mut self, now: i64) {
        self.matcher.finish(now);
        self.emit(now, now, false, true);
        self.rebuild(now);
    }

    /// The matcher (replay reports and tests).
    pub fn matcher(&self) -> &HopMatcher {
        &self.matcher
    }

    /// The latest snapshot, rebuilt first when [`PUBLISH_EVERY`] has passed.
    pub fn snapshot(&mut self, now: i64) -> Arc<HopSnapshot> {
        if !self.last.is_some_and(|t| t.elapsed() < PUBLISH_EVERY) {
            self.rebuild(now);
        }
        Arc::clone(&self.snapshot)
    }

    /// Fold what every hop gained into the totals and rebuild the published list.
    fn rebuild(&mut self, now: i64) {
        self.last = Some(Instant::now());
        for t in self.totals.values_mut() {
            t.active = 0;
        }
        let reports = self.matcher.report();
        let mut occurrences: HashMap<(StreamKey, StreamKey), u32> = HashMap::default();
        let mut live: Vec<LiveHop> = Vec::new();
        let mut stopped: Vec<(i64, LiveHop)> = Vec::new();
        let mut keep = std::collections::HashSet::new();
        for (r, v) in reports.into_iter().zip(self.matcher.views()) {
            let n = occurrences
                .entry((v.ingress_key, v.egress_key))
                .or_default();
            let id = (v.ingress_key, v.egress_key, *n);
            *n += 1;
            keep.insert(id);
            let seen = self.seen.entry(id).or_default();
            let labels = seen
                .labels
                .get_or_insert_with(|| HopLabels {
                    ingress_point: self.names.name(v.ingress_key.point),
                    egress_point: self.names.name(v.egress_key.point),
                    matched_by: match r.matched_by {
                        MatchedBy::Ssrc => "ssrc",
                        MatchedBy::Fingerprint => "fingerprint",
                    },
                    kind: Kind::of(v.pt, None),
                })
                .clone();
            let t = self.totals.entry(labels.clone()).or_default();
            add(t, seen, &r, v.delays);
            if v.active {
                t.active += 1;
                seen.ended_at = None;
            } else {
                seen.ended_at.get_or_insert(now);
            }
            let hop = LiveHop {
                record: r,
                ingress_observed_at: labels.ingress_point.to_string(),
                egress_observed_at: labels.egress_point.to_string(),
                active: v.active,
                kind: labels.kind,
            };
            match seen.ended_at {
                None => live.push(hop),
                Some(at) if now.saturating_sub(at) <= self.linger_ns => stopped.push((at, hop)),
                Some(_) => {}
            }
        }
        self.seen.retain(|k, _| keep.contains(k));
        // Most recently stopped first, so the cap keeps the freshest.
        stopped.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        let total = live.len() + stopped.len();
        live.extend(stopped.into_iter().map(|(_, h)| h));
        live.truncate(self.cap);
        self.snapshot = Arc::new(HopSnapshot {
            capture_now: now,
            omitted: (total - live.len()) as u64,
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
    /// snapshot's totals.
    fn staged(
        name: &str,
        every: usize,
        linger_ns: i64,
    ) -> (HopStage, Vec<BTreeMap<HopLabels, HopTotals>>) {
        let (cap, _) = crate::synth::hop::named(name).unwrap().build();
        let names = PointNames::shared("capture");
        let mut st = HopStage::new(Limits::default(), names, 8, linger_ns);
        let mut seen = Vec::new();
        for (n, f) in cap.frames.iter().enumerate() {
            let link = crate::wire::LinkType::from_dlt(f.linktype as i32).unwrap();
            let dg = crate::wire::decode_udp(link, &f.bytes).unwrap();
            st.on_datagram(f.ts_ns, &dg, ObservationPoint::CAPTURE);
            if n % every == 0 {
                st.rebuild(f.ts_ns);
                seen.push(st.snapshot.totals.clone());
            }
        }
        let end = cap.frames.last().unwrap().ts_ns;
        st.finish(end);
        seen.push(st.snapshot.totals.clone());
        (st, seen)
    }

    #[test]
    fn totals_never_go_down_and_end_as_the_report_says() {
        // Simulcast: hops stop (layer switches) and settle later; fan-out: three at once.
        for name in ["simulcast", "fanout", "sfu"] {
            let (st, seen) = staged(name, 97, i64::MAX);
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
            let report = st.matcher().report();
            let last = seen.last().unwrap();
            let sum = |f: fn(&HopTotals) -> u64| last.values().map(f).sum::<u64>();
            let want = |f: fn(&HopRecord) -> u64| report.iter().map(f).sum::<u64>();
            assert_eq!(sum(|t| t.packets_in), want(|h| h.packets_in), "{name}");
            assert_eq!(sum(|t| t.packets_out), want(|h| h.packets_out), "{name}");
            assert_eq!(sum(|t| t.lost_inside), want(|h| h.lost_inside), "{name}");
            assert_eq!(sum(|t| t.active), 0, "{name}: the end stops every hop");
            // The published list: every hop (stopped ones linger for ever here), capped at 8.
            assert_eq!(st.snapshot.hops.len(), report.len().min(8), "{name}");
        }
        // Without linger only the hops stopped by the end itself are shown: in the simulcast
        // scenario, the three layers forwarded when the capture ended, not the three before.
        let (st, _) = staged("simulcast", 97, 0);
        assert_eq!(st.matcher().report().len(), 6);
        assert_eq!(st.snapshot.hops.len(), 3);
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
