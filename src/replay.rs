//! Offline analysis of a capture file: read, decode, track, report.
//!
//! The same engine as live capture, fed from a file; time is the capture timestamp. A damaged
//! or truncated file stops the read with an error naming the packet, and everything read before
//! it is still analysed and reported ([`Report::summary`] `error`).
//!
//! Streams are handed to an [`Ended`] sink as they end (idle, evicted, BYE), not kept until
//! the end of the file: with [`crate::output::Collector`] as the sink, replay memory is bounded
//! by the stream table (`max_streams`), not by the number of streams in the file.
//! [`replay_file`] keeps them all in a [`Report`] (tests, small files).

use crate::capture::{CaptureError, FileSource, PacketSource, PointResolver};
use crate::config::Resolved;
use crate::correlate::calls::{CallCounters, CallStage, CallView};
use crate::correlate::hop::{HopCounters, HopRecord};
use crate::correlate::ice::IceSessionRecord;
use crate::correlate::turn::TurnAllocationRecord;
use crate::engine::record::{rfc3339_micros, StreamRecord};
use crate::engine::{Counters, Engine};
use crate::forward::Hook;
use crate::pipeline::hops::HopStage;
use crate::sip::{call::CallMatcher, SipCall, SipCounters, SipStage};
use crate::tcp::{TcpCounters, TcpStage};
use crate::wire::{decode, decode_udp, DecodeError, Decoded, LinkType};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How often (capture time) idle streams are expired.
const EXPIRE_EVERY_NS: i64 = 1_000_000_000;
/// Final records held for the sinks between expiry ticks before they are handed on early
/// (many streams evicted within one second of capture time).
const MAX_PENDING: usize = 1_024;

/// Where a replay puts the record of each stream when it ends, with its order of first
/// appearance (the frame number of its first packet), and each middlebox hop when it ends,
/// numbered in the order hops end (`crate::correlate::hop`).
pub trait Ended {
    fn ended(&mut self, order: u64, record: StreamRecord);
    /// A hop ended; `seq` is its place in the output (default: not wanted).
    fn hop(&mut self, seq: u64, hop: HopRecord) {
        let _ = (seq, hop);
    }
    /// An ICE session ended (`crate::correlate::ice`; default: not wanted).
    fn ice(&mut self, session: IceSessionRecord) {
        let _ = session;
    }
    /// A TURN allocation ended (`crate::correlate::turn`; default: not wanted).
    fn turn(&mut self, allocation: TurnAllocationRecord) {
        let _ = allocation;
    }
    /// A SIP call ended (`crate::sip`; default: not wanted).
    fn call(&mut self, call: SipCall) {
        let _ = call;
    }
}

/// Keep the streams (hops are not wanted).
impl Ended for Vec<(u64, StreamRecord)> {
    fn ended(&mut self, order: u64, record: StreamRecord) {
        self.push((order, record));
    }
}

/// Keep everything: streams and hops (a [`Report`]).
#[derive(Debug, Default)]
pub struct Kept {
    pub streams: Vec<(u64, StreamRecord)>,
    pub hops: Vec<(u64, HopRecord)>,
    pub ice_sessions: Vec<IceSessionRecord>,
    pub turn_allocations: Vec<TurnAllocationRecord>,
    /// Calls, tied to their streams at the end.
    pub calls: CallMatcher,
}

impl Ended for Kept {
    fn call(&mut self, call: SipCall) {
        self.calls.call(call);
    }
    fn ended(&mut self, order: u64, record: StreamRecord) {
        self.calls.stream(&record);
        self.streams.push((order, record));
    }
    fn hop(&mut self, seq: u64, hop: HopRecord) {
        self.hops.push((seq, hop));
    }
    fn ice(&mut self, session: IceSessionRecord) {
        self.ice_sessions.push(session);
    }
    fn turn(&mut self, allocation: TurnAllocationRecord) {
        self.turn_allocations.push(allocation);
    }
}

impl Kept {
    /// The hops in output order.
    pub fn sorted_hops(&mut self) -> Vec<HopRecord> {
        self.hops.sort_by_key(|(seq, _)| *seq);
        std::mem::take(&mut self.hops)
            .into_iter()
            .map(|(_, h)| h)
            .collect()
    }
}

