//! Link, network and transport layer builders: whole frames around a UDP (or TCP) payload.
//!
//! Lengths are always right and the IPv4 header checksum is always computed (RFC 791 §3.1,
//! RFC 1071). UDP checksums are computed too (over the RFC 768 / RFC 8200 §8.1 pseudo-header),
//! because IPv6 forbids a zero UDP checksum and tools flag it. MAC addresses are synthetic
//! (locally administered, `02:00:` + the IPv4 address or the low 32 bits of the IPv6 one) so
//! frames of one host always carry the same MAC.
//!
//! Link layers, with their LINKTYPE_* numbers (<https://www.tcpdump.org/linktypes.html>):
//!
//! ```text
//! Ethernet (1)      dst(6) src(6) [TPID 0x88a8 TCI][TPID 0x8100 TCI] ethertype(2)
//! Linux SLL (113)   pkttype(2) arphrd(2)=1 addrlen(2)=6 addr(8) protocol(2)
//! Linux SLL2 (276)  protocol(2) reserved(2) ifindex(4) arphrd(2)=1 pkttype(1) addrlen(1) addr(8)
//! BSD NULL (0)      address family, 4 bytes, *host* byte order (we write little-endian:
//!                   AF_INET=2, AF_INET6=30 as on macOS)
//! Raw IP (101)      nothing: the frame starts with the IP header
//! ```
//!
//! What this does not do: IP options, IPv6 extension headers other than one Hop-by-Hop header
//! (PadN only), or real MAC/ARP behaviour.

use std::net::{IpAddr, SocketAddr};

/// The link layer (and VLAN tagging) a frame is wrapped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encap {
    /// Plain Ethernet II.
    Ethernet,
    /// Ethernet with one IEEE 802.1Q tag (TPID 0x8100).
    Vlan { vid: u16 },
    /// IEEE 802.1ad QinQ: outer service tag (TPID 0x88a8), inner customer tag (TPID 0x8100).
    QinQ { outer: u16, inner: u16 },
    /// Linux "cooked" capture v1 (`tcpdump -i any` before libpcap 1.10).
    Sll,
    /// Linux "cooked" capture v2.
    Sll2,
    /// BSD loopback encapsulation.
    Null,
    /// Raw IPv4/IPv6, no link header.
    RawIp,
}

impl Encap {
    /// The LINKTYPE_* value a capture file must declare for frames of this encapsulation.
    pub fn linktype(self) -> u32 {
        match self {
            Encap::Ethernet | Encap::Vlan { .. } | Encap::QinQ { .. } => 1,
            Encap::Sll => 113,
            Encap::Sll2 => 276,
            Encap::Null => 0,
            Encap::RawIp => 101,
        }
    }
}

/// IP protocol numbers we emit.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// A locally administered MAC derived from an IP address.
fn mac_of(ip: IpAddr) -> [u8; 6] {
    let low: [u8; 4] = match ip {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, low[0], low[1], low[2], low[3]]
}

/// Append the link header for `encap`; `v6` picks the ethertype / address family.
fn link_header(out: &mut Vec<u8>, encap: Encap, src: IpAddr, dst: IpAddr) {
    let v6 = src.is_ipv6();
    let ethertype: u16 = if v6 { 0x86dd } else { 0x0800 };
    let smac = mac_of(src);
    match encap {
        Encap::Ethernet | Encap::Vlan { .. } | Encap::QinQ { .. } => {
            out.extend_from_slice(&mac_of(dst));
            out.extend_from_slice(&smac);
            if let Encap::QinQ { outer, .. } = encap {
                out.extend_from_slice(&0x88a8u16.to_be_bytes());
                out.extend_from_slice(&(outer & 0x0fff).to_be_bytes());
            }
            if let Encap::Vlan { vid } | Encap::QinQ { inner: vid, .. } = encap {
                out.extend_from_slice(&0x8100u16.to_be_bytes());
                out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
            }
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        Encap::Sll => {
            out.extend_from_slice(&0u16.to_be_bytes()); // LINUX_SLL_HOST
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.extend_from_slice(&6u16.to_be_bytes());
            out.extend_from_slice(&smac);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        Encap::Sll2 => {
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&2u32.to_be_bytes()); // interface index
            out.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
            out.push(0); // LINUX_SLL_HOST
            out.push(6);
            out.extend_from_slice(&smac);
            out.extend_from_slice(&[0, 0]);
        }
        Encap::Null => {
            let af: u32 = if v6 { 30 } else { 2 };
            out.extend_from_slice(&af.to_le_bytes());
        }
        Encap::RawIp => {}
    }
}

/// RFC 1071 one's-complement sum, folded, not yet inverted.
fn ones_sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [last] = chunks.remainder() {
        acc += (*last as u32) << 8;
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    !(ones_sum(0, data) as u16)
}

/// Transport checksum over the pseudo-header (RFC 768; RFC 8200 §8.1 for IPv6).
fn transport_checksum(src: IpAddr, dst: IpAddr, proto: u8, segment: &[u8]) -> u16 {
    let mut acc = 0u32;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            acc = ones_sum(acc, &s.octets());
            acc = ones_sum(acc, &d.octets());
        }
        _ => {
            acc = ones_sum(acc, &ip6_octets(src));
            acc = ones_sum(acc, &ip6_octets(dst));
        }
    }
    acc = ones_sum(acc, &[0, proto]);
    acc = ones_sum(acc, &(segment.len() as u32).to_be_bytes());
    let c = !(ones_sum(acc, segment) as u16);
    // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
    if c == 0 && proto == IPPROTO_UDP {
        0xffff
    } else {
        c
    }
}

