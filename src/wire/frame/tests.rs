//! Tests for [`super::decode_udp`]: every link type, VLANs, IP options and extension headers,
//! fragments, truncation at each layer, and a never-panics sweep.

use super::*;

/// IPv4 + UDP + 4 payload bytes, 192.0.2.1:5000 → 198.51.100.2:20000.
static IPV4_UDP: [u8; 32] = [
    0x45, 0xb8, 0x00, 0x20, // v4, IHL 5, DSCP EF, total length 32
    0x12, 0x34, 0x40, 0x00, // ident, DF, offset 0
    0x40, 0x11, 0x00, 0x00, // TTL 64, protocol UDP, checksum (unchecked)
    192, 0, 2, 1, // source
    198, 51, 100, 2, // destination
    0x13, 0x88, 0x4e, 0x20, // UDP 5000 → 20000
    0x00, 0x0c, 0x00, 0x00, // length 12, checksum
    0x80, 0x60, 0x00, 0x01, // payload (an RTP header start)
];

/// IPv6 + UDP + 4 payload bytes, [2001:db8::1]:5000 → [2001:db8::2]:20000.
static IPV6_UDP: [u8; 52] = [
    0x60, 0x00, 0x00, 0x00, // v6, traffic class, flow label
    0x00, 0x0c, 0x11, 0x40, // payload length 12, next header UDP, hop limit 64
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // source 2001:db8::1
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // destination 2001:db8::2
    0x13, 0x88, 0x4e, 0x20, // UDP 5000 → 20000
    0x00, 0x0c, 0x00, 0x00, // length 12, checksum
    0x80, 0x60, 0x00, 0x01, // payload
];

const PAYLOAD: [u8; 4] = [0x80, 0x60, 0x00, 0x01];
const MACS: [u8; 12] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn eth(ethertype: u16, ip: &[u8]) -> Vec<u8> {
    cat(&[&MACS, &ethertype.to_be_bytes(), ip])
}

fn sll(protocol: u16, ip: &[u8]) -> Vec<u8> {
    let head = [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]; // type, ARPHRD, addr len, addr
    cat(&[&head, &protocol.to_be_bytes(), ip])
}

fn sll2(protocol: u16, ip: &[u8]) -> Vec<u8> {
    let tail = [0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]; // reserved … address
    cat(&[&protocol.to_be_bytes(), &tail, ip])
}

fn v4_addrs() -> (SocketAddr, SocketAddr) {
    (
        "192.0.2.1:5000".parse().unwrap(),
        "198.51.100.2:20000".parse().unwrap(),
    )
}

fn v6_addrs() -> (SocketAddr, SocketAddr) {
    (
        "[2001:db8::1]:5000".parse().unwrap(),
        "[2001:db8::2]:20000".parse().unwrap(),
    )
}

fn assert_v4(d: Result<Datagram<'_>, DecodeError>, vlan: Option<u16>) {
    let d = d.unwrap();
    assert_eq!((d.src, d.dst), v4_addrs());
    assert_eq!((d.payload, d.wire_len, d.vlan), (&PAYLOAD[..], 4, vlan));
}

fn assert_v6(d: Result<Datagram<'_>, DecodeError>, vlan: Option<u16>) {
    let d = d.unwrap();
    assert_eq!((d.src, d.dst), v6_addrs());
    assert_eq!((d.payload, d.wire_len, d.vlan), (&PAYLOAD[..], 4, vlan));
}

/// Valid frames of every link type, for the sweeps.
fn valid_frames() -> Vec<(LinkType, Vec<u8>)> {
    vec![
        (LinkType::Ethernet, eth(0x0800, &IPV4_UDP)),
        (LinkType::Ethernet, eth(0x86dd, &IPV6_UDP)),
        (
            LinkType::Ethernet,
            cat(&[
                &MACS,
                &[0x88, 0xa8, 0, 10, 0x81, 0, 0, 20, 0x08, 0],
                &IPV4_UDP,
            ]),
        ),
        (LinkType::LinuxSll, sll(0x0800, &IPV4_UDP)),
        (LinkType::LinuxSll2, sll2(0x86dd, &IPV6_UDP)),
        (LinkType::Null, cat(&[&[2, 0, 0, 0], &IPV4_UDP])),
        (LinkType::Null, cat(&[&[0, 0, 0, 30], &IPV6_UDP])),
        (LinkType::Loop, cat(&[&[0, 0, 0, 2], &IPV4_UDP])),
        (LinkType::Raw, IPV4_UDP.to_vec()),
        (LinkType::Raw, IPV6_UDP.to_vec()),
        (LinkType::Ipv4, IPV4_UDP.to_vec()),
        (LinkType::Ipv6, ipv6_with_ext_headers()),
    ]
}

