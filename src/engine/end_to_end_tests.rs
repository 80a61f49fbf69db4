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
