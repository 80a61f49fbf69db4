//! Sequence number tracking: RFC 3550 Appendix A.1 (`update_seq`) and A.3 (loss).
//!
//! [`SeqTracker`] follows the A.1 algorithm (probation with `MIN_SEQUENTIAL = 2`,
//! `MAX_DROPOUT = 3000`, `MAX_MISORDER = 100`, the `bad_seq` restart rule) and derives the A.3
//! counters from it. It is a pure state machine: one call per RTP packet of one SSRC, in capture
//! order, no clock, no IO, and no allocation after [`SeqTracker::new`].
//!
//! Where it deliberately differs from the letter of Appendix A:
//!
//! * **Every probation packet is accounted for.** A.1 re-initialises the source on the packet
//!   that ends probation, and restarts probation on *any* packet that is not the successor of
//!   the previous one, so the packets before the validating pair are neither expected nor
//!   received; a probe that counts them in its packet total then contradicts its own loss
//!   (`packets != expected - lost`) and disagrees with TShark and rtpproxy whenever the second
//!   packet of a stream is lost, duplicated or reordered. Here:
//!   - *When* a source becomes valid is exactly A.1's rule: after `MIN_SEQUENTIAL` packets in a
//!     row, in arrival order, each the successor of the one before (so random UDP still does not
//!     make streams, and validity comes on the same packet as in A.1).
//!   - *What* is counted is the whole probation run, classified from its first packet with
//!     the same bands A.1 uses once valid, relative to the run's highest sequence number: a
//!     packet ahead by less than `MAX_DROPOUT` is in order (the numbers skipped are loss, not
//!     a new source); a repeat is a [`SeqEvent::Duplicate`]-to-be; a packet up to
//!     `MAX_MISORDER - 1` behind is late, and one behind the run's first packet *lowers the
//!     base* (nothing has been reported yet, so the run starts at its lowest sequence number,
//!     as TShark's and rtpproxy's counts do; once valid the base is fixed, as in A.1). A packet
//!     that would map below extended sequence number 0 is late and not remembered, as below.
//!   - A jump outside those bands (A.1's `bad_seq` band) restarts probation from the jumping
//!     packet, as A.1 does: it is another source or a restart, and the run before it is
//!     dropped ([`SeqEvent::ProbationRestart`] says how many packets, so that a caller's own
//!     packet count stays equal to [`SeqTracker::received`]; see [`SeqTracker::discarded`]).
//!
//!   When the source becomes valid, `received` is the number of packets of the run (duplicates
//!   included), `expected` is `highest - base + 1`; the state then is exactly A.1's for a source
//!   with that `base_seq`, `max_seq`, `cycles` and `received`, and every later packet is
//!   handled by the letter of A.1. A clean stream of N packets reports
//!   `received == expected == N`.
//! * **Probation across the wrap.** A.1 tests `seq == s->max_seq + 1`, where C's integer promotion
//!   makes `65535 + 1 == 65536`, which no `u16` equals; the letter of A.1 therefore never ends
//!   probation on the step 65535 → 0. We compare modulo 2^16 and do.
//! * **Totals survive restarts.** On an A.1 restart (two sequential packets after a jump of at
//!   least `MAX_DROPOUT`) the segment's expected and received counts are folded into running
//!   totals before `init_seq`; [`SeqTracker::received`], [`SeqTracker::expected`] and
//!   [`SeqTracker::lost`] are sums over all segments. As in A.1, the packet that triggered the
//!   restart becomes the new base and counts as received; the preceding "bad" packet does not.
//!   The extended sequence space restarts with the segment (cycles = 0, as `init_seq` does), so
//!   extended numbers are comparable only within a segment.
//! * **Duplicates and reordering are classified.** A.1 counts every packet in its misorder band
//!   (up to 99 behind the highest) and every repeat of the highest as received; so do we, but a
//!   fixed [`WINDOW_BITS`]-bit window of recently received extended sequence numbers tells a
//!   [`SeqEvent::Duplicate`] from a [`SeqEvent::Late`] (reordered) packet. Since A.1 never accepts
//!   a packet more than 99 behind the highest, the window always covers accepted packets; a
//!   packet that would map below extended sequence number 0 (possible only in the first cycle) is
//!   reported as late with `ext_seq` 0 and is not remembered. The same window holds the
//!   probation run, so probation needs no state of its own beyond the previous sequence number.
//!   The window is stored compactly and gives exactly the bitmap's answers: nothing while
//!   every number from the base up has arrived once (the common case: no loss, no disorder),
//!   then a few gap ranges, and the 512-byte bitmap only while more than [`MAX_GAPS`] gaps lie
//!   in the window at once. That, the duplicate and reorder counters and the totals across
//!   restarts live in a box allocated on first use, so a clean source's tracker is 40 bytes.
//! * **Interval loss** ([`SeqTracker::interval_fraction_lost`]) is computed over the totals, so an
//!   interval that spans a restart still reports what was expected and received in it.
//!
//! It does not compute jitter (see [`super::jitter`]) nor decide which SSRC a packet belongs to.

