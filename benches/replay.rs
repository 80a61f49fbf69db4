//! End-to-end replay throughput: a 1,000-stream, 1,000,000-packet synthetic capture (written
//! once to `target/bench-replay-1000x1M.pcap`), read (a) by a bare libpcap loop
//! (`pcap_next_ex` through the `pcap` crate) that only touches each packet, (b) by
//! [`FileSource`]'s frame loop alone (the block reader), and (c) by `rtcprobe replay`'s full
//! decode-and-track path, single-threaded; then (d) through the live pipeline with 1, 2 and 3
//! shard workers, and (e) by `replay --workers N` as the CLI runs it ([`replay_workers`]).
//!
//! The readers run alternately, one after the other in each round (bare, block, replay, bare,
//! …), so that the load of a shared machine hits all of them alike; each round gives a ratio
//! to the bare loop, and the median of the rounds is reported with the load average.
//!
//! Each round also replays the file without the per-packet audio state
//! (`engine.audio_quality = false`): what the quality estimate's per-packet work costs
//! (issue 14's budget: at most 10 %).
//!
//! `cargo bench --bench replay` (`REPLAY_BENCH_RUNS` rounds, default 7;
//! `REPLAY_BENCH_SINGLE_ONLY=1` skips the pipeline part).

use rtcprobe::capture::{FileSource, PacketSource};
use rtcprobe::config::Resolved;
use rtcprobe::engine::EndReason;
use rtcprobe::pipeline::feeder::Overflow;
use rtcprobe::pipeline::file::{replay as piped, replay_workers, Pace};
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

/// The baseline: libpcap's `pcap_next_ex` hands out every packet; we read its first and last
/// byte and sum the lengths.
fn bare_libpcap(path: &Path) -> (u64, f64) {
    let start = Instant::now();
    let mut cap =
        pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano).expect("open");
    let (mut n, mut sum) = (0u64, 0u64);
    while let Ok(p) = cap.next_packet() {
        n += 1;
        let edge = p
            .data
            .first()
            .map_or(0, |b| *b ^ p.data.last().map_or(0, |b| *b));
        sum = sum.wrapping_add(p.data.len() as u64 + u64::from(edge));
    }
    std::hint::black_box(sum);
    (n, start.elapsed().as_secs_f64())
}

/// The same touch through rtcprobe's own file reader (the block reader for classic pcap).
fn frame_loop(path: &Path) -> (u64, f64) {
    let start = Instant::now();
    let mut src = FileSource::open(path).expect("open");
    let (mut n, mut sum) = (0u64, 0u64);
    while let Ok(Some(f)) = src.next_frame() {
        n += 1;
        let edge = f
            .data
            .first()
            .map_or(0, |b| *b ^ f.data.last().map_or(0, |b| *b));
        sum = sum.wrapping_add(f.data.len() as u64 + u64::from(edge));
    }
    std::hint::black_box(sum);
    (n, start.elapsed().as_secs_f64())
}

fn full_replay(path: &Path) -> (u64, f64, usize) {
    full_replay_with(path, &Resolved::default())
}

fn full_replay_with(path: &Path, cfg: &Resolved) -> (u64, f64, usize) {
    let start = Instant::now();
    let report = replay_file(path, cfg).expect("replay");
    let secs = start.elapsed().as_secs_f64();
    (report.summary.frames, secs, report.streams.len())
}

fn options(workers: usize) -> Options {
    Options {
        workers,
        queue_batches: 512,
        batch_events: 64,
        snapshot_interval: std::time::Duration::from_secs(1),
        overflow: Overflow::Wait,
        end_reason: EndReason::EndOfCapture,
        labels: None,
        ended_linger: std::time::Duration::ZERO,
    }
}

