//! Frames in a reassembled TCP byte stream: RFC 4571 (RTP, RTCP and, for RFC 6544 ICE-TCP,
//! STUN behind a 2-byte length) and TURN over TCP (RFC 8656 §11.4/§12.5: STUN messages and
//! ChannelData padded to a multiple of 4 bytes).
//!
//! ```text
//!  RFC 4571 §2                         RFC 8656 §12.4 (ChannelData)
//!  0                   1               0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   +-------------------------------+-------------------------------+
//! |             LENGTH            |   |        Channel Number         |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   +-------------------------------+-------------------------------+
//! |  RTP, RTCP or STUN (LENGTH)   |   |  Application Data (Length), then 0-3 bytes of padding on TCP  |
//! ```
//!
//! A [`Framer`] classifies a direction from its first bytes ([`Framing`]); TLS (TURN over TLS
//! on 5349, first byte 0x16) and anything else (HTTP, …) are then ignored without buffering.
//! Each frame is handed on with the capture time of the segment that completed it, so that
//! arrival times (and thus jitter) are those of the wire even when a hole delayed delivery.
//!
//! After a gap, or when the capture starts inside a connection, the framer resynchronises: it
//! scans for an offset where a plausible header is followed by two more plausible headers
//! (RFC 4571: a length of 8 to [`MAX_RESYNC_FRAME`] bytes and an RTP/RTCP version-2 byte or a
//! STUN magic cookie; TURN: a STUN header with the magic cookie or ChannelData on a channel in
//! 0x4000–0x7FFF, RFC 5766's range that coturn uses, whose length fits), so random payload bytes are not taken for a boundary.
//! The bytes skipped are counted. The framer knows nothing of streams: the frames enter the
//! same path as UDP payloads (`crate::engine::triage`).

use std::collections::VecDeque;

/// The framing of one direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Not enough bytes seen yet.
    Unknown,
    /// RFC 4571 length-prefixed frames (RTP/RTCP over TCP, RFC 6544 ICE-TCP).
    Rfc4571,
    /// TURN over TCP: STUN messages and padded ChannelData.
    TurnTcp,
    /// SIP (RFC 3261 §18.3: messages delimited by their Content-Length).
    Sip,
    /// TLS (TURN over TLS, RFC 8656 §3.1; TLS-wrapped DTLS-SRTP): opaque, counted.
    Tls,
    /// Something else (HTTP, SSH, …): ignored.
    Other,
}

impl Framing {
    /// A bounded name for metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Unknown => "unknown",
            Framing::Rfc4571 => "rfc4571",
            Framing::TurnTcp => "turn",
            Framing::Sip => "sip",
            Framing::Tls => "tls",
            Framing::Other => "other",
        }
    }
}

/// The largest frame (payload bytes) a resynchronisation accepts as plausible; in step, any
/// length is accepted.
pub const MAX_RESYNC_FRAME: usize = 8192;
/// Bytes a direction may buffer while it looks for its framing or a frame boundary before
/// giving up ([`Framing::Other`] when classifying; bytes dropped when resynchronising).
pub const MAX_SCAN_BYTES: usize = 16 * 1024;
/// Plausible headers in a row that make a resynchronisation point.
const CHAIN: usize = 3;
/// The STUN magic cookie (RFC 8489 §6).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// What the framer counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FrameCounts {
    pub rfc4571_frames: u64,
    pub turn_channel_data: u64,
    pub turn_stun: u64,
    pub sip_messages: u64,
    /// Bytes dropped while looking for a frame boundary.
    pub resync_skipped_bytes: u64,
    /// Times the framer lost step (a gap or an impossible header).
    pub resyncs: u64,
}

/// A header found at an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hdr {
    /// The frame's payload is `buf[at + skip .. at + skip + len]`; the frame takes `total`.
    Frame {
        skip: usize,
        len: usize,
        total: usize,
    },
    NeedMore,
    Invalid,
}

