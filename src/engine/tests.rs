//! Engine tests on hand-built datagrams with a simulated clock (capture times are arguments).

use super::record::StreamRecord;
use super::*;
use crate::config::Resolved;
use crate::wire::Datagram;

const T0: i64 = 1_700_000_000_000_000_000;
const MS: i64 = 1_000_000;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn dg<'a>(src: &str, dst: &str, payload: &'a [u8]) -> Datagram<'a> {
    Datagram {
        src: sa(src),
        dst: sa(dst),
        payload,
        wire_len: payload.len(),
        vlan: None,
    }
}

/// RTP: V=2, PT, seq, ts, SSRC, 20 payload bytes.
fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xd5; 20]);
    p
}

/// A report block: SSRC, fraction, cumulative lost (24 bits), ext highest seq, jitter, LSR, DLSR.
fn block(ssrc: u32, fraction: u8, cum: i32, ext: u32, jitter: u32, lsr: u32, dlsr: u32) -> Vec<u8> {
    let mut b = ssrc.to_be_bytes().to_vec();
    b.push(fraction);
    b.extend_from_slice(&cum.to_be_bytes()[1..]);
    for v in [ext, jitter, lsr, dlsr] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b
}

/// SR (PT=200) from `ssrc` with NTP timestamp and report blocks.
fn sr(ssrc: u32, ntp: u64, blocks: &[Vec<u8>]) -> Vec<u8> {
    let words = (28 + 24 * blocks.len()) / 4;
    let mut p = vec![0x80 | blocks.len() as u8, 200];
    p.extend_from_slice(&((words - 1) as u16).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&ntp.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0x06, 0x40]); // RTP ts, 10 pkts, 1600 B
    for b in blocks {
        p.extend_from_slice(b);
    }
    p
}

