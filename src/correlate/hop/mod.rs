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
//! runs from its first to its last forwarded packet (copies that arrived before the hop was
//! paired included: they are still in the egress stream's ring), so packets before a hop
//! starts, after it ends (layer switch, end of capture) or of layers never forwarded are not
//! loss.
//!
//! **Incremental**: a hop is final when it ends: its egress stream ends (idle for the engine's
//! idle timeout, [`HopMatcher::expire`]; evicted; end of capture, [`HopMatcher::finish`]) or it
//! is detached (layer switch). Then its in-flight ingress packets are settled at once, its
//! [`HopRecord`] is handed out ([`HopMatcher::drain`], [`Done::Hop`], numbered in the order
//! hops end) and its slot reused; when the egress stream ends, its loss split
//! ([`Done::Split`]: upstream and inside the box, summed over its hops) is handed out for the
//! engine's record of that stream. Nothing is kept for the end of the capture.
//!
//! **Direction**: a stream is never paired with a stream going back toward its sender (an
//! egress whose destination is the ingress's source: the callee's video leaving toward the
//! caller is not a copy of the caller's video, however alike two test sources look), and a
//! candidate with the egress's SSRC is preferred to one found by fingerprint. Two identical
//! test videos, one per call end, are not paired backwards by fingerprint either: a stream
//! that shares its SSRC with another stream is paired by SSRC only (seen first, it is an
//! original that the other copies: never an egress by fingerprint, and a fingerprint hop it
//! was taken into before its copy appeared is undone, counted `fingerprint_undone`), and a
//! fingerprint egress goes to another IP than its ingress's destination (a box never sends
//! to its own receiving address; IPs, not ports).
//!
//! **Bounded**: at most `max_streams` streams (the least recently seen is evicted, counted), each
//! with a ring of its last [`RING`] packets awaiting their copies (so at most [`RING`] in-flight
//! packets per hop and `max_streams × RING` in total; a packet pushed out before its timeout
//! unforwarded is counted `evicted`, not lost), at most [`MAX_OUT`] hops per ingress stream
//! and `max_hops` open hops (slots reused once a hop ends), [`MAX_ATTEMPTS`] failed pairing verifications per stream, and the
//! signature index is a fixed table (replaced, never grown) and the SSRC index is cleared
//! (counted) at its cap. Rings are
//! allocated when a stream is created and reused: a steady-state packet allocates nothing.

mod feed;
mod hist;
mod life;
mod pair;
mod record;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_start;
mod view;

pub use feed::summarize;
pub use hist::DelayHist;
pub use record::{DelaySummary, HopRecord, StreamRef};
pub use view::OpenHop;

use crate::engine::{KeyHasher, PointNames, StreamKey};
use foldhash::HashMap;
use hashbrown::HashTable;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Arc;

/// In-flight packets kept per stream (a power of two dividing 65536, so a 16-bit sequence
/// number alone finds its slot).
pub const RING: usize = 256;
/// A new stream's ring: grown to [`RING`] as soon as a packet would push another out of it
/// (its packet `SMALL_RING + 1` at the latest, earlier when a gap or reordering spreads the
/// first sequence numbers: no packet ever leaves a small ring), so that a flood of short
/// streams costs little.
pub const SMALL_RING: usize = 8;
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
    /// Candidates refused because the egress goes back toward the ingress sender.
    pub reverse_refused: u64,
    /// Ended hops and loss splits dropped because nobody drained them ([`MAX_DONE`]).
    pub done_dropped: u64,
    /// Hops paired by fingerprint undone: their egress was an original (another stream
    /// copies it by SSRC).
    pub fingerprint_undone: u64,
}

/// Ended hops and splits held until [`HopMatcher::drain`]; more are dropped (counted).
pub const MAX_DONE: usize = 4096;

/// What the matcher hands out as hops and streams end.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// A hop ended; `seq` numbers ended hops from 0 in the order they ended (the output order).
    /// `delays` is the hop's forwarding delay histogram (the exporter's totals need it).
    Hop {
        seq: u64,
        hop: Box<HopRecord>,
        delays: DelayHist,
    },
    /// An egress stream ended: what of its loss happened upstream of the box and inside it,
    /// in packets, summed over its hops. For the engine's record of the stream `key`.
    Split {
        key: StreamKey,
        upstream: u64,
        inside: u64,
    },
}

/// A hop's slot, generation-checked (slots are reused once a hop ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Href {
    id: u32,
    gen: u32,
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

