//! Tests of [`super`] on annotated byte arrays.

use super::*;

static RTP: [u8; 14] = [
    0x80, // V=2
    0x60, // M=0, PT=96
    0x12, 0x34, // sequence number
    0x00, 0x00, 0x00, 0x01, // timestamp
    0xde, 0xad, 0xbe, 0xef, // SSRC
    0xaa, 0xbb, // payload
];

static RTCP_RR: [u8; 8] = [
    0x80, // V=2, RC=0
    0xc9, // PT=201 RR
    0x00, 0x01, // length 1 word
    0xde, 0xad, 0xbe, 0xef, // SSRC of sender
];

/// A Data indication carrying RTP, with XOR-PEER-ADDRESS 192.0.2.1:32853.
static DATA_INDICATION: [u8; 52] = [
    0x00, 0x17, // Data indication
    0x00, 0x20, // length 32
    0x21, 0x12, 0xa4, 0x42, // magic cookie
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // transaction ID
    0x00, 0x12, 0x00, 0x08, // XOR-PEER-ADDRESS, length 8
    0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, //   IPv4 192.0.2.1:32853
    0x00, 0x13, 0x00, 0x0e, // DATA, length 14
    0x80, 0x60, 0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, 0xaa, 0xbb, // RTP
    0x00, 0x00, // padding
];

#[test]
fn rfc7983_ranges() {
    let mut buf = [0u8; 64];
    for first in 0..=255u8 {
        buf[0] = first;
        buf[1] = if (20..=25).contains(&first) {
            0xfe
        } else {
            0x60
        };
        let got = classify(&buf);
        assert_eq!(got.turn.is_some(), (64..=79).contains(&first), "{first}");
        let expected = match first {
            16..=19 => Demuxed::Zrtp,
            20..=25 | 32..=47 | 49..=63 => Demuxed::Dtls,
            128..=191 => Demuxed::Rtp(&buf),
            _ => Demuxed::Unknown, // 0..=3 fails the cookie; 64..=79 wraps zeros
        };
        assert_eq!(got.inner, expected, "{first}");
    }
}

#[test]
fn rfc5766_channels_need_a_fitting_length() {
    // coturn's channel 0x7d37 (RFC 5766: up to 0x7FFF): a length that fits, padded or not.
    for pad in [0usize, 2] {
        let mut cd = vec![0x7d, 0x37, 0x00, RTP.len() as u8];
        cd.extend_from_slice(&RTP);
        cd.resize(cd.len() + pad, 0);
        let got = classify(&cd);
        assert_eq!(got.turn, Some(Turn::ChannelData { channel: 0x7d37 }));
        assert_eq!(got.inner, Demuxed::Rtp(&RTP));
    }
    // First byte 80..=127 with a length that does not fit (a QUIC short header, RFC 9443) is
    // not ChannelData; nor is one 4 bytes short of its padding.
    let mut quic = vec![0x5a, 0x11, 0x00, 0x08];
    quic.extend_from_slice(&RTP);
    assert_eq!(classify(&quic).turn, None);
    let mut long = vec![0x50, 0x00, 0x00, 0x04];
    long.extend_from_slice(&[0x80; 8]);
    assert_eq!(classify(&long).turn, None);
}

