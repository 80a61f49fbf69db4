//! Published state: what readers (health log, exporter, forwarder, final summary) see of the
//! pipeline without ever blocking it.
//!
//! Each capture thread and each worker owns one slot and replaces its whole content with a new
//! `Arc` from time to time ([`arc_swap::ArcSwap`]: a reader's load is a few atomic operations
//! and never waits for the writer, and the writer never waits for readers). Values inside are
//! capture-time values from the engine; how often they are published is wall-clock business of
//! the threads that own them.

use crate::engine::record::StreamRecord;
use crate::engine::Counters;
use crate::export::aggregate::Aggregates;
use crate::forward::SinkView;
use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What one capture thread has done so far.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct CaptureSnapshot {
    /// Interface name or capture file.
    pub source: String,
    pub frames: u64,
    /// Of `frames`, those carrying RTP (counted when classified, before any pipeline drop).
    /// Published with `frames`, so a reader never sees more RTP than frames.
    pub rtp_frames: u64,
    /// Earliest and latest capture time of any frame so far (ns), 0 before any: a capture whose
    /// timestamps go backwards still spans `last_ns - first_ns` ≥ 0.
    pub first_ns: i64,
    pub last_ns: i64,
    /// Frames not decoded down to UDP, by bounded reason.
    pub undecoded: BTreeMap<&'static str, u64>,
    /// What the stateless triage counted (DTLS, other UDP, filtered, …).
    pub counters: Counters,
    /// Events dropped because a worker's queue was full, all kinds.
    pub pipeline_dropped: u64,
    /// Of those, RTP packets (attributed to their stream, kept out of its loss).
    pub pipeline_dropped_rtp: u64,
    /// libpcap statistics (cumulative): dropped by the kernel (buffer full) and by the
    /// interface or its driver.
    pub kernel_dropped: u64,
    pub if_dropped: u64,
    /// Packets the kernel says it received for this handle (libpcap `ps_recv`).
    pub kernel_received: u64,
    /// Frames whose observation point got no name of its own (the run's table of
    /// [`crate::engine::obs::MAX_POINTS`] was full): their streams are `observed_at = "other"`.
    pub unnamed_point_frames: u64,
    /// What this capture thread's TCP reassembler counted ([`crate::tcp`]).
    pub tcp: crate::tcp::TcpCounters,
    /// What this capture thread's ICE/TURN stage counted ([`crate::correlate::calls`]).
    pub ice_turn: crate::correlate::calls::CallCounters,
    /// ICE sessions and TURN allocations tracked now.
    pub ice_sessions_active: u64,
    pub turn_allocations_active: u64,
    /// Ended ICE sessions and TURN allocations a full output channel refused (live only).
    pub records_dropped_calls: u64,
    /// What this capture thread's SIP stage counted ([`crate::sip`]).
    pub sip: crate::sip::SipCounters,
    /// This capture thread's middlebox hops, when it pairs them ([`super::hops`]).
    #[serde(skip)]
    pub hops: Option<Arc<super::hops::HopSnapshot>>,
    /// Its calls in progress and the last ended ones, for `/calls` ([`super::calls`]).
    #[serde(skip)]
    pub calls: Option<Arc<super::calls::CallsSnapshot>>,
}

/// One worker's streams and counters.
#[derive(Debug, Clone, Default)]
pub struct ShardSnapshot {
    pub shard: u32,
    /// Capture time of the newest event the worker had handled (ns).
    pub capture_now: i64,
    /// Live streams, `ended_by` = `active`, with their order of first appearance.
    pub streams: Vec<(u64, StreamRecord)>,
    /// Streams that ended within the last `exporter.ended_series_linger_secs`, with their
    /// final records (`ended_by` says why), for the exporter's per-stream series only: a
    /// scrape after the end sees the final values ([`super::worker`]).
    pub ended: Vec<(u64, StreamRecord)>,
    pub counters: Counters,
    /// Events handled so far.
    pub events: u64,
    /// Records of ended streams the worker could not hand on (the records queue was full).
    pub records_dropped: u64,
    /// Exporter aggregates (ended totals + live streams, histograms), when the pipeline was
    /// started with labels ([`super::Options::labels`]).
    pub aggregates: Option<Arc<Aggregates>>,
}

/// All slots of one pipeline.
pub struct Board {
    pub captures: Vec<Arc<ArcSwap<CaptureSnapshot>>>,
    pub shards: Vec<Arc<ArcSwap<ShardSnapshot>>>,
    /// The record sinks and their counters (empty without sinks): set by whoever starts the
    /// [`crate::forward::Forwarder`], read by the exporter at each scrape.
    pub sinks: ArcSwap<Vec<SinkView>>,
}

impl Board {
    pub fn new(captures: usize, shards: usize) -> Self {
        Board {
            captures: (0..captures)
                .map(|_| Arc::new(ArcSwap::from_pointee(CaptureSnapshot::default())))
                .collect(),
            shards: (0..shards)
                .map(|i| {
                    Arc::new(ArcSwap::from_pointee(ShardSnapshot {
                        shard: u32::try_from(i).unwrap_or(u32::MAX),
                        ..Default::default()
                    }))
                })
                .collect(),
            sinks: ArcSwap::from_pointee(Vec::new()),
        }
    }

    /// Capture slot `i`; a slot nobody reads when `i` is out of range.
    pub fn capture_slot(&self, i: usize) -> Arc<ArcSwap<CaptureSnapshot>> {
        self.captures.get(i).cloned().unwrap_or_default()
    }

    /// The current totals across every capture thread and worker.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for c in &self.captures {
            let c = c.load();
            t.frames += c.frames;
            t.rtp_frames += c.rtp_frames;
            t.pipeline_dropped += c.pipeline_dropped;
            t.kernel_dropped += c.kernel_dropped;
            t.if_dropped += c.if_dropped;
            t.counters.add(&c.counters);
            t.tcp.add(&c.tcp);
            t.ice_turn.add(&c.ice_turn);
            t.ice_sessions_active += c.ice_sessions_active;
            t.turn_allocations_active += c.turn_allocations_active;
            t.sip.add(&c.sip);
            for (k, v) in &c.undecoded {
                *t.undecoded.entry(k).or_default() += v;
            }
        }
        for s in &self.shards {
            let s = s.load();
            t.counters.add(&s.counters);
            t.streams += s.streams.len() as u64;
            t.records_dropped += s.records_dropped;
        }
        t
    }
}

/// Sums over the whole pipeline (the health line and the daemon's summary).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Totals {
    pub frames: u64,
    /// The TCP reassemblers' counters, summed.
    pub tcp: crate::tcp::TcpCounters,
    /// The ICE/TURN stages' counters and tables, summed.
    pub ice_turn: crate::correlate::calls::CallCounters,
    pub ice_sessions_active: u64,
    pub turn_allocations_active: u64,
    /// The SIP stages' counters, summed.
    pub sip: crate::sip::SipCounters,
    /// RTP frames as the capture threads counted them, from the same snapshots as `frames`
    /// (so `frames ≥ rtp_frames` always; `counters.rtp_packets` is the workers' count, from
    /// snapshots published at other moments).
    pub rtp_frames: u64,
    pub kernel_dropped: u64,
    pub if_dropped: u64,
    pub pipeline_dropped: u64,
    pub records_dropped: u64,
    /// Live streams in the latest snapshots.
    pub streams: u64,
    pub counters: Counters,
    pub undecoded: BTreeMap<&'static str, u64>,
}

/// Replace a slot's content.
pub fn publish<T>(slot: &ArcSwap<T>, value: T) {
    slot.store(Arc::new(value));
}
