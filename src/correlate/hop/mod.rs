//! The middlebox hop: pair each stream entering a relay or SFU with the streams leaving it
//! that carry the same media, and measure what the box did to it.
//!
//! Captured on (or beside) a middlebox, every forwarded RTP packet is seen twice: arriving on
//! the *ingress* stream and leaving on an *egress* stream, later. [`HopMatcher`] is fed a
//! compact summary of every RTP packet ([`RtpSummary`]: header fields only, so it works on
//! SRTP, RFC 3711 §3.1, whose headers are in clear) with the stream it belongs to, and pairs:
//!
//! * by **`ssrc`**: the egress stream has the SSRC of a stream first seen earlier on another
//!   5-tuple (relays, TURN, routers, SFUs that keep SSRCs), and its packets are copies
//!   (sequence number, RTP timestamp, marker and payload size agree under one offset);
//! * by **`fingerprint`**: the SSRC is rewritten (Janus, mediasoup: new SSRC, sequence and
//!   timestamp bases), but the RTP timestamp deltas, marker bits and payload sizes of the
//!   last [`SIG_LEN`] packets are those of an ingress stream (a signature index finds it),
//!   and the last [`WINDOW`] packets agree under one (sequence, timestamp) offset. Constant
//!   size streams (G.711 audio) carry no such fingerprint and are paired by SSRC only.
//!
//! `confidence` is the share of the egress packets in the window that matched. An egress stream
//! that stops matching its ingress (an SFU switching simulcast layers) is detached after
//! [`DETACH_MISSES`] misses and paired again: each (ingress, egress) pair is its own hop. A
//! stream on an egress stream's 5-tuple whose packets are two bytes longer than ingress packets
//! with the same (offset) timestamp is its RTX stream (RFC 4588 §4: the OSN precedes the
//! payload): counted as `rtx_packets`, a repair, never a new packet nor loss. Layers not
//! forwarded and FEC streams pair with nothing and so count as nothing.
//!
//! **Loss inside** the box: an ingress packet that arrived, that a later ingress packet of the
//! same hop was forwarded, and that was itself not forwarded within [`FORWARD_TIMEOUT_NS`]
//! (copies later than that are counted `late` and the packet as lost). A hop's ingress range
//! runs from its first to its last forwarded packet, so packets before a hop starts, after it
//! ends (layer switch, end of capture) or of layers never forwarded are not loss.
//!
//! **Bounded**: at most `max_streams` streams (the least recently seen is evicted, counted), each
//! with a ring of its last [`RING`] packets awaiting their copies (so at most [`RING`] in-flight
//! packets per hop and `max_streams × RING` in total; a packet pushed out before its timeout
//! unforwarded is counted `evicted`, not lost), at most [`MAX_OUT`] hops per ingress stream
//! and `max_hops` hops, [`MAX_ATTEMPTS`] failed pairing verifications per stream, and the
//! signature index is a fixed table (replaced, never grown) and the SSRC index is cleared
//! (counted) at its cap. Rings are
//! allocated when a stream is created and reused: a steady-state packet allocates nothing.

mod feed;
mod hist;
mod pair;
#[cfg(test)]
mod tests;
mod view;

pub use feed::summarize;
pub use hist::DelayHist;
pub use view::HopView;

use crate::engine::StreamKey;
use foldhash::HashMap;
use serde::Serialize;

/// In-flight packets kept per stream (a power of two dividing 65536, so a 16-bit sequence
/// number alone finds its slot).
pub const RING: usize = 256;
/// Arrivals per stream kept for verification (the pairing window).
pub const WINDOW: usize = 32;
/// Packets whose (timestamp delta, marker, size) make a signature.
pub const SIG_LEN: usize = 4;
/// Matching packets needed to pair, and the share of the window that must match.
pub const MIN_MATCH: u32 = 8;
pub const MIN_CONFIDENCE: f64 = 0.75;
/// Consecutive egress packets that do not map to the hop's ingress before it is detached.
pub const DETACH_MISSES: u32 = 8;
/// A copy later than this after its original does not count as forwarded.
pub const FORWARD_TIMEOUT_NS: i64 = 1_000_000_000;
/// Hops one ingress stream may feed (fan-out and layer switches over its life).
pub const MAX_OUT: usize = 8;
/// Failed pairing verifications per stream before it stops looking.
pub const MAX_ATTEMPTS: u32 = 64;

