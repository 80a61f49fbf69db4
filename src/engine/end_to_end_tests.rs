//! `end_to_end` through a middlebox (docs/output.md, "Round trips through a middlebox"):
//! synthetic calls captured on the middlebox ([`crate::synth::middlebox`]) with known, different
//! one-way delays on the two legs, through a relay that forwards RTCP unchanged and through an
//! SFU that terminates it, on one or two middlebox addresses. Every leg of both directions must
//! give the true round trip between the endpoints, never one leg twice.

use super::record::StreamRecord;
use super::Engine;
use crate::config::Resolved;
use crate::synth::middlebox::{Call, Kind};
use crate::synth::scenario::MS;
use crate::wire::{decode_udp, LinkType};

/// Tolerance: the generator's timing is exact to the ns; this only absorbs ns → ms rounding.
const TOL_MS: f64 = 1e-6;

fn replay(call: &Call) -> Vec<StreamRecord> {
    let mut e = Engine::new(Resolved::default());
    for f in call.build().frames {
        let dg = decode_udp(LinkType::Ethernet, &f.bytes).expect("synthetic frames decode");
        e.on_datagram(f.ts_ns, &dg);
    }
    e.finish_all();
    e.drain_finished().into_iter().map(|(_, r)| r).collect()
}

fn assert_every_leg_gives_the_true_round_trip(call: &Call) {
    let recs = replay(call);
    assert_eq!(recs.len(), 4, "{:?}: four legs", call.kind);
    let want = call.true_rtt_ns() as f64 / 1e6;
    for r in &recs {
        let e2e = r
            .rtt_ms
            .get("end_to_end")
            .unwrap_or_else(|| panic!("{:?} {} → {}: no end_to_end", call.kind, r.src, r.dst));
        for (what, got) in [("last", e2e.last), ("min", e2e.min), ("max", e2e.max)] {
            assert!(
                (got - want).abs() < TOL_MS,
                "{:?} {} → {} ssrc {:x}: end_to_end {what} {got} ms, true {want} ms",
                call.kind,
                r.src,
                r.dst,
                r.ssrc
            );
        }
    }
}

#[test]
fn a_relay_forwarding_rtcp_unchanged_does_not_count_a_leg_twice() {
    let call = Call::relay();
    assert_every_leg_gives_the_true_round_trip(&call);
    // The forwarded copy of B's report measures B's leg through the relay; the probe's own
    // leg to B is the copy seen first.
    let recs = replay(&call);
    let cp = |dst: std::net::SocketAddr, ssrc: u32| {
        let r = recs
            .iter()
            .find(|r| r.dst == dst.to_string() && r.ssrc == ssrc)
            .expect("leg");
        r.rtt_ms["capture_point"].last
    };
    let ob = call.owd_b_ns as f64 / 1e6;
    let f = call.forward_ns as f64 / 1e6;
    assert!((cp(call.b, call.ssrc_a) - 2.0 * ob).abs() < TOL_MS);
    assert!((cp(call.m_a, call.ssrc_a) - (2.0 * ob + 2.0 * f)).abs() < TOL_MS);
}

#[test]
fn a_relay_on_two_addresses_gives_the_true_round_trip() {
    let mut call = Call::relay();
    call.m_b = "10.2.0.100:30002".parse().expect("addr");
    call.owd_a_ns = 61 * MS;
    assert_every_leg_gives_the_true_round_trip(&call);
}

#[test]
fn an_sfu_terminating_rtcp_adds_the_leg_to_the_sender() {
    // Dual stack: IPv4 towards A, IPv6 towards B; no address links the legs.
    let call = Call::sfu();
    assert_eq!(call.kind, Kind::Sfu);
    assert_every_leg_gives_the_true_round_trip(&call);
    // And on one address.
    let mut one = Call::sfu();
    one.m_b = "10.1.0.100:30002".parse().expect("addr");
    one.b = "10.2.0.2:6000".parse().expect("addr");
    assert_every_leg_gives_the_true_round_trip(&one);
}

#[test]
fn another_call_with_the_same_ssrcs_is_not_taken_for_a_leg() {
    // A relayed call and a call through an SFU whose endpoints picked the same SSRCs
    // (RFC 3550 §8.1 collisions between calls): each keeps its own round trip.
    let one = Call::relay();
    let mut two = Call::sfu();
    two.a = "10.3.0.1:4000".parse().expect("addr");
    two.m_a = "10.3.0.100:30000".parse().expect("addr");
    two.m_b = "10.3.0.100:30002".parse().expect("addr");
    two.b = "10.4.0.2:6000".parse().expect("addr");
    two.owd_a_ns = 5 * MS;
    two.owd_b_ns = 70 * MS;
    let mut frames = one.build().frames;
    frames.extend(two.build().frames);
    frames.sort_by_key(|f| f.ts_ns);
    let mut e = Engine::new(Resolved::default());
    for f in frames {
        let dg = decode_udp(LinkType::Ethernet, &f.bytes).expect("synthetic frames decode");
        e.on_datagram(f.ts_ns, &dg);
    }
    e.finish_all();
    let recs: Vec<StreamRecord> = e.drain_finished().into_iter().map(|(_, r)| r).collect();
    assert_eq!(recs.len(), 8);
    for r in &recs {
        let call = if r.src.starts_with("10.1.") || r.src.starts_with("10.2.") {
            &one
        } else {
            &two
        };
        let want = call.true_rtt_ns() as f64 / 1e6;
        let got = r.rtt_ms["end_to_end"];
        assert!(
            (got.min - want).abs() < TOL_MS && (got.max - want).abs() < TOL_MS,
            "{} → {}: {got:?}, true {want} ms",
            r.src,
            r.dst
        );
    }
}

