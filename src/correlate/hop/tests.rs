//! The matcher against the synthetic hop scenarios' exact truth (`synth::hop`).

use super::*;
use crate::synth::hop::{self, HopScenario, HopTruth, HopsTruth};
use crate::wire::{decode_udp, LinkType};

/// The hops `m` handed out so far, in the order they ended.
pub(super) fn ended(m: &mut HopMatcher, into: &mut Vec<HopRecord>) {
    let mut last = into.len() as u64;
    for d in m.drain() {
        if let Done::Hop { seq, hop } = d {
            assert_eq!(seq, last, "hops are numbered in the order they end");
            last += 1;
            into.push(*hop);
        }
    }
}

/// Feed a scenario's capture through the matcher, as replay does.
fn run(s: &HopScenario) -> (HopMatcher, Vec<HopRecord>, HopsTruth) {
    let (cap, truth) = s.build();
    let mut m = HopMatcher::new(Limits::default());
    let mut last = 0;
    let mut got = Vec::new();
    for f in &cap.frames {
        let dg = decode_udp(LinkType::Ethernet, &f.bytes).unwrap();
        if let Some((k, p)) = summarize(&dg, crate::engine::ObservationPoint::CAPTURE) {
            m.on_rtp(f.ts_ns, &k, &p);
        }
        ended(&mut m, &mut got);
        last = f.ts_ns;
    }
    m.finish(last);
    ended(&mut m, &mut got);
    assert!(m.report().is_empty(), "every hop ended");
    assert_eq!(m.open_hop_count(), 0);
    (m, got, truth)
}

/// The ingress and egress keys of a truth hop.
fn keys(s: &HopScenario, t: &HopTruth) -> (StreamRef, StreamRef) {
    let i = &s.ingress[t.ingress];
    let e = &s.egress[t.egress];
    let essrc = e.rewrite.map_or(i.ssrc, |r| r.0);
    let r = |src: std::net::SocketAddr, dst: std::net::SocketAddr, ssrc| StreamRef {
        src: src.to_string(),
        dst: dst.to_string(),
        ssrc,
        observed_at: "capture".to_string(),
    };
    (r(i.src, i.dst, i.ssrc), r(e.src, e.dst, essrc))
}

/// RFC 3550-style smoothing of |ΔD| over the true delays, in seconds.
fn true_jitter(d: &[i64]) -> f64 {
    let mut j = 0.0;
    for w in d.windows(2) {
        j += ((w[1] - w[0]).abs() as f64 - j) / 16.0;
    }
    j / 1e9
}

fn check(name: &str) {
    let s = hop::named(name).unwrap();
    let (m, got, truth) = run(&s);
    assert_eq!(got.len(), truth.hops.len(), "{name}: hops {got:#?}");
    for t in &truth.hops {
        let (ik, ek) = keys(&s, t);
        let g = got
            .iter()
            .find(|g| g.ingress == ik && g.egress == ek)
            .unwrap_or_else(|| panic!("{name}: no hop {ik:?} → {ek:?} in {got:#?}"));
        let by = if ik.ssrc == ek.ssrc {
            MatchedBy::Ssrc
        } else {
            MatchedBy::Fingerprint
        };
        assert_eq!(g.matched_by, by, "{name}");
        assert!(g.confidence >= MIN_CONFIDENCE, "{name}: {}", g.confidence);
        assert_eq!(
            (
                g.packets_in,
                g.packets_out,
                g.lost_inside,
                g.lost_upstream,
                g.rtx_packets
            ),
            (
                t.packets_in,
                t.packets_out,
                t.lost_inside,
                t.upstream_lost,
                t.rtx_packets
            ),
            "{name}: in, out, lost inside, lost upstream, rtx of {ek:?}"
        );
        assert_eq!((g.evicted, g.late, g.duplicates_out), (0, 0, 0), "{name}");
        let mut d = t.delays_ns.clone();
        let fd = g.forwarding_delay.unwrap();
        assert_eq!(fd.min, *d.iter().min().unwrap() as f64 / 1e9, "{name}");
        assert_eq!(fd.max, *d.iter().max().unwrap() as f64 / 1e9, "{name}");
        let jit = true_jitter(&d);
        assert!(
            (g.jitter_added - jit).abs() < 1e-9,
            "{name}: {} vs {jit}",
            g.jitter_added
        );
        d.sort_unstable();
        let p50 = d[d.len().div_ceil(2) - 1] as f64 / 1e9;
        assert!(
            (fd.p50 - p50).abs() < 0.001,
            "{name}: p50 {} vs {p50}",
            fd.p50
        );
    }
    assert_eq!(m.counters().inflight_evicted, 0, "{name}");
}

