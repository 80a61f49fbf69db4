//! The live pipeline: capture threads → shard workers → published snapshots and records.
//!
//! ```text
//!  capture thread(s)                       shard workers (N)             readers
//!  frame → decode → triage → route ──▶ [bounded queue] ──▶ Engine ──▶ ShardSnapshot (ArcSwap)
//!      (Feeder, batches of events)   ◀── [recycled batches] ──┘  └──▶ records queue
//! ```
//!
//! * Sharding is by SSRC ([`crate::engine::shard`]): every RTP packet of a stream and every
//!   RTCP part about it reach the one worker that owns the stream, which keeps its state
//!   without a lock.
//! * The capture thread never blocks in live capture: a full queue drops the batch, counts it
//!   and tells the worker later which streams lost packets that way, so that probe overload is
//!   reported as `probe_dropped` and never as network loss ([`feeder`]).
//! * Time is the capture time carried by each event; expiry ticks are events too, so a
//!   replay through the pipeline equals the single-threaded replay.
//! * Readers never block the pipeline: they load snapshots ([`snapshot`]).

pub mod calls;
pub mod event;
pub mod feeder;
pub mod file;
pub mod hops;
pub mod progress;
pub mod snapshot;
pub mod worker;

use crate::capture::PointResolver;
use crate::config::Resolved;
use crate::engine::{EndReason, Engine, PointNames, Shard};
use crate::export::aggregate::Aggregator;
use crate::export::labels::Labeller;
use crate::forward::tap::RtcpTap;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use event::Batch;
use feeder::{Feeder, Overflow, ShardLink};
use snapshot::Board;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use worker::{Control, RecordsOut, Worker};

/// Shape of a pipeline.
#[derive(Debug, Clone)]
pub struct Options {
    /// Shard workers (≥ 1, ≤ 64).
    pub workers: usize,
    /// Capacity of each worker's queue, in batches.
    pub queue_batches: usize,
    /// Events per batch.
    pub batch_events: usize,
    pub snapshot_interval: Duration,
    pub overflow: Overflow,
    /// How streams still live at the end are ended.
    pub end_reason: EndReason,
    /// Exporter labels: when set, each worker keeps the exporter's aggregates and histograms
    /// and publishes them in its snapshots ([`crate::export::aggregate`]).
    pub labels: Option<Arc<Labeller>>,
    /// How long the snapshots keep the final records of ended streams
    /// (`exporter.ended_series_linger_secs`; with `labels` only).
    pub ended_linger: Duration,
}

impl Options {
    /// The default number of workers: one per core, minus one for the capture thread.
    pub fn default_workers() -> usize {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get().saturating_sub(1))
            .clamp(1, 64)
    }
}

/// Whether `workers` shard workers on threads of their own beat processing every packet on
/// the thread that reads them, on a host with `cores` cores (`replay --workers N`, and
/// `rtcprobe run` with one capture).
///
/// Measured on a quiet 2-core host (docs/benchmarks.md, "Replay through the live pipeline"):
/// before the single thread got faster (2026-12-07 07:20) the pipeline with 1 or 2 workers ran
/// 1.17x it; after (09:00) 1.00x with 1 worker, 0.97x with 2 and 0.90x with 3. So the
/// pipeline is used when the reading thread and every worker each have a core of their own
/// (it is then never slower, and scales past one core of analysis); otherwise threads would
/// take turns, and one thread does it all.
pub fn pipeline_pays(workers: usize, cores: usize) -> bool {
    workers >= 1 && cores > workers
}

/// Running workers, and what feeders need to reach them.
pub struct Pipeline {
    pub board: Arc<Board>,
    links: Vec<(Sender<Batch>, Receiver<Batch>)>,
    controls: Vec<Sender<Control>>,
    workers: Vec<JoinHandle<()>>,
    cfg: Resolved,
    opts: Options,
    /// Test hook: while true, workers take nothing from their queues.
    pub hold: Arc<AtomicBool>,
    /// Given to every feeder: sinks forwarding raw RTCP ([`crate::forward::tap`]).
    rtcp_tap: Option<RtcpTap>,
    /// The run's observation point names: feeders intern, workers name records.
    points: Arc<PointNames>,
    /// Inline mode ([`Pipeline::start_inline`]): the one worker, until the feeder takes it.
    inline: std::sync::Mutex<Option<Worker>>,
    /// Where hop and call records go (the sinks of the stream records), for
    /// [`Pipeline::hop_stage`] and every feeder.
    hop_records: Option<(
        crate::forward::RecordTx,
        crate::forward::record::RecordOptions,
    )>,
}