/// One SR of `ssrc` sent `src` → `dst` at `t`, answered by `reporter` `rtt_ms` later (DLSR 0).
fn exchange(e: &mut Engine, t: i64, src: &str, dst: &str, ssrc: u32, reporter: u32, rtt_ms: i64) {
    use crate::synth::rtcp::{ntp_from_unix_ns, ntp_mid32, rr, sr, ReportBlock, SenderInfo};
    let (s, d) = (src.parse().expect("addr"), dst.parse().expect("addr"));
    let ntp = ntp_from_unix_ns(t);
    let info = SenderInfo {
        ntp,
        ..SenderInfo::default()
    };
    let blk = ReportBlock {
        ssrc,
        lsr: ntp_mid32(ntp),
        ..ReportBlock::default()
    };
    for (at, from, to, bytes) in [
        (t, s, d, sr(ssrc, &info, &[])),
        (t + rtt_ms * MS, d, s, rr(reporter, &[blk])),
    ] {
        let dg = crate::wire::Datagram {
            src: from,
            dst: to,
            payload: &bytes,
            wire_len: bytes.len(),
            vlan: None,
        };
        e.on_datagram(at, &dg);
    }
}

#[test]
fn an_sfu_fanning_out_pairs_each_egress_leg_with_the_ingress_leg() {
    use crate::synth::rtp::{rtp_packet, RtpHeader};
    // SFU S on one address forwards A's SSRC 0xA to B and to C, and sends A a stream 0x1D.
    let (a, s_a, s_b, s_c) = (
        "10.0.0.1:4000",
        "10.0.0.100:5000",
        "10.0.0.100:5002",
        "10.0.0.100:5004",
    );
    let (b, c) = ("10.0.0.2:6000", "10.0.0.3:7000");
    let media = [
        (a, s_a, 0xA),
        (s_b, b, 0xA),
        (s_c, c, 0xA),
        (s_a, a, 0x1D),
        (b, s_b, 0xB),
        (c, s_c, 0xC),
    ];
    let t0 = crate::synth::scenario::EPOCH_NS;
    let mut e = Engine::new(Resolved::default());
    for i in 0..5u16 {
        for (src, dst, ssrc) in media {
            let h = RtpHeader {
                seq: i,
                timestamp: 160 * u32::from(i),
                ssrc,
                ..RtpHeader::default()
            };
            let p = rtp_packet(&h, &[0; 160]);
            let dg = crate::wire::Datagram {
                src: src.parse().expect("addr"),
                dst: dst.parse().expect("addr"),
                payload: &p,
                wire_len: p.len(),
                vlan: None,
            };
            e.on_datagram(t0 + i64::from(i) * 20 * MS, &dg);
        }
    }
    for round in 0..2 {
        let t = t0 + (1 + round) * 1_000 * MS;
        exchange(&mut e, t, a, s_a, 0xA, 0x5F01, 1); // S answers A
        exchange(&mut e, t + 10 * MS, s_a, a, 0x1D, 0xA, 30); // A's leg: 30 ms
        exchange(&mut e, t + 100 * MS, b, s_b, 0xB, 0x5F02, 1); // S answers B
        exchange(&mut e, t + 110 * MS, c, s_c, 0xC, 0x5F03, 1); // S answers C
        exchange(&mut e, t + 200 * MS, s_c, c, 0xA, 0xC, 50); // C's leg: 50 ms
        exchange(&mut e, t + 300 * MS, s_b, b, 0xA, 0xB, 70); // B's leg: 70 ms
    }
    e.finish_all();
    let recs: Vec<StreamRecord> = e.drain_finished().into_iter().map(|(_, r)| r).collect();
    let e2e = |dst: &str| {
        recs.iter()
            .find(|r| r.dst == dst && r.ssrc == 0xA)
            .and_then(|r| r.rtt_ms.get("end_to_end").copied())
    };
    // A ↔ S (30 + 1) plus S ↔ receiver (70 + 1, 50 + 1), every sample.
    let to_b = e2e(b).expect("egress to B");
    assert!(
        (to_b.min - 102.0).abs() < TOL_MS && (to_b.max - 102.0).abs() < TOL_MS,
        "{to_b:?}"
    );
    let to_c = e2e(c).expect("egress to C");
    assert!(
        (to_c.min - 82.0).abs() < TOL_MS && (to_c.max - 82.0).abs() < TOL_MS,
        "{to_c:?}"
    );
    // The ingress leg reaches two receivers: no single end-to-end round trip.
    assert!(e2e(s_a).is_none());
}

