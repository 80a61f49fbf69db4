//! RTCP: compound and reduced-size datagrams (RFC 3550 §6.1, RFC 5506) and the packet types a
//! passive probe needs for loss, jitter and round-trip time.
//!
//! [`Compound`] walks a datagram and yields one [`Packet`] per RTCP packet: sender and receiver
//! reports ([`report`], RFC 3550 §6.4), SDES, BYE and APP ([`sdes`], §6.5–6.7), extended reports
//! ([`xr`], RFC 3611), transport-layer and payload-specific feedback ([`feedback`], RFC 4585,
//! RFC 5104, REMB and transport-wide congestion control drafts). [`is_srtcp`] recognises SRTCP
//! (RFC 3711 §3.4), whose body is ciphertext.
//!
//! Every packet starts with the common header; `length` counts 32-bit words minus one, so a
//! packet is `4 * (length + 1)` octets long:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P| RC/SC/FMT |      PT       |             length            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Malformed input never panics. The policy, in one place:
//! * A common header that is cut ([`RtcpError::Truncated`]), has V≠2 ([`RtcpError::BadVersion`])
//!   or a packet shorter than the fixed part of its type ([`RtcpError::BadLength`]) ends the walk
//!   with one `Err` item.
//! * A count field (RC, SC, REMB's num SSRC) announcing more entries than the length allows is
//!   not an error: the iterators yield only the entries that fit, and the view's
//!   `count_overflows()` says the packet was malformed.
//! * The P bit is honoured when the padding count is valid (non-zero, within the packet body);
//!   an invalid count is ignored and the packet is read unpadded.
//!
//! This module does not validate the RFC 3550 §A.2 compound rules (SR/RR first, CNAME present):
//! RFC 5506 reduced-size RTCP sends single feedback packets, and a probe should read them.

pub mod feedback;
pub mod report;
pub mod sdes;
pub mod srtcp;
pub mod xr;

#[cfg(test)]
mod test_vectors;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fuzz;

pub use feedback::{
    Fir, GenericNack, PsFeedback, PsFeedbackKind, Remb, RtpFeedback, RtpFeedbackKind, TransportCc,
};
pub use report::{ReceiverReport, ReportBlock, ReportBlocks, SenderReport};
pub use sdes::{App, Bye, Sdes, SdesChunk, SdesChunks, SdesItems};
pub use srtcp::is_srtcp;
pub use xr::{DlrrItem, DlrrItems, VoipMetrics, Xr, XrBlock, XrBlocks};

use core::ops::Range;

/// RTCP packet types (RFC 3550 §12.1, RFC 3611, RFC 4585).
pub mod packet_type {
    /// Sender report, RFC 3550 §6.4.1.
    pub const SR: u8 = 200;
    /// Receiver report, RFC 3550 §6.4.2.
    pub const RR: u8 = 201;
    /// Source description, RFC 3550 §6.5.
    pub const SDES: u8 = 202;
    /// Goodbye, RFC 3550 §6.6.
    pub const BYE: u8 = 203;
    /// Application-defined, RFC 3550 §6.7.
    pub const APP: u8 = 204;
    /// Transport-layer feedback, RFC 4585 §6.2.
    pub const RTPFB: u8 = 205;
    /// Payload-specific feedback, RFC 4585 §6.3.
    pub const PSFB: u8 = 206;
    /// Extended report, RFC 3611.
    pub const XR: u8 = 207;
}

/// Byte ranges of the common header, relative to the start of a packet (RFC 3550 §6.4.1).
mod field {
    use core::ops::Range;

    pub const VPC: usize = 0;
    pub const PT: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    /// The first SSRC (sender of SR/RR/APP/XR/feedback, first chunk or source of SDES/BYE).
    pub const SSRC: Range<usize> = 4..8;
    /// Length of the common header.
    pub const HEADER_LEN: usize = 4;
}

/// Why an RTCP datagram could not be walked. Bounded; see [`RtcpError::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RtcpError {
    /// The buffer ends inside a common header or before the end its `length` field announces.
    #[error("truncated RTCP packet")]
    Truncated,
    /// The version field is not 2.
    #[error("RTCP version is not 2")]
    BadVersion,
    /// The packet is shorter than the fixed part of its type.
    #[error("RTCP length too short for its packet type")]
    BadLength,
}