impl Pipeline {
    /// Start `opts.workers` workers; `captures` is the number of feeders that will be made.
    /// Records of ended streams go to `records` when given.
    pub fn start(
        cfg: &Resolved,
        opts: &Options,
        captures: usize,
        records: Option<RecordsOut>,
    ) -> std::io::Result<Pipeline> {
        Pipeline::start_with(cfg, opts, captures, records, false)
    }

    /// A pipeline without threads, for one capture where [`pipeline_pays`] says no: one
    /// worker, run by the capture thread itself through the feeder ([`Pipeline::feeder`] of
    /// slot 0), which hands each batch to it instead of queueing it and publishes its
    /// snapshots. The same events, engine, snapshots and records as with one worker thread;
    /// nothing is ever dropped on a full queue (there is none: a slow engine slows the reading,
    /// and the kernel's buffer absorbs it), and [`Pipeline::hold`] has no effect.
    pub fn start_inline(
        cfg: &Resolved,
        opts: &Options,
        records: Option<RecordsOut>,
    ) -> std::io::Result<Pipeline> {
        let opts = Options {
            workers: 1,
            ..opts.clone()
        };
        Pipeline::start_with(cfg, &opts, 1, records, true)
    }

    /// [`Pipeline::start`], or for one capture where [`pipeline_pays`] says no on this host,
    /// [`Pipeline::start_inline`] (`rtcprobe run`).
    pub fn start_chosen(
        cfg: &Resolved,
        opts: &Options,
        captures: usize,
        records: Option<RecordsOut>,
    ) -> std::io::Result<Pipeline> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if captures == 1 && !pipeline_pays(opts.workers, cores) {
            tracing::info!(
                workers = opts.workers,
                cores,
                "one capture, workers no faster than one thread here: the capture thread \
                 analyses its packets itself (docs/benchmarks.md)"
            );
            return Pipeline::start_inline(cfg, opts, records);
        }
        Pipeline::start(cfg, opts, captures, records)
    }

    fn start_with(
        cfg: &Resolved,
        opts: &Options,
        captures: usize,
        records: Option<RecordsOut>,
        inline: bool,
    ) -> std::io::Result<Pipeline> {
        let n = opts.workers.clamp(1, 64);
        let count = u32::try_from(n).unwrap_or(64);
        let board = Arc::new(Board::new(captures, n));
        let hold = Arc::new(AtomicBool::new(false));
        let rtcp_tap = records
            .as_ref()
            .and_then(|r| r.forward.as_ref())
            .and_then(|(tx, _)| tx.rtcp_tap());
        let points = Arc::new(PointNames::with_interface_names(&cfg.interface_names));
        let hop_records = records.as_ref().and_then(|r| r.forward.clone());
        let (mut links, mut controls, mut workers) = (Vec::new(), Vec::new(), Vec::new());
        let mut inline_worker = None;
        for (i, slot) in board.shards.iter().enumerate() {
            let (tx, rx) = bounded(opts.queue_batches.max(1));
            let (recycle_tx, recycle_rx) = bounded(opts.queue_batches.max(1));
            let (ctl_tx, ctl_rx) = unbounded();
            let shard = Shard {
                index: u32::try_from(i).unwrap_or(0),
                count,
            };
            let mut engine = Engine::with_shard(cfg.clone(), shard);
            engine.set_point_names(Arc::clone(&points));
            let mut w = Worker::new(
                engine,
                shard,
                rx,
                recycle_tx,
                ctl_rx,
                records.clone(),
                Arc::clone(slot),
                opts.snapshot_interval,
                opts.end_reason,
                Arc::clone(&hold),
                opts.labels.clone().map(Aggregator::new),
            );
            w.ended_linger = opts.ended_linger;
            if inline {
                inline_worker = Some(w);
            } else {
                workers.push(
                    std::thread::Builder::new()
                        .name(format!("rtcprobe-w{i}"))
                        .spawn(move || w.run())?,
                );
            }
            links.push((tx, recycle_rx));
            controls.push(ctl_tx);
        }
        Ok(Pipeline {
            board,
            links,
            controls,
            workers,
            cfg: cfg.clone(),
            opts: opts.clone(),
            hold,
            rtcp_tap,
            points,
            inline: std::sync::Mutex::new(inline_worker),
            hop_records,
        })
    }

    /// Whether the capture thread runs the engine itself ([`Pipeline::start_inline`]).
    pub fn is_inline(&self) -> bool {
        self.workers.is_empty()
    }

    /// The run's observation point names (for a live capture's [`PointResolver::live`]).
    pub fn points(&self) -> &Arc<PointNames> {
        &self.points
    }

    /// A feeder for capture slot `capture` (0-based, < `captures` given to [`Pipeline::start`]).
    /// Inline, the first feeder made runs the worker.
    pub fn feeder(&self, capture: usize, source: String) -> Feeder {
        let links = self
            .links
            .iter()
            .map(|(tx, recycle)| ShardLink {
                tx: tx.clone(),
                recycle: recycle.clone(),
            })
            .collect();
        Feeder::new(
            self.cfg.clone(),
            links,
            self.opts.overflow,
            self.opts.batch_events,
            source,
            self.board.capture_slot(capture),
            PointResolver::file(Arc::clone(&self.points)),
        )
        .with_rtcp_tap(self.rtcp_tap.clone())
        .with_call_sink(self.hop_records.clone())
        .with_inline(self.inline.lock().ok().and_then(|mut w| w.take()))
    }

    /// A capture thread's hop stage ([`hops`]): the run's point names, hop records to the
    /// record sinks when there are any, at most `cap` hops published, stopped ones kept
    /// `linger_ns` of capture time.
    pub fn hop_stage(&self, cap: usize, linger_ns: i64) -> hops::HopStage {
        let stage =
            hops::HopStage::new(Default::default(), Arc::clone(&self.points), cap, linger_ns);
        match &self.hop_records {
            Some((tx, opts)) => stage.with_records(tx.clone(), opts.clone()),
            None => stage,
        }
    }

    /// Batches waiting in all queues (the health line shows it).
    pub fn queued_batches(&self) -> usize {
        self.links.iter().map(|(tx, _)| tx.len()).sum()
    }

    /// Apply a new engine configuration in every worker, keeping streams.
    pub fn reconfigure(&self, cfg: &Resolved) {
        for c in &self.controls {
            let _ = c.send(Control::Reconfigure(Box::new(cfg.clone())));
        }
    }

    /// Wait for the workers to drain and stop. Call after every feeder has been dropped.
    pub fn finish(mut self) {
        self.links.clear();
        self.controls.clear();
        for w in self.workers.drain(..) {
            if w.join().is_err() {
                tracing::error!("a pipeline worker panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pipeline_pays;

    #[test]
    fn worker_threads_are_chosen_while_the_reader_and_each_worker_have_a_core() {
        // One core: one thread does it all, whatever the workers asked.
        for workers in [1, 2, 8] {
            assert!(!pipeline_pays(workers, 1), "{workers} workers on 1 core");
        }
        // Two cores: 1 worker measured 1.00x one thread, 2 workers 0.97x, 3 workers 0.90x.
        assert!(pipeline_pays(1, 2));
        assert!(!pipeline_pays(2, 2));
        assert!(!pipeline_pays(3, 2));
        // More cores: a core for the reader and one per worker.
        assert!(pipeline_pays(3, 4));
        assert!(!pipeline_pays(4, 4));
        assert!(pipeline_pays(63, 64));
        assert!(!pipeline_pays(64, 64));
    }
}
