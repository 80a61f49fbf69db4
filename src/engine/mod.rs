//! Sans-IO statistics engine: the stream table and what happens to each decoded datagram.
//!
//! [`Engine`] is fed decoded UDP datagrams with their capture time ([`Engine::on_datagram`]) and
//! told when time passes ([`Engine::expire`]); it never reads a clock and does no IO, so a replay
//! and a live capture of the same packets give the same numbers. Streams that end (BYE, idle,
//! eviction, end of capture) become [`record::StreamRecord`]s, collected with
//! [`Engine::drain_finished`]. With an interval set ([`Engine::set_interval`]) it also closes
//! record intervals on packet timestamps ([`Cut`], `engine/interval.rs`).
//!
//! Memory is bounded: at most `max_candidates` unvalidated RTP candidates (RFC 3550 A.1
//! probation, so random UDP does not create streams), at most `max_streams` streams (the least
//! recently active one is evicted and counted), and bounded STUN transaction state.
//!
//! What the engine deliberately does not do: decrypt SRTP/SRTCP, reassemble IP fragments, or
//! follow signalling (SDP): RTP is recognised from the packets alone.

pub mod audio;
pub mod clock;
mod counters;
pub mod emodel;
mod findings;
mod foreign;
mod interval;
pub mod jitter;
mod keyhash;
pub mod obs;
pub mod record;
mod rtcp;
pub mod rtt;
pub mod sdp;
pub mod seq;
pub mod shard;
pub mod stream;
mod stun;
pub mod table;
pub mod video;
pub mod xr;

#[cfg(test)]
mod appendix_a;
#[cfg(test)]
mod end_to_end_tests;
#[cfg(test)]
mod interval_tests;
#[cfg(test)]
mod tests;

use crate::config::Resolved;
use crate::wire::demux::{classify, Demuxed, Turn};
use crate::wire::stun::Message;
use crate::wire::{rtp, Datagram};
pub use counters::{Counters, RtcpTypes};
pub use interval::Cut;
/// The stream tables' key hash, also used by the hop matcher's table.
pub(crate) use keyhash::KeyHasher;
pub use obs::{ObservationPoint, PointNames};
use record::StreamRecord;
pub use shard::Shard;
use std::net::SocketAddr;
use stream::Stream;
use table::{Lru, StreamTable};

/// Identity of a stream: RFC 3550 SSRC on one directed 5-tuple (UDP implied), at one
/// observation point. The point comes last so that keys still sort by 5-tuple and SSRC first:
/// the copies of one forwarded flow seen on two interfaces are two streams, next to each other
/// ([`obs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamKey {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ssrc: u32,
    /// Where the stream's packets were seen.
    pub point: ObservationPoint,
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
        state.write_u16(self.point.index());
    }
}

/// Why a stream's record was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Bye,
    Idle,
    EndOfCapture,
    Evicted,
    /// The daemon stopped (SIGTERM/SIGINT) while the stream was active.
    Shutdown,
    /// Not ended: a snapshot of a live stream.
    Active,
}

impl EndReason {
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Bye => "bye",
            EndReason::Idle => "idle",
            EndReason::EndOfCapture => "end_of_capture",
            EndReason::Evicted => "evicted",
            EndReason::Shutdown => "shutdown",
            EndReason::Active => "active",
        }
    }
}

/// The RTP header fields the engine uses: what the live pipeline carries from the capture
/// thread to a worker instead of the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMeta {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ssrc: u32,
    pub seq: u16,
    pub pt: u8,
    pub ts: u32,
    /// UDP payload length on the wire (the snap length may have cut the capture).
    pub wire_len: u32,
    /// Where the packet was seen.
    pub point: ObservationPoint,
    /// RTP marker bit (RFC 3550 §5.1; for video, the last packet of a frame, RFC 3551 §5).
    pub marker: bool,
    /// Keyframe and resolution from the payload, for payload types configured as a video
    /// codec ([`video::payload`]); empty otherwise.
    pub hint: video::Hint,
}

