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
//! (80..=127 is ChannelData too, on RFC 5766's wider channel range, when its length fits: see
//! [`classify`]), and RFC 5761 §4 splits RTP from RTCP on the second byte: RTCP packet types
//! 192..=223 fall where an RTP marker bit plus payload type 64..=95 would, a range RTP must not
//! use when muxed.
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
    /// A ChannelData message (RFC 8656 §12.4) on `channel` (0x4000..=0x7FFF: see
    /// [`classify`]).
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
///
/// RFC 8656 narrowed channel numbers to 0x4000..=0x4FFF, but RFC 5766's range, 0x4000..=0x7FFF,
/// is still what coturn binds and relays (its `turnutils_uclient` picks channels up to 0x7FFF;
/// the TURN lab, docs/lab.md). First bytes 80..=127 are unassigned in RFC 7983 but QUIC short
/// headers (RFC 9443) start there too, so they count as ChannelData only when the length field
/// fits the datagram exactly (up to 3 bytes of padding): a QUIC connection ID rarely does.
#[inline]
pub fn classify(payload: &[u8]) -> Classified<'_> {
    let direct = |inner| Classified { inner, turn: None };
    if let Some((&[80..=127, _, l0, l1], rest)) = payload.split_first_chunk::<4>() {
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if !(len <= rest.len() && rest.len() - len <= 3) {
            return direct(demux(payload));
        }
    }
    match payload {
        //  0                   1                   2                   3
        //  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
        // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        // |         Channel Number        |            Length             |
        // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        // |                   Application Data …                          |
        // +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        [64..=127, ..] => match payload.split_first_chunk::<4>() {
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
#[path = "demux/tests.rs"]
mod tests;
