//! The capture thread's half of the pipeline: decode, triage, route, batch, hand over.
//!
//! A [`Feeder`] turns frames into [`Event`]s and appends each to the batch of the shard that
//! owns it (RTP by SSRC; RTCP to every shard owning an SSRC it mentions; STUN to all; see
//! [`crate::engine::shard`]). A batch is sent when it is full, when its oldest event is
//! [`MAX_BATCH_AGE_NS`] old in capture time, or on [`Feeder::idle`].
//!
//! Live capture must never block ([`Overflow::Drop`]): a full queue drops the batch and
//! counts it. RTP packets dropped that way are remembered per stream (bounded) and reported to
//! the worker in the next batches that get through (at most a batch's worth in each, all of them
//! when the feeder is dropped), so the stream's loss excludes them and the
//! stream is flagged. Replaying a file can wait instead ([`Overflow::Wait`]): nothing is lost,
//! and the result equals the single-threaded replay.

use super::calls::{CallView, RecentCalls, MAX_ENDED, MAX_ONGOING};
use super::event::{Batch, Event};
use super::hops::HopStage;
use super::snapshot::{publish, CaptureSnapshot};
use super::worker::Worker;
use crate::capture::PointResolver;
use crate::config::Resolved;
use crate::correlate::calls::{CallEnded, CallStage};
use crate::correlate::hop::HopCounters;
use crate::engine::{shard, triage, Counters, Shard, StreamKey, Triage};
use crate::forward::record::RecordOptions;
use crate::forward::tap::RtcpTap;
use crate::forward::RecordTx;
use crate::sip::{SipCall, SipStage};
use crate::tcp::TcpStage;
use crate::wire::{decode, Datagram, Decoded, LinkType};
use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use foldhash::HashMap;
use std::sync::Arc;

/// Expire idle streams every second of capture time, as the single-threaded replay does.
pub const TICK_EVERY_NS: i64 = 1_000_000_000;
/// How far behind the wall clock a tick sent without traffic is dated ([`Feeder::idle`]):
/// well above libpcap's buffer timeout.
pub const IDLE_TICK_LAG_NS: i64 = 1_000_000_000;
/// A partly filled batch is sent once its first event is this old (capture time), so that a
/// quiet stream's packets do not wait for 63 others.
pub const MAX_BATCH_AGE_NS: i64 = 50_000_000;
/// A batch is sent early once its arena holds this many bytes (RTCP/STUN copies).
const MAX_ARENA_BYTES: usize = 64 * 1024;
/// Streams with dropped packets remembered per shard until the worker hears of them.
const MAX_PENDING_DROPS: usize = 4096;

/// What to do when a worker's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Live capture: drop the batch and count it; never block.
    Drop,
    /// File replay: wait for room; nothing is lost.
    Wait,
    /// Shutdown: wait a bounded time for room, then drop (a stuck worker cannot hang exit).
    Drain,
}

/// How long the final flush waits for room in a worker's queue.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The sending end of one worker's queue, as seen by one feeder.
pub struct ShardLink {
    pub tx: Sender<Batch>,
    /// Empty batches coming back from the worker.
    pub recycle: Receiver<Batch>,
}

struct Lane {
    link: ShardLink,
    batch: Batch,
    /// Capture time of the batch's first event.
    batch_since: i64,
    /// RTP packets dropped on a full queue, per stream, not yet reported to the worker. A map:
    /// during a flood of new SSRCs every dropped packet is a new key, and a list searched per
    /// packet made the capture thread slowest exactly when the queue was full (issue 11).
    drops: HashMap<StreamKey, u32>,
    /// Inline mode: the worker this thread runs itself, handed each batch instead of the queue.
    inline: Option<Box<Worker>>,
}

