//! Classic pcap records read straight from the file in large blocks: the fast path of
//! [`super::FileSource`].
//!
//! libpcap reads a savefile with two `fread`s and a copy per packet through a 4 KiB stdio
//! buffer; that was about half of `replay`'s time (docs/benchmarks.md). Here the file is read
//! 1 MiB at a time into one buffer and each frame is handed out as a slice of it: one `read`
//! per thousands of packets, no per-packet copy.
//!
//! ```text
//!  file header (24 bytes, checked by libpcap and here)   record header (16 bytes)
//!  +--------+-------+-------+------+------+-------+------+  +--------+---------+--------+-----+
//!  | magic  | major | minor | zone | sigf | snap  | link |  | ts sec | ts frac | caplen | len |
//!  +--------+-------+-------+------+------+-------+------+  +--------+---------+--------+-----+
//! ```
//!
//! It deliberately covers only what it can read exactly as libpcap 1.10 `sf-pcap.c` does:
//! version 2.4 files with the microsecond or nanosecond magic in either byte order, and
//! records whose captured length is within the snapshot length (and libpcap's 256 KiB bound)
//! whose bytes are all in the file, and whose fraction of a second is below one second. Anything else (pcapng, other versions, the Kuznetzov
//! magic, an oversized or cut record, a read error) is handed back to libpcap
//! ([`Next::Handoff`]) at the record where it starts, so that damaged files give libpcap's
//! own errors and odd files libpcap's own interpretation. Not mmap: a file truncated while it
//! is mapped kills the reader with SIGBUS; reading into a buffer already runs at about twice
//! libpcap's rate (docs/benchmarks.md), the kernel's copy from the page cache being most of
//! what is left (not measured against mmap).
//!
//! Timestamps come out as libpcap's do with nanosecond precision: seconds read as a signed
//! 32-bit number (then [`super::file`] takes negative seconds back as unsigned), the fraction
//! (below one second, else libpcap reads the record) in microseconds scaled by 1,000.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Bytes read per `read` call; also the buffer size. Holds the largest record this path takes.
const BLOCK_BYTES: usize = 1 << 20;
/// Size of a classic pcap record header.
const RECORD_HEADER: usize = 16;
/// libpcap's `MAXIMUM_SNAPLEN`: the smallest bound it puts on any link type's captured length.
const MAX_CAPLEN: u32 = 262_144;
/// Size of the classic pcap file header.
const FILE_HEADER: usize = 24;

/// What the next record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// A record whose bytes are at `at..at + caplen` of the buffer ([`Classic::bytes`]).
    Frame {
        sec: i64,
        frac: i64,
        orig_len: u32,
        at: usize,
        caplen: usize,
    },
    /// The file ended cleanly after the last record.
    End,
    /// This record is not one this reader takes exactly as libpcap would: libpcap must read
    /// it (and report it when it is damaged).
    Handoff,
}

/// A classic pcap file read in blocks.
pub(super) struct Classic {
    file: File,
    buf: Vec<u8>,
    /// Offset of the next record in `buf`.
    start: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    big_endian: bool,
    /// Nanosecond magic (else microseconds, scaled up).
    nanos: bool,
    /// Captured lengths up to this are taken; larger ones go to libpcap.
    max_caplen: u32,
}

impl Classic {
    /// Open `path` when it is a classic pcap file this reader takes; `None` leaves the file to
    /// libpcap alone (pcapng, other versions, unreadable).
    pub(super) fn open(path: &Path) -> Option<Classic> {
        let mut file = File::open(path).ok()?;
        let mut head = [0u8; FILE_HEADER];
        file.read_exact(&mut head).ok()?;
        let (big_endian, nanos) = match head.first_chunk::<4>()? {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
            _ => return None,
        };
        let u16_at = |i: usize| {
            let b = [*head.get(i)?, *head.get(i + 1)?];
            Some(if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            })
        };
        if (u16_at(4)?, u16_at(6)?) != (2, 4) {
            return None;
        }
        let snaplen = read_u32(&head, 16, big_endian)?;
        // libpcap's pcap_adjust_snapshot: 0 or past the maximum means the maximum.
        let max_caplen = if snaplen == 0 {
            MAX_CAPLEN
        } else {
            snaplen.min(MAX_CAPLEN)
        };
        Some(Classic {
            file,
            buf: vec![0; BLOCK_BYTES],
            start: 0,
            end: 0,
            big_endian,
            nanos,
            max_caplen,
        })
    }

    /// Advance to the next record.
    pub(super) fn next(&mut self) -> Next {
        if self.end - self.start < RECORD_HEADER && !self.fill(RECORD_HEADER) {
            return if self.start == self.end {
                Next::End
            } else {
                Next::Handoff
            };
        }
        let Some(h) = self.buf.get(self.start..self.start + RECORD_HEADER) else {
            return Next::Handoff;
        };
        let be = self.big_endian;
        let (Some(sec), Some(frac), Some(caplen), Some(orig_len)) = (
            read_u32(h, 0, be),
            read_u32(h, 4, be),
            read_u32(h, 8, be),
            read_u32(h, 12, be),
        ) else {
            return Next::Handoff;
        };
        // A fraction of a second past one second is no timestamp a capture tool writes;
        // libpcap's reading of it is its own.
        let frac_max = if self.nanos { 1_000_000_000 } else { 1_000_000 };
        if caplen > self.max_caplen || frac >= frac_max {
            return Next::Handoff;
        }
        // At most MAX_CAPLEN: fits usize and, with the header, the buffer.
        let caplen = caplen as usize;
        let need = RECORD_HEADER + caplen;
        if self.end - self.start < need && !self.fill(need) {
            return Next::Handoff;
        }
        let at = self.start + RECORD_HEADER;
        self.start += need;
        // libpcap sign-extends the seconds into time_t ([`super::file`] takes them back).
        let frac = i64::from(frac);
        Next::Frame {
            sec: i64::from(sec as i32),
            frac: if self.nanos { frac } else { frac * 1_000 },
            orig_len,
            at,
            caplen,
        }
    }

    /// The bytes of a record [`Classic::next`] returned (empty if out of range, which `next`
    /// never makes).
    pub(super) fn bytes(&self, at: usize, len: usize) -> &[u8] {
        self.buf.get(at..at.saturating_add(len)).unwrap_or(&[])
    }

    /// Make at least `need` bytes (≤ the buffer size) available from `start`; false at the end
    /// of the file or on a read error (libpcap then reads the same place and reports it).
    fn fill(&mut self, need: usize) -> bool {
        if self.start + need > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < need {
            let Some(room) = self.buf.get_mut(self.end..) else {
                return false;
            };
            match self.file.read(room) {
                Ok(0) | Err(_) => return false,
                Ok(n) => self.end += n,
            }
        }
        true
    }
}

/// The 32-bit number at `i` of `b` in the file's byte order.
fn read_u32(b: &[u8], i: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = b.get(i..i + 4)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}