/// RR (PT=201) from `ssrc` with report blocks.
fn rr(ssrc: u32, blocks: &[Vec<u8>]) -> Vec<u8> {
    let mut p = vec![0x80 | blocks.len() as u8, 201];
    p.extend_from_slice(&((1 + 6 * blocks.len()) as u16).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    for b in blocks {
        p.extend_from_slice(b);
    }
    p
}

fn bye(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, 203, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

fn records(mut e: Engine) -> Vec<StreamRecord> {
    e.finish_all();
    let mut r = e.drain_finished();
    r.sort_by_key(|(o, _)| *o);
    r.into_iter().map(|(_, r)| r).collect()
}

/// Send `n` PCMU packets 20 ms apart on A → B starting at seq `seq0`, skipping `skip`.
fn send(e: &mut Engine, n: u16, seq0: u16, skip: &[u16]) {
    for i in 0..n {
        if skip.contains(&i) {
            continue;
        }
        let p = rtp(0, seq0.wrapping_add(i), 160 * u32::from(i), 0xA);
        e.on_datagram(
            T0 + i64::from(i) * 20 * MS,
            &dg("10.0.0.1:4000", "10.0.0.2:5000", &p),
        );
    }
}

/// Ten PCMU packets each way between A (SSRC 0xA) and B (SSRC 0xB), rtcp-mux.
fn both_ways(e: &mut Engine) {
    for i in 0..10u16 {
        let t = T0 + i64::from(i) * 20 * MS;
        let (a, b) = ("10.0.0.1:4000", "10.0.0.2:5000");
        e.on_datagram(t, &dg(a, b, &rtp(0, i, 160 * u32::from(i), 0xA)));
        e.on_datagram(t, &dg(b, a, &rtp(0, i, 160 * u32::from(i), 0xB)));
    }
}

#[test]
fn one_packet_is_not_a_stream() {
    let mut e = Engine::new(Resolved::default());
    let p = rtp(0, 1, 0, 0x1);
    e.on_datagram(T0, &dg("10.0.0.1:1", "10.0.0.2:2", &p));
    let c = e.counters().clone();
    assert!(records(e).is_empty());
    assert_eq!(c.rtp_packets, 1);
}

#[test]
fn clean_stream_with_loss_and_wrap() {
    let mut e = Engine::new(Resolved::default());
    send(&mut e, 100, 65_500, &[40, 41, 77]);
    let r = records(e);
    assert_eq!(r.len(), 1);
    let s = &r[0];
    assert_eq!((s.packets, s.expected, s.lost), (97, 100, 3));
    assert_eq!(s.clock_rate, Some(8000));
    assert_eq!(s.clock_rate_source, Some("static"));
    assert_eq!(s.ended_by, "end_of_capture");
    // Perfect pacing: no jitter at all.
    assert_eq!(s.jitter_ms, Some(0.0));
    assert!((s.max_gap_ms - 60.0).abs() < 1e-9);
    assert_eq!(s.src, "10.0.0.1:4000");
    assert!(s.remote.is_none() && s.loss_upstream.is_none());
}

#[test]
fn capture_point_rtt_and_downstream_loss() {
    let mut e = Engine::new(Resolved::default());
    send(&mut e, 50, 1000, &[10, 11]); // 2 lost before the probe
                                       // SR from the sender on the RTCP port (RTP port + 1), captured at t = 1 s.
    let ntp: u64 = 0xE000_0000_8000_0000;
    let t_sr = T0 + 1_000 * MS;
    let srp = sr(0xA, ntp, &[]);
    e.on_datagram(t_sr, &dg("10.0.0.1:4001", "10.0.0.2:5001", &srp));
    // The receiver reports 5 lost up to seq 1049; DLSR = 0.5 s; captured 0.5 s + 42 ms later.
    let lsr = (ntp >> 16) as u32;
    let rrp = rr(0xB, &[block(0xA, 25, 5, 1049, 80, lsr, 32_768)]);
    e.on_datagram(t_sr + 542 * MS, &dg("10.0.0.2:5001", "10.0.0.1:4001", &rrp));
    let r = records(e);
    let s = &r[0];
    let cp = s.rtt_ms.get("capture_point").expect("rtt");
    assert!((cp.last - 42.0).abs() < 1e-6, "{cp:?}");
    assert_eq!(cp.samples, 1);
    let remote = s.remote.expect("remote");
    assert_eq!(
        (
            remote.cumulative_lost,
            remote.ext_highest_seq,
            remote.reports
        ),
        (5, 1049, 1)
    );
    assert_eq!(remote.jitter_ms, Some(10.0));
    assert_eq!(s.loss_upstream, Some(2));
    assert_eq!(s.loss_downstream, Some(3));
    assert_eq!(s.sender.map(|x| x.sender_reports), Some(1));
}

#[test]
fn rtt_rejects_unknown_lsr_and_negative_values() {
    let mut e = Engine::new(Resolved::default());
    send(&mut e, 20, 0, &[]);
    let ntp: u64 = 0xE000_0001_0000_0000;
    let srp = sr(0xA, ntp, &[]);
    e.on_datagram(T0 + 500 * MS, &dg("10.0.0.1:4000", "10.0.0.2:5000", &srp));
    let lsr = (ntp >> 16) as u32;
    // DLSR (1 s) longer than the time since the SR (0.2 s): negative RTT, rejected.
    let bad = rr(0xB, &[block(0xA, 0, 0, 19, 0, lsr, 65_536)]);
    e.on_datagram(T0 + 700 * MS, &dg("10.0.0.2:5000", "10.0.0.1:4000", &bad));
    // An LSR no SR had.
    let unknown = rr(0xB, &[block(0xA, 0, 0, 19, 0, lsr ^ 1, 0)]);
    e.on_datagram(
        T0 + 800 * MS,
        &dg("10.0.0.2:5000", "10.0.0.1:4000", &unknown),
    );
    let r = records(e);
    assert!(r[0].rtt_ms.is_empty());
    assert_eq!(r[0].remote.map(|x| x.reports), Some(2));
}

#[test]
fn bye_ends_the_stream() {
    let mut e = Engine::new(Resolved::default());
    send(&mut e, 10, 0, &[]);
    e.on_datagram(
        T0 + 300 * MS,
        &dg("10.0.0.1:4001", "10.0.0.2:5001", &bye(0xA)),
    );
    assert_eq!(e.stream_count(), 0);
    let r = records(e);
    assert_eq!(r[0].ended_by, "bye");
}

#[test]
fn idle_streams_expire_and_table_is_bounded() {
    let cfg = Resolved {
        max_streams: 2,
        idle_timeout_ns: 5_000 * MS,
        ..Resolved::default()
    };
    let mut e = Engine::new(cfg);
    for (i, port) in [4000u16, 4002, 4004].iter().enumerate() {
        for k in 0..3u16 {
            let p = rtp(8, k, 160 * u32::from(k), 0x100 + i as u32);
            let t = T0 + (i as i64 * 100 + i64::from(k) * 20) * MS;
            e.on_datagram(t, &dg(&format!("10.0.0.1:{port}"), "10.0.0.2:5000", &p));
        }
    }
    assert_eq!(e.stream_count(), 2);
    assert_eq!(e.counters().streams_evicted, 1);
    e.expire(T0 + 10_000 * MS);
    assert_eq!(e.stream_count(), 0);
    let ends: Vec<&str> = e.drain_finished().iter().map(|(_, r)| r.ended_by).collect();
    assert_eq!(ends.iter().filter(|&&x| x == "evicted").count(), 1);
    assert_eq!(ends.iter().filter(|&&x| x == "idle").count(), 2);
}

/// STUN Binding request/response with the same transaction ID on the reversed 5-tuple.
fn stun(class_bits: u16, txid: [u8; 12]) -> Vec<u8> {
    let mut m = class_bits.to_be_bytes().to_vec();
    m.extend_from_slice(&[0, 0, 0x21, 0x12, 0xa4, 0x42]);
    m.extend_from_slice(&txid);
    m
}

#[test]
fn stun_rtt_attaches_to_the_streams_on_that_5_tuple() {
    let mut e = Engine::new(Resolved::default());
    send(&mut e, 20, 0, &[]);
    let tx = [7u8; 12];
    e.on_datagram(T0, &dg("10.0.0.2:5000", "10.0.0.1:4000", &stun(0x0001, tx)));
    e.on_datagram(
        T0 + 37 * MS,
        &dg("10.0.0.1:4000", "10.0.0.2:5000", &stun(0x0101, tx)),
    );
    let r = records(e);
    let s = r[0].rtt_ms.get("stun").expect("stun rtt");
    assert!((s.last - 37.0).abs() < 1e-9);
}

#[test]
fn sr_chain_uses_only_endpoint_clocks() {
    let mut e = Engine::new(Resolved::default());
    both_ways(&mut e);
    let ab = ("10.0.0.1:4000", "10.0.0.2:5000");
    let ba = ("10.0.0.2:5000", "10.0.0.1:4000");
    // A's clock: T1 = 100.0 s. B's clock is unrelated: 5000.0 s.
    let t1: u64 = 100 << 32;
    e.on_datagram(T0 + 300 * MS, &dg(ab.0, ab.1, &sr(0xA, t1, &[])));
    // B received A's SR and waited 0.25 s (DLSR_b = 16384).
    let tb: u64 = 5000 << 32;
    let b_blk = block(0xA, 0, 0, 9, 0, (t1 >> 16) as u32, 16_384);
    e.on_datagram(T0 + 600 * MS, &dg(ba.0, ba.1, &sr(0xB, tb, &[b_blk])));
    // A gets B's SR, waits 0.5 s (DLSR_a = 32768) and sends at T3 = 100.8 s: RTT = 0.8-0.5-0.25.
    let t3: u64 = (100 << 32) + (0xCCCC_CCCC_u64 & 0xFFFF_0000);
    let a_blk = block(0xB, 0, 0, 9, 0, (tb >> 16) as u32, 32_768);
    e.on_datagram(T0 + 1_200 * MS, &dg(ab.0, ab.1, &sr(0xA, t3, &[a_blk])));
    let r = records(e);
    let a = r.iter().find(|s| s.ssrc == 0xA).expect("A");
    let chain = a.rtt_ms.get("sr_chain").expect("sr_chain");
    // T3 - T1 = 0xCCCC0000 / 2^32 s = 0.79998779 s; minus 0.75 s.
    let want = (0xCCCC_0000_u64 as f64 / 4_294_967_296.0 - 0.75) * 1e3;
    assert!((chain.last - want).abs() < 0.02, "{} vs {want}", chain.last);
}

#[test]
fn end_to_end_sums_both_directions() {
    let mut e = Engine::new(Resolved::default());
    both_ways(&mut e);
    let (ntp_a, ntp_b): (u64, u64) = (10 << 32, 20 << 32);
    // A's SR passes the probe towards B; B answers 30 ms (network) later with DLSR 0.
    e.on_datagram(
        T0 + 300 * MS,
        &dg("10.0.0.1:4000", "10.0.0.2:5000", &sr(0xA, ntp_a, &[])),
    );
    e.on_datagram(
        T0 + 310 * MS,
        &dg("10.0.0.2:5000", "10.0.0.1:4000", &sr(0xB, ntp_b, &[])),
    );
    let to_a = rr(0xA, &[block(0xB, 0, 0, 9, 0, (ntp_b >> 16) as u32, 0)]);
    e.on_datagram(T0 + 330 * MS, &dg("10.0.0.1:4000", "10.0.0.2:5000", &to_a)); // probe<->A 20 ms
    let to_b = rr(0xB, &[block(0xA, 0, 0, 9, 0, (ntp_a >> 16) as u32, 0)]);
    e.on_datagram(T0 + 340 * MS, &dg("10.0.0.2:5000", "10.0.0.1:4000", &to_b)); // probe<->B 40 ms
    let r = records(e);
    let a = r.iter().find(|s| s.ssrc == 0xA).expect("A");
    assert!((a.rtt_ms["capture_point"].last - 40.0).abs() < 1e-6);
    assert!((a.rtt_ms["end_to_end"].last - 60.0).abs() < 1e-6);
}

#[test]
fn an_sr_during_probation_still_yields_an_rtt() {
    let mut e = Engine::new(Resolved::default());
    let ntp: u64 = 0xE000_0002_0000_0000;
    // The SR arrives before the stream's first RTP packets have validated it.
    e.on_datagram(
        T0,
        &dg("10.0.0.1:4001", "10.0.0.2:5001", &sr(0xA, ntp, &[])),
    );
    send(&mut e, 10, 0, &[]);
    let lsr = (ntp >> 16) as u32;
    let rrp = rr(0xB, &[block(0xA, 0, 0, 9, 0, lsr, 6_554)]); // DLSR 100.006 ms
    e.on_datagram(T0 + 130 * MS, &dg("10.0.0.2:5001", "10.0.0.1:4001", &rrp));
    let r = records(e);
    let cp = r[0]
        .rtt_ms
        .get("capture_point")
        .expect("rtt from the early SR");
    assert!(
        (cp.last - (130.0 - 6_554.0 / 65.536)).abs() < 1e-3,
        "{cp:?}"
    );
    assert_eq!(r[0].sender.map(|s| s.sender_reports), Some(1));
}

#[test]
fn rtcp_packets_are_counted_by_type_once_whatever_the_shard_count() {
    // RR (2 blocks) + PLI, then a second compound: SR (no blocks) + BYE.
    let mut rr_pli = vec![0x82, 201, 0, 13, 0x11, 0x11, 0x11, 0x11];
    for ssrc in [0x2222_2222u32, 0x3333_3333] {
        rr_pli.extend_from_slice(&ssrc.to_be_bytes());
        rr_pli.extend_from_slice(&[0; 20]);
    }
    rr_pli.extend_from_slice(&[
        0x81, 206, 0, 2, 0x11, 0x11, 0x11, 0x11, 0x44, 0x44, 0x44, 0x44,
    ]);
    let mut sr_bye = vec![0x80, 200, 0, 6, 0x55, 0x55, 0x55, 0x55];
    sr_bye.extend_from_slice(&[0; 20]);
    sr_bye.extend_from_slice(&[0x81, 203, 0, 1, 0x55, 0x55, 0x55, 0x55]);
    let (a, b): (SocketAddr, SocketAddr) = (
        "10.0.0.1:5005".parse().expect("addr"),
        "10.0.0.2:5007".parse().expect("addr"),
    );
    for count in [1u32, 3] {
        let mut total = Counters::default();
        for index in 0..count {
            let mut e = Engine::with_shard(Resolved::default(), Shard { index, count });
            for buf in [&rr_pli, &sr_bye] {
                let mask = shard::rtcp_shards(buf, true, count);
                if mask & (1 << index) != 0 {
                    e.on_rtcp(1, a, b, buf, true);
                }
            }
            total.add(e.counters());
        }
        let t = total.rtcp_types;
        assert_eq!(
            (t.sr, t.rr, t.sdes, t.bye, t.psfb, t.rtpfb, t.other),
            (1, 1, 0, 1, 1, 0, 0),
            "{count} shards"
        );
        assert_eq!(total.rtcp_packets, 2, "{count} shards");
    }
}
