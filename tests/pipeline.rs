//! The live pipeline against the single-threaded engine, and under overload.
//!
//! * Replaying through the pipeline (capture thread → SSRC-sharded workers) gives exactly the
//!   same report as the single-threaded replay, for every fixture and the generated impairment
//!   mixes, with 1, 2, 3 and 7 workers, including the RTTs that pair two SSRCs (`sr_chain`,
//!   `end_to_end`) when those SSRCs live in different shards (src/engine/foreign.rs).
//! * The same without worker threads ([`Pipeline::start_inline`], `rtcprobe run` where
//!   workers do not pay): the capture thread runs the one worker.
//! * Workers held back: the queues fill, the capture side drops and counts without blocking,
//!   allocates a bounded number of batches, and the streams that lost packets in the probe are
//!   flagged with the exact count, kept out of their network loss.

use rtcprobe::config::Resolved;
use rtcprobe::engine::EndReason;
use rtcprobe::pipeline::feeder::Overflow;
use rtcprobe::pipeline::file::{replay as piped, Pace};
use rtcprobe::pipeline::worker::RecordsOut;
use rtcprobe::pipeline::{Options, Pipeline};
use rtcprobe::replay::{replay_file, Report};
use rtcprobe::synth::frame::Encap;
use rtcprobe::synth::pcap::{PcapWriter, TsResolution};
use rtcprobe::synth::scenarios::{clean_many, impaired_mix_on};
use rtcprobe::synth::tcp::{over_tcp, Split, TcpFraming, TcpPlan};
use rtcprobe::wire::LinkType;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn opts(workers: usize) -> Options {
    Options {
        workers,
        queue_batches: 64,
        batch_events: 64,
        snapshot_interval: Duration::from_millis(100),
        overflow: Overflow::Wait,
        end_reason: EndReason::EndOfCapture,
        labels: None,
        ended_linger: Duration::ZERO,
    }
}

fn through_pipeline(path: &Path, workers: usize) -> Report {
    let stop = AtomicBool::new(false);
    piped(
        path,
        &Resolved::default(),
        &opts(workers),
        Pace::Fast,
        &stop,
        std::time::Duration::ZERO,
        None,
        &mut |_| {},
    )
    .expect("pipeline replay")
}

/// Streams keyed by (src, dst, ssrc), as JSON values.
fn streams(r: &Report) -> Vec<((String, String, u32), Value)> {
    let mut v: Vec<_> = r
        .streams
        .iter()
        .map(|s| {
            let key = (s.src.clone(), s.dst.clone(), s.ssrc);
            (key, serde_json::to_value(s).expect("json"))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn without_one_way(
    mut v: Vec<((String, String, u32), Value)>,
) -> Vec<((String, String, u32), Value)> {
    for (_, s) in &mut v {
        if let Some(Value::Array(f)) = s.get_mut("findings") {
            f.retain(|x| x["code"] != "one_way_media");
        }
    }
    v
}

/// Every fixture plus two generated impairment mixes (written once per test binary).
fn captures() -> Vec<PathBuf> {
    static ONCE: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    ONCE.get_or_init(make_captures).clone()
}

fn make_captures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".pcap") || name.ends_with(".pcapng")
        })
        .collect();
    v.sort();
    let scratch = std::env::temp_dir().join(format!("rtcprobe-pipeline-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    for seed in [1u64, 42] {
        let path = scratch.join(format!("mix-{seed}.pcap"));
        let cap = impaired_mix_on(seed, Some(Encap::Ethernet)).build();
        let f = std::fs::File::create(&path).expect("create");
        cap.write_pcap(f, TsResolution::Nano, 65_535)
            .expect("write");
        v.push(path);
    }
    // The first mix again with its IPv4 UDP carried over TCP (RFC 4571, random splits,
    // retransmissions, reordering): the capture thread's TCP stage must give the same frames
    // whatever the worker count.
    let cap = impaired_mix_on(1, Some(Encap::Ethernet)).build();
    let plan = TcpPlan {
        retransmit_every: Some(5),
        reorder_every: Some(4),
        ..TcpPlan::clean(TcpFraming::Rfc4571, Split::Random { seed: 7, cuts: 2 })
    };
    let path = scratch.join("mix-1-tcp.pcap");
    let f = std::fs::File::create(&path).expect("create");
    let mut w = PcapWriter::new(f, 1, 65_535, TsResolution::Nano).expect("pcap");
    for f in over_tcp(&cap.frames, plan).frames {
        w.write_frame(f.ts_ns, &f.bytes).expect("write");
    }
    w.into_inner().expect("flush");
    v.push(path);
    v
}