/// The frame header of `framing` at the start of `b`; `strict` demands plausible content
/// (resynchronisation), otherwise the length is trusted.
fn header(framing: Framing, b: &[u8], strict: bool) -> Hdr {
    match framing {
        Framing::Rfc4571 => {
            let Some(&[l0, l1]) = b.first_chunk::<2>() else {
                return Hdr::NeedMore;
            };
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            if strict && !rfc4571_plausible(len, b.get(2..).unwrap_or(&[])) {
                return if b.len() < 10 && (8..=MAX_RESYNC_FRAME).contains(&len) {
                    Hdr::NeedMore
                } else {
                    Hdr::Invalid
                };
            }
            Hdr::Frame {
                skip: 2,
                len,
                total: 2 + len,
            }
        }
        Framing::TurnTcp => {
            let Some(&[b0, _, l0, l1]) = b.first_chunk::<4>() else {
                return Hdr::NeedMore;
            };
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            match b0 {
                0x40..=0x7f => {
                    if strict && (len == 0 || len > MAX_RESYNC_FRAME) {
                        return Hdr::Invalid;
                    }
                    let padded = (len + 3) & !3;
                    Hdr::Frame {
                        skip: 0,
                        len: 4 + len,
                        total: 4 + padded,
                    }
                }
                0x00 | 0x01 => match b.get(4..8) {
                    None => Hdr::NeedMore,
                    Some(c) if c == MAGIC_COOKIE && len % 4 == 0 => Hdr::Frame {
                        skip: 0,
                        len: 20 + len,
                        total: 20 + len,
                    },
                    Some(_) => Hdr::Invalid,
                },
                _ => Hdr::Invalid,
            }
        }
        Framing::Sip => {
            if strict {
                match sip_start(b) {
                    Some(true) => {}
                    Some(false) => return Hdr::Invalid,
                    None => return Hdr::NeedMore,
                }
            }
            match crate::sip::message::frame_len(b) {
                crate::sip::message::Frame::Complete(n) => Hdr::Frame {
                    skip: 0,
                    len: n,
                    total: n,
                },
                crate::sip::message::Frame::NeedMore => Hdr::NeedMore,
                crate::sip::message::Frame::Invalid => Hdr::Invalid,
            }
        }
        _ => Hdr::Invalid,
    }
}

/// Whether `b` starts with a SIP start line: `Some(true)`, `Some(false)`, or `None` while
/// the first line is printable text not yet complete (at most 512 bytes are waited for).
fn sip_start(b: &[u8]) -> Option<bool> {
    match b.first() {
        None => return None,
        Some(b'A'..=b'Z') => {}
        Some(_) => return Some(false),
    }
    let head = b.get(..b.len().min(512)).unwrap_or(b);
    match head.iter().position(|&c| c == b'\n') {
        Some(_) => Some(crate::sip::message::looks_like_sip(b)),
        None if head.len() < 512
            && head
                .iter()
                .all(|&c| (0x20..0x7f).contains(&c) || c == b'\r') =>
        {
            None
        }
        None => Some(false),
    }
}

/// An RFC 4571 frame of `len` bytes starting with `body` looks like RTP, RTCP or STUN.
fn rfc4571_plausible(len: usize, body: &[u8]) -> bool {
    if !(8..=MAX_RESYNC_FRAME).contains(&len) {
        return false;
    }
    match body {
        [128..=191, 192..=223, ..] => true,
        [128..=191, _, ..] => len >= 12,
        [0 | 1, _, s0, s1, c0, c1, c2, c3, ..] => {
            [*c0, *c1, *c2, *c3] == MAGIC_COOKIE
                && usize::from(u16::from_be_bytes([*s0, *s1])) + 20 == len
        }
        _ => false,
    }
}

