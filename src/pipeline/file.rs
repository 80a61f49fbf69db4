//! A capture file through the live pipeline: `rtcprobe replay --workers N` (as fast as the
//! workers go, nothing dropped) and `rtcprobe replay --realtime` (paced at the recorded speed,
//! dropping on overload exactly like live capture, so dashboards and sinks can be tried
//! without traffic).
//!
//! Without drops the result equals the single-threaded [`crate::replay::replay_file`]:
//! same engine, same expiry ticks, same frame numbers for ordering.

use super::feeder::{Feeder, Overflow};
use super::worker::RecordsOut;
use super::{pipeline_pays, Options, Pipeline};
use crate::capture::{FileSource, PacketSource};
use crate::config::Resolved;
use crate::correlate::calls::CallEnded;
use crate::engine::record::rfc3339_micros;
use crate::forward::record::RecordOptions;
use crate::forward::RecordTx;
use crate::replay::{Ended, Kept, ReplayError, Report, Summary};
use crate::wire::LinkType;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a replay publishes its capture counters (progress, `/metrics`).
const PUBLISH_EVERY: Duration = Duration::from_millis(500);

/// The hop stage of a replay: the exporter's default caps (a replay's `--listen` endpoint
/// uses the default exporter settings), stopped hops kept for the whole replay.
fn replay_hops_of(p: &Pipeline) -> super::hops::HopStage {
    p.hop_stage(
        crate::config::ExporterConfig::default().max_stream_series,
        i64::MAX,
    )
}

/// The replay's hop stage for the single-threaded replay (`crate::replay::Run`), whose engine
/// names points with `names`: the same stage, so that it makes the pipeline's hops.
pub fn replay_hops(names: std::sync::Arc<crate::engine::PointNames>) -> super::hops::HopStage {
    super::hops::HopStage::new(
        Default::default(),
        names,
        crate::config::ExporterConfig::default().max_stream_series,
        i64::MAX,
    )
}

/// How a file is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As fast as the workers take it; waits on full queues, drops nothing.
    Fast,
    /// At the capture's recorded speed; full queues drop, as in live capture.
    Realtime,
}

/// Replay `path` through a pipeline shaped by `opts` (its `overflow` is set from `pace`).
/// `stop` ends the replay early (SIGTERM/SIGINT): what was read is drained and reported.
/// `forward` makes interval and final records for the sinks.
/// `started` is called once the pipeline runs, with it (to attach readers). After the last
/// frame the pipeline waits `linger` (or until `stop`) before it ends the streams that are
/// still live, so that readers such as a Prometheus scrape see their final values as live
/// streams; capture time does not advance meanwhile, so nothing expires.
#[allow(clippy::too_many_arguments)] // each is a distinct knob of one call; see the doc
pub fn replay(
    path: &Path,
    cfg: &Resolved,
    opts: &Options,
    pace: Pace,
    stop: &AtomicBool,
    linger: Duration,
    forward: Option<(RecordTx, RecordOptions)>,
    started: &mut dyn FnMut(&Pipeline),
) -> Result<Report, ReplayError> {
    let (summary, records) = replay_into(
        path,
        cfg,
        opts,
        pace,
        stop,
        linger,
        forward,
        started,
        Kept::default(),
    )?;
    Ok(Report::of(summary, records))
}

