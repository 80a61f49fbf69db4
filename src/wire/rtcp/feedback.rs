//! Transport-layer (PT=205) and payload-specific (PT=206) feedback (RFC 4585 §6).
//!
//! Decoded kinds are those a probe counts: Generic NACK (RFC 4585 §6.2.1), transport-wide
//! congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1, header only),
//! PLI (RFC 4585 §6.3.1), FIR (RFC 5104 §4.3.1) and REMB (draft-alvestrand-rmcat-remb-03 §2.2).
//! Everything else is returned as its raw FCI. The TWCC packet chunks and deltas are not
//! decoded here.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|   FMT   |       PT      |          length               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  SSRC of packet sender                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  SSRC of media source                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! :            Feedback Control Information (FCI)                 :
//!
//! Generic NACK FCI (repeated):   |            PID                |             BLP               |
//! TWCC FCI:                      |      base sequence number     |      packet status count      |
//!                                |                 reference time                | fb pkt. count |
//!                                |  packet chunks and receive deltas ...
//! FIR FCI (repeated):            |                              SSRC                             |
//!                                | Seq nr.       |    Reserved                                   |
//! REMB FCI:                      |  'R'  |  'E'  |  'M'  |  'B'  |
//!                                |  Num SSRC     | BR Exp    |  BR Mantissa (18 bits)            |
//!                                |   SSRC feedback (Num SSRC times)                              |
//! ```

use super::{be16, be24, be32, count_field, RtcpError};

/// FMT values of transport-layer feedback (PT=205).
pub mod rtpfb_fmt {
    pub const GENERIC_NACK: u8 = 1;
    pub const TRANSPORT_CC: u8 = 15;
}

/// FMT values of payload-specific feedback (PT=206).
pub mod psfb_fmt {
    pub const PLI: u8 = 1;
    pub const SLI: u8 = 2;
    pub const RPSI: u8 = 3;
    pub const FIR: u8 = 4;
    pub const AFB: u8 = 15;
}

mod field {
    use core::ops::Range;

    pub const SENDER_SSRC: Range<usize> = 4..8;
    pub const MEDIA_SSRC: Range<usize> = 8..12;
    /// The FCI starts here; this is also the minimum packet length.
    pub const FCI: usize = 12;

    /// Within the TWCC FCI.
    pub const TWCC_BASE_SEQ: Range<usize> = 0..2;
    pub const TWCC_STATUS_COUNT: Range<usize> = 2..4;
    pub const TWCC_REF_TIME: Range<usize> = 4..7;
    pub const TWCC_FB_COUNT: usize = 7;
    pub const TWCC_CHUNKS: usize = 8;

    /// Within the REMB FCI.
    pub const REMB_ID: Range<usize> = 0..4;
    pub const REMB_NUM_SSRC: usize = 4;
    pub const REMB_BR: Range<usize> = 5..8;
    pub const REMB_SSRCS: usize = 8;
}

/// The common part of both feedback types.
fn check(buf: &[u8]) -> Result<(), RtcpError> {
    if buf.len() < field::FCI {
        return Err(RtcpError::BadLength);
    }
    Ok(())
}

/// The common header of both feedback packet types (RFC 4585 §6.1): FMT, sender SSRC, media
/// SSRC, then the FCI. Each view gets the same checked constructor and accessors.
macro_rules! feedback_header {
    ($view:ident) => {
        impl<'a> $view<'a> {
            /// `buf` is one packet without padding; it must hold both SSRCs.
            pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
                check(buf).map(|()| $view { buf })
            }

            /// The FMT field (feedback message type).
            pub fn fmt(&self) -> u8 {
                count_field(self.buf)
            }

            /// SSRC of the packet sender.
            pub fn sender_ssrc(&self) -> u32 {
                be32(self.buf, field::SENDER_SSRC)
            }

            /// SSRC of the media source (0 for TWCC, FIR and REMB, which cover all media of
            /// the transport or name their sources in the FCI).
            pub fn media_ssrc(&self) -> u32 {
                be32(self.buf, field::MEDIA_SSRC)
            }

            /// The raw feedback control information.
            pub fn fci(&self) -> &'a [u8] {
                self.buf.get(field::FCI..).unwrap_or(&[])
            }
        }
    };
}