/// Whether `CHAIN` plausible headers follow each other from the start of `b`: `Some(true)`,
/// `Some(false)`, or `None` when more bytes are needed to tell.
fn chain(framing: Framing, b: &[u8]) -> Option<bool> {
    let mut at = 0;
    // A SIP start line is evidence enough; binary framings need a chain.
    let n = if framing == Framing::Sip { 1 } else { CHAIN };
    for _ in 0..n {
        let rest = b.get(at..).filter(|r| !r.is_empty())?;
        match header(framing, rest, true) {
            Hdr::Frame { total, .. } => at += total,
            Hdr::NeedMore => return None,
            Hdr::Invalid => return Some(false),
        }
    }
    Some(true)
}

/// The framing of a direction whose first bytes are `b` (the stream's real start).
fn classify_start(b: &[u8]) -> Option<Framing> {
    match b {
        [] | [_] => None,
        [0x16, 0x03, ..] => Some(Framing::Tls),
        _ if sip_start(b) == Some(true) => Some(Framing::Sip),
        _ if sip_start(b).is_none() => None,
        _ => match (
            header(Framing::TurnTcp, b, true),
            header(Framing::Rfc4571, b, true),
        ) {
            (Hdr::Frame { .. }, _) => Some(Framing::TurnTcp),
            (_, Hdr::Frame { .. }) => Some(Framing::Rfc4571),
            (Hdr::NeedMore, _) | (_, Hdr::NeedMore) if b.len() < 20 => None,
            _ => Some(Framing::Other),
        },
    }
}

/// Frames out of one direction's byte stream.
#[derive(Debug)]
pub struct Framer {
    framing: Framing,
    /// Whether `buf[0]` is a frame boundary.
    synced: bool,
    /// Whether the stream's real first byte was seen (SYN) and nothing was skipped since.
    at_start: bool,
    /// Bytes not yet framed.
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// (end offset, capture time) of the data in `buf`, oldest first.
    marks: VecDeque<(u64, i64)>,
    /// Offsets of `buf` below this were scanned and are no frame boundary: a scan resumes
    /// here, so that looking for a boundary costs O(1) per byte, not per byte per segment.
    scanned: usize,
}