/// RFC 3550 A.1: jumps of this many sequence numbers or more are not an "in order" gap.
pub const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 A.1: packets up to this many (exclusive) behind the highest are reordered, not bad.
pub const MAX_MISORDER: u16 = 100;
/// RFC 3550 A.1: sequential packets needed before a source is valid.
pub const MIN_SEQUENTIAL: u32 = 2;
/// RFC 3550 A.1: the sequence number modulus.
pub const RTP_SEQ_MOD: u64 = 1 << 16;
/// Size of the duplicate/reorder detection window, in extended sequence numbers.
pub const WINDOW_BITS: u64 = 4096;

const WINDOW_WORDS: usize = (WINDOW_BITS / 64) as usize;
/// A.1's "very large jump" band, in steps forward from the highest (`udelta`): at least
/// `MAX_DROPOUT` ahead and at least `MAX_MISORDER` behind.
const fn is_jump(udelta: u16) -> bool {
    udelta >= MAX_DROPOUT && udelta as u64 <= RTP_SEQ_MOD - MAX_MISORDER as u64
}
/// A.1 `probation` for a new run: `MIN_SEQUENTIAL - 1` more sequential packets needed.
const PROBATION: u8 = (MIN_SEQUENTIAL - 1) as u8;
/// A.1's `bad_seq` sentinel: `RTP_SEQ_MOD + 1`, which no 16-bit sequence number equals.
const NO_BAD_SEQ: u32 = (RTP_SEQ_MOD + 1) as u32;

/// An RTP sequence number (RFC 3550 §5.1), compared modulo 2^16.
///
/// The derived `Ord` is the plain numeric order (useful for keys); wire order is
/// [`SeqNum::is_newer_than`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeqNum(pub u16);

impl SeqNum {
    /// Steps forward from `from` to `self`, modulo 2^16 (A.1's `udelta = seq - s->max_seq`).
    pub const fn distance(self, from: SeqNum) -> u16 {
        self.0.wrapping_sub(from.0)
    }

    /// Shortest signed distance from `from` to `self`, in `-32768..=32767`.
    pub const fn signed_distance(self, from: SeqNum) -> i16 {
        // Reinterpreting the modular difference as two's complement is the intent.
        self.distance(from) as i16
    }

    /// True if `self` follows `other` by less than half the sequence space (serial number
    /// arithmetic, as in RFC 1982 §3.2).
    pub const fn is_newer_than(self, other: SeqNum) -> bool {
        let d = self.distance(other);
        d != 0 && d < 0x8000
    }

    /// The next sequence number, wrapping 65535 → 0.
    pub const fn next(self) -> SeqNum {
        SeqNum(self.0.wrapping_add(1))
    }
}

/// What [`SeqTracker::update`] made of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqEvent {
    /// The source is not valid yet (A.1 probation, `MIN_SEQUENTIAL = 2`): the packet belongs to
    /// the probation run, which is counted when the source becomes valid (module doc).
    Probation,
    /// During probation, a jump of at least `MAX_DROPOUT` (A.1's `bad_seq` band): probation
    /// restarts from this packet, and the `discarded` packets of the previous run will never be
    /// counted. This packet is the first of the new run.
    ProbationRestart { discarded: u64 },
    /// In order. `gap` is the count of sequence numbers skipped (0 when consecutive). The packet
    /// that ends probation gets the event of its place in the run (`Valid`, `Late` or
    /// `Duplicate`).
    Valid { ext_seq: u64, gap: u64 },
    /// This extended sequence number was already received. Counted as received (A.1 does).
    Duplicate { ext_seq: u64 },
    /// Older than the highest received and not seen before: reordered. Counted as received.
    Late { ext_seq: u64 },
    /// A.1: a second sequential packet after a jump of at least `MAX_DROPOUT`: the sender
    /// restarted. Totals are kept; this packet is the new base.
    Restart,
    /// A.1 `bad_seq`: a large jump that is not (yet) a restart. Not counted.
    Bad,
}

