//! One direction of a TCP connection as a bounded byte stream (RFC 9293 §3.4, §3.10.7.4).
//!
//! [`ByteStream`] turns segments, in whatever order the capture shows them, into an in-order
//! stream of bytes handed to a [`Consumer`] with the capture time of the segment that brought
//! them. It knows nothing of what the bytes mean (RFC 4571, TURN, later SIP): a consumer
//! frames them.
//!
//! * In-order data is handed on at once, without copying.
//! * Data ahead of the next expected byte is held (copied) until the hole before it fills,
//!   up to a cap in bytes; bytes already handed on (retransmissions, overlaps) are dropped and
//!   counted.
//! * A hole that is not filled before the held bytes reach the cap, or before the first held
//!   segment is `gap_timeout_ns` old (capture time), is skipped: the consumer is told how many
//!   bytes it missed ([`Consumer::gap`]) and must resynchronise.
//! * Bytes the snap length cut off a segment are a gap too: they were on the wire, not here.
//!
//! Sequence numbers are extended to 64-bit stream offsets relative to the first byte seen, so
//! wrap-around (RFC 9293 §3.4.1) is handled once, here. Nothing here reads a clock.

use std::collections::BTreeMap;

/// What a consumer of a reassembled byte stream is told.
pub trait Consumer {
    /// The next in-order `bytes`, which reached the probe at capture time `now` (ns).
    fn data(&mut self, now: i64, bytes: &[u8]);
    /// `len` bytes were skipped (a hole that did not fill in time, or bytes cut by the snap
    /// length): the next [`Consumer::data`] does not continue the previous one.
    fn gap(&mut self, len: u64);
}

/// Bytes of bookkeeping charged per held segment on top of its payload, so that a flood of
/// one-byte segments is bounded by the same cap as a few large ones.
pub const HELD_OVERHEAD_BYTES: usize = 64;

/// Segments further ahead than this of the next expected byte are not held (they are not of
/// this connection's window: an old connection's reused ports, or garbage), only counted.
pub const MAX_AHEAD_BYTES: u64 = 1 << 20;

/// What a segment did, for the stage's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Payload bytes already handed on (retransmissions, overlaps).
    pub retransmitted_bytes: u64,
    /// The segment arrived ahead of a hole and was held.
    pub held: bool,
    /// The segment was too far ahead (or the cap is below its size) and was dropped.
    pub dropped: bool,
    /// Holes skipped, and their bytes.
    pub gaps: u64,
    pub gap_bytes: u64,
}

/// A held segment: when it arrived and its bytes.
#[derive(Debug)]
struct Held {
    now: i64,
    bytes: Box<[u8]>,
}

/// One direction's reassembly state.
#[derive(Debug, Default)]
pub struct ByteStream {
    /// Stream offset and sequence number of the next expected byte (`None` before the first
    /// segment).
    next: Option<(u64, u32)>,
    /// Segments ahead of `next`, by stream offset.
    held: BTreeMap<u64, Held>,
    /// Bytes charged for `held` (payload + [`HELD_OVERHEAD_BYTES`] each).
    held_bytes: usize,
    /// Capture time of the oldest segment held since the hole opened.
    held_since: i64,
}

impl ByteStream {
    /// Bytes this direction holds (charged to the connection's and the total cap).
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// A SYN with sequence number `isn` (RFC 9293 §3.4.1): data starts at `isn + 1`. Anything
    /// held for an earlier incarnation is forgotten.
    pub fn syn(&mut self, isn: u32) {
        self.next = Some((0, isn.wrapping_add(1)));
        self.held.clear();
        self.held_bytes = 0;
    }