#[test]
fn relay_keeping_ssrc_with_loss_delay_jitter_and_reordering_inside() {
    check("relay");
}

#[test]
fn sfu_rewriting_ssrc_sequence_and_timestamps() {
    check("sfu");
}

#[test]
fn one_to_three_fan_out_beside_an_unforwarded_stream() {
    check("fanout");
}

#[test]
fn simulcast_layers_switching_are_separate_hops_and_unforwarded_layers_are_not_loss() {
    check("simulcast");
}

#[test]
fn rtx_repairs_are_counted_apart_and_never_as_loss_or_hops() {
    check("rtx");
}

#[test]
fn constant_size_audio_pairs_by_ssrc() {
    check("audio_relay");
}

/// A key on `port`, seen at `point`.
fn key(port: u16, ssrc: u32, point: &crate::engine::PointNames, at: &str) -> StreamKey {
    crate::engine::StreamKey {
        src: std::net::SocketAddr::from(([10, 0, 0, 1], port)),
        dst: std::net::SocketAddr::from(([10, 0, 0, 2], 9)),
        ssrc,
        point: point.intern(at),
    }
}

fn pkt(ssrc: u32, i: u32, size: u32) -> RtpSummary {
    RtpSummary {
        ssrc,
        seq: i as u16,
        ts: i * 3000,
        pt: 96,
        marker: i % 3 == 0,
        payload_len: size,
    }
}

#[test]
fn a_forwarding_host_seen_on_two_interfaces_is_one_ssrc_hop_with_its_delay() {
    // Same 5-tuple and SSRC, two observation points (in on eth0, out on eth1 0.3 ms later).
    let names = crate::engine::PointNames::shared("capture");
    let (a, b) = (key(5000, 7, &names, "eth0"), key(5000, 7, &names, "eth1"));
    let mut m = HopMatcher::new(Limits::default()).with_point_names(names.clone());
    for i in 0..200u32 {
        let t = i64::from(i) * 10_000_000;
        let p = pkt(7, i, 300 + (i * 37) % 900);
        m.on_rtp(t, &a, &p);
        if i != 100 {
            m.on_rtp(t + 300_000, &b, &p);
        }
    }
    m.finish(3_000_000_000);
    let mut r = Vec::new();
    ended(&mut m, &mut r);
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!(
        (
            r[0].ingress.observed_at.as_str(),
            r[0].egress.observed_at.as_str()
        ),
        ("eth0", "eth1")
    );
    assert_eq!(r[0].matched_by, MatchedBy::Ssrc);
    assert_eq!((r[0].ingress_key, r[0].egress_key), (a, b));
    assert_eq!(
        (r[0].packets_in, r[0].packets_out, r[0].lost_inside),
        (200, 199, 1)
    );
    assert_eq!(r[0].forwarding_delay.unwrap().p50, 0.0003);
}

#[test]
fn a_flood_of_unmatched_streams_does_not_grow_memory() {
    let names = crate::engine::PointNames::new("capture");
    let limits = Limits {
        max_streams: 64,
        max_hops: 16,
    };
    let mut m = HopMatcher::new(limits);
    let mut peak = (0, 0);
    for s in 0..20_000u32 {
        let k = key(
            (s % 60_000) as u16,
            s.wrapping_mul(2_654_435_761),
            &names,
            "eth0",
        );
        for i in 0..6u32 {
            let t = i64::from(s) * 1_000_000 + i64::from(i);
            m.on_rtp(t, &k, &pkt(k.ssrc, s ^ i, 100 + (s * 7 + i * 13) % 1000));
        }
        peak = (peak.0.max(m.slot_capacity()), peak.1.max(m.index_len()));
    }
    assert!(m.stream_count() <= 64 && peak.0 <= 64, "{peak:?}");
    assert!(peak.1 <= 64 + 2 * 64 + 1, "{peak:?}");
    assert_eq!(m.counters().streams_evicted, 20_000 - 64);
    assert!(m.counters().index_resets > 0);
    m.finish(i64::MAX);
    assert!(m.report().is_empty());
}
