//! Network layer: IPv4 (RFC 791) and IPv6 (RFC 8200) views.
//!
//! Each view checks its header once in `new_checked` and trims the payload to the length the
//! header declares (which removes Ethernet padding), clamped to what was captured (snap lengths
//! cut packets). [`Ipv4Packet::transport`] and [`Ipv6Packet::transport`] then find the upper-layer
//! protocol, walking IPv6 extension headers (RFC 8200 §4).
//!
//! Deliberately not done: checksum verification, option parsing (IPv4 options are skipped
//! whole), fragment reassembly (fragments are reported as [`DecodeError::Fragment`] and counted),
//! and jumbograms (RFC 2675; IPv6 payload length 0 is reported as malformed).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{DecodeError, Layer};

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers") we act on.
pub mod protocol {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_ROUTING: u8 = 43;
    pub const IPV6_FRAGMENT: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const IPV6_NO_NEXT: u8 = 59;
    pub const IPV6_DEST_OPTS: u8 = 60;
}

/// The most IPv6 extension headers we walk before calling the packet malformed. RFC 8200 §4.1
/// recommends an order in which each appears at most once (Destination Options twice), so real
/// packets carry far fewer.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// What an IP packet carries: the upper-layer protocol and its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport<'a> {
    /// IP protocol number of the upper layer (after any IPv6 extension headers).
    pub protocol: u8,
    /// The upper-layer bytes that were captured, trimmed to the IP length.
    pub payload: &'a [u8],
    /// The upper-layer length on the wire, according to the IP header(s).
    pub wire_len: usize,
}

/// A read-only view of an IPv4 packet (RFC 791 §3.1).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |  DSCP/ECN     |          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options (IHL > 5)                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Packet<'a> {
    header: &'a [u8; v4::HEADER_LEN],
    options: &'a [u8],
    payload: &'a [u8],
}

/// IPv4 field offsets. Indexing the fixed-size header array with these constants is checked at
/// compile time.
mod v4 {
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC_ADDR: usize = 12;
    pub const DST_ADDR: usize = 16;
    pub const HEADER_LEN: usize = 20;
}

impl<'a> Ipv4Packet<'a> {
    /// Check the fixed header and options, and trim the payload to the total length.
    ///
    /// Errors: `Truncated(Ipv4)` if the header (options included) was not captured whole;
    /// `Malformed(Ipv4)` for a version other than 4, IHL < 5, or a total length shorter than the
    /// header. A payload cut by the snap length is not an error.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let (header, rest) = buf
            .split_first_chunk::<{ v4::HEADER_LEN }>()
            .ok_or(DecodeError::Truncated(Layer::Ipv4))?;
        let ver_ihl = header[v4::VER_IHL];
        let header_len = usize::from(ver_ihl & 0x0F) * 4;
        if ver_ihl >> 4 != 4 || header_len < v4::HEADER_LEN {
            return Err(DecodeError::Malformed(Layer::Ipv4));
        }
        let total_len = usize::from(u16::from_be_bytes([
            header[v4::LENGTH],
            header[v4::LENGTH + 1],
        ]));
        let (options, rest) = rest
            .split_at_checked(header_len - v4::HEADER_LEN)
            .ok_or(DecodeError::Truncated(Layer::Ipv4))?;
        let payload_len = total_len
            .checked_sub(header_len)
            .ok_or(DecodeError::Malformed(Layer::Ipv4))?;
        let payload = rest.get(..payload_len).unwrap_or(rest);
        Ok(Ipv4Packet {
            header,
            options,
            payload,
        })
    }

    pub fn version(&self) -> u8 {
        self.header[v4::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.header[v4::VER_IHL] & 0x0F) * 4
    }

    /// Differentiated Services Code Point (RFC 2474), the upper six bits of the old TOS byte.
    pub fn dscp(&self) -> u8 {
        self.header[v4::DSCP_ECN] >> 2
    }

    /// Explicit Congestion Notification (RFC 3168), the lower two bits of the old TOS byte.
    pub fn ecn(&self) -> u8 {
        self.header[v4::DSCP_ECN] & 0x03
    }

    /// Total length of the packet on the wire, header included.
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.header[v4::LENGTH], self.header[v4::LENGTH + 1]])
    }

    pub fn ident(&self) -> u16 {
        u16::from_be_bytes([self.header[v4::IDENT], self.header[v4::IDENT + 1]])
    }

    /// The DF flag.
    pub fn dont_frag(&self) -> bool {
        self.header[v4::FLG_OFF] & 0x40 != 0
    }

    /// The MF flag.
    pub fn more_frags(&self) -> bool {
        self.header[v4::FLG_OFF] & 0x20 != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset(&self) -> u16 {
        let raw = u16::from_be_bytes([self.header[v4::FLG_OFF], self.header[v4::FLG_OFF + 1]]);
        (raw & 0x1FFF) << 3
    }

    /// True for any fragment, the first one (offset 0, MF set) included.
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    pub fn ttl(&self) -> u8 {
        self.header[v4::TTL]
    }

    /// The upper-layer protocol number (see [`protocol`]).
    pub fn protocol(&self) -> u8 {
        self.header[v4::PROTOCOL]
    }

    /// The header checksum as carried; not verified.
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.header[v4::CHECKSUM], self.header[v4::CHECKSUM + 1]])
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        let h = self.header;
        let a = v4::SRC_ADDR;
        Ipv4Addr::new(h[a], h[a + 1], h[a + 2], h[a + 3])
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        let h = self.header;
        let a = v4::DST_ADDR;
        Ipv4Addr::new(h[a], h[a + 1], h[a + 2], h[a + 3])
    }

    /// The raw options (empty when IHL is 5).
    pub fn options(&self) -> &'a [u8] {
        self.options
    }

    /// The captured payload, trimmed to the total length.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The payload length on the wire (total length − header length).
    pub fn payload_wire_len(&self) -> usize {
        usize::from(self.total_len()).saturating_sub(self.header_len())
    }

    /// The upper layer, or [`DecodeError::Fragment`] for any fragment (RFC 791 §2.3: only the
    /// first fragment carries the upper-layer header, and never all of the payload).
    pub fn transport(&self) -> Result<Transport<'a>, DecodeError> {
        if self.is_fragment() {
            return Err(DecodeError::Fragment);
        }
        Ok(Transport {
            protocol: self.protocol(),
            payload: self.payload,
            wire_len: self.payload_wire_len(),
        })
    }
}

