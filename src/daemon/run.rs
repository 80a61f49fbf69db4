//! `rtcprobe run`: the daemon.
//!
//! Start-up opens every capture before saying READY (so systemd and tests know capture is
//! live), then the main thread only supervises: signals, the watchdog, the health line and
//! reloads. SIGTERM/SIGINT stop capture (after reading, for at most `capture.timeout_ms` +
//! 0.1 s and 2 s, the frames the kernel already captured; what is left is logged as a count),
//! let the workers drain their queues
//! and end every stream (`ended_by = "shutdown"`), write the final records and summary, and exit 0; a second
//! signal exits at once. SIGHUP re-reads the configuration, applies what can change without
//! losing stream state and logs, key by key, what changed and what needs a restart.

use super::capture::{CaptureThread, Reload};
use super::notify::Notifier;
use super::records;
use crate::capture::{Fanout, LiveOptions, LiveSource};
use crate::config::{diff, Config, Settings, SinkConfig};
use crate::engine::EndReason;
use crate::export::labels::{host_addresses, Labeller};
use crate::export::Exporter;
use crate::forward::{record_options, Forwarder};
use crate::pipeline::feeder::Overflow;
use crate::pipeline::snapshot::{Board, Totals};
use crate::pipeline::worker::RecordsOut;
use crate::pipeline::{file::wall_ns, Options, Pipeline};
use crate::wire::LinkType;
use anyhow::Context;
use crossbeam_channel::Sender;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long sinks may keep delivering after the pipeline drained at stop; the rest stays in
/// their disk buffers for the next start (TimeoutStopSec=30s in the unit leaves room).
const SINK_GRACE: Duration = Duration::from_secs(10);
/// A capture thread whose loop has not turned for this long is stuck: stop the watchdog.
const STUCK_SECS: i64 = 10;

/// What `run` was asked to do.
pub struct Args {
    /// The configuration file; `None`: the built-in defaults (see [`crate::config::path`]).
    pub config: Option<PathBuf>,
    pub records: Option<PathBuf>,
    pub summary: Option<PathBuf>,
}

/// Applies a log filter (the subscriber lives in `main`); `Err` says why it was refused.
pub type SetLogLevel = Box<dyn Fn(&str) -> Result<(), String>>;

/// The pipeline shape the settings ask for.
pub fn pipeline_options(s: &Settings, overflow: Overflow, end: EndReason) -> Options {
    Options {
        workers: match s.pipeline.workers {
            0 => Options::default_workers(),
            n => n,
        },
        queue_batches: s.pipeline.queue_batches,
        batch_events: s.pipeline.batch_packets,
        snapshot_interval: Duration::from_millis(s.pipeline.snapshot_interval_ms),
        overflow,
        end_reason: end,
        labels: None,
        // Only per-stream series show ended streams: without them, keep none.
        ended_linger: if s.exporter.per_stream_series {
            Duration::from_secs(s.exporter.ended_series_linger_secs)
        } else {
            Duration::ZERO
        },
    }
}

/// A capture thread's hop stage: as many hops shown as per-stream series, stopped ones kept
/// as long as ended streams' series.
fn hop_stage(s: &Settings, p: &crate::pipeline::Pipeline) -> crate::pipeline::hops::HopStage {
    let linger = i64::try_from(
        s.exporter
            .ended_series_linger_secs
            .saturating_mul(1_000_000_000),
    );
    p.hop_stage(s.exporter.max_stream_series, linger.unwrap_or(i64::MAX))
}