fn ip6_octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

/// Append an IPv4 header (RFC 791) with a correct header checksum.
/// `frag` is the 16-bit flags+offset field (offset in 8-byte units).
fn ipv4_header(
    out: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    len: usize,
    id: u16,
    frag: u16,
) {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        panic!("ipv4_header needs IPv4 addresses");
    };
    let start = out.len();
    out.extend_from_slice(&[0x45, 0xb8]); // IHL 5, DSCP EF (46) as media usually is
    out.extend_from_slice(&((20 + len) as u16).to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&frag.to_be_bytes());
    out.extend_from_slice(&[64, proto, 0, 0]);
    out.extend_from_slice(&s.octets());
    out.extend_from_slice(&d.octets());
    let c = internet_checksum(&out[start..start + 20]);
    out[start + 10..start + 12].copy_from_slice(&c.to_be_bytes());
}

/// Append an IPv6 header (RFC 8200), optionally followed by an 8-byte Hop-by-Hop header
/// holding one PadN option (RFC 8200 §4.2), so parsers must walk extension headers.
fn ipv6_header(out: &mut Vec<u8>, src: IpAddr, dst: IpAddr, proto: u8, len: usize, hbh: bool) {
    let ext = if hbh { 8 } else { 0 };
    out.extend_from_slice(&[0x6b, 0x80, 0, 0]); // version 6, traffic class 0xb8 (EF)
    out.extend_from_slice(&((len + ext) as u16).to_be_bytes());
    out.push(if hbh { 0 } else { proto });
    out.push(64);
    out.extend_from_slice(&ip6_octets(src));
    out.extend_from_slice(&ip6_octets(dst));
    if hbh {
        out.extend_from_slice(&[proto, 0, 1, 4, 0, 0, 0, 0]);
    }
}

fn ip_header(
    out: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    len: usize,
    hbh: bool,
    id: u16,
) {
    match src {
        IpAddr::V4(_) => ipv4_header(out, src, dst, proto, len, id, 0x4000), // DF
        IpAddr::V6(_) => ipv6_header(out, src, dst, proto, len, hbh),
    }
}

/// Where a frame goes: link encapsulation, plus whether IPv6 carries a Hop-by-Hop header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L2L3 {
    pub encap: Encap,
    /// IPv6 only: insert a Hop-by-Hop extension header (ignored for IPv4).
    pub hop_by_hop: bool,
}

impl From<Encap> for L2L3 {
    fn from(encap: Encap) -> Self {
        L2L3 {
            encap,
            hop_by_hop: false,
        }
    }
}

/// A complete frame carrying `payload` in UDP from `src` to `dst`.
///
/// # Panics
/// If `src` and `dst` are of different address families (a scenario bug).
pub fn udp_frame(l: L2L3, src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 70);
    udp_frame_into(&mut out, l, src, dst, payload);
    out
}

/// [`udp_frame`] appending to a reusable buffer (the benchmark path avoids reallocating).
pub fn udp_frame_into(
    out: &mut Vec<u8>,
    l: L2L3,
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
) {
    assert_eq!(src.is_ipv4(), dst.is_ipv4(), "mixed address families");
    link_header(out, l.encap, src.ip(), dst.ip());
    let ulen = 8 + payload.len();
    ip_header(
        out,
        src.ip(),
        dst.ip(),
        IPPROTO_UDP,
        ulen,
        l.hop_by_hop,
        src.port() ^ dst.port(),
    );
    let u = out.len();
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&(ulen as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    let c = transport_checksum(src.ip(), dst.ip(), IPPROTO_UDP, &out[u..]);
    out[u + 6..u + 8].copy_from_slice(&c.to_be_bytes());
}

/// A non-first IPv4 fragment (offset > 0) of a UDP datagram: no UDP header, just data.
/// Probes must count it as a fragment and not mistake its bytes for RTP.
///
/// # Panics
/// If the addresses are not IPv4, or `offset_units` is 0 or does not fit 13 bits.
pub fn ipv4_fragment(
    encap: Encap,
    src: IpAddr,
    dst: IpAddr,
    id: u16,
    offset_units: u16,
    more: bool,
    data: &[u8],
) -> Vec<u8> {
    assert!(offset_units > 0 && offset_units < 0x2000);
    let mut out = Vec::with_capacity(data.len() + 40);
    link_header(&mut out, encap, src, dst);
    let frag = offset_units | if more { 0x2000 } else { 0 };
    ipv4_header(&mut out, src, dst, IPPROTO_UDP, data.len(), id, frag);
    out.extend_from_slice(data);
    out
}

/// A TCP segment (PSH|ACK, no options) with a correct checksum: non-UDP noise.
pub fn tcp_frame(l: L2L3, src: SocketAddr, dst: SocketAddr, seq: u32, payload: &[u8]) -> Vec<u8> {
    tcp_frame_with(l, src, dst, seq, 0x18, payload)
}

/// A TCP segment with control bits `flags` (RFC 9293 §3.1; 0x02 SYN, 0x10 ACK, 0x18 PSH|ACK),
/// no options, a correct checksum.
pub fn tcp_frame_with(
    l: L2L3,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    assert_eq!(src.is_ipv4(), dst.is_ipv4(), "mixed address families");
    let mut out = Vec::with_capacity(payload.len() + 80);
    link_header(&mut out, l.encap, src.ip(), dst.ip());
    ip_header(
        &mut out,
        src.ip(),
        dst.ip(),
        IPPROTO_TCP,
        20 + payload.len(),
        l.hop_by_hop,
        7,
    );
    let t = out.len();
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes()); // ack
    out.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]); // off 5, flags, win, csum, urg
    out.extend_from_slice(payload);
    let c = transport_checksum(src.ip(), dst.ip(), IPPROTO_TCP, &out[t..]);
    out[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
    out
}

