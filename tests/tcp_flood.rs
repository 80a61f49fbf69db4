//! A SYN flood and a segment flood keep the TCP reassembler under its caps (issue 13, "What
//! must be shown" 5): 200,000 connections opened by SYNs, then 100,000 out-of-order segments
//! that never fill their holes. A counting global allocator measures the peak of live heap
//! bytes; evictions and skipped holes are counted.

use rtcprobe::tcp::{TcpLimits, TcpStage};
use rtcprobe::wire::tcp::TcpSegment;
use rtcprobe::wire::Segment;
use std::net::SocketAddr;

#[path = "common/peak.rs"]
mod peak;

#[global_allocator]
static GLOBAL: peak::Counting = peak::Counting;

/// Peak live heap bytes above the level at the start of `f`, and what `f` returned.
fn peak_of<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let base = peak::start();
    let t = f();
    (peak::since(base), t)
}

const MIB: usize = 1 << 20;

/// The `i`th attacker address (distinct for 200,000 of them).
fn attacker(i: u32) -> SocketAddr {
    SocketAddr::from((
        [10, (i >> 16) as u8, (i >> 8) as u8, i as u8],
        1024 + (i % 60_000) as u16,
    ))
}

fn segment(buf: &mut Vec<u8>, seq: u32, flags: u8, payload: &[u8]) {
    buf.clear();
    buf.extend_from_slice(&[0x9c, 0x40, 0x0d, 0x96]); // 40000 → 3478
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    buf.extend_from_slice(payload);
}

fn feed(st: &mut TcpStage, now: i64, src: SocketAddr, bytes: &[u8]) {
    let seg = Segment {
        src,
        dst: SocketAddr::from(([192, 0, 2, 1], 3478)),
        tcp: TcpSegment::new_checked(bytes, bytes.len()).unwrap(),
        vlan: None,
    };
    st.on_segment(now, &seg, &mut |_, _| panic!("a flood frames nothing"));
}

/// SYNs from `n` addresses; the peak heap.
fn syn_flood(limits: TcpLimits, n: u32) -> (usize, TcpStage) {
    let mut buf = Vec::with_capacity(64);
    let mut st = TcpStage::new(limits);
    let (peak, ()) = peak_of(|| {
        for i in 0..n {
            segment(&mut buf, i.wrapping_mul(7919), 0x02, &[]);
            feed(&mut st, 1_000 + i64::from(i), attacker(i), &buf);
            assert!(st.connections() <= limits.max_connections);
        }
    });
    (peak, st)
}

#[test]
fn a_syn_flood_stays_in_the_table_and_is_counted() {
    let limits = TcpLimits::default(); // 10,000 directions
    let (small, st) = syn_flood(limits, 20_000);
    assert_eq!(st.counters().evicted_table_full, 10_000);
    let (peak, st) = syn_flood(limits, 200_000);
    let c = st.counters();
    assert_eq!(st.connections(), 10_000);
    assert_eq!(c.connections, 200_000);
    assert_eq!(c.evicted_table_full, 190_000);
    // Ten times the flood, bounded memory: the table, not the attack, sets it. (The hash
    // table doubles once as eviction leaves tombstones, so the peak may be up to twice the
    // smaller flood's, and no more.)
    eprintln!("SYN flood peak heap: {small} B for 20k, {peak} B for 200k");
    assert!(peak <= 2 * small, "{peak} vs {small}");
    assert!(peak < 16 * MIB, "{peak}");
}

#[test]
fn a_segment_flood_that_never_fills_stays_under_the_byte_caps() {
    let limits = TcpLimits {
        max_buffer_bytes_per_connection: 64 * 1024,
        max_buffer_bytes_total: MIB,
        ..TcpLimits::default()
    };
    let mut st = TcpStage::new(limits);
    let mut buf = Vec::with_capacity(1100);
    let data = [0x80u8; 200];
    let (peak, ()) = peak_of(|| {
        // 2,000 connections: a SYN, then 49 segments of 200 bytes each ahead of a hole (the
        // first 999 bytes never come).
        for i in 0..100_000u32 {
            let conn = i % 2_000;
            let k = i / 2_000;
            let flags = if k == 0 { 0x02 } else { 0x10 };
            let seq = 1_000 + 200 * k; // never 1..1000: the hole stays
            let payload: &[u8] = if flags == 0x02 { &[] } else { &data };
            segment(
                &mut buf,
                if flags == 0x02 { 0 } else { seq },
                flags,
                payload,
            );
            // Capture time 1 ms per segment: under the 2 s gap timeout within a round.
            feed(&mut st, i64::from(i) * 10_000, attacker(conn), &buf);
            assert!(st.buffered_bytes() <= limits.max_buffer_bytes_total);
        }
    });
    let c = *st.counters();
    eprintln!("segment flood peak heap: {peak} B; {c:?}");
    // 2,000 × 10 KiB does not fit 1 MiB: the least recently active directions go (and come
    // back without their SYN, picked up mid-stream, until they go again).
    assert!(c.evicted_memory > 10_000, "{c:?}");
    assert!(c.out_of_order_segments > 2_000, "{c:?}");
    assert_eq!(
        c.connections,
        st.connections() as u64 + c.evicted_memory,
        "{c:?}"
    );

    // Few connections, each over its own cap (and all within the total): the holes are
    // skipped and counted.
    let limits = TcpLimits {
        max_buffer_bytes_total: 4 * MIB,
        ..limits
    };
    let mut st = TcpStage::new(limits);
    for i in 0..16_000u32 {
        let (conn, k) = (i % 40, i / 40);
        let flags = if k == 0 { 0x02 } else { 0x10 };
        let payload: &[u8] = if k == 0 { &[] } else { &data };
        segment(
            &mut buf,
            if k == 0 { 0 } else { 800 + 200 * k },
            flags,
            payload,
        );
        feed(&mut st, i64::from(i) * 10_000, attacker(conn), &buf);
        assert!(st.buffered_bytes() <= limits.max_buffer_bytes_total);
    }
    let c = *st.counters();
    assert_eq!(c.gaps, 40, "{c:?}");
    assert_eq!(c.evicted_memory, 0, "{c:?}");
    // Held bytes are charged with their overhead, so the heap stays near the total cap.
    assert!(peak < 2 * limits.max_buffer_bytes_total + 8 * MIB, "{peak}");
}
