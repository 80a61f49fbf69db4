//! Engine memory per active stream, and memory after expiry, measured with a counting global
//! allocator (live heap bytes) and `/proc/self/statm` (resident set).
//!
//! 100,000 streams start (2 RTP packets each, so each passes RFC 3550 A.1 probation); in the
//! "with RTCP" case each also gets an SR from its sender and an RR block about it from its
//! receiver (RFC 3550 §6.4), which is what a typical active stream costs. Then every stream idles
//! out and its record is dropped: the live heap must come back near the empty engine's, and a
//! second wave of 100,000 must not grow the resident set beyond the first wave's.
//! Printed numbers are recorded in docs/benchmarks.md ("Memory per stream").

use rtcprobe::config::Resolved;
use rtcprobe::engine::{Engine, RtpMeta};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

struct Counting;

/// Live heap bytes of the whole process (every thread: memory may be freed elsewhere).
static LIVE: AtomicI64 = AtomicI64::new(0);
/// The tests of this file measure one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as i64 - l.size() as i64, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const STREAMS: u32 = 100_000;
const T0: i64 = 1_700_000_000_000_000_000;

fn live() -> i64 {
    LIVE.load(Ordering::Relaxed)
}

/// Resident set in bytes (`/proc/self/statm`, second field, in pages of 4 KiB).
fn rss() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn addrs(i: u32) -> (SocketAddr, SocketAddr) {
    (
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 | i), 4000)),
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(0xac10_0000 | i), 5000)),
    )
}

fn ssrc(i: u32) -> u32 {
    i.wrapping_mul(0x9E37_79B9) | 1
}

/// SR (PT 200) from stream `i`'s sender with one report block, NTP `ntp`.
fn sr(i: u32, ntp: u64) -> Vec<u8> {
    let mut b = vec![0x81, 200, 0, 12];
    b.extend_from_slice(&ssrc(i).to_be_bytes());
    b.extend_from_slice(&ntp.to_be_bytes());
    b.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 4, 0, 0, 2, 0]); // RTP ts, packets, octets
    b.extend_from_slice(&(ssrc(i) ^ 0xffff).to_be_bytes()); // block about the peer
    b.extend_from_slice(&[0; 20]);
    b
}

/// RR (PT 201) from stream `i`'s receiver with one block about it, answering SR `ntp`.
fn rr(i: u32, ntp: u64) -> Vec<u8> {
    let mut b = vec![0x81, 201, 0, 7];
    b.extend_from_slice(&(ssrc(i) ^ 0xffff).to_be_bytes());
    b.extend_from_slice(&ssrc(i).to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3]); // lost, ext highest, jitter
    b.extend_from_slice(&((ntp >> 16) as u32).to_be_bytes()); // LSR
    b.extend_from_slice(&[0, 0, 0x0c, 0xcd]); // DLSR 50 ms
    b
}

/// One wave of `STREAMS` streams starting at `now`; returns the time after it.
fn wave(e: &mut Engine, mut now: i64, first: u32, rtcp: bool) -> i64 {
    for i in first..first + STREAMS {
        let (src, dst) = addrs(i);
        for seq in [1u16, 2] {
            now += 1_000;
            let m = RtpMeta {
                src,
                dst,
                ssrc: ssrc(i),
                seq,
                pt: 0,
                ts: u32::from(seq) * 160,
                wire_len: 172,
                point: rtcprobe::engine::ObservationPoint::CAPTURE,
                marker: false,
                hint: Default::default(),
            };
            e.on_rtp_meta(now, &m);
        }
        if rtcp {
            let ntp = 0x0000_1234_0000_0000 | u64::from(i) << 16;
            now += 1_000;
            e.on_rtcp(now, src, dst, &sr(i, ntp), true);
            now += 1_000;
            e.on_rtcp(now, dst, src, &rr(i, ntp), true);
        }
    }
    assert_eq!(e.stream_count(), STREAMS as usize);
    now
}

/// Idle every stream out and drop the records.
fn expire_all(e: &mut Engine, now: i64) -> i64 {
    let now = now + 61_000_000_000;
    e.expire(now);
    assert_eq!(e.stream_count(), 0);
    let n = e.drain_finished().len();
    assert_eq!(n, STREAMS as usize);
    now
}

fn per_stream(bytes: i64) -> f64 {
    bytes as f64 / f64::from(STREAMS)
}

fn measure(rtcp: bool) -> (f64, f64) {
    let base = live();
    let rss0 = rss();
    let mut e = Engine::new(Resolved::default());
    let empty = live();
    let now = wave(&mut e, T0, 0, rtcp);
    let (heap, res) = (per_stream(live() - empty), per_stream(rss() - rss0));
    println!("rtcp {rtcp}: {heap:.0} heap bytes and {res:.0} resident bytes per active stream");
    expire_all(&mut e, now);
    drop(e);
    println!("after drop: {} live bytes over the start", live() - base);
    (heap, res)
}

#[test]
fn engine_bytes_per_active_stream() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (plain, _) = measure(false);
    let (with_rtcp, _) = measure(true);
    // The audio box (engine/audio, 512 bytes: settle window, Markov and RFC 3611 counters
    // twice, loss-run histogram, two emulated jitter buffers) comes on top of the 450 bytes a
    // stream cost before it: the 512-byte goal no longer holds (docs/benchmarks.md, "Memory per
    // stream"); this pins what is.
    assert!(plain <= 1024.0, "{plain} bytes per RTP-only stream");
    // With RTCP the cold box (SR history header, sender info, remote report, four RTT
    // statistics (`xr` since issue 14), feedback, CNAME, probe drops, the boxed XR VoIP block,
    // the video tracker's box pointer) and one 72-byte SR entry come on top.
    assert!(
        with_rtcp <= 1600.0,
        "{with_rtcp} bytes per stream with RTCP"
    );
}

#[test]
fn memory_freed_by_expiry_is_returned_or_reused() {
    let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut e = Engine::new(Resolved::default());
    let empty = live();
    let rss_empty = rss();
    let now = wave(&mut e, T0, 0, true);
    let full = live();
    let rss_full = rss();
    let now = expire_all(&mut e, now);
    // The host pairs of the ended streams stay one to two idle timeouts for the one-way check
    // of their reverse streams (engine/findings.rs, EndedPairs), then go too.
    let idle = e.idle_timeout_ns();
    e.expire(now + idle);
    let now = now + 2 * idle;
    e.expire(now);
    let after = live();
    let rss_expired = rss();
    println!(
        "live heap over the empty engine: {} with 100k streams, {} after they expired",
        full - empty,
        after - empty
    );
    let now = wave(&mut e, now, 1_000_000, true);
    let rss_second = rss();
    expire_all(&mut e, now);
    println!(
        "resident: {} MiB with wave 1, {} MiB after it expired, {} MiB with wave 2",
        rss_full >> 20,
        rss_expired >> 20,
        rss_second >> 20
    );
    // Back near the empty engine: under 5 % of what the streams held.
    assert!(after - empty < (full - empty) / 20, "{after} vs {empty}");
    // The second wave reuses what the first freed: it grows the resident set by less than a
    // tenth of what the first took (allocator fragmentation: the slab regrows by doubling).
    assert!(
        rss_second - rss_full <= (rss_full - rss_empty) / 10,
        "{rss_second} vs {rss_full} (from {rss_empty})"
    );
}