#[test]
fn every_link_type_ipv4() {
    assert_v4(
        decode_udp(LinkType::Ethernet, &eth(0x0800, &IPV4_UDP)),
        None,
    );
    assert_v4(
        decode_udp(LinkType::LinuxSll, &sll(0x0800, &IPV4_UDP)),
        None,
    );
    assert_v4(
        decode_udp(LinkType::LinuxSll2, &sll2(0x0800, &IPV4_UDP)),
        None,
    );
    let le = cat(&[&[2, 0, 0, 0], &IPV4_UDP]); // AF_INET, little-endian host
    let be = cat(&[&[0, 0, 0, 2], &IPV4_UDP]); // AF_INET, big-endian host
    assert_v4(decode_udp(LinkType::Null, &le), None);
    assert_v4(decode_udp(LinkType::Null, &be), None);
    assert_v4(decode_udp(LinkType::Loop, &be), None);
    assert_v4(decode_udp(LinkType::Raw, &IPV4_UDP), None);
    assert_v4(decode_udp(LinkType::Ipv4, &IPV4_UDP), None);
}

#[test]
fn every_link_type_ipv6() {
    assert_v6(
        decode_udp(LinkType::Ethernet, &eth(0x86dd, &IPV6_UDP)),
        None,
    );
    assert_v6(
        decode_udp(LinkType::LinuxSll, &sll(0x86dd, &IPV6_UDP)),
        None,
    );
    assert_v6(
        decode_udp(LinkType::LinuxSll2, &sll2(0x86dd, &IPV6_UDP)),
        None,
    );
    for af in [24u32, 28, 30] {
        let le = cat(&[&af.to_le_bytes(), &IPV6_UDP]);
        let be = cat(&[&af.to_be_bytes(), &IPV6_UDP]);
        assert_v6(decode_udp(LinkType::Null, &le), None);
        assert_v6(decode_udp(LinkType::Null, &be), None);
        assert_v6(decode_udp(LinkType::Loop, &be), None);
    }
    assert_v6(decode_udp(LinkType::Raw, &IPV6_UDP), None);
    assert_v6(decode_udp(LinkType::Ipv6, &IPV6_UDP), None);
    // The fixed-protocol link types do not guess.
    assert_eq!(
        decode_udp(LinkType::Ipv4, &IPV6_UDP),
        Err(DecodeError::Malformed(Layer::Ipv4))
    );
}

#[test]
fn vlan_qinq_and_legacy_tags() {
    let dot1q = cat(&[&MACS, &[0x81, 0x00, 0x00, 0x64, 0x08, 0x00], &IPV4_UDP]); // VID 100
    assert_v4(decode_udp(LinkType::Ethernet, &dot1q), Some(100));
    let qinq = cat(&[
        &MACS,
        &[0x88, 0xa8, 0xe0, 0x0a], // S-tag, PCP 7, VID 10
        &[0x81, 0x00, 0x00, 0x14], // C-tag, VID 20
        &[0x86, 0xdd],             // IPv6
        &IPV6_UDP,
    ]);
    assert_v6(decode_udp(LinkType::Ethernet, &qinq), Some(10));
    let legacy = cat(&[&MACS, &[0x91, 0x00, 0x0f, 0xff, 0x08, 0x00], &IPV4_UDP]); // VID 4095
    assert_v4(decode_udp(LinkType::Ethernet, &legacy), Some(4095));
    // Cut inside the C-tag.
    assert_eq!(
        decode_udp(LinkType::Ethernet, &qinq[..18]),
        Err(DecodeError::Truncated(Layer::Link))
    );
}

#[test]
fn ethernet_padding_is_trimmed() {
    let mut frame = eth(0x0800, &IPV4_UDP);
    frame.resize(60, 0); // minimum Ethernet frame without FCS
    assert_v4(decode_udp(LinkType::Ethernet, &frame), None);
    let mut frame = eth(0x86dd, &IPV6_UDP);
    frame.extend_from_slice(&[0xff; 4]); // trailing FCS or trailer
    assert_v6(decode_udp(LinkType::Ethernet, &frame), None);
}

