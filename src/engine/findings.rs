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

impl Engine {
    /// The findings of the record `r` of the stream `k`.
    pub(super) fn findings(&self, k: &StreamKey, r: &StreamRecord) -> Vec<Finding> {
        let mut f = Facts::of_record(r);
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
