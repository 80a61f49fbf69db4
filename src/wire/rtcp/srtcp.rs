//! SRTCP detection (RFC 3711 §3.4) for a probe that holds no keys.
//!
//! In SRTCP only the first common header and the sender SSRC are in clear; the rest of the
//! compound is ciphertext, followed by the E flag and 31-bit SRTCP index, then the
//! authentication tag:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|    RC   |   PT=SR or RR   |             length          |  in clear
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         SSRC of sender                        |  in clear
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! :        rest of the compound packet (encrypted if E=1)         :
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |E|                         SRTCP index                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! :                    authentication tag (10, 4 or 16 octets)    :
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! With AEAD (RFC 7714 §9) the tag is inside the ciphertext and the index word is last, so a
//! tag length of 0 is also tried.
//!
//! This is a heuristic, not a proof: it answers "this is not plain RTCP, and it is shaped like
//! SRTCP". Call it on complete datagrams only: a snap-length-cut plain compound does not walk
//! cleanly either and would often be classified as SRTCP.

use super::Header;

/// Authentication tag lengths tried, most common first (HMAC-SHA1-80, -32, 128-bit; AEAD).
const TAG_LENS: [usize; 4] = [10, 4, 16, 0];
/// The E flag and SRTCP index.
const INDEX_LEN: usize = 4;
/// Common header plus sender SSRC, the part in clear.
const CLEAR_LEN: usize = 8;

/// RTCP packet types (RFC 5761 §4: 192–223); a walk through ciphertext rarely stays in range.
fn is_rtcp_packet_type(pt: u8) -> bool {
    (192..=223).contains(&pt)
}

/// The length of the RTCP packet at the start of `buf`, if its header is plausible (V=2, an
/// RTCP packet type) and it fits.
fn plain_packet_len(buf: &[u8]) -> Option<usize> {
    let header = Header::new_checked(buf).ok()?;
    let len = header.packet_len();
    (is_rtcp_packet_type(header.packet_type()) && len <= buf.len()).then_some(len)
}

/// True when `buf` looks like SRTCP rather than plain RTCP.
///
/// Requires a valid first header (V=2, RTCP packet type, at least the sender SSRC, its length
/// fits) followed by at least 8 more octets (index plus the shortest tag); then true when the
/// datagram does not walk cleanly as plain RTCP (a header after the first is implausible, or
/// the lengths do not add up exactly, including a clean walk that leaves a trailer) and the E
/// flag is set in the index word at `len - 4 - tag` for a tag length in {10, 4, 16, 0}.
pub fn is_srtcp(buf: &[u8]) -> bool {
    let Some(first_len) = plain_packet_len(buf) else {
        return false;
    };
    if first_len < CLEAR_LEN || buf.len().saturating_sub(first_len) < CLEAR_LEN {
        return false;
    }
    // Walk as plain RTCP; a walk that consumes everything is plain RTCP.
    let mut rest = buf;
    while !rest.is_empty() {
        match plain_packet_len(rest).and_then(|len| rest.get(len..)) {
            Some(next) => rest = next,
            None => break,
        }
    }
    if rest.is_empty() {
        return false;
    }
    TAG_LENS.iter().any(|&tag| {
        buf.len()
            .checked_sub(INDEX_LEN + tag)
            .filter(|&at| at >= first_len)
            .and_then(|at| buf.get(at))
            .is_some_and(|&b| b & 0x80 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_vectors::{ALL, PLI, RR, SDES, SR};
    use super::*;

    /// xorshift64: deterministic "ciphertext" without dependencies.
    fn noise(seed: &mut u64, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                *seed as u8
            })
            .collect()
    }

    /// Plain compound → SRTCP: header and SSRC kept, the rest replaced by noise, then the
    /// E flag with `index`, then a `tag`-octet tag.
    fn protect(plain: &[u8], seed: &mut u64, index: u32, tag: usize) -> Vec<u8> {
        let mut out = plain[..8].to_vec();
        out.extend(noise(seed, plain.len() - 8));
        out.extend_from_slice(&(0x8000_0000 | index).to_be_bytes()); // E=1 | SRTCP index
        out.extend(noise(seed, tag)); // authentication tag
        out
    }

    #[test]
    fn srtcp_samples_are_detected() {
        let mut seed = 0x2545_f491_4f6c_dd1d;
        let compounds: [Vec<u8>; 3] = [
            [&SR[..], &SDES[..]].concat(),
            [&RR[..], &SDES[..]].concat(),
            RR.to_vec(),
        ];
        for (i, plain) in compounds.iter().enumerate() {
            for index in [1, 2, 1000, 0x7fff_ffff] {
                for tag in [10, 4, 16] {
                    let srtcp = protect(plain, &mut seed, index, tag);
                    assert!(is_srtcp(&srtcp), "compound {i} index {index} tag {tag}");
                }
            }
        }
        // Many random ciphertexts, the common HMAC-SHA1-80 case.
        let plain = [&SR[..], &SDES[..]].concat();
        for index in 0..500 {
            assert!(is_srtcp(&protect(&plain, &mut seed, index, 10)));
        }
    }

    #[test]
    fn aead_srtcp_is_detected() {
        // RFC 7714: ciphertext includes a 16-octet tag; the index word comes last.
        let mut seed = 7;
        let mut srtcp = RR[..8].to_vec();
        srtcp.extend(noise(&mut seed, RR.len() - 8 + 16));
        srtcp.extend_from_slice(&0x8000_0005u32.to_be_bytes());
        assert!(is_srtcp(&srtcp));
    }

    #[test]
    fn plain_compounds_are_not_srtcp() {
        for v in ALL {
            assert!(!is_srtcp(v));
        }
        let mut all = Vec::new();
        for v in ALL {
            all.extend_from_slice(v);
            assert!(!is_srtcp(&all));
        }
        // A clean walk ending with an 8- or 20-octet packet: its first octet (0x80) looks like
        // an E flag, but the datagram is plain.
        assert!(!is_srtcp(
            &[&SR[..], &[0x80, 201, 0, 1, 1, 2, 3, 4][..]].concat()
        ));
        // Not RTCP at all / too short.
        assert!(!is_srtcp(&[]));
        assert!(!is_srtcp(&PLI[..8]));
        // E flag clear: unencrypted SRTCP (or garbage) is not reported.
        let rr0 = [0x80, 201, 0x00, 0x01, 1, 2, 3, 4]; // RR, RC=0
        let mut b = [&rr0[..], &[0x00, 0, 0, 1][..], &[0u8; 10][..]].concat();
        assert!(!is_srtcp(&b));
        b[8] = 0x80;
        assert!(is_srtcp(&b));
    }
}