#[test]
fn snap_cut_payload_keeps_wire_len() {
    let frame = eth(0x0800, &IPV4_UDP);
    let d = decode_udp(LinkType::Ethernet, &frame[..frame.len() - 3]).unwrap();
    assert_eq!((d.payload, d.wire_len), (&PAYLOAD[..1], 4));
    let d = decode_udp(LinkType::Raw, &IPV6_UDP[..48]).unwrap();
    assert_eq!((d.payload, d.wire_len), (&[][..], 4));
}

#[test]
fn ipv4_options_are_skipped() {
    let with_options = [
        0x46, 0x00, 0x00, 0x24, // v4, IHL 6, total length 36
        0x00, 0x01, 0x00, 0x00, // ident, no flags
        0x40, 0x11, 0x00, 0x00, // TTL 64, UDP
        192, 0, 2, 1, // source
        198, 51, 100, 2, // destination
        0x94, 0x04, 0x00, 0x00, // option: Router Alert (RFC 2113)
        0x13, 0x88, 0x4e, 0x20, 0x00, 0x0c, 0x00, 0x00, // UDP, length 12
        0x80, 0x60, 0x00, 0x01, // payload
    ];
    assert_v4(decode_udp(LinkType::Raw, &with_options), None);
    // Cut inside the options: still the IPv4 header.
    assert_eq!(
        decode_udp(LinkType::Raw, &with_options[..22]),
        Err(DecodeError::Truncated(Layer::Ipv4))
    );
}

/// IPv6 with Hop-by-Hop, Destination Options, Routing, AH and an atomic Fragment header.
fn ipv6_with_ext_headers() -> Vec<u8> {
    let mut p = IPV6_UDP[..40].to_vec();
    p[4..6].copy_from_slice(&76u16.to_be_bytes()); // payload length 8+8+8+24+8+8+12
    p[6] = 0; // next header: Hop-by-Hop
    p.extend_from_slice(&[
        60, 0, 0x01, 0x04, 0, 0, 0, 0, // Hop-by-Hop → Dest Opts, PadN
        43, 0, 0x01, 0x04, 0, 0, 0, 0, // Dest Opts → Routing, PadN
        51, 0, 4, 0, 0, 0, 0, 0, // Routing → AH, type 4 (SRH), segments left 0
        60, 4, 0, 0, // AH → Dest Opts, payload length 4 → (4+2)*4 = 24 bytes
        0, 0, 0, 1, 0, 0, 0, 1, // SPI, sequence number
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ICV
        44, 0, 0x01, 0x04, 0, 0, 0, 0, // Dest Opts → Fragment
        17, 0, 0x00, 0x00, 0, 0, 0, 7, // Fragment → UDP, offset 0, M=0 (atomic), ident 7
    ]);
    p.extend_from_slice(&IPV6_UDP[40..]);
    p
}

#[test]
fn ipv6_extension_headers_are_skipped() {
    let p = ipv6_with_ext_headers();
    assert_v6(decode_udp(LinkType::Raw, &p), None);
    // Every cut inside the extension headers is an IPv6 truncation.
    for cut in 40..104 {
        assert_eq!(
            decode_udp(LinkType::Raw, &p[..cut]),
            Err(DecodeError::Truncated(Layer::Ipv6)),
            "cut at {cut}"
        );
    }
    assert_eq!(
        decode_udp(LinkType::Raw, &p[..110]),
        Err(DecodeError::Truncated(Layer::Udp))
    );
}

#[test]
fn ipv6_extension_header_errors() {
    // An extension header longer than the payload length says.
    let mut p = IPV6_UDP.to_vec();
    p[6] = 60; // Dest Opts
    p[40] = 17;
    p[41] = 1; // 16 bytes, payload length is 12
    assert_eq!(
        decode_udp(LinkType::Raw, &p),
        Err(DecodeError::Malformed(Layer::Ipv6))
    );
    // More than MAX_IPV6_EXT_HEADERS.
    let n = ip::MAX_IPV6_EXT_HEADERS + 1;
    let mut p = IPV6_UDP[..40].to_vec();
    p[4..6].copy_from_slice(&(8 * n as u16 + 12).to_be_bytes());
    p[6] = 60;
    for _ in 1..n {
        p.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
    }
    p.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
    p.extend_from_slice(&IPV6_UDP[40..]);
    assert_eq!(
        decode_udp(LinkType::Raw, &p),
        Err(DecodeError::Malformed(Layer::Ipv6))
    );
    // Payload length 0: a jumbogram.
    let mut p = IPV6_UDP;
    p[4..6].copy_from_slice(&[0, 0]);
    assert_eq!(
        decode_udp(LinkType::Raw, &p),
        Err(DecodeError::Malformed(Layer::Ipv6))
    );
}