/// Transport-layer feedback (PT=205, RFC 4585 §6.2).
#[derive(Debug, Clone, Copy)]
pub struct RtpFeedback<'a> {
    buf: &'a [u8],
}

feedback_header!(RtpFeedback);

impl<'a> RtpFeedback<'a> {
    /// The message, decoded by FMT. A TWCC FCI shorter than its 8-octet header is `Other`.
    pub fn kind(&self) -> RtpFeedbackKind<'a> {
        let fci = self.fci();
        match self.fmt() {
            rtpfb_fmt::GENERIC_NACK => RtpFeedbackKind::GenericNack(GenericNack { fci }),
            rtpfb_fmt::TRANSPORT_CC if fci.len() >= field::TWCC_CHUNKS => {
                RtpFeedbackKind::TransportCc(TransportCc { fci })
            }
            _ => RtpFeedbackKind::Other(fci),
        }
    }
}

/// Decoded transport-layer feedback messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtpFeedbackKind<'a> {
    /// FMT=1, RFC 4585 §6.2.1.
    GenericNack(GenericNack<'a>),
    /// FMT=15, transport-wide congestion control feedback.
    TransportCc(TransportCc<'a>),
    /// Any other FMT; the raw FCI.
    Other(&'a [u8]),
}

/// Generic NACK FCI entries (RFC 4585 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenericNack<'a> {
    fci: &'a [u8],
}

impl<'a> GenericNack<'a> {
    /// `(pid, blp)` for every complete 4-octet entry: packet `pid` is lost, and packet
    /// `pid + i + 1` is lost when bit `i` of `blp` is set.
    pub fn entries(&self) -> impl Iterator<Item = (u16, u16)> + 'a {
        self.fci
            .chunks_exact(4)
            .map(|c| (be16(c, 0..2), be16(c, 2..4)))
    }

    /// The sequence numbers reported lost, in entry order (wrapping at 65535).
    pub fn lost_packets(&self) -> impl Iterator<Item = u16> + 'a {
        self.entries().flat_map(|(pid, blp)| {
            core::iter::once(pid).chain(
                (0..16u16)
                    .filter(move |i| blp & (1 << i) != 0)
                    .map(move |i| pid.wrapping_add(i + 1)),
            )
        })
    }
}

/// Transport-wide congestion control feedback header (FCI of at least 8 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportCc<'a> {
    fci: &'a [u8],
}

impl<'a> TransportCc<'a> {
    /// Transport-wide sequence number of the first packet reported.
    pub fn base_sequence(&self) -> u16 {
        be16(self.fci, field::TWCC_BASE_SEQ)
    }

    /// Number of packets this feedback reports on.
    pub fn packet_status_count(&self) -> u16 {
        be16(self.fci, field::TWCC_STATUS_COUNT)
    }

    /// The raw 24-bit reference time, in multiples of 64 ms (libwebrtc reads it as signed).
    pub fn reference_time(&self) -> u32 {
        be24(self.fci, field::TWCC_REF_TIME)
    }

    /// Feedback packet count (wrapping, to detect lost feedback).
    pub fn fb_pkt_count(&self) -> u8 {
        self.fci.get(field::TWCC_FB_COUNT).copied().unwrap_or(0)
    }

    /// The undecoded packet status chunks and receive deltas.
    pub fn packet_chunks(&self) -> &'a [u8] {
        self.fci.get(field::TWCC_CHUNKS..).unwrap_or(&[])
    }
}

