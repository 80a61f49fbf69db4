//! Issue 12, metric accuracy:
//!
//! 1. `rtcprobe_rtp_lost_packets_total` (docs/metrics.md, "What … counts") replayed through the
//!    live pipeline with a snapshot every millisecond: it never decreases, never exceeds the
//!    streams' final loss, and at the end equals the sum of the final `lost + duplicates`
//!    (at least 0 per stream) of `replay --format json`, for every fixture.
//! 2. A stream that ended by BYE keeps its per-stream series for
//!    `exporter.ended_series_linger_secs`, with its final values: the last scrape that shows it
//!    equals its entry in `replay --format json`.

mod common;

use common::{bin, free_port, http_get, wait_for, Scratch};
use rtcprobe::config::{ExporterConfig, Resolved};
use rtcprobe::engine::EndReason;
use rtcprobe::export::labels::Labeller;
use rtcprobe::pipeline::file::{replay, Pace};
use rtcprobe::pipeline::snapshot::Board;
use rtcprobe::pipeline::{feeder::Overflow, Options};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    v
}

/// `replay --format json FILE` (a damaged file exits 3 with its partial report).
fn json_report(path: &Path) -> Value {
    let out = bin()
        .args(["replay", "--format", "json"])
        .arg(path)
        .output()
        .expect("replay");
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// The aggregate lost counter summed over label sets and workers.
fn aggregate_lost(board: &Board) -> u64 {
    board
        .shards
        .iter()
        .filter_map(|s| s.load().aggregates.clone())
        .map(|a| a.counters.iter().map(|(_, v)| v.lost).sum::<u64>())
        .sum()
}

#[test]
fn aggregate_lost_equals_the_final_losses_of_every_fixture() {
    let labels = Arc::new(Labeller::new(&ExporterConfig::default(), vec![]));
    let opts = Options {
        workers: 2,
        queue_batches: 4,
        batch_events: 8,
        snapshot_interval: Duration::from_millis(1),
        overflow: Overflow::Wait,
        end_reason: EndReason::EndOfCapture,
        labels: Some(labels),
        ended_linger: Duration::ZERO,
    };
    let mut checked = 0;
    for path in fixtures() {
        let streams = json_report(&path)["streams"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let want: u64 = streams
            .iter()
            .map(|s| {
                let lost = s["lost"].as_i64().expect("lost");
                let dup = s["duplicates"].as_i64().expect("duplicates");
                u64::try_from(lost + dup).unwrap_or(0)
            })
            .sum();
        let stop = AtomicBool::new(false);
        let done = Arc::new(AtomicBool::new(false));
        let mut watcher = None;
        let mut board = None;
        let report = replay(
            &path,
            &Resolved::default(),
            &opts,
            Pace::Fast,
            &stop,
            Duration::ZERO,
            None,
            &mut |p| {
                // Watch the counter while the capture is replayed.
                let (b, d) = (Arc::clone(&p.board), Arc::clone(&done));
                board = Some(Arc::clone(&p.board));
                watcher = Some(std::thread::spawn(move || {
                    let mut seen = vec![0];
                    while !d.load(Ordering::Relaxed) {
                        seen.push(aggregate_lost(&b));
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    seen
                }));
            },
        );
        done.store(true, Ordering::Relaxed);
        let seen = watcher.expect("started").join().expect("watcher");
        let _ = report;
        let end = aggregate_lost(&board.expect("board"));
        assert!(
            seen.windows(2).all(|w| w[0] <= w[1]),
            "{}: the counter went down: {seen:?}",
            path.display()
        );
        assert!(
            seen.iter().all(|&v| v <= want),
            "{}: counted more than the final loss {want}: {seen:?}",
            path.display()
        );
        assert_eq!(end, want, "{}", path.display());
        eprintln!(
            "{}: {} streams, aggregate lost {end} = sum of final lost + duplicates; {} values seen while replaying",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
            streams.len(),
            seen.len()
        );
        checked += 1;
    }
    assert!(checked >= 10, "{checked} fixtures");
}

#[test]
fn a_bye_streams_last_scrape_equals_the_json_report() {
    let fixture = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/sample-sfu.pcap"
    ));
    let report = json_report(fixture);
    let bye = report["streams"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["ended_by"] == "bye"))
        .cloned()
        .expect("the fixture has a stream that ends by BYE");
    let dir = Scratch::new("bye-linger");
    let cfg = dir.path("rtcprobe.toml");
    std::fs::write(
        &cfg,
        "[exporter]\nper_stream_series = true\nended_series_linger_secs = 60\n",
    )
    .expect("config");
    let port = free_port();
    let mut child = common::Proc(
        bin()
            .args([
                "replay",
                "--format",
                "json",
                "--workers",
                "1",
                "--linger",
                "4",
            ])
            .args(["--listen", &format!("127.0.0.1:{port}"), "--config"])
            .arg(&cfg)
            .arg(fixture)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("replay"),
    );
    let ssrc = bye["ssrc"].as_u64().expect("ssrc");
    let series = |scrape: &str, name: &str| -> Option<f64> {
        let prefix = format!("{name}{{ssrc=\"{ssrc}\",");
        scrape
            .lines()
            .find(|l| l.starts_with(&prefix))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    // While the capture's other streams linger live, the BYE stream (ended during the replay)
    // is still scraped, with its final values.
    let scrape = wait_for(
        "the BYE stream's final series",
        Duration::from_secs(20),
        || {
            let s = http_get(&format!("http://127.0.0.1:{port}/metrics")).ok()?;
            let packets = series(&s, "rtcprobe_stream_packets_total")?;
            (packets == bye["packets"].as_f64()?).then_some(s)
        },
    );
    let want = |k: &str| bye[k].as_f64().unwrap_or(f64::NAN);
    assert_eq!(
        series(&scrape, "rtcprobe_stream_bytes_total"),
        Some(want("bytes"))
    );
    assert_eq!(
        series(&scrape, "rtcprobe_stream_lost_packets"),
        Some(want("lost"))
    );
    let jitter = series(&scrape, "rtcprobe_stream_jitter_seconds").expect("jitter");
    assert!(
        (jitter - want("jitter_ms") / 1e3).abs() < 1e-9,
        "{jitter} vs {}",
        want("jitter_ms")
    );
    // Scraped again a second later: still there, unchanged (it lingers 60 s).
    std::thread::sleep(Duration::from_secs(1));
    if let Ok(again) = http_get(&format!("http://127.0.0.1:{port}/metrics")) {
        assert_eq!(
            series(&again, "rtcprobe_stream_packets_total"),
            Some(want("packets"))
        );
    }
    child.kill();
    eprintln!(
        "BYE stream {ssrc:#x}: scraped after its end with packets {}, lost {}, as in the JSON",
        want("packets"),
        want("lost")
    );
}