    /// One segment's payload at sequence number `seq`, `wire_len` bytes on the wire of which
    /// `payload` were captured. `cap` bounds the bytes held; `gap_timeout_ns` the age of a hole.
    #[allow(clippy::too_many_arguments)] // the segment's fields and the two bounds, all plain
    pub fn segment(
        &mut self,
        now: i64,
        seq: u32,
        payload: &[u8],
        wire_len: usize,
        cap: usize,
        gap_timeout_ns: i64,
        c: &mut impl Consumer,
    ) -> Outcome {
        let mut out = Outcome::default();
        if wire_len == 0 {
            self.check_hole(now, cap, gap_timeout_ns, c, &mut out);
            return out;
        }
        let (next_off, next_seq) = *self.next.get_or_insert((0, seq));
        // Distance of this segment from the next expected byte, in the window's sense.
        let delta = i64::from(seq.wrapping_sub(next_seq) as i32);
        let off = next_off as i64 + delta;
        if off < 0 {
            // Starts before the stream's first byte: only what follows it can be new.
            out.retransmitted_bytes += payload.len() as u64;
            return out;
        }
        let off = off as u64;
        let end = off + wire_len as u64;
        if end <= next_off {
            out.retransmitted_bytes += wire_len as u64;
            self.check_hole(now, cap, gap_timeout_ns, c, &mut out);
            return out;
        }
        if off <= next_off {
            let skip = (next_off - off) as usize;
            out.retransmitted_bytes += skip as u64;
            self.deliver(now, next_off, payload, wire_len, skip, c, &mut out);
            self.drain(c, &mut out);
        } else if off - next_off > MAX_AHEAD_BYTES || payload.len() + HELD_OVERHEAD_BYTES > cap {
            out.dropped = true;
        } else {
            if self.held.is_empty() {
                self.held_since = now;
            }
            let keep = match self.held.get(&off) {
                Some(h) => h.bytes.len() < payload.len(),
                None => true,
            };
            if keep {
                // A cut segment holds only what was captured; the rest becomes a gap later.
                let h = Held {
                    now,
                    bytes: payload.into(),
                };
                if let Some(old) = self.held.insert(off, h) {
                    self.held_bytes -= old.bytes.len() + HELD_OVERHEAD_BYTES;
                }
                self.held_bytes += payload.len() + HELD_OVERHEAD_BYTES;
            } else {
                out.retransmitted_bytes += payload.len() as u64;
            }
            out.held = true;
        }
        self.check_hole(now, cap, gap_timeout_ns, c, &mut out);
        out
    }

    /// Skip the hole if it is too old or holds too much (see the module doc).
    pub fn check_hole(
        &mut self,
        now: i64,
        cap: usize,
        gap_timeout_ns: i64,
        c: &mut impl Consumer,
        out: &mut Outcome,
    ) {
        while !self.held.is_empty()
            && (self.held_bytes > cap || now.saturating_sub(self.held_since) >= gap_timeout_ns)
        {
            self.skip_hole(c, out);
        }
    }

    /// Skip to the first held segment and hand on what follows it in order.
    pub fn skip_hole(&mut self, c: &mut impl Consumer, out: &mut Outcome) {
        let (Some((next_off, next_seq)), Some((&first, h))) =
            (self.next, self.held.first_key_value())
        else {
            return;
        };
        let since = h.now;
        if first > next_off {
            let len = first - next_off;
            c.gap(len);
            out.gaps += 1;
            out.gap_bytes += len;
            self.next = Some((first, next_seq.wrapping_add(len as u32)));
        }
        self.held_since = since;
        self.drain(c, out);
        if let Some((_, h)) = self.held.first_key_value() {
            self.held_since = h.now;
        }
    }

    /// Hand on `payload[skip..]` of a segment at `next_off - skip` whose wire length is
    /// `wire_len`, and advance; bytes beyond the captured ones are a gap.
    #[allow(clippy::too_many_arguments)]
    fn deliver(
        &mut self,
        now: i64,
        next_off: u64,
        payload: &[u8],
        wire_len: usize,
        skip: usize,
        c: &mut impl Consumer,
        out: &mut Outcome,
    ) {
        let new = payload.get(skip..).unwrap_or(&[]);
        if !new.is_empty() {
            c.data(now, new);
        }
        let advance = wire_len.saturating_sub(skip);
        let cut = advance - new.len().min(advance);
        if cut > 0 {
            c.gap(cut as u64);
            out.gaps += 1;
            out.gap_bytes += cut as u64;
        }
        if let Some((_, seq)) = self.next {
            self.next = Some((next_off + advance as u64, seq.wrapping_add(advance as u32)));
        }
    }

    /// Hand on the held segments that the stream has reached.
    fn drain(&mut self, c: &mut impl Consumer, out: &mut Outcome) {
        while let Some(entry) = self.held.first_entry() {
            let Some((next_off, _)) = self.next else {
                return;
            };
            let off = *entry.key();
            if off > next_off {
                return;
            }
            let h = entry.remove();
            self.held_bytes -= h.bytes.len() + HELD_OVERHEAD_BYTES;
            let len = h.bytes.len();
            let end = off + len as u64;
            if end <= next_off {
                out.retransmitted_bytes += len as u64;
                continue;
            }
            let skip = (next_off - off) as usize;
            out.retransmitted_bytes += skip as u64;
            self.deliver(h.now, next_off, &h.bytes, len, skip, c, out);
        }
    }
}