#[test]
fn one_worker_equals_the_single_threaded_replay_exactly() {
    for path in captures() {
        let single = replay_file(&path, &Resolved::default()).expect("replay");
        let piped = through_pipeline(&path, 1);
        assert_eq!(single.summary, piped.summary, "{}", path.display());
        assert_eq!(streams(&single), streams(&piped), "{}", path.display());
        // Same order of first appearance too.
        let order = |r: &Report| -> Vec<u32> { r.streams.iter().map(|s| s.ssrc).collect() };
        assert_eq!(order(&single), order(&piped), "{}", path.display());
    }
}

#[test]
fn several_workers_equal_the_single_threaded_replay_exactly() {
    for path in captures() {
        let single = replay_file(&path, &Resolved::default()).expect("replay");
        // One-way media is decided only by an engine that sees every stream (the reverse
        // direction has another SSRC, so may sit in another worker: engine/findings.rs): the
        // single-threaded replay's `one_way_media` findings are the one expected difference.
        let whole = without_one_way(streams(&single));
        for workers in [2, 3, 7] {
            let piped = through_pipeline(&path, workers);
            let at = format!("{} with {workers} workers", path.display());
            assert_eq!(single.summary, piped.summary, "{at}");
            let piped = streams(&piped);
            assert_eq!(
                without_one_way(piped.clone()),
                piped,
                "{at}: one-way decided"
            );
            assert_eq!(whole, piped, "{at}");
        }
    }
}

/// The pipeline without threads (`rtcprobe run` where workers do not pay): the feeder hands
/// each batch to the worker on its own thread; same streams, counters and snapshots.
#[test]
fn the_inline_pipeline_equals_the_single_threaded_replay_exactly() {
    use rtcprobe::capture::{FileSource, PacketSource};
    for path in captures() {
        let single = replay_file(&path, &Resolved::default()).expect("replay");
        let (tx, rx) = crossbeam_channel::unbounded();
        let records = RecordsOut {
            tx: Some(tx),
            wait: true,
            forward: None,
        };
        let pipeline =
            Pipeline::start_inline(&Resolved::default(), &opts(3), Some(records)).expect("start");
        assert!(pipeline.is_inline());
        let mut feeder = pipeline.feeder(0, "test".into());
        let mut src = FileSource::open(&path).expect("open");
        let mut interfaces = 1;
        loop {
            if src.interface_count() > interfaces {
                interfaces = src.interface_count();
                feeder.set_interface_names(src.interface_names());
            }
            let Ok(Some(f)) = src.next_frame() else { break };
            feeder.frame_of(f.linktype, f.interface, f.ts_ns, f.data);
        }
        drop(feeder);
        let board = std::sync::Arc::clone(&pipeline.board);
        pipeline.finish();
        let mut streams_inline: Vec<_> = rx.try_iter().collect();
        streams_inline.sort_by_key(|(order, _)| *order);
        let inline = Report {
            summary: single.summary.clone(),
            streams: streams_inline.into_iter().map(|(_, r)| r).collect(),
            calls: Vec::new(),
            hops: Vec::new(),
            ice_sessions: Vec::new(),
            turn_allocations: Vec::new(),
        };
        let at = path.display();
        assert_eq!(streams(&single), streams(&inline), "{at}");
        // The worker's last snapshot was published from the capture thread.
        let totals = board.totals();
        assert_eq!(totals.counters, single.summary.counters, "{at}");
        assert_eq!(totals.frames, single.summary.frames, "{at}");
    }
}

#[test]
fn the_sample_s_peer_to_peer_pair_is_split_across_shards_and_keeps_its_cross_ssrc_rtts() {
    // The shipped sample has a peer-to-peer call whose two SSRCs fall in different shards
    // with 2 workers: the case the foreign tables exist for (src/engine/foreign.rs).
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample-sfu.pcap");
    let piped = through_pipeline(&path, 2);
    let p2p: Vec<_> = piped
        .streams
        .iter()
        .filter(|s| s.src.starts_with("[2001:db8:7::"))
        .collect();
    assert_eq!(p2p.len(), 2);
    let shards: Vec<u32> = p2p
        .iter()
        .map(|s| rtcprobe::engine::Shard::of(2, s.ssrc))
        .collect();
    assert_ne!(shards[0], shards[1], "the pair must straddle two shards");
    for s in p2p {
        for method in ["sr_chain", "end_to_end", "capture_point"] {
            assert!(s.rtt_ms.contains_key(method), "{} lacks {method}", s.ssrc);
        }
    }
}

