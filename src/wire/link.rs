//! Link layer: find the IP packet inside a captured frame.
//!
//! Decodes just enough of the link header to know whether an IPv4 or IPv6 packet follows and
//! where it starts: Ethernet II (IEEE 802.3 clause 3.2.6 type field) with a stack of up to
//! [`MAX_VLAN_TAGS`] IEEE 802.1Q (0x8100), 802.1ad (0x88a8) or legacy QinQ (0x9100) tags, Linux
//! "cooked" captures (SLL and SLL2), BSD NULL and LOOP, and raw IP (see
//! <https://www.tcpdump.org/linktypes.html> for the header layouts).
//!
//! It deliberately does not decode 802.3 length frames (LLC/SNAP), MPLS, PPPoE, tunnels (GRE,
//! VXLAN, …) or radio headers: those are reported as [`DecodeError::NotIp`]. It does not look at
//! MAC addresses or the VLAN priority bits. [`origin`] reads where a Linux cooked frame was
//! seen (SLL2's interface index, SLL's packet type), which tells the two copies of a forwarded
//! packet apart.

use super::{DecodeError, Layer};

/// Link types we decode; see [`LinkType::from_dlt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// `LINKTYPE_ETHERNET` (1): Ethernet II, possibly VLAN tagged.
    Ethernet,
    /// `LINKTYPE_NULL` (0): BSD loopback, 4-byte address family in the capturing host's byte order.
    Null,
    /// `LINKTYPE_LOOP` (108): OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
    /// `LINKTYPE_LINUX_SLL` (113): Linux cooked capture v1, 16-byte header.
    LinuxSll,
    /// `LINKTYPE_LINUX_SLL2` (276): Linux cooked capture v2, 20-byte header.
    LinuxSll2,
    /// `LINKTYPE_RAW` (101; `DLT_RAW` is 12 or 14 depending on the OS): IPv4 or IPv6 by version.
    Raw,
    /// `LINKTYPE_IPV4` (228): always IPv4.
    Ipv4,
    /// `LINKTYPE_IPV6` (229): always IPv6.
    Ipv6,
}

impl LinkType {
    /// Every link type we decode, for harnesses and tests that iterate over them.
    pub const ALL: [LinkType; 8] = [
        LinkType::Ethernet,
        LinkType::Null,
        LinkType::Loop,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
    ];

    /// From a pcap `LINKTYPE_`/`DLT_` value: 1 Ethernet, 0 NULL, 108 LOOP (big-endian family),
    /// 12/14/101 raw IP, 113 LINUX_SLL, 276 LINUX_SLL2, 228 IPV4, 229 IPV6.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        match dlt {
            0 => Some(LinkType::Null),
            1 => Some(LinkType::Ethernet),
            12 | 14 | 101 => Some(LinkType::Raw),
            108 => Some(LinkType::Loop),
            113 => Some(LinkType::LinuxSll),
            228 => Some(LinkType::Ipv4),
            229 => Some(LinkType::Ipv6),
            276 => Some(LinkType::LinuxSll2),
            _ => None,
        }
    }

    /// A short lowercase name for logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "ethernet",
            LinkType::Null => "null",
            LinkType::Loop => "loop",
            LinkType::LinuxSll => "linux_sll",
            LinkType::LinuxSll2 => "linux_sll2",
            LinkType::Raw => "raw",
            LinkType::Ipv4 => "ipv4",
            LinkType::Ipv6 => "ipv6",
        }
    }
}

/// EtherType values we act on (IEEE 802 numbers, as used by Ethernet II and Linux SLL).
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86DD;
    /// IEEE 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IEEE 802.1ad service VLAN tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88A8;
    /// Pre-standard QinQ outer tag still used by some switches.
    pub const QINQ_LEGACY: u16 = 0x9100;
}

/// How many stacked VLAN tags we skip before calling the frame malformed. Real networks use one
/// or two; the bound keeps a hostile frame from making us walk far.
pub const MAX_VLAN_TAGS: usize = 4;

/// The network protocol found under the link header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Ipv4,
    Ipv6,
}

