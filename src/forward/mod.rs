//! Forwarding per-stream records to central stores (docs/central-store.md).
//!
//! ```text
//!  workers ──Record──▶ RecordTx ──line──▶ [bounded queue] ─▶ intake ─▶ disk buffer ─▶ sender ─▶ store
//!  (interval/final,     (serialise once,   one per sink        (segments = batches)   (retry,
//!   Hook, capture time)  try_send: drop                                                backoff)
//!                        and count)                           file sink: straight to its file
//!  capture thread ──RTCP──▶ RtcpTap ──line──▶ (the queues of `hep` sinks with rtcp = true)
//! ```
//!
//! A worker never waits for a sink: [`RecordTx::send`] serialises a record once and offers the
//! line to every sink's bounded queue, counting a full queue as dropped for that sink. Each
//! network sink has its own intake thread (queue → [`buffer::Buffer`] on disk) and sender
//! thread ([`delivery::run`]), so a store that is down fills only its own buffer. Raw RTCP
//! for HEP takes the same way, one line per datagram ([`tap`]). What this
//! module does not do: compute statistics (the engine does) or read clocks for record times
//! (records carry capture time; only delivery uses the wall clock).

pub mod buffer;
pub mod call_record;
pub mod check;
pub mod clickhouse;
pub mod deadletter;
pub mod delivery;
pub mod file;
pub mod hep;
pub mod hop_record;
pub mod http;
pub mod prompb;
pub mod record;
mod record_findings;
mod reload;
pub mod remote_write;
pub mod stats;
pub mod tap;
pub mod tls;

use crate::config::{RecordsConfig, SinkConfig};
use crate::engine::record::StreamRecord;
use crate::engine::Cut;
use arc_swap::ArcSwap;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use record::{Intervals, Record, RecordOptions};
use stats::SinkStats;
pub use stats::{SinkView, Stats};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tap::RtcpTap;

/// Lines waiting between the workers and one sink's intake.
const SINK_QUEUE: usize = 65_536;

/// One buffer line: a record's JSON, or a tapped RTCP datagram ([`tap`]).
pub type Line = Arc<Vec<u8>>;
/// A sink's queue and counters, as the workers see it.
pub type Route = (Sender<Line>, Arc<SinkStats>);

/// Hands records to every sink without blocking (or waiting, for replay), and RTCP datagrams
/// to the sinks that forward them ([`RecordTx::rtcp_tap`]). Both lists of sinks are read at
/// each record or datagram (one atomic load), so a SIGHUP can change them under running
/// workers ([`Forwarder::reconfigure`]).
#[derive(Clone)]
pub struct RecordTx {
    sinks: Arc<ArcSwap<Vec<Route>>>,
    wait: bool,
    rtcp: Arc<ArcSwap<Vec<Route>>>,
    /// In-process readers of the record lines ([`Forwarder::tap`]), published after the sinks.
    taps: Arc<Mutex<Vec<Route>>>,
}

impl RecordTx {
    pub fn send(&self, r: &Record) {
        let sinks = self.sinks.load();
        if sinks.is_empty() {
            return;
        }
        let Ok(line) = serde_json::to_vec(r) else {
            return;
        };
        offer(&sinks, self.wait, &Arc::new(line));
    }

    /// A hop record (schema version 2, [`hop_record`]) to every sink, like [`RecordTx::send`].
    pub fn send_hop(&self, r: &hop_record::HopRecordOut) {
        let sinks = self.sinks.load();
        if sinks.is_empty() {
            return;
        }
        let Ok(line) = serde_json::to_vec(r) else {
            return;
        };
        offer(&sinks, self.wait, &Arc::new(line));
    }

    /// The record of ended call `c` (schema version 3, [`call_record`]) to every sink, like
    /// [`RecordTx::send`]; made only with `records.calls` and when there is a sink.
    pub fn send_call(&self, opts: &record::RecordOptions, c: &crate::correlate::calls::CallView) {
        if !opts.calls {
            return;
        }
        let sinks = self.sinks.load();
        if sinks.is_empty() {
            return;
        }
        let Ok(line) = serde_json::to_vec(&call_record::call_record(opts, c)) else {
            return;
        };
        offer(&sinks, self.wait, &Arc::new(line));
    }

    /// The tap for RTCP datagrams, for the capture side (the pipeline's feeders). It offers
    /// each datagram to the `hep` sinks with `rtcp = true` of the moment, once.
    pub fn rtcp_tap(&self) -> Option<RtcpTap> {
        Some(RtcpTap::shared(Arc::clone(&self.rtcp), self.wait))
    }

