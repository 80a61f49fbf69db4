//! Tests of [`super`] on annotated byte arrays.

use super::*;

// V=2 P=0 X=0 CC=2, M=1 PT=96, seq, ts, ssrc, 2 CSRCs, payload.
const WITH_CSRCS: [u8; 23] = [
    0x82, 0xe0, 0x12, 0x34, // V=2 CC=2 | M=1 PT=96 | SEQ=0x1234
    0x00, 0x01, 0x00, 0x00, // TS=65536
    0xde, 0xad, 0xbe, 0xef, // SSRC
    0x00, 0x00, 0x00, 0x01, // CSRC 1
    0x00, 0x00, 0x00, 0x02, // CSRC 2
    0xaa, 0xbb, 0xcc, // payload
];

// V=2 P=1 CC=0, PT=0, 2 payload octets then 3 padding octets.
const WITH_PADDING: [u8; 17] = [
    0xa0, 0x00, 0x00, 0x07, // V=2 P=1 | PT=0 | SEQ=7
    0x00, 0x00, 0x00, 0xa0, // TS=160
    0x00, 0x00, 0x00, 0x2a, // SSRC=42
    0x11, 0x22, // payload
    0x00, 0x00, 0x03, // padding, count=3
];

// V=2 X=1, one-byte form (0xBEDE), length 2 words.
const ONE_BYTE_EXT: [u8; 26] = [
    0x90, 0x6f, 0x00, 0x01, // V=2 X=1 | PT=111 | SEQ=1
    0x00, 0x00, 0x00, 0x00, // TS
    0x00, 0x00, 0x00, 0x01, // SSRC=1
    0xbe, 0xde, 0x00, 0x02, // profile=0xBEDE, length=2 words
    0x10, 0x80, // ID=1 L=0 (1 octet): audio level 0x80
    0x00, // padding (ID 0)
    0x22, 0x01, 0x02, 0x03, // ID=2 L=2 (3 octets)
    0x00, // padding
    0xfe, 0xff, // payload
];

// V=2 X=1, two-byte form (0x1000), length 2 words.
const TWO_BYTE_EXT: [u8; 25] = [
    0x90, 0x60, 0x00, 0x02, // V=2 X=1 | PT=96 | SEQ=2
    0x00, 0x00, 0x00, 0x00, // TS
    0x00, 0x00, 0x00, 0x02, // SSRC=2
    0x10, 0x00, 0x00, 0x02, // profile=0x1000, length=2 words
    0x03, 0x00, // ID=3 len=0
    0x00, // padding
    0x04, 0x03, 0x61, 0x62, 0x63, // ID=4 len=3 "abc"
    0x99, // payload
];

#[test]
fn fixed_header_and_csrcs() {
    let p = Packet::new_checked(&WITH_CSRCS).unwrap();
    assert_eq!(p.version(), 2);
    assert!(!p.padding());
    assert!(!p.extension());
    assert_eq!(p.csrc_count(), 2);
    assert!(p.marker());
    assert_eq!(p.payload_type(), 96);
    assert_eq!(p.sequence_number(), 0x1234);
    assert_eq!(p.timestamp(), 65536);
    assert_eq!(p.ssrc(), 0xdead_beef);
    assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![1, 2]);
    assert!(p.header_extension().is_none());
    assert_eq!(p.header_len(), 20);
    assert_eq!(p.payload(), &[0xaa, 0xbb, 0xcc]);
}

#[test]
fn padding_is_removed_when_strict() {
    let p = Packet::new_checked(&WITH_PADDING).unwrap();
    assert!(p.padding());
    assert!(!p.marker());
    assert_eq!(p.payload_type(), 0);
    assert_eq!(p.sequence_number(), 7);
    assert_eq!(p.timestamp(), 160);
    assert_eq!(p.ssrc(), 42);
    assert_eq!(p.padding_len(), 3);
    assert_eq!(p.payload(), &[0x11, 0x22]);
    let h = Packet::new_header_only(&WITH_PADDING).unwrap();
    assert_eq!(h.padding_len(), 0);
    assert_eq!(h.payload().len(), 5);
}

#[test]
fn bad_padding() {
    let mut b = WITH_PADDING;
    b[16] = 6; // count larger than the 5-octet payload
    assert_eq!(Packet::new_checked(&b).unwrap_err(), RtpError::BadPadding);
    b[16] = 0; // zero count is impossible: it counts itself
    assert_eq!(Packet::new_checked(&b).unwrap_err(), RtpError::BadPadding);
    // A truncated packet still parses its header.
    assert_eq!(
        Packet::new_checked(&b[..13]).unwrap_err(),
        RtpError::BadPadding
    );
    let h = Packet::new_header_only(&b[..13]).unwrap();
    assert_eq!(h.ssrc(), 42);
    assert_eq!(h.payload(), &[0x11]);
    // P set and no payload at all.
    assert_eq!(
        Packet::new_checked(&b[..12]).unwrap_err(),
        RtpError::BadPadding
    );
    let e = RtpError::BadPadding;
    assert_eq!(e.reason(), "rtp_bad_padding");
}