/// The result of stripping the link header: what follows, where it starts, and the VLAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFrame<'a> {
    pub network: Network,
    /// Everything after the link header (and VLAN tags), including any Ethernet padding: the IP
    /// layer trims it to the IP total length.
    pub payload: &'a [u8],
    /// Outermost VLAN ID (the low 12 bits of the first tag's TCI), if tagged.
    pub vlan: Option<u16>,
}

/// Strip the link header of `frame` captured on a `link` interface.
///
/// Errors: [`DecodeError::Truncated`]`(Link)` when the header or a VLAN tag is cut,
/// [`DecodeError::Malformed`]`(Link)` for more than [`MAX_VLAN_TAGS`] tags, and
/// [`DecodeError::NotIp`] for any other EtherType or address family.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<LinkFrame<'_>, DecodeError> {
    match link {
        LinkType::Ethernet => {
            let eth = EthernetFrame::new_checked(frame)?;
            dispatch(eth.ethertype(), eth.payload())
        }
        LinkType::LinuxSll => {
            // Linux cooked v1, 16 bytes:
            // +---------------+---------------+---------------+----------------+------------+
            // | packet type 2 | ARPHRD type 2 | addr length 2 | link address 8 | protocol 2 |
            // +---------------+---------------+---------------+----------------+------------+
            let (header, payload) = frame.split_first_chunk::<16>().ok_or(TRUNCATED)?;
            let &[.., p0, p1] = header;
            dispatch(u16::from_be_bytes([p0, p1]), payload)
        }
        LinkType::LinuxSll2 => {
            // Linux cooked v2, 20 bytes:
            // +------------+------------+-----------+----------+------------+------------+--------+
            // | protocol 2 | reserved 2 | ifindex 4 | ARPHRD 2 | pkt type 1 | addr len 1 | addr 8 |
            // +------------+------------+-----------+----------+------------+------------+--------+
            let (header, payload) = frame.split_first_chunk::<20>().ok_or(TRUNCATED)?;
            let &[p0, p1, ..] = header;
            dispatch(u16::from_be_bytes([p0, p1]), payload)
        }
        LinkType::Null => {
            // A 4-byte address family in the byte order of the host that wrote the capture,
            // which may not be ours: accept either order (the values cannot collide).
            let (family, payload) = frame.split_first_chunk::<4>().ok_or(TRUNCATED)?;
            let network = address_family(u32::from_le_bytes(*family))
                .or_else(|| address_family(u32::from_be_bytes(*family)))
                .ok_or(DecodeError::NotIp)?;
            Ok(untagged(network, payload))
        }
        LinkType::Loop => {
            // Like NULL, but the family is always in network byte order.
            let (family, payload) = frame.split_first_chunk::<4>().ok_or(TRUNCATED)?;
            let network = address_family(u32::from_be_bytes(*family)).ok_or(DecodeError::NotIp)?;
            Ok(untagged(network, payload))
        }
        LinkType::Raw => {
            // No header: the IP version nibble says which protocol this is.
            let first = frame.first().ok_or(TRUNCATED)?;
            let network = match first >> 4 {
                4 => Network::Ipv4,
                6 => Network::Ipv6,
                _ => return Err(DecodeError::NotIp),
            };
            Ok(untagged(network, frame))
        }
        LinkType::Ipv4 => Ok(untagged(Network::Ipv4, frame)),
        LinkType::Ipv6 => Ok(untagged(Network::Ipv6, frame)),
    }
}

const TRUNCATED: DecodeError = DecodeError::Truncated(Layer::Link);

/// Where a Linux cooked frame says it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The link header does not say (Ethernet, raw IP, …, or a cut cooked header).
    Unknown,
    /// SLL2: the kernel's interface index.
    Interface(u32),
    /// SLL v1 packet type 0–3 (to us, broadcast, multicast, to another host): arriving.
    Incoming,
    /// SLL v1 packet type 4 (`PACKET_OUTGOING`): leaving.
    Outgoing,
}

