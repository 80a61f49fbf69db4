//! Extended reports (PT=207, RFC 3611).
//!
//! Decoded blocks are those a probe uses: receiver reference time (BT=4, §4.4) and DLRR
//! (BT=5, §4.5), which give round-trip time for receivers that send no SR, and VoIP metrics
//! (BT=7, §4.7). Other blocks are returned raw. A known block shorter than its fixed size is
//! also returned as `Other`. The block walk stops at the first block whose length overruns the
//! packet.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|reserved |   PT=XR=207   |             length            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                              SSRC                             |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |      BT       | type-specific |   block length (32-bit words) |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! :             type-specific block contents                      :
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//!
//! BT=4 contents: NTP timestamp, most then least significant word.
//! BT=5 contents (repeated): SSRC | last RR (LRR) | delay since last RR (DLRR).
//! BT=7 contents:
//! |                        SSRC of source                         |
//! |   loss rate   | discard rate  | burst density |  gap density  |
//! |       burst duration          |         gap duration          |
//! |     round trip delay          |       end system delay        |
//! | signal level  |  noise level  |     RERL      |     Gmin      |
//! |   R factor    | ext. R factor |    MOS-LQ     |    MOS-CQ     |
//! |   RX config   |   reserved    |          JB nominal           |
//! |          JB maximum           |          JB abs max           |
//! ```

use super::{be16, be32, be64, RtcpError};

/// XR block types (RFC 3611 §4).
pub mod block_type {
    pub const RECEIVER_REFERENCE_TIME: u8 = 4;
    pub const DLRR: u8 = 5;
    pub const VOIP_METRICS: u8 = 7;
}

mod field {
    use core::ops::Range;

    pub const SSRC: Range<usize> = 4..8;
    /// Report blocks start here; this is also the minimum packet length.
    pub const BLOCKS: usize = 8;

    /// Within a block.
    pub const BT: usize = 0;
    pub const BLOCK_LENGTH: Range<usize> = 2..4;
    pub const BLOCK_BODY: usize = 4;

    pub const RRT_NTP: Range<usize> = 0..8;
    pub const DLRR_ITEM_LEN: usize = 12;

    /// Within the VoIP metrics contents (after the block header).
    pub const VM_SSRC: Range<usize> = 0..4;
    pub const VM_LOSS_RATE: usize = 4;
    pub const VM_DISCARD_RATE: usize = 5;
    pub const VM_BURST_DENSITY: usize = 6;
    pub const VM_GAP_DENSITY: usize = 7;
    pub const VM_BURST_DURATION: Range<usize> = 8..10;
    pub const VM_GAP_DURATION: Range<usize> = 10..12;
    pub const VM_RTD: Range<usize> = 12..14;
    pub const VM_ESD: Range<usize> = 14..16;
    pub const VM_SIGNAL: usize = 16;
    pub const VM_NOISE: usize = 17;
    pub const VM_RERL: usize = 18;
    pub const VM_GMIN: usize = 19;
    pub const VM_R_FACTOR: usize = 20;
    pub const VM_EXT_R_FACTOR: usize = 21;
    pub const VM_MOS_LQ: usize = 22;
    pub const VM_MOS_CQ: usize = 23;
    pub const VM_RX_CONFIG: usize = 24;
    pub const VM_JB_NOMINAL: Range<usize> = 26..28;
    pub const VM_JB_MAX: Range<usize> = 28..30;
    pub const VM_JB_ABS_MAX: Range<usize> = 30..32;
    pub const VM_LEN: usize = 32;
}

/// An extended report packet (PT=207, RFC 3611 §2).
#[derive(Debug, Clone, Copy)]
pub struct Xr<'a> {
    buf: &'a [u8],
}

impl<'a> Xr<'a> {
    /// `buf` is one packet without padding; it must hold the SSRC.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        if buf.len() < field::BLOCKS {
            return Err(RtcpError::BadLength);
        }
        Ok(Xr { buf })
    }

    /// SSRC of the packet sender.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, field::SSRC)
    }

    /// The report blocks; stops at the first block that overruns the packet.
    pub fn blocks(&self) -> XrBlocks<'a> {
        XrBlocks {
            rest: self.buf.get(field::BLOCKS..).unwrap_or(&[]),
        }
    }
}

/// Iterator over XR report blocks.
#[derive(Debug, Clone)]
pub struct XrBlocks<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for XrBlocks<'a> {
    type Item = XrBlock<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let header = self.rest.get(..field::BLOCK_BODY)?;
        let bt = header.get(field::BT).copied().unwrap_or(0);
        let len = 4 * usize::from(be16(header, field::BLOCK_LENGTH));
        let Some((body, rest)) = self
            .rest
            .get(field::BLOCK_BODY..)
            .and_then(|tail| tail.split_at_checked(len))
        else {
            self.rest = &[];
            return None;
        };
        self.rest = rest;
        Some(XrBlock::parse(bt, body))
    }
}

