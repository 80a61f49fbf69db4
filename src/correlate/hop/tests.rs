//! The matcher against the synthetic hop scenarios' exact truth (`synth::hop`).

use super::*;
use crate::engine::PointNames;
use crate::synth::hop::{self, HopScenario, HopTruth, HopsTruth};
use crate::wire::{decode_udp, LinkType};

/// The hops `m` handed out so far, in the order they ended.
pub(super) fn ended(m: &mut HopMatcher, into: &mut Vec<HopRecord>) {
    let mut last = into.len() as u64;
    for d in m.drain() {
        if let Done::Hop { seq, hop, .. } = d {
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

/// A key from `src` to `dst` (`[a, b, c, d, port]`) seen at `at`.
fn key_at(src: [u16; 5], dst: [u16; 5], ssrc: u32, names: &PointNames, at: &str) -> StreamKey {
    let addr = |a: [u16; 5]| {
        let ip = std::net::Ipv4Addr::new(a[0] as u8, a[1] as u8, a[2] as u8, a[3] as u8);
        std::net::SocketAddr::from((ip, a[4]))
    };
    StreamKey {
        src: addr(src),
        dst: addr(dst),
        ssrc,
        point: names.intern(at),
    }
}

/// Both ends of a call through a forwarding host seen on two interfaces, the same test video
/// each way (same sizes, markers and timestamp steps), senders sending from another port than
/// they receive on; B starts 0.5 s after A and its copy leaves `b_delay_ns` after it arrives.
/// The hops that ended and the matcher.
fn two_identical_videos_through_a_router(b_delay_ns: i64) -> (HopMatcher, Vec<HopRecord>) {
    let names = PointNames::shared("capture");
    let (a, b) = ([10, 1, 0, 1], [10, 2, 0, 1]);
    let at = |ip: [u16; 4], port| [ip[0], ip[1], ip[2], ip[3], port];
    let a_in = key_at(at(a, 5000), at(b, 6002), 0xA, &names, "eth0");
    let a_out = key_at(at(a, 5000), at(b, 6002), 0xA, &names, "eth1");
    let b_in = key_at(at(b, 6000), at(a, 5002), 0xB, &names, "eth1");
    let b_out = key_at(at(b, 6000), at(a, 5002), 0xB, &names, "eth0");
    let mut m = HopMatcher::new(Limits::default()).with_point_names(names);
    let mut frames = Vec::new();
    for i in 0..300u32 {
        let t = i64::from(i) * 10_000_000;
        let size = 300 + (i * 37) % 900;
        frames.push((t, a_in, pkt(0xA, i, size)));
        frames.push((t + 300_000, a_out, pkt(0xA, i, size)));
        frames.push((t + 500_000_000, b_in, pkt(0xB, i, size)));
        frames.push((t + 500_000_000 + b_delay_ns, b_out, pkt(0xB, i, size)));
    }
    frames.sort_by_key(|f| f.0);
    let mut got = Vec::new();
    let mut last = 0;
    for (t, k, p) in &frames {
        m.on_rtp(*t, k, p);
        ended(&mut m, &mut got);
        last = *t;
    }
    m.finish(last);
    ended(&mut m, &mut got);
    let mut pairs: Vec<_> = got.iter().map(|h| (h.ingress_key, h.egress_key)).collect();
    pairs.sort_by_key(|p| p.0.ssrc);
    assert_eq!(pairs, vec![(a_in, a_out), (b_in, b_out)], "{got:#?}");
    for h in &got {
        assert_eq!(h.matched_by, MatchedBy::Ssrc);
    }
    (m, got)
}

#[test]
fn a_stream_copied_by_ssrc_is_never_an_egress_by_fingerprint() {
    // The copy leaves 0.3 ms later: B's ingress has its SSRC twin before it could pair.
    let (m, got) = two_identical_videos_through_a_router(300_000);
    assert_eq!(m.counters().fingerprint_undone, 0);
    let b = got.iter().find(|h| h.ingress.ssrc == 0xB).unwrap();
    assert_eq!((b.packets_in, b.packets_out, b.lost_inside), (300, 300, 0));
    // The copy leaves 100 ms later (ten packets): B's ingress is first taken by fingerprint
    // as a copy of A's, undone (not reported) when its SSRC twin appears; the twin then pairs
    // with it by SSRC.
    let (m, got) = two_identical_videos_through_a_router(100_000_000);
    assert_eq!(m.counters().fingerprint_undone, 1);
    let b = got.iter().find(|h| h.ingress.ssrc == 0xB).unwrap();
    assert_eq!((b.lost_inside, b.lost_upstream), (0, 0), "{b:#?}");
    assert!(b.packets_out >= 250, "{b:#?}");
}

#[test]
fn a_fingerprint_egress_never_goes_to_its_ingress_destination_ip() {
    // A relay (10.77.0.1) receives the same test video from A and, 0.5 s later, from B, on
    // two ports; it forwards A's to B with a new SSRC, sequence and timestamp base. B's
    // ingress also looks like a copy of A's (same sizes, markers, steps, later) but goes to
    // the same IP as A's: no hop.
    let names = PointNames::shared("capture");
    let r = |port| [10, 77, 0, 1, port];
    let a_in = key_at([10, 1, 0, 1, 5000], r(30000), 0xA, &names, "capture");
    let b_in = key_at([10, 2, 0, 1, 6000], r(30004), 0xB, &names, "capture");
    let a_out = key_at(r(30002), [10, 2, 0, 1, 6002], 0x5EED, &names, "capture");
    let mut m = HopMatcher::new(Limits::default()).with_point_names(names);
    let mut frames = Vec::new();
    for i in 0..300u32 {
        let t = i64::from(i) * 10_000_000;
        let size = 300 + (i * 37) % 900;
        frames.push((t, a_in, pkt(0xA, i, size)));
        let mut copy = pkt(0x5EED, i, size);
        copy.seq = copy.seq.wrapping_add(1000);
        copy.ts = copy.ts.wrapping_add(777);
        frames.push((t + 5_000_000, a_out, copy));
        frames.push((t + 500_000_000, b_in, pkt(0xB, i, size)));
    }
    frames.sort_by_key(|f| f.0);
    let mut got = Vec::new();
    let mut last = 0;
    for (t, k, p) in &frames {
        m.on_rtp(*t, k, p);
        ended(&mut m, &mut got);
        last = *t;
    }
    m.finish(last);
    ended(&mut m, &mut got);
    let pairs: Vec<_> = got.iter().map(|h| (h.ingress_key, h.egress_key)).collect();
    assert_eq!(pairs, vec![(a_in, a_out)], "{got:#?}");
    assert_eq!(got[0].matched_by, MatchedBy::Fingerprint);
    assert_eq!((got[0].packets_in, got[0].packets_out), (300, 300));
}

#[test]
fn a_forwarded_packet_touches_the_first_three_lines_of_its_hop() {
    use std::mem::offset_of;
    // What forward and retire write per packet: the first line; the histogram's own fields
    // and the jitter: the second; the rest of a forwarded packet's fields: the third.
    assert_eq!(std::mem::align_of::<Hop>(), 64);
    assert!(offset_of!(Hop, packets_in) + 8 <= 64);
    assert_eq!(offset_of!(Hop, delays), 64);
    assert!(offset_of!(Hop, jitter_ns) + 8 <= 128);
    assert!(offset_of!(Hop, late) + 8 <= 192);
}

#[test]
fn a_lookup_and_a_paired_packet_touch_the_first_two_lines_of_a_slot() {
    use std::mem::{offset_of, size_of};
    let state = offset_of!(Slot, state);
    assert_eq!(std::mem::align_of::<Slot>(), 64);
    assert!(state + offset_of!(StreamState, in_hop) + 8 <= 64);
    assert!(state + offset_of!(StreamState, key) + size_of::<StreamKey>() <= 128);
}