#[test]
fn ipv4_fragments() {
    let mut first = IPV4_UDP;
    first[6] = 0x20; // MF, offset 0: still a fragment
    assert_eq!(
        decode_udp(LinkType::Raw, &first),
        Err(DecodeError::Fragment)
    );
    let mut later = IPV4_UDP;
    later[6..8].copy_from_slice(&[0x00, 0xb9]); // offset 185 × 8, last fragment
    assert_eq!(
        decode_udp(LinkType::Raw, &later),
        Err(DecodeError::Fragment)
    );
    let mut df = IPV4_UDP;
    df[6] = 0x40; // DF only
    assert_v4(decode_udp(LinkType::Raw, &df), None);
}

#[test]
fn ipv6_fragments() {
    let mut p = IPV6_UDP[..40].to_vec();
    p[4..6].copy_from_slice(&20u16.to_be_bytes());
    p[6] = 44; // Fragment
    p.extend_from_slice(&[17, 0, 0x00, 0x01, 0, 0, 0, 9]); // offset 0, M=1
    p.extend_from_slice(&IPV6_UDP[40..]);
    assert_eq!(decode_udp(LinkType::Raw, &p), Err(DecodeError::Fragment));
    p[42..44].copy_from_slice(&[0x05, 0x28]); // offset 165 × 8, M=0
    assert_eq!(decode_udp(LinkType::Raw, &p), Err(DecodeError::Fragment));
    p[42..44].copy_from_slice(&[0x00, 0x00]); // atomic
    assert_v6(decode_udp(LinkType::Raw, &p), None);
}

#[test]
fn truncation_names_the_layer() {
    let v4 = eth(0x0800, &IPV4_UDP);
    let v6 = eth(0x86dd, &IPV6_UDP);
    for (frame, ip_layer, ip_len) in [(&v4, Layer::Ipv4, 20), (&v6, Layer::Ipv6, 40)] {
        for cut in 0..frame.len() {
            let layer = match cut {
                0..=13 => Layer::Link,
                c if c < 14 + ip_len => ip_layer,
                c if c < 14 + ip_len + 8 => Layer::Udp,
                _ => {
                    let d = decode_udp(LinkType::Ethernet, &frame[..cut]).unwrap();
                    assert!(d.payload.len() < d.wire_len);
                    continue;
                }
            };
            assert_eq!(
                decode_udp(LinkType::Ethernet, &frame[..cut]),
                Err(DecodeError::Truncated(layer)),
                "cut at {cut}"
            );
        }
    }
}

#[test]
fn malformed_headers() {
    let cases: [(usize, &[u8], Layer); 7] = [
        (0, &[0x55], Layer::Ipv4),       // version 5
        (0, &[0x44], Layer::Ipv4),       // IHL 4
        (2, &[0x00, 0x13], Layer::Ipv4), // total length 19
        (2, &[0x00, 0x18], Layer::Udp),  // total length 24: room for 4 bytes of UDP
        (24, &[0x00, 0x07], Layer::Udp), // UDP length 7
        (24, &[0x00, 0x0d], Layer::Udp), // UDP length 13 > IP payload 12
        (24, &[0xff, 0xff], Layer::Udp), // UDP length 65535
    ];
    for (at, bytes, layer) in cases {
        let mut p = IPV4_UDP;
        p[at..at + bytes.len()].copy_from_slice(bytes);
        assert_eq!(
            decode_udp(LinkType::Raw, &p).map(|_| ()),
            Err(if at == 0 && bytes == [0x55] {
                DecodeError::NotIp // raw IP: the version nibble picks the protocol
            } else {
                DecodeError::Malformed(layer)
            }),
            "{at} {bytes:02x?}"
        );
        assert_eq!(
            decode_udp(LinkType::Ipv4, &p).map(|_| ()),
            Err(DecodeError::Malformed(layer)),
            "{at} {bytes:02x?}"
        );
    }
    let mut v6 = IPV6_UDP;
    v6[0] = 0x40;
    assert_eq!(
        decode_udp(LinkType::Ipv6, &v6),
        Err(DecodeError::Malformed(Layer::Ipv6))
    );
}

