//! Sender and receiver reports and their report blocks (RFC 3550 §6.4.1, §6.4.2).
//!
//! These carry what a probe needs for round-trip time (LSR/DLSR, §6.4.1) and for comparing its
//! own loss and jitter with what the endpoints report. The views do not compute anything.
//!
//! ```text
//!         0                   1                   2                   3
//!         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! header |V=2|P|    RC   |   PT=SR=200   |             length            |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                         SSRC of sender                        |
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! sender |              NTP timestamp, most significant word             |
//! info   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! (SR    |             NTP timestamp, least significant word             |
//!  only) +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                         RTP timestamp                         |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                     sender's packet count                     |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                      sender's octet count                     |
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! report |                 SSRC_1 (SSRC of first source)                 |
//! block  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!   1    | fraction lost |       cumulative number of packets lost       |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |           extended highest sequence number received           |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                      interarrival jitter                      |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                         last SR (LSR)                         |
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |                   delay since last SR (DLSR)                  |
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//!        |                  profile-specific extensions                  |
//! ```
//!
//! An RR is the same without the sender info. When RC announces more blocks than the length
//! allows, [`report_blocks`](SenderReport::report_blocks) yields the blocks that fit,
//! `count_overflows()` is true and the profile extension is empty.

use super::{be24, be32, be64, count_field, RtcpError};

mod field {
    use core::ops::Range;

    pub const SSRC: Range<usize> = 4..8;
    pub const NTP: Range<usize> = 8..16;
    pub const RTP_TS: Range<usize> = 16..20;
    pub const PACKET_COUNT: Range<usize> = 20..24;
    pub const OCTET_COUNT: Range<usize> = 24..28;
    /// Report blocks start here in an SR; this is also the SR's minimum length.
    pub const SR_BLOCKS: usize = 28;
    /// Report blocks start here in an RR; this is also the RR's minimum length.
    pub const RR_BLOCKS: usize = 8;

    /// Within a report block.
    pub const RB_SSRC: Range<usize> = 0..4;
    pub const RB_FRACTION: usize = 4;
    pub const RB_CUMULATIVE: Range<usize> = 5..8;
    pub const RB_EXT_SEQ: Range<usize> = 8..12;
    pub const RB_JITTER: Range<usize> = 12..16;
    pub const RB_LSR: Range<usize> = 16..20;
    pub const RB_DLSR: Range<usize> = 20..24;
    pub const RB_LEN: usize = 24;
}

/// Splits `buf[start..]` into the report blocks that fit (at most `rc`) and the rest.
fn split_blocks(buf: &[u8], start: usize, rc: u8) -> (ReportBlocks<'_>, &[u8], bool) {
    let tail = buf.get(start..).unwrap_or(&[]);
    let fit = tail.len() / field::RB_LEN;
    let n = usize::from(rc).min(fit);
    // n * RB_LEN <= tail.len(), so the fallback is unreachable.
    let (blocks, ext) = tail
        .split_at_checked(n * field::RB_LEN)
        .unwrap_or((&[], &[]));
    (ReportBlocks { rest: blocks }, ext, usize::from(rc) > fit)
}

/// A sender report (PT=200, RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy)]
pub struct SenderReport<'a> {
    buf: &'a [u8],
}

impl<'a> SenderReport<'a> {
    /// `buf` is one packet without padding; it must hold the header, SSRC and sender info.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        if buf.len() < field::SR_BLOCKS {
            return Err(RtcpError::BadLength);
        }
        Ok(SenderReport { buf })
    }

    /// SSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, field::SSRC)
    }

    /// The 64-bit NTP timestamp (32.32 fixed point seconds since 1900).
    pub fn ntp_timestamp(&self) -> u64 {
        be64(self.buf, field::NTP)
    }

    /// The RTP timestamp corresponding to the NTP timestamp.
    pub fn rtp_timestamp(&self) -> u32 {
        be32(self.buf, field::RTP_TS)
    }

    /// Sender's packet count.
    pub fn packet_count(&self) -> u32 {
        be32(self.buf, field::PACKET_COUNT)
    }

    /// Sender's octet count (payload octets).
    pub fn octet_count(&self) -> u32 {
        be32(self.buf, field::OCTET_COUNT)
    }

    /// The RC field as sent.
    pub fn report_count(&self) -> u8 {
        count_field(self.buf)
    }

    /// The report blocks that fit the packet (at most RC).
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        split_blocks(self.buf, field::SR_BLOCKS, self.report_count()).0
    }

    /// Profile-specific extension after the report blocks (empty when RC overflows).
    pub fn profile_extension(&self) -> &'a [u8] {
        let (_, ext, overflow) = split_blocks(self.buf, field::SR_BLOCKS, self.report_count());
        if overflow {
            &[]
        } else {
            ext
        }
    }

    /// True when RC announces more report blocks than the length allows (malformed).
    pub fn count_overflows(&self) -> bool {
        split_blocks(self.buf, field::SR_BLOCKS, self.report_count()).2
    }
}