mod window;
use window::Window;
pub use window::MAX_GAPS;

/// What only some sources need: loss or disorder in the window, duplicates, restarts, the
/// running totals of earlier segments. Boxed, and allocated the first time it is needed, so
/// that a clean stream's tracker stays within its 40 bytes.
#[derive(Debug, Clone)]
struct Rare {
    window: Window,
    /// Packets of this segment counted as received that are neither duplicates nor distinct
    /// numbers in `[base, highest]`: late packets from before a valid segment's base. With
    /// `received = distinct + duplicates + stray`, `expected - distinct - stray` is the
    /// segment's part of `lost + duplicates` ([`SeqTracker::lost_settled`]).
    stray: u64,
    duplicates: u64,
    reordered: u64,
    /// Expected and received of the segments before the last restart, and their
    /// `expected - distinct - stray`.
    folded_expected: u64,
    folded_received: u64,
    folded_missing: u64,
    restarts: u64,
    /// Probation packets dropped by probation restarts (never counted).
    discarded: u64,
    /// A.3 `expected_prior` / `received_prior`, over the totals.
    expected_prior: u64,
    received_prior: u64,
}

/// Per-source sequence state: RFC 3550 A.1 plus the A.3 counters, totals kept across restarts.
///
/// 40 bytes: what an in-order packet touches, plus the base. While the source has been clean
/// (every number from the base to the highest received once), the window is implicit; the rest
/// is one box (`Rare`), allocated on first use.
#[derive(Debug, Clone)]
pub struct SeqTracker {
    /// A.1 `received` for the current segment (during probation: packets of the run).
    received: u64,
    /// Distinct extended sequence numbers in `[base, highest]` received in this segment.
    distinct: u64,
    /// A.1 `cycles`, as a count of wraps (`cycles = wraps << 16`).
    wraps: u32,
    /// A.1 `bad_seq`: last bad sequence number + 1, or [`NO_BAD_SEQ`].
    bad_seq: u32,
    /// A.1 `max_seq`: highest sequence number seen (during probation: of the run).
    max_seq: u16,
    /// A.1's `max_seq` during probation: the previous packet's sequence number, which the next
    /// one must follow for the run to count as sequential.
    prev_seq: u16,
    /// A.1 `base_seq`, extended: first sequence number of the current segment (during
    /// probation: the lowest of the run). Always below 2^16: a segment starts at a sequence
    /// number with no cycle, and probation only lowers it.
    base: u16,
    /// A.1 `probation`: sequential packets still needed.
    probation: u8,
    rare: Option<Box<Rare>>,
}

impl SeqTracker {
    /// Starts tracking a source at its first packet (A.1: `init_seq(s, seq); s->max_seq = seq - 1;
    /// s->probation = MIN_SEQUENTIAL;` followed by `update_seq(s, seq)`): the source is on
    /// probation and this packet is the first of the run.
    pub fn new(first_seq: u16) -> Self {
        let mut t = SeqTracker {
            max_seq: first_seq,
            prev_seq: first_seq,
            wraps: 0,
            base: first_seq,
            bad_seq: NO_BAD_SEQ,
            probation: PROBATION,
            received: 0,
            distinct: 0,
            rare: None,
        };
        t.start_run(first_seq);
        t
    }