#[test]
fn errors() {
    assert_eq!(Packet::new_checked(&[]).unwrap_err(), RtpError::Truncated);
    assert_eq!(
        Packet::new_checked(&WITH_CSRCS[..11]).unwrap_err(),
        RtpError::Truncated
    );
    // CSRC list cut.
    assert_eq!(
        Packet::new_checked(&WITH_CSRCS[..19]).unwrap_err(),
        RtpError::Truncated
    );
    assert!(Packet::new_checked(&WITH_CSRCS[..20]).is_ok());
    // Extension header cut, then extension data cut.
    assert_eq!(
        Packet::new_checked(&ONE_BYTE_EXT[..14]).unwrap_err(),
        RtpError::Truncated
    );
    assert_eq!(
        Packet::new_checked(&ONE_BYTE_EXT[..23]).unwrap_err(),
        RtpError::Truncated
    );
    assert!(Packet::new_checked(&ONE_BYTE_EXT[..24]).is_ok());
    let mut b = WITH_CSRCS;
    b[0] = 0x42; // V=1
    assert_eq!(Packet::new_checked(&b).unwrap_err(), RtpError::BadVersion);
    assert_eq!(RtpError::BadVersion.reason(), "rtp_bad_version");
    assert_eq!(RtpError::Truncated.reason(), "rtp_truncated");
}

#[test]
fn one_byte_extension() {
    let p = Packet::new_checked(&ONE_BYTE_EXT).unwrap();
    assert!(p.extension());
    assert_eq!(p.payload_type(), 111);
    assert_eq!(p.header_len(), 24);
    assert_eq!(p.payload(), &[0xfe, 0xff]);
    let ext = p.header_extension().unwrap();
    assert_eq!(ext.profile(), PROFILE_ONE_BYTE);
    assert_eq!(ext.data().len(), 8);
    let els: Vec<_> = ext.elements().collect();
    assert_eq!(els, vec![(1, &[0x80][..]), (2, &[1, 2, 3][..])]);
}

#[test]
fn one_byte_extension_id15_stops_and_overrun_stops() {
    let mut b = ONE_BYTE_EXT;
    b[18] = 0xf0; // ID=15 where the padding octet was
    let p = Packet::new_checked(&b).unwrap();
    let els: Vec<_> = p.header_extension().unwrap().elements().collect();
    assert_eq!(els, vec![(1, &[0x80][..])]);
    b[18] = 0x00;
    b[19] = 0x2f; // ID=2 L=15: 16 octets do not fit
    let p = Packet::new_checked(&b).unwrap();
    assert_eq!(p.header_extension().unwrap().elements().count(), 1);
}

#[test]
fn two_byte_extension() {
    let p = Packet::new_checked(&TWO_BYTE_EXT).unwrap();
    let ext = p.header_extension().unwrap();
    assert_eq!(ext.profile(), 0x1000);
    let els: Vec<_> = ext.elements().collect();
    assert_eq!(els, vec![(3, &[][..]), (4, &b"abc"[..])]);
    assert_eq!(p.payload(), &[0x99]);
    // Appbits in the low nibble still mean two-byte form.
    let mut b = TWO_BYTE_EXT;
    b[13] = 0x05;
    let p = Packet::new_checked(&b).unwrap();
    assert_eq!(p.header_extension().unwrap().elements().count(), 2);
    // Unknown profile: opaque.
    b[12] = 0x12;
    let p = Packet::new_checked(&b).unwrap();
    assert_eq!(p.header_extension().unwrap().elements().count(), 0);
}

fn exercise(buf: &[u8]) {
    for p in [Packet::new_checked(buf), Packet::new_header_only(buf)]
        .into_iter()
        .flatten()
    {
        let _ = (p.version(), p.padding(), p.marker(), p.payload_type());
        let _ = (p.sequence_number(), p.timestamp(), p.ssrc());
        assert!(p.csrcs().count() <= 15);
        assert!(p.header_len() + p.payload().len() <= buf.len());
        if let Some(ext) = p.header_extension() {
            let _ = (ext.profile(), ext.data());
            for (id, data) in ext.elements() {
                assert!(id != 0 && data.len() <= ext.data().len());
            }
        }
    }
}

#[test]
fn never_panics() {
    let vectors: [&[u8]; 4] = [&WITH_CSRCS, &WITH_PADDING, &ONE_BYTE_EXT, &TWO_BYTE_EXT];
    for v in vectors {
        for n in 0..=v.len() {
            exercise(&v[..n]);
        }
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..100_000 {
        let mut b = vectors[i % vectors.len()].to_vec();
        for _ in 0..=(next() % 4) {
            let r = next();
            let at = (r as usize >> 8) % b.len();
            b[at] = r as u8;
        }
        let cut = (next() as usize) % (b.len() + 1);
        exercise(&b[..cut]);
        exercise(&b);
    }
}