/// Where `frame`, captured on a `link` interface, was seen (see the headers in [`decode`]).
/// SLL v1 has no interface index, only the direction; a forwarded packet is captured once
/// arriving on one interface and once leaving on another, so the direction still tells the
/// copies apart. SLL2's packet type is not needed: the index already differs.
pub fn origin(link: LinkType, frame: &[u8]) -> Origin {
    match link {
        LinkType::LinuxSll => match frame.first_chunk::<2>().map(|t| u16::from_be_bytes(*t)) {
            Some(0..=3) => Origin::Incoming,
            Some(4) => Origin::Outgoing,
            _ => Origin::Unknown,
        },
        LinkType::LinuxSll2 => match frame.get(4..8).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
            Some(i) => Origin::Interface(u32::from_be_bytes(i)),
            None => Origin::Unknown,
        },
        _ => Origin::Unknown,
    }
}

fn untagged(network: Network, payload: &[u8]) -> LinkFrame<'_> {
    LinkFrame {
        network,
        payload,
        vlan: None,
    }
}

/// BSD `AF_INET` is 2 everywhere; `AF_INET6` is 24 (NetBSD, OpenBSD), 28 (FreeBSD, DragonFly) or
/// 30 (macOS), per the `LINKTYPE_NULL` description.
fn address_family(family: u32) -> Option<Network> {
    match family {
        2 => Some(Network::Ipv4),
        24 | 28 | 30 => Some(Network::Ipv6),
        _ => None,
    }
}

/// Skip VLAN tags (IEEE 802.1Q §9.6: a 2-byte TCI, then the next EtherType), then map the
/// EtherType to a network protocol.
///
/// ```text
/// +---------------------+------------------+
/// | PCP 3 | DEI 1 | VID 12 | EtherType 16  |
/// +---------------------+------------------+
/// ```
fn dispatch(mut ethertype: u16, mut payload: &[u8]) -> Result<LinkFrame<'_>, DecodeError> {
    let mut vlan = None;
    let mut tags = 0;
    while matches!(
        ethertype,
        ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_LEGACY
    ) {
        if tags == MAX_VLAN_TAGS {
            return Err(DecodeError::Malformed(Layer::Link));
        }
        let (&[t0, t1, e0, e1], rest) = payload.split_first_chunk::<4>().ok_or(TRUNCATED)?;
        vlan = vlan.or(Some(u16::from_be_bytes([t0, t1]) & 0x0FFF));
        ethertype = u16::from_be_bytes([e0, e1]);
        payload = rest;
        tags += 1;
    }
    let network = match ethertype {
        ethertype::IPV4 => Network::Ipv4,
        ethertype::IPV6 => Network::Ipv6,
        _ => return Err(DecodeError::NotIp),
    };
    Ok(LinkFrame {
        network,
        payload,
        vlan,
    })
}

/// A read-only view of an Ethernet II frame (without the FCS, which captures rarely include).
///
/// ```text
/// +----------------+----------------+-------------+---------
/// | destination 6  | source 6       | EtherType 2 | payload…
/// +----------------+----------------+-------------+---------
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetFrame<'a> {
    header: &'a [u8; HEADER_LEN],
    payload: &'a [u8],
}

/// Length of the Ethernet II header.
pub const HEADER_LEN: usize = 14;

impl<'a> EthernetFrame<'a> {
    /// Check that `buf` holds a whole Ethernet header; the payload may be empty.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let (header, payload) = buf.split_first_chunk::<HEADER_LEN>().ok_or(TRUNCATED)?;
        Ok(EthernetFrame { header, payload })
    }

    /// The destination MAC address.
    pub fn dst_addr(&self) -> [u8; 6] {
        let &[d0, d1, d2, d3, d4, d5, ..] = self.header;
        [d0, d1, d2, d3, d4, d5]
    }

    /// The source MAC address.
    pub fn src_addr(&self) -> [u8; 6] {
        let &[_, _, _, _, _, _, s0, s1, s2, s3, s4, s5, _, _] = self.header;
        [s0, s1, s2, s3, s4, s5]
    }

    /// The EtherType (values below 0x0600 are 802.3 lengths, which we do not decode).
    pub fn ethertype(&self) -> u16 {
        let &[.., e0, e1] = self.header;
        u16::from_be_bytes([e0, e1])
    }

    /// Everything after the header, VLAN tags and padding included.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

#[cfg(test)]
#[path = "link/tests.rs"]
mod tests;