/// A random UDP payload that no RFC 7983 demultiplexer can classify: its first byte is in
/// 200..=255 (not STUN 0-3, ZRTP 16-19, DTLS 20-63, TURN channel 64-79, nor RTP/RTCP 128-191).
pub fn udp_noise_payload(rng: &mut super::rng::Rng, len: usize) -> Vec<u8> {
    let mut p = rng.bytes(len.max(1));
    p[0] = 200 + (p[0] % 56);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_udp_frame_layout_and_checksums() {
        let f = udp_frame(
            Encap::Ethernet.into(),
            sa("10.0.0.1:5004"),
            sa("10.0.0.2:6000"),
            &[0x80, 0, 0, 1],
        );
        assert_eq!(f.len(), 14 + 20 + 8 + 4);
        assert_eq!(&f[12..14], &[0x08, 0x00]);
        let ip = &f[14..34];
        assert_eq!(u16::from_be_bytes([ip[2], ip[3]]), 32);
        // A correct header sums to 0xffff, so its checksum over itself is 0.
        assert_eq!(internet_checksum(ip), 0);
        assert_ne!(&ip[10..12], &[0, 0]);
        // UDP checksum verifies over the pseudo-header.
        let mut acc = ones_sum(0, &ip[12..20]);
        acc = ones_sum(acc, &[0, 17, 0, 12]);
        assert_eq!(ones_sum(acc, &f[34..]), 0xffff);
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example bytes: sum 0xddf2, checksum 0x220d.
        assert_eq!(
            internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
    }

    #[test]
    fn link_header_lengths() {
        let (s4, d4) = (sa("10.0.0.1:1"), sa("10.0.0.2:2"));
        let (s6, d6) = (sa("[2001:db8::1]:1"), sa("[2001:db8::2]:2"));
        let base4 = 20 + 8;
        let cases = [
            (Encap::Ethernet, 14),
            (Encap::Vlan { vid: 100 }, 18),
            (
                Encap::QinQ {
                    outer: 10,
                    inner: 20,
                },
                22,
            ),
            (Encap::Sll, 16),
            (Encap::Sll2, 20),
            (Encap::Null, 4),
            (Encap::RawIp, 0),
        ];
        for (e, l2) in cases {
            assert_eq!(udp_frame(e.into(), s4, d4, &[]).len(), l2 + base4, "{e:?}");
            let hbh = L2L3 {
                encap: e,
                hop_by_hop: true,
            };
            let f = udp_frame(hbh, s6, d6, &[1, 2]);
            assert_eq!(f.len(), l2 + 40 + 8 + 8 + 2, "{e:?}");
            assert_eq!(f[l2 + 6], 0, "next header = Hop-by-Hop");
            assert_eq!(f[l2 + 40], 17, "HbH next header = UDP");
        }
        let q = udp_frame(
            Encap::QinQ {
                outer: 10,
                inner: 20,
            }
            .into(),
            s4,
            d4,
            &[],
        );
        assert_eq!(
            &q[12..22],
            &[0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]
        );
    }

    #[test]
    fn fragment_and_tcp() {
        let f = ipv4_fragment(
            Encap::RawIp,
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            9,
            185,
            false,
            &[0x80; 40],
        );
        assert_eq!(u16::from_be_bytes([f[6], f[7]]), 185);
        assert_eq!(internet_checksum(&f[..20]), 0);
        let t = tcp_frame(
            Encap::RawIp.into(),
            sa("10.0.0.1:443"),
            sa("10.0.0.2:5000"),
            1,
            b"hi",
        );
        assert_eq!(t[9], 6);
        assert_eq!(t.len(), 20 + 20 + 2);
    }
}
