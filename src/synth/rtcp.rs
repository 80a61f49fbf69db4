//! RTCP packet builders: SR, RR, SDES, BYE, APP (RFC 3550 §6.4–6.7), XR (RFC 3611), generic
//! NACK / PLI / FIR (RFC 4585 §6.2.1, §6.3.1; RFC 5104 §4.3.1), transport-wide CC
//! (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1), REMB
//! (draft-alvestrand-rmcat-remb-03 §2.2), compound assembly (§6.1) and SRTCP-shaped datagrams
//! (RFC 3711 §3.4).
//!
//! Every packet starts with the common header, and `length` is the size in 32-bit words
//! minus one:
//!
//! ```text
//! |V=2|P| RC/FMT  |      PT       |             length            |
//! ```
//!
//! NTP helpers live here too because SR/XR timestamps and LSR/DLSR arithmetic are RTCP's.

use super::rng::Rng;

/// Seconds between the NTP era 0 epoch (1900) and the Unix epoch (1970), RFC 868.
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// 64-bit NTP timestamp (RFC 5905 §6) for a Unix-epoch time in nanoseconds (>= 0).
/// The fraction is rounded down, so converting back loses under 1 ns.
pub fn ntp_from_unix_ns(ns: i64) -> u64 {
    let secs = ns.div_euclid(1_000_000_000) as u64 + NTP_UNIX_OFFSET_SECS;
    let frac = ((ns.rem_euclid(1_000_000_000) as u128) << 32) / 1_000_000_000;
    (secs << 32) | frac as u64
}

/// The middle 32 bits of an NTP timestamp: what LSR / LRR carry (RFC 3550 §6.4.1).
pub fn ntp_mid32(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// Nanoseconds in `units` of 1/65536 s (DLSR / DLRR units), exact when `units % 128 == 0`
/// because 10^9 / 65536 = 1953125 / 128.
pub fn dlsr_units_to_ns(units: u32) -> i64 {
    (units as i64 * 1_953_125) / 128
}

/// One reception report block (RFC 3550 §6.4.1), 24 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    pub ssrc: u32,
    pub fraction_lost: u8,
    /// Signed 24-bit on the wire; clamped to its range.
    pub cumulative_lost: i32,
    pub ext_highest_seq: u32,
    pub jitter: u32,
    pub lsr: u32,
    pub dlsr: u32,
}

/// The sender-info section of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    pub ntp: u64,
    pub rtp_ts: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// Start a packet: header with a zero length to patch in [`finish`].
fn begin(out: &mut Vec<u8>, count: u8, pt: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0x80 | (count & 0x1f), pt, 0, 0]);
    start
}

/// Zero-pad to a word boundary and write the length field (words − 1).
fn finish(out: &mut Vec<u8>, start: usize) {
    while (out.len() - start) % 4 != 0 {
        out.push(0);
    }
    let words = ((out.len() - start) / 4 - 1) as u16;
    out[start + 2..start + 4].copy_from_slice(&words.to_be_bytes());
}

fn put_blocks(out: &mut Vec<u8>, blocks: &[ReportBlock]) {
    for b in blocks {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        let cl = b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff;
        out.extend_from_slice(&((u32::from(b.fraction_lost) << 24) | cl).to_be_bytes());
        out.extend_from_slice(&b.ext_highest_seq.to_be_bytes());
        out.extend_from_slice(&b.jitter.to_be_bytes());
        out.extend_from_slice(&b.lsr.to_be_bytes());
        out.extend_from_slice(&b.dlsr.to_be_bytes());
    }
}

/// Sender Report, PT=200 (§6.4.1). At most 31 blocks.
pub fn sr(ssrc: u32, info: &SenderInfo, blocks: &[ReportBlock]) -> Vec<u8> {
    let mut out = Vec::with_capacity(28 + 24 * blocks.len());
    let s = begin(&mut out, blocks.len() as u8, 200);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&info.ntp.to_be_bytes());
    out.extend_from_slice(&info.rtp_ts.to_be_bytes());
    out.extend_from_slice(&info.packet_count.to_be_bytes());
    out.extend_from_slice(&info.octet_count.to_be_bytes());
    put_blocks(&mut out, blocks);
    finish(&mut out, s);
    out
}

