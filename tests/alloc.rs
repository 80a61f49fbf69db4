//! Steady-state RTP handling allocates nothing: a counting global allocator watches the whole
//! decode-and-track path (link → IP → UDP → demux → RTP → engine) over 100,000 packets of 500
//! established streams, with loss, reordering and duplicates mixed in. A stream's cold state
//! (the sequence tracker's rare-path box, the stream's cold box and its ring of recent
//! duplicates: engine/seq.rs, engine/stream.rs) is allocated once, on its first loss or
//! duplicate, so one warm-up round duplicates every stream's packet. The window of 200 rounds
//! holds at most 6 gaps per stream, under `seq::MAX_GAPS`: no window bitmap either. Each stream
//! has audio state (engine/audio, boxed when the stream passes probation) and jittered, DTX-cut
//! timestamps, so the jitter buffers, the settle window and the burst/gap counters run too. RTP over
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
            // Audio experience (engine/audio): up to 100 ms of jitter (as an RTP timestamp
            // earlier than the packet's send time, so capture time stays monotonic) for the
            // jitter buffers to find late packets, and a 1 s DTX silence (a timestamp jump
            // without a sequence gap) every 50 rounds where they re-anchor.
            let jitter = (k.wrapping_mul(7919) % 800) * u32::from(k % 5 == 0);
            let ts = round
                .wrapping_mul(160)
                .wrapping_add((round / 50) * 8000)
                .wrapping_sub(jitter);
            frame(&mut buf, i, seq, ts);
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
    // The audio path ran: late packets, loss runs and burst/gap were computed.
    let late: u64 = report
        .streams
        .iter()
        .filter_map(|s| s.jitter_buffer.map(|j| j.fixed_late))
        .sum();
    assert!(late > 0, "the jitter buffers saw late packets");
    assert!(report.streams.iter().all(|s| s.burst_gap.is_some()));
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

/// A video packet of stream `i`: PT 96 (configured as VP8, so triage parses the payload),
/// 3 packets per frame with the marker on the last, a VP8 key frame (640 × 360) every 30th
/// frame.
fn video_frame(buf: &mut Vec<u8>, i: u32, seq: u16, frame: u32, part: u32) {
    frame_with(
        buf,
        i,
        seq,
        frame.wrapping_mul(3000),
        96 | if part == 2 { 0x80 } else { 0 },
    );
    buf.truncate(buf.len() - 160);
    if part == 0 && frame % 30 == 0 {
        buf.extend_from_slice(&[
            0x10, 0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01,
        ]);
    } else if part == 0 {
        buf.extend_from_slice(&[0x10, 0x31, 0x2a, 0x00]);
    } else {
        buf.push(0x00);
    }
    buf.resize(buf.len() + 900, 0x5a);
}

/// [`frame`] with another second RTP byte (marker and payload type).
fn frame_with(buf: &mut Vec<u8>, i: u32, seq: u16, ts: u32, m_pt: u8) {
    frame(buf, i, seq, ts);
    // Ethernet 14 + IPv4 20 + UDP 8: the RTP header's second byte.
    buf[14 + 20 + 8 + 1] = m_pt;
}

/// Video streams too: the frame tracker (boxed when the stream is created) and the payload
/// hint computed in triage allocate nothing per packet, with loss and late packets. Loss is
/// rarer than above (every 293rd packet: about 3 gaps per stream in the window, under
/// `seq::MAX_GAPS`, as the 900 packets per stream would otherwise need the window bitmap).
#[test]
fn steady_state_video_does_not_allocate() {
    let cfg: rtcprobe::config::Config =
        toml::from_str("[payload_types]\n\"96\" = { clock_rate = 90000, codec = \"VP8\" }\n")
            .expect("config");
    let mut run = Run::new(cfg.resolve().expect("valid"));
    let mut buf = Vec::with_capacity(2048);
    let mut now: i64 = 1_700_000_000_000_000_000;
    const VIDEO: u32 = 100;
    let mut feed = |run: &mut Run, frame: u32, counting: bool| {
        for part in 0..3u32 {
            for i in 0..VIDEO {
                let k = (frame * 3 + part) * VIDEO + i;
                if k % 293 == 0 && frame != PRIME_ROUND {
                    continue;
                }
                let seq = (frame * 3 + part) as u16;
                video_frame(&mut buf, i, seq, frame, part);
                now += 100_000;
                COUNTING.with(|c| c.set(counting));
                run.frame(LinkType::Ethernet, now, &buf);
                // After every 89th packet, a late copy of the previous frame's same part: an
                // older timestamp, which the frame tracker must recognise and skip.
                if k % 89 == 0 && frame > 0 {
                    video_frame(&mut buf, i, seq.wrapping_sub(3), frame - 1, part);
                    run.frame(LinkType::Ethernet, now + 1_000, &buf);
                }
                if frame == PRIME_ROUND {
                    run.frame(LinkType::Ethernet, now + 2_000, &buf);
                }
                COUNTING.with(|c| c.set(false));
            }
        }
    };
    for f in 0..20 {
        feed(&mut run, f, false);
    }
    ALLOCS.store(0, Ordering::Relaxed);
    for f in 20..320 {
        feed(&mut run, f, true);
    }
    let allocs = ALLOCS.load(Ordering::Relaxed);
    let report = run.finish("alloc-video".into(), 1, None);
    assert_eq!(report.streams.len(), VIDEO as usize);
    let v = report.streams[0].video.as_ref().expect("a video stream");
    assert_eq!(v.frames, 320);
    assert!(
        v.keyframes.is_some_and(|k| k >= 10) && v.width == Some(640),
        "{v:?}"
    );
    assert_eq!(allocs, 0, "allocations in steady state of video streams");
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
