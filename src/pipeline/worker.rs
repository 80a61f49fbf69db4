//! A shard worker: owns one [`Engine`] (the streams of its SSRCs) and nothing else, so the
//! per-packet path takes no lock.
//!
//! It handles batches in the order one feeder sent them, gives each emptied batch back for
//! reuse, publishes a [`ShardSnapshot`] of its live streams every `snapshot_interval`
//! (wall clock: snapshots are for readers; the values in them are capture-time values), and
//! hands the records of ended streams to the records queue. When every feeder has gone it
//! drains its queue, ends every stream (`end_of_capture` or `shutdown`) and stops.

use super::event::{Batch, Event};
use super::snapshot::{publish, ShardSnapshot};
use crate::config::Resolved;
use crate::engine::record::StreamRecord;
use crate::engine::{EndReason, Engine, Shard};
use crate::export::aggregate::Aggregator;
use crate::forward::record::RecordOptions;
use crate::forward::{Hook, RecordTx};
use crate::wire::stun::Message;
use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A record of an ended stream with its order of first appearance (frame number).
pub type Ordered = (u64, StreamRecord);

/// Ended streams a worker keeps for their linger at most (the exporter's default
/// `max_stream_series`); past it the oldest go first.
pub const MAX_LINGERING: usize = 10_000;

/// Messages that must not be dropped with a batch.
#[derive(Debug)]
pub enum Control {
    /// New engine configuration (SIGHUP): streams are kept.
    Reconfigure(Box<Resolved>),
}

/// Where a worker sends its records, and whether it may wait for room.
#[derive(Clone)]
pub struct RecordsOut {
    /// Ended streams' records (replay's report), if wanted.
    pub tx: Option<Sender<Ordered>>,
    /// Replay waits; the daemon drops and counts rather than stall its workers.
    pub wait: bool,
    /// Interval and final records for the sinks (src/forward), if any are configured.
    pub forward: Option<(RecordTx, RecordOptions)>,
}

pub struct Worker {
    pub engine: Engine,
    pub shard: Shard,
    pub rx: Receiver<Batch>,
    pub recycle: Sender<Batch>,
    pub control: Receiver<Control>,
    pub records: Option<RecordsOut>,
    pub slot: Arc<ArcSwap<ShardSnapshot>>,
    pub snapshot_interval: Duration,
    /// How streams still live at the end are ended.
    pub end_reason: EndReason,
    /// Test hook: while set, the worker takes nothing from its queue (overload tests).
    pub hold: Arc<AtomicBool>,
    /// How long ended streams stay in the snapshots (with exporter aggregates only).
    pub ended_linger: Duration,
    /// Final records of recently ended streams, oldest first, at most [`MAX_LINGERING`].
    lingering: VecDeque<(Instant, Ordered)>,
    /// Exporter aggregates, when the pipeline has labels.
    agg: Option<Aggregator>,
    /// Makes the forwarded records (`records.forward`).
    forward: Option<Hook>,
    events: u64,
    records_dropped: u64,
    capture_now: i64,
    /// When the next snapshot is due in inline mode ([`Worker::handle_inline`]).
    next_snapshot: Instant,
}

