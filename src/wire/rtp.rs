//! RTP fixed header (RFC 3550 §5.1) and header extensions (RFC 3550 §5.3.1, RFC 8285).
//!
//! [`Packet`] is a borrowed view over one RTP packet. The constructors check the version, the
//! fixed header, the CSRC list and the extension header once; afterwards no accessor can panic.
//! Two constructors exist because truncation is normal: [`Packet::new_checked`] also validates
//! the padding count against the payload (a complete packet), while [`Packet::new_header_only`]
//! accepts a snap-length-cut packet whose payload and padding may be missing.
//!
//! This module does not decrypt SRTP, does not interpret payload formats, and does not decide
//! whether a datagram is RTP at all (that is [`demux`](super::demux), RFC 7983 / RFC 5761).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           synchronization source (SSRC) identifier            |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |            contributing source (CSRC) identifiers             |
//! |                             ....                              |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   defined by profile (0xBEDE…) |           length              |  (if X)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 header extension (4 * length)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::ops::Range;

/// Byte ranges of the fixed header, relative to the start of the packet (RFC 3550 §5.1), and of
/// the extension header, relative to its own start (RFC 3550 §5.3.1).
mod field {
    use core::ops::Range;

    pub const VPXCC: usize = 0;
    pub const MPT: usize = 1;
    pub const SEQ: Range<usize> = 2..4;
    pub const TIMESTAMP: Range<usize> = 4..8;
    pub const SSRC: Range<usize> = 8..12;
    /// The CSRC list starts here; the fixed header is this long.
    pub const CSRC: usize = 12;

    pub const EXT_PROFILE: Range<usize> = 0..2;
    pub const EXT_LENGTH: Range<usize> = 2..4;
    pub const EXT_DATA: usize = 4;
}

/// RFC 8285 §4.2 one-byte header form.
pub const PROFILE_ONE_BYTE: u16 = 0xBEDE;
/// RFC 8285 §4.3 two-byte header form: `0x100` followed by 4 "appbits" (any value).
pub const PROFILE_TWO_BYTE_MASK: u16 = 0xFFF0;
/// The value of `profile & PROFILE_TWO_BYTE_MASK` for the two-byte form.
pub const PROFILE_TWO_BYTE: u16 = 0x1000;

/// Why a buffer is not a decodable RTP packet. Bounded; see [`RtpError::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RtpError {
    /// The buffer ends inside the fixed header, the CSRC list or the header extension.
    #[error("truncated RTP header")]
    Truncated,
    /// The version field is not 2.
    #[error("RTP version is not 2")]
    BadVersion,
    /// The P bit is set but the padding count is 0 or larger than the payload (strict parse).
    #[error("RTP padding count does not fit the payload")]
    BadPadding,
}

impl RtpError {
    /// A bounded reason string for metric labels and drop counters.
    pub fn reason(&self) -> &'static str {
        match self {
            RtpError::Truncated => "rtp_truncated",
            RtpError::BadVersion => "rtp_bad_version",
            RtpError::BadPadding => "rtp_bad_padding",
        }
    }
}

