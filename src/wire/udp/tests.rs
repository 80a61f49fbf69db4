//! Tests of [`super`] on annotated byte arrays.

use super::*;

static DATAGRAM: [u8; 14] = [
    0x13, 0x88, // source port 5000
    0x4e, 0x20, // destination port 20000
    0x00, 0x0c, // length 12
    0xab, 0xcd, // checksum
    0xde, 0xad, 0xbe, 0xef, // payload
    0x00, 0x00, // trailing bytes beyond the length field
];

#[test]
fn deconstruct() {
    let udp = UdpPacket::new_checked(&DATAGRAM).unwrap();
    assert_eq!(udp.src_port(), 5000);
    assert_eq!(udp.dst_port(), 20000);
    assert_eq!(udp.length(), 12);
    assert_eq!(udp.checksum(), 0xabcd);
    assert_eq!(udp.payload(), &[0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(udp.payload_wire_len(), 4);
}

#[test]
fn snap_cut_payload_keeps_wire_len() {
    let udp = UdpPacket::new_checked(&DATAGRAM[..10]).unwrap();
    assert_eq!(udp.payload(), &[0xde, 0xad]);
    assert_eq!(udp.payload_wire_len(), 4);
}

#[test]
fn header_errors() {
    assert_eq!(
        UdpPacket::new_checked(&DATAGRAM[..7]),
        Err(DecodeError::Truncated(Layer::Udp))
    );
    let short = [0x13, 0x88, 0x4e, 0x20, 0x00, 0x07, 0x00, 0x00]; // length 7
    assert_eq!(
        UdpPacket::new_checked(&short),
        Err(DecodeError::Malformed(Layer::Udp))
    );
    let empty = [0x13, 0x88, 0x4e, 0x20, 0x00, 0x08, 0x00, 0x00]; // length 8: no payload
    let udp = UdpPacket::new_checked(&empty).unwrap();
    assert_eq!((udp.payload(), udp.payload_wire_len()), (&[][..], 0));
}