/// What the matcher needs of one RTP packet (RFC 3550 §5.1 header fields and sizes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpSummary {
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub pt: u8,
    pub marker: bool,
    /// RTP payload bytes (after header, CSRCs and extension; padding included).
    pub payload_len: u32,
}

/// Caps of a [`HopMatcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_streams: usize,
    pub max_hops: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_streams: 4096,
            max_hops: 4096,
        }
    }
}

/// How a hop was paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    Ssrc,
    Fingerprint,
}

/// What the matcher counted about itself: every bound that bit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HopCounters {
    pub streams_evicted: u64,
    /// In-flight packets pushed out of their ring before their timeout, unforwarded.
    pub inflight_evicted: u64,
    /// Pairings refused: `max_hops` or [`MAX_OUT`] reached.
    pub hops_refused: u64,
    pub index_resets: u64,
    pub pairing_attempts: u64,
    pub duplicate_arrivals: u64,
}

/// One in-flight packet. `ext == NONE` marks an empty slot.
#[derive(Debug, Clone, Copy)]
struct Entry {
    t: i64,
    ext: u64,
    ts: u32,
    size: u16,
    /// Bit 0: marker. Bit 1: mapped to an ingress packet (as an egress packet).
    flags: u8,
    /// Bit b: forwarded by the stream's b-th out-hop.
    fwd: u8,
}

const NONE: u64 = u64::MAX;
const MARKER: u8 = 1;
const MAPPED: u8 = 2;
const EMPTY: Entry = Entry {
    t: 0,
    ext: NONE,
    ts: 0,
    size: 0,
    flags: 0,
    fwd: 0,
};

/// One bucket of the signature index: (signature, stream, its extended seq), newest first.
type SigBucket = [Option<(u64, Sref, u64)>; 4];

/// Buckets of the signature index: four per stream slot, a power of two.
fn sig_buckets(max_streams: usize) -> usize {
    (max_streams.clamp(1, 1 << 20) * 4).next_power_of_two()
}

/// A stream's slot in the matcher (generation-checked by hops and indexes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sref {
    slot: u32,
    gen: u32,
}

struct StreamState {
    key: StreamKey,
    first_seen: i64,
    last_seen: i64,
    packets: u64,
    /// Highest extended sequence number (starts at 2^32 + first seq: never underflows).
    max_ext: u64,
    pt: u8,
    ring: Box<[Entry]>,
    /// Extended sequence numbers of the last [`WINDOW`] arrivals, oldest first from `hist_pos`.
    hist: [u64; WINDOW],
    hist_pos: usize,
    /// The hop this stream is the egress of, if paired.
    in_hop: Option<u32>,
    /// The hop whose RTX stream this is.
    rtx_of: Option<u32>,
    out: [u32; MAX_OUT],
    n_out: usize,
    attempts: u32,
}

struct Slot {
    gen: u32,
    /// False once the stream is closed: `state` then only keeps its ring for reuse.
    live: bool,
    state: Option<StreamState>,
}

/// One (ingress, egress) pair and what the box did on it.
struct Hop {
    ingress: Sref,
    egress: Sref,
    ingress_key: StreamKey,
    egress_key: StreamKey,
    /// The bit of `fwd` this hop owns in the ingress ring.
    bit: u8,
    matched_by: MatchedBy,
    confidence: f64,
    seq_off: i64,
    ts_off: u32,
    active: bool,
    misses: u32,
    first_fwd: u64,
    max_fwd: u64,
    packets_in: u64,
    packets_out: u64,
    lost_inside: u64,
    evicted: u64,
    late: u64,
    duplicates_out: u64,
    rtx_packets: u64,
    delays: DelayHist,
    /// RFC 3550 §6.4.1-style smoothing of |ΔD| over forwarding delays, in ns.
    jitter_ns: f64,
    last_delay: Option<i64>,
}