/// One capture thread's router into the shard workers.
pub struct Feeder {
    cfg: Resolved,
    lanes: Vec<Lane>,
    overflow: Overflow,
    batch_events: usize,
    next_tick: i64,
    stats: CaptureSnapshot,
    slot: Arc<ArcSwap<CaptureSnapshot>>,
    /// Batches allocated because none came back to reuse (bounded by the queue sizes).
    pub batches_allocated: u64,
    /// Sinks forwarding raw RTCP: each RTCP datagram is offered here once, before routing.
    rtcp_tap: Option<RtcpTap>,
    /// Names where each frame was seen ([`crate::engine::obs`]).
    points: PointResolver,
    /// Middlebox hops ([`super::hops`]): every datagram, in capture order; ended hops go to
    /// the stage's collector, splits to the worker owning the egress stream.
    hops: Option<HopStage>,
    /// Media over TCP ([`crate::tcp`]): frames enter like datagrams. An `Option` only so that
    /// it can be taken while its frames are routed through `self`; always `Some` between calls.
    tcp: Option<TcpStage>,
    /// Where the last TCP segment was seen: frames a flush frees are attributed there.
    tcp_point: crate::engine::ObservationPoint,
    /// ICE sessions and TURN allocations ([`crate::correlate::calls`]): every datagram, in
    /// capture order, before sharding (a session spans 5-tuples and SSRCs).
    calls: CallStage,
    /// Where ended sessions and allocations go (a replay's output); without it they are only
    /// counted.
    call_tx: Option<Sender<CallEnded>>,
    /// SIP ([`crate::sip`]): dialogs here; SDP clock rates broadcast to every worker.
    sip: SipStage,
    /// Ended calls kept for [`Feeder::take_calls`] (file replay), else dropped once counted.
    keep_calls: bool,
    sip_calls: Vec<SipCall>,
    /// The last ended calls of every kind, for `/calls` ([`super::calls`]); only when an
    /// endpoint may show them ([`Feeder::with_calls_view`]).
    recent: Option<RecentCalls>,
    /// Where call records go (the record sinks), when there are any.
    call_records: Option<(RecordTx, RecordOptions)>,
}

impl Feeder {
    pub fn new(
        cfg: Resolved,
        links: Vec<ShardLink>,
        overflow: Overflow,
        batch_events: usize,
        source: String,
        slot: Arc<ArcSwap<CaptureSnapshot>>,
        points: PointResolver,
    ) -> Self {
        let batch_events = batch_events.max(1);
        let cfg_tcp = cfg.tcp;
        let calls = CallStage::new(&cfg.calls, Arc::clone(points.names()));
        let sip = SipStage::new(cfg.sip.clone());
        let lanes = links
            .into_iter()
            .map(|link| Lane {
                link,
                batch: Batch::with_capacity(batch_events, 0),
                batch_since: 0,
                drops: HashMap::default(),
                inline: None,
            })
            .collect();
        Feeder {
            cfg,
            lanes,
            overflow,
            batch_events,
            next_tick: i64::MIN,
            stats: CaptureSnapshot {
                source,
                ..Default::default()
            },
            slot,
            batches_allocated: 0,
            rtcp_tap: None,
            points,
            hops: None,
            tcp: Some(TcpStage::new(cfg_tcp)),
            tcp_point: crate::engine::ObservationPoint::default(),
            calls,
            call_tx: None,
            sip,
            keep_calls: false,
            sip_calls: Vec::new(),
            recent: None,
            call_records: None,
        }
    }

    /// Send ended ICE sessions and TURN allocations to `tx` (a replay's output).
    pub fn with_call_records(mut self, tx: Sender<CallEnded>) -> Self {
        self.call_tx = Some(tx);
        self
    }

    /// Hand on what the ICE/TURN stage ended; a replay waits for room, a live capture drops
    /// (the outcomes are counted either way).
    fn calls_done(&mut self) {
        let (ice, turn) = self.calls.drain();
        if let Some((tx, opts)) = &self.call_records {
            let ice = ice.iter().map(|s| CallView::Ice(s.clone()));
            let turn = turn.iter().map(|a| CallView::Turn(a.clone()));
            for c in ice.chain(turn) {
                tx.send_call(opts, &c);
            }
        }
        if let Some(r) = &mut self.recent {
            let ice = ice.iter().map(|s| CallView::Ice(s.clone()));
            let turn = turn.iter().map(|a| CallView::Turn(a.clone()));
            for c in ice.chain(turn) {
                r.push(c);
            }
        }
        if let Some(tx) = &self.call_tx {
            let all = ice
                .into_iter()
                .map(CallEnded::Ice)
                .chain(turn.into_iter().map(CallEnded::Turn));
            for c in all {
                let sent = match self.overflow {
                    Overflow::Wait => tx.send(c).is_ok(),
                    Overflow::Drop | Overflow::Drain => tx.try_send(c).is_ok(),
                };
                if !sent {
                    self.stats.records_dropped_calls += 1;
                }
            }
        }
        self.stats.ice_turn = self.calls.counters();
        self.stats.ice_sessions_active = self.calls.ice.len() as u64;
        self.stats.turn_allocations_active = self.calls.turn.len() as u64;
    }