/// Receiver Report, PT=201 (§6.4.2). RC=0 is the usual head of a feedback-only compound.
pub fn rr(ssrc: u32, blocks: &[ReportBlock]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 24 * blocks.len());
    let s = begin(&mut out, blocks.len() as u8, 201);
    out.extend_from_slice(&ssrc.to_be_bytes());
    put_blocks(&mut out, blocks);
    finish(&mut out, s);
    out
}

/// SDES, PT=202 (§6.5), one chunk with a CNAME item, null-terminated and padded.
pub fn sdes_cname(ssrc: u32, cname: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + cname.len());
    let s = begin(&mut out, 1, 202);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(1); // CNAME
    out.push(cname.len().min(255) as u8);
    out.extend_from_slice(&cname.as_bytes()[..cname.len().min(255)]);
    out.push(0); // end of item list; `finish` pads with more zeros
    finish(&mut out, s);
    out
}

/// BYE, PT=203 (§6.6), with an optional reason.
pub fn bye(ssrcs: &[u32], reason: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    let s = begin(&mut out, ssrcs.len() as u8, 203);
    for x in ssrcs {
        out.extend_from_slice(&x.to_be_bytes());
    }
    if let Some(r) = reason {
        out.push(r.len().min(255) as u8);
        out.extend_from_slice(&r.as_bytes()[..r.len().min(255)]);
    }
    finish(&mut out, s);
    out
}

/// APP, PT=204 (§6.7). `data` is padded to a word boundary.
pub fn app(ssrc: u32, subtype: u8, name: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let s = begin(&mut out, subtype, 204);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&name);
    out.extend_from_slice(data);
    finish(&mut out, s);
    out
}

/// RFC 3611 §4.7 VoIP Metrics (BT=7) values, in their wire units. The default leaves the
/// levels, RERL and the external R factor unavailable (127) and Gmin at the recommended 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoipMetrics {
    pub ssrc: u32,
    /// Fraction of packets lost since the start, in 1/256.
    pub loss_rate: u8,
    pub discard_rate: u8,
    /// Burst and gap density (1/256) and mean durations (ms), §4.7.2.
    pub burst_density: u8,
    pub gap_density: u8,
    pub burst_duration_ms: u16,
    pub gap_duration_ms: u16,
    pub round_trip_delay_ms: u16,
    pub end_system_delay_ms: u16,
    /// Signal and noise level (dBm, signed), RERL (dB), Gmin (packets); 127 = unavailable.
    pub signal_level: i8,
    pub noise_level: i8,
    pub rerl: u8,
    pub gmin: u8,
    /// R factor 0..=100 (127 = unavailable).
    pub r_factor: u8,
    pub ext_r_factor: u8,
    /// Receiver configuration byte (§4.7.6).
    pub rx_config: u8,
    /// MOS-LQ ×10 (e.g. 41 = 4.1).
    pub mos_lq: u8,
    pub mos_cq: u8,
    pub jb_nominal_ms: u16,
    pub jb_max_ms: u16,
    pub jb_abs_max_ms: u16,
}

impl Default for VoipMetrics {
    fn default() -> Self {
        VoipMetrics {
            ssrc: 0,
            loss_rate: 0,
            discard_rate: 0,
            burst_density: 0,
            gap_density: 0,
            burst_duration_ms: 0,
            gap_duration_ms: 0,
            round_trip_delay_ms: 0,
            end_system_delay_ms: 0,
            signal_level: 127,
            noise_level: 127,
            rerl: 127,
            gmin: 16,
            r_factor: 127,
            ext_r_factor: 127,
            rx_config: 0,
            mos_lq: 127,
            mos_cq: 127,
            jb_nominal_ms: 0,
            jb_max_ms: 0,
            jb_abs_max_ms: 0,
        }
    }
}