/// The matcher (see the module docs). Call [`HopMatcher::on_rtp`] for every RTP packet in
/// capture order and [`HopMatcher::finish`] at the end; read [`HopMatcher::report`].
pub struct HopMatcher {
    limits: Limits,
    slots: Vec<Slot>,
    by_key: HashMap<StreamKey, u32>,
    free: Vec<u32>,
    /// Eviction cursor (CLOCK over the slots).
    hand: usize,
    by_ssrc: HashMap<u32, [Option<Sref>; 4]>,
    /// Signature index: a fixed direct-mapped table (allocated once, entries replaced, never
    /// grown) of the last few (signature, stream, extended seq) per bucket.
    sigs: Box<[SigBucket]>,
    hops: Vec<Hop>,
    counters: HopCounters,
}

/// A stream's identity in reports: the engine's key, shown as in stream records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamRef {
    pub src: String,
    pub dst: String,
    pub ssrc: u32,
}

impl From<&StreamKey> for StreamRef {
    fn from(k: &StreamKey) -> Self {
        StreamRef {
            src: k.src.to_string(),
            dst: k.dst.to_string(),
            ssrc: k.ssrc,
        }
    }
}

/// Forwarding delay quantiles, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DelaySummary {
    pub min: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// One hop as reported (`hops` in `replay --format json`, docs/output.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HopRecord {
    pub ingress: StreamRef,
    pub egress: StreamRef,
    pub matched_by: MatchedBy,
    pub confidence: f64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub lost_inside: u64,
    /// Sequence numbers of the hop's ingress range that never reached the box.
    pub lost_upstream: u64,
    pub evicted: u64,
    pub late: u64,
    pub duplicates_out: u64,
    pub rtx_packets: u64,
    pub forwarding_delay: Option<DelaySummary>,
    pub jitter_added: f64,
    #[serde(skip)]
    pub ingress_key: StreamKey,
    #[serde(skip)]
    pub egress_key: StreamKey,
}

impl HopMatcher {
    pub fn new(limits: Limits) -> Self {
        HopMatcher {
            limits: Limits {
                max_streams: limits.max_streams.max(1),
                max_hops: limits.max_hops,
            },
            slots: Vec::new(),
            by_key: HashMap::default(),
            free: Vec::new(),
            hand: 0,
            by_ssrc: HashMap::default(),
            sigs: vec![[None; 4]; sig_buckets(limits.max_streams)].into_boxed_slice(),
            hops: Vec::new(),
            counters: HopCounters::default(),
        }
    }

    pub fn counters(&self) -> &HopCounters {
        &self.counters
    }

    /// Streams tracked now (≤ `max_streams`).
    pub fn stream_count(&self) -> usize {
        self.by_key.len()
    }

    /// Slots ever allocated (≤ `max_streams`): what memory the matcher holds.
    pub fn slot_capacity(&self) -> usize {
        self.slots.len()
    }

    /// Index entries held (the fixed signature table's buckets and the capped SSRC index).
    pub fn index_len(&self) -> usize {
        self.sigs.len() + self.by_ssrc.len()
    }

    fn state(&self, r: Sref) -> Option<&StreamState> {
        self.slots
            .get(r.slot as usize)
            .filter(|s| s.gen == r.gen && s.live)?
            .state
            .as_ref()
    }

    fn state_mut(&mut self, r: Sref) -> Option<&mut StreamState> {
        self.slots
            .get_mut(r.slot as usize)
            .filter(|s| s.gen == r.gen && s.live)?
            .state
            .as_mut()
    }

