//! The engine's part of the findings ([`crate::diagnose`]): what only the stream table
//! knows. Whether media flows the other way between the two hosts (a live stream from the
//! receiver's address to the sender's, or one that ended earlier, remembered in
//! [`EndedPairs`]), and whether a stream with the same SSRC from another host reaches the
//! same receiver (RFC 3550 §8.2; a new source port of the same host is that sender moving,
//! e.g. a NAT rebinding, not a collision). Called when a record is built, never per packet.
//!
//! With several shard workers the reverse stream (another SSRC) may live in another worker's
//! table, so one-way media is only decided by an engine that sees every stream
//! ([`Shard::SOLE`]: replay, or a single worker). SSRC collisions are always decidable: all
//! streams of one SSRC are in one shard.

use super::record::StreamRecord;
use super::stream::Stream;
use super::{Engine, Shard, StreamKey};
use crate::diagnose::{diagnose, Facts, Finding};
use std::net::{IpAddr, SocketAddr};

/// Directed host pairs of streams that ended (at any observation point: a host's capture may
/// name each direction apart, `capture:in` and `capture:out`), so that the second
/// stream of a call to end still sees the first. Bounded: cleared when it reaches its cap
/// (then a stream may be called one-way although its reverse ended before the clearing,
/// which needs more ended streams than the table holds in between).
#[derive(Debug, Default)]
pub(super) struct EndedPairs {
    set: foldhash::HashSet<(IpAddr, IpAddr)>,
    /// (SSRC, receiver) of ended streams and their sender's host, for collisions.
    senders: foldhash::HashMap<(u32, SocketAddr), IpAddr>,
}

impl EndedPairs {
    fn contains(&self, src: IpAddr, dst: IpAddr) -> bool {
        self.set.contains(&(src, dst))
    }

    fn other_sender(&self, k: &StreamKey) -> bool {
        self.senders
            .get(&(k.ssrc, k.dst))
            .is_some_and(|ip| *ip != k.src.ip())
    }

    fn insert(&mut self, cap: usize, k: &StreamKey) {
        if self.set.len() >= cap.max(1) || self.senders.len() >= cap.max(1) {
            self.set.clear();
            self.senders.clear();
        }
        self.set.insert((k.src.ip(), k.dst.ip()));
        self.senders.insert((k.ssrc, k.dst), k.src.ip());
    }
}

/// Sender reports at least this far apart (sender's clock) give a drift: SRs come every 5 s or
/// so, and one RTP tick in a minute is already 2 ppm at 8 kHz.
pub const DRIFT_MIN_SPAN_SECS: f64 = 60.0;

/// The sender's RTP clock against its own wall clock, ppm: RTP ticks between its first and
/// latest SR over the NTP time between them times the clock rate (RFC 3550 §6.4.1: both stamp
/// the same instant). Free of network jitter, as both come from the sender. `None` without a
/// clock rate, with SRs less than [`DRIFT_MIN_SPAN_SECS`] apart, after a sequence restart
/// (timestamps may restart too), or for an answer off by more than 10 % (a wrong clock rate or
/// a timestamp jump, not drift).
fn clock_drift_ppm(s: &Stream, r: &StreamRecord) -> Option<f64> {
    let rate = f64::from(r.clock_rate?);
    if r.seq_restarts > 0 {
        return None;
    }
    let c = s.cold()?;
    let [ntp0, ts0] = c.first_sr;
    if ntp0 == 0 {
        return None;
    }
    let last = c.srs.latest()?;
    let span = f64::from(super::rtt::ntp_middle(last.ntp).wrapping_sub(ntp0)) / 65_536.0;
    if !(DRIFT_MIN_SPAN_SECS..65_536.0).contains(&span) {
        return None;
    }
    let ticks = f64::from(last.rtp_ts.wrapping_sub(ts0));
    let ppm = (ticks / (rate * span) - 1.0) * 1e6;
    (ppm.abs() < 1e5).then_some(ppm)
}

impl Engine {
    /// The findings of the record `r` of the stream `s`.
    pub(super) fn findings(&self, s: &Stream, r: &StreamRecord) -> Vec<Finding> {
        let k = &s.key;
        let mut f = Facts::of_record(r);
        f.clock_drift_ppm = clock_drift_ppm(s, r);
        if self.shard == Shard::SOLE {
            let (src, dst) = (k.dst.ip(), k.src.ip());
            let live = self.streams.ips_keys(src, dst).any(|o| o != k);
            f.reverse_seen = Some(live || self.ended_pairs.contains(src, dst));
        }
        f.colliding = self.ended_pairs.other_sender(k)
            || self
                .streams
                .ssrc_keys(k.ssrc)
                .any(|o| o.dst == k.dst && o.src.ip() != k.src.ip() && o.point == k.point);
        diagnose(&f, &self.cfg.diagnostics)
    }

    /// Remember that a stream of `k`'s host pair ended (for the reverse stream's one-way check).
    pub(super) fn note_ended(&mut self, k: &StreamKey) {
        let cap = self.cfg.max_streams;
        self.ended_pairs.insert(cap, k);
    }
}
