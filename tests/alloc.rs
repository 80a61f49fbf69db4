//! Steady-state RTP handling allocates nothing: a counting global allocator watches the whole
//! decode-and-track path (link → IP → UDP → demux → RTP → engine) over 100,000 packets of 500
//! established streams, with loss, reordering and duplicates mixed in. A stream's cold state
//! (the sequence tracker's rare-path box, the stream's cold box and its ring of recent
//! duplicates: engine/seq.rs, engine/stream.rs) is allocated once, on its first loss or
//! duplicate, so one warm-up round duplicates every stream's packet. The window of 200 rounds
//! holds at most 6 gaps per stream, under `seq::MAX_GAPS`: no window bitmap either. RTP over
//! TCP (RFC 4571, frames split across segments) allocates nothing per segment either.

use rtcprobe::config::Resolved;
use rtcprobe::replay::Run;
use rtcprobe::wire::LinkType;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set only on the thread under test: the test harness's own threads allocate too.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const STREAMS: u32 = 500;

/// Ethernet + IPv4 + UDP + RTP (PT 8, 160-byte payload) for stream `i`.
fn frame(buf: &mut Vec<u8>, i: u32, seq: u16, ts: u32) {
    buf.clear();
    buf.extend_from_slice(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00]);
    buf.extend_from_slice(&[0x45, 0, 0, 200, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    buf.extend_from_slice(&(0x0a00_0000u32 | (i + 2)).to_be_bytes());
    buf.extend_from_slice(&[10, 0, 0, 1]);
    buf.extend_from_slice(&(10_000 + i as u16).to_be_bytes());
    buf.extend_from_slice(&[0x9c, 0x40, 0, 180, 0, 0]);
    buf.extend_from_slice(&[0x80, 8]);
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&ts.to_be_bytes());
    buf.extend_from_slice(&(0x5000 + i).to_be_bytes());
    buf.resize(buf.len() + 160, 0xd5);
}

/// The warm-up round in which every stream's packet is duplicated.
const PRIME_ROUND: u32 = 10;

#[test]
fn steady_state_rtp_does_not_allocate() {
    let mut run = Run::new(Resolved::default());
    let mut buf = Vec::with_capacity(2048);
    let mut now: i64 = 1_700_000_000_000_000_000;
    let mut feed = |run: &mut Run, round: u32, counting: bool| {
        for i in 0..STREAMS {
            // Impairments: every 97th packet lost, every 89th repeats the previous sequence
            // number (a duplicate and a gap), every 83rd duplicated on the wire.
            let k = round * STREAMS + i;
            if k % 97 == 0 && round != PRIME_ROUND {
                continue;
            }
            let seq = if k % 89 == 0 {
                round.wrapping_sub(1)
            } else {
                round
            } as u16;
            frame(&mut buf, i, seq, round.wrapping_mul(160));
            now += 40_000;
            COUNTING.with(|c| c.set(counting));
            run.frame(LinkType::Ethernet, now, &buf);
            if k % 83 == 0 || round == PRIME_ROUND {
                run.frame(LinkType::Ethernet, now + 1_000, &buf);
            }
            COUNTING.with(|c| c.set(false));
        }
    };
    for round in 0..20 {
        feed(&mut run, round, false);
    }
    // Control: the counter sees an allocation made on this thread.
    ALLOCS.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let probe = std::hint::black_box(Box::new(7u64));
    COUNTING.with(|c| c.set(false));
    drop(probe);
    assert_eq!(
        ALLOCS.load(Ordering::Relaxed),
        1,
        "the counting allocator works"
    );
    ALLOCS.store(0, Ordering::Relaxed);
    for round in 20..220 {
        feed(&mut run, round, true);
    }
    let allocs = ALLOCS.load(Ordering::Relaxed);
    let report = run.finish("alloc".into(), 1, None);
    assert_eq!(report.streams.len(), STREAMS as usize);
    let total: u64 = report.streams.iter().map(|s| s.packets).sum();
    assert!(total > 100_000, "{total}");
    assert_eq!(
        allocs, 0,
        "allocations in steady state over {total} packets"
    );
}