/// A read-only view of an IPv6 packet (RFC 8200 §3).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Traffic Class |           Flow Label                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Payload Length        |  Next Header  |   Hop Limit   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Source Address (128 bits)                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |              Destination Address (128 bits)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Packet<'a> {
    header: &'a [u8; v6::HEADER_LEN],
    payload: &'a [u8],
}

/// IPv6 field offsets, checked at compile time against the fixed-size header array.
mod v6 {
    pub const VER_TC_FLOW: usize = 0;
    pub const LENGTH: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: usize = 8;
    pub const DST_ADDR: usize = 24;
    pub const HEADER_LEN: usize = 40;
}

impl<'a> Ipv6Packet<'a> {
    /// Check the fixed header and trim the payload to the payload length.
    ///
    /// Errors: `Truncated(Ipv6)` if the 40-byte header was not captured whole;
    /// `Malformed(Ipv6)` for a version other than 6 or a payload length of 0 (a jumbogram, RFC
    /// 2675, which we do not decode).
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let (header, rest) = buf
            .split_first_chunk::<{ v6::HEADER_LEN }>()
            .ok_or(DecodeError::Truncated(Layer::Ipv6))?;
        let payload_len = usize::from(u16::from_be_bytes([
            header[v6::LENGTH],
            header[v6::LENGTH + 1],
        ]));
        if header[v6::VER_TC_FLOW] >> 4 != 6 || payload_len == 0 {
            return Err(DecodeError::Malformed(Layer::Ipv6));
        }
        let payload = rest.get(..payload_len).unwrap_or(rest);
        Ok(Ipv6Packet { header, payload })
    }

    pub fn version(&self) -> u8 {
        self.header[v6::VER_TC_FLOW] >> 4
    }

    pub fn traffic_class(&self) -> u8 {
        let h = self.header;
        (h[v6::VER_TC_FLOW] << 4) | (h[v6::VER_TC_FLOW + 1] >> 4)
    }

    pub fn flow_label(&self) -> u32 {
        let h = self.header;
        let f = v6::VER_TC_FLOW;
        u32::from_be_bytes([0, h[f + 1] & 0x0F, h[f + 2], h[f + 3]])
    }

    /// Length of everything after the fixed header, extension headers included.
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes([self.header[v6::LENGTH], self.header[v6::LENGTH + 1]])
    }

    /// The first next-header value (an extension header or the upper layer).
    pub fn next_header(&self) -> u8 {
        self.header[v6::NEXT_HEADER]
    }

    pub fn hop_limit(&self) -> u8 {
        self.header[v6::HOP_LIMIT]
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        addr16(self.header, v6::SRC_ADDR)
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        addr16(self.header, v6::DST_ADDR)
    }

    /// The captured bytes after the fixed header, trimmed to the payload length.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The upper layer, after skipping extension headers (RFC 8200 §4): Hop-by-Hop Options,
    /// Routing, Destination Options (length in 8-byte units, not counting the first 8) and
    /// Authentication (RFC 4302 §2.2: length in 4-byte units, minus 2).
    ///
    /// Errors: [`DecodeError::Fragment`] for a Fragment header (RFC 8200 §4.5) unless it is an
    /// atomic fragment (offset 0, M clear; RFC 6946), which is decoded on; `Truncated(Ipv6)`
    /// when the capture ends inside an extension header; `Malformed(Ipv6)` when an extension
    /// header overruns the payload length or there are more than [`MAX_IPV6_EXT_HEADERS`].
    /// Any other next header (ESP, No Next Header, …) is returned as the upper layer.
    pub fn transport(&self) -> Result<Transport<'a>, DecodeError> {
        let mut next = self.next_header();
        let mut rest = self.payload;
        let mut wire_len = usize::from(self.payload_len());
        // An extension header that does not fit in what is left: the capture was cut if it would
        // fit in what the header declares, otherwise the packet lies about its lengths.
        let overrun = |need: usize, wire_len: usize| {
            if need <= wire_len {
                DecodeError::Truncated(Layer::Ipv6)
            } else {
                DecodeError::Malformed(Layer::Ipv6)
            }
        };
        for _ in 0..=MAX_IPV6_EXT_HEADERS {
            let (nh, size) = match next {
                protocol::HOP_BY_HOP
                | protocol::IPV6_ROUTING
                | protocol::IPV6_DEST_OPTS
                | protocol::AH => {
                    //  +-------------+-------------+---------------------
                    //  | Next Header | Hdr Ext Len | header-specific data…
                    //  +-------------+-------------+---------------------
                    let &[nh, ext_len] = rest
                        .first_chunk::<2>()
                        .ok_or_else(|| overrun(2, wire_len))?;
                    let ext_len = usize::from(ext_len);
                    if next == protocol::AH {
                        (nh, (ext_len + 2) * 4)
                    } else {
                        (nh, (ext_len + 1) * 8)
                    }
                }
                protocol::IPV6_FRAGMENT => {
                    //  +-------------+----------+-------------------------+---+-+
                    //  | Next Header | Reserved | Fragment Offset (13)    |Res|M|
                    //  +-------------+----------+-------------------------+---+-+
                    //  |                   Identification (32)                  |
                    //  +--------------------------------------------------------+
                    let &[nh, _, o0, o1, ..] = rest
                        .first_chunk::<8>()
                        .ok_or_else(|| overrun(8, wire_len))?;
                    let offset = u16::from_be_bytes([o0, o1]) >> 3;
                    let more = o1 & 0x01 != 0;
                    if offset != 0 || more {
                        return Err(DecodeError::Fragment);
                    }
                    (nh, 8)
                }
                _ => {
                    return Ok(Transport {
                        protocol: next,
                        payload: rest,
                        wire_len,
                    })
                }
            };
            rest = rest.get(size..).ok_or_else(|| overrun(size, wire_len))?;
            // `rest` never holds more than `wire_len` bytes, so this does not saturate.
            wire_len = wire_len.saturating_sub(size);
            next = nh;
        }
        Err(DecodeError::Malformed(Layer::Ipv6))
    }
}

/// The 16-byte address at `at`; both callers pass constant offsets inside the header, so the
/// fallback is unreachable.
fn addr16(h: &[u8; v6::HEADER_LEN], at: usize) -> Ipv6Addr {
    h.get(at..)
        .and_then(|tail| tail.first_chunk::<16>())
        .map_or(Ipv6Addr::UNSPECIFIED, |octets| Ipv6Addr::from(*octets))
}

#[cfg(test)]
#[path = "ip/tests.rs"]
mod tests;
