//! End-to-end replay throughput: a 1,000-stream, 1,000,000-packet synthetic capture (written
//! once to `target/bench-replay-1000x1M.pcap`), read (a) by a bare libpcap loop that only touches
//! each packet, and (b) by `rtcprobe replay`'s full decode-and-track path, single-threaded.
//! Prints packets per second for both and their ratio; docs/benchmarks.md records the results.
//!
//! `cargo bench --bench replay` (set `REPLAY_BENCH_RUNS`, default 5; the best run is reported,
//! as the least disturbed by the rest of the machine).

use rtcprobe::config::Resolved;
use rtcprobe::engine::EndReason;
use rtcprobe::pipeline::feeder::Overflow;
use rtcprobe::pipeline::file::{replay as piped, Pace};
use rtcprobe::pipeline::Options;
use rtcprobe::replay::replay_file;
use rtcprobe::synth::pcap::TsResolution;
use rtcprobe::synth::scenarios::{write_clean_many, Format};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

const STREAMS: u32 = 1_000;
const PACKETS: u64 = 1_000_000;

fn capture() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let path = dir.join("bench-replay-1000x1M.pcap");
    if !path.exists() {
        std::fs::create_dir_all(&dir).expect("target dir");
        let tmp = path.with_extension("tmp");
        let f = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("create capture"));
        write_clean_many(f, STREAMS, PACKETS, 1, Format::Pcap(TsResolution::Micro))
            .expect("write capture");
        std::fs::rename(&tmp, &path).expect("rename capture");
    }
    path
}

/// The baseline: libpcap hands out every packet and we only sum the lengths.
fn bare_libpcap(path: &Path) -> (u64, f64) {
    let start = Instant::now();
    let mut cap = pcap::Capture::from_file(path).expect("open");
    let (mut n, mut bytes) = (0u64, 0u64);
    while let Ok(p) = cap.next_packet() {
        n += 1;
        bytes = bytes.wrapping_add(p.data.len() as u64);
    }
    std::hint::black_box(bytes);
    (n, start.elapsed().as_secs_f64())
}

fn full_replay(path: &Path) -> (u64, f64, usize) {
    let start = Instant::now();
    let report = replay_file(path, &Resolved::default()).expect("replay");
    let secs = start.elapsed().as_secs_f64();
    (report.summary.frames, secs, report.streams.len())
}

/// The same file through the live pipeline: the reading thread decodes and routes, `workers`
/// shard workers run the engines (waiting on full queues, so nothing is dropped).
fn pipeline_replay(path: &Path, workers: usize) -> (u64, f64, usize) {
    let opts = Options {
        workers,
        queue_batches: 512,
        batch_events: 64,
        snapshot_interval: std::time::Duration::from_secs(1),
        overflow: Overflow::Wait,
        end_reason: EndReason::EndOfCapture,
        labels: None,
        ended_linger: std::time::Duration::ZERO,
    };
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let report = piped(
        path,
        &Resolved::default(),
        &opts,
        Pace::Fast,
        &stop,
        std::time::Duration::ZERO,
        None,
        &mut |_| {},
    )
    .expect("pipeline replay");
    let secs = start.elapsed().as_secs_f64();
    (report.summary.frames, secs, report.streams.len())
}

fn main() {
    // `cargo test --benches` / `cargo bench --no-run` must not run the long benchmark.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let path = capture();
    let runs: usize = std::env::var("REPLAY_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut best_bare = f64::MAX;
    let mut best_full = f64::MAX;
    let (mut frames, mut streams) = (0, 0);
    for _ in 0..runs {
        let (n, s) = bare_libpcap(&path);
        best_bare = best_bare.min(s);
        frames = n;
        let (n2, s2, st) = full_replay(&path);
        assert_eq!(n, n2);
        best_full = best_full.min(s2);
        streams = st;
    }
    assert_eq!(streams, STREAMS as usize, "every stream reported");
    let worker_counts = [1usize, 2, 3];
    let mut best_piped = [f64::MAX; 3];
    for _ in 0..runs {
        for (best, &w) in best_piped.iter_mut().zip(&worker_counts) {
            let (n, s, st) = pipeline_replay(&path, w);
            assert_eq!((n, st), (frames, streams));
            *best = best.min(s);
        }
    }
    let bare_pps = frames as f64 / best_bare;
    let full_pps = frames as f64 / best_full;
    println!(
        "capture: {} ({frames} frames, {streams} streams)",
        path.display()
    );
    println!(
        "bare libpcap loop : {:>12.0} packets/s ({best_bare:.3} s)",
        bare_pps
    );
    println!(
        "rtcprobe replay   : {:>12.0} packets/s ({best_full:.3} s)",
        full_pps
    );
    println!("ratio             : {:.1} %", 100.0 * full_pps / bare_pps);
    for (best, w) in best_piped.iter().zip(worker_counts) {
        let pps = frames as f64 / best;
        println!(
            "pipeline, {w} worker{}: {:>12.0} packets/s ({best:.3} s, {:.2}x single-threaded)",
            if w == 1 { " " } else { "s" },
            pps,
            pps / full_pps
        );
    }
    println!(
        "cores: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