impl Framer {
    /// A framer for a direction whose start (`at_start`: a SYN was seen) may be known.
    pub fn new(at_start: bool) -> Self {
        Framer {
            framing: Framing::Unknown,
            synced: at_start,
            at_start,
            buf: Vec::new(),
            base: 0,
            marks: VecDeque::new(),
            scanned: 0,
        }
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Bytes this framer holds in memory (capacity: what it costs, not what it uses).
    pub fn memory_bytes(&self) -> usize {
        self.buf.capacity() + self.marks.capacity() * 16
    }

    /// The next in-order bytes; frames go to `emit(now, payload)`. Returns the framing once it
    /// is first decided (for the stage's counters).
    pub fn data(
        &mut self,
        now: i64,
        bytes: &[u8],
        counts: &mut FrameCounts,
        emit: &mut impl FnMut(i64, &[u8]),
    ) -> Option<Framing> {
        if matches!(self.framing, Framing::Tls | Framing::Other) {
            return None;
        }
        self.buf.extend_from_slice(bytes);
        let end = self.base + self.buf.len() as u64;
        match self.marks.back_mut() {
            Some((e, t)) if *t == now => *e = end,
            _ => self.marks.push_back((end, now)),
        }
        let mut decided = None;
        if self.framing == Framing::Unknown {
            let f = if self.at_start {
                classify_start(&self.buf)
            } else {
                self.classify_scan(counts)
            };
            match f {
                None if self.buf.len() <= MAX_SCAN_BYTES => return None,
                None => self.framing = Framing::Other,
                Some(f) => self.framing = f,
            }
            decided = Some(self.framing);
            if matches!(self.framing, Framing::Tls | Framing::Other) {
                self.release();
                return decided;
            }
        }
        self.frames(counts, emit);
        decided
    }

    /// `len` bytes were skipped: drop the partial frame and look for the next boundary.
    pub fn gap(&mut self, len: u64, counts: &mut FrameCounts) {
        counts.resyncs += 1;
        counts.resync_skipped_bytes += self.buf.len() as u64;
        self.base += self.buf.len() as u64 + len;
        self.buf.clear();
        self.marks.clear();
        self.scanned = 0;
        self.synced = false;
        self.at_start = false;
    }

    /// Forget buffers (an ignored or closed direction); the capacity is freed.
    pub fn release(&mut self) {
        self.buf = Vec::new();
        self.marks = VecDeque::new();
    }

    /// Mid-stream classification: the first framing with a resynchronisation point.
    fn classify_scan(&mut self, counts: &mut FrameCounts) -> Option<Framing> {
        let mut pending = self.buf.len();
        for at in self.scanned..self.buf.len() {
            let rest = self.buf.get(at..).unwrap_or(&[]);
            for f in [Framing::TurnTcp, Framing::Rfc4571, Framing::Sip] {
                match chain(f, rest) {
                    Some(true) => {
                        self.consume(at);
                        counts.resync_skipped_bytes += at as u64;
                        self.synced = true;
                        return Some(f);
                    }
                    None => pending = pending.min(at),
                    Some(false) => {}
                }
            }
        }
        // Offsets that may still turn out a boundary are looked at again with more bytes.
        self.scanned = pending;
        None
    }

    /// Find a boundary in an unsynchronised buffer: true when found (`buf[0]` is one).
    fn resync(&mut self, counts: &mut FrameCounts) -> bool {
        let mut keep_from = self.buf.len().saturating_sub(19);
        let mut found = false;
        for at in self.scanned.min(keep_from)..self.buf.len() {
            match chain(self.framing, self.buf.get(at..).unwrap_or(&[])) {
                Some(true) => {
                    keep_from = at;
                    found = true;
                    break;
                }
                None => {
                    keep_from = at;
                    break;
                }
                Some(false) => {}
            }
        }
        if !found && self.buf.len() - keep_from > MAX_SCAN_BYTES {
            keep_from = self.buf.len();
        }
        counts.resync_skipped_bytes += keep_from as u64;
        self.consume(keep_from);
        self.synced = found;
        found
    }

    /// Emit every complete frame in the buffer.
    fn frames(&mut self, counts: &mut FrameCounts, emit: &mut impl FnMut(i64, &[u8])) {
        let mut at = 0;
        loop {
            if !self.synced {
                self.consume(at);
                at = 0;
                if !self.resync(counts) {
                    return;
                }
            }
            let rest = self.buf.get(at..).unwrap_or(&[]);
            if rest.is_empty() {
                break;
            }
            match header(self.framing, rest, false) {
                Hdr::Frame { skip, len, total } => {
                    let Some(payload) = rest.get(skip..skip + len) else {
                        break;
                    };
                    if rest.len() < total {
                        break;
                    }
                    let end = self.base + (at + total) as u64;
                    let now = self.time_of(end);
                    match (self.framing, rest.first()) {
                        (Framing::Rfc4571, _) => counts.rfc4571_frames += 1,
                        (Framing::Sip, _) => counts.sip_messages += 1,
                        (_, Some(0x40..=0x7f)) => counts.turn_channel_data += 1,
                        _ => counts.turn_stun += 1,
                    }
                    emit(now, payload);
                    at += total;
                }
                Hdr::NeedMore => break,
                Hdr::Invalid => {
                    counts.resyncs += 1;
                    self.synced = false;
                    self.at_start = false;
                }
            }
        }
        self.consume(at);
    }

    /// The capture time of the segment that brought stream offset `end - 1`.
    fn time_of(&self, end: u64) -> i64 {
        let i = self.marks.partition_point(|&(e, _)| e < end);
        self.marks
            .get(i)
            .or(self.marks.back())
            .map_or(0, |&(_, t)| t)
    }

    /// Drop the first `n` buffered bytes.
    fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        if n == 0 {
            return;
        }
        self.buf.drain(..n);
        self.base += n as u64;
        self.scanned = self.scanned.saturating_sub(n);
        while self.marks.front().is_some_and(|&(e, _)| e <= self.base) {
            self.marks.pop_front();
        }
    }
}