impl RtpMeta {
    /// The fields of `p`, seen at [`ObservationPoint::CAPTURE`] (set `point` for another).
    pub fn new(src: SocketAddr, dst: SocketAddr, p: &rtp::Packet<'_>, wire_len: usize) -> Self {
        RtpMeta {
            src,
            dst,
            ssrc: p.ssrc(),
            seq: p.sequence_number(),
            pt: p.payload_type(),
            ts: p.timestamp(),
            wire_len: u32::try_from(wire_len).unwrap_or(u32::MAX),
            point: ObservationPoint::CAPTURE,
            marker: p.marker(),
            hint: video::Hint::default(),
        }
    }

    /// The stream the packet belongs to.
    pub fn key(&self) -> StreamKey {
        StreamKey {
            src: self.src,
            dst: self.dst,
            ssrc: self.ssrc,
            point: self.point,
        }
    }
}

/// What a datagram is, once the stateless part of [`Engine::on_datagram`] has looked at it.
pub enum Triage<'a> {
    Rtp(RtpMeta),
    /// RTCP payload; `complete` is false when the snap length cut it.
    Rtcp {
        buf: &'a [u8],
        complete: bool,
    },
    Stun(Message<'a>),
    /// Fully accounted already (DTLS, ZRTP, other UDP, filtered, invalid RTP).
    Done,
}

/// The stateless first half of [`Engine::on_datagram`]: classify (RFC 7983), unwrap TURN,
/// apply the port filter, and count what needs no stream state. The live pipeline's capture
/// thread calls it to decide which worker gets the datagram; the counters it increments are
/// never incremented by the stateful half, so per-thread counters add up to one engine's.
#[inline]
pub fn triage<'a>(cfg: &Resolved, counters: &mut Counters, dg: &Datagram<'a>) -> Triage<'a> {
    counters.udp_datagrams += 1;
    let c = classify(dg.payload);
    let wire_len = match c.turn {
        None => dg.wire_len,
        Some(Turn::ChannelData { .. }) => {
            counters.turn_channel_data += 1;
            0
        }
        Some(Turn::DataIndication | Turn::SendIndication) => {
            counters.turn_indications += 1;
            0
        }
    };
    let (src, dst) = (&dg.src, &dg.dst);
    match c.inner {
        Demuxed::Rtp(_) | Demuxed::Rtcp(_) if !cfg.port_allowed(src.port(), dst.port()) => {
            counters.port_filtered += 1;
        }
        Demuxed::Rtp(buf) => match rtp::Packet::new_header_only(buf) {
            Ok(p) => {
                let len = if wire_len == 0 { buf.len() } else { wire_len };
                let mut m = RtpMeta::new(*src, *dst, &p, len);
                if let Some(codec) = cfg.video_codec(m.pt) {
                    m.hint = video::payload::parse(codec, p.payload());
                }
                return Triage::Rtp(m);
            }
            Err(_) => counters.rtp_invalid += 1,
        },
        Demuxed::Rtcp(buf) => {
            let complete = c.turn.is_some() || dg.payload.len() >= dg.wire_len;
            return Triage::Rtcp { buf, complete };
        }
        Demuxed::Stun(m) => {
            counters.stun_messages += 1;
            return Triage::Stun(m);
        }
        Demuxed::Dtls => counters.dtls_records += 1,
        Demuxed::Zrtp => counters.zrtp_packets += 1,
        Demuxed::Unknown => counters.other_udp += 1,
    }
    Triage::Done
}

/// Candidates with no packet for this long are forgotten (they never became streams).
const CANDIDATE_TIMEOUT_NS: i64 = 10_000_000_000;