/// Run the daemon until SIGTERM/SIGINT.
pub fn run(args: &Args, set_log: &SetLogLevel) -> anyhow::Result<()> {
    let mut settings = match &args.config {
        Some(path) => Config::load_settings(path)?,
        None => Config::default()
            .settings()
            .map_err(|_| anyhow::anyhow!("the built-in defaults do not validate"))?,
    };
    apply_log_level(&settings.log.level, set_log);
    match &args.config {
        Some(path) => tracing::info!("configuration: {}", path.display()),
        None => tracing::info!(
            "configuration: built-in defaults ({} does not exist)",
            crate::config::DEFAULT_PATH
        ),
    }
    let stop = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        // A second signal while draining exits at once (status 1).
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    signal_hook::flag::register(SIGHUP, Arc::clone(&hup))?;

    let sources = open_sources(&settings)?;
    let mut opts = pipeline_options(&settings, Overflow::Drop, EndReason::Shutdown);
    let serve = !settings.exporter.listen.is_empty();
    if serve {
        opts.labels = Some(Arc::new(Labeller::new(
            &settings.exporter,
            host_addresses(),
        )));
    }
    let state_dir = settings.records.state_dir();
    let (sinks, default) = records::daemon_sinks(
        &settings.sinks,
        settings.sinks_given,
        args.records.as_deref(),
        &state_dir,
    )
    .map_err(anyhow::Error::msg)?;
    // A forwarder even without sinks, so that a reload can add some (the workers' record
    // makers are made at start); with none, records are not even made. The default file sink
    // is a convenience: if it cannot be opened the probe runs without it rather than not at all.
    let started = if default {
        // systemd makes StateDirectory=; a probe started by hand may have to.
        std::fs::create_dir_all(&state_dir)
            .and_then(|()| Forwarder::start(&sinks, &state_dir, false, SINK_GRACE))
    } else {
        Forwarder::start(&sinks, &state_dir, false, SINK_GRACE)
    };
    let default_ok = default && started.is_ok();
    let mut forwarder = match started {
        Err(e) if default => {
            tracing::warn!(
                "records: cannot write the default records file {}: {e}; running without \
                 records (configure [[sinks]], or sinks = [] to silence this)",
                records::default_file(&state_dir).display()
            );
            Forwarder::start(&[], &state_dir, false, SINK_GRACE)?
        }
        other => other.with_context(|| {
            format!(
                "cannot start the sinks (buffers in {})",
                state_dir.display()
            )
        })?,
    };
    if default_ok {
        tracing::info!(
            "records: no [[sinks]] configured, writing them to {}",
            records::default_file(&state_dir).display()
        );
    }
    let records_out = Some(RecordsOut {
        tx: None,
        wait: false,
        forward: Some((
            forwarder.sender(),
            record_options(&settings.records, settings.engine.diagnostics),
        )),
    });
    let pipeline = Pipeline::start_chosen(&settings.engine, &opts, sources.len(), records_out)?;
    pipeline.board.sinks.store(Arc::new(forwarder.views()));
    let healthy = Arc::new(AtomicBool::new(true));
    let endpoint = match (&opts.labels, serve) {
        (Some(labels), true) => {
            let e = Exporter::start(
                &settings.exporter,
                Arc::clone(&pipeline.board),
                Arc::clone(labels),
                Arc::clone(&healthy),
            )
            .with_context(|| format!("exporter.listen = {:?}", settings.exporter.listen))?;
            tracing::info!("serving metrics on http://{}/metrics", e.local_addr());
            Some(e)
        }
        _ => None,
    };
    let capture_stop = Arc::new(AtomicBool::new(false));
    let mut reloads: Vec<Sender<Reload>> = Vec::new();
    let mut heartbeats = Vec::new();
    let mut threads = Vec::new();
    let names: Vec<String> = sources.iter().map(|s| s.interface().to_string()).collect();
    // One named interface is the capture's only point: it is called `capture`, as in a replay
    // of a file recorded there, so that live and replay records are identical (docs/output.md).
    // Several interfaces (or `any`, whose frames name their own interface) are told apart.
    let single = sources.len() == 1;
    for (i, source) in sources.into_iter().enumerate() {
        let point_source = if single && source.interface() != "any" {
            crate::engine::obs::CAPTURE_NAME.to_string()
        } else {
            source.interface().to_string()
        };
        let link = LinkType::from_dlt(source.linktype()).with_context(|| {
            format!(
                "{}: unsupported link type {}",
                source.interface(),
                source.linktype()
            )
        })?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let heartbeat = Arc::new(AtomicI64::new(wall_ns() / 1_000_000_000));
        let feeder = pipeline
            .feeder(i, source.interface().to_string())
            .with_calls_view()
            .with_points(crate::capture::PointResolver::live(
                Arc::clone(pipeline.points()),
                &point_source,
            ));
        let t = CaptureThread {
            feeder: if settings.engine.hops {
                feeder.with_hops(hop_stage(&settings, &pipeline))
            } else {
                feeder
            },
            source,
            link,
            stop: Arc::clone(&capture_stop),
            reload: rx,
            heartbeat: Arc::clone(&heartbeat),
            drain: super::capture::drain_time(settings.capture.timeout_ms),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("rtcprobe-cap{i}"))
                .spawn(move || t.run())?,
        );
        reloads.push(tx);
        heartbeats.push(heartbeat);
    }
    let notifier = Notifier::from_env();
    let how = match pipeline.is_inline() {
        true => "analysing on the capture thread".to_string(),
        false => format!("with {} workers", opts.workers),
    };
    let status = format!("capturing on {} {how}", names.join(", "));
    tracing::info!(
        interfaces = %names.join(","),
        workers = opts.workers,
        filter = %settings.capture.filter,
        buffer_mib = settings.capture.buffer_size_mib,
        "rtcprobe {} started: {status}",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(n) = &notifier {
        n.ready(&status);
    }

    let watchdog = Notifier::watchdog_interval().map(|d| d / 2);
    let mut next_ping = Instant::now();
    let mut health = Health::new(settings.log.health_interval_secs);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if hup.swap(false, Ordering::Relaxed) {
            if let Some(n) = &notifier {
                n.reloading();
            }
            match &args.config {
                Some(path) => {
                    if let Some(new) = reload(path, &mut settings, &pipeline, &reloads, set_log) {
                        apply_sinks(&mut settings, new, args, &mut forwarder, &pipeline.board);
                    }
                }
                None => tracing::warn!(
                    "reload: started with the built-in defaults, no file to re-read; restart \
                     to use {}",
                    crate::config::DEFAULT_PATH
                ),
            }
            health.every = settings.log.health_interval_secs;
            if let Some(n) = &notifier {
                n.ready(&status);
            }
        }
        if let (Some(n), Some(every)) = (&notifier, watchdog) {
            if Instant::now() >= next_ping {
                next_ping = Instant::now() + every;
                let now = wall_ns() / 1_000_000_000;
                let stuck = heartbeats
                    .iter()
                    .any(|h| now - h.load(Ordering::Relaxed) > STUCK_SECS);
                if stuck {
                    tracing::error!("a capture thread is stuck: withholding the watchdog ping");
                } else {
                    n.watchdog();
                }
            }
        }
        health.maybe_log(&pipeline.board, pipeline.queued_batches());
        let now = wall_ns() / 1_000_000_000;
        let alive = !threads.iter().any(|t| t.is_finished())
            && heartbeats
                .iter()
                .all(|h| now - h.load(Ordering::Relaxed) <= STUCK_SECS);
        healthy.store(alive, Ordering::Relaxed);
        if threads.iter().all(|t| t.is_finished()) {
            tracing::error!("every capture thread has stopped: shutting down");
            break;
        }
    }

    tracing::info!("stopping: draining the pipeline");
    if let Some(n) = &notifier {
        n.stopping();
    }
    let t0 = Instant::now();
    capture_stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let board = Arc::clone(&pipeline.board);
    healthy.store(false, Ordering::Relaxed);
    pipeline.finish();
    drop(endpoint);
    let sink_stats = forwarder.finish();
    for st in &sink_stats {
        tracing::info!(
            sink = %st.name,
            sent = st.sent,
            failed = st.failed,
            retried = st.retried,
            dropped = st.dropped,
            dead_lettered = st.dead_lettered,
            buffered_bytes = st.buffered_bytes,
            "sink stopped"
        );
    }
    let totals = board.totals();
    let sent: u64 = sink_stats.iter().map(|s| s.sent).sum();
    let sink_dropped: u64 = sink_stats.iter().map(|s| s.dropped).sum();
    tracing::info!(
        frames = totals.frames,
        streams = totals.counters.streams_created,
        kernel_dropped = totals.kernel_dropped,
        if_dropped = totals.if_dropped,
        pipeline_dropped = totals.pipeline_dropped,
        records_sent = sent,
        records_dropped = totals.records_dropped + sink_dropped,
        drain_ms = t0.elapsed().as_millis() as u64,
        "stopped: {} frames, {} streams, {} dropped by the probe (kernel {}, interface {}, \
         pipeline {}), {} records sent, {} dropped",
        totals.frames,
        totals.counters.streams_created,
        totals.kernel_dropped + totals.if_dropped + totals.pipeline_dropped,
        totals.kernel_dropped,
        totals.if_dropped,
        totals.pipeline_dropped,
        sent,
        totals.records_dropped + sink_dropped,
    );
    let undrained = undrained(&board);
    if undrained > 0 {
        tracing::warn!(
            frames = undrained,
            "up to {undrained} frames the kernel captured were not read before the capture \
             drain ended (capture.timeout_ms + 0.1 s, at most 2 s): not analysed"
        );
    }
    if let Some(path) = &args.summary {
        write_summary(path, &totals)?;
    }
    Ok(())
}