    /// Make `routes` the sinks of records, `rtcp` those of RTCP datagrams.
    /// The taps go after the sinks, so that a sink's index in the list stays its index in
    /// [`Forwarder::sinks`] (what a reload relies on).
    fn publish(&self, mut routes: Vec<Route>, rtcp: Vec<Route>) {
        if let Ok(taps) = self.taps.lock() {
            routes.extend(taps.iter().cloned());
        }
        self.rtcp.store(Arc::new(rtcp));
        self.sinks.store(Arc::new(routes));
    }
}

/// Whether a sink takes tapped RTCP datagrams besides records.
fn forwards_rtcp(cfg: &SinkConfig) -> bool {
    matches!(cfg, SinkConfig::Hep { rtcp: true, .. })
}

/// Offer `line` to every queue, counting a full (or closed) one as dropped for its sink.
fn offer(sinks: &[Route], wait: bool, line: &Line) {
    for (tx, stats) in sinks {
        let ok = if wait {
            tx.send(Arc::clone(line)).is_ok()
        } else {
            match tx.try_send(Arc::clone(line)) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            }
        };
        if !ok {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A worker's (or a replay's) record maker: interval records of closed intervals, final records of
/// ended streams, handed to a [`RecordTx`].
pub struct Hook {
    tx: RecordTx,
    intervals: Intervals,
}

impl Hook {
    pub fn new(tx: RecordTx, opts: RecordOptions) -> Hook {
        Hook {
            tx,
            intervals: Intervals::new(opts),
        }
    }

    /// The record interval, for [`crate::engine::Engine::set_interval`].
    pub fn interval_ns(&self) -> i64 {
        self.intervals.interval_ns()
    }

    /// Where and how this hook's records go, for the hop records of a hop stage beside the
    /// engine ([`crate::pipeline::hops::HopStage::with_records`]).
    pub fn hop_records(&self) -> (RecordTx, RecordOptions) {
        (self.tx.clone(), self.intervals.options().clone())
    }

    /// Call with the intervals the engine closed ([`crate::engine::Engine::drain_cuts`]), before
    /// the records
    /// of streams that ended after them.
    pub fn cuts(&mut self, cuts: &[Cut]) {
        if self.tx.sinks.load().is_empty() {
            return;
        }
        for c in cuts {
            for (_, r) in self.intervals.cut(c.end_ns, &c.streams) {
                self.tx.send(&r);
            }
        }
    }

    /// The record of ended call `c` to the sinks ([`RecordTx::send_call`]).
    pub fn call(&self, c: &crate::correlate::calls::CallView) {
        self.tx.send_call(self.intervals.options(), c);
    }

    /// Call with the records of streams that ended.
    pub fn ended(&mut self, ended: &[(u64, StreamRecord)]) {
        if self.tx.sinks.load().is_empty() {
            return;
        }
        for (_, s) in ended {
            let r = self.intervals.finish(s);
            self.tx.send(&r);
        }
    }

    /// Call once per RTCP datagram (single-threaded replay): forwarded raw when a sink asks.
    pub fn rtcp(&self, now: i64, src: SocketAddr, dst: SocketAddr, rtcp: &[u8]) {
        let sinks = self.tx.rtcp.load();
        if !sinks.is_empty() {
            offer(
                &sinks,
                self.tx.wait,
                &Arc::new(tap::line(now, src, dst, rtcp)),
            );
        }
    }
}

/// The record options a configuration asks for.
pub fn record_options(
    c: &RecordsConfig,
    diagnostics: crate::diagnose::Thresholds,
) -> RecordOptions {
    RecordOptions {
        calls: c.calls,
        diagnostics,
        interval_ns: i64::try_from(c.interval_secs)
            .unwrap_or(10)
            .saturating_mul(1_000_000_000),
        host: if c.host.is_empty() {
            record::hostname()
        } else {
            c.host.clone()
        },
    }
}

struct Running {
    name: String,
    kind: &'static str,
    cfg: SinkConfig,
    stats: Arc<SinkStats>,
    intake: Option<JoinHandle<()>>,
    sender: Option<JoinHandle<()>>,
    /// Tells this sink's sender to stop, and how long it may still deliver then (ms).
    stop: Arc<AtomicBool>,
    grace_ms: Arc<AtomicU64>,
}

/// Every configured sink, running. `tx.sinks` holds the sinks' routes in the order of
/// `sinks`.
pub struct Forwarder {
    tx: RecordTx,
    sinks: Vec<Running>,
    state_dir: PathBuf,
    grace: Duration,
}

impl Forwarder {
    /// Start every sink. `wait`: replay makes workers wait for room instead of dropping.
    /// Buffers live in `state_dir/<sink name>`.
    pub fn start(
        sinks: &[SinkConfig],
        state_dir: &Path,
        wait: bool,
        grace: Duration,
    ) -> std::io::Result<Forwarder> {
        let mut f = Forwarder {
            tx: RecordTx {
                sinks: Arc::new(ArcSwap::from_pointee(Vec::new())),
                wait,
                rtcp: Arc::new(ArcSwap::from_pointee(Vec::new())),
                taps: Arc::new(Mutex::new(Vec::new())),
            },
            sinks: Vec::new(),
            state_dir: state_dir.to_path_buf(),
            grace,
        };
        let mut routes = Vec::new();
        let mut rtcp = Vec::new();
        for cfg in sinks {
            let (running, route) = f.start_one(cfg)?;
            if forwards_rtcp(cfg) {
                rtcp.push(route.clone());
            }
            f.sinks.push(running);
            routes.push(route);
        }
        f.tx.publish(routes, rtcp);
        Ok(f)
    }

    fn start_one(&self, cfg: &SinkConfig) -> std::io::Result<(Running, Route)> {
        let (tx, rx) = bounded::<Line>(SINK_QUEUE);
        let stats = Arc::new(SinkStats::default());
        let name = cfg.name();
        let stop = Arc::new(AtomicBool::new(false));
        let grace_ms = Arc::new(AtomicU64::new(
            u64::try_from(self.grace.as_millis()).unwrap_or(u64::MAX),
        ));
        let (intake, sender) = spawn(cfg, &name, rx, &stats, &self.state_dir, (&stop, &grace_ms))?;
        let route = (tx, Arc::clone(&stats));
        let running = Running {
            name,
            kind: cfg.kind(),
            cfg: cfg.clone(),
            stats,
            intake: Some(intake),
            sender,
            stop,
            grace_ms,
        };
        Ok((running, route))
    }

    /// What workers send records with.
    pub fn sender(&self) -> RecordTx {
        self.tx.clone()
    }

    /// A reader of every record line the sinks get (the `replay --report` builder): the same
    /// JSON as a `file` sink writes, through a bounded queue (replay waits for room; a live
    /// probe would count a full queue as dropped). The queue disconnects at [`Self::finish`].
    pub fn tap(&self) -> Receiver<Line> {
        let (tx, rx) = bounded::<Line>(SINK_QUEUE);
        if let Ok(mut taps) = self.tx.taps.lock() {
            taps.push((tx, Arc::new(SinkStats::default())));
        }
        let sinks: Vec<Route> = self
            .tx
            .sinks
            .load()
            .iter()
            .take(self.sinks.len())
            .cloned()
            .collect();
        self.tx.publish(sinks, self.tx.rtcp.load_full().to_vec());
        rx
    }

    /// Every sink with its live counters, for the exporter (`Board::sinks`).
    pub fn views(&self) -> Vec<SinkView> {
        self.sinks
            .iter()
            .map(|s| SinkView {
                name: s.name.clone(),
                kind: s.kind,
                stats: Arc::clone(&s.stats),
            })
            .collect()
    }

    /// Counters of every sink.
    pub fn stats(&self) -> Vec<Stats> {
        self.sinks
            .iter()
            .map(|s| s.stats.snapshot(&s.name, s.kind))
            .collect()
    }

    /// Stop after every [`RecordTx`] and [`RtcpTap`] clone has been dropped: queues are written to the buffers,
    /// senders deliver for up to `grace` and leave the rest on disk.
    pub fn finish(mut self) -> Vec<Stats> {
        if let Ok(mut taps) = self.tx.taps.lock() {
            taps.clear();
        }
        self.tx.publish(Vec::new(), Vec::new());
        for s in &mut self.sinks {
            if let Some(t) = s.intake.take() {
                let _ = t.join();
            }
        }
        for s in &self.sinks {
            s.stop.store(true, Ordering::Relaxed);
        }
        for s in &mut self.sinks {
            if let Some(t) = s.sender.take() {
                let _ = t.join();
            }
        }
        self.stats()
    }
}

type Threads = (JoinHandle<()>, Option<JoinHandle<()>>);

fn spawn(
    cfg: &SinkConfig,
    name: &str,
    rx: Receiver<Line>,
    stats: &Arc<SinkStats>,
    state_dir: &Path,
    (stop, grace_ms): (&Arc<AtomicBool>, &Arc<AtomicU64>),
) -> std::io::Result<Threads> {
    let thread = |what: &str| std::thread::Builder::new().name(format!("rtcprobe-{what}-{name}"));
    let (service, delivery) = match cfg {
        SinkConfig::File {
            path,
            rotate_bytes,
            rotate_age_secs,
            keep_files,
            ..
        } => {
            let mut f = file::FileSink::new(
                path.into(),
                *rotate_bytes,
                *rotate_age_secs,
                *keep_files,
                Arc::clone(stats),
            )?;
            let intake = thread("file").spawn(move || {
                while let Ok(line) = rx.recv() {
                    f.write(&line);
                    if rx.is_empty() {
                        f.flush();
                    }
                }
                f.flush();
            })?;
            return Ok((intake, None));
        }
        _ => service(cfg, name)?.ok_or_else(|| std::io::Error::other("not a network sink"))?,
    };
    let limits = buffer::Limits {
        batch_records: delivery.batch_records,
        batch_bytes: delivery.batch_bytes,
        batch_timeout: Duration::from_millis(delivery.batch_timeout_ms),
        max_bytes: delivery.buffer_max_bytes,
    };
    let buf = Arc::new(Mutex::new(buffer::Buffer::open(
        &state_dir.join(name),
        limits,
        Arc::clone(stats),
    )?));
    let (b, s, n) = (Arc::clone(&buf), Arc::clone(stats), name.to_string());
    let intake = thread("in").spawn(move || {
        while let Ok(line) = rx.recv() {
            let pushed = b.lock().map(|mut b| b.push(&line));
            if !matches!(pushed, Ok(Ok(()))) {
                s.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!(sink = %n, "cannot buffer a record: {pushed:?}");
            }
        }
    })?;
    let mut dead = Some(deadletter::DeadLetter::open(
        &deadletter::dir_for(state_dir, name),
        delivery.dead_letter_max_bytes,
        Arc::clone(stats),
    )?);
    let (s, st, g, n) = (
        Arc::clone(stats),
        Arc::clone(stop),
        Arc::clone(grace_ms),
        name.to_string(),
    );
    let mut service = service;
    let sender = thread("out").spawn(move || {
        delivery::run(
            &buf,
            &mut dead,
            service.as_mut(),
            &delivery,
            &s,
            &st,
            &g,
            &n,
        );
    })?;
    Ok((intake, Some(sender)))
}

/// The request side of a network sink (`None` for a file sink), with its delivery settings:
/// what the sender thread, `rtcprobe resend` and `validate --connect` use.
pub fn service(
    cfg: &SinkConfig,
    name: &str,
) -> std::io::Result<Option<(Box<dyn delivery::Service>, crate::config::Delivery)>> {
    Ok(Some(match cfg {
        SinkConfig::File { .. } => return Ok(None),
        SinkConfig::Clickhouse {
            url,
            table,
            http,
            delivery,
            ..
        } => (
            Box::new(clickhouse::ClickHouse::new(url, table, http).map_err(tls_err(name))?),
            delivery.clone(),
        ),
        SinkConfig::PrometheusRemoteWrite {
            url,
            timestamp,
            address_labels,
            http,
            delivery,
            ..
        } => {
            let stamp = if timestamp == "now" {
                remote_write::Stamp::Now
            } else {
                remote_write::Stamp::Capture
            };
            (
                Box::new(
                    remote_write::RemoteWrite::new(url, stamp, *address_labels, http)
                        .map_err(tls_err(name))?,
                ),
                delivery.clone(),
            )
        }
        SinkConfig::Hep {
            address,
            transport,
            agent_id,
            password,
            rtcp,
            delivery,
            ..
        } => {
            let addr: std::net::SocketAddr = address.parse().map_err(|e| {
                std::io::Error::other(format!("sink {name}: address {address:?}: {e}"))
            })?;
            if *rtcp {
                tracing::info!(sink = name, "hep: forwarding every RTCP datagram (type 5)");
            }
            (
                Box::new(hep::Hep::new(
                    addr,
                    transport == "tcp",
                    *agent_id,
                    password.clone(),
                )),
                delivery.clone(),
            )
        }
    }))
}

/// A sink whose TLS files cannot be used does not start (validate reports the same).
fn tls_err(name: &str) -> impl Fn(tls::TlsError) -> std::io::Error + '_ {
    move |e| std::io::Error::other(format!("sink {name}: http.{e}"))
}

/// Wall clock, seconds since the epoch (delivery bookkeeping only).
pub fn unix_secs() -> u64 {
    unix_nanos() / 1_000_000_000
}

pub fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
