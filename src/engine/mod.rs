//! Sans-IO statistics engine: the stream table and what happens to each decoded datagram.
//!
//! [`Engine`] is fed decoded UDP datagrams with their capture time ([`Engine::on_datagram`]) and
//! told when time passes ([`Engine::expire`]); it never reads a clock and does no IO, so a replay
//! and a live capture of the same packets give the same numbers. Streams that end (BYE, idle,
//! eviction, end of capture) become [`record::StreamRecord`]s, collected with
//! [`Engine::drain_finished`].
//!
//! Memory is bounded: at most `max_candidates` unvalidated RTP candidates (RFC 3550 A.1
//! probation, so random UDP does not create streams), at most `max_streams` streams (the least
//! recently active one is evicted and counted), and bounded STUN transaction state.
//!
//! What the engine deliberately does not do: decrypt SRTP/SRTCP, reassemble IP fragments, or
//! follow signalling (SDP): RTP is recognised from the packets alone.

pub mod clock;
pub mod jitter;
pub mod record;
mod rtcp;
pub mod rtt;
pub mod seq;
pub mod stream;
mod stun;

#[cfg(test)]
mod appendix_a;
#[cfg(test)]
mod tests;

use crate::config::Resolved;
use crate::wire::demux::{classify, Demuxed, Turn};
use crate::wire::{rtp, Datagram};
use foldhash::HashMap;
use record::StreamRecord;
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use stream::Stream;

/// Identity of a stream: RFC 3550 SSRC on one directed 5-tuple (UDP implied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamKey {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ssrc: u32,
}

/// Hashed on every RTP packet: the common IPv4 case is packed into two words instead of
/// `SocketAddr`'s field-by-field hashing. Equal keys hash equally (IPv6 keys take the other path).
impl std::hash::Hash for StreamKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match (self.src, self.dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                state.write_u64(u64::from(s.ip().to_bits()) << 32 | u64::from(d.ip().to_bits()));
                state.write_u64(
                    u64::from(s.port()) << 48 | u64::from(d.port()) << 32 | u64::from(self.ssrc),
                );
            }
            (s, d) => {
                s.hash(state);
                d.hash(state);
                state.write_u32(self.ssrc);
            }
        }
    }
}

/// Why a stream's record was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Bye,
    Idle,
    EndOfCapture,
    Evicted,
}

impl EndReason {
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Bye => "bye",
            EndReason::Idle => "idle",
            EndReason::EndOfCapture => "end_of_capture",
            EndReason::Evicted => "evicted",
        }
    }
}

/// Candidates with no packet for this long are forgotten (they never became streams).
const CANDIDATE_TIMEOUT_NS: i64 = 10_000_000_000;

/// Counters of everything the engine saw, dropped or could not attribute.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counters {
    pub udp_datagrams: u64,
    pub rtp_packets: u64,
    /// RTP-looking datagrams whose header did not parse (bad version, CSRC/extension cut).
    pub rtp_invalid: u64,
    /// RTP packets of candidates that never passed probation (including probation runs that a
    /// jump of at least A.1's MAX_DROPOUT cut short), or dropped as a bad sequence jump.
    pub rtp_unvalidated: u64,
    pub rtcp_packets: u64,
    pub rtcp_malformed: u64,
    pub srtcp_packets: u64,
    /// Report blocks and feedback about a stream the probe does not see.
    pub rtcp_unmatched: u64,
    pub stun_messages: u64,
    pub stun_rtt_samples: u64,
    pub dtls_records: u64,
    pub zrtp_packets: u64,
    pub turn_channel_data: u64,
    pub turn_indications: u64,
    pub other_udp: u64,
    /// Datagrams outside the configured `rtp_port_ranges`.
    pub port_filtered: u64,
    pub candidates_dropped: u64,
    pub streams_created: u64,
    pub streams_evicted: u64,
}