    /// Keep the calls that end for [`Feeder::take_calls`] (a file replay's report).
    pub fn with_calls(mut self) -> Self {
        self.keep_calls = true;
        self
    }

    /// End every dialog (the capture is over) and hand over the calls kept.
    pub fn take_calls(&mut self) -> Vec<SipCall> {
        self.sip.finish(self.stats.last_ns);
        self.sip_done();
        std::mem::take(&mut self.sip_calls)
    }

    /// Ended calls: kept (file replay) or dropped (their outcomes are counted).
    fn sip_done(&mut self) {
        let ended = self.sip.drain_ended();
        if let Some((tx, opts)) = &self.call_records {
            for c in &ended {
                tx.send_call(opts, &CallView::Sip(c.clone()));
            }
        }
        if let Some(r) = &mut self.recent {
            // Only the newest fit the ring: a burst of ended calls clones no more.
            let skip = ended.len().saturating_sub(MAX_ENDED);
            for c in ended.iter().skip(skip) {
                r.push(CallView::Sip(c.clone()));
            }
        }
        if self.keep_calls {
            self.sip_calls.extend(ended);
        }
        self.stats.sip = self.sip.counters();
        self.calls_snapshot();
    }

    /// Render what `/calls` shows (once per tick: the SIP stage's ticks end here).
    fn calls_snapshot(&mut self) {
        let Some(r) = &mut self.recent else {
            return;
        };
        let (ongoing, omitted) = self.sip.ongoing(self.stats.last_ns, MAX_ONGOING);
        let ongoing = ongoing.into_iter().map(CallView::Sip).collect();
        self.stats.calls = Some(r.snapshot(ongoing, omitted));
    }

    /// Send the record of every call that ends to `sinks` (the record sinks and options).
    pub fn with_call_sink(mut self, sinks: Option<(RecordTx, RecordOptions)>) -> Self {
        self.call_records = sinks;
        self
    }

    /// Keep the last ended calls and render the calls in progress each tick for `/calls`
    /// (the daemon, and a replay that serves its endpoint).
    pub fn with_calls_view(mut self) -> Self {
        self.recent = Some(RecentCalls::default());
        self
    }

    /// Name observation points with `points` (a live interface's resolver instead of the
    /// file resolver [`super::Pipeline::feeder`] gives).
    pub fn with_points(mut self, points: PointResolver) -> Self {
        // The stage names the streams it references with the same names.
        self.calls = CallStage::new(&self.cfg.calls, Arc::clone(points.names()));
        self.points = points;
        self
    }

    /// Also pair middlebox hops here, on the capture thread (`crate::correlate::hop`: the
    /// ingress and egress streams of a hop are on different workers when SSRCs are
    /// rewritten), and publish them with the capture counters.
    pub fn with_hops(mut self, stage: HopStage) -> Self {
        self.hops = Some(stage);
        self
    }

    /// End every hop (the capture is over): call before [`Feeder::flush`], so that the splits
    /// reach the workers before they end their streams. The matcher's counters.
    pub fn finish_hops(&mut self) -> HopCounters {
        let now = self.stats.last_ns;
        // What TCP connections still hold enters first (the capture is over), so that the hops
        // and the workers see those frames too.
        self.flush_tcp(now, true);
        self.calls.finish();
        self.calls_done();
        let Some(h) = &mut self.hops else {
            return HopCounters::default();
        };
        h.finish(now);
        self.hops_done(now);
        let Some(h) = &mut self.hops else {
            return HopCounters::default();
        };
        self.stats.hops = Some(h.snapshot(now, true));
        *h.matcher().counters()
    }