/// One XR report block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XrBlock {
    /// Receiver Reference Time, BT=4 (§4.4): the receiver's NTP time.
    Rrt { ntp: u64 },
    /// DLRR, BT=5 (§4.5): (ssrc, LRR = mid32 of that receiver's RRT, DLRR in 1/65536 s).
    Dlrr(Vec<(u32, u32, u32)>),
    /// VoIP Metrics, BT=7 (§4.7).
    Voip(VoipMetrics),
}

/// Extended Report, PT=207 (RFC 3611 §2).
pub fn xr(ssrc: u32, blocks: &[XrBlock]) -> Vec<u8> {
    let mut out = Vec::new();
    let s = begin(&mut out, 0, 207);
    out.extend_from_slice(&ssrc.to_be_bytes());
    for b in blocks {
        match b {
            XrBlock::Rrt { ntp } => {
                out.extend_from_slice(&[4, 0, 0, 2]);
                out.extend_from_slice(&ntp.to_be_bytes());
            }
            XrBlock::Dlrr(items) => {
                out.extend_from_slice(&[5, 0]);
                out.extend_from_slice(&(3 * items.len() as u16).to_be_bytes());
                for (ssrc, lrr, dlrr) in items {
                    out.extend_from_slice(&ssrc.to_be_bytes());
                    out.extend_from_slice(&lrr.to_be_bytes());
                    out.extend_from_slice(&dlrr.to_be_bytes());
                }
            }
            XrBlock::Voip(m) => {
                out.extend_from_slice(&[7, 0, 0, 8]);
                out.extend_from_slice(&m.ssrc.to_be_bytes());
                out.extend_from_slice(&[
                    m.loss_rate,
                    m.discard_rate,
                    m.burst_density,
                    m.gap_density,
                ]);
                out.extend_from_slice(&m.burst_duration_ms.to_be_bytes());
                out.extend_from_slice(&m.gap_duration_ms.to_be_bytes());
                out.extend_from_slice(&m.round_trip_delay_ms.to_be_bytes());
                out.extend_from_slice(&m.end_system_delay_ms.to_be_bytes());
                out.extend_from_slice(&[m.signal_level as u8, m.noise_level as u8, m.rerl, m.gmin]);
                out.extend_from_slice(&[m.r_factor, m.ext_r_factor, m.mos_lq, m.mos_cq]);
                out.extend_from_slice(&[m.rx_config, 0]); // RX config, reserved
                out.extend_from_slice(&m.jb_nominal_ms.to_be_bytes());
                out.extend_from_slice(&m.jb_max_ms.to_be_bytes());
                out.extend_from_slice(&m.jb_abs_max_ms.to_be_bytes());
            }
        }
    }
    finish(&mut out, s);
    out
}

/// Common feedback header (RFC 4585 §6.1): PT 205 (RTPFB) or 206 (PSFB).
fn fb(fmt: u8, pt: u8, sender: u32, media: u32) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(32);
    let s = begin(&mut out, fmt, pt);
    out.extend_from_slice(&sender.to_be_bytes());
    out.extend_from_slice(&media.to_be_bytes());
    (out, s)
}

/// Generic NACK, RTPFB fmt 1 (RFC 4585 §6.2.1): (PID, BLP) pairs.
pub fn nack(sender: u32, media: u32, items: &[(u16, u16)]) -> Vec<u8> {
    let (mut out, s) = fb(1, 205, sender, media);
    for (pid, blp) in items {
        out.extend_from_slice(&pid.to_be_bytes());
        out.extend_from_slice(&blp.to_be_bytes());
    }
    finish(&mut out, s);
    out
}