/// Frames the kernel captured for the probe (libpcap's `ps_recv`, which on Linux counts the
/// ring's drops too) that no capture thread read: still in the ring when the drain deadline
/// passed, or arrived after it. An upper bound: frames libpcap discarded itself (arrived
/// before the filter was set, or failed a filter replaced by a reload) count too. Read once
/// the capture threads have ended (their last statistics come after their last frame).
fn undrained(board: &Board) -> u64 {
    board
        .captures
        .iter()
        .map(|c| {
            let c = c.load();
            c.kernel_received
                .saturating_sub(c.kernel_dropped.saturating_add(c.frames))
        })
        .sum()
}

/// Open one live source per interface and fanout member, before anything else starts: a
/// missing interface or permission is an error at start-up, not a silent thread exit.
fn open_sources(s: &Settings) -> anyhow::Result<Vec<LiveSource>> {
    let c = &s.capture;
    let mut sources = Vec::new();
    for (i, iface) in c.interfaces.iter().enumerate() {
        // A group id unique to this process and interface (packet(7): 16 bits).
        let group = (std::process::id() as u16).wrapping_add(i as u16);
        for _ in 0..c.fanout_threads {
            let opts = LiveOptions {
                interface: iface.clone(),
                filter: c.filter.clone(),
                snaplen: c.snaplen_bytes,
                buffer_bytes: c.buffer_size_mib.saturating_mul(1 << 20),
                immediate: c.immediate_mode,
                timeout_ms: c.timeout_ms,
                promiscuous: c.promiscuous,
                fanout: (c.fanout_threads > 1).then_some(Fanout { group }),
            };
            sources.push(LiveSource::open(&opts)?);
        }
    }
    Ok(sources)
}