    /// The hop stage, if any (its matcher for reports and tests).
    pub fn hops(&self) -> Option<&HopStage> {
        self.hops.as_ref()
    }

    /// Expire idle hop streams at a tick, before the tick reaches the workers.
    fn expire_hops(&mut self, now: i64) {
        let idle = self.cfg.idle_timeout_ns;
        if let Some(h) = &mut self.hops {
            h.expire(now, idle);
            self.hops_done(now);
        }
    }

    /// Hand out what the hop stage ended: splits to the workers owning their streams (in
    /// capture order with the stream's packets); hops go to the stage's collector.
    fn hops_done(&mut self, now: i64) {
        let Some(mut h) = self.hops.take() else {
            return;
        };
        let n = self.shards();
        h.drain(
            now,
            &mut |key, upstream, inside| {
                let ev = Event::LossSplit {
                    now,
                    key,
                    upstream: u32::try_from(upstream).unwrap_or(u32::MAX),
                    inside: u32::try_from(inside).unwrap_or(u32::MAX),
                };
                self.push(Shard::of(n, key.ssrc) as usize, ev, &[]);
            },
            &mut |_, _| {},
        );
        self.hops = Some(h);
    }

    /// Also offer every RTCP datagram to `tap` (sinks forwarding raw RTCP). Here, before a
    /// compound is copied to each worker owning one of its SSRCs, each datagram is seen once.
    pub fn with_rtcp_tap(mut self, tap: Option<RtcpTap>) -> Self {
        self.rtcp_tap = tap;
        self
    }

    /// Run `worker` on this thread as the only lane's ([`super::Pipeline::start_inline`]).
    pub fn with_inline(mut self, worker: Option<Worker>) -> Self {
        if let (Some(w), Some(lane)) = (worker, self.lanes.first_mut()) {
            lane.inline = Some(Box::new(w));
        }
        self
    }

    /// Use a new configuration (port filter) from the next frame on.
    pub fn reconfigure(&mut self, cfg: Resolved) {
        self.cfg = cfg;
    }

    fn shards(&self) -> u32 {
        u32::try_from(self.lanes.len()).unwrap_or(u32::MAX)
    }

    /// Decode one frame captured at `ts_ns` and route it.
    pub fn frame(&mut self, link: LinkType, ts_ns: i64, data: &[u8]) {
        self.frame_on(link, 0, ts_ns, data);
    }

    /// Name pcapng interfaces (`if_name` by interface number) for [`Feeder::frame_on`].
    pub fn set_interface_names(&mut self, names: Vec<Option<String>>) {
        self.points.set_interface_names(names);
    }

    /// [`Feeder::frame_on`] for a frame of a pcapng interface whose link type (`linktype`)
    /// differs from the file's first: one we do not decode is counted as `unsupported_link`.
    pub fn frame_of(&mut self, linktype: i32, iface: u32, ts_ns: i64, data: &[u8]) {
        match LinkType::from_dlt(linktype) {
            Some(link) => self.frame_on(link, iface, ts_ns, data),
            None => {
                self.stats.frames += 1;
                *self.stats.undecoded.entry("unsupported_link").or_default() += 1;
            }
        }
    }

