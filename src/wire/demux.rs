//! Demultiplexing a UDP payload: RFC 7983 first-byte ranges, RFC 5761 RTP/RTCP mux, and one
//! level of TURN unwrapping (RFC 8656).
//!
//! A WebRTC-style 5-tuple carries STUN, DTLS, TURN ChannelData, RTP and RTCP together. RFC 7983
//! §7 splits them on the first byte:
//!
//! ```text
//!              +----------------+
//!              |        [0..3] -+--> STUN
//!              |      [16..19] -+--> ZRTP
//!  packet -->  |      [20..63] -+--> DTLS
//!              |      [64..79] -+--> TURN ChannelData
//!              |    [128..191] -+--> RTP / RTCP
//!              +----------------+
//! ```
//!
//! and RFC 5761 §4 splits RTP from RTCP on the second byte: RTCP packet types 192..=223 fall where
//! an RTP marker bit plus payload type 64..=95 would, a range RTP must not use when muxed.
//!
//! This module only classifies: it does not parse RTP or RTCP (see [`super::rtp`], [`super::rtcp`])
//! and does not decrypt DTLS or SRTP. TURN wrappers are unwrapped once; a wrapper inside a
//! wrapper is [`Demuxed::Unknown`].

use super::stun::{self, Class, Message};

/// What a UDP payload (or the data inside a TURN wrapper) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demuxed<'a> {
    /// First byte 128..=191 (version 2), second byte not in 192..=223, at least the 12-byte
    /// fixed header.
    Rtp(&'a [u8]),
    /// First byte 128..=191, second byte (packet type) in 192..=223 (RFC 5761 §4), at least the
    /// header and sender SSRC (8 bytes).
    Rtcp(&'a [u8]),
    /// First byte 0..=3 and a valid STUN header (magic cookie, length).
    Stun(Message<'a>),
    /// A DTLS record (RFC 7983 §7 first byte 20..=63, with a plausible record header).
    Dtls,
    /// First byte 16..=19: ZRTP (RFC 6189).
    Zrtp,
    /// Anything else, including too-short RTP/RTCP, invalid STUN and nested TURN wrappers.
    Unknown,
}

/// How the classified data reached us through a TURN server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// A ChannelData message (RFC 8656 §12.4) on `channel` (0x4000..=0x4FFF).
    ChannelData { channel: u16 },
    /// A STUN Data indication (RFC 8656 §11.6): server to client.
    DataIndication,
    /// A STUN Send indication (RFC 8656 §11.3): client to server.
    SendIndication,
}

/// A classified payload: what is inside and, if it was relayed, how it was wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified<'a> {
    pub inner: Demuxed<'a>,
    pub turn: Option<Turn>,
}

/// Classify a UDP payload. TURN ChannelData (first byte 64..=79, RFC 8656 §12.4: channel number,
/// length, data) and STUN Send/Data indications (RFC 8656 §10/§11, DATA attribute 0x0013) are
/// unwrapped ONCE and the inner data classified; `turn` says how it was wrapped.
///
/// A ChannelData length beyond the captured bytes is clamped, like any snap-length cut: the inner
/// data is then a prefix. A ChannelData header shorter than 4 bytes is [`Demuxed::Unknown`].
pub fn classify(payload: &[u8]) -> Classified<'_> {
    let direct = |inner| Classified { inner, turn: None };
    match payload {
        //  0                   1                   2                   3
        //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
        // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        // |         Channel Number        |            Length             |
        // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        // |                   Application Data …                          |
        // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        [64..=79, ..] => match payload.split_first_chunk::<4>() {
            Some((&[c0, c1, l0, l1], rest)) => {
                let len = usize::from(u16::from_be_bytes([l0, l1]));
                let data = rest.get(..len).unwrap_or(rest);
                Classified {
                    inner: demux(data),
                    turn: Some(Turn::ChannelData {
                        channel: u16::from_be_bytes([c0, c1]),
                    }),
                }
            }
            None => direct(Demuxed::Unknown),
        },
        _ => match demux(payload) {
            Demuxed::Stun(m) => {
                let turn = match (m.class(), m.method()) {
                    (Class::Indication, stun::SEND) => Some(Turn::SendIndication),
                    (Class::Indication, stun::DATA) => Some(Turn::DataIndication),
                    _ => None,
                };
                match (turn, m.data()) {
                    (Some(turn), Some(data)) => Classified {
                        inner: demux(data),
                        turn: Some(turn),
                    },
                    _ => direct(Demuxed::Stun(m)),
                }
            }
            other => direct(other),
        },
    }
}

/// RFC 7983 gives DTLS the whole first-byte range 20..=63, but other UDP protocols start there
/// too (SNMP's BER SEQUENCE is 0x30), so a record is only counted as DTLS when it looks like one:
/// a DTLSPlaintext header (RFC 6347 §4.1: content type 20..=25, version major 0xFE, 13 bytes)
/// or a DTLS 1.3 unified header (RFC 9147 §4: 0b001CSLEE) that is not a BER SEQUENCE.
fn is_dtls(payload: &[u8]) -> bool {
    match payload {
        [20..=25, 0xfe, ..] => payload.len() >= 13,
        [0x30, ..] => false,
        [32..=63, _, ..] => true,
        _ => false,
    }
}

/// Classify bytes by RFC 7983 / RFC 5761 alone, without unwrapping TURN: a ChannelData message
/// is [`Demuxed::Unknown`] here, a Send/Data indication is [`Demuxed::Stun`].
pub fn demux(payload: &[u8]) -> Demuxed<'_> {
    match payload {
        [0..=3, ..] => Message::new_checked(payload).map_or(Demuxed::Unknown, Demuxed::Stun),
        [16..=19, ..] => Demuxed::Zrtp,
        [20..=63, ..] if is_dtls(payload) => Demuxed::Dtls,
        [128..=191, 192..=223, ..] if payload.len() >= 8 => Demuxed::Rtcp(payload),
        [128..=191, 192..=223, ..] => Demuxed::Unknown,
        [128..=191, ..] if payload.len() >= 12 => Demuxed::Rtp(payload),
        _ => Demuxed::Unknown,
    }
}

#[cfg(test)]
mod tests {
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
        0x80, 0x60, 0x12, 0x34, 0x00, 0x00, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, 0xaa,
        0xbb, // RTP
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
}