/// A receiver report (PT=201, RFC 3550 §6.4.2).
#[derive(Debug, Clone, Copy)]
pub struct ReceiverReport<'a> {
    buf: &'a [u8],
}

impl<'a> ReceiverReport<'a> {
    /// `buf` is one packet without padding; it must hold the header and the SSRC.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        if buf.len() < field::RR_BLOCKS {
            return Err(RtcpError::BadLength);
        }
        Ok(ReceiverReport { buf })
    }

    /// SSRC of the packet sender.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, field::SSRC)
    }

    /// The RC field as sent.
    pub fn report_count(&self) -> u8 {
        count_field(self.buf)
    }

    /// The report blocks that fit the packet (at most RC).
    pub fn report_blocks(&self) -> ReportBlocks<'a> {
        split_blocks(self.buf, field::RR_BLOCKS, self.report_count()).0
    }

    /// Profile-specific extension after the report blocks (empty when RC overflows).
    pub fn profile_extension(&self) -> &'a [u8] {
        let (_, ext, overflow) = split_blocks(self.buf, field::RR_BLOCKS, self.report_count());
        if overflow {
            &[]
        } else {
            ext
        }
    }

    /// True when RC announces more report blocks than the length allows (malformed).
    pub fn count_overflows(&self) -> bool {
        split_blocks(self.buf, field::RR_BLOCKS, self.report_count()).2
    }
}

/// Iterator over report blocks; yields only complete 24-octet blocks.
#[derive(Debug, Clone)]
pub struct ReportBlocks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ReportBlocks<'a> {
    type Item = ReportBlock<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let (block, rest) = self.rest.split_at_checked(field::RB_LEN)?;
        self.rest = rest;
        Some(ReportBlock { buf: block })
    }
}

/// One 24-octet report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock<'a> {
    buf: &'a [u8],
}

impl<'a> ReportBlock<'a> {
    /// Views a 24-octet report block.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        if buf.len() < field::RB_LEN {
            return Err(RtcpError::Truncated);
        }
        Ok(ReportBlock { buf })
    }

    /// SSRC of the source this block reports on.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, field::RB_SSRC)
    }

    /// Fraction lost since the previous report, as a fixed point number /256.
    pub fn fraction_lost(&self) -> u8 {
        self.buf.get(field::RB_FRACTION).copied().unwrap_or(0)
    }

    /// Cumulative number of packets lost: 24-bit signed (duplicates can make it negative).
    pub fn cumulative_lost(&self) -> i32 {
        // Shift the 24-bit value into the top of an i32, then arithmetic-shift back.
        ((be24(self.buf, field::RB_CUMULATIVE) << 8) as i32) >> 8
    }

    /// Extended highest sequence number received (cycles << 16 | highest).
    pub fn ext_highest_seq(&self) -> u32 {
        be32(self.buf, field::RB_EXT_SEQ)
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        be32(self.buf, field::RB_JITTER)
    }

    /// Last SR timestamp: middle 32 bits of the NTP timestamp of the last SR (0 if none).
    pub fn lsr(&self) -> u32 {
        be32(self.buf, field::RB_LSR)
    }

    /// Delay since last SR, in units of 1/65536 seconds (0 if no SR received).
    pub fn dlsr(&self) -> u32 {
        be32(self.buf, field::RB_DLSR)
    }
}
