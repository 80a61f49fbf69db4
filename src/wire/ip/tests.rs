//! Tests of [`super`] on annotated byte arrays.

use super::*;

static V4: [u8; 30] = [
    0x46, 0xb9, 0x00, 0x1c, // v4, IHL 6, DSCP 46 ECN 1, total length 28
    0xbe, 0xef, 0x7f, 0xff, // ident, DF + MF, offset 0x1fff
    0x40, 0x11, 0x12, 0x34, // TTL 64, UDP, checksum
    10, 0, 0, 1, // source
    10, 0, 0, 2, // destination
    0x01, 0x01, 0x01, 0x00, // options: NOP, NOP, NOP, EOL
    0xaa, 0xbb, 0xcc, 0xdd, // payload
    0x00, 0x00, // Ethernet padding
];

#[test]
fn ipv4_deconstruct() {
    let p = Ipv4Packet::new_checked(&V4).unwrap();
    assert_eq!((p.version(), p.header_len()), (4, 24));
    assert_eq!((p.dscp(), p.ecn()), (46, 1));
    assert_eq!((p.total_len(), p.ident()), (28, 0xbeef));
    assert!(p.dont_frag() && p.more_frags() && p.is_fragment());
    assert_eq!(p.frag_offset(), 0x1fff * 8);
    assert_eq!((p.ttl(), p.protocol(), p.checksum()), (64, 17, 0x1234));
    assert_eq!(p.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(p.dst_addr(), Ipv4Addr::new(10, 0, 0, 2));
    assert_eq!(p.options(), &[1, 1, 1, 0]);
    assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]); // padding trimmed
    assert_eq!(p.payload_wire_len(), 4);
    assert_eq!(p.transport(), Err(DecodeError::Fragment));
}

#[test]
fn ipv4_checked_errors() {
    let trunc = Err(DecodeError::Truncated(Layer::Ipv4));
    let bad = Err(DecodeError::Malformed(Layer::Ipv4));
    assert_eq!(Ipv4Packet::new_checked(&V4[..19]), trunc);
    assert_eq!(Ipv4Packet::new_checked(&V4[..23]), trunc); // inside the options
    let mut p = V4;
    p[3] = 23; // total length shorter than the header
    assert_eq!(Ipv4Packet::new_checked(&p), bad);
    p[3] = 24; // header only: an empty payload is fine here
    assert_eq!(Ipv4Packet::new_checked(&p).unwrap().payload(), &[] as &[u8]);
    // Captured less than the total length: clamped, not an error.
    let p = Ipv4Packet::new_checked(&V4[..26]).unwrap();
    assert_eq!((p.payload(), p.payload_wire_len()), (&[0xaa, 0xbb][..], 4));
}

static V6: [u8; 46] = [
    0x6b, 0x81, 0x23, 0x45, // v6, traffic class 0xb8, flow label 0x12345
    0x00, 0x04, 0x11, 0x01, // payload length 4, UDP, hop limit 1
    0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // fe80::1
    0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb, // ff02::fb
    0xaa, 0xbb, 0xcc, 0xdd, // payload
    0x00, 0x00, // padding
];

#[test]
fn ipv6_deconstruct() {
    let p = Ipv6Packet::new_checked(&V6).unwrap();
    assert_eq!(
        (p.version(), p.traffic_class(), p.flow_label()),
        (6, 0xb8, 0x12345)
    );
    assert_eq!(
        (p.payload_len(), p.next_header(), p.hop_limit()),
        (4, 17, 1)
    );
    assert_eq!(p.src_addr(), "fe80::1".parse::<Ipv6Addr>().unwrap());
    assert_eq!(p.dst_addr(), "ff02::fb".parse::<Ipv6Addr>().unwrap());
    assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
    let t = p.transport().unwrap();
    assert_eq!((t.protocol, t.payload, t.wire_len), (17, p.payload(), 4));
    assert_eq!(
        Ipv6Packet::new_checked(&V6[..39]),
        Err(DecodeError::Truncated(Layer::Ipv6))
    );
}