/// The stream table and the per-datagram logic.
pub struct Engine {
    cfg: Resolved,
    shard: Shard,
    /// Order given to the next new candidate: the caller's frame number when it sets one
    /// ([`Engine::set_frame`]), so that output order does not depend on the shard count.
    frame: u64,
    /// Where the next datagrams were seen ([`Engine::set_point`]).
    point: ObservationPoint,
    /// Names of the observation points, for records.
    points: std::sync::Arc<PointNames>,
    /// Valid streams in activity order, indexed by SSRC (to attach RTCP, which may arrive on
    /// another port, RFC 3550 §11) and by (source IP, destination IP) (the reverse direction).
    streams: StreamTable,
    /// RTP candidates in probation (RFC 3550 A.1), in activity order.
    candidates: Lru<Stream>,
    stun: stun::StunRtt,
    /// RTCP state about SSRCs other shards own, for the cross-SSRC RTTs (see [`foreign`]).
    foreign: foreign::Foreign,
    /// SRs of streams still in probation, attached when they are validated.
    pending_srs: rtt::PendingSrs,
    /// Recent RTCP XR receiver reference times, for the `xr` RTT ([`xr`]).
    rrts: xr::Rrts,
    /// Clock rates and codecs signalled by SDP ([`sdp`]), looked up when a stream starts.
    sdp: sdp::SdpMap,
    finished: Vec<(u64, StreamRecord)>,
    /// Loss splits of streams that are the egress of ended middlebox hops (upstream, inside
    /// the box; [`Engine::add_loss_split`]): only for tracked streams, removed when the stream
    /// ends, so bounded by the table. Beside the streams: most streams never have one.
    loss_splits: foldhash::HashMap<StreamKey, (u64, u64)>,
    /// Host pairs of ended streams, for the one-way media finding ([`findings`]).
    ended_pairs: findings::EndedPairs,
    next_order: u64,
    /// Kernel and interface drops so far ([`Engine::on_capture_drop`]).
    capture_drops: stream::CaptureDrops,
    counters: Counters,
    /// Interval records: length (0 = none), the next boundary (`i64::MIN` before the first
    /// event, `i64::MAX` when off) and the closed intervals not yet taken ([`Engine::drain_cuts`]).
    interval_ns: i64,
    next_cut: i64,
    cuts: Vec<Cut>,
}

impl Engine {
    pub fn new(cfg: Resolved) -> Self {
        Engine::with_shard(cfg, Shard::SOLE)
    }

    /// An engine that owns only `shard`'s SSRCs (see [`shard`]). The stream and candidate
    /// limits are divided among the shards.
    pub fn with_shard(mut cfg: Resolved, shard: Shard) -> Self {
        let n = shard.count.max(1) as usize;
        let foreign = foreign::Foreign::new(cfg.max_streams);
        cfg.max_streams = cfg.max_streams.div_ceil(n).max(1);
        cfg.max_candidates = cfg.max_candidates.div_ceil(n).max(1);
        Engine {
            cfg,
            shard,
            frame: 0,
            point: ObservationPoint::CAPTURE,
            points: std::sync::Arc::default(),
            streams: StreamTable::default(),
            candidates: Lru::default(),
            stun: stun::StunRtt::default(),
            foreign,
            pending_srs: rtt::PendingSrs::default(),
            rrts: xr::Rrts::default(),
            sdp: sdp::SdpMap::default(),
            finished: Vec::new(),
            loss_splits: foldhash::HashMap::default(),
            ended_pairs: findings::EndedPairs::default(),
            next_order: 0,
            capture_drops: stream::CaptureDrops::default(),
            counters: Counters::default(),
            interval_ns: 0,
            next_cut: i64::MAX,
            cuts: Vec::new(),
        }
    }

    /// Replace the configuration, keeping every stream (SIGHUP reload). Limits keep this
    /// shard's share; a new clock rate applies to streams created from now on.
    pub fn reconfigure(&mut self, mut cfg: Resolved) {
        cfg.max_streams = self.cfg.max_streams;
        cfg.max_candidates = self.cfg.max_candidates;
        self.cfg = cfg;
    }

    /// Number the next packets with the capture's frame number: new streams are ordered by
    /// it. Without calls, streams are numbered in order of creation.
    pub fn set_frame(&mut self, frame: u64) {
        self.frame = frame;
    }