/// Transport-wide CC feedback, RTPFB fmt 15: `deltas` are receive deltas in 250 µs units
/// for consecutive transport sequence numbers from `base_seq`, all "received, small delta",
/// encoded as one run-length chunk (T=0, S=1).
pub fn twcc(
    sender: u32,
    media: u32,
    base_seq: u16,
    ref_time_64ms: u32,
    fb_count: u8,
    deltas: &[u8],
) -> Vec<u8> {
    let (mut out, s) = fb(15, 205, sender, media);
    out.extend_from_slice(&base_seq.to_be_bytes());
    out.extend_from_slice(&(deltas.len() as u16).to_be_bytes());
    out.extend_from_slice(
        &((ref_time_64ms & 0x00ff_ffff) << 8 | u32::from(fb_count)).to_be_bytes(),
    );
    let run = (1u16 << 13) | (deltas.len() as u16 & 0x1fff);
    out.extend_from_slice(&run.to_be_bytes());
    out.extend_from_slice(deltas);
    finish(&mut out, s);
    out
}

/// Picture Loss Indication, PSFB fmt 1 (RFC 4585 §6.3.1): no FCI.
pub fn pli(sender: u32, media: u32) -> Vec<u8> {
    let (mut out, s) = fb(1, 206, sender, media);
    finish(&mut out, s);
    out
}

/// Full Intra Request, PSFB fmt 4 (RFC 5104 §4.3.1): media SSRC 0, FCI (ssrc, seq nr).
pub fn fir(sender: u32, entries: &[(u32, u8)]) -> Vec<u8> {
    let (mut out, s) = fb(4, 206, sender, 0);
    for (ssrc, seq) in entries {
        out.extend_from_slice(&ssrc.to_be_bytes());
        out.extend_from_slice(&[*seq, 0, 0, 0]);
    }
    finish(&mut out, s);
    out
}

/// REMB, PSFB fmt 15 (draft-alvestrand-rmcat-remb-03 §2.2): "REMB", bitrate as 6-bit
/// exponent and 18-bit mantissa, then the SSRCs it applies to.
pub fn remb(sender: u32, bitrate_bps: u64, ssrcs: &[u32]) -> Vec<u8> {
    let (mut out, s) = fb(15, 206, sender, 0);
    out.extend_from_slice(b"REMB");
    let (exp, mant) = remb_exp_mantissa(bitrate_bps);
    out.push(ssrcs.len() as u8);
    out.extend_from_slice(&(((exp & 0x3f) << 18) | mant as u32).to_be_bytes()[1..]);
    for x in ssrcs {
        out.extend_from_slice(&x.to_be_bytes());
    }
    finish(&mut out, s);
    out
}

/// REMB's 6-bit exponent and 18-bit mantissa for a bitrate (low bits are dropped).
fn remb_exp_mantissa(bitrate_bps: u64) -> (u32, u64) {
    let mut exp = 0u32;
    let mut mant = bitrate_bps;
    while mant >= (1 << 18) {
        mant >>= 1;
        exp += 1;
    }
    (exp, mant)
}

/// The bitrate a REMB for `bitrate_bps` carries on the wire: mantissa · 2^exp.
pub fn remb_wire_bps(bitrate_bps: u64) -> u64 {
    let (exp, mant) = remb_exp_mantissa(bitrate_bps);
    mant << exp
}