    /// Handle one RTP packet of stream `key` captured at `now` (ns). Call it for every RTP
    /// packet, in capture order.
    pub fn on_rtp(&mut self, now: i64, key: &StreamKey, p: &RtpSummary) {
        let r = self.stream(now, key, p);
        let Some(st) = self.state_mut(r) else { return };
        st.last_seen = now;
        st.packets += 1;
        let ext = extend(st.max_ext, p.seq);
        st.max_ext = st.max_ext.max(ext);
        let i = (ext as usize) % RING;
        let Some(old) = st.ring.get(i).copied() else {
            return;
        };
        if old.ext == ext {
            self.counters.duplicate_arrivals += 1;
            return;
        }
        let e = Entry {
            t: now,
            ext,
            ts: p.ts,
            size: u16::try_from(p.payload_len).unwrap_or(u16::MAX),
            flags: if p.marker { MARKER } else { 0 },
            fwd: 0,
        };
        if let Some(slot) = st.ring.get_mut(i) {
            *slot = e;
        }
        st.hist[st.hist_pos] = ext;
        st.hist_pos = (st.hist_pos + 1) % WINDOW;
        let (in_hop, rtx_of, n_out, packets) = (st.in_hop, st.rtx_of, st.n_out, st.packets);
        if old.ext != NONE {
            self.retire(r, &old, now, false);
        }
        if let Some(h) = in_hop {
            if !self.forward(now, h, r, ext, true) {
                self.miss(h, r);
            }
        } else if let Some(h) = rtx_of {
            self.rtx(h, r, ext);
        } else if n_out == 0 {
            self.try_pair(now, r, ext, packets);
        }
        if self
            .state(r)
            .is_some_and(|s| s.in_hop.is_none() && s.rtx_of.is_none())
        {
            self.index(r, ext);
        }
    }