/// The capture as a whole.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub file: String,
    /// pcap LINKTYPE_ value of the file.
    pub linktype: i32,
    /// Frames read from the file.
    pub frames: u64,
    pub first_packet: Option<String>,
    pub last_packet: Option<String>,
    pub duration_secs: f64,
    /// Frames not decoded down to UDP, by bounded reason (`not_udp`, `ip_fragment`, `truncated_ipv4`, …).
    pub undecoded: BTreeMap<&'static str, u64>,
    /// What the engine saw and counted.
    pub counters: Counters,
    pub streams: usize,
    /// Set when the file could not be read to its end: which packet and why.
    pub error: Option<String>,
    /// What the hop matcher counted about its own bounds; absent when all zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub hop_matcher: HopCounters,
    /// What the TCP reassembler counted (media over TCP, `crate::tcp`); absent when all zero
    /// (no TCP in the capture).
    #[serde(skip_serializing_if = "TcpCounters::is_zero")]
    pub tcp: TcpCounters,
    /// What the ICE/TURN stage counted (`crate::correlate::calls`); absent when all zero.
    #[serde(skip_serializing_if = "CallCounters::is_zero", default)]
    pub ice_turn: CallCounters,
    /// What the SIP stage counted (`crate::sip`); absent when all zero.
    #[serde(skip_serializing_if = "SipCounters::is_zero")]
    pub sip: SipCounters,
}

/// The result of a replay: a summary and one record per stream, in order of first appearance.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub summary: Summary,
    pub streams: Vec<StreamRecord>,
    /// Calls from their signalling (docs/calls.md), in order of their start; absent when
    /// there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<SipCall>,
    /// Middlebox hops found (docs/output.md, "Hops"); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<HopRecord>,
    /// ICE sessions in the order they ended (docs/ice-turn.md); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ice_sessions: Vec<IceSessionRecord>,
    /// TURN allocations in the order they ended; absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub turn_allocations: Vec<TurnAllocationRecord>,
}

impl Report {
    /// The report of what `kept` kept: streams in order of first appearance (ties, streams
    /// ended side by side by pipeline workers, by key and observation point), hops in the
    /// order they ended.
    pub fn of(summary: Summary, mut kept: Kept) -> Self {
        let hops = kept.sorted_hops();
        let calls = std::mem::take(&mut kept.calls).finish();
        let mut records = kept.streams;
        records.sort_by(|(a, ra), (b, rb)| {
            (a, &ra.src, &ra.dst, ra.ssrc, &ra.observed_at).cmp(&(
                b,
                &rb.src,
                &rb.dst,
                rb.ssrc,
                &rb.observed_at,
            ))
        });
        let streams = records.into_iter().map(|(_, r)| r).collect();
        Report {
            summary,
            streams,
            calls,
            hops,
            ice_sessions: kept.ice_sessions,
            turn_allocations: kept.turn_allocations,
        }
    }
}

fn is_zero(c: &HopCounters) -> bool {
    *c == HopCounters::default()
}

/// Why a replay produced no report at all.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Open(#[from] CaptureError),
    #[error("{path}: unsupported link type {linktype}")]
    Link { path: String, linktype: i32 },
}

/// Analyse a whole capture file.
pub fn replay_file(path: &Path, cfg: &Resolved) -> Result<Report, ReplayError> {
    replay_file_with(path, cfg, None)
}

/// [`replay_file`], also handing interval and final records to `records`.
pub fn replay_file_with(
    path: &Path,
    cfg: &Resolved,
    records: Option<Hook>,
) -> Result<Report, ReplayError> {
    let (summary, kept) = replay_file_into(path, cfg, records, Kept::default())?;
    Ok(Report::of(summary, kept))
}

/// Analyse a whole capture file, handing each stream to `sink` when it ends (bounded memory
/// with a sink that does not keep them all); returns the summary and the sink.
pub fn replay_file_into<S: Ended>(
    path: &Path,
    cfg: &Resolved,
    records: Option<Hook>,
    sink: S,
) -> Result<(Summary, S), ReplayError> {
    replay_file_until(path, cfg, records, &AtomicBool::new(false), sink)
}