/// One XR report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrBlock<'a> {
    /// BT=4 (§4.4): the 64-bit NTP timestamp of this receiver report.
    ReceiverReferenceTime { ntp: u64 },
    /// BT=5 (§4.5): one sub-block per receiver-reference-time sender.
    Dlrr(DlrrItems<'a>),
    /// BT=7 (§4.7).
    VoipMetrics(VoipMetrics<'a>),
    /// Any other block type, or a known one too short; `body` excludes the 4-octet header.
    Other { block_type: u8, body: &'a [u8] },
}

impl<'a> XrBlock<'a> {
    fn parse(block_type: u8, body: &'a [u8]) -> Self {
        match block_type {
            block_type::RECEIVER_REFERENCE_TIME if body.len() >= field::RRT_NTP.end => {
                XrBlock::ReceiverReferenceTime {
                    ntp: be64(body, field::RRT_NTP),
                }
            }
            block_type::DLRR => XrBlock::Dlrr(DlrrItems { rest: body }),
            block_type::VOIP_METRICS if body.len() >= field::VM_LEN => {
                XrBlock::VoipMetrics(VoipMetrics { buf: body })
            }
            _ => XrBlock::Other { block_type, body },
        }
    }
}

/// Iterator over the complete 12-octet DLRR sub-blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DlrrItems<'a> {
    rest: &'a [u8],
}

impl Iterator for DlrrItems<'_> {
    type Item = DlrrItem;

    fn next(&mut self) -> Option<Self::Item> {
        let (item, rest) = self.rest.split_at_checked(field::DLRR_ITEM_LEN)?;
        self.rest = rest;
        Some(DlrrItem {
            ssrc: be32(item, 0..4),
            last_rr: be32(item, 4..8),
            delay_since_last_rr: be32(item, 8..12),
        })
    }
}

/// One DLRR sub-block (RFC 3611 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DlrrItem {
    /// SSRC of the receiver whose reference time is echoed.
    pub ssrc: u32,
    /// Middle 32 bits of the NTP timestamp of the last RRT block received (0 if none).
    pub last_rr: u32,
    /// Delay since that block was received, in 1/65536 seconds.
    pub delay_since_last_rr: u32,
}

/// VoIP metrics report block contents (RFC 3611 §4.7), at least 32 octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoipMetrics<'a> {
    buf: &'a [u8],
}

impl VoipMetrics<'_> {
    fn byte(&self, at: usize) -> u8 {
        self.buf.get(at).copied().unwrap_or(0)
    }

    /// SSRC of the source reported on.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, field::VM_SSRC)
    }
    /// Fraction lost, /256.
    pub fn loss_rate(&self) -> u8 {
        self.byte(field::VM_LOSS_RATE)
    }
    /// Fraction discarded (late or early), /256.
    pub fn discard_rate(&self) -> u8 {
        self.byte(field::VM_DISCARD_RATE)
    }
    /// Fraction lost or discarded within bursts, /256.
    pub fn burst_density(&self) -> u8 {
        self.byte(field::VM_BURST_DENSITY)
    }
    /// Fraction lost or discarded within gaps, /256.
    pub fn gap_density(&self) -> u8 {
        self.byte(field::VM_GAP_DENSITY)
    }
    /// Mean burst duration, milliseconds.
    pub fn burst_duration(&self) -> u16 {
        be16(self.buf, field::VM_BURST_DURATION)
    }
    /// Mean gap duration, milliseconds.
    pub fn gap_duration(&self) -> u16 {
        be16(self.buf, field::VM_GAP_DURATION)
    }
    /// Most recent round-trip delay, milliseconds.
    pub fn round_trip_delay(&self) -> u16 {
        be16(self.buf, field::VM_RTD)
    }
    /// Most recent end system delay, milliseconds.
    pub fn end_system_delay(&self) -> u16 {
        be16(self.buf, field::VM_ESD)
    }
    /// Signal level, dBm (signed; 127 = unavailable).
    pub fn signal_level(&self) -> i8 {
        self.byte(field::VM_SIGNAL) as i8
    }
    /// Noise level, dBm (signed; 127 = unavailable).
    pub fn noise_level(&self) -> i8 {
        self.byte(field::VM_NOISE) as i8
    }
    /// Residual echo return loss, dB (127 = unavailable).
    pub fn rerl(&self) -> u8 {
        self.byte(field::VM_RERL)
    }
    /// Gap threshold (lost-or-discarded run length), packets.
    pub fn gmin(&self) -> u8 {
        self.byte(field::VM_GMIN)
    }
    /// R factor, 0–100 (127 = unavailable).
    pub fn r_factor(&self) -> u8 {
        self.byte(field::VM_R_FACTOR)
    }
    /// External R factor, 0–100 (127 = unavailable).
    pub fn ext_r_factor(&self) -> u8 {
        self.byte(field::VM_EXT_R_FACTOR)
    }
    /// Listening-quality MOS × 10 (127 = unavailable).
    pub fn mos_lq(&self) -> u8 {
        self.byte(field::VM_MOS_LQ)
    }
    /// Conversational-quality MOS × 10 (127 = unavailable).
    pub fn mos_cq(&self) -> u8 {
        self.byte(field::VM_MOS_CQ)
    }
    /// Receiver configuration byte (PLC, jitter buffer adaptive/rate).
    pub fn rx_config(&self) -> u8 {
        self.byte(field::VM_RX_CONFIG)
    }
    /// Jitter buffer nominal delay, milliseconds.
    pub fn jb_nominal(&self) -> u16 {
        be16(self.buf, field::VM_JB_NOMINAL)
    }
    /// Jitter buffer maximum delay, milliseconds.
    pub fn jb_max(&self) -> u16 {
        be16(self.buf, field::VM_JB_MAX)
    }
    /// Jitter buffer absolute maximum delay, milliseconds.
    pub fn jb_abs_max(&self) -> u16 {
        be16(self.buf, field::VM_JB_ABS_MAX)
    }
}