    /// The stream's slot, created (evicting if full) on its first packet.
    fn stream(&mut self, now: i64, key: &StreamKey, p: &RtpSummary) -> Sref {
        if let Some(&slot) = self.by_key.get(key) {
            let gen = self.slots.get(slot as usize).map_or(0, |s| s.gen);
            return Sref { slot, gen };
        }
        if self.by_key.len() >= self.limits.max_streams {
            self.evict(now);
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot {
                    gen: 0,
                    live: false,
                    state: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let Some(s) = self.slots.get_mut(slot as usize) else {
            return Sref { slot, gen: 0 };
        };
        s.gen = s.gen.wrapping_add(1);
        s.live = true;
        let gen = s.gen;
        // Reuse the ring of the slot's previous stream: no allocation once the slab is full.
        let ring = match s.state.take() {
            Some(mut old) => {
                old.ring.fill(EMPTY);
                old.ring
            }
            None => vec![EMPTY; RING].into_boxed_slice(),
        };
        s.state = Some(StreamState {
            key: *key,
            first_seen: now,
            last_seen: now,
            packets: 0,
            max_ext: (1 << 32) + u64::from(p.seq),
            pt: p.pt,
            ring,
            hist: [NONE; WINDOW],
            hist_pos: 0,
            in_hop: None,
            rtx_of: None,
            out: [0; MAX_OUT],
            n_out: 0,
            attempts: 0,
        });
        self.by_key.insert(*key, slot);
        let r = Sref { slot, gen };
        if self.by_ssrc.len() >= 2 * self.limits.max_streams {
            self.by_ssrc.clear();
            self.counters.index_resets += 1;
        }
        let list = self.by_ssrc.entry(p.ssrc).or_insert([None; 4]);
        list.rotate_right(1);
        list[0] = Some(r);
        r
    }

    /// Make room: the first stream idle for a second under the CLOCK hand (bounded look),
    /// else the one under the hand.
    fn evict(&mut self, now: i64) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        let mut victim = None;
        for k in 0..64.min(n) {
            let i = (self.hand + k) % n;
            if let Some(st) = self
                .slots
                .get(i)
                .filter(|s| s.live)
                .and_then(|s| s.state.as_ref())
            {
                victim.get_or_insert(i);
                if now.saturating_sub(st.last_seen) > FORWARD_TIMEOUT_NS {
                    victim = Some(i);
                    break;
                }
            }
        }
        let i = victim.unwrap_or(self.hand % n);
        self.hand = (i + 1) % n;
        self.counters.streams_evicted += 1;
        self.close(i as u32, now, false);
    }

    /// Retire a stream's in-flight packets and forget it (its slot keeps the ring for reuse).
    fn close(&mut self, slot: u32, now: i64, at_end: bool) {
        let Some(s) = self.slots.get(slot as usize).filter(|s| s.live) else {
            return;
        };
        let r = Sref { slot, gen: s.gen };
        let Some(st) = s.state.as_ref() else { return };
        let (key, in_hop, ring_len) = (st.key, st.in_hop, st.ring.len());
        for i in 0..ring_len {
            let e = self.state(r).and_then(|s| s.ring.get(i).copied());
            if let Some(e) = e.filter(|e| e.ext != NONE) {
                self.retire(r, &e, now, at_end);
            }
        }
        if let Some(h) = in_hop.and_then(|h| self.hops.get_mut(h as usize)) {
            h.active = false;
        }
        self.by_key.remove(&key);
        if let Some(s) = self.slots.get_mut(slot as usize) {
            // Keep the state (its ring) for reuse; a new generation invalidates references.
            s.gen = s.gen.wrapping_add(1);
            s.live = false;
        }
        self.free.push(slot);
    }

    /// An in-flight packet leaves stream `r`'s ring: settle it for every hop it feeds.
    fn retire(&mut self, r: Sref, e: &Entry, now: i64, at_end: bool) {
        let Some(st) = self.state(r) else { return };
        let (out, n) = (st.out, st.n_out);
        for (b, &h) in out.iter().enumerate().take(n) {
            let Some(hop) = self.hops.get_mut(h as usize) else {
                continue;
            };
            if hop.packets_out == 0 || e.ext < hop.first_fwd || e.ext > hop.max_fwd {
                continue;
            }
            hop.packets_in += 1;
            if e.fwd & (1 << b) == 0 {
                if at_end || now.saturating_sub(e.t) >= FORWARD_TIMEOUT_NS {
                    hop.lost_inside += 1;
                } else {
                    hop.evicted += 1;
                    self.counters.inflight_evicted += 1;
                }
            }
        }
    }

    /// Settle every in-flight packet: call once when the capture is over.
    pub fn finish(&mut self, now: i64) {
        let mut live: Vec<u32> = self.by_key.values().copied().collect();
        live.sort_unstable();
        for slot in live {
            self.close(slot, now, true);
        }
    }

    /// The hops, in order of pairing.
    pub fn report(&self) -> Vec<HopRecord> {
        let s = |ns: Option<i64>| ns.unwrap_or(0) as f64 / 1e9;
        self.hops
            .iter()
            .filter(|h| h.packets_out > 0)
            .map(|h| HopRecord {
                ingress: StreamRef::from(&h.ingress_key),
                egress: StreamRef::from(&h.egress_key),
                matched_by: h.matched_by,
                confidence: (h.confidence * 1000.0).round() / 1000.0,
                packets_in: h.packets_in,
                packets_out: h.packets_out,
                lost_inside: h.lost_inside,
                lost_upstream: (h.max_fwd - h.first_fwd + 1).saturating_sub(h.packets_in),
                evicted: h.evicted,
                late: h.late,
                duplicates_out: h.duplicates_out,
                rtx_packets: h.rtx_packets,
                forwarding_delay: (h.delays.count() > 0).then(|| DelaySummary {
                    min: s(h.delays.min_ns()),
                    p50: s(h.delays.quantile_ns(0.5)),
                    p95: s(h.delays.quantile_ns(0.95)),
                    p99: s(h.delays.quantile_ns(0.99)),
                    max: s(h.delays.max_ns()),
                }),
                jitter_added: h.jitter_ns / 1e9,
                ingress_key: h.ingress_key,
                egress_key: h.egress_key,
            })
            .collect()
    }
}

/// The extended sequence number of `seq` nearest to `max_ext` (RFC 3550 A.1's wrap handling,
/// without its validation: the engine validates, the matcher only aligns).
fn extend(max_ext: u64, seq: u16) -> u64 {
    let delta = i64::from(seq.wrapping_sub(max_ext as u16) as i16);
    (max_ext as i64).saturating_add(delta).max(0) as u64
}