/// Buckets of the signature index: one per stream slot (of four entries), a power of two.
fn sig_buckets(max_streams: usize) -> usize {
    max_streams.clamp(1, 1 << 20).next_power_of_two()
}

/// A stream's slot in the matcher (generation-checked by hops and indexes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sref {
    slot: u32,
    gen: u32,
}

/// One stream's state. `repr(C)`: what a packet of a paired stream reads and writes comes
/// first, within the cache line that starts its [`Slot`], then its key (the lookup's compare).
#[repr(C)]
struct StreamState {
    last_seen: i64,
    packets: u64,
    /// Highest extended sequence number (starts at 2^32 + first seq: never underflows).
    max_ext: u64,
    ring: Box<[Entry]>,
    /// The hop this stream is the egress of, if paired.
    in_hop: Option<u32>,
    /// Compared by the stream table's lookup: with the fields above, in the first two cache
    /// lines of the [`Slot`].
    key: StreamKey,
    /// Hops this stream ever fed: a stream that feeds one never looks for a source.
    n_out: usize,
    /// The hop whose RTX stream this is.
    rtx_of: Option<Href>,
    first_seen: i64,
    pt: u8,
    /// Extended sequence numbers of the last [`WINDOW`] arrivals, oldest first from `hist_pos`.
    hist: [u64; WINDOW],
    hist_pos: usize,
    /// (timestamp delta, size, marker) of the last [`SIG_LEN`] arrivals, oldest first: the
    /// signature's input, kept as packets arrive (no ring lookups per packet).
    sig_vals: [u64; SIG_LEN],
    /// RTP timestamp of the latest arrival.
    prev_ts: u32,
    /// Hops this stream feeds, by the bit they own in `fwd` ([`FREE`]: none).
    out: [u32; MAX_OUT],
    attempts: u32,
    /// Pairing looks since the stream started or was detached.
    tries: u32,
    /// Loss of ended hops of which this stream was the egress: upstream, inside.
    split: Option<(u64, u64)>,
}

/// An unused `out` entry.
const FREE: u32 = u32::MAX;

impl StreamState {
    /// The ring slot of extended sequence number `ext` (whatever it holds).
    fn at(&self, ext: u64) -> Option<&Entry> {
        self.ring
            .get(ext as usize & (self.ring.len().wrapping_sub(1)))
    }

    fn at_mut(&mut self, ext: u64) -> Option<&mut Entry> {
        let mask = self.ring.len().wrapping_sub(1);
        self.ring.get_mut(ext as usize & mask)
    }

    /// From [`SMALL_RING`] to [`RING`] entries, each packet moved to its new slot.
    fn grow(&mut self) {
        let mut big = vec![EMPTY; RING].into_boxed_slice();
        for e in self.ring.iter().filter(|e| e.ext != NONE) {
            if let Some(x) = big.get_mut(e.ext as usize % RING) {
                *x = *e;
            }
        }
        self.ring = big;
    }
}

/// `repr(C)`, cache-line aligned: the generation check and the stream's hot fields share one
/// line (perf: a packet touched several lines of its stream's state).
#[repr(C, align(64))]
struct Slot {
    gen: u32,
    /// False once the stream is closed: `state` then only keeps its ring for reuse.
    live: bool,
    state: Option<StreamState>,
}

/// One (ingress, egress) pair and what the box did on it.
///
/// `repr(C)`, cache-line aligned (perf: the hop was one of the few cache misses per packet):
/// the first line holds what every forwarded packet and every settled ingress packet read and
/// write, the second the delay histogram's own fields (its counters are behind a pointer,
/// touched once per [`hist::PENDING`] delays) and the jitter, the third the rest of what a
/// forwarded packet writes; then what pairing, settling and reporting need.
#[repr(C, align(64))]
struct Hop {
    /// False once ended: the slot (and its histogram) waits for reuse.
    live: bool,
    /// The bit of `fwd` this hop owns in the ingress ring.
    bit: u8,
    misses: u32,
    ingress: Sref,
    seq_off: i64,
    ts_off: u32,
    first_fwd: u64,
    max_fwd: u64,
    packets_out: u64,
    packets_in: u64,
    // Second line.
    delays: DelayHist,
    /// RFC 3550 §6.4.1-style smoothing of |ΔD| over forwarding delays, in ns.
    jitter_ns: f64,
    // Third line.
    last_delay: Option<i64>,
    duplicates_out: u64,
    late: u64,
    lost_inside: u64,
    evicted: u64,
    // Cold: pairing, settling, reporting.
    gen: u32,
    /// Payload type of the ingress stream when paired, and the capture time of pairing.
    pt: u8,
    paired_ns: i64,
    matched_by: MatchedBy,
    egress: Sref,
    confidence: f64,
    rtx_packets: u64,
    ingress_key: StreamKey,
    egress_key: StreamKey,
}

