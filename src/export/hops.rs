//! Middlebox hops on the endpoint: the `rtcprobe_hop_*` families of `/metrics` and the body
//! of `/hops`, both read from the capture threads' hop snapshots
//! ([`crate::pipeline::hops::HopSnapshot`]).
//!
//! * Aggregates, always: cumulative counters and the forwarding delay histogram per
//!   (ingress observation point, egress observation point, `matched_by`, media `kind`): a
//!   bounded label set (points are capped per run, [`crate::engine::obs::MAX_POINTS`]), and
//!   totals that never go down when a hop ends.
//! * Per-hop series, only with `exporter.per_stream_series` and at most
//!   `exporter.max_stream_series` hops (still forwarding first): packets out, lost inside,
//!   delay quantiles, jitter added, labelled with both streams in the privacy form of the
//!   per-stream labels. They vanish once the hop stopped and its linger passed.
//! * `/hops`: the same hops as JSON objects with the field names of `replay --format json`'s
//!   `hops` (docs/output.md), addresses in the `address_labels` form.

use super::labels::Labeller;
use super::metrics::{escape_into, Out, Scrape};
use super::names;
use crate::correlate::hop::StreamRef;
use crate::pipeline::hops::{HopLabels, HopTotals, LiveHop};
use crate::pipeline::snapshot::{Board, CaptureSnapshot};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

/// Every capture thread's published hops, still forwarding first, at most `cap`; and how
/// many were left out.
pub fn live_hops(board: &Board, cap: usize) -> (Vec<LiveHop>, u64) {
    let captures: Vec<_> = board.captures.iter().map(|c| c.load_full()).collect();
    collect(&captures, cap)
}

fn collect(captures: &[Arc<CaptureSnapshot>], cap: usize) -> (Vec<LiveHop>, u64) {
    let snaps: Vec<_> = captures.iter().filter_map(|c| c.hops.as_ref()).collect();
    let mut omitted: u64 = snaps.iter().map(|s| s.omitted).sum();
    let mut all: Vec<&LiveHop> = snaps.iter().flat_map(|s| &s.hops).collect();
    // Stable: each thread's order (pairing order, then most recently stopped) is kept.
    all.sort_by_key(|h| !h.active);
    if all.len() > cap {
        omitted += (all.len() - cap) as u64;
        all.truncate(cap);
    }
    (all.into_iter().cloned().collect(), omitted)
}

/// A hop as `/hops` shows it: addresses as the per-stream labels show them.
pub fn private_hop(l: &Labeller, mut h: LiveHop) -> LiveHop {
    for s in [&mut h.record.ingress, &mut h.record.egress] {
        s.src = l.address(&s.src);
        s.dst = l.address(&s.dst);
    }
    h
}

/// The body of `/hops`: a JSON array.
pub fn body(board: &Board, l: &Labeller, cap: usize) -> Vec<u8> {
    let hops: Vec<LiveHop> = live_hops(board, cap)
        .0
        .into_iter()
        .map(|h| private_hop(l, h))
        .collect();
    serde_json::to_vec(&hops).unwrap_or_default()
}

fn agg_labels(k: &HopLabels) -> String {
    let mut s = String::from("ingress_point=\"");
    escape_into(&mut s, &k.ingress_point);
    s.push_str("\",egress_point=\"");
    escape_into(&mut s, &k.egress_point);
    let _ = write!(
        s,
        "\",matched_by=\"{}\",kind=\"{}\"",
        k.matched_by,
        k.kind.as_str()
    );
    s
}

fn stream_labels(s: &mut String, side: &str, l: &Labeller, r: &StreamRef) {
    let _ = write!(s, "{side}_ssrc=\"{}\",{side}_src=\"", r.ssrc);
    escape_into(s, &l.address(&r.src));
    let _ = write!(s, "\",{side}_dst=\"");
    escape_into(s, &l.address(&r.dst));
    s.push('"');
}

fn hop_labels(l: &Labeller, h: &LiveHop) -> String {
    let mut s = String::new();
    stream_labels(&mut s, "ingress", l, &h.record.ingress);
    s.push(',');
    stream_labels(&mut s, "egress", l, &h.record.egress);
    s.push_str(",ingress_point=\"");
    escape_into(&mut s, &h.ingress_observed_at);
    s.push_str("\",egress_point=\"");
    escape_into(&mut s, &h.egress_observed_at);
    let by = match h.record.matched_by {
        crate::correlate::hop::MatchedBy::Ssrc => "ssrc",
        crate::correlate::hop::MatchedBy::Fingerprint => "fingerprint",
    };
    let _ = write!(s, "\",matched_by=\"{by}\"");
    s
}