/// [`replay_file_into`] that also stops early when `stop` is set (SIGTERM/SIGINT: what was
/// read is reported), and logs each stream's start and end at debug level as the pipeline's
/// workers do: `replay --workers N` when the single thread is the faster
/// ([`crate::pipeline::file::replay_workers_into`]).
pub fn replay_file_until<S: Ended>(
    path: &Path,
    cfg: &Resolved,
    records: Option<Hook>,
    stop: &AtomicBool,
    sink: S,
) -> Result<(Summary, S), ReplayError> {
    let mut src = FileSource::open(path)?;
    let file = path.display().to_string();
    let linktype = src.linktype();
    let link = LinkType::from_dlt(linktype).ok_or(ReplayError::Link {
        path: file.clone(),
        linktype,
    })?;
    let debug = tracing::enabled!(tracing::Level::DEBUG);
    let mut run = Run::with_sink(cfg.clone(), Logged { sink, debug });
    if let Some(h) = records {
        run = run.with_records(h);
    }
    let mut interfaces = 1;
    let error = loop {
        // Every 4,096 frames: a load per frame is not free at millions of frames a second.
        if run.frames % 4096 == 0 && stop.load(Ordering::Relaxed) {
            break None;
        }
        if src.interface_count() > interfaces {
            // A pcapng file with several interfaces: each is an observation point.
            interfaces = src.interface_count();
            run.set_interface_names(src.interface_names());
        }
        match src.next_frame() {
            Ok(Some(f)) if debug => {
                let created = run.engine.counters().streams_created;
                let (iface, ts_ns, data) = (f.interface, f.ts_ns, f.data);
                match LinkType::from_dlt(f.linktype) {
                    Some(l) => run.frame_on(l, iface, ts_ns, data),
                    None => run.frame_of(f.linktype, iface, ts_ns, data),
                }
                if run.engine.counters().streams_created != created {
                    if let Some(dg) =
                        LinkType::from_dlt(f.linktype).and_then(|l| decode_udp(l, data).ok())
                    {
                        let p = dg.payload;
                        let ssrc = p
                            .get(8..12)
                            .and_then(|b| <[u8; 4]>::try_from(b).ok())
                            .map_or(0, u32::from_be_bytes);
                        tracing::debug!(
                            src = %dg.src,
                            dst = %dg.dst,
                            ssrc = %format_args!("0x{ssrc:08X}"),
                            pt = p.get(1).map_or(0, |b| b & 0x7f),
                            "stream started"
                        );
                    }
                }
            }
            Ok(Some(f)) if f.linktype == linktype => {
                run.frame_on(link, f.interface, f.ts_ns, f.data)
            }
            Ok(Some(f)) => run.frame_of(f.linktype, f.interface, f.ts_ns, f.data),
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    let (summary, logged) = run.finish_into(file, linktype, error);
    Ok((summary, logged.sink))
}

/// A sink that logs each stream's end at debug level (when enabled) before handing it on.
struct Logged<S> {
    sink: S,
    debug: bool,
}

impl<S: Ended> Ended for Logged<S> {
    fn ended(&mut self, order: u64, r: StreamRecord) {
        if self.debug {
            tracing::debug!(
                src = %r.src,
                dst = %r.dst,
                ssrc = %format_args!("0x{:08X}", r.ssrc),
                packets = r.packets,
                missing = r.missing,
                ended_by = r.ended_by,
                "stream ended"
            );
        }
        self.sink.ended(order, r);
    }
    fn hop(&mut self, seq: u64, hop: HopRecord) {
        self.sink.hop(seq, hop);
    }
    fn ice(&mut self, session: IceSessionRecord) {
        self.sink.ice(session);
    }
    fn turn(&mut self, allocation: TurnAllocationRecord) {
        self.sink.turn(allocation);
    }
    fn call(&mut self, call: SipCall) {
        self.sink.call(call);
    }
}

/// The decode-and-track loop over frames, independent of where frames come from; ended
/// streams go to `S` as they end.
pub struct Run<S: Ended = Kept> {
    engine: Engine,
    frames: u64,
    /// Earliest capture time seen.
    first: Option<i64>,
    /// Latest capture time seen (files are not always in time order); `i64::MIN` before any.
    last: i64,
    next_expire: i64,
    undecoded: BTreeMap<&'static str, u64>,
    /// Interval and final records for the sinks (`replay --records`), if wanted.
    forward: Option<Hook>,
    /// Final records not yet handed to `forward` (it gets them after the interval records
    /// closed before them, at the next expiry tick).
    pending: Vec<(u64, StreamRecord)>,
    sink: S,
    /// Streams ended so far.
    streams: usize,
    /// Names where each frame was seen ([`crate::engine::obs`]).
    points: PointResolver,
    /// Middlebox hops, beside the engine (`crate::pipeline::hops`, the pipeline's stage);
    /// `None` when turned off.
    hops: Option<HopStage>,
    /// Media over TCP: reassembled frames enter like datagrams.
    tcp: TcpStage,
    /// ICE sessions and TURN allocations, beside the engine.
    calls: CallStage,
    /// SIP: dialogs, and SDP clock rates for the engine.
    sip: SipStage,
}

impl Run {
    /// A run that keeps every stream and hop for a [`Report`] ([`Run::finish`]).
    pub fn new(cfg: Resolved) -> Self {
        Run::with_sink(cfg, Kept::default())
    }

    /// End all streams and build the report, streams in order of first appearance.
    pub fn finish(self, file: String, linktype: i32, error: Option<String>) -> Report {
        let (summary, kept) = self.finish_into(file, linktype, error);
        Report::of(summary, kept)
    }
}

impl<S: Ended> Run<S> {
    /// A run handing ended streams to `sink`.
    pub fn with_sink(cfg: Resolved, sink: S) -> Self {
        let names = std::sync::Arc::new(crate::engine::PointNames::with_interface_names(
            &cfg.interface_names,
        ));
        let hops = cfg
            .hops
            .then(|| crate::pipeline::file::replay_hops(Arc::clone(&names)));
        let tcp = TcpStage::new(cfg.tcp);
        let calls = CallStage::new(&cfg.calls, Arc::clone(&names));
        let sip = SipStage::new(cfg.sip.clone());
        let mut engine = Engine::new(cfg);
        engine.set_point_names(std::sync::Arc::clone(&names));
        Run {
            tcp,
            calls,
            sip,
            engine,
            frames: 0,
            first: None,
            last: i64::MIN,
            next_expire: i64::MIN,
            undecoded: BTreeMap::new(),
            forward: None,
            pending: Vec::new(),
            sink,
            streams: 0,
            points: PointResolver::file(names),
            hops,
        }
    }

    /// Do not look for middlebox hops (benchmarks compare with and without).
    pub fn without_hops(mut self) -> Self {
        self.hops = None;
        self
    }

    /// Name the pcapng interfaces (`if_name` by interface id) for [`Run::frame_on`].
    pub fn set_interface_names(&mut self, names: Vec<Option<String>>) {
        self.points.set_interface_names(names);
    }

    /// Also make interval and final records, timed by the capture (`replay --records`).
    pub fn with_records(mut self, hook: Hook) -> Self {
        self.engine.set_interval(hook.interval_ns());
        let (tx, opts) = hook.hop_records();
        self.hops = self.hops.map(|h| h.with_records(tx, opts));
        self.forward = Some(hook);
        self
    }

    /// Decode one frame and feed the engine.
    pub fn frame(&mut self, link: LinkType, ts_ns: i64, data: &[u8]) {
        self.frame_on(link, 0, ts_ns, data);
    }

    /// [`Run::frame_on`] for a frame of a pcapng interface whose link type (`linktype`)
    /// differs from the file's first: one we do not decode is counted as `unsupported_link`.
    pub fn frame_of(&mut self, linktype: i32, iface: u32, ts_ns: i64, data: &[u8]) {
        match LinkType::from_dlt(linktype) {
            Some(link) => self.frame_on(link, iface, ts_ns, data),
            None => {
                self.frames += 1;
                *self.undecoded.entry("unsupported_link").or_default() += 1;
            }
        }
    }

    /// [`Run::frame`] for a frame of pcapng interface `iface`.
    pub fn frame_on(&mut self, link: LinkType, iface: u32, ts_ns: i64, data: &[u8]) {
        self.frames += 1;
        // The earliest, not the first: merged captures go backwards in time (docs/output.md).
        self.first = Some(self.first.map_or(ts_ns, |f| f.min(ts_ns)));
        self.last = self.last.max(ts_ns);
        if ts_ns >= self.next_expire {
            if self.next_expire != i64::MIN {
                // Hops first: a split reaches its stream before the engine ends it.
                if let Some(h) = &mut self.hops {
                    h.expire(ts_ns, self.engine.idle_timeout_ns());
                }
                self.hops_done(ts_ns);
                let (tcp, calls, hops, engine, forward, sip) = (
                    &mut self.tcp,
                    &mut self.calls,
                    &mut self.hops,
                    &mut self.engine,
                    &self.forward,
                    &mut self.sip,
                );
                // Frames a flush frees were seen where the last frame was (one point per file
                // in practice; a connection's own point is not kept).
                let point = engine.point();
                tcp.expire(ts_ns, &mut |now, dg| {
                    Self::deliver(engine, calls, hops, sip, forward, now, dg, point);
                });
                self.sip.expire(ts_ns);
                self.sip_done();
                self.engine.expire(ts_ns);
                self.calls.expire(ts_ns);
                self.calls_done();
                self.take_ended();
            }
            self.hand_on();
            self.next_expire = ts_ns.saturating_add(EXPIRE_EVERY_NS);
        }
        self.engine.set_frame(self.frames);
        let point = self.points.point(link, iface, data);
        self.engine.set_point(point);
        match decode(link, data) {
            Ok(Decoded::Udp(dg)) => self.datagram(ts_ns, &dg, point),
            Ok(Decoded::Tcp(seg)) => self.segment(ts_ns, &seg, point),
            Err(e) => self.count_undecoded(e),
        }
        self.take_ended();
    }

    /// A TCP segment: frames its connection completes enter like datagrams. Out of line: the
    /// UDP path of [`Run::frame_on`] pays nothing for it.
    #[inline(never)]
    fn segment(
        &mut self,
        ts_ns: i64,
        seg: &crate::wire::Segment<'_>,
        point: crate::engine::ObservationPoint,
    ) {
        let (tcp, calls, hops, engine, forward, sip) = (
            &mut self.tcp,
            &mut self.calls,
            &mut self.hops,
            &mut self.engine,
            &self.forward,
            &mut self.sip,
        );
        tcp.on_segment(ts_ns, seg, &mut |now, dg| {
            Self::deliver(engine, calls, hops, sip, forward, now, dg, point);
        });
        self.hops_done(ts_ns);
    }

    /// A UDP datagram (or a frame out of a TCP connection) at `now`.
    fn datagram(
        &mut self,
        now: i64,
        dg: &crate::wire::Datagram<'_>,
        point: crate::engine::ObservationPoint,
    ) {
        if Self::deliver(
            &mut self.engine,
            &mut self.calls,
            &mut self.hops,
            &mut self.sip,
            &self.forward,
            now,
            dg,
            point,
        ) {
            self.hops_done(now);
        }
    }

    /// Hand a datagram to the SIP stage (SIP, whose SDP goes to the engine), or to the hop
    /// stage and the engine; true when the hop stage has hops to hand out.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn deliver(
        engine: &mut Engine,
        calls: &mut CallStage,
        hops: &mut Option<HopStage>,
        sip: &mut SipStage,
        forward: &Option<Hook>,
        now: i64,
        dg: &crate::wire::Datagram<'_>,
        point: crate::engine::ObservationPoint,
    ) -> bool {
        if sip.is_sip(dg.src.port(), dg.dst.port(), dg.payload) {
            sip.on_message(now, dg.src, dg.dst, dg.payload, &mut |m| engine.on_sdp(m));
            return false;
        }
        let done = hops.as_mut().is_some_and(|h| h.on_datagram(now, dg, point));
        calls.on_datagram(now, dg, point);
        let rtcp = engine.on_datagram(now, dg);
        if let (Some(buf), Some(f)) = (rtcp, forward) {
            f.rtcp(now, dg.src, dg.dst, buf);
        }
        done
    }

    /// Streams that ended (BYE, eviction, expiry) go to the sink at once, and to `forward`
    /// at the next tick. Nothing ended (nearly every frame): one check, nothing taken.
    fn take_ended(&mut self) {
        if !self.engine.has_finished() {
            return;
        }
        let ended = self.engine.drain_finished();
        if ended.is_empty() {
            return;
        }
        self.streams += ended.len();
        if self.forward.is_none() {
            for (order, r) in ended {
                self.sink.ended(order, r);
            }
            return;
        }
        for (order, r) in &ended {
            self.sink.ended(*order, r.clone());
        }
        self.pending.extend(ended);
        if self.pending.len() >= MAX_PENDING {
            self.hand_on();
        }
    }

    /// The live streams as they stand (`ended_by` = `active`): what `/metrics` shows of them
    /// while a replay lingers after its last frame.
    pub fn live_records(&self) -> Vec<(u64, StreamRecord)> {
        self.engine.active_records()
    }

    /// Interval records of the intervals the engine closed, then final records of the streams
    /// that ended (records wanted only).
    fn hand_on(&mut self) {
        if let Some(f) = &mut self.forward {
            f.cuts(&self.engine.drain_cuts());
            f.ended(&self.pending);
            self.pending.clear();
        }
    }

    /// Hand out what the hop stage ended at `now`: splits to their streams in the engine,
    /// hops to the sink (the stage makes their records).
    fn hops_done(&mut self, now: i64) {
        let Some(h) = &mut self.hops else { return };
        let (engine, sink) = (&mut self.engine, &mut self.sink);
        h.drain(
            now,
            &mut |key, upstream, inside| {
                engine.add_loss_split(&key, upstream, inside);
            },
            &mut |seq, hop| sink.hop(seq, hop),
        );
    }

    /// ICE sessions and TURN allocations that ended go to the sink, and their records to the
    /// record sinks.
    fn calls_done(&mut self) {
        let (ice, turn) = self.calls.drain();
        for s in ice {
            if let Some(f) = &self.forward {
                f.call(&CallView::Ice(s.clone()));
            }
            self.sink.ice(s);
        }
        for a in turn {
            if let Some(f) = &self.forward {
                f.call(&CallView::Turn(a.clone()));
            }
            self.sink.turn(a);
        }
    }

    /// SIP calls that ended go to the sink, and their records to the record sinks.
    fn sip_done(&mut self) {
        for c in self.sip.drain_ended() {
            if let Some(f) = &self.forward {
                f.call(&CallView::Sip(c.clone()));
            }
            self.sink.call(c);
        }
    }

    fn count_undecoded(&mut self, e: DecodeError) {
        *self.undecoded.entry(e.reason()).or_default() += 1;
    }

    /// End all streams; the summary, and the sink with every stream.
    pub fn finish_into(
        mut self,
        file: String,
        linktype: i32,
        error: Option<String>,
    ) -> (Summary, S) {
        let (tcp, calls, hops, engine, forward, sip) = (
            &mut self.tcp,
            &mut self.calls,
            &mut self.hops,
            &mut self.engine,
            &self.forward,
            &mut self.sip,
        );
        let point = engine.point();
        tcp.finish(&mut |now, dg| {
            Self::deliver(engine, calls, hops, sip, forward, now, dg, point);
        });
        self.sip.finish(self.last);
        self.sip_done();
        if let Some(h) = &mut self.hops {
            h.finish(self.last);
        }
        self.hops_done(self.last);
        self.calls.finish();
        self.calls_done();
        self.engine.finish_all();
        self.take_ended();
        self.hand_on();
        // Capture timestamps span all of i64 (libpcap saturates); the difference may not fit.
        let duration_secs = self
            .first
            .map_or(0.0, |f| self.last.abs_diff(f) as f64 / 1e9);
        let summary = Summary {
            file,
            linktype,
            frames: self.frames,
            first_packet: self.first.map(rfc3339_micros),
            last_packet: self.first.map(|_| rfc3339_micros(self.last)),
            duration_secs,
            undecoded: self.undecoded,
            counters: self.engine.counters().clone(),
            streams: self.streams,
            error,
            hop_matcher: self
                .hops
                .as_ref()
                .map(|h| *h.matcher().counters())
                .unwrap_or_default(),
            tcp: *self.tcp.counters(),
            ice_turn: self.calls.counters(),
            sip: self.sip.counters(),
        };
        (summary, self.sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_going_back_in_time_spans_its_earliest_to_its_latest_frame() {
        let mut run = Run::new(Resolved::default());
        let s = 1_000_000_000;
        // Not Ethernet frames: counted as undecoded, but their times count.
        for t in [10 * s, 4 * s, 7 * s, 6 * s] {
            run.frame(LinkType::Ethernet, t, &[0u8; 4]);
        }
        let r = run.finish("t".into(), 1, None);
        assert_eq!(r.summary.duration_secs, 6.0);
        assert_eq!(
            r.summary.first_packet.as_deref(),
            Some("1970-01-01T00:00:04.000000Z")
        );
        assert_eq!(
            r.summary.last_packet.as_deref(),
            Some("1970-01-01T00:00:10.000000Z")
        );
    }
}