/// Concatenate packets into one compound datagram (§6.1: the caller puts SR/RR first).
pub fn compound(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// An SRTCP-shaped datagram (RFC 3711 §3.4): the first 8 bytes of `clear` (header + sender
/// SSRC) in the clear, the rest replaced by random "ciphertext" of the same length, then
/// E=1 | 31-bit index and a 10-byte authentication tag (HMAC-SHA1-80 size). Nothing is
/// really encrypted; a probe must only recognise it and not decode the random part.
pub fn srtcp(clear: &[u8], index: u32, rng: &mut Rng) -> Vec<u8> {
    let head = clear.len().min(8);
    let mut out = Vec::with_capacity(clear.len() + 14);
    out.extend_from_slice(&clear[..head]);
    out.extend_from_slice(&rng.bytes(clear.len() - head));
    out.extend_from_slice(&(0x8000_0000 | (index & 0x7fff_ffff)).to_be_bytes());
    out.extend_from_slice(&rng.bytes(10));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_conversion_and_dlsr_exactness() {
        // 1970-01-01T00:00:00.5Z
        assert_eq!(
            ntp_from_unix_ns(500_000_000),
            (NTP_UNIX_OFFSET_SECS << 32) | 0x8000_0000
        );
        assert_eq!(ntp_mid32(0x1122_3344_5566_7788), 0x3344_5566);
        assert_eq!(dlsr_units_to_ns(65536), 1_000_000_000);
        assert_eq!(dlsr_units_to_ns(128), 1_953_125);
    }

    #[test]
    fn sr_with_block_byte_exact() {
        let info = SenderInfo {
            ntp: 0x0102_0304_0506_0708,
            rtp_ts: 9,
            packet_count: 10,
            octet_count: 11,
        };
        let blk = ReportBlock {
            ssrc: 0xaa,
            fraction_lost: 0x40,
            cumulative_lost: -1,
            ext_highest_seq: 0x1_0005,
            jitter: 3,
            lsr: 4,
            dlsr: 5,
        };
        let p = sr(0x55, &info, &[blk]);
        #[rustfmt::skip]
        let want: &[u8] = &[
            0x81, 200, 0, 12,       // V=2 RC=1 PT=SR length=12
            0, 0, 0, 0x55,          // SSRC
            1, 2, 3, 4, 5, 6, 7, 8, // NTP
            0, 0, 0, 9,             // RTP ts
            0, 0, 0, 10,            // packets
            0, 0, 0, 11,            // octets
            0, 0, 0, 0xaa,          // block SSRC
            0x40, 0xff, 0xff, 0xff, // fraction, cumulative lost = -1
            0, 1, 0, 5,             // ext highest seq
            0, 0, 0, 3,             // jitter
            0, 0, 0, 4,             // LSR
            0, 0, 0, 5,             // DLSR
        ];
        assert_eq!(p, want);
    }

    #[test]
    fn lengths_are_word_counts_minus_one() {
        let pkts = [
            rr(1, &[]),
            sdes_cname(1, "user@host"),
            bye(&[1], Some("bye")),
            app(1, 3, *b"TEST", &[1, 2, 3]),
            xr(
                1,
                &[
                    XrBlock::Rrt { ntp: 1 },
                    XrBlock::Dlrr(vec![(2, 3, 4)]),
                    XrBlock::Voip(VoipMetrics::default()),
                ],
            ),
            nack(1, 2, &[(100, 0b101)]),
            twcc(1, 2, 7, 1, 0, &[4, 4, 4]),
            pli(1, 2),
            fir(1, &[(2, 1)]),
            remb(1, 1_500_000, &[2, 3]),
        ];
        for p in &pkts {
            assert_eq!(p.len() % 4, 0);
            assert_eq!(
                u16::from_be_bytes([p[2], p[3]]) as usize,
                p.len() / 4 - 1,
                "{p:02x?}"
            );
            assert_eq!(p[0] >> 6, 2);
        }
        let x = &pkts[4];
        assert_eq!(x.len(), 8 + 12 + 16 + 36);
        // REMB 1.5 Mb/s: exponent 3, mantissa 187500.
        let r = &pkts[9];
        assert_eq!(&r[12..16], b"REMB");
        assert_eq!(r[16], 2);
        let v = u32::from_be_bytes([0, r[17], r[18], r[19]]);
        assert_eq!((v >> 18, v & 0x3ffff), (3, 187_500));
    }

    #[test]
    fn srtcp_keeps_clear_head_and_appends_index_and_tag() {
        let c = compound(&[rr(0xabcd, &[]), sdes_cname(0xabcd, "x")]);
        let s = srtcp(&c, 5, &mut Rng::new(1));
        assert_eq!(&s[..8], &c[..8]);
        assert_eq!(s.len(), c.len() + 14);
        assert_eq!(&s[c.len()..c.len() + 4], &[0x80, 0, 0, 5]);
    }
}
