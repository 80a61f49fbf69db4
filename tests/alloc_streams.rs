//! New streams allocate a bounded number of times: a counting global allocator watches the
//! engine while 20,000 new streams (2 packets each, so each is validated, RFC 3550 A.1) meet a
//! full table of 1,000: every one evicts the least recently active stream, whose record is built
//! then. Once the table's slabs and maps have grown, a new stream costs its record's strings and
//! nothing that grows with the number of streams seen (no per-stream table churn, no rehash).

use rtcprobe::config::Resolved;
use rtcprobe::engine::{Engine, ObservationPoint, RtpMeta};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

struct Counting;

thread_local! {
    /// Counted only on the thread under test: the test harness's own threads allocate too.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const TABLE: usize = 1_000;
const NEW: u32 = 20_000;

fn meta(i: u32, seq: u16) -> RtpMeta {
    RtpMeta {
        src: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 | i), 4000)),
        dst: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 255, 0, 1), 5000)),
        ssrc: i.wrapping_mul(0x9E37_79B9),
        seq,
        pt: if i % 2 == 0 { 0 } else { 8 },
        ts: u32::from(seq) * 160,
        wire_len: 172,
        point: ObservationPoint::CAPTURE,
        marker: false,
        hint: Default::default(),
    }
}

/// Allocations while `streams` new streams start (first `first`), each evicting one.
fn allocs_for(e: &mut Engine, now: &mut i64, first: u32, streams: u32) -> u64 {
    ALLOCS.with(|a| a.set(0));
    for i in first..first + streams {
        for seq in [1, 2] {
            *now += 20_000;
            COUNTING.with(|c| c.set(true));
            e.on_rtp_meta(*now, &meta(i, seq));
            COUNTING.with(|c| c.set(false));
        }
        if i % 100 == 0 {
            drop(e.drain_finished());
        }
    }
    ALLOCS.with(Cell::get)
}

#[test]
fn a_new_stream_allocates_a_bounded_number_of_times() {
    let cfg = Resolved {
        max_streams: TABLE,
        ..Resolved::default()
    };
    let mut e = Engine::new(cfg);
    let mut now: i64 = 1_700_000_000_000_000_000;
    // Control: the counter sees an allocation made on this thread.
    ALLOCS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    drop(std::hint::black_box(Box::new(7u64)));
    COUNTING.with(|c| c.set(false));
    assert_eq!(ALLOCS.with(Cell::get), 1, "the counting allocator works");

    // Fill the table and let every structure reach its size.
    allocs_for(&mut e, &mut now, 0, 5 * TABLE as u32);
    let a = allocs_for(&mut e, &mut now, 1_000_000, NEW);
    let b = allocs_for(&mut e, &mut now, 2_000_000, NEW);
    assert_eq!(
        e.counters().streams_evicted,
        u64::from(2 * NEW) + 4 * TABLE as u64
    );
    for n in [a, b] {
        let per_stream = n as f64 / f64::from(NEW);
        // The evicted stream's record: timestamps and addresses as strings, each formatted
        // string growing once or twice (about 12 in all, more for longer addresses).
        assert!(
            per_stream <= 16.0,
            "{per_stream} allocations per new stream"
        );
    }
    // Nothing grows with the number of streams seen: the second 20,000 cost what the first did
    // (give or take the longer addresses' formatting).
    assert!(b.abs_diff(a) <= a / 20, "{a} then {b}");
}
