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
/// stream of a call to end still sees the first. The two directions of a call go idle
/// together, so a pair is only needed for about one idle timeout: pairs live in two
/// generations, the older dropped (and its memory freed) when the newer is one window old or
/// full, so entries last between one and two windows and the memory of a wave of ended
/// streams is returned after it. Bounded by the cap per generation. A stream whose reverse
/// ended more than two windows earlier, or more than a cap of ended streams earlier, may be
/// called one-way (an info finding).
#[derive(Debug, Default)]
pub(super) struct EndedPairs {
    cur: Generation,
    old: Generation,
    /// Capture time the current generation began.
    since: i64,
}

#[derive(Debug, Default)]
struct Generation {
    set: foldhash::HashSet<(IpAddr, IpAddr)>,
    /// (SSRC, receiver) of ended streams and their sender's host, for collisions.
    senders: foldhash::HashMap<(u32, SocketAddr), IpAddr>,
}

impl EndedPairs {
    fn contains(&self, src: IpAddr, dst: IpAddr) -> bool {
        [&self.cur, &self.old]
            .iter()
            .any(|g| g.set.contains(&(src, dst)))
    }

    fn other_sender(&self, k: &StreamKey) -> bool {
        [&self.cur, &self.old].iter().any(|g| {
            g.senders
                .get(&(k.ssrc, k.dst))
                .is_some_and(|ip| *ip != k.src.ip())
        })
    }

    /// Start a new generation when the current one is `window` old; O(1) but for freeing the
    /// dropped generation, whose entries were each inserted once (amortised O(1)).
    pub(super) fn rotate(&mut self, now: i64, window: i64) {
        if now.saturating_sub(self.since) >= window {
            self.old = std::mem::take(&mut self.cur);
            self.since = now;
        }
    }

    fn insert(&mut self, cap: usize, k: &StreamKey) {
        if self.cur.set.len() >= cap.max(1) || self.cur.senders.len() >= cap.max(1) {
            self.old = std::mem::take(&mut self.cur);
        }
        self.cur.set.insert((k.src.ip(), k.dst.ip()));
        self.cur.senders.insert((k.ssrc, k.dst), k.src.ip());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::obs::ObservationPoint;

    fn key(src: &str, dst: &str) -> StreamKey {
        StreamKey {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            ssrc: 7,
            point: ObservationPoint::default(),
        }
    }

    #[test]
    fn ended_pairs_last_one_to_two_windows_and_respect_the_cap() {
        let (w, a, b) = (10, "10.0.0.1:1000", "10.0.0.2:2000");
        let ip = |s: &str| s.parse::<SocketAddr>().unwrap().ip();
        let mut p = EndedPairs::default();
        p.rotate(0, w);
        p.insert(100, &key(a, b));
        p.rotate(w - 1, w);
        assert!(p.contains(ip(a), ip(b)) && !p.contains(ip(b), ip(a)));
        p.rotate(w, w); // one window: the pair is in the older generation
        assert!(p.contains(ip(a), ip(b)));
        assert!(p.other_sender(&key("10.0.0.9:1000", b)));
        p.rotate(2 * w, w); // two windows: gone, memory with it
        assert!(!p.contains(ip(a), ip(b)) && !p.other_sender(&key("10.0.0.9:1000", b)));
        assert_eq!(p.old.set.capacity() + p.cur.set.capacity(), 0);
        // A full generation turns over early: at most two caps are held.
        for i in 0..5u8 {
            p.insert(2, &key(&format!("10.1.0.{i}:1"), b));
        }
        assert!(p.cur.set.len() + p.old.set.len() <= 4);
        assert!(p.contains(ip("10.1.0.4:1"), ip(b)));
    }
}