    /// [`Feeder::frame`] for a frame of pcapng interface `iface`.
    pub fn frame_on(&mut self, link: LinkType, iface: u32, ts_ns: i64, data: &[u8]) {
        self.stats.frames += 1;
        let frame = self.stats.frames;
        // Earliest and latest, not first and last: merged captures go backwards in time.
        if frame == 1 || ts_ns < self.stats.first_ns {
            self.stats.first_ns = ts_ns;
        }
        self.stats.last_ns = self.stats.last_ns.max(ts_ns);
        if ts_ns >= self.next_tick {
            if self.next_tick != i64::MIN {
                self.flush_tcp(ts_ns, false);
                self.calls.expire(ts_ns);
                self.calls_done();
                self.expire_hops(ts_ns);
                self.sip.expire(ts_ns);
                self.sip_done();
                self.broadcast(Event::Tick { now: ts_ns });
            }
            self.next_tick = ts_ns.saturating_add(TICK_EVERY_NS);
        }
        let point = self.points.point(link, iface, data);
        if point == crate::engine::ObservationPoint::OTHER {
            self.stats.unnamed_point_frames += 1;
        }
        match decode(link, data) {
            Ok(Decoded::Udp(dg)) => self.datagram(ts_ns, frame, point, &dg),
            Ok(Decoded::Tcp(seg)) => {
                let Some(mut tcp) = self.tcp.take() else {
                    return;
                };
                self.tcp_point = point;
                tcp.on_segment(ts_ns, &seg, &mut |now, dg| {
                    self.datagram(now, frame, point, dg)
                });
                self.stats.tcp = *tcp.counters();
                self.tcp = Some(tcp);
            }
            Err(e) => *self.stats.undecoded.entry(e.reason()).or_default() += 1,
        }
    }

    /// Frames a TCP flush frees (idle expiry, the end of the capture) enter at `now`.
    fn flush_tcp(&mut self, now: i64, finish: bool) {
        let Some(mut tcp) = self.tcp.take() else {
            return;
        };
        let frame = self.stats.frames;
        let point = self.tcp_point;
        let mut emit = |t, dg: &Datagram<'_>| self.datagram(t, frame, point, dg);
        if finish {
            tcp.finish(&mut emit);
        } else {
            tcp.expire(now, &mut emit);
        }
        self.stats.tcp = *tcp.counters();
        self.tcp = Some(tcp);
    }

    /// Triage one datagram (or a frame out of a TCP connection) and route it.
    fn datagram(
        &mut self,
        ts_ns: i64,
        frame: u64,
        point: crate::engine::ObservationPoint,
        dg: &Datagram<'_>,
    ) {
        if self.sip.is_sip(dg.src.port(), dg.dst.port(), dg.payload) {
            return self.sip_message(ts_ns, dg);
        }
        let n = self.shards();
        // Disjoint borrows: no copy of the 29 counters per datagram.
        let t = triage(&self.cfg, &mut self.stats.counters, dg);
        self.calls.on_datagram(ts_ns, dg, point);
        if self
            .hops
            .as_mut()
            .is_some_and(|h| h.on_datagram(ts_ns, dg, point))
        {
            self.hops_done(ts_ns);
        }
        match t {
            Triage::Rtp(mut meta) => {
                meta.point = point;
                self.stats.rtp_frames += 1;
                let i = Shard::of(n, meta.ssrc) as usize;
                self.push(
                    i,
                    Event::Rtp {
                        now: ts_ns,
                        frame,
                        meta,
                    },
                    &[],
                );
            }
            Triage::Rtcp { buf, complete } => {
                if let Some(tap) = &self.rtcp_tap {
                    tap.offer(ts_ns, dg.src, dg.dst, buf);
                }
                let mask = shard::rtcp_shards(buf, complete, n);
                for i in 0..self.lanes.len() {
                    if mask & (1u64 << (i & 63)) != 0 {
                        let ev = Event::Rtcp {
                            now: ts_ns,
                            frame,
                            point,
                            src: dg.src,
                            dst: dg.dst,
                            start: 0,
                            len: 0,
                            complete,
                        };
                        self.push(i, ev, buf);
                    }
                }
            }
            Triage::Stun(m) => {
                for i in 0..self.lanes.len() {
                    let ev = Event::Stun {
                        now: ts_ns,
                        frame,
                        src: dg.src,
                        dst: dg.dst,
                        start: 0,
                        len: 0,
                    };
                    self.push(i, ev, m.bytes());
                }
            }
            Triage::Done => {}
        }
    }

