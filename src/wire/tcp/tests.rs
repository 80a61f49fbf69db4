//! Tests for [`super::TcpSegment`] on annotated bytes.

use super::*;

/// 5000 → 3478, seq 0x01020304, ack 0x0a0b0c0d, data offset 6 (one 4-byte option), PSH|ACK,
/// then 3 payload bytes.
static SEG: [u8; 27] = [
    0x13, 0x88, 0x0d, 0x96, // ports 5000 → 3478
    0x01, 0x02, 0x03, 0x04, // seq
    0x0a, 0x0b, 0x0c, 0x0d, // ack
    0x60, 0x18, 0xff, 0xff, // offset 6, PSH|ACK, window
    0x00, 0x00, 0x00, 0x00, // checksum, urgent
    0x02, 0x04, 0x05, 0xb4, // option: MSS 1460
    0x40, 0x00, 0x00, // payload
];

#[test]
fn deconstruct() {
    let s = TcpSegment::new_checked(&SEG, SEG.len()).unwrap();
    assert_eq!(s.src_port(), 5000);
    assert_eq!(s.dst_port(), 3478);
    assert_eq!(s.seq_number(), 0x0102_0304);
    assert_eq!(s.ack_number(), 0x0a0b_0c0d);
    assert_eq!(s.header_len(), 24);
    assert_eq!(s.flags(), flags::PSH | flags::ACK);
    assert!(!s.syn() && !s.fin() && !s.rst());
    assert_eq!(s.payload(), &[0x40, 0, 0]);
    assert_eq!(s.payload_wire_len(), 3);
}

#[test]
fn snap_cut_payload_is_not_an_error() {
    let s = TcpSegment::new_checked(&SEG[..25], SEG.len()).unwrap();
    assert_eq!(s.payload(), &[0x40]);
    assert_eq!(s.payload_wire_len(), 3);
}

#[test]
fn errors() {
    assert_eq!(
        TcpSegment::new_checked(&SEG[..19], 27),
        Err(DecodeError::Truncated(Layer::Tcp))
    );
    // Options cut by the snap length.
    assert_eq!(
        TcpSegment::new_checked(&SEG[..22], 27),
        Err(DecodeError::Truncated(Layer::Tcp))
    );
    let mut bad = SEG;
    bad[12] = 0x40; // data offset 4 words: below the minimum
    assert_eq!(
        TcpSegment::new_checked(&bad, 27),
        Err(DecodeError::Malformed(Layer::Tcp))
    );
    // Data offset beyond the IP length.
    assert_eq!(
        TcpSegment::new_checked(&SEG, 22),
        Err(DecodeError::Malformed(Layer::Tcp))
    );
}

#[test]
fn never_panics_on_any_prefix() {
    for n in 0..=SEG.len() {
        for ip_len in 0..40 {
            let _ = TcpSegment::new_checked(&SEG[..n], ip_len);
        }
    }
}