/// [`replay`], handing each stream to `sink` as it ends (in no particular order: workers end
/// streams side by side) instead of keeping them all: bounded memory with a sink that does
/// not keep them (`rtcprobe replay --workers N`, [`crate::output::Collector`]).
#[allow(clippy::too_many_arguments)] // as `replay`, plus the sink
pub fn replay_into<S: Ended + Send + 'static>(
    path: &Path,
    cfg: &Resolved,
    opts: &Options,
    pace: Pace,
    stop: &AtomicBool,
    linger: Duration,
    forward: Option<(RecordTx, RecordOptions)>,
    started: &mut dyn FnMut(&Pipeline),
    mut sink: S,
) -> Result<(Summary, S), ReplayError> {
    let mut src = FileSource::open(path)?;
    let file = path.display().to_string();
    let linktype = src.linktype();
    let link = LinkType::from_dlt(linktype).ok_or(ReplayError::Link {
        path: file.clone(),
        linktype,
    })?;
    let mut opts = opts.clone();
    opts.overflow = match pace {
        Pace::Fast => Overflow::Wait,
        Pace::Realtime => Overflow::Drop,
    };
    let (tx, rx) = crossbeam_channel::bounded(65_536);
    // Hops end on the reading thread (the feeder's matcher), streams on the workers.
    let (hop_tx, hop_rx) = crossbeam_channel::bounded(4_096);
    // ICE sessions and TURN allocations end on the reading thread too.
    let (call_tx, call_rx) = crossbeam_channel::bounded(4_096);
    let collector = std::thread::Builder::new()
        .name("rtcprobe-records".into())
        .spawn(move || {
            let mut n = 0usize;
            let (mut rx, mut hop_rx, mut call_rx) = (Some(rx), Some(hop_rx), Some(call_rx));
            while rx.is_some() || hop_rx.is_some() || call_rx.is_some() {
                let mut sel = crossbeam_channel::Select::new();
                let r = rx.as_ref().map(|c| sel.recv(c));
                let h = hop_rx.as_ref().map(|c| sel.recv(c));
                let k = call_rx.as_ref().map(|c| sel.recv(c));
                let op = sel.select();
                let i = op.index();
                if Some(i) == r {
                    match rx.as_ref().map(|c| op.recv(c)) {
                        Some(Ok((order, rec))) => {
                            sink.ended(order, rec);
                            n += 1;
                        }
                        _ => rx = None,
                    }
                } else if Some(i) == h {
                    match hop_rx.as_ref().map(|c| op.recv(c)) {
                        Some(Ok((seq, hop))) => sink.hop(seq, hop),
                        _ => hop_rx = None,
                    }
                } else if Some(i) == k {
                    match call_rx.as_ref().map(|c| op.recv(c)) {
                        Some(Ok(CallEnded::Ice(s))) => sink.ice(s),
                        Some(Ok(CallEnded::Turn(a))) => sink.turn(a),
                        _ => call_rx = None,
                    }
                }
            }
            (sink, n)
        })
        .map_err(|e| open_error(&file, &e))?;
    let pipeline = Pipeline::start(
        cfg,
        &opts,
        1,
        Some(RecordsOut {
            tx: Some(tx),
            wait: true,
            forward,
        }),
    )
    .map_err(|e| open_error(&file, &e))?;
    started(&pipeline);
    let feeder = pipeline
        .feeder(0, file.clone())
        .with_call_records(call_tx)
        .with_calls()
        .with_calls_view();
    // `engine.hops`; without it the hop channel closes at once and the collector waits only
    // for the streams.
    let mut feeder = if cfg.hops {
        feeder.with_hops(replay_hops_of(&pipeline).with_collector(hop_tx))
    } else {
        drop(hop_tx);
        feeder
    };
    let error = feed(&mut src, link, &mut feeder, pace, stop);
    // The file is over: the hops are final (before the workers end their streams) while the
    // pipeline lingers for scrapes.
    let hop_matcher = feeder.finish_hops();
    let calls = feeder.take_calls();
    feeder.flush();
    feeder.publish();
    let until = Instant::now() + linger;
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100)),
        );
    }
    let stats = feeder.stats().clone();
    drop(feeder);
    let board = std::sync::Arc::clone(&pipeline.board);
    pipeline.finish();
    let (mut sink, streams) = collector.join().map_err(|_| {
        open_error(
            &file,
            &std::io::Error::other("the thread collecting the streams failed"),
        )
    })?;
    for c in calls {
        sink.call(c);
    }
    let totals = board.totals();
    let first = (stats.frames > 0).then_some(stats.first_ns);
    Ok((
        Summary {
            file,
            linktype,
            frames: stats.frames,
            first_packet: first.map(rfc3339_micros),
            last_packet: first.map(|_| rfc3339_micros(stats.last_ns)),
            duration_secs: first.map_or(0.0, |f| stats.last_ns.abs_diff(f) as f64 / 1e9),
            undecoded: totals.undecoded,
            counters: totals.counters,
            streams,
            error,
            hop_matcher,
            tcp: totals.tcp,
            ice_turn: stats.ice_turn,
            sip: totals.sip,
        },
        sink,
    ))
}

