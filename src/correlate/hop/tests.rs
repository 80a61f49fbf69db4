//! The matcher against the synthetic hop scenarios' exact truth (`synth::hop`).

use super::*;
use crate::synth::hop::{self, HopScenario, HopTruth, HopsTruth};
use crate::wire::{decode_udp, LinkType};

/// Feed a scenario's capture through the matcher, as replay does.
fn run(s: &HopScenario) -> (HopMatcher, Vec<HopRecord>, HopsTruth) {
    let (cap, truth) = s.build();
    let mut m = HopMatcher::new(Limits::default());
    let mut last = 0;
    for f in &cap.frames {
        let dg = decode_udp(LinkType::Ethernet, &f.bytes).unwrap();
        if let Some((k, p)) = summarize(&dg) {
            m.on_rtp(f.ts_ns, &k, &p);
        }
        last = f.ts_ns;
    }
    m.finish(last);
    let r = m.report();
    (m, r, truth)
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