/// The same from a capture file, as `replay` reads it: the block reader's frames
/// (`FileSource::next_frame`, no copy) through `Run::frame`.
#[test]
fn steady_state_replay_from_a_file_does_not_allocate() {
    use rtcprobe::capture::{FileSource, PacketSource};
    use rtcprobe::synth::pcap::{PcapWriter, TsResolution};
    let path = std::env::temp_dir().join(format!("rtcprobe-alloc-{}.pcap", std::process::id()));
    let f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut w = PcapWriter::new(f, 1, 65_535, TsResolution::Nano).expect("header");
    let mut buf = Vec::with_capacity(2048);
    let mut now: i64 = 1_700_000_000_000_000_000;
    for round in 0..220u32 {
        for i in 0..STREAMS {
            frame(&mut buf, i, round as u16, round.wrapping_mul(160));
            now += 40_000;
            w.write_frame(now, &buf).expect("frame");
        }
    }
    w.into_inner().expect("flush");
    let mut src = FileSource::open(&path).expect("open");
    let link = LinkType::from_dlt(src.linktype()).expect("ethernet");
    let mut run = Run::new(Resolved::default());
    let warm = u64::from(20 * STREAMS);
    let mut read = 0u64;
    ALLOCS.store(0, Ordering::Relaxed);
    loop {
        COUNTING.with(|c| c.set(read >= warm));
        let Some(f) = src.next_frame().expect("read") else {
            COUNTING.with(|c| c.set(false));
            break;
        };
        run.frame(link, f.ts_ns, f.data);
        COUNTING.with(|c| c.set(false));
        read += 1;
    }
    let allocs = ALLOCS.load(Ordering::Relaxed);
    std::fs::remove_file(&path).expect("remove");
    let report = run.finish("alloc".into(), 1, None);
    assert_eq!(report.summary.frames, u64::from(220 * STREAMS));
    let total: u64 = report.streams.iter().map(|s| s.packets).sum();
    assert!(total > 100_000, "{total}");
    assert_eq!(
        allocs,
        0,
        "allocations in steady state over {} frames read from a file",
        read - warm
    );
}

/// Ethernet + IPv4 + TCP (connection `i`, sequence number `seq`) carrying `data`.
fn tcp_frame(buf: &mut Vec<u8>, i: u32, seq: u32, data: &[u8]) {
    buf.clear();
    buf.extend_from_slice(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00]);
    let len = (40 + data.len()) as u16;
    buf.extend_from_slice(&[0x45, 0]);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    buf.extend_from_slice(&(0x0a00_0000u32 | (i + 2)).to_be_bytes());
    buf.extend_from_slice(&[10, 0, 0, 1]);
    buf.extend_from_slice(&(10_000 + i as u16).to_be_bytes());
    buf.extend_from_slice(&[0x0d, 0x96]); // 3478
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    buf.extend_from_slice(data);
}

/// RTP over TCP (RFC 4571) allocates nothing per segment either once each connection's
/// buffers have grown: frames split across segments (every third packet's frame is cut in
/// two, its second half coalesced with the next frame), in order.
#[test]
fn steady_state_rtp_over_tcp_does_not_allocate() {
    const CONNS: u32 = 100;
    let mut run = Run::new(Resolved::default());
    let mut buf = Vec::with_capacity(2048);
    let mut now: i64 = 1_700_000_000_000_000_000;
    let mut seqs = vec![1u32; CONNS as usize];
    // Bytes of each connection's stream not yet sent (a cut frame's tail).
    let mut tails: Vec<Vec<u8>> = (0..CONNS).map(|_| Vec::with_capacity(512)).collect();
    let mut data = Vec::with_capacity(1024);
    let mut rtp = Vec::with_capacity(256);
    let mut feed = |run: &mut Run, round: u32, counting: bool| {
        for i in 0..CONNS {
            rtp.clear();
            rtp.extend_from_slice(&[0x80, 8]);
            rtp.extend_from_slice(&(round as u16).to_be_bytes());
            rtp.extend_from_slice(&round.wrapping_mul(160).to_be_bytes());
            rtp.extend_from_slice(&(0x6000 + i).to_be_bytes());
            rtp.resize(12 + 160, 0xd5);
            let t = &mut tails[i as usize];
            data.clear();
            data.append(t);
            data.extend_from_slice(&(rtp.len() as u16).to_be_bytes());
            data.extend_from_slice(&rtp);
            if (round + i) % 3 == 0 {
                let cut = data.len() - 50;
                t.extend_from_slice(&data[cut..]);
                data.truncate(cut);
            }
            let s = &mut seqs[i as usize];
            tcp_frame(&mut buf, i, *s, &data);
            *s = s.wrapping_add(data.len() as u32);
            now += 40_000;
            COUNTING.with(|c| c.set(counting));
            run.frame(LinkType::Ethernet, now, &buf);
            COUNTING.with(|c| c.set(false));
        }
    };
    for round in 0..20 {
        feed(&mut run, round, false);
    }
    ALLOCS.store(0, Ordering::Relaxed);
    for round in 20..1020 {
        feed(&mut run, round, true);
    }
    let allocs = ALLOCS.load(Ordering::Relaxed);
    let report = run.finish("alloc".into(), 1, None);
    assert_eq!(report.streams.len(), CONNS as usize);
    let total: u64 = report.streams.iter().map(|s| s.packets).sum();
    assert!(total > 100_000, "{total}");
    assert_eq!(report.summary.tcp.rfc4571_frames, total);
    assert_eq!(
        allocs, 0,
        "allocations in steady state over {total} packets over TCP"
    );
}
