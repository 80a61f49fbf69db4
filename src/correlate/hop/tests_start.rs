//! A hop's first packets: reordered, lost upstream or inside the box before and around the
//! pairing moment, on SSRC and fingerprint pairs. Every ingress packet in the hop's range is
//! counted once in `packets_in` and every egress copy once in `packets_out` (issue 10: the
//! media lab's forwarding caller video and sfu_janus hops were one short on both).

use super::tests::ended;
use super::*;
use crate::engine::{PointNames, StreamKey};
use std::net::SocketAddr;

/// How the box forwards in [`hop`].
#[derive(Clone, Copy)]
enum Middlebox {
    /// A forwarding host seen at two observation points: same 5-tuple and SSRC.
    Router,
    /// An SFU rewriting SSRC, sequence numbers and timestamps (each shifted by a constant,
    /// gaps kept, as janus does), sending to another host.
    Sfu,
}

fn at(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

/// One hop: the ingress packets `first` (3.5 ms apart, in that order), then the rest up to
/// `n` (10 ms apart; numbers missing from `first` below its highest are lost upstream), each
/// forwarded 6 ms later unless `dropped` (lost inside the box). The hop's (packets in, out,
/// lost inside, lost upstream) and how it was matched.
fn hop(
    how: Middlebox,
    first: &[u32],
    n: u32,
    dropped: fn(u32) -> bool,
) -> ((u64, u64, u64, u64), MatchedBy) {
    hop_held(how, first, n, dropped, |_| 0)
}

/// [`hop`], each packet `i` held `held(i)` ns more inside the box (the box reorders).
fn hop_held(
    how: Middlebox,
    first: &[u32],
    n: u32,
    dropped: fn(u32) -> bool,
    held: fn(u32) -> i64,
) -> ((u64, u64, u64, u64), MatchedBy) {
    let names = PointNames::shared("capture");
    let a = StreamKey {
        src: at([10, 0, 0, 1], 5000),
        dst: at([10, 0, 0, 2], 9),
        ssrc: 7,
        point: names.intern("eth0"),
    };
    let b = match how {
        Middlebox::Router => StreamKey {
            point: names.intern("eth1"),
            ..a
        },
        Middlebox::Sfu => StreamKey {
            src: at([10, 0, 0, 2], 7000),
            dst: at([10, 0, 0, 3], 9),
            ssrc: 99,
            point: names.intern("eth0"),
        },
    };
    let mut m = HopMatcher::new(Limits::default()).with_point_names(names.clone());
    let rest = first.iter().max().map_or(0, |x| x + 1)..n;
    let mut ev = Vec::new();
    let mut t = 0;
    for (k, i) in first.iter().copied().chain(rest).enumerate() {
        let p = RtpSummary {
            ssrc: 7,
            seq: (24_000 + i) as u16,
            ts: i * 3000,
            pt: 96,
            marker: i % 3 == 0,
            payload_len: 300 + (i * 37) % 900,
        };
        ev.push((t, a, p));
        if !dropped(i) {
            let c = match how {
                Middlebox::Router => p,
                Middlebox::Sfu => RtpSummary {
                    ssrc: 99,
                    seq: p.seq.wrapping_add(5000),
                    ts: p.ts.wrapping_add(12_345),
                    ..p
                },
            };
            ev.push((t + 6_000_000 + held(i), b, c));
        }
        t += if k < first.len() {
            3_500_000
        } else {
            10_000_000
        };
    }
    ev.sort_by_key(|e| e.0);
    for (t, k, p) in &ev {
        m.on_rtp(*t, k, p);
    }
    m.finish(t + 1_000_000_000);
    let mut r = Vec::new();
    ended(&mut m, &mut r);
    assert_eq!(r.len(), 1, "{r:#?}");
    assert_eq!((r[0].ingress_key, r[0].egress_key), (a, b));
    assert_eq!((r[0].evicted, r[0].late, r[0].duplicates_out), (0, 0, 0));
    let h = &r[0];
    (
        (h.packets_in, h.packets_out, h.lost_inside, h.lost_upstream),
        h.matched_by,
    )
}

fn none(_: u32) -> bool {
    false
}

#[test]
fn a_packet_overtaken_at_the_hops_start_is_counted_in_and_out() {
    for (how, by) in [
        (Middlebox::Router, MatchedBy::Ssrc),
        (Middlebox::Sfu, MatchedBy::Fingerprint),
    ] {
        assert_eq!(hop(how, &[1, 0], 100, none), ((100, 100, 0, 0), by));
        assert_eq!(hop(how, &[2, 0, 1], 100, none), ((100, 100, 0, 0), by));
        // The lab's case (forwarding, caller video): 1 overtaken by 2, 7 lost upstream, so
        // that the first eight arrivals span nine sequence numbers.
        // Overtaken by the 12 after it: it arrives after the hop is paired, below its range.
        let late = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0];
        assert_eq!(hop(how, &late, 100, none), ((100, 100, 0, 0), by));
        let lab = [2, 1, 3, 4, 5, 6, 8, 9, 10];
        assert_eq!(hop(how, &lab, 100, none), ((98, 98, 0, 1), by));
        let wide = [1, 0, 2, 3, 4, 5, 6, 15];
        assert_eq!(hop(how, &wide, 100, none), ((92, 92, 0, 8), by));
    }
}

#[test]
fn packets_lost_inside_around_the_pairing_window_are_counted() {
    for (how, by) in [
        (Middlebox::Router, MatchedBy::Ssrc),
        (Middlebox::Sfu, MatchedBy::Fingerprint),
    ] {
        // Reordered, lost upstream (9) and lost inside (4, 12) among the first packets.
        let first = [1, 0, 3, 2, 4, 5, 6, 7, 8, 10, 11, 12];
        let lost = |i| i == 4 || i == 12;
        assert_eq!(hop(how, &first, 100, lost), ((99, 97, 2, 1), by));
    }
}

#[test]
fn copies_before_a_late_pairing_are_counted() {
    // Every third packet of the first 80 lost inside the SFU: no four egress packets in a
    // row have the ingress's timestamp steps, so the fingerprint pairs only after packet 80,
    // when more egress packets have arrived than the pairing window holds.
    let lost = |i| i < 80 && i % 3 == 1;
    assert_eq!(
        hop(Middlebox::Sfu, &[], 120, lost),
        ((120, 93, 27, 0), MatchedBy::Fingerprint)
    );
    assert_eq!(
        hop(Middlebox::Router, &[], 120, lost),
        ((120, 93, 27, 0), MatchedBy::Ssrc)
    );
}

#[test]
fn copies_reordered_by_the_box_around_the_pairing_are_counted() {
    let first: Vec<u32> = (0..40).collect();
    for (how, by) in [
        (Middlebox::Router, MatchedBy::Ssrc),
        (Middlebox::Sfu, MatchedBy::Fingerprint),
    ] {
        // The first copy overtaken by the next two; around the pairing (the eighth copy), one
        // held past the next four, and one lost inside the box held past the hop's start.
        let held = |i| match i {
            0 => 8_000_000,
            7 => 16_000_000,
            _ => 0,
        };
        assert_eq!(
            hop_held(how, &first, 100, none, held),
            ((100, 100, 0, 0), by)
        );
        let lost = |i| i == 0 || i == 9;
        assert_eq!(hop_held(how, &first, 100, lost, held), ((99, 98, 1, 0), by));
    }
}