/// Write every hop family.
pub(super) fn encode(o: &mut Out<'_>, sc: &Scrape<'_>, captures: &[Arc<CaptureSnapshot>]) {
    let snaps: Vec<_> = captures.iter().filter_map(|c| c.hops.as_ref()).collect();
    // Capture threads pair separately: their label sets are summed.
    let mut totals: BTreeMap<&HopLabels, HopTotals> = BTreeMap::new();
    let mut counters = crate::correlate::hop::HopCounters::default();
    for s in &snaps {
        for (k, v) in &s.totals {
            let t = totals.entry(k).or_default();
            t.packets_in += v.packets_in;
            t.packets_out += v.packets_out;
            t.lost_inside += v.lost_inside;
            t.lost_upstream += v.lost_upstream;
            t.late += v.late;
            t.rtx_packets += v.rtx_packets;
            t.active += v.active;
            for (a, b) in t.delay.counts.iter_mut().zip(&v.delay.counts) {
                *a += b;
            }
            t.delay.sum += v.delay.sum;
            t.delay.count += v.delay.count;
        }
        counters.streams_evicted += s.counters.streams_evicted;
        counters.inflight_evicted += s.counters.inflight_evicted;
        counters.hops_refused += s.counters.hops_refused;
        counters.index_resets += s.counters.index_resets;
    }
    let labelled: Vec<(String, &HopTotals)> =
        totals.iter().map(|(k, v)| (agg_labels(k), v)).collect();
    o.family(&names::HOP_FORWARDING_DELAY);
    for (ls, t) in &labelled {
        o.histogram(&names::HOP_FORWARDING_DELAY, ls, &t.delay);
    }
    type Field = fn(&HopTotals) -> u64;
    let fields: [(names::Metric, Field); 7] = [
        (names::HOP_PACKETS_IN, |t| t.packets_in),
        (names::HOP_PACKETS_OUT, |t| t.packets_out),
        (names::HOP_LOST_INSIDE, |t| t.lost_inside),
        (names::HOP_LOST_UPSTREAM, |t| t.lost_upstream),
        (names::HOP_LATE, |t| t.late),
        (names::HOP_RTX, |t| t.rtx_packets),
        (names::HOPS_ACTIVE, |t| t.active),
    ];
    for (m, f) in fields {
        o.family(&m);
        for (ls, t) in &labelled {
            o.sample(m.name, "", ls, f(t));
        }
    }
    o.family(&names::HOP_MATCHER_EVICTIONS);
    for (what, v) in [
        ("stream", counters.streams_evicted),
        ("inflight", counters.inflight_evicted),
    ] {
        let ls = format!("what=\"{what}\"");
        o.sample(names::HOP_MATCHER_EVICTIONS.name, "", &ls, v);
    }
    o.family(&names::HOP_MATCHER_REFUSED);
    o.sample(
        names::HOP_MATCHER_REFUSED.name,
        "",
        "",
        counters.hops_refused,
    );
    o.family(&names::HOP_MATCHER_INDEX_RESETS);
    o.sample(
        names::HOP_MATCHER_INDEX_RESETS.name,
        "",
        "",
        counters.index_resets,
    );
    let (hops, omitted) = collect(captures, sc.max_stream_series);
    if sc.per_stream {
        per_hop(o, sc.labeller, &hops);
    }
    o.family(&names::HOPS_OMITTED);
    o.sample(names::HOPS_OMITTED.name, "", "", omitted);
}