#[test]
fn dtls_needs_a_record_header() {
    // DTLS 1.2 handshake record header: type 22, version 0xFEFD, epoch, seq, length.
    let hello = [22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20];
    assert_eq!(classify(&hello).inner, Demuxed::Dtls);
    assert_eq!(classify(&hello[..12]).inner, Demuxed::Unknown);
    // SNMP GetRequest: BER SEQUENCE (0x30) with a length.
    assert_eq!(
        classify(&[0x30, 0x26, 0x02, 0x01, 0x01]).inner,
        Demuxed::Unknown
    );
    // Content type 22 without the DTLS version major.
    assert_eq!(
        classify(&[22, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).inner,
        Demuxed::Unknown
    );
}

#[test]
fn rfc5761_rtp_rtcp_split() {
    assert_eq!(classify(&RTP).inner, Demuxed::Rtp(&RTP));
    assert_eq!(classify(&RTCP_RR).inner, Demuxed::Rtcp(&RTCP_RR));
    let mut marker = RTP;
    marker[1] = 0xe0; // M=1, PT=96
    assert_eq!(classify(&marker).inner, Demuxed::Rtp(&marker));
    let mut sr = RTCP_RR;
    sr[1] = 0xc8; // PT=200 SR
    assert_eq!(classify(&sr).inner, Demuxed::Rtcp(&sr));
    for pt in [192u8, 223] {
        let mut rtcp = RTCP_RR;
        rtcp[1] = pt;
        assert_eq!(demux(&rtcp), Demuxed::Rtcp(&rtcp));
    }
    let mut rtp = RTP;
    rtp[1] = 0xe0 | 0x40; // M=1, PT=96+64=224 → outside the RTCP range
    assert_eq!(demux(&rtp), Demuxed::Rtp(&rtp));
}

#[test]
fn too_short_rtp_and_rtcp_are_unknown() {
    assert_eq!(demux(&RTP[..11]), Demuxed::Unknown);
    assert_eq!(demux(&RTCP_RR[..7]), Demuxed::Unknown);
    assert_eq!(demux(&[0x80]), Demuxed::Unknown);
    assert_eq!(demux(&[]), Demuxed::Unknown);
}

#[test]
fn channel_data_unwraps_once() {
    let mut cd = vec![0x40, 0x01, 0x00, 0x0e]; // channel 0x4001, length 14
    cd.extend_from_slice(&RTP);
    cd.extend_from_slice(&[0, 0]); // padding (optional over UDP)
    let got = classify(&cd);
    assert_eq!(got.turn, Some(Turn::ChannelData { channel: 0x4001 }));
    assert_eq!(got.inner, Demuxed::Rtp(&RTP));

    let mut rtcp = vec![0x4f, 0xff, 0x00, 0x08]; // channel 0x4fff, length 8
    rtcp.extend_from_slice(&RTCP_RR);
    assert_eq!(classify(&rtcp).inner, Demuxed::Rtcp(&RTCP_RR));

    // Nested ChannelData is not unwrapped again.
    let mut nested = vec![0x40, 0x02, 0x00, 0x14];
    nested.extend_from_slice(&cd);
    assert_eq!(classify(&nested).inner, Demuxed::Unknown);

    // Snap-cut data: the inner bytes are a prefix.
    let got = classify(&cd[..16]);
    assert_eq!(got.inner, Demuxed::Rtp(&RTP[..12]));

    // Header cut.
    let got = classify(&cd[..3]);
    assert_eq!((got.inner, got.turn), (Demuxed::Unknown, None));
}

#[test]
fn data_and_send_indications_unwrap() {
    let got = classify(&DATA_INDICATION);
    assert_eq!(got.turn, Some(Turn::DataIndication));
    assert_eq!(got.inner, Demuxed::Rtp(&RTP));

    let mut send = DATA_INDICATION;
    send[1] = 0x16; // Send indication
    let got = classify(&send);
    assert_eq!(got.turn, Some(Turn::SendIndication));
    assert_eq!(got.inner, Demuxed::Rtp(&RTP));
    match demux(&send) {
        Demuxed::Stun(m) => {
            assert_eq!(
                m.xor_peer_address(),
                Some("192.0.2.1:32853".parse().unwrap())
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn indication_without_data_stays_stun() {
    let mut no_data = DATA_INDICATION;
    no_data[3] = 0x0c; // length 12: only XOR-PEER-ADDRESS
    let got = classify(&no_data);
    assert_eq!(got.turn, None);
    assert!(matches!(got.inner, Demuxed::Stun(m) if m.method() == stun::DATA));
}

#[test]
fn stun_inside_data_indication_is_classified() {
    // An ICE check relayed through TURN: a Binding request inside DATA.
    let mut relayed = vec![
        0x00, 0x17, 0x00, 0x18, // Data indication, length 24
        0x21, 0x12, 0xa4, 0x42, // magic cookie
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // transaction ID
        0x00, 0x13, 0x00, 0x14, // DATA, length 20
        0x00, 0x01, 0x00, 0x00, // Binding request, no attributes
        0x21, 0x12, 0xa4, 0x42, // magic cookie
    ];
    relayed.extend_from_slice(&[0xaa; 12]); // inner transaction ID
    let got = classify(&relayed);
    assert_eq!(got.turn, Some(Turn::DataIndication));
    assert!(matches!(got.inner, Demuxed::Stun(m) if m.method() == stun::BINDING));
}
