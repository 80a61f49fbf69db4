//! Transport layer: a UDP (RFC 768) view.
//!
//! The checked constructor needs the 8-byte header and a length field of at least 8; the payload
//! is trimmed to the length field (clamped to what was captured). The checksum is exposed but not
//! verified: a passive probe sees packets with offloaded checksums that were never filled in.
//! Checking the UDP length against the IP length is left to the caller (see
//! [`crate::wire::frame::decode_udp`]), which knows both.

use super::{DecodeError, Layer};

/// A read-only view of a UDP datagram.
///
/// ```text
///  0      7 8     15 16    23 24    31
/// +--------+--------+--------+--------+
/// |   Source Port   |   Dest. Port    |
/// +--------+--------+--------+--------+
/// |     Length      |    Checksum     |
/// +--------+--------+--------+--------+
/// |          data octets …
/// +-------------------------------- …
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpPacket<'a> {
    header: &'a [u8; HEADER_LEN],
    payload: &'a [u8],
}

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// Field offsets, checked at compile time against the fixed-size header array.
mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

impl<'a> UdpPacket<'a> {
    /// Check the header and trim the payload to the length field.
    ///
    /// Errors: `Truncated(Udp)` when fewer than 8 bytes were captured, `Malformed(Udp)` when the
    /// length field is below 8. A payload cut by the snap length is not an error: [`payload`]
    /// is then shorter than [`payload_wire_len`].
    ///
    /// [`payload`]: Self::payload
    /// [`payload_wire_len`]: Self::payload_wire_len
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let (header, rest) = buf
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(DecodeError::Truncated(Layer::Udp))?;
        let len = usize::from(u16::from_be_bytes([
            header[field::LENGTH],
            header[field::LENGTH + 1],
        ]));
        let payload_len = len
            .checked_sub(HEADER_LEN)
            .ok_or(DecodeError::Malformed(Layer::Udp))?;
        let payload = rest.get(..payload_len).unwrap_or(rest);
        Ok(UdpPacket { header, payload })
    }

    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([
            self.header[field::SRC_PORT],
            self.header[field::SRC_PORT + 1],
        ])
    }

    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([
            self.header[field::DST_PORT],
            self.header[field::DST_PORT + 1],
        ])
    }

    /// The length field: header plus payload on the wire.
    pub fn length(&self) -> u16 {
        u16::from_be_bytes([self.header[field::LENGTH], self.header[field::LENGTH + 1]])
    }

    /// The checksum as carried (0 means "not computed" over IPv4); not verified.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([
            self.header[field::CHECKSUM],
            self.header[field::CHECKSUM + 1],
        ])
    }

    /// The captured payload, trimmed to the length field.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The payload length on the wire (length field − 8), for byte accounting.
    pub fn payload_wire_len(&self) -> usize {
        usize::from(self.length()).saturating_sub(HEADER_LEN)
    }
}

#[cfg(test)]
#[path = "udp/tests.rs"]
mod tests;