impl Worker {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: Engine,
        shard: Shard,
        rx: Receiver<Batch>,
        recycle: Sender<Batch>,
        control: Receiver<Control>,
        records: Option<RecordsOut>,
        slot: Arc<ArcSwap<ShardSnapshot>>,
        snapshot_interval: Duration,
        end_reason: EndReason,
        hold: Arc<AtomicBool>,
        agg: Option<Aggregator>,
    ) -> Self {
        let forward = records
            .as_ref()
            .and_then(|r| r.forward.clone())
            .map(|(tx, opts)| Hook::new(tx, opts));
        let mut engine = engine;
        if let Some(f) = &forward {
            engine.set_interval(f.interval_ns());
        }
        Worker {
            forward,
            engine,
            shard,
            rx,
            recycle,
            control,
            records,
            slot,
            snapshot_interval,
            end_reason,
            hold,
            agg,
            ended_linger: Duration::ZERO,
            lingering: VecDeque::new(),
            events: 0,
            records_dropped: 0,
            capture_now: 0,
            next_snapshot: Instant::now() + snapshot_interval,
        }
    }

    /// Run until every feeder is gone and the queue is empty.
    pub fn run(mut self) {
        let mut next_snapshot = Instant::now() + self.snapshot_interval;
        loop {
            self.controls();
            if self.hold.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let wait = next_snapshot.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait.min(Duration::from_millis(200))) {
                Ok(mut batch) => {
                    self.handle(&batch);
                    batch.clear();
                    // A full recycling queue frees the batch instead.
                    let _ = self.recycle.try_send(batch);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if Instant::now() >= next_snapshot {
                self.snapshot();
                next_snapshot = Instant::now() + self.snapshot_interval;
            }
        }
        self.finish();
    }

    /// Apply the control messages waiting.
    fn controls(&mut self) {
        while let Ok(c) = self.control.try_recv() {
            match c {
                Control::Reconfigure(cfg) => self.engine.reconfigure(*cfg),
            }
        }
    }

    /// Inline mode (no thread: the capture thread calls this with each batch it would have
    /// queued, see [`super::Pipeline::start`]): control messages, the batch, and the snapshot
    /// when one is due (`batch` may be empty: only the last two).
    pub fn handle_inline(&mut self, batch: &Batch) {
        self.controls();
        if !batch.is_empty() {
            self.handle(batch);
        }
        let now = Instant::now();
        if now >= self.next_snapshot {
            self.snapshot();
            self.next_snapshot = now + self.snapshot_interval;
        }
    }

    /// End every stream, hand the records on, publish the last snapshot.
    pub fn finish(mut self) {
        self.engine.finish_all_as(self.end_reason);
        self.hand_on();
        self.snapshot();
    }

    fn handle(&mut self, batch: &Batch) {
        for ev in &batch.events {
            self.events += 1;
            let now = ev.now();
            self.capture_now = self.capture_now.max(now);
            match *ev {
                Event::Rtp { frame, meta, .. } => {
                    self.engine.set_frame(frame);
                    let created = self.engine.counters().streams_created;
                    self.engine.on_rtp_meta(now, &meta);
                    if self.engine.counters().streams_created != created {
                        self.log_start(&meta);
                    }
                }
                Event::Rtcp {
                    frame,
                    point,
                    src,
                    dst,
                    start,
                    len,
                    complete,
                    ..
                } => {
                    self.engine.set_frame(frame);
                    self.engine.set_point(point);
                    self.engine
                        .on_rtcp(now, src, dst, batch.bytes(start, len), complete);
                }
                Event::Stun {
                    frame,
                    src,
                    dst,
                    start,
                    len,
                    ..
                } => {
                    self.engine.set_frame(frame);
                    // Checked by the capture thread; the copy cannot fail to parse again.
                    if let Ok(m) = Message::new_checked(batch.bytes(start, len)) {
                        self.engine.on_stun(now, src, dst, &m);
                    }
                }
                Event::Tick { .. } => self.engine.expire(now),
                Event::ProbeDrop { key, packets, .. } => {
                    self.engine.on_probe_drop(now, &key, u64::from(packets))
                }
                Event::CaptureDrop { .. } => self.engine.on_capture_drop(now),
                Event::Sdp {
                    addr,
                    pt,
                    codec,
                    clock_rate,
                    ..
                } => self.engine.on_sdp(crate::engine::sdp::SdpPt {
                    addr,
                    pt,
                    clock_rate,
                    codec: crate::engine::emodel::codecs::ALL
                        .get(usize::from(codec))
                        .copied(),
                }),
                Event::LossSplit {
                    key,
                    upstream,
                    inside,
                    ..
                } => {
                    self.engine
                        .add_loss_split(&key, u64::from(upstream), u64::from(inside));
                }
            }
        }
        self.hand_on();
    }

    /// Pass the records of streams that ended on to the records queue, if there is one.
    fn hand_on(&mut self) {
        // Closed intervals first: a stream that ended after a boundary has its interval
        // record before its final one.
        let cuts = self.engine.drain_cuts();
        if let Some(f) = &mut self.forward {
            f.cuts(&cuts);
        }
        let finished = self.engine.drain_finished();
        if let Some(agg) = &mut self.agg {
            for (_, r) in &finished {
                agg.fold_ended(r);
            }
            if !self.ended_linger.is_zero() && !finished.is_empty() {
                let now = Instant::now();
                for o in &finished {
                    if self.lingering.len() >= MAX_LINGERING {
                        self.lingering.pop_front();
                    }
                    self.lingering.push_back((now, o.clone()));
                }
            }
        }
        if let Some(f) = &mut self.forward {
            f.ended(&finished);
        }
        if tracing::enabled!(tracing::Level::DEBUG) {
            for (_, r) in &finished {
                tracing::debug!(
                    src = %self.shown(&r.src),
                    dst = %self.shown(&r.dst),
                    ssrc = %format_args!("0x{:08X}", r.ssrc),
                    packets = r.packets,
                    missing = r.missing,
                    ended_by = r.ended_by,
                    "stream ended"
                );
            }
        }
        let Some((out, tx)) = self
            .records
            .as_ref()
            .and_then(|o| Some((o, o.tx.as_ref()?)))
        else {
            return;
        };
        for r in finished {
            let sent = if out.wait {
                tx.send(r).is_ok()
            } else {
                match tx.try_send(r) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
                }
            };
            if !sent {
                self.records_dropped += 1;
            }
        }
    }

    /// Debug log of a stream that just passed RFC 3550 A.1 probation.
    fn log_start(&self, meta: &crate::engine::RtpMeta) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(
                src = %self.shown(&meta.src.to_string()),
                dst = %self.shown(&meta.dst.to_string()),
                ssrc = %format_args!("0x{:08X}", meta.ssrc),
                pt = meta.pt,
                "stream started"
            );
        }
    }

    /// An address as the exporter's privacy settings (`address_labels`) show it; as is
    /// without an exporter (a replay).
    fn shown(&self, addr: &str) -> String {
        self.agg
            .as_ref()
            .map_or_else(|| addr.to_string(), |a| a.labeller().address(addr))
    }

    /// Publish the live streams, counters and (with labels) the exporter aggregates; the
    /// aggregates observe each live stream once here, O(streams).
    fn snapshot(&mut self) {
        let streams = self.engine.active_records();
        let linger = self.ended_linger;
        while self
            .lingering
            .front()
            .is_some_and(|(t, _)| t.elapsed() > linger)
        {
            self.lingering.pop_front();
        }
        let ended = self.lingering.iter().map(|(_, o)| o.clone()).collect();
        let aggregates = self.agg.as_mut().map(|a| Arc::new(a.snapshot(&streams)));
        publish(
            &self.slot,
            ShardSnapshot {
                shard: self.shard.index,
                capture_now: self.capture_now,
                streams,
                ended,
                aggregates,
                counters: self.engine.counters().clone(),
                events: self.events,
                records_dropped: self.records_dropped,
            },
        );
    }
}