#[test]
fn not_ip_and_not_udp() {
    assert_eq!(
        decode_udp(LinkType::Ethernet, &eth(0x0806, &[0; 28])), // ARP
        Err(DecodeError::NotIp)
    );
    assert_eq!(
        decode_udp(LinkType::LinuxSll, &sll(0x0004, &[0; 28])), // 802.2 LLC
        Err(DecodeError::NotIp)
    );
    let mut tcp = IPV4_UDP;
    tcp[9] = 6;
    assert_eq!(decode_udp(LinkType::Raw, &tcp), Err(DecodeError::NotUdp));
    for nh in [6u8, 50, 58, 59] {
        let mut p = IPV6_UDP;
        p[6] = nh; // TCP, ESP, ICMPv6, No Next Header
        assert_eq!(decode_udp(LinkType::Raw, &p), Err(DecodeError::NotUdp));
    }
}

#[test]
fn tcp_is_decoded_by_decode_and_refused_by_decode_udp() {
    // IPv4 + a 20-byte TCP header (5000 → 3478, seq 7, PSH|ACK) + 2 payload bytes.
    let mut p = IPV4_UDP[..20].to_vec();
    p[2..4].copy_from_slice(&42u16.to_be_bytes());
    p[9] = 6;
    p.extend_from_slice(&[0x13, 0x88, 0x0d, 0x96, 0, 0, 0, 7, 0, 0, 0, 0]);
    p.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0, 0xab, 0xcd]);
    let Ok(Decoded::Tcp(s)) = decode(LinkType::Raw, &p) else {
        panic!("TCP expected");
    };
    assert_eq!(s.src, "192.0.2.1:5000".parse().unwrap());
    assert_eq!(s.dst, "198.51.100.2:3478".parse().unwrap());
    assert_eq!(
        (s.tcp.seq_number(), s.tcp.payload()),
        (7, &[0xab, 0xcd][..])
    );
    assert_eq!(decode_udp(LinkType::Raw, &p), Err(DecodeError::NotUdp));
    // Cut inside the TCP header: truncated for `decode`, still "not UDP" for `decode_udp`.
    assert_eq!(
        decode(LinkType::Raw, &p[..30]),
        Err(DecodeError::Truncated(Layer::Tcp))
    );
    assert_eq!(
        decode_udp(LinkType::Raw, &p[..30]),
        Err(DecodeError::NotUdp)
    );
}

/// Xorshift64: deterministic pseudo-random bytes without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Whatever comes back must be consistent: the payload lies inside the frame and never exceeds
/// the wire length.
fn check_never_panics(link: LinkType, frame: &[u8]) {
    if let Ok(d) = decode_udp(link, frame) {
        assert!(d.payload.len() <= d.wire_len);
        let range = frame.as_ptr_range();
        assert!(d.payload.is_empty() || range.contains(&d.payload.as_ptr()));
        assert!(d.payload.as_ptr_range().end <= range.end);
    }
}

#[test]
fn never_panics_on_prefixes() {
    for (link, frame) in valid_frames() {
        assert!(decode_udp(link, &frame).is_ok(), "{link:?}");
        for cut in 0..=frame.len() {
            for any in LinkType::ALL {
                check_never_panics(any, &frame[..cut]);
            }
        }
    }
}

#[test]
fn never_panics_on_random_and_mutated_frames() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut buf = [0u8; 160];
    for _ in 0..4000 {
        let len = (rng.next() % buf.len() as u64) as usize;
        for b in buf.iter_mut() {
            *b = rng.next() as u8;
        }
        for link in LinkType::ALL {
            check_never_panics(link, &buf[..len]);
        }
    }
    // Random bytes rarely get past the headers, so also flip bytes of valid frames.
    let frames = valid_frames();
    for i in 0..4000 {
        let (link, frame) = &frames[i % frames.len()];
        let mut f = frame.clone();
        for _ in 0..=(rng.next() % 3) {
            let at = (rng.next() % f.len() as u64) as usize;
            f[at] = rng.next() as u8;
        }
        let cut = (rng.next() % (f.len() as u64 + 1)) as usize;
        check_never_panics(*link, &f[..cut]);
    }
}