fn apply_log_level(level: &str, set_log: &SetLogLevel) {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing::info!("RUST_LOG is set: it overrides log.level = {level:?}");
        return;
    }
    if let Err(e) = set_log(level) {
        tracing::warn!("log.level {level:?} not applied: {e}");
    }
}

/// SIGHUP: re-read the file; on any problem keep everything as it is. Returns the new
/// `[[sinks]]` when something changed, for [`apply_sinks`].
fn reload(
    path: &Path,
    settings: &mut Settings,
    pipeline: &Pipeline,
    captures: &[Sender<Reload>],
    set_log: &SetLogLevel,
) -> Option<(Vec<SinkConfig>, bool)> {
    let new = match Config::load_settings(path) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("reload refused, configuration unchanged: {e}");
            return None;
        }
    };
    let changes = diff(&settings.raw, &new.raw);
    if changes.is_empty() {
        tracing::info!("reload: no change");
        return None;
    }
    for c in &changes {
        if c.key == "sinks" {
            // Logged by apply_sinks, sink by sink: the tables may hold credentials.
            continue;
        }
        if c.reloadable {
            tracing::info!(key = %c.key, old = %c.old, new = %c.new, "reload: applied");
        } else {
            tracing::warn!(key = %c.key, old = %c.old, new = %c.new, "reload: needs a restart, not applied");
        }
    }
    let filter =
        (new.capture.filter != settings.capture.filter).then(|| new.capture.filter.clone());
    for tx in captures {
        let _ = tx.send(Reload {
            filter: filter.clone(),
            engine: new.engine.clone(),
        });
    }
    pipeline.reconfigure(&new.engine);
    if new.log.level != settings.log.level {
        apply_log_level(&new.log.level, set_log);
    }
    // Only the reloadable parts change; the rest stays as running until a restart.
    settings.engine = new.engine;
    settings.capture.filter = new.capture.filter;
    settings.log = new.log;
    settings.raw.engine.idle_timeout_secs = new.raw.engine.idle_timeout_secs;
    settings.raw.engine.rtp_port_ranges = new.raw.engine.rtp_port_ranges;
    settings.raw.payload_types = new.raw.payload_types;
    settings.raw.capture.filter = settings.capture.filter.clone();
    settings.raw.log = settings.log.clone();
    Some((new.sinks, new.sinks_given))
}

