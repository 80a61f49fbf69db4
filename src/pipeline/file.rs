//! A capture file through the live pipeline: `rtcprobe replay --workers N` (as fast as the
//! workers go, nothing dropped) and `rtcprobe replay --realtime` (paced at the recorded speed,
//! dropping on overload exactly like live capture, so dashboards and sinks can be tried
//! without traffic).
//!
//! Without drops the result equals the single-threaded [`crate::replay::replay_file`]:
//! same engine, same expiry ticks, same frame numbers for ordering.

use super::feeder::{Feeder, Overflow};
use super::worker::RecordsOut;
use super::{Options, Pipeline};
use crate::capture::{FileSource, PacketSource};
use crate::config::Resolved;
use crate::correlate::hop::{self, HopMatcher};
use crate::engine::record::{rfc3339_micros, StreamRecord};
use crate::forward::record::RecordOptions;
use crate::forward::RecordTx;
use crate::replay::{settle_hops, ReplayError, Report, Summary};
use crate::wire::LinkType;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    let collector = std::thread::Builder::new()
        .name("rtcprobe-records".into())
        .spawn(move || rx.iter().collect::<Vec<(u64, StreamRecord)>>())
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
    let mut feeder = pipeline
        .feeder(0, file.clone())
        .with_hops(HopMatcher::new(hop::Limits::default()));
    let error = feed(&mut src, link, &mut feeder, pace, stop);
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
    let mut hops = feeder.take_hops();
    drop(feeder);
    let board = std::sync::Arc::clone(&pipeline.board);
    pipeline.finish();
    let mut records = collector.join().unwrap_or_default();
    records.sort_by(|(a, ra), (b, rb)| {
        (a, &ra.src, &ra.dst, ra.ssrc).cmp(&(b, &rb.src, &rb.dst, rb.ssrc))
    });
    let mut streams: Vec<StreamRecord> = records.into_iter().map(|(_, r)| r).collect();
    let (hops, hop_matcher) = match &mut hops {
        Some(m) => {
            m.finish(stats.last_ns);
            (settle_hops(m, &mut streams), *m.counters())
        }
        None => (Vec::new(), Default::default()),
    };
    let totals = board.totals();
    let first = (stats.frames > 0).then_some(stats.first_ns);
    Ok(Report {
        summary: Summary {
            file,
            linktype,
            frames: stats.frames,
            first_packet: first.map(rfc3339_micros),
            last_packet: first.map(|_| rfc3339_micros(stats.last_ns)),
            duration_secs: first.map_or(0.0, |f| stats.last_ns.abs_diff(f) as f64 / 1e9),
            undecoded: totals.undecoded,
            counters: totals.counters,
            streams: streams.len(),
            error,
        },
        streams,
        hops,
        hop_matcher,
    })
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
    loop {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
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
        feeder.frame(link, ts_ns, f.data);
        if last_publish.elapsed() >= Duration::from_millis(500) {
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
