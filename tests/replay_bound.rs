//! Replay memory is bounded by the stream table, not by the file (issue 11): a capture with 10×
//! more streams than `max_streams` is replayed with the output rendered as streams end and
//! spilled past a small budget. A counting global allocator measures the peak of live heap
//! bytes during the replay: four times the streams cost about the same, where keeping every
//! record (the unbounded reference, [`replay_file`]) grows with the file. The output equals the
//! reference's byte for byte, and `--workers 2` prints the same bytes as one thread.

use rtcprobe::config::Resolved;
use rtcprobe::engine::EndReason;
use rtcprobe::output::spill::{Sorter, FAN_IN};
use rtcprobe::output::{self, Collector, Format, Selection, SortKey};
use rtcprobe::pipeline::feeder::Overflow;
use rtcprobe::pipeline::file::{replay_into as piped, Pace};
use rtcprobe::pipeline::Options;
use rtcprobe::replay::{replay_file, replay_file_into};
use rtcprobe::synth::churn::Churn;
use std::path::Path;
use std::sync::atomic::AtomicBool;

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

/// More than a wave of new streams ([`rtcprobe::synth::churn::WAVE`], 1,000), so that streams
/// are evicted once they are done, not while they still send (an evicted stream's next packet
/// would start a candidate that never completes and lingers 10 s in the candidate table,
/// which has its own bound, `max_candidates`).
const MAX_STREAMS: usize = 1_500;
/// Bytes of rendered streams the collector keeps in memory before spilling.
const BUDGET: usize = 64 << 10;

fn cfg() -> Resolved {
    Resolved {
        max_streams: MAX_STREAMS,
        ..Resolved::default()
    }
}

fn bounded(path: &Path, format: Format, sel: &Selection) -> (usize, Vec<u8>, usize) {
    let c = Collector::with_sorter(format, sel.clone(), false, Sorter::new(BUDGET, FAN_IN));
    let (peak, got) = peak_of(|| replay_file_into(path, &cfg(), None, c).expect("replay"));
    let (summary, c) = got;
    let in_memory = c.peak_in_memory();
    assert!(c.spilled());
    let mut out = Vec::new();
    c.write(&summary, &mut out).expect("write");
    (peak, out, in_memory)
}

fn reference(path: &Path, format: Format, sel: &Selection) -> (usize, Vec<u8>) {
    let (peak, report) = peak_of(|| replay_file(path, &cfg()).expect("replay"));
    let mut out = Vec::new();
    output::write(&report, format, sel, false, &mut out).expect("write");
    (peak, out)
}

#[test]
fn replay_memory_is_bounded_by_the_table_and_the_output_is_unchanged() {
    let dir = std::env::temp_dir().join(format!("rtcprobe-replay-bound-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let _cleanup = Cleanup(&dir);
    let all = Selection::default();
    let mut peaks = Vec::new();
    for streams in [4_000u32, 16_000] {
        let path = dir.join(format!("{streams}.pcap"));
        let churn = Churn {
            streams,
            packets: 4,
            one_pair: false,
        };
        let f = std::fs::File::create(&path).expect("create");
        churn.write(std::io::BufWriter::new(f)).expect("write");

        let (peak, out, in_memory) = bounded(&path, Format::Json, &all);
        let (ref_peak, want) = reference(&path, Format::Json, &all);
        assert!(
            out == want,
            "{streams} streams: JSON differs from the reference"
        );
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        assert_eq!(doc["summary"]["streams"], streams);
        assert_eq!(
            doc["summary"]["counters"]["streams_evicted"],
            streams - 1_500
        );
        assert_eq!(
            doc["streams"].as_array().map(Vec::len),
            Some(streams as usize)
        );
        // Records held in memory at once: what fits the budget (a JSON stream is ~1 KB).
        assert!(in_memory <= BUDGET / 512, "{in_memory} records held");
        println!("{streams} streams: peak {peak} B bounded, {ref_peak} B keeping every record");
        peaks.push((peak, ref_peak));

        if streams > 4_000 {
            continue;
        }
        // Worst first and the first few, in a table: also equal.
        let sel = Selection {
            sort: Some(SortKey::Packets),
            top: Some(10),
            ..Selection::default()
        };
        let (_, out, _) = bounded(&path, Format::Table, &sel);
        assert_eq!(out, reference(&path, Format::Table, &sel).1);

        // Two pipeline workers end streams side by side: the same bytes as one thread. (With
        // the default table: each worker's table holds `max_streams`, so with evictions the
        // workers would keep other streams than one thread does.)
        let c = Collector::with_sorter(Format::Json, all.clone(), false, Sorter::new(BUDGET, 4));
        let opts = Options {
            workers: 2,
            queue_batches: 64,
            batch_events: 64,
            snapshot_interval: std::time::Duration::from_secs(1),
            overflow: Overflow::Wait,
            end_reason: EndReason::EndOfCapture,
            labels: None,
            ended_linger: std::time::Duration::ZERO,
        };
        let stop = AtomicBool::new(false);
        let (summary, c) = piped(
            &path,
            &Resolved::default(),
            &opts,
            Pace::Fast,
            &stop,
            std::time::Duration::ZERO,
            None,
            &mut |_| {},
            c,
        )
        .expect("pipeline replay");
        let mut piped_out = Vec::new();
        c.write(&summary, &mut piped_out).expect("write");
        let c = Collector::with_sorter(Format::Json, all.clone(), false, Sorter::new(BUDGET, 4));
        let (summary, c) = replay_file_into(&path, &Resolved::default(), None, c).expect("replay");
        let mut single = Vec::new();
        c.write(&summary, &mut single).expect("write");
        assert!(piped_out == single, "--workers 2 differs from one thread");
    }
    let [(small, _), (large, large_ref)] = peaks[..] else {
        unreachable!()
    };
    // Four times the streams: the bounded replay's peak stays within a quarter (plus slack
    // for the allocator's rounding); keeping every record costs several times more.
    assert!(
        large <= small + small / 4 + (64 << 10),
        "peak grew with the file: {small} B → {large} B"
    );
    assert!(
        large_ref > 2 * large,
        "the reference should grow with the file: {large_ref} B vs {large} B bounded"
    );
}

/// Removes the temporary directory even when an assertion fails.
struct Cleanup<'a>(&'a Path);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0);
    }
}