/// The stream table and the per-datagram logic.
pub struct Engine {
    cfg: Resolved,
    /// Boxed so that the table's buckets stay small (key + pointer): the per-packet lookup then
    /// touches little memory besides the one stream it updates.
    streams: HashMap<StreamKey, Box<Stream>>,
    candidates: HashMap<StreamKey, Box<Stream>>,
    /// Valid streams by SSRC, to attach RTCP (which may arrive on another port, RFC 3550 §11).
    by_ssrc: HashMap<u32, Vec<StreamKey>>,
    /// Valid streams by (source IP, destination IP), to find the reverse direction.
    by_ips: HashMap<(IpAddr, IpAddr), Vec<StreamKey>>,
    stun: stun::StunRtt,
    /// SRs of streams still in probation, attached when they are validated.
    pending_srs: rtt::PendingSrs,
    finished: Vec<(u64, StreamRecord)>,
    next_order: u64,
    counters: Counters,
}

impl Engine {
    pub fn new(cfg: Resolved) -> Self {
        Engine {
            cfg,
            streams: HashMap::default(),
            candidates: HashMap::default(),
            by_ssrc: HashMap::default(),
            by_ips: HashMap::default(),
            stun: stun::StunRtt::default(),
            pending_srs: rtt::PendingSrs::default(),
            finished: Vec::new(),
            next_order: 0,
            counters: Counters::default(),
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Number of live (validated) streams.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Handle one decoded UDP datagram captured at `now` (ns since the epoch). Call it for
    /// every datagram in capture order.
    pub fn on_datagram(&mut self, now: i64, dg: &Datagram<'_>) {
        self.counters.udp_datagrams += 1;
        let c = classify(dg.payload);
        let wire_len = match c.turn {
            None => dg.wire_len,
            Some(Turn::ChannelData { .. }) => {
                self.counters.turn_channel_data += 1;
                0
            }
            Some(Turn::DataIndication | Turn::SendIndication) => {
                self.counters.turn_indications += 1;
                0
            }
        };
        let (src, dst) = (dg.src, dg.dst);
        match c.inner {
            Demuxed::Rtp(_) | Demuxed::Rtcp(_)
                if !self.cfg.port_allowed(src.port(), dst.port()) =>
            {
                self.counters.port_filtered += 1;
            }
            Demuxed::Rtp(buf) => match rtp::Packet::new_header_only(buf) {
                Ok(p) => {
                    let len = if wire_len == 0 { buf.len() } else { wire_len };
                    self.on_rtp(now, src, dst, &p, len);
                }
                Err(_) => self.counters.rtp_invalid += 1,
            },
            Demuxed::Rtcp(buf) => {
                let complete = c.turn.is_some() || dg.payload.len() >= dg.wire_len;
                self.on_rtcp(now, src, dst, buf, complete)
            }
            Demuxed::Stun(m) => {
                self.counters.stun_messages += 1;
                if self.stun.on_message(now, src, dst, &m) {
                    self.counters.stun_rtt_samples += 1;
                }
            }
            Demuxed::Dtls => self.counters.dtls_records += 1,
            Demuxed::Zrtp => self.counters.zrtp_packets += 1,
            Demuxed::Unknown => self.counters.other_udp += 1,
        }
    }

    /// Account one RTP packet. Steady state (a known stream) does not allocate.
    pub fn on_rtp(
        &mut self,
        now: i64,
        src: SocketAddr,
        dst: SocketAddr,
        p: &rtp::Packet<'_>,
        wire_len: usize,
    ) {
        self.counters.rtp_packets += 1;
        let key = StreamKey {
            src,
            dst,
            ssrc: p.ssrc(),
        };
        let (seq, ts, pt) = (p.sequence_number(), p.timestamp(), p.payload_type());
        if let Some(s) = self.streams.get_mut(&key) {
            if s.on_rtp(now, seq, ts, pt, wire_len) == seq::SeqEvent::Bad {
                self.counters.rtp_unvalidated += 1;
            }
            return;
        }
        if !self.candidates.contains_key(&key) {
            if self.candidates.len() >= self.cfg.max_candidates {
                self.expire_candidates(now);
            }
            if self.candidates.len() >= self.cfg.max_candidates {
                self.counters.candidates_dropped += 1;
                return;
            }
            let order = self.next_order;
            self.next_order += 1;
            let s = Box::new(Stream::new(key, order, now, seq, pt, &self.cfg));
            self.candidates.insert(key, s);
        }
        let valid = match self.candidates.get_mut(&key) {
            Some(c) => {
                if let seq::SeqEvent::ProbationRestart { discarded } =
                    c.on_rtp(now, seq, ts, pt, wire_len)
                {
                    // A jump cut the probation run short: those packets are never counted.
                    self.counters.rtp_unvalidated += discarded;
                }
                c.is_valid()
            }
            None => false,
        };
        if valid {
            if let Some(s) = self.candidates.remove(&key) {
                self.promote(now, s);
            }
        }
    }

    fn promote(&mut self, now: i64, mut s: Box<Stream>) {
        if self.streams.len() >= self.cfg.max_streams {
            self.expire(now);
        }
        if self.streams.len() >= self.cfg.max_streams {
            // Least recently active; O(n) but only when a new stream meets a full table.
            let victim = self
                .streams
                .values()
                .min_by_key(|s| (s.last_seen, s.order))
                .map(|s| s.key);
            if let Some(k) = victim {
                self.counters.streams_evicted += 1;
                self.finish(&k, EndReason::Evicted);
            }
        }
        let key = s.key;
        let early = self
            .pending_srs
            .take(|p| p.ssrc == key.ssrc && rtcp::flow_score(key.src, key.dst, p.src, p.dst) > 0);
        for p in early {
            s.srs.push(p.entry);
            let n = s.sender.map_or(0, |i| i.sender_reports) + 1;
            s.sender = Some(record::SenderInfo {
                sender_reports: n,
                packet_count: p.packet_count,
                octet_count: p.octet_count,
            });
        }
        self.counters.streams_created += 1;
        self.by_ssrc.entry(key.ssrc).or_default().push(key);
        self.by_ips
            .entry((key.src.ip(), key.dst.ip()))
            .or_default()
            .push(key);
        self.streams.insert(key, s);
    }

    /// End streams idle for longer than `idle_timeout_secs` and forget stale candidates. Call it
    /// whenever capture time has advanced (about once a second is plenty).
    pub fn expire(&mut self, now: i64) {
        let idle = self.cfg.idle_timeout_ns;
        let stale: Vec<StreamKey> = self
            .streams
            .values()
            .filter(|s| now.saturating_sub(s.last_seen) > idle)
            .map(|s| s.key)
            .collect();
        for k in stale {
            self.finish(&k, EndReason::Idle);
        }
        self.expire_candidates(now);
        self.stun.expire(now);
    }

    fn expire_candidates(&mut self, now: i64) {
        let before = self.candidates.len();
        let mut dropped = 0;
        self.candidates.retain(|_, c| {
            let keep = now.saturating_sub(c.last_seen) <= CANDIDATE_TIMEOUT_NS;
            if !keep {
                dropped += c.packets;
            }
            keep
        });
        if self.candidates.len() != before {
            self.counters.rtp_unvalidated += dropped;
        }
    }

    /// End every stream (`end_of_capture`); call once when the capture is over.
    pub fn finish_all(&mut self) {
        let mut keys: Vec<StreamKey> = self.streams.keys().copied().collect();
        keys.sort_by_key(|k| self.streams.get(k).map_or(0, |s| s.order));
        for k in keys {
            self.finish(&k, EndReason::EndOfCapture);
        }
        let unvalidated: u64 = self.candidates.values().map(|c| c.packets).sum();
        self.counters.rtp_unvalidated += unvalidated;
        self.candidates.clear();
    }

    /// Records of streams that ended since the last call, with their order of first appearance.
    pub fn drain_finished(&mut self) -> Vec<(u64, StreamRecord)> {
        std::mem::take(&mut self.finished)
    }

    fn finish(&mut self, key: &StreamKey, why: EndReason) {
        let Some(mut s) = self.streams.remove(key) else {
            return;
        };
        if let Some(v) = self.by_ssrc.get_mut(&key.ssrc) {
            v.retain(|k| k != key);
            if v.is_empty() {
                self.by_ssrc.remove(&key.ssrc);
            }
        }
        let ips = (key.src.ip(), key.dst.ip());
        if let Some(v) = self.by_ips.get_mut(&ips) {
            v.retain(|k| k != key);
            if v.is_empty() {
                self.by_ips.remove(&ips);
            }
        }
        if let Some(stats) = self.stun.stats(key.src, key.dst) {
            if let Some(slot) = s.rtt.get_mut(rtt::RttMethod::Stun as usize) {
                *slot = stats;
            }
        }
        self.finished.push((s.order, s.record(why)));
    }
}