/// The matcher (see the module docs). Call [`HopMatcher::on_rtp`] for every RTP packet in
/// capture order, [`HopMatcher::expire`] about once a second of capture time and
/// [`HopMatcher::finish`] at the end; take what ended with [`HopMatcher::drain`] after each;
/// [`HopMatcher::report`] shows the open hops.
pub struct HopMatcher {
    limits: Limits,
    slots: Vec<Slot>,
    /// The slot of each live stream, found by the hash of its key and compared with the key
    /// in the slot (as the engine's table does): the table holds 4 bytes per stream, so a
    /// lookup touches the stream's slot and no other cold line.
    by_key: HashTable<u32>,
    hasher: KeyHasher,
    free: Vec<u32>,
    /// Eviction cursor (CLOCK over the slots).
    hand: usize,
    by_ssrc: HashMap<u32, [Option<Sref>; 4]>,
    /// Signature index: a fixed direct-mapped table (allocated once, entries replaced, never
    /// grown) of the last few (signature, stream, extended seq) per bucket.
    sigs: Box<[SigBucket]>,
    hops: Vec<Hop>,
    free_hops: Vec<u32>,
    /// Open hops (≤ `max_hops`).
    open_hops: usize,
    done: VecDeque<Done>,
    /// Hops ended so far (the next [`Done::Hop`] `seq`).
    ended_hops: u64,
    names: Arc<PointNames>,
    counters: HopCounters,
}

impl HopMatcher {
    pub fn new(limits: Limits) -> Self {
        HopMatcher {
            limits: Limits {
                max_streams: limits.max_streams.max(1),
                max_hops: limits.max_hops,
            },
            slots: Vec::new(),
            by_key: HashTable::new(),
            hasher: KeyHasher::default(),
            free: Vec::new(),
            hand: 0,
            by_ssrc: HashMap::default(),
            sigs: vec![[None; 4]; sig_buckets(limits.max_streams)].into_boxed_slice(),
            hops: Vec::new(),
            free_hops: Vec::new(),
            open_hops: 0,
            done: VecDeque::new(),
            ended_hops: 0,
            names: PointNames::shared("capture"),
            counters: HopCounters::default(),
        }
    }

    /// Name observation points in [`HopRecord`]s with `names` (the engine's).
    pub fn with_point_names(mut self, names: Arc<PointNames>) -> Self {
        self.names = names;
        self
    }

    /// Whether something ended since the last [`HopMatcher::drain`] (cheap: check per frame).
    pub fn has_done(&self) -> bool {
        !self.done.is_empty()
    }