    /// A SIP message: the dialog table here, its SDP's payload types to every worker.
    fn sip_message(&mut self, now: i64, dg: &Datagram<'_>) {
        let mut out = Vec::new();
        self.sip
            .on_message(now, dg.src, dg.dst, dg.payload, &mut |m| out.push(m));
        for m in out {
            let codec = m.codec.and_then(|c| {
                crate::engine::emodel::codecs::ALL
                    .iter()
                    // By value: the table's entries are constants, not one address each.
                    .position(|x| **x == *c)
            });
            self.broadcast(Event::Sdp {
                now,
                addr: m.addr,
                pt: m.pt,
                codec: codec.and_then(|i| u8::try_from(i).ok()).unwrap_or(u8::MAX),
                clock_rate: m.clock_rate,
            });
        }
        self.stats.sip = self.sip.counters();
    }

    /// Append `ev` to lane `i` (copying `bytes` into the arena and pointing the event at
    /// them), sending the batch when it is full or old.
    fn push(&mut self, i: usize, mut ev: Event, bytes: &[u8]) {
        let Some(lane) = self.lanes.get_mut(i) else {
            return;
        };
        if lane.batch.is_empty() {
            lane.batch_since = ev.now();
        }
        if !bytes.is_empty() {
            let (s, l) = lane.batch.stash(bytes);
            if let Event::Rtcp { start, len, .. } | Event::Stun { start, len, .. } = &mut ev {
                (*start, *len) = (s, l);
            }
        }
        let now = ev.now();
        lane.batch.events.push(ev);
        if lane.batch.events.len() >= self.batch_events
            || lane.batch.arena.len() >= MAX_ARENA_BYTES
            || now.saturating_sub(lane.batch_since) >= MAX_BATCH_AGE_NS
        {
            self.send(i);
        }
    }

    /// An event every worker must see.
    fn broadcast(&mut self, ev: Event) {
        for i in 0..self.lanes.len() {
            self.push(i, ev, &[]);
        }
    }

