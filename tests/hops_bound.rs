//! Hop output is bounded like stream output (issue 10): a capture with 4× more middlebox hops
//! (waves of 1→3 fan-out calls, each wave idle-expired before the next) is replayed with hops
//! and streams rendered as they end and spilled past a small budget. A counting global
//! allocator measures the peak of live heap bytes: four times the hops cost about the same.
//! And `replay --workers 3` (the pipeline) prints the same bytes as one thread.

use rtcprobe::config::Resolved;
use rtcprobe::engine::EndReason;
use rtcprobe::output::spill::Sorter;
use rtcprobe::output::{Collector, Format, Selection};
use rtcprobe::pipeline::feeder::Overflow;
use rtcprobe::pipeline::file::{replay_into as piped, Pace};
use rtcprobe::pipeline::Options;
use rtcprobe::replay::replay_file_into;
use rtcprobe::synth::hop::{egress_to, scenario, video_in};
use rtcprobe::synth::{PcapWriter, TsResolution};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[path = "common/peak.rs"]
mod peak;

#[global_allocator]
static GLOBAL: peak::Counting = peak::Counting;

/// Senders per wave; each is forwarded to 3 subscribers with rewritten SSRCs.
const SENDERS: u32 = 8;
/// Idle timeout: a wave's streams (and hops) end before the next wave starts.
const IDLE_SECS: u64 = 2;
/// Bytes of rendered streams (and of hops) held before spilling.
const BUDGET: usize = 16 << 10;

fn cfg() -> Resolved {
    Resolved {
        idle_timeout_ns: (IDLE_SECS * 1_000_000_000) as i64,
        hops: true,
        ..Resolved::default()
    }
}

/// `waves` waves of [`SENDERS`] fan-out calls, 150 packets each, 5 s apart; hops per wave.
fn write(path: &Path, waves: u32) -> usize {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = PcapWriter::new(f, 1, 65535, TsResolution::Nano).unwrap();
    let mut hops = 0;
    for wave in 0..waves {
        let ingress = (0..SENDERS)
            .map(|k| {
                let mut i = video_in(1, 0x1000_0000 + wave * 100 + k);
                i.src = format!("10.1.{wave}.{}:5000", 1 + k).parse().unwrap();
                i.upstream_loss = 0.01;
                i
            })
            .collect();
        let mut egress = Vec::new();
        for k in 0..SENDERS {
            for s in 0..3u32 {
                let mut e = egress_to(2, k as usize);
                let n = k * 3 + s;
                e.dst = format!("10.2.{wave}.{}:6000", 1 + n).parse().unwrap();
                e.rewrite = Some((0x5E00_0000 + wave * 100 + n, (n * 7) as u16, n * 11));
                e.inside_loss = 0.01;
                egress.push(e);
            }
        }
        let mut s = scenario(u64::from(wave), ingress, egress, 150);
        s.start_ns += i64::from(wave) * 5_000_000_000;
        let (cap, truth) = s.build();
        hops += truth.hops.len();
        for f in &cap.frames {
            w.write_frame(f.ts_ns, &f.bytes).unwrap();
        }
    }
    w.into_inner().unwrap();
    hops
}

fn collector() -> Collector {
    Collector::with_sorter(
        Format::Json,
        Selection::default(),
        false,
        Sorter::new(BUDGET, 4),
    )
    .with_hop_sorter(Sorter::new(BUDGET, 4))
}

#[test]
fn hop_output_memory_does_not_grow_with_the_hops_and_workers_print_the_same_bytes() {
    let dir = std::env::temp_dir().join(format!("rtcprobe-hops-bound-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = Cleanup(&dir);
    let mut peaks = Vec::new();
    for waves in [4u32, 16] {
        let path = dir.join(format!("waves-{waves}.pcap"));
        let truth_hops = write(&path, waves);
        let base = peak::start();
        let (summary, c) = replay_file_into(&path, &cfg(), None, collector()).unwrap();
        let peak = peak::since(base);
        assert!(c.peak_hops_in_memory() < truth_hops, "hops spilled");
        let mut single = Vec::new();
        c.write(&summary, &mut single).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&single).unwrap();
        assert_eq!(json["hops"].as_array().unwrap().len(), truth_hops);
        assert_eq!(truth_hops, 3 * (SENDERS * waves) as usize);
        peaks.push(peak);
        let opts = Options {
            workers: 3,
            queue_batches: 64,
            batch_events: 64,
            snapshot_interval: Duration::from_millis(100),
            overflow: Overflow::Wait,
            end_reason: EndReason::EndOfCapture,
            labels: None,
            ended_linger: Duration::ZERO,
        };
        let stop = AtomicBool::new(false);
        let (summary, c) = piped(
            &path,
            &cfg(),
            &opts,
            Pace::Fast,
            &stop,
            Duration::ZERO,
            None,
            &mut |_| {},
            collector(),
        )
        .unwrap();
        let mut workers = Vec::new();
        c.write(&summary, &mut workers).unwrap();
        assert!(single == workers, "--workers 3 differs from one thread");
    }
    let (small, large) = (peaks[0], peaks[1]);
    eprintln!("peak live heap: {small} B for 4 waves, {large} B for 16");
    assert!(
        large <= small + small / 4 + (64 << 10),
        "peak grew with the hops: {small} B → {large} B"
    );
}

/// Removes the temporary directory even when an assertion fails.
struct Cleanup<'a>(&'a Path);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0);
    }
}