    /// Feeds the sequence number of the next packet of this source, in capture order
    /// (RFC 3550 A.1 `update_seq`).
    pub fn update(&mut self, seq: u16) -> SeqEvent {
        if self.probation > 0 {
            return self.update_probation(seq);
        }
        let udelta = SeqNum(seq).distance(SeqNum(self.max_seq));
        if is_jump(udelta) {
            if u32::from(seq) == self.bad_seq {
                self.restart(seq);
                return SeqEvent::Restart;
            }
            self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD as u32 - 1);
            return SeqEvent::Bad;
        }
        self.accept(seq, udelta)
    }

    /// A packet within A.1's bands (`udelta` ahead of the highest, below `MAX_DROPOUT`, or
    /// behind it by less than `MAX_MISORDER`): counted as received and classified.
    fn accept(&mut self, seq: u16, udelta: u16) -> SeqEvent {
        self.received += 1;
        if udelta == 0 {
            // A.1 takes this branch as "in order" and counts it; it is a repeat of the highest.
            self.rare_mut().duplicates += 1;
            return SeqEvent::Duplicate {
                ext_seq: self.highest_ext_seq(),
            };
        }
        if udelta < MAX_DROPOUT {
            let old = self.highest_ext_seq();
            if seq < self.max_seq {
                self.wraps += 1;
            }
            self.max_seq = seq;
            let ext = self.highest_ext_seq();
            // In order and the window clean: it stays clean, nothing to note.
            if udelta > 1 || self.rare.is_some() {
                self.rare_mut().window.advance_set(old, ext);
            }
            self.distinct += 1;
            return SeqEvent::Valid {
                ext_seq: ext,
                gap: u64::from(udelta - 1),
            };
        }
        // Behind the highest by 1..MAX_MISORDER: duplicate or reordered.
        let back = u64::from(SeqNum(self.max_seq).distance(SeqNum(seq)));
        let highest = self.highest_ext_seq();
        let Some(ext) = highest.checked_sub(back) else {
            let r = self.rare_mut();
            r.reordered += 1;
            r.stray += 1;
            return SeqEvent::Late { ext_seq: 0 };
        };
        let (valid, base) = (self.is_valid(), self.base_ext_seq());
        let r = self.rare_mut();
        match r.window.get(ext, highest) {
            Some(true) => {
                r.duplicates += 1;
                SeqEvent::Duplicate { ext_seq: ext }
            }
            seen => {
                let mut base = base;
                if seen.is_some() {
                    r.window.set(ext, highest);
                    if !valid && ext < base {
                        // On probation the run starts at its lowest packet (module doc); the
                        // run's base is a sequence number of its first cycle (module doc of
                        // the `base` field), so it fits.
                        base = ext;
                    }
                }
                r.reordered += 1;
                if seen.is_some() && ext >= base {
                    self.distinct += 1;
                } else {
                    r.stray += 1;
                }
                self.base = u16::try_from(base).unwrap_or(self.base);
                SeqEvent::Late { ext_seq: ext }
            }
        }
    }

    /// A.1 probation: validity needs `MIN_SEQUENTIAL` packets in a row each following the
    /// previous one, as in A.1; but the run is accounted from its first packet, and only a jump
    /// out of A.1's bands starts it over (module doc).
    fn update_probation(&mut self, seq: u16) -> SeqEvent {
        let sequential = seq == self.prev_seq.wrapping_add(1);
        self.prev_seq = seq;
        let udelta = SeqNum(seq).distance(SeqNum(self.max_seq));
        if is_jump(udelta) {
            // Never sequential: the previous packet is within MAX_MISORDER of the highest.
            let discarded = self.received;
            self.rare_mut().discarded += discarded;
            self.start_run(seq);
            return SeqEvent::ProbationRestart { discarded };
        }
        let ev = self.accept(seq, udelta);
        self.probation = if sequential {
            self.probation - 1
        } else {
            PROBATION
        };
        if self.probation > 0 {
            return SeqEvent::Probation;
        }
        // Valid: the run becomes the first segment, A.1 from here on.
        self.bad_seq = NO_BAD_SEQ;
        ev
    }

    /// A new probation run from its first packet `seq`. Nothing has been folded or reported
    /// before the source is first valid, so the run's counters start from zero.
    fn start_run(&mut self, seq: u16) {
        self.probation = PROBATION;
        self.prev_seq = seq;
        self.max_seq = seq;
        self.wraps = 0;
        self.base = seq;
        self.received = 1;
        self.distinct = 1;
        if let Some(r) = self.rare.as_deref_mut() {
            r.stray = 0;
            r.duplicates = 0;
            r.reordered = 0;
            r.window = Window::new(u64::from(seq));
        }
    }

    /// The rare-path state, allocated on first use with the window as it stands (clean: every
    /// number from the base up).
    #[inline]
    fn rare_mut(&mut self) -> &mut Rare {
        let base = self.base_ext_seq();
        self.rare.get_or_insert_with(|| {
            Box::new(Rare {
                window: Window::new(base),
                stray: 0,
                duplicates: 0,
                reordered: 0,
                folded_expected: 0,
                folded_received: 0,
                folded_missing: 0,
                restarts: 0,
                discarded: 0,
                expected_prior: 0,
                received_prior: 0,
            })
        })
    }

    fn rare_or<T>(&self, f: impl FnOnce(&Rare) -> T, none: T) -> T {
        self.rare.as_deref().map_or(none, f)
    }

    /// A.1 restart: fold the segment into the totals, then `init_seq(s, seq)` and count `seq`.
    fn restart(&mut self, seq: u16) {
        let missing = self.segment_missing(self.highest_ext_seq());
        let expected = self.segment_expected();
        let received = self.received;
        let r = self.rare_mut();
        r.folded_missing += missing;
        r.folded_expected += expected;
        r.folded_received += received;
        r.restarts += 1;
        r.stray = 0;
        r.window = Window::new(u64::from(seq));
        self.base = seq;
        self.max_seq = seq;
        self.wraps = 0;
        self.bad_seq = NO_BAD_SEQ;
        self.received = 1;
        self.distinct = 1;
    }

    /// A.3 `expected` of the current segment: `extended_max - base_seq + 1` (0 on probation).
    fn segment_expected(&self) -> u64 {
        if self.is_valid() {
            self.highest_ext_seq() - self.base_ext_seq() + 1
        } else {
            0
        }
    }

    /// True once the source has passed A.1 probation.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }

    /// A.3 `received`: every accepted packet (duplicates and late ones included), summed over
    /// restarts. The packets of the probation run count once the source becomes valid; the
    /// [`SeqTracker::discarded`] ones and A.1's "bad" ones never do.
    pub fn received(&self) -> u64 {
        self.rare_or(|r| r.folded_received, 0) + if self.is_valid() { self.received } else { 0 }
    }

    /// A.3 `expected = extended_max - base_seq + 1`, summed over restarts.
    pub fn expected(&self) -> u64 {
        self.rare_or(|r| r.folded_expected, 0) + self.segment_expected()
    }

    /// A.3 cumulative number of packets lost, `expected - received`: negative when duplicates
    /// outnumber losses. Not clamped to the 24-bit RR field.
    pub fn lost(&self) -> i64 {
        let diff = i128::from(self.expected()) - i128::from(self.received());
        i64::try_from(diff).unwrap_or(if diff < 0 { i64::MIN } else { i64::MAX })
    }

    /// Loss that is final already: sequence numbers that were never received and can no
    /// longer be (A.1 accepts a late packet at most `MAX_MISORDER - 1` behind the highest, so
    /// everything at least `MAX_MISORDER` behind is settled; a finished segment is settled
    /// whole), less the stray packets (late ones from before a segment's base, which A.3
    /// counts as received), never below 0 per segment. It never decreases, and never passes
    /// [`SeqTracker::lost_final`]. 0 on probation.
    pub fn lost_settled(&self) -> u64 {
        self.missing_below(u64::from(MAX_MISORDER))
    }

    /// [`SeqTracker::lost_settled`] once the source has ended (every number settled): what
    /// A.3's `lost` counts, without the duplicates taken off it, i.e. `lost() + duplicates()`
    /// for a stream without restarts (with restarts, each segment's part is at least 0).
    pub fn lost_final(&self) -> u64 {
        self.missing_below(0)
    }

    /// The settled loss when numbers less than `horizon` behind the highest may still arrive.
    fn missing_below(&self, horizon: u64) -> u64 {
        let seg = match self.highest_ext_seq().checked_sub(horizon) {
            Some(ext) if self.is_valid() && ext >= self.base_ext_seq() => self.segment_missing(ext),
            _ => 0,
        };
        self.rare_or(|r| r.folded_missing, 0).saturating_add(seg)
    }

    /// Of the current segment, numbers in `[base, ext]` never received, less its stray packets.
    fn segment_missing(&self, ext: u64) -> u64 {
        self.missing_upto(ext)
            .unwrap_or(0)
            .saturating_sub(self.rare_or(|r| r.stray, 0))
    }

    /// Packets whose extended sequence number had already been received (during probation: in
    /// the current run).
    pub fn duplicates(&self) -> u64 {
        self.rare_or(|r| r.duplicates, 0)
    }

    /// Packets that arrived after a higher sequence number (late, not duplicates; during
    /// probation: in the current run).
    pub fn reordered(&self) -> u64 {
        self.rare_or(|r| r.reordered, 0)
    }

    /// A.1 restarts seen (two sequential packets after a large jump).
    pub fn restarts(&self) -> u64 {
        self.rare_or(|r| r.restarts, 0)
    }

    /// Probation packets that will never be counted: the runs that a jump of at least
    /// `MAX_DROPOUT` cut short ([`SeqEvent::ProbationRestart`]). A caller that counts every packet
    /// it feeds, except [`SeqEvent::Bad`] ones, has `received() + discarded()` of them once the
    /// source is valid.
    pub fn discarded(&self) -> u64 {
        self.rare_or(|r| r.discarded, 0)
    }

    /// Extended highest sequence number of the current segment (A.1 `cycles + max_seq`).
    /// During probation: the highest of the run.
    pub fn highest_ext_seq(&self) -> u64 {
        (u64::from(self.wraps) << 16) + u64::from(self.max_seq)
    }

    /// Extended base sequence number of the current segment (during probation: the lowest of the
    /// current probation run).
    pub fn base_ext_seq(&self) -> u64 {
        u64::from(self.base)
    }

    /// Sequence numbers in `[base, ext]` never received, counted once each: the loss before the
    /// probe up to a receiver's extended highest sequence number. `None` on probation, or if
    /// `ext` is below the base, above our highest, or too far below it for the window.
    pub fn missing_upto(&self, ext: u64) -> Option<u64> {
        let highest = self.highest_ext_seq();
        let base = self.base_ext_seq();
        if !self.is_valid() || ext < base || ext > highest || highest - ext > WINDOW_BITS {
            return None;
        }
        let missing_total = self.segment_expected().saturating_sub(self.distinct);
        let above = highest - ext;
        let received_above = match self.rare.as_deref() {
            Some(r) => r.window.count_above(ext, highest),
            // Clean: every number from the base up (and `ext` is at least the base).
            None => above,
        };
        let missing_above = above.saturating_sub(received_above);
        Some(missing_total.saturating_sub(missing_above))
    }

    /// Maps a 32-bit extended sequence number from a receiver report (RFC 3550 §6.4.1:
    /// `cycles << 16 | seq`) onto our extended space: the value with the same low 16 bits nearest
    /// to our highest. The receiver's cycle count is not trusted: a probe that joined mid-stream,
    /// or a receiver that finished probation on the other side of a wrap, counts differently.
    pub fn ext_from_report(&self, ext32: u32) -> u64 {
        let highest = self.highest_ext_seq();
        // Truncation to the low 16 bits is the intent.
        let d = SeqNum(ext32 as u16).signed_distance(SeqNum(highest as u16));
        highest.saturating_add_signed(i64::from(d))
    }

    /// RFC 3550 A.3 fraction lost since the previous call, as the 8-bit fixed-point fraction of
    /// an RR: `(lost_interval << 8) / expected_interval`, 0 when nothing was expected or more
    /// arrived than expected. Computed over the totals, so an interval spanning a restart counts.
    pub fn interval_fraction_lost(&mut self) -> u8 {
        let expected = self.expected();
        let received = self.received();
        let r = self.rare_mut();
        let expected_interval = expected.saturating_sub(r.expected_prior);
        let received_interval = received.saturating_sub(r.received_prior);
        r.expected_prior = expected;
        r.received_prior = received;
        if expected_interval == 0 || received_interval >= expected_interval {
            return 0;
        }
        let lost_interval = u128::from(expected_interval - received_interval);
        let fraction = (lost_interval << 8) / u128::from(expected_interval);
        u8::try_from(fraction).unwrap_or(u8::MAX)
    }
}

#[cfg(test)]
mod tests;