fn per_hop(o: &mut Out<'_>, l: &Labeller, hops: &[LiveHop]) {
    let labelled: Vec<(String, &LiveHop)> = hops.iter().map(|h| (hop_labels(l, h), h)).collect();
    o.family(&names::HOP_PAIR_PACKETS_OUT);
    for (ls, h) in &labelled {
        o.sample(
            names::HOP_PAIR_PACKETS_OUT.name,
            "",
            ls,
            h.record.packets_out,
        );
    }
    o.family(&names::HOP_PAIR_LOST_INSIDE);
    for (ls, h) in &labelled {
        o.sample(
            names::HOP_PAIR_LOST_INSIDE.name,
            "",
            ls,
            h.record.lost_inside,
        );
    }
    o.family(&names::HOP_PAIR_DELAY);
    for (ls, h) in &labelled {
        if let Some(d) = &h.record.forwarding_delay {
            for (stat, v) in [("p50", d.p50), ("p99", d.p99)] {
                let with = format!("{ls},stat=\"{stat}\"");
                o.sample(names::HOP_PAIR_DELAY.name, "", &with, v);
            }
        }
    }
    o.family(&names::HOP_JITTER_ADDED);
    for (ls, h) in &labelled {
        o.sample(names::HOP_JITTER_ADDED.name, "", ls, h.record.jitter_added);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExporterConfig;
    use crate::engine::{ObservationPoint, PointNames};
    use crate::pipeline::hops::HopStage;

    /// A board whose one capture thread paired the hops of a synthetic relay.
    fn board() -> Board {
        let (cap, _) = crate::synth::hop::named("fanout").unwrap().build();
        let mut st = HopStage::new(Default::default(), PointNames::shared("capture"), 100, 0);
        let mut last = 0;
        for f in &cap.frames {
            let link = crate::wire::LinkType::from_dlt(f.linktype as i32).unwrap();
            let dg = crate::wire::decode_udp(link, &f.bytes).unwrap();
            if st.on_datagram(f.ts_ns, &dg, ObservationPoint::CAPTURE) {
                st.drain(f.ts_ns, &mut |_, _, _| {}, &mut |_, _| {});
            }
            last = f.ts_ns;
        }
        st.finish(last);
        st.drain(last, &mut |_, _, _| {}, &mut |_, _| {});
        let b = Board::new(1, 1);
        let snap = CaptureSnapshot {
            hops: Some(st.snapshot(last, true)),
            ..Default::default()
        };
        crate::pipeline::snapshot::publish(&b.captures[0], snap);
        b
    }

    #[test]
    fn with_hashed_addresses_no_raw_address_reaches_hops_or_metrics() {
        let b = board();
        let cfg = ExporterConfig {
            address_labels: "hash".into(),
            hash_key: "0123456789abcdef".into(),
            ..Default::default()
        };
        let l = Labeller::new(&cfg, vec![]);
        let body = String::from_utf8(body(&b, &l, 100)).unwrap();
        let hops: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(hops.as_array().unwrap().len(), 3, "{body}");
        let metrics = super::super::metrics::encode(&Scrape {
            board: &b,
            labeller: &l,
            per_stream: true,
            max_stream_series: 100,
            openmetrics: false,
            last_duration_secs: 0.0,
            scrapes: 0,
            omitted_total: 0,
            healthy: true,
            http: Default::default(),
        })
        .body;
        assert!(metrics.contains("rtcprobe_hop_pair_packets_out_total{"));
        // The scenario's hosts are 10.1.0.0/16 (in) and 10.2.0.0/16 (out).
        for raw in ["10.1.0.", "10.2.0."] {
            assert!(!body.contains(raw), "{raw} in /hops: {body}");
            assert!(!metrics.contains(raw), "{raw} in /metrics");
        }
        // With addresses kept, they are there (the check above can fail).
        let keep = Labeller::new(&ExporterConfig::default(), vec![]);
        assert!(String::from_utf8(body_of(&b, &keep))
            .unwrap()
            .contains("10.2.0."));
    }

    fn body_of(b: &Board, l: &Labeller) -> Vec<u8> {
        body(b, l, 100)
    }

    #[test]
    fn openmetrics_names_hop_counter_families_without_total_and_per_hop_series_need_the_switch() {
        let b = board();
        let l = Labeller::new(&ExporterConfig::default(), vec![]);
        let scrape = |openmetrics, per_stream| {
            super::super::metrics::encode(&Scrape {
                board: &b,
                labeller: &l,
                per_stream,
                max_stream_series: 100,
                openmetrics,
                last_duration_secs: 0.0,
                scrapes: 0,
                omitted_total: 0,
                healthy: true,
                http: Default::default(),
            })
            .body
        };
        let om = scrape(true, true);
        assert!(om.contains("# TYPE rtcprobe_hop_packets_lost_inside counter\n"));
        assert!(om.contains("rtcprobe_hop_packets_lost_inside_total{ingress_point=\"capture\""));
        assert!(om.contains("# TYPE rtcprobe_hop_forwarding_delay_seconds histogram\n"));
        assert!(om.contains("le=\"+Inf\""));
        let text = scrape(false, false);
        assert!(text.contains("rtcprobe_hop_packets_out_total{"));
        assert!(!text.contains("rtcprobe_hop_pair_packets_out_total{"));
    }

    #[test]
    fn the_cap_bounds_hops_and_per_hop_series_and_counts_the_rest() {
        let b = board();
        let l = Labeller::new(&ExporterConfig::default(), vec![]);
        let (hops, omitted) = live_hops(&b, 2);
        assert_eq!((hops.len(), omitted), (2, 1));
        let metrics = super::super::metrics::encode(&Scrape {
            board: &b,
            labeller: &l,
            per_stream: true,
            max_stream_series: 2,
            openmetrics: false,
            last_duration_secs: 0.0,
            scrapes: 0,
            omitted_total: 0,
            healthy: true,
            http: Default::default(),
        })
        .body;
        let per_hop = metrics
            .lines()
            .filter(|l| l.starts_with("rtcprobe_hop_pair_packets_out_total{"))
            .count();
        assert_eq!(per_hop, 2);
        assert!(metrics.contains("rtcprobe_export_hops_omitted 1\n"));
    }
}
