//! RTP packet builder (RFC 3550 §5.1) with RFC 8285 header extensions.
//!
//! ```text
//!  0                   1                   2                   3
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers (0..15)     |
//! |  0xBEDE (one-byte) / 0x1000 (two-byte)  |  length in words    |  RFC 8285 §4.2/§4.3
//! |                        extension elements, zero-padded        |
//! |                        payload ...  [padding, last byte = count] |
//! ```
//!
//! This only builds; it never validates what the caller asks for beyond what would make the
//! packet unparseable (element sizes are asserted).

/// An RFC 8285 header extension block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderExt {
    /// One-byte header form (§4.2): ids 1..=14, 1..=16 data bytes per element.
    OneByte(Vec<(u8, Vec<u8>)>),
    /// Two-byte header form (§4.3): ids 1..=255, 0..=255 data bytes per element.
    TwoByte(Vec<(u8, Vec<u8>)>),
}

/// The fixed header fields of one RTP packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpHeader {
    pub payload_type: u8,
    pub marker: bool,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub csrcs: Vec<u32>,
    pub ext: Option<HeaderExt>,
    /// Number of padding bytes to append (0 = no P bit); the last one holds the count.
    pub padding: u8,
}

/// Append the RTP packet for `h` and `payload` to `out`.
///
/// # Panics
/// On more than 15 CSRCs or an extension element that the chosen form cannot encode.
pub fn write_rtp(out: &mut Vec<u8>, h: &RtpHeader, payload: &[u8]) {
    assert!(h.csrcs.len() <= 15, "at most 15 CSRCs");
    let b0 = 0x80
        | if h.padding > 0 { 0x20 } else { 0 }
        | if h.ext.is_some() { 0x10 } else { 0 }
        | h.csrcs.len() as u8;
    out.push(b0);
    out.push((h.payload_type & 0x7f) | if h.marker { 0x80 } else { 0 });
    out.extend_from_slice(&h.seq.to_be_bytes());
    out.extend_from_slice(&h.timestamp.to_be_bytes());
    out.extend_from_slice(&h.ssrc.to_be_bytes());
    for c in &h.csrcs {
        out.extend_from_slice(&c.to_be_bytes());
    }
    if let Some(ext) = &h.ext {
        let start = out.len();
        out.extend_from_slice(&[0, 0, 0, 0]);
        let profile: u16 = match ext {
            HeaderExt::OneByte(elems) => {
                for (id, data) in elems {
                    assert!((1..=14).contains(id) && (1..=16).contains(&data.len()));
                    out.push((id << 4) | (data.len() as u8 - 1));
                    out.extend_from_slice(data);
                }
                0xBEDE
            }
            HeaderExt::TwoByte(elems) => {
                for (id, data) in elems {
                    assert!(*id >= 1 && data.len() <= 255);
                    out.push(*id);
                    out.push(data.len() as u8);
                    out.extend_from_slice(data);
                }
                0x1000
            }
        };
        while (out.len() - start) % 4 != 0 {
            out.push(0);
        }
        let words = ((out.len() - start - 4) / 4) as u16;
        out[start..start + 2].copy_from_slice(&profile.to_be_bytes());
        out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
    }
    out.extend_from_slice(payload);
    if h.padding > 0 {
        out.resize(out.len() + h.padding as usize - 1, 0);
        out.push(h.padding);
    }
}

/// The RTP packet for `h` and `payload` as a new buffer.
pub fn rtp_packet(h: &RtpHeader, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + 4 * h.csrcs.len() + payload.len() + 32);
    write_rtp(&mut out, h, payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_header_byte_exact() {
        let h = RtpHeader {
            payload_type: 96,
            marker: true,
            seq: 0xfffe,
            timestamp: 0xffff_ff00,
            ssrc: 0x1122_3344,
            ..Default::default()
        };
        #[rustfmt::skip]
        let want = [
            0x80, 0xe0,             // V=2, M=1, PT=96
            0xff, 0xfe,             // seq
            0xff, 0xff, 0xff, 0x00, // timestamp
            0x11, 0x22, 0x33, 0x44, // SSRC
            0xaa,                   // payload
        ];
        assert_eq!(rtp_packet(&h, &[0xaa]), want);
    }

    #[test]
    fn csrc_one_byte_ext_and_padding() {
        let h = RtpHeader {
            payload_type: 0,
            seq: 1,
            ssrc: 5,
            csrcs: vec![7, 8],
            ext: Some(HeaderExt::OneByte(vec![
                (1, vec![0x30]),
                (3, vec![1, 2, 3]),
            ])),
            padding: 3,
            ..Default::default()
        };
        let p = rtp_packet(&h, &[9, 9]);
        assert_eq!(p[0], 0x80 | 0x20 | 0x10 | 2);
        #[rustfmt::skip]
        assert_eq!(&p[20..32], &[
            0xbe, 0xde, 0, 2,       // one-byte profile, 2 words
            0x10, 0x30,             // id 1, len 1
            0x32, 1, 2, 3,          // id 3, len 3
            0, 0,                   // pad to word
        ]);
        assert_eq!(&p[32..], &[9, 9, 0, 0, 3]);
    }

    #[test]
    fn two_byte_ext() {
        let h = RtpHeader {
            ext: Some(HeaderExt::TwoByte(vec![
                (200, vec![]),
                (2, vec![1, 2, 3, 4, 5]),
            ])),
            ..Default::default()
        };
        let p = rtp_packet(&h, &[]);
        #[rustfmt::skip]
        assert_eq!(&p[12..], &[0x10, 0x00, 0, 3, 200, 0, 2, 5, 1, 2, 3, 4, 5, 0, 0, 0]);
    }
}