    /// The next datagrams ([`Engine::on_datagram`], [`Engine::on_rtcp`]) were seen at
    /// `point`, until the next call. RTP through [`Engine::on_rtp_meta`] carries its own.
    pub fn set_point(&mut self, point: ObservationPoint) {
        self.point = point;
    }

    /// Where the datagrams are being seen ([`Engine::set_point`]).
    pub fn point(&self) -> ObservationPoint {
        self.point
    }

    /// Name records' observation points from `names` (the table the capture interns into).
    /// Without a call every point is named from an empty table: `capture` or `other`.
    pub fn set_point_names(&mut self, names: std::sync::Arc<PointNames>) {
        self.points = names;
    }

    /// The table records' observation points are named from.
    pub fn point_names(&self) -> &std::sync::Arc<PointNames> {
        &self.points
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Number of live (validated) streams.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// RTCP lookups that examined only the first [`table::SCAN_CAP`] streams of one SSRC or
    /// address pair (a report about an SSRC that many streams share, see [`table`]).
    pub fn truncated_index_scans(&self) -> u64 {
        self.streams.truncated_scans()
    }

    /// Handle one decoded UDP datagram captured at `now` (ns since the epoch). Call it for
    /// every datagram in capture order. Returns the RTCP bytes when the datagram was RTCP (or
    /// SRTCP), so that the caller can forward them (replay's raw RTCP for HEP sinks).
    pub fn on_datagram<'a>(&mut self, now: i64, dg: &Datagram<'a>) -> Option<&'a [u8]> {
        // Disjoint borrows: no copy of the 29 counters per datagram.
        let mut t = triage(&self.cfg, &mut self.counters, dg);
        // By reference: the 88-byte header fields are not copied out of `t` again.
        match &mut t {
            Triage::Rtp(m) => {
                m.point = self.point;
                self.on_rtp_meta(now, m);
            }
            &mut Triage::Rtcp { buf, complete } => {
                self.on_rtcp(now, dg.src, dg.dst, buf, complete);
                return Some(buf);
            }
            Triage::Stun(m) => self.on_stun(now, dg.src, dg.dst, m),
            Triage::Done => {}
        }
        None
    }

    /// A payload type's clock rate and codec signalled by SDP for media sent to `m.addr`
    /// (`crate::sip`): streams that start afterwards use it ([`sdp`]). Every shard gets it.
    pub fn on_sdp(&mut self, m: sdp::SdpPt) {
        self.sdp.insert(m);
    }

    /// SDP mappings forgotten to keep the map bounded.
    pub fn sdp_evicted(&self) -> u64 {
        self.sdp.evicted
    }

    /// A STUN message (already counted by [`triage`]): ICE round trips.
    pub fn on_stun(&mut self, now: i64, src: SocketAddr, dst: SocketAddr, m: &Message<'_>) {
        self.cut(now);
        // Every shard sees every STUN message (STUN is about 5-tuples, not SSRCs); one counts.
        if self.stun.on_message(now, src, dst, m) && self.shard.index == 0 {
            self.counters.stun_rtt_samples += 1;
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
        self.on_rtp_meta(now, &RtpMeta::new(src, dst, p, wire_len));
    }

    /// [`Engine::on_rtp`] from the header fields alone.
    #[inline]
    pub fn on_rtp_meta(&mut self, now: i64, m: &RtpMeta) {
        self.cut(now);
        self.counters.rtp_packets += 1;
        let key = m.key();
        let (seq, ts, pt, marker, wire_len) = (m.seq, m.ts, m.pt, m.marker, m.wire_len as usize);
        if let Some(s) = self.streams.touch_mut(&key) {
            s.prefetch_audio();
            match s.on_rtp(now, seq, ts, pt, marker, wire_len) {
                seq::SeqEvent::Bad => self.counters.rtp_unvalidated += 1,
                _ => s.on_video(now, m),
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
            let order = if self.frame != 0 {
                self.frame
            } else {
                self.next_order += 1;
                self.next_order
            };
            let mut s = Stream::new(key, order, now, seq, pt, &self.cfg);
            if let Some((rate, codec)) = self.sdp.lookup(key.src, key.dst, pt) {
                s.set_sdp(rate, codec);
            }
            self.candidates.insert(s);
        }
        let valid = match self.candidates.touch_mut(&key) {
            Some(c) => {
                match c.on_rtp_candidate(now, seq, ts, pt, marker, wire_len) {
                    // A jump cut the probation run short: those packets are never counted.
                    seq::SeqEvent::ProbationRestart { discarded } => {
                        self.counters.rtp_unvalidated += discarded;
                    }
                    seq::SeqEvent::Bad => {}
                    _ => c.on_video(now, m),
                }
                c.is_valid()
            }
            None => false,
        };
        if valid {
            if let Some((_, s)) = self.candidates.remove(&key) {
                self.promote(now, s);
            }
        }
    }

    fn promote(&mut self, now: i64, mut s: Stream) {
        if self.streams.len() >= self.cfg.max_streams {
            self.expire(now);
        }
        if self.streams.len() >= self.cfg.max_streams {
            // The least recently active stream: the tail of the activity list (see [`table`]).
            let victim = self.streams.lru().map(|s| s.key);
            if let Some(k) = victim {
                self.counters.streams_evicted += 1;
                self.finish(&k, EndReason::Evicted);
            }
        }
        let key = s.key;
        let early = self.pending_srs.take(|p| {
            p.ssrc == key.ssrc
                && p.point == key.point
                && rtcp::flow_score(key.src, key.dst, p.src, p.dst) > 0
        });
        for p in early {
            s.on_sr(p.entry, p.packet_count, p.octet_count);
        }
        s.set_capture_drops_seen(self.capture_drops.count);
        if self.cfg.audio_quality {
            s.start_audio(self.cfg.jitter_buffer_ms);
        }
        self.counters.streams_created += 1;
        self.streams.insert(s);
    }

    /// How long a stream may be idle before [`Engine::expire`] ends it, ns.
    pub fn idle_timeout_ns(&self) -> i64 {
        self.cfg.idle_timeout_ns
    }

    /// End streams idle for longer than `idle_timeout_secs` and forget stale candidates. Call it
    /// whenever capture time has advanced (about once a second is plenty).
    ///
    /// Both walk their activity list from the least recently active end and stop at the first
    /// entry that is not idle: O(expired). With timestamps that go backwards, an idle entry
    /// behind a fresher one waits until that one expires (see [`table`]).
    pub fn expire(&mut self, now: i64) {
        self.cut(now);
        let idle = self.cfg.idle_timeout_ns;
        self.ended_pairs.rotate(now, idle);
        while let Some(k) = self
            .streams
            .lru()
            .filter(|s| now.saturating_sub(s.last_seen) > idle)
            .map(|s| s.key)
        {
            self.finish(&k, EndReason::Idle);
        }
        self.expire_candidates(now);
        self.stun.expire(now);
    }

    fn expire_candidates(&mut self, now: i64) {
        while let Some(k) = self
            .candidates
            .lru()
            .filter(|(_, c)| now.saturating_sub(c.last_seen) > CANDIDATE_TIMEOUT_NS)
            .map(|(k, _)| *k)
        {
            if let Some((_, c)) = self.candidates.remove(&k) {
                self.counters.rtp_unvalidated += c.packets;
            }
        }
    }

    /// Add to stream `key`'s loss split what an ended middlebox hop of which it is the egress
    /// lost upstream and inside the box (`crate::correlate::hop::Done::Split`). False when
    /// the stream is not (or no longer) tracked: the split is then not shown anywhere.
    pub fn add_loss_split(&mut self, key: &StreamKey, upstream: u64, inside: u64) -> bool {
        if self.streams.get(key).is_none() {
            return false;
        }
        let s = self.loss_splits.entry(*key).or_insert((0, 0));
        s.0 = s.0.saturating_add(upstream);
        s.1 = s.1.saturating_add(inside);
        true
    }

    /// End every stream (`end_of_capture`); call once when the capture is over.
    pub fn finish_all(&mut self) {
        self.finish_all_as(EndReason::EndOfCapture);
    }

    /// End every stream, saying why (`end_of_capture`, `shutdown`).
    ///
    /// An interval still open is closed first, at its boundary: the capture ended before it,
    /// so it holds every packet it will ever hold (live and replay then give the same records).
    pub fn finish_all_as(&mut self, why: EndReason) {
        self.close_open_interval();
        let mut keys: Vec<(u64, StreamKey)> =
            self.streams.values().map(|s| (s.order, s.key)).collect();
        keys.sort_unstable();
        for (_, k) in keys {
            self.finish(&k, why);
        }
        let unvalidated: u64 = self.candidates.values().map(|c| c.packets).sum();
        self.counters.rtp_unvalidated += unvalidated;
        self.candidates.clear();
    }

    /// Whether streams ended since the last [`Engine::drain_finished`] (a per-packet check).
    #[inline]
    pub fn has_finished(&self) -> bool {
        !self.finished.is_empty()
    }

    /// Records of streams that ended since the last call, with their order of first appearance.
    pub fn drain_finished(&mut self) -> Vec<(u64, StreamRecord)> {
        std::mem::take(&mut self.finished)
    }

    /// Records of the live streams as they stand (`ended_by` = `active`), for snapshots.
    pub fn active_records(&self) -> Vec<(u64, StreamRecord)> {
        self.streams
            .values()
            .map(|s| (s.order, self.record_of(s, EndReason::Active)))
            .collect()
    }

    /// The probe itself dropped `packets` RTP packets of `key` (a full pipeline queue) before
    /// this engine saw them: they are kept out of the stream's network loss.
    pub fn on_probe_drop(&mut self, now: i64, key: &StreamKey, packets: u64) {
        self.cut(now);
        match self
            .streams
            .get_mut(key)
            .or_else(|| self.candidates.get_mut(key))
        {
            Some(s) => s.on_probe_drop(now, packets, self.capture_drops.count),
            None => self.counters.probe_dropped_unattributed += packets,
        }
    }

    /// The kernel or the interface dropped packets at about `now` (pcap statistics): which
    /// streams lost them is unknown, so every live stream is flagged. O(1): the drop is noted
    /// once here and each stream's record compares ([`stream::CaptureDrops`]).
    pub fn on_capture_drop(&mut self, now: i64) {
        self.cut(now);
        self.capture_drops.count += 1;
        self.capture_drops.last_at = now;
    }

    /// The stream's record, with the STUN RTT of its 5-tuple pair (kept apart from streams).
    fn record_of(&self, s: &Stream, why: EndReason) -> StreamRecord {
        let mut r = s.record(
            why,
            self.stun.stats(s.key.src, s.key.dst).as_ref(),
            self.capture_drops,
        );
        r.observed_at = self.points.name(s.key.point).to_string();
        if let Some(&(upstream, inside)) = self.loss_splits.get(&s.key) {
            r.loss_split = Some(record::LossSplit {
                upstream,
                inside_middlebox: inside,
                downstream: r.loss_downstream,
            });
        }
        r.configured_codec = r.payload_types.first().and_then(|pt| self.cfg.codec(*pt));
        r.signalled_codec = s.sdp_codec();
        r.quality = r.estimate_quality();
        r.findings = self.findings(s, &r);
        r
    }

    fn finish(&mut self, key: &StreamKey, why: EndReason) {
        let Some(s) = self.streams.remove(key) else {
            return;
        };
        let record = self.record_of(&s, why);
        self.note_ended(key);
        if !self.loss_splits.is_empty() {
            self.loss_splits.remove(key);
        }
        self.finished.push((s.order, record));
    }
}