/// Reads a big-endian `u16`; 0 if the range is out of bounds (unreachable after the checks).
fn be16(buf: &[u8], r: Range<usize>) -> u16 {
    match buf.get(r) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

/// Reads a big-endian `u32`; 0 if the range is out of bounds (unreachable after the checks).
fn be32(buf: &[u8], r: Range<usize>) -> u32 {
    match buf.get(r) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// A checked, borrowed view over an RTP packet (RFC 3550 §5.1).
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    buf: &'a [u8],
    /// Fixed header + CSRC list + extension; `<= buf.len()` by construction.
    header_len: usize,
    /// End of the payload (start of the padding); `header_len <= payload_end <= buf.len()`.
    payload_end: usize,
}

impl<'a> Packet<'a> {
    /// Strict parse of a complete packet: the header must fit and, if the P bit is set, the
    /// padding count (last octet, RFC 3550 §5.1) must be non-zero and fit the payload. The
    /// padding is then excluded from [`payload`](Self::payload).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtpError> {
        let mut packet = Self::new_header_only(buf)?;
        if packet.padding() {
            let pad = usize::from(buf.last().copied().unwrap_or(0));
            let payload_len = buf.len().saturating_sub(packet.header_len);
            if pad == 0 || pad > payload_len {
                return Err(RtpError::BadPadding);
            }
            packet.payload_end = buf.len().saturating_sub(pad);
        }
        Ok(packet)
    }

    /// Lenient parse for snap-length-cut packets: checks only the version, the fixed header,
    /// the CSRC list and the extension header. The padding is not validated and not removed
    /// (the last captured octet is not the padding count when the packet was cut), so
    /// [`payload`](Self::payload) is everything captured after the header.
    pub fn new_header_only(buf: &'a [u8]) -> Result<Self, RtpError> {
        let first = *buf.first().ok_or(RtpError::Truncated)?;
        if first >> 6 != 2 {
            return Err(RtpError::BadVersion);
        }
        let csrc_end = field::CSRC + 4 * usize::from(first & 0x0f);
        if buf.len() < csrc_end {
            return Err(RtpError::Truncated);
        }
        let mut header_len = csrc_end;
        if first & 0x10 != 0 {
            let ext = buf.get(csrc_end..).unwrap_or(&[]);
            if ext.len() < field::EXT_DATA {
                return Err(RtpError::Truncated);
            }
            let words = usize::from(be16(ext, field::EXT_LENGTH));
            header_len = csrc_end + field::EXT_DATA + 4 * words;
            if buf.len() < header_len {
                return Err(RtpError::Truncated);
            }
        }
        Ok(Packet {
            buf,
            header_len,
            payload_end: buf.len(),
        })
    }

    fn first(&self) -> u8 {
        self.buf.get(field::VPXCC).copied().unwrap_or(0)
    }

    fn second(&self) -> u8 {
        self.buf.get(field::MPT).copied().unwrap_or(0)
    }

    /// The version field (always 2 for a checked packet).
    pub fn version(&self) -> u8 {
        self.first() >> 6
    }

    /// The P bit: the packet ends with padding whose last octet is its length.
    pub fn padding(&self) -> bool {
        self.first() & 0x20 != 0
    }

    /// The X bit: a header extension follows the CSRC list.
    pub fn extension(&self) -> bool {
        self.first() & 0x10 != 0
    }

    /// The CC field: number of CSRC identifiers.
    pub fn csrc_count(&self) -> u8 {
        self.first() & 0x0f
    }

    /// The M bit (profile-defined; frame boundary for video, talkspurt start for audio).
    pub fn marker(&self) -> bool {
        self.second() & 0x80 != 0
    }

    /// The PT field; an open set (RFC 3551 static types, dynamic 96–127).
    pub fn payload_type(&self) -> u8 {
        self.second() & 0x7f
    }

    /// The 16-bit sequence number.
    pub fn sequence_number(&self) -> u16 {
        be16(self.buf, field::SEQ)
    }

    /// The 32-bit media timestamp.
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, field::TIMESTAMP)
    }

    /// The synchronization source identifier.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, field::SSRC)
    }

    /// The contributing sources, in order (at most 15).
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let end = field::CSRC + 4 * usize::from(self.csrc_count());
        self.buf
            .get(field::CSRC..end)
            .unwrap_or(&[])
            .chunks_exact(4)
            .map(|c| be32(c, 0..4))
    }

    /// The header extension, if the X bit is set.
    pub fn header_extension(&self) -> Option<HeaderExtension<'a>> {
        if !self.extension() {
            return None;
        }
        let start = field::CSRC + 4 * usize::from(self.csrc_count());
        let ext = self.buf.get(start..self.header_len)?;
        Some(HeaderExtension {
            profile: be16(ext, field::EXT_PROFILE),
            data: ext.get(field::EXT_DATA..).unwrap_or(&[]),
        })
    }

    /// Length of the fixed header, CSRC list and header extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Number of padding octets removed from the payload (0 unless strictly parsed with P set).
    pub fn padding_len(&self) -> usize {
        self.buf.len().saturating_sub(self.payload_end)
    }

    /// The payload: without padding when strictly parsed, else everything after the header.
    pub fn payload(&self) -> &'a [u8] {
        self.buf
            .get(self.header_len..self.payload_end)
            .unwrap_or(&[])
    }
}

/// The header extension of an RTP packet (RFC 3550 §5.3.1), with RFC 8285 element parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    profile: u16,
    data: &'a [u8],
}

impl<'a> HeaderExtension<'a> {
    /// The 16-bit "defined by profile" field (0xBEDE, 0x100X, or anything else).
    pub fn profile(&self) -> u16 {
        self.profile
    }

    /// The extension data (4 * length octets), without the 4-octet extension header.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The RFC 8285 elements as `(id, data)`. Empty for profiles other than the one-byte
    /// (0xBEDE) and two-byte (0x100X) forms. Stops at the first element that overruns the
    /// extension, and (one-byte form) at ID 15. Padding octets (ID 0) are skipped.
    pub fn elements(&self) -> Elements<'a> {
        let form = if self.profile == PROFILE_ONE_BYTE {
            Form::OneByte
        } else if self.profile & PROFILE_TWO_BYTE_MASK == PROFILE_TWO_BYTE {
            Form::TwoByte
        } else {
            Form::Opaque
        };
        Elements {
            rest: self.data,
            form,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    OneByte,
    TwoByte,
    Opaque,
}

/// Iterator over RFC 8285 header extension elements; see [`HeaderExtension::elements`].
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    rest: &'a [u8],
    form: Form,
}

impl<'a> Iterator for Elements<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&head, tail) = self.rest.split_first()?;
            let (id, len, tail) = match self.form {
                Form::Opaque => return None,
                // RFC 8285 §4.2:  0 1 2 3 4 5 6 7
                //                +-+-+-+-+-+-+-+-+
                //                |  ID   |  len  |   data is len+1 octets
                //                +-+-+-+-+-+-+-+-+
                Form::OneByte => {
                    let id = head >> 4;
                    if id == 15 {
                        self.rest = &[];
                        return None;
                    }
                    (id, usize::from(head & 0x0f) + 1, tail)
                }
                // RFC 8285 §4.3: one octet ID, one octet length (0..=255), then data.
                Form::TwoByte => {
                    if head == 0 {
                        (0, 0, tail)
                    } else {
                        let Some((&len, tail)) = tail.split_first() else {
                            self.rest = &[];
                            return None;
                        };
                        (head, usize::from(len), tail)
                    }
                }
            };
            if id == 0 {
                // Padding octet: skip it alone, whatever its length nibble says.
                self.rest = tail;
                continue;
            }
            let Some((data, rest)) = tail.split_at_checked(len) else {
                self.rest = &[];
                return None;
            };
            self.rest = rest;
            return Some((id, data));
        }
    }
}

#[cfg(test)]
#[path = "rtp/tests.rs"]
mod tests;
