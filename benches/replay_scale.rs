//! Replay scaling, end to end: the real `rtcprobe replay FILE --format json > /dev/null` (file →
//! decode → engine → output) on synthetic captures of 10k, 100k and 1M streams × 4 RTP packets
//! ([`rtcprobe::synth::churn`]: one address pair and many, 5 µs apart, waves of 1,000), with the
//! default limits and with `max_streams` 10,000, and 1M single-packet candidates.
//!
//! Each case is a child process of the binary; its CPU time (user + system) and peak RSS
//! (`ru_maxrss`) come from `wait4`, so the numbers are the replay's own, output included. The
//! child runs under `prlimit --cpu` (`SCALE_BENCH_CPU_LIMIT` seconds, default 300). Captures are
//! written to a temporary directory (`$TMPDIR`; a 1M × 4 file is about 360 MB), used by the
//! cases that need them and deleted.
//!
//! `cargo bench --bench replay_scale` (`SCALE_BENCH_MAX` caps the stream count, default
//! 1,000,000; `SCALE_BENCH_ONLY` runs the cases whose name contains it). docs/benchmarks.md
//! records results.

use rtcprobe::synth::churn::Churn;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rtcprobe");

fn name(c: &Churn, max_streams: Option<u32>) -> String {
    format!(
        "{}x{}/{}/{}",
        c.streams,
        c.packets,
        if c.one_pair { "one-pair" } else { "many-pairs" },
        max_streams.map_or("default".to_string(), |m| format!("max_streams={m}"))
    )
}

/// The captures and, for each, the `max_streams` values to replay it with.
fn plan(max: u32) -> Vec<(Churn, Vec<Option<u32>>)> {
    let mut v = Vec::new();
    for streams in [10_000u32, 100_000, 1_000_000] {
        for one_pair in [false, true] {
            v.push((
                Churn {
                    streams,
                    packets: 4,
                    one_pair,
                },
                vec![None, Some(10_000)],
            ));
        }
    }
    for one_pair in [false, true] {
        v.push((
            Churn {
                streams: 1_000_000,
                packets: 1,
                one_pair,
            },
            vec![None, Some(10_000)],
        ));
    }
    v.retain(|(c, _)| c.streams <= max);
    v
}

/// CPU seconds (user + system) and peak RSS (KiB) of the finished child `pid`, and whether it
/// exited 0.
fn wait(pid: u32) -> (f64, i64, bool) {
    let mut status = 0;
    // SAFETY: wait4 writes into the zeroed rusage and the status we pass; pid is our child.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    let ok = r > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (t(u.ru_utime) + t(u.ru_stime), u.ru_maxrss, ok)
}

fn run(file: &Path, config: Option<&Path>, limit: u64) -> (f64, i64, bool) {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--cpu={limit}"))
        .arg(BIN)
        .arg("replay")
        .arg(file)
        .args(["--format", "json"]);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run rtcprobe");
    // Reaped by wait4, not by std: the Child is forgotten.
    let pid = child.id();
    std::mem::forget(child);
    wait(pid)
}

fn main() {
    let max = std::env::var("SCALE_BENCH_MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let limit: u64 = std::env::var("SCALE_BENCH_CPU_LIMIT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let only = std::env::var("SCALE_BENCH_ONLY").unwrap_or_default();
    let dir: PathBuf =
        std::env::temp_dir().join(format!("rtcprobe-replay-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("max_streams_10000.toml");
    std::fs::write(&config, "[engine]\nmax_streams = 10000\n").expect("config");
    println!("{BIN}");
    for (churn, limits) in plan(max) {
        let wanted: Vec<Option<u32>> = limits
            .into_iter()
            .filter(|m| name(&churn, *m).contains(&only))
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let file = dir.join("capture.pcap");
        let f = std::fs::File::create(&file).expect("create capture");
        let frames = churn
            .write(std::io::BufWriter::with_capacity(1 << 20, f))
            .expect("write capture");
        let size = std::fs::metadata(&file).map_or(0, |m| m.len());
        for m in wanted {
            let (cpu, rss, ok) = run(&file, m.map(|_| config.as_path()), limit);
            println!(
                "{:<40} {frames:>8} frames {:>6.0} MB  cpu {:>7.2} s  {:>6.2} µs/frame  \
                 peak RSS {:>7.1} MiB{}",
                name(&churn, m),
                size as f64 / 1e6,
                cpu,
                cpu * 1e6 / frames as f64,
                rss as f64 / 1024.0,
                if ok { "" } else { "  (FAILED or stopped)" }
            );
        }
        std::fs::remove_file(&file).ok();
    }
    std::fs::remove_dir_all(&dir).ok();
}