/// Workers stop taking batches: the capture side must drop, count and go on.
#[test]
fn held_back_workers_make_the_capture_side_drop_count_and_flag_never_block() {
    let cap = clean_many(200, 200_000, 9).build();
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut o = opts(2);
    o.overflow = Overflow::Drop;
    o.queue_batches = 8;
    let pipeline = Pipeline::start(
        &Resolved::default(),
        &o,
        1,
        Some(RecordsOut {
            tx: Some(tx),
            wait: true,
            forward: None,
        }),
    )
    .expect("start");
    let mut feeder = pipeline.feeder(0, "test".into());
    let link = LinkType::Ethernet;
    let third = cap.frames.len() / 3;
    // First third flows normally (the streams pass probation and exist in the workers).
    for f in &cap.frames[..third] {
        feeder.frame(link, f.ts_ns, &f.bytes);
    }
    feeder.flush();
    while pipeline.queued_batches() > 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Second third: workers held; every frame must still be taken without blocking.
    pipeline.hold.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(20));
    let allocated_before = feeder.batches_allocated;
    let t0 = std::time::Instant::now();
    for f in &cap.frames[third..2 * third] {
        feeder.frame(link, f.ts_ns, &f.bytes);
    }
    let held_for = t0.elapsed();
    let dropped = feeder.stats().pipeline_dropped_rtp;
    assert!(dropped > 50_000, "dropped {dropped}");
    // Bounded memory: at most the queues' and recycling queues' worth of batches plus one
    // in hand per worker were ever made, however many packets came.
    let bound = 2 * (2 * o.queue_batches as u64 + 2);
    assert!(
        feeder.batches_allocated - allocated_before <= bound,
        "{} batches allocated while held (bound {bound})",
        feeder.batches_allocated - allocated_before
    );
    assert!(pipeline.queued_batches() <= 2 * o.queue_batches);
    // Not blocked: 66,000 frames in well under the time a blocked thread would hang (never).
    assert!(held_for < Duration::from_secs(30));
    // Last third flows again.
    pipeline.hold.store(false, Ordering::Relaxed);
    for f in &cap.frames[2 * third..] {
        feeder.frame(link, f.ts_ns, &f.bytes);
    }
    drop(feeder);
    let board = std::sync::Arc::clone(&pipeline.board);
    pipeline.finish();
    let records: Vec<_> = rx.try_iter().map(|(_, r)| r).collect();
    assert_eq!(records.len(), 200);
    let totals = board.totals();
    // Drops go on for a while after the release, until the workers catch up.
    let dropped = board.captures[0].load().pipeline_dropped_rtp;
    assert!(totals.pipeline_dropped >= dropped);
    let attributed: u64 = records.iter().map(|r| r.probe_dropped).sum();
    let unattributed = totals.counters.probe_dropped_unattributed;
    assert_eq!(
        attributed + unattributed,
        dropped,
        "every dropped RTP packet is accounted"
    );
    assert!(attributed > 0);
    let flagged = records.iter().filter(|r| r.probe_drop).count();
    assert!(flagged > 0);
    for r in &records {
        // The capture is clean: no network loss, whatever the probe dropped.
        assert_eq!(
            r.lost, 0,
            "{} lost {} (probe dropped {})",
            r.ssrc, r.lost, r.probe_dropped
        );
        // Drops in the stream's tail are beyond its highest sequence number: not expected.
        assert!(r.packets + r.probe_dropped >= r.expected, "{}", r.ssrc);
        assert!(r.packets <= r.expected, "{}", r.ssrc);
        assert_eq!(r.probe_drop, r.probe_dropped > 0, "{}", r.ssrc);
    }
}

#[test]
fn end_to_end_through_a_relay_or_an_sfu_is_the_true_round_trip_for_any_worker_count() {
    use rtcprobe::synth::middlebox::Call;
    let scratch = std::env::temp_dir().join(format!("rtcprobe-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    for (name, call) in [("relay", Call::relay()), ("sfu", Call::sfu())] {
        let path = scratch.join(format!("{name}.pcap"));
        let f = std::fs::File::create(&path).expect("create");
        call.build()
            .write_pcap(f, TsResolution::Nano, 65_535)
            .expect("write");
        let split = |n| {
            let of = rtcprobe::engine::Shard::of;
            of(n, call.ssrc_a) != of(n, call.ssrc_b)
        };
        assert!(
            split(2) || split(3),
            "the two directions must straddle shards"
        );
        let want = call.true_rtt_ns() as f64 / 1e6;
        let single = replay_file(&path, &Resolved::default()).expect("replay");
        let mut reports = vec![("single-threaded".to_string(), single)];
        for workers in [1, 2, 3] {
            reports.push((
                format!("{workers} workers"),
                through_pipeline(&path, workers),
            ));
        }
        for (how, r) in &reports {
            assert_eq!(r.streams.len(), 4, "{name}, {how}");
            for s in &r.streams {
                let e2e = &s.rtt_ms["end_to_end"];
                // The generator is exact to the ns: only ns → ms rounding is tolerated.
                for got in [e2e.last, e2e.min, e2e.max] {
                    assert!(
                        (got - want).abs() < 1e-6,
                        "{name}, {how}: {} → {} end_to_end {got} ms, true {want} ms",
                        s.src,
                        s.dst
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