    /// Send lane `i`'s batch (if any), preceded by the drops its worker has not heard of.
    fn send(&mut self, i: usize) {
        let overflow = self.overflow;
        let Some(lane) = self.lanes.get_mut(i) else {
            return;
        };
        if let Some(w) = &mut lane.inline {
            // Also when empty (`idle`, `flush`): the worker's snapshot may be due.
            w.handle_inline(&lane.batch);
            lane.batch.clear();
            return;
        }
        if lane.batch.is_empty() && lane.drops.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut lane.batch);
        // A full queue will refuse the batch: the reports stay pending rather than ride in a
        // batch that is dropped and be taken back one by one.
        let refused = overflow == Overflow::Drop && lane.link.tx.is_full();
        if !lane.drops.is_empty() && !refused {
            let now = batch.events.first().map_or(self.stats.last_ns, Event::now);
            // At most a batch's worth of reports, in front of the batch's events; the rest
            // wait for the next batch. All 4,096 at once grew batches (reused for good) to
            // thousands of events each during a flood.
            let (before, mut room) = (batch.events.len(), self.batch_events);
            lane.drops.retain(|&key, &mut packets| {
                if room == 0 {
                    return true;
                }
                room -= 1;
                batch.events.push(Event::ProbeDrop { now, key, packets });
                false
            });
            let reports = batch.events.len() - before;
            batch.events.rotate_right(reports);
        }
        let result = match overflow {
            Overflow::Wait => lane
                .link
                .tx
                .send(batch)
                .map_err(|e| TrySendError::Disconnected(e.0)),
            Overflow::Drop => lane.link.tx.try_send(batch),
            Overflow::Drain => lane
                .link
                .tx
                .send_timeout(batch, DRAIN_WAIT)
                .map_err(|e| match e {
                    crossbeam_channel::SendTimeoutError::Timeout(b) => TrySendError::Full(b),
                    crossbeam_channel::SendTimeoutError::Disconnected(b) => {
                        TrySendError::Disconnected(b)
                    }
                }),
        };
        let mut dropped = match result {
            Ok(()) => {
                // The next batch: one the worker gave back, else a new one.
                lane.batch = lane.link.recycle.try_recv().unwrap_or_else(|_| {
                    self.batches_allocated += 1;
                    Batch::with_capacity(self.batch_events, 0)
                });
                return;
            }
            Err(TrySendError::Full(b) | TrySendError::Disconnected(b)) => b,
        };
        for ev in &dropped.events {
            self.stats.pipeline_dropped += 1;
            match *ev {
                Event::Rtp { meta, .. } => {
                    self.stats.pipeline_dropped_rtp += 1;
                    remember(&mut lane.drops, meta.key(), 1, &mut self.stats.counters);
                }
                Event::ProbeDrop { key, packets, .. } => {
                    // Not news lost: still to be told.
                    self.stats.pipeline_dropped -= 1;
                    remember(&mut lane.drops, key, packets, &mut self.stats.counters);
                }
                _ => {}
            }
        }
        // The dropped batch takes the next events: dropping allocates nothing.
        dropped.clear();
        lane.batch = dropped;
    }

    /// Send every partly filled batch.
    pub fn flush(&mut self) {
        for i in 0..self.lanes.len() {
            self.send(i);
        }
    }

    /// Nothing was captured for a while; `now` is the wall clock (ns since the epoch, the
    /// clock capture timestamps come from). Lets idle streams expire without traffic, and
    /// sends what is pending.
    ///
    /// The tick is dated [`IDLE_TICK_LAG_NS`] before `now` (never before the latest frame): a
    /// packet captured just before `now` may still sit in libpcap's buffer, and a tick closes
    /// the engine's record interval, which must not happen before every packet captured
    /// before the boundary has been handled.
    pub fn idle(&mut self, now: i64) {
        let now = now.saturating_sub(IDLE_TICK_LAG_NS).max(self.stats.last_ns);
        if self.next_tick != i64::MIN && now >= self.next_tick {
            self.calls.expire(now);
            self.calls_done();
            self.expire_hops(now);
            self.sip.expire(now);
            self.sip_done();
            self.broadcast(Event::Tick { now });
            self.next_tick = now.saturating_add(TICK_EVERY_NS);
        }
        self.flush();
    }

    /// libpcap statistics, cumulative. New kernel or interface drops flag every live stream.
    pub fn capture_stats(&mut self, now: i64, received: u64, kernel: u64, interface: u64) {
        let new_drops = kernel > self.stats.kernel_dropped || interface > self.stats.if_dropped;
        self.stats.kernel_received = received;
        self.stats.kernel_dropped = kernel;
        self.stats.if_dropped = interface;
        if new_drops {
            self.broadcast(Event::CaptureDrop { now });
        }
    }

    /// Make the counters visible to readers.
    pub fn publish(&mut self) {
        if let Some(h) = &mut self.hops {
            self.stats.hops = Some(h.snapshot(self.stats.last_ns, false));
        }
        publish(&self.slot, self.stats.clone());
    }

    /// What this feeder has counted so far.
    pub fn stats(&self) -> &CaptureSnapshot {
        &self.stats
    }
}

impl Drop for Feeder {
    /// Whatever is still batched goes to the workers (they stop when every feeder is gone).
    fn drop(&mut self) {
        if self.overflow == Overflow::Drop {
            self.overflow = Overflow::Drain;
        }
        // Hops first: their splits go to the workers with the last batches.
        self.finish_hops();
        // Drop reports go a batch's worth at a time: flush until none is left, or until a
        // round sends none (a worker that does not take its batches).
        let pending = |f: &Feeder| f.lanes.iter().map(|l| l.drops.len()).sum::<usize>();
        loop {
            let before = pending(self);
            self.flush();
            let after = pending(self);
            if after == 0 || after >= before {
                break;
            }
        }
        for lane in &mut self.lanes {
            if let Some(w) = lane.inline.take() {
                w.finish();
            }
        }
        self.publish();
    }
}

/// Add `packets` to `key`'s pending drops; past the bound they are counted as unattributed.
fn remember(drops: &mut HashMap<StreamKey, u32>, key: StreamKey, packets: u32, c: &mut Counters) {
    if let Some(e) = drops.get_mut(&key) {
        *e = e.saturating_add(packets);
    } else if drops.len() < MAX_PENDING_DROPS {
        drops.insert(key, packets);
    } else {
        c.probe_dropped_unattributed += u64::from(packets);
    }
}
