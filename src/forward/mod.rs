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
pub mod clickhouse;
pub mod delivery;
pub mod file;
pub mod hep;
pub mod http;
pub mod prompb;
pub mod record;
pub mod remote_write;
pub mod stats;
pub mod tap;
pub mod tls;

use crate::config::{RecordsConfig, SinkConfig};
use crate::engine::record::StreamRecord;
use crate::engine::Engine;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use record::{Intervals, Record, RecordOptions};
use stats::SinkStats;
pub use stats::Stats;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tap::RtcpTap;

/// Lines waiting between the workers and one sink's intake.
const SINK_QUEUE: usize = 65_536;

/// One buffer line: a record's JSON, or a tapped RTCP datagram ([`tap`]).
pub type Line = Arc<Vec<u8>>;

/// Hands records to every sink without blocking (or waiting, for replay), and RTCP datagrams
/// to the sinks that forward them ([`RecordTx::rtcp_tap`]).
#[derive(Clone)]
pub struct RecordTx {
    sinks: Arc<Vec<(Sender<Line>, Arc<SinkStats>)>>,
    wait: bool,
    rtcp: Option<RtcpTap>,
}

impl RecordTx {
    pub fn send(&self, r: &Record) {
        let Ok(line) = serde_json::to_vec(r) else {
            return;
        };
        offer(&self.sinks, self.wait, &Arc::new(line));
    }

    /// The tap for RTCP datagrams when a sink forwards them (`hep` with `rtcp = true`). The
    /// capture side (the pipeline's feeder, or replay's `Run`) offers each datagram to it once.
    pub fn rtcp_tap(&self) -> Option<RtcpTap> {
        self.rtcp.clone()
    }
}

/// Offer `line` to every queue, counting a full (or closed) one as dropped for its sink.
fn offer(sinks: &[(Sender<Line>, Arc<SinkStats>)], wait: bool, line: &Line) {
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

/// A worker's (or a replay's) record maker: interval records on ticks, final records of
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

    /// Call on every tick (capture time `now`) after `engine.expire(now)`.
    pub fn tick(&mut self, now: i64, engine: &Engine) {
        for (_, r) in self.intervals.tick(now, || engine.active_records()) {
            self.tx.send(&r);
        }
    }

    /// Call with the records of streams that ended.
    pub fn ended(&mut self, ended: &[(u64, StreamRecord)]) {
        for (_, s) in ended {
            let r = self.intervals.finish(s);
            self.tx.send(&r);
        }
    }

    /// Call once per RTCP datagram (single-threaded replay): forwarded raw when a sink asks.
    pub fn rtcp(&self, now: i64, src: SocketAddr, dst: SocketAddr, rtcp: &[u8]) {
        if let Some(t) = &self.tx.rtcp {
            t.offer(now, src, dst, rtcp);
        }
    }
}

/// The record options a configuration asks for.
pub fn record_options(c: &RecordsConfig) -> RecordOptions {
    RecordOptions {
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
    stats: Arc<SinkStats>,
    intake: Option<JoinHandle<()>>,
    sender: Option<JoinHandle<()>>,
}

/// Every configured sink, running.
pub struct Forwarder {
    tx: RecordTx,
    sinks: Vec<Running>,
    stop: Arc<AtomicBool>,
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
        let stop = Arc::new(AtomicBool::new(false));
        let mut txs = Vec::new();
        let mut taps = Vec::new();
        let mut running = Vec::new();
        for cfg in sinks {
            let (tx, rx) = bounded::<Line>(SINK_QUEUE);
            let stats = Arc::new(SinkStats::default());
            let name = cfg.name();
            let (intake, sender) = spawn(cfg, &name, rx, &stats, state_dir, &stop, grace)?;
            if matches!(cfg, SinkConfig::Hep { rtcp: true, .. }) {
                taps.push((tx.clone(), Arc::clone(&stats)));
            }
            txs.push((tx, Arc::clone(&stats)));
            running.push(Running {
                name,
                kind: cfg.kind(),
                stats,
                intake: Some(intake),
                sender,
            });
        }
        Ok(Forwarder {
            tx: RecordTx {
                sinks: Arc::new(txs),
                wait,
                rtcp: RtcpTap::new(taps, wait),
            },
            sinks: running,
            stop,
        })
    }

    /// What workers send records with.
    pub fn sender(&self) -> RecordTx {
        self.tx.clone()
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
        self.tx = RecordTx {
            sinks: Arc::new(Vec::new()),
            wait: false,
            rtcp: None,
        };
        for s in &mut self.sinks {
            if let Some(t) = s.intake.take() {
                let _ = t.join();
            }
        }
        self.stop.store(true, Ordering::Relaxed);
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
    stop: &Arc<AtomicBool>,
    grace: Duration,
) -> std::io::Result<Threads> {
    let thread = |what: &str| std::thread::Builder::new().name(format!("rtcprobe-{what}-{name}"));
    let (service, delivery): (Box<dyn delivery::Service>, _) = match cfg {
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
    let (s, st, n) = (Arc::clone(stats), Arc::clone(stop), name.to_string());
    let mut service = service;
    let sender = thread("out").spawn(move || {
        delivery::run(&buf, service.as_mut(), &delivery, &s, &st, grace, &n);
    })?;
    Ok((intake, Some(sender)))
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