/// SIGHUP, `[[sinks]]`: unchanged sinks keep running, removed or changed ones stop (their
/// buffers stay on disk), new ones start (src/forward/reload.rs).
fn apply_sinks(
    settings: &mut Settings,
    (new, given): (Vec<SinkConfig>, bool),
    args: &Args,
    forwarder: &mut Forwarder,
    board: &Board,
) {
    if new == settings.sinks && given == settings.sinks_given {
        return;
    }
    let state_dir = settings.records.state_dir();
    let sinks = match records::daemon_sinks(&new, given, args.records.as_deref(), &state_dir) {
        Ok((s, _)) => s,
        Err(e) => {
            tracing::error!("reload: sinks not changed: {e}");
            return;
        }
    };
    let r = forwarder.reconfigure(&sinks);
    board.sinks.store(Arc::new(forwarder.views()));
    tracing::info!(
        kept = %r.kept.join(","),
        stopped = %r.stopped.join(","),
        started = %r.started.join(","),
        "reload: sinks applied"
    );
    for (name, why) in &r.failed {
        tracing::error!(sink = %name, "reload: sink not started: {why}");
    }
    settings.raw.sinks.clone_from(&new);
    settings.raw.sinks_given = given;
    settings.sinks = new;
    settings.sinks_given = given;
}

/// The periodic one-line health summary.
///
/// Its counters come from one reading of the published snapshots: `frames` and `rtp_packets`
/// from the capture threads' snapshots (the same generation, so `frames ≥ rtp_packets`), and
/// `packets_per_sec` is measured since the previous line, or since the start for the first.
struct Health {
    every: u64,
    next: Instant,
    last: (Instant, u64),
}

/// The numbers of one health line.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HealthLine {
    frames: u64,
    packets_per_sec: u64,
    rtp_packets: u64,
}

impl Health {
    fn new(every: u64) -> Self {
        Health::starting(every, Instant::now())
    }

    fn starting(every: u64, start: Instant) -> Self {
        Health {
            every,
            next: start + Duration::from_secs(every.max(1)),
            last: (start, 0),
        }
    }

    /// The line's numbers at `now` from `t`; the next rate is measured from here.
    fn line(&mut self, now: Instant, t: &Totals) -> HealthLine {
        let (at, frames) = self.last;
        let secs = now.saturating_duration_since(at).as_secs_f64().max(1e-3);
        self.last = (now, t.frames);
        HealthLine {
            frames: t.frames,
            packets_per_sec: (t.frames.saturating_sub(frames) as f64 / secs).round() as u64,
            rtp_packets: t.rtp_frames,
        }
    }

    fn maybe_log(&mut self, board: &Board, queued: usize) {
        let now = Instant::now();
        if self.every == 0 || now < self.next {
            return;
        }
        self.next = now + Duration::from_secs(self.every);
        let t = board.totals();
        let l = self.line(now, &t);
        debug_assert!(l.frames >= l.rtp_packets);
        tracing::info!(
            target: "rtcprobe::health",
            frames = l.frames,
            packets_per_sec = l.packets_per_sec,
            rtp_packets = l.rtp_packets,
            streams = t.streams,
            kernel_dropped = t.kernel_dropped,
            if_dropped = t.if_dropped,
            pipeline_dropped = t.pipeline_dropped,
            records_dropped = t.records_dropped,
            queued_batches = queued,
            "health"
        );
    }
}

fn write_summary(path: &Path, totals: &Totals) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(totals)?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("cannot write summary {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_health_line_measures_its_rate_from_the_start() {
        let start = Instant::now();
        let mut h = Health::starting(10, start);
        let mut t = Totals {
            frames: 1_000,
            rtp_frames: 900,
            ..Totals::default()
        };
        // Workers may have published more RTP than the capture snapshot read with `frames`:
        // the line does not use their count.
        t.counters.rtp_packets = 1_200;
        let first = h.line(start + Duration::from_secs(2), &t);
        assert_eq!(
            first,
            HealthLine {
                frames: 1_000,
                packets_per_sec: 500,
                rtp_packets: 900
            }
        );
        t.frames = 3_000;
        let second = h.line(start + Duration::from_secs(4), &t);
        assert_eq!(second.packets_per_sec, 1_000);
    }
}
