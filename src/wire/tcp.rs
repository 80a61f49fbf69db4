//! Transport layer: a TCP segment (RFC 9293 §3.1) view.
//!
//! The checked constructor needs the 20-byte fixed header and a data offset that is at least 5
//! words and fits in what was captured; the payload is what follows the options, trimmed by the
//! caller to the IP length. Options are skipped whole (their length is the data offset); the
//! checksum is neither exposed nor verified (offloaded checksums are never filled in on the
//! capturing host). Reassembly is not done here: see [`crate::tcp`].
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options (data offset > 5)                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::{DecodeError, Layer};

/// Length of the fixed TCP header.
pub const HEADER_LEN: usize = 20;

/// Field offsets, checked at compile time against the fixed-size header array.
mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
}

/// TCP control bits (RFC 9293 §3.1), as in the flags byte.
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// A read-only view of a TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    header: &'a [u8; HEADER_LEN],
    payload: &'a [u8],
    /// Payload length on the wire (IP length − header length).
    wire_len: usize,
}

impl<'a> TcpSegment<'a> {
    /// Check the header of `buf` (the captured transport bytes, trimmed to the IP length) whose
    /// wire length per the IP header is `ip_len`.
    ///
    /// Errors: `Truncated(Tcp)` when the fixed header or the options were cut by the snap
    /// length, `Malformed(Tcp)` when the data offset is below 5 words or beyond `ip_len`.
    pub fn new_checked(buf: &'a [u8], ip_len: usize) -> Result<Self, DecodeError> {
        let (header, _) = buf
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(DecodeError::Truncated(Layer::Tcp))?;
        let hlen = usize::from(header[field::OFFSET] >> 4) * 4;
        if hlen < HEADER_LEN || hlen > ip_len {
            return Err(DecodeError::Malformed(Layer::Tcp));
        }
        let payload = buf.get(hlen..).ok_or(DecodeError::Truncated(Layer::Tcp))?;
        Ok(TcpSegment {
            header,
            payload,
            wire_len: ip_len - hlen,
        })
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

    /// Sequence number of the first payload byte (of the SYN itself when SYN is set).
    pub fn seq_number(&self) -> u32 {
        let h = self.header;
        u32::from_be_bytes([
            h[field::SEQ],
            h[field::SEQ + 1],
            h[field::SEQ + 2],
            h[field::SEQ + 3],
        ])
    }

    pub fn ack_number(&self) -> u32 {
        let h = self.header;
        u32::from_be_bytes([
            h[field::ACK],
            h[field::ACK + 1],
            h[field::ACK + 2],
            h[field::ACK + 3],
        ])
    }

    /// Header length in bytes (data offset × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.header[field::OFFSET] >> 4) * 4
    }

    /// The control bits (see [`flags`]).
    pub fn flags(&self) -> u8 {
        self.header[field::FLAGS]
    }

    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }

    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }

    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }

    /// The captured payload (possibly shorter than [`Self::payload_wire_len`] when the snap
    /// length cut it).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The payload length on the wire.
    pub fn payload_wire_len(&self) -> usize {
        self.wire_len
    }
}

#[cfg(test)]
#[path = "tcp/tests.rs"]
mod tests;
