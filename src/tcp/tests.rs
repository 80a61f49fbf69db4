//! Tests of the reassembly stage on hand-built segments.

use super::*;
use crate::wire::tcp::TcpSegment;

const A: &str = "192.0.2.1:50000";
const B: &str = "198.51.100.2:3478";

/// A TCP header (data offset 5) with `flags`, then `payload`.
fn seg_bytes(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0xc3, 0x50, 0x0d, 0x96]; // 50000 → 3478
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

/// An RTP packet (12-byte header + 4 bytes) with sequence number `n`.
fn rtp(n: u16) -> Vec<u8> {
    let mut v = vec![0x80, 0x00];
    v.extend_from_slice(&n.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
    v
}

/// RFC 4571 frames of RTP packets `range`.
fn rfc4571(range: std::ops::Range<u16>) -> Vec<u8> {
    let mut v = Vec::new();
    for n in range {
        let p = rtp(n);
        v.extend_from_slice(&(p.len() as u16).to_be_bytes());
        v.extend_from_slice(&p);
    }
    v
}

/// Feed `(now, seq, flags, payload)` segments; the frames emitted, as (time, RTP seq).
fn run(stage: &mut TcpStage, segs: &[(i64, u32, u8, Vec<u8>)]) -> Vec<(i64, u16)> {
    let mut got = Vec::new();
    for (now, seq, flags, payload) in segs {
        let b = seg_bytes(*seq, *flags, payload);
        let seg = Segment {
            src: A.parse().unwrap(),
            dst: B.parse().unwrap(),
            tcp: TcpSegment::new_checked(&b, b.len()).unwrap(),
            vlan: None,
        };
        stage.on_segment(*now, &seg, &mut |t, dg| {
            assert_eq!(dg.src, A.parse().unwrap());
            got.push((t, u16::from_be_bytes([dg.payload[2], dg.payload[3]])));
        });
    }
    got
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

#[test]
fn in_order_split_anywhere_gives_every_frame_at_its_completing_time() {
    let bytes = rfc4571(0..10);
    for cut in 1..bytes.len() {
        let mut s = TcpStage::new(TcpLimits::default());
        let segs = vec![
            (1, 999, SYN, vec![]),
            (2, 1000, ACK, bytes[..cut].to_vec()),
            (3, 1000 + cut as u32, ACK, bytes[cut..].to_vec()),
        ];
        let got = run(&mut s, &segs);
        let want: Vec<(i64, u16)> = (0..10)
            .map(|n| (if (n as usize + 1) * 18 <= cut { 2 } else { 3 }, n))
            .collect();
        assert_eq!(got, want, "cut at {cut}");
        assert_eq!(s.counters().rfc4571_connections, 1);
        assert_eq!(s.counters().rfc4571_frames, 10);
    }
}

#[test]
fn reordering_and_retransmission() {
    let bytes = rfc4571(0..3); // 54 bytes
    let mut s = TcpStage::new(TcpLimits::default());
    let segs = vec![
        (1, 99, SYN, vec![]),
        (2, 118, ACK, bytes[18..36].to_vec()), // ahead: held
        (3, 100, ACK, bytes[..18].to_vec()),   // fills the hole: frames 0 and 1
        (4, 100, ACK, bytes[..36].to_vec()),   // retransmission
        (5, 136, ACK, bytes[36..].to_vec()),
    ];
    let got = run(&mut s, &segs);
    assert_eq!(got, vec![(3, 0), (2, 1), (5, 2)]);
    let c = s.counters();
    assert_eq!(c.out_of_order_segments, 1);
    assert_eq!(c.retransmitted_bytes, 36);
    assert_eq!(c.gaps, 0);
}

#[test]
fn a_hole_is_skipped_after_the_timeout_and_the_framer_resyncs() {
    let bytes = rfc4571(0..8); // 18 bytes each
    let mut s = TcpStage::new(TcpLimits::default());
    let t = 1_000_000_000;
    let mut segs = vec![(0, 99, SYN, vec![]), (1, 100, ACK, bytes[..20].to_vec())];
    // Bytes 20..30 (inside frame 1) never come.
    segs.push((2, 130, ACK, bytes[30..].to_vec()));
    segs.push((3 * t, 100 + bytes.len() as u32, ACK, rfc4571(8..9)));
    let got = run(&mut s, &segs);
    let seqs: Vec<u16> = got.iter().map(|&(_, n)| n).collect();
    assert_eq!(seqs, vec![0, 2, 3, 4, 5, 6, 7, 8]);
    // Frames after the hole keep the time of the segment that brought them.
    assert_eq!(got[1].0, 2);
    let c = s.counters();
    assert_eq!((c.gaps, c.gap_bytes), (1, 10));
    assert_eq!(c.resyncs, 1);
    assert_eq!(c.resync_skipped_bytes, 2 + 6); // frame 1's head and tail
}

#[test]
fn turn_tcp_channel_data_is_padded_stun_is_not() {
    let mut bytes = Vec::new();
    // A STUN Binding request (20 bytes, no attributes).
    bytes.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
    bytes.extend_from_slice(&[7; 12]);
    for n in 0..3 {
        let p = [rtp(n), vec![9; n as usize]].concat(); // 16, 17, 18 bytes
                                                        // The last on a channel of RFC 5766's range (up to 0x7FFF), which coturn uses.
        bytes.extend_from_slice(if n == 2 { &[0x7d, 0x37] } else { &[0x40, 0x01] });
        bytes.extend_from_slice(&(p.len() as u16).to_be_bytes());
        bytes.extend_from_slice(&p);
        bytes.resize(bytes.len().next_multiple_of(4), 0);
    }
    let mut s = TcpStage::new(TcpLimits::default());
    let mut lens = Vec::new();
    let b = seg_bytes(100, ACK, &bytes);
    let mut sy = seg_bytes(99, SYN, &[]);
    sy[13] = SYN;
    for raw in [sy, b] {
        let seg = Segment {
            src: A.parse().unwrap(),
            dst: B.parse().unwrap(),
            tcp: TcpSegment::new_checked(&raw, raw.len()).unwrap(),
            vlan: None,
        };
        s.on_segment(1, &seg, &mut |_, dg| lens.push(dg.payload.len()));
    }
    assert_eq!(lens, vec![20, 20, 21, 22]);
    let c = s.counters();
    assert_eq!(
        (c.turn_connections, c.turn_stun, c.turn_channel_data),
        (1, 1, 3)
    );
}

#[test]
fn tls_and_http_are_counted_and_not_buffered() {
    for (first, tls) in [
        (&b"\x16\x03\x01\x02\x00"[..], true),
        (b"GET / HTTP/1.1\r\n", false),
    ] {
        let mut s = TcpStage::new(TcpLimits::default());
        let mut segs = vec![(0, 99, SYN, vec![]), (1, 100, ACK, first.to_vec())];
        // Out of order afterwards: not held.
        segs.push((2, 5000, ACK, vec![0x80; 1000]));
        assert!(run(&mut s, &segs).is_empty());
        let c = s.counters();
        assert_eq!(
            (c.tls_connections, c.other_connections),
            (u64::from(tls), u64::from(!tls))
        );
        assert_eq!(c.out_of_order_segments, 0);
        assert!(s.buffered_bytes() <= ENTRY_BYTES, "{}", s.buffered_bytes());
    }
}

#[test]
fn mid_stream_start_finds_the_framing() {
    let bytes = rfc4571(0..6);
    let mut s = TcpStage::new(TcpLimits::default());
    // No SYN; the capture starts 5 bytes into frame 0.
    let got = run(&mut s, &[(1, 7, ACK, bytes[5..].to_vec())]);
    let seqs: Vec<u16> = got.iter().map(|&(_, n)| n).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
}

#[test]
fn caps_evict_and_count() {
    let limits = TcpLimits {
        max_connections: 4,
        max_buffer_bytes_per_connection: 2048,
        max_buffer_bytes_total: 4096,
        ..TcpLimits::default()
    };
    let mut s = TcpStage::new(limits);
    for i in 0..100u16 {
        let b = seg_bytes(1, ACK, &rfc4571(0..1));
        let src: SocketAddr = format!("192.0.2.1:{}", 1000 + i).parse().unwrap();
        let seg = Segment {
            src,
            dst: B.parse().unwrap(),
            tcp: TcpSegment::new_checked(&b, b.len()).unwrap(),
            vlan: None,
        };
        s.on_segment(1, &seg, &mut |_, _| {});
        // Out-of-order data that never fills.
        let b = seg_bytes(5000, ACK, &[0x80; 1000]);
        let seg = Segment {
            tcp: TcpSegment::new_checked(&b, b.len()).unwrap(),
            ..seg
        };
        s.on_segment(1, &seg, &mut |_, _| {});
        assert!(s.connections() <= 4);
        assert!(s.buffered_bytes() <= 4096, "{}", s.buffered_bytes());
    }
    let c = s.counters();
    assert!(c.evicted_table_full + c.evicted_memory >= 96, "{c:?}");
}

#[test]
fn rst_and_fin_end_directions_idle_ones_expire() {
    let mut s = TcpStage::new(TcpLimits::default());
    run(
        &mut s,
        &[(0, 99, SYN, vec![]), (1, 100, ACK, rfc4571(0..1))],
    );
    assert_eq!(s.connections(), 1);
    run(&mut s, &[(2, 118, 0x04, vec![])]);
    assert_eq!((s.connections(), s.counters().closed_rst), (0, 1));
    run(&mut s, &[(3, 99, SYN, vec![])]);
    run(&mut s, &[(4, 100, ACK | 0x01, rfc4571(0..1))]);
    assert_eq!((s.connections(), s.counters().closed_fin), (0, 1));
    run(&mut s, &[(5, 99, SYN, vec![])]);
    s.expire(5 + 61_000_000_000, &mut |_, _| {});
    assert_eq!((s.connections(), s.counters().expired_idle), (0, 1));
    assert_eq!(s.buffered_bytes(), 0);
}