/// The same file through the live pipeline: the reading thread decodes and routes, `workers`
/// shard workers run the engines (waiting on full queues, so nothing is dropped).
fn pipeline_replay(path: &Path, workers: usize) -> (u64, f64, usize) {
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let report = piped(
        path,
        &Resolved::default(),
        &options(workers),
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

/// `replay --workers N` as the CLI runs it: the pipeline or the single thread, whichever
/// [`replay_workers`] picks for N on this machine.
fn cli_workers(path: &Path, workers: usize) -> (u64, f64, usize) {
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let report = replay_workers(path, &Resolved::default(), &options(workers), &stop, None)
        .expect("replay --workers");
    let secs = start.elapsed().as_secs_f64();
    (report.summary.frames, secs, report.streams.len())
}

/// CPU time of the calling thread, seconds: on a shared machine the single-threaded readers
/// are compared by it as well as by wall time, which the other builds' load stretches.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
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
        .unwrap_or(7)
        .max(1);
    let load_before = loadavg();
    let (mut bare, mut block, mut full) = (Vec::new(), Vec::new(), Vec::new());
    let (mut block_ratio, mut full_ratio) = (Vec::new(), Vec::new());
    let (mut frames, mut streams) = (0, 0);
    let (mut cpu_block_ratio, mut cpu_full_ratio, mut cpu_bare) =
        (Vec::new(), Vec::new(), Vec::new());
    // Issue 14's budget: the same replay without the per-packet audio state
    // (`engine.audio_quality = false`), in the same rounds, by CPU time.
    let no_quality = Resolved {
        audio_quality: false,
        ..Resolved::default()
    };
    let mut quality_cost = Vec::new();
    for round in 0..runs {
        // Without the audio state before the full replay in odd rounds, after it in even ones:
        // neither gets the other's warm caches every time.
        let off_first = round % 2 == 1;
        let off_before = off_first.then(|| {
            let c = thread_cpu();
            let (n, _, _) = full_replay_with(&path, &no_quality);
            (n, thread_cpu() - c)
        });
        let c0 = thread_cpu();
        let (n, s) = bare_libpcap(&path);
        let c1 = thread_cpu();
        let (n1, s1) = frame_loop(&path);
        let c2 = thread_cpu();
        let (n2, s2, st) = full_replay(&path);
        let c3 = thread_cpu();
        let (n3, off_cpu) = off_before.unwrap_or_else(|| {
            let (n, _, _) = full_replay_with(&path, &no_quality);
            (n, thread_cpu() - c3)
        });
        assert_eq!(n3, n2);
        quality_cost.push((c3 - c2) / off_cpu - 1.0);
        cpu_bare.push(c1 - c0);
        cpu_block_ratio.push((c1 - c0) / (c2 - c1));
        cpu_full_ratio.push((c1 - c0) / (c3 - c2));
        assert_eq!((n, n1), (n2, n2));
        bare.push(s);
        block.push(s1);
        full.push(s2);
        block_ratio.push(s / s1);
        full_ratio.push(s / s2);
        (frames, streams) = (n, st);
    }
    assert_eq!(streams, STREAMS as usize, "every stream reported");
    let pps = |secs: f64| frames as f64 / secs;
    println!(
        "capture: {} ({frames} frames, {streams} streams), {runs} alternating rounds, load {load_before} -> {}",
        path.display(),
        loadavg()
    );
    println!(
        "bare libpcap loop : {:>12.0} packets/s (median)",
        pps(median(&mut bare))
    );
    println!(
        "FileSource loop   : {:>12.0} packets/s (median), {:.2}x the bare loop (median of rounds)",
        pps(median(&mut block)),
        median(&mut block_ratio)
    );
    println!(
        "rtcprobe replay   : {:>12.0} packets/s (median), {:.2}x the bare loop (median of rounds; {})",
        pps(median(&mut full)),
        median(&mut full_ratio.clone()),
        full_ratio
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "by CPU time       : bare loop {:.3} s; FileSource loop {:.2}x, replay {:.2}x the bare loop (medians; replay: {})",
        median(&mut cpu_bare),
        median(&mut cpu_block_ratio),
        median(&mut cpu_full_ratio.clone()),
        cpu_full_ratio
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "quality (audio state): replay takes {:+.1} % CPU time with it than without (median; rounds: {})",
        100.0 * median(&mut quality_cost.clone()),
        quality_cost
            .iter()
            .map(|r| format!("{:+.1}", 100.0 * r))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if std::env::var_os("REPLAY_BENCH_SINGLE_ONLY").is_some() {
        return;
    }
    // The pipeline against the single thread, alternately as well.
    let worker_counts = [1usize, 2, 3];
    let mut piped_ratio = vec![Vec::new(); worker_counts.len()];
    let mut cli_ratio = vec![Vec::new(); worker_counts.len()];
    let load_before = loadavg();
    for _ in 0..runs {
        for (i, &w) in worker_counts.iter().enumerate() {
            let (_, single, _) = full_replay(&path);
            let (n, s, st) = pipeline_replay(&path, w);
            assert_eq!((n, st), (frames, streams));
            let (n, c, st) = cli_workers(&path, w);
            assert_eq!((n, st), (frames, streams));
            piped_ratio[i].push(single / s);
            cli_ratio[i].push(single / c);
        }
    }
    println!(
        "pipeline vs single thread, load {load_before} -> {}",
        loadavg()
    );
    for (i, w) in worker_counts.iter().enumerate() {
        println!(
            "pipeline, {w} worker(s): {:.2}x single-threaded; replay --workers {w}: {:.2}x (medians of {runs})",
            median(&mut piped_ratio[i]),
            median(&mut cli_ratio[i]),
        );
    }
    println!(
        "cores: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