/// `replay --workers N` without `--realtime`, `--listen` or `--linger`: through the pipeline
/// when [`pipeline_pays`] says it is faster for `opts.workers` on this machine, else on one
/// thread ([`crate::replay::replay_file_until`]). Both give the same report and records.
pub fn replay_workers(
    path: &Path,
    cfg: &Resolved,
    opts: &Options,
    stop: &AtomicBool,
    forward: Option<(RecordTx, RecordOptions)>,
) -> Result<Report, ReplayError> {
    let (summary, records) = replay_workers_into(path, cfg, opts, stop, forward, Kept::default())?;
    Ok(Report::of(summary, records))
}

/// [`replay_workers`], handing each stream to `sink` as it ends (bounded memory: the CLI's
/// [`crate::output::Collector`]).
pub fn replay_workers_into<S: Ended + Send + 'static>(
    path: &Path,
    cfg: &Resolved,
    opts: &Options,
    stop: &AtomicBool,
    forward: Option<(RecordTx, RecordOptions)>,
    sink: S,
) -> Result<(Summary, S), ReplayError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if pipeline_pays(opts.workers, cores) {
        return replay_into(
            path,
            cfg,
            opts,
            Pace::Fast,
            stop,
            Duration::ZERO,
            forward,
            &mut |_| {},
            sink,
        );
    }
    let hook = forward.map(|(tx, o)| crate::forward::Hook::new(tx, o));
    crate::replay::replay_file_until(path, cfg, hook, stop, sink)
}

fn open_error(file: &str, e: &std::io::Error) -> ReplayError {
    ReplayError::Open(crate::capture::CaptureError::Open {
        path: file.to_string(),
        reason: format!("cannot start the pipeline: {e}"),
    })
}

/// Feed every frame; returns the read error that ended the file early, if any.
fn feed(
    src: &mut FileSource,
    link: LinkType,
    feeder: &mut Feeder,
    pace: Pace,
    stop: &AtomicBool,
) -> Option<String> {
    // Realtime: frame at capture time t is sent at wall time start + (t − t0).
    let mut origin: Option<(i64, Instant)> = None;
    let mut last_publish = Instant::now();
    let mut interfaces = 1;
    loop {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        if src.interface_count() > interfaces {
            // A pcapng file with several interfaces: each is an observation point.
            interfaces = src.interface_count();
            feeder.set_interface_names(src.interface_names());
        }
        let first = src.linktype();
        let f = match src.next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => return None,
            Err(e) => return Some(e.to_string()),
        };
        let ts_ns = f.ts_ns;
        if pace == Pace::Realtime {
            let (t0, start) = *origin.get_or_insert((ts_ns, Instant::now()));
            let due = start + Duration::from_nanos(u64::try_from(ts_ns - t0).unwrap_or(0));
            // Sleep in short steps: idle streams expire and `stop` is seen during long gaps.
            loop {
                let now = Instant::now();
                if now >= due || stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep((due - now).min(Duration::from_millis(100)));
                let elapsed = i64::try_from(start.elapsed().as_nanos()).unwrap_or(i64::MAX);
                feeder.idle(t0.saturating_add(elapsed));
            }
        }
        if f.linktype == first {
            feeder.frame_on(link, f.interface, ts_ns, f.data);
        } else {
            feeder.frame_of(f.linktype, f.interface, ts_ns, f.data);
        }
        // As fast as possible, the clock every 1,024 frames: read per frame it was 4 % of the
        // samples (perf). Paced replays may be slower than that, and sleep anyway.
        let due = pace == Pace::Realtime || feeder.stats().frames % 1024 == 0;
        if due && last_publish.elapsed() >= PUBLISH_EVERY {
            feeder.publish();
            last_publish = Instant::now();
        }
    }
}

/// Wall-clock now, ns since the epoch (the clock live capture timestamps come from).
pub fn wall_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
