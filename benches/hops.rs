//! What hop matching costs a replay: the single-threaded replay path (decode, engine, and the
//! hop matcher beside it, `src/correlate/hop`) with and without the matcher, alternating in
//! one run, on two captures written once under `target/`:
//!
//! * `fanout`: 250 video senders into an SFU, each forwarded to 3 subscribers with rewritten
//!   SSRCs (1,000 streams, 250 × 4 × 240 = 240,000 packets, 750 hops paired by fingerprint);
//! * `clean` (with `HOPS_BENCH_CLEAN=1`): the 1,000-stream, 1,000,000-packet capture of
//!   `benches/replay.rs` (constant-size audio, no middlebox: the matcher's cost when there is
//!   nothing to pair).
//!
//! `cargo bench --bench hops` (`HOPS_BENCH_RUNS`, default 7; the median of each kind's thread
//! CPU time over alternating rounds: the machine is shared). The issue's
//! budget: the matcher may cost at most 15 % of replay throughput. docs/benchmarks.md has results.

use rtcprobe::capture::{FileSource, PacketSource};
use rtcprobe::config::Resolved;
use rtcprobe::replay::Run;
use rtcprobe::synth::hop::{scenario, video_in, HopScenario};
use rtcprobe::synth::pcap::TsResolution;
use rtcprobe::synth::scenarios::{write_clean_many, Format};
use rtcprobe::wire::LinkType;
use std::path::{Path, PathBuf};

const SENDERS: u32 = 250;
const PACKETS: u32 = 240;

fn fanout_scenario() -> HopScenario {
    let ingress = (0..SENDERS)
        .map(|k| {
            let mut i = video_in(1, 0x1000_0000 + k);
            i.src = format!("10.1.{}.{}:5000", k / 200, 1 + k % 200)
                .parse()
                .unwrap();
            i.upstream_loss = 0.01;
            i
        })
        .collect();
    let mut egress = Vec::new();
    for k in 0..SENDERS {
        for s in 0..3u32 {
            let mut e = rtcprobe::synth::hop::egress_to(2, k as usize);
            let n = k * 3 + s;
            e.dst = format!("10.2.{}.{}:6000", n / 200, 1 + n % 200)
                .parse()
                .unwrap();
            e.rewrite = Some((0x5E00_0000 + n, (n * 7) as u16, n * 11));
            e.inside_loss = 0.01;
            e.jitter_ns = 2_000_000;
            egress.push(e);
        }
    }
    let mut s = scenario(7, ingress, egress, PACKETS);
    // 250 senders, each sending every 10 ms: spread over 2.4 s of capture.
    s.spacing_ns = 10_000_000;
    s
}

fn captures() -> Vec<(&'static str, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&dir).expect("target dir");
    let fan = dir.join("bench-hops-fanout-250x4.pcap");
    if !fan.exists() {
        let (cap, truth) = fanout_scenario().build();
        assert_eq!(truth.hops.len(), 3 * SENDERS as usize);
        let tmp = fan.with_extension("tmp");
        let f = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("create"));
        cap.write_pcap(f, TsResolution::Micro, 65535)
            .expect("write");
        std::fs::rename(&tmp, &fan).expect("rename");
    }
    let clean = dir.join("bench-replay-1000x1M.pcap");
    if std::env::var_os("HOPS_BENCH_CLEAN").is_none() {
        return vec![("fanout", fan)];
    }
    if !clean.exists() {
        let tmp = clean.with_extension("tmp");
        let f = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("create"));
        write_clean_many(f, 1_000, 1_000_000, 1, Format::Pcap(TsResolution::Micro)).expect("write");
        std::fs::rename(&tmp, &clean).expect("rename");
    }
    vec![("fanout", fan), ("clean", clean)]
}

/// CPU time of this thread, seconds (the machine is shared: wall time counts the others).
fn cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass; the clock id is valid on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// One replay of `path`; (frames, CPU seconds, hops found).
fn replay(path: &Path, hops: bool) -> (u64, f64, usize) {
    let start = cpu_secs();
    let mut src = FileSource::open(path).expect("open");
    let link = LinkType::from_dlt(src.linktype()).expect("link type");
    let mut run = Run::new(Resolved {
        hops: true,
        ..Resolved::default()
    });
    if !hops {
        run = run.without_hops();
    }
    while let Ok(Some(f)) = src.next_frame() {
        run.frame(link, f.ts_ns, f.data);
    }
    let r = run.finish(String::new(), 1, None);
    (r.summary.frames, cpu_secs() - start, r.hops.len())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let runs: usize = std::env::var("HOPS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    println!("load average before: {}", loadavg());
    for (name, path) in captures() {
        let (mut with, mut without) = (Vec::new(), Vec::new());
        let (mut frames, mut hops) = (0, 0);
        for _ in 0..runs {
            let (n, s, h) = replay(&path, false);
            without.push(s);
            assert_eq!(h, 0);
            let (n2, s2, h2) = replay(&path, true);
            assert_eq!(n, n2);
            with.push(s2);
            (frames, hops) = (n, h2);
        }
        let (with, without) = (median(&mut with), median(&mut without));
        let (pw, pwo) = (frames as f64 / with, frames as f64 / without);
        println!(
            "{name:7}: {frames} frames, {hops} hops; CPU-time medians of {runs} alternating rounds: without matcher {pwo:>10.0} packets/s ({without:.3} s), with {pw:>10.0} packets/s ({with:.3} s): cost {:.1} % of throughput",
            100.0 * (1.0 - pw / pwo)
        );
    }
    println!("load average after: {}", loadavg());
    println!(
        "cores: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