    /// Hops and loss splits that ended since the last call, in the order they ended.
    pub fn drain(&mut self) -> std::collections::vec_deque::Drain<'_, Done> {
        self.done.drain(..)
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
        // Grown on the first collision, not after SMALL_RING packets: a packet pushed out of
        // a new stream's ring before its hop exists is counted on no hop (an overtaken first
        // packet plus a gap spans more than SMALL_RING sequence numbers).
        if st.ring.len() < RING && st.at(ext).is_some_and(|o| o.ext != NONE && o.ext != ext) {
            st.grow();
        }
        let e = Entry {
            t: now,
            ext,
            ts: p.ts,
            size: u16::try_from(p.payload_len).unwrap_or(u16::MAX),
            flags: if p.marker { MARKER } else { 0 },
            fwd: 0,
        };
        let (in_hop, rtx_of, n_out, packets) = (st.in_hop, st.rtx_of, st.n_out, st.packets);
        if let (Some(h), 0) = (in_hop, n_out) {
            // A paired egress stream (the common case): a copy is accounted on its hop and
            // not stored (pairing again only looks at packets that did not map).
            if self.forward(h, r, e, true, false) {
                return;
            }
            if self.store(r, e, now) {
                self.miss(now, h, r);
                if self.state(r).is_some_and(|s| s.in_hop.is_none()) {
                    self.index(r, ext);
                }
            }
            return;
        }
        if !self.store(r, e, now) {
            return;
        }
        if let Some(h) = in_hop {
            if !self.forward(h, r, e, true, true) {
                self.miss(now, h, r);
            }
        } else if let Some(h) = rtx_of {
            if self
                .hops
                .get(h.id as usize)
                .is_some_and(|x| x.live && x.gen == h.gen)
            {
                self.rtx(h.id, r, ext);
            }
        } else if n_out == 0 {
            self.try_pair(r, ext, packets);
        }
        if self
            .state(r)
            .is_some_and(|s| s.in_hop.is_none() && s.rtx_of.is_none())
        {
            self.index(r, ext);
        }
    }

    /// Keep packet `e` of stream `r` in flight (its ring, arrival window and signature input),
    /// settling the packet it pushes out. False for a duplicate (counted; nothing changes).
    fn store(&mut self, r: Sref, e: Entry, now: i64) -> bool {
        let Some(st) = self.state_mut(r) else {
            return false;
        };
        let Some(old) = st.at(e.ext).copied() else {
            return false;
        };
        if old.ext == e.ext {
            self.counters.duplicate_arrivals += 1;
            return false;
        }
        if let Some(slot) = st.at_mut(e.ext) {
            *slot = e;
        }
        // The arrival window serves only pairing this stream as an egress, which a stream
        // that feeds a hop never is again (`n_out` never decreases): not kept (one cache line
        // fewer per ingress packet).
        if st.n_out == 0 {
            st.hist[st.hist_pos] = e.ext;
            st.hist_pos = (st.hist_pos + 1) % WINDOW;
        }
        if st.packets > 1 {
            st.sig_vals.rotate_left(1);
            st.sig_vals[SIG_LEN - 1] = u64::from(e.ts.wrapping_sub(st.prev_ts))
                | u64::from(e.size) << 32
                | u64::from(e.flags & MARKER) << 48;
        }
        st.prev_ts = e.ts;
        if old.ext != NONE {
            self.retire(r, &old, now, false);
        }
        true
    }

    /// The live stream `key` (whose hash is `hash`).
    #[inline]
    fn find(&self, hash: u64, key: &StreamKey) -> Option<Sref> {
        let slots = &self.slots;
        let is = |&i: &u32| {
            slots
                .get(i as usize)
                .filter(|s| s.live)
                .and_then(|s| s.state.as_ref())
                .is_some_and(|st| st.key == *key)
        };
        let &slot = self.by_key.find(hash, is)?;
        let gen = self.slots.get(slot as usize).map_or(0, |s| s.gen);
        Some(Sref { slot, gen })
    }

    /// Take stream slot `slot` (holding `key`) out of the table.
    fn unmap(&mut self, key: &StreamKey, slot: u32) {
        if let Ok(e) = self
            .by_key
            .find_entry(self.hasher.hash(key), |&j| j == slot)
        {
            e.remove();
        }
    }

    /// The stream's slot, created (evicting if full) on its first packet.
    fn stream(&mut self, now: i64, key: &StreamKey, p: &RtpSummary) -> Sref {
        let hash = self.hasher.hash(key);
        if let Some(r) = self.find(hash, key) {
            return r;
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
            None => vec![EMPTY; SMALL_RING].into_boxed_slice(),
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
            sig_vals: [0; SIG_LEN],
            prev_ts: 0,
            in_hop: None,
            rtx_of: None,
            out: [FREE; MAX_OUT],
            n_out: 0,
            attempts: 0,
            tries: 0,
            split: None,
        });
        let (hasher, slots) = (&self.hasher, &self.slots);
        self.by_key
            .insert_unique(hash, slot, |&j| slot_hash(hasher, slots, j));
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
}

/// Hash of the key of stream slot `i` (for rehashing: every slot the table holds is live).
fn slot_hash(hasher: &KeyHasher, slots: &[Slot], i: u32) -> u64 {
    slots
        .get(i as usize)
        .and_then(|s| s.state.as_ref())
        .map_or(0, |st| hasher.hash(&st.key))
}

/// The extended sequence number of `seq` nearest to `max_ext` (RFC 3550 A.1's wrap handling,
/// without its validation: the engine validates, the matcher only aligns).
fn extend(max_ext: u64, seq: u16) -> u64 {
    let delta = i64::from(seq.wrapping_sub(max_ext as u16) as i16);
    (max_ext as i64).saturating_add(delta).max(0) as u64
}