/// The records of a call captured on both interfaces of M (side 0 at `v1`, side 1 at `v2`),
/// through `count` shards fed as the pipeline feeds them (RTP to its SSRC's owner, RTCP to
/// every shard owning an SSRC it mentions).
fn replay_sides(call: &Call, count: u32) -> Vec<StreamRecord> {
    use super::shard::{self, Shard};
    let names = super::obs::PointNames::shared("capture");
    let points = [names.intern("v1"), names.intern("v2")];
    let frames = call.build_sides();
    let mut recs = Vec::new();
    for index in 0..count {
        let mut e = Engine::with_shard(Resolved::default(), Shard { index, count });
        e.set_point_names(names.clone());
        for (side, f) in &frames {
            let dg = decode_udp(LinkType::Ethernet, &f.bytes).expect("synthetic frames decode");
            let mine = match f.kind {
                crate::synth::FrameKind::Rtp { .. } => {
                    let ssrc = dg.payload.get(8..12).expect("RTP header");
                    let ssrc = u32::from_be_bytes(ssrc.try_into().expect("4 bytes"));
                    Shard::of(count, ssrc) == index
                }
                _ => shard::rtcp_shards(dg.payload, true, count) & (1 << index) != 0,
            };
            if mine {
                e.set_point(points[usize::from(*side)]);
                e.on_datagram(f.ts_ns, &dg);
            }
        }
        e.finish_all();
        recs.extend(e.drain_finished().into_iter().map(|(_, r)| r));
    }
    recs
}

#[test]
fn a_forwarding_host_seen_on_both_interfaces_gives_the_true_round_trip_at_each() {
    // Every RTP and RTCP packet is seen twice, same 5-tuple, on the interface facing its
    // sender and `forward_ns` later on the one facing its receiver. Each copy of a stream is
    // a stream of its own (observed_at v1 / v2) and each must give the true round trip.
    let call = Call::forwarding();
    for count in [2, 3] {
        // The two SSRCs are owned by different shards: the foreign tables pair them.
        let recs = replay_sides(&call, count);
        assert_eq!(recs.len(), 4, "{count} shards: each SSRC at each interface");
        let want = call.true_rtt_ns() as f64 / 1e6;
        for r in &recs {
            let got = r.rtt_ms.get("end_to_end").expect("end_to_end");
            assert!(
                (got.min - want).abs() < TOL_MS && (got.max - want).abs() < TOL_MS,
                "{count} shards, {} ssrc {:x}: {got:?}, true {want} ms",
                r.observed_at,
                r.ssrc
            );
        }
    }
    let recs = replay_sides(&call, 1);
    assert_eq!(recs.len(), 4, "each SSRC at each interface");
    let want = call.true_rtt_ns() as f64 / 1e6;
    for r in &recs {
        let e2e = r
            .rtt_ms
            .get("end_to_end")
            .unwrap_or_else(|| panic!("{} {} → {}: no end_to_end", r.observed_at, r.src, r.dst));
        for (what, got) in [("last", e2e.last), ("min", e2e.min), ("max", e2e.max)] {
            assert!(
                (got - want).abs() < TOL_MS,
                "{} {} → {} ssrc {:x}: end_to_end {what} {got} ms, true {want} ms",
                r.observed_at,
                r.src,
                r.dst,
                r.ssrc
            );
        }
    }
    // capture_point is the round trip from where each copy was seen: across the router for
    // the copy on the sender's side, not for the one on the receiver's side.
    let cp = |at: &str, ssrc: u32| {
        let r = recs
            .iter()
            .find(|r| r.observed_at == at && r.ssrc == ssrc)
            .expect("stream");
        r.rtt_ms["capture_point"].last
    };
    let (oa, ob, f) = (
        call.owd_a_ns as f64 / 1e6,
        call.owd_b_ns as f64 / 1e6,
        call.forward_ns as f64 / 1e6,
    );
    assert!((cp("v2", call.ssrc_a) - 2.0 * ob).abs() < TOL_MS);
    assert!((cp("v1", call.ssrc_a) - (2.0 * ob + 2.0 * f)).abs() < TOL_MS);
    assert!((cp("v1", call.ssrc_b) - 2.0 * oa).abs() < TOL_MS);
    assert!((cp("v2", call.ssrc_b) - (2.0 * oa + 2.0 * f)).abs() < TOL_MS);
}
