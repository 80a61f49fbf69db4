//! Interval cuts on packet timestamps (docs/records.md): an interval holds exactly the packets
//! captured in [start, end), whenever the caller drains it.

use super::Engine;
use crate::config::Resolved;
use crate::wire::Datagram;
use std::net::SocketAddr;

const S: i64 = 1_000_000_000;
/// A boundary of the 10 s grid.
const B: i64 = 1_700_000_010 * S;

fn send(e: &mut Engine, now: i64, seq: u16) {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    let src: SocketAddr = "10.0.0.1:4000".parse().expect("addr");
    let dst: SocketAddr = "10.0.0.2:5000".parse().expect("addr");
    let dg = Datagram {
        src,
        dst,
        payload: &p,
        wire_len: p.len(),
        vlan: None,
    };
    e.on_datagram(now, &dg);
}

fn packets(e: &mut Engine) -> Vec<(i64, u64)> {
    e.drain_cuts()
        .into_iter()
        .map(|c| (c.end_ns, c.streams.iter().map(|(_, s)| s.packets).sum()))
        .collect()
}

#[test]
fn a_packet_at_the_boundary_belongs_to_the_next_interval() {
    let mut e = Engine::new(Resolved::default());
    e.set_interval(10 * S);
    for i in 0..10u16 {
        send(&mut e, B - S + i64::from(i) * 20_000_000, i);
    }
    send(&mut e, B - 1, 10);
    assert!(packets(&mut e).is_empty(), "not yet at the boundary");
    send(&mut e, B, 11);
    assert_eq!(
        packets(&mut e),
        [(B, 11)],
        "boundary − 1 ns in, boundary out"
    );
    send(&mut e, B + 1, 12);
    assert!(packets(&mut e).is_empty());
    // A gap of several intervals: one cut, at the first boundary after the packets.
    send(&mut e, B + 35 * S, 13);
    assert_eq!(packets(&mut e), [(B + 10 * S, 13)]);
    // The end of the capture closes the open interval at its boundary.
    e.finish_all();
    assert_eq!(packets(&mut e), [(B + 40 * S, 14)]);
}

#[test]
fn without_an_interval_nothing_is_cut() {
    let mut e = Engine::new(Resolved::default());
    for i in 0..10u16 {
        send(&mut e, B - S + i64::from(i) * 200_000_000, i);
    }
    e.finish_all();
    assert!(e.drain_cuts().is_empty());
}

#[test]
fn capture_times_at_the_ends_of_i64_do_not_overflow() {
    // libpcap saturates impossible timestamps; hostile files may carry anything.
    let mut e = Engine::new(Resolved::default());
    e.set_interval(10 * S);
    for (i, t) in [i64::MIN, i64::MIN + 1, 0, B, i64::MAX - 1, i64::MAX, B]
        .into_iter()
        .enumerate()
    {
        send(&mut e, t, i as u16);
        e.expire(t);
    }
    e.finish_all();
    // Boundaries saturate at the ends of the range; still at most one cut per event.
    let cuts = e.drain_cuts();
    assert!(!cuts.is_empty() && cuts.len() <= 8, "{}", cuts.len());
}