/// Payload-specific feedback (PT=206, RFC 4585 §6.3).
#[derive(Debug, Clone, Copy)]
pub struct PsFeedback<'a> {
    buf: &'a [u8],
}

feedback_header!(PsFeedback);

impl<'a> PsFeedback<'a> {
    /// The message, decoded by FMT. SLI and RPSI are `Other`; an application-layer message
    /// that is not a well-formed REMB (identifier and 8-octet header) is `Afb`.
    pub fn kind(&self) -> PsFeedbackKind<'a> {
        let fci = self.fci();
        match self.fmt() {
            psfb_fmt::PLI => PsFeedbackKind::Pli,
            psfb_fmt::FIR => PsFeedbackKind::Fir(Fir { fci }),
            psfb_fmt::AFB
                if fci.get(field::REMB_ID) == Some(b"REMB") && fci.len() >= field::REMB_SSRCS =>
            {
                PsFeedbackKind::Remb(Remb { fci })
            }
            psfb_fmt::AFB => PsFeedbackKind::Afb(fci),
            _ => PsFeedbackKind::Other(fci),
        }
    }
}

/// Decoded payload-specific feedback messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsFeedbackKind<'a> {
    /// FMT=1, picture loss indication (no FCI).
    Pli,
    /// FMT=4, full intra request (RFC 5104 §4.3.1).
    Fir(Fir<'a>),
    /// FMT=15 with the "REMB" identifier.
    Remb(Remb<'a>),
    /// FMT=15, any other application-layer feedback; the raw FCI.
    Afb(&'a [u8]),
    /// Any other FMT (SLI, RPSI, …); the raw FCI.
    Other(&'a [u8]),
}

/// Full intra request FCI entries (RFC 5104 §4.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fir<'a> {
    fci: &'a [u8],
}

impl<'a> Fir<'a> {
    /// `(ssrc, seq_nr)` for every complete 8-octet entry.
    pub fn entries(&self) -> impl Iterator<Item = (u32, u8)> + 'a {
        self.fci
            .chunks_exact(8)
            .map(|c| (be32(c, 0..4), c.get(4).copied().unwrap_or(0)))
    }
}

/// Receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb-03 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remb<'a> {
    /// Starts with "REMB"; at least 8 octets.
    fci: &'a [u8],
}

impl<'a> Remb<'a> {
    /// The Num SSRC field as sent.
    pub fn num_ssrc(&self) -> u8 {
        self.fci.get(field::REMB_NUM_SSRC).copied().unwrap_or(0)
    }

    /// The 6-bit exponent.
    pub fn exponent(&self) -> u8 {
        (be24(self.fci, field::REMB_BR) >> 18) as u8
    }

    /// The 18-bit mantissa.
    pub fn mantissa(&self) -> u32 {
        be24(self.fci, field::REMB_BR) & 0x3_ffff
    }

    /// `mantissa << exponent` bits per second, saturating at `u64::MAX`.
    pub fn bitrate_bps(&self) -> u64 {
        let mantissa = u64::from(self.mantissa());
        let exp = u32::from(self.exponent());
        if mantissa == 0 {
            0
        } else if mantissa.leading_zeros() < exp {
            u64::MAX
        } else {
            mantissa << exp
        }
    }

    fn ssrc_bytes(&self) -> &'a [u8] {
        let rest = self.fci.get(field::REMB_SSRCS..).unwrap_or(&[]);
        let n = usize::from(self.num_ssrc()).min(rest.len() / 4);
        rest.get(..4 * n).unwrap_or(&[])
    }

    /// True when Num SSRC announces more SSRCs than the length allows (malformed).
    pub fn count_overflows(&self) -> bool {
        self.ssrc_bytes().len() < 4 * usize::from(self.num_ssrc())
    }

    /// The media SSRCs the estimate applies to (at most Num SSRC, only those that fit).
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrc_bytes().chunks_exact(4).map(|c| be32(c, 0..4))
    }
}