impl RtcpError {
    /// A bounded reason string for metric labels and drop counters.
    pub fn reason(&self) -> &'static str {
        match self {
            RtcpError::Truncated => "rtcp_truncated",
            RtcpError::BadVersion => "rtcp_bad_version",
            RtcpError::BadLength => "rtcp_bad_length",
        }
    }
}

/// Reads a big-endian `u16`; 0 when out of bounds (views check their lengths first).
pub(crate) fn be16(buf: &[u8], r: Range<usize>) -> u16 {
    match buf.get(r) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

/// Reads a big-endian 24-bit value; 0 when out of bounds.
pub(crate) fn be24(buf: &[u8], r: Range<usize>) -> u32 {
    match buf.get(r) {
        Some(&[a, b, c]) => u32::from_be_bytes([0, a, b, c]),
        _ => 0,
    }
}

/// Reads a big-endian `u32`; 0 when out of bounds.
pub(crate) fn be32(buf: &[u8], r: Range<usize>) -> u32 {
    match buf.get(r) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Reads a big-endian `u64`; 0 when out of bounds.
pub(crate) fn be64(buf: &[u8], r: Range<usize>) -> u64 {
    match buf.get(r) {
        Some(&[a, b, c, d, e, f, g, h]) => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
        _ => 0,
    }
}

/// The 5-bit count field (RC, SC, FMT or APP subtype) of a packet.
pub(crate) fn count_field(buf: &[u8]) -> u8 {
    buf.get(field::VPC).copied().unwrap_or(0) & 0x1f
}

/// The checked common header of the first RTCP packet in `buf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    first: u8,
    packet_type: u8,
    length: u16,
}

impl Header {
    /// Checks V=2 and that the 4-octet header is present. Does not check that the packet fits.
    pub fn new_checked(buf: &[u8]) -> Result<Header, RtcpError> {
        if buf.len() < field::HEADER_LEN {
            return Err(RtcpError::Truncated);
        }
        let first = buf.get(field::VPC).copied().unwrap_or(0);
        if first >> 6 != 2 {
            return Err(RtcpError::BadVersion);
        }
        Ok(Header {
            first,
            packet_type: buf.get(field::PT).copied().unwrap_or(0),
            length: be16(buf, field::LENGTH),
        })
    }

    /// The version field (always 2).
    pub fn version(&self) -> u8 {
        self.first >> 6
    }

    /// The P bit.
    pub fn padding(&self) -> bool {
        self.first & 0x20 != 0
    }

    /// The 5-bit RC / SC / FMT / subtype field.
    pub fn count(&self) -> u8 {
        self.first & 0x1f
    }

    /// The PT field.
    pub fn packet_type(&self) -> u8 {
        self.packet_type
    }

    /// The raw length field: 32-bit words minus one.
    pub fn length(&self) -> u16 {
        self.length
    }

    /// The packet length in octets, header and padding included: `4 * (length + 1)`.
    pub fn packet_len(&self) -> usize {
        4 * (usize::from(self.length) + 1)
    }
}

/// The packet type of the first RTCP packet in `buf`, if its common header is present with V=2.
pub fn packet_type(buf: &[u8]) -> Option<u8> {
    Header::new_checked(buf).ok().map(|h| h.packet_type())
}

/// The SSRC that follows the first common header (the sender of SR/RR/XR/APP/feedback, the
/// first source of SDES/BYE). In clear even in SRTCP (RFC 3711 §3.4).
pub fn first_ssrc(buf: &[u8]) -> Option<u32> {
    Header::new_checked(buf).ok()?;
    buf.get(field::SSRC).map(|_| be32(buf, field::SSRC))
}

/// One RTCP packet of a compound datagram, decoded by packet type.
#[derive(Debug, Clone, Copy)]
pub enum Packet<'a> {
    SenderReport(SenderReport<'a>),
    ReceiverReport(ReceiverReport<'a>),
    Sdes(Sdes<'a>),
    Bye(Bye<'a>),
    App(App<'a>),
    Xr(Xr<'a>),
    RtpFeedback(RtpFeedback<'a>),
    PsFeedback(PsFeedback<'a>),
    /// Any other packet type; `body` is what follows the 4-octet common header, padding
    /// removed.
    Unknown {
        packet_type: u8,
        body: &'a [u8],
    },
}

impl<'a> Packet<'a> {
    /// Decodes one packet; `buf` is exactly the packet (common header included, padding
    /// removed), as sliced by [`Compound`].
    pub fn parse(buf: &'a [u8]) -> Result<Packet<'a>, RtcpError> {
        let pt = Header::new_checked(buf)?.packet_type();
        Ok(match pt {
            packet_type::SR => Packet::SenderReport(SenderReport::new_checked(buf)?),
            packet_type::RR => Packet::ReceiverReport(ReceiverReport::new_checked(buf)?),
            packet_type::SDES => Packet::Sdes(Sdes::new_checked(buf)?),
            packet_type::BYE => Packet::Bye(Bye::new_checked(buf)?),
            packet_type::APP => Packet::App(App::new_checked(buf)?),
            packet_type::XR => Packet::Xr(Xr::new_checked(buf)?),
            packet_type::RTPFB => Packet::RtpFeedback(RtpFeedback::new_checked(buf)?),
            packet_type::PSFB => Packet::PsFeedback(PsFeedback::new_checked(buf)?),
            packet_type => Packet::Unknown {
                packet_type,
                body: buf.get(field::HEADER_LEN..).unwrap_or(&[]),
            },
        })
    }

    /// The PT of this packet.
    pub fn packet_type(&self) -> u8 {
        match self {
            Packet::SenderReport(_) => packet_type::SR,
            Packet::ReceiverReport(_) => packet_type::RR,
            Packet::Sdes(_) => packet_type::SDES,
            Packet::Bye(_) => packet_type::BYE,
            Packet::App(_) => packet_type::APP,
            Packet::Xr(_) => packet_type::XR,
            Packet::RtpFeedback(_) => packet_type::RTPFB,
            Packet::PsFeedback(_) => packet_type::PSFB,
            Packet::Unknown { packet_type, .. } => *packet_type,
        }
    }
}

/// Splits the first packet off `buf`: `(packet without padding, rest)`. Checks V=2 and that the
/// stated length fits; strips a valid padding count (RFC 3550 §6.4.1, P bit).
pub(crate) fn split_packet(buf: &[u8]) -> Result<(&[u8], &[u8]), RtcpError> {
    let header = Header::new_checked(buf)?;
    let (packet, rest) = buf
        .split_at_checked(header.packet_len())
        .ok_or(RtcpError::Truncated)?;
    let mut end = packet.len();
    if header.padding() {
        let pad = usize::from(packet.last().copied().unwrap_or(0));
        if pad != 0 && pad <= packet.len().saturating_sub(field::HEADER_LEN) {
            end = end.saturating_sub(pad);
        }
    }
    Ok((packet.get(..end).unwrap_or(packet), rest))
}

/// Iterator over the packets of a compound (or reduced-size, RFC 5506) RTCP datagram.
///
/// Yields `Result<Packet<'a>, RtcpError>` and stops after the first error. Validates each
/// common header (V=2, the length fits the buffer). Does not require SR/RR first (RFC 5506).
/// An empty buffer yields nothing. The iterator is fused: after `None` or an `Err` item it
/// keeps returning `None`.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Compound<'a> {
    /// Starts walking `buf` (a UDP payload).
    pub fn new(buf: &'a [u8]) -> Self {
        Compound {
            rest: buf,
            failed: false,
        }
    }

    /// The bytes not yet walked (after an error: from the packet that failed).
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<Packet<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let result = split_packet(self.rest).and_then(|(packet, rest)| {
            let parsed = Packet::parse(packet)?;
            self.rest = rest;
            Ok(parsed)
        });
        self.failed = result.is_err();
        Some(result)
    }
}

impl core::iter::FusedIterator for Compound<'_> {}
