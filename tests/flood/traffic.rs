//! The traffic of tests/flood.rs, as classic pcap files for tcpreplay: the burst of new SSRCs
//! (each passes RFC 3550 A.1 probation with its second packet) and the normal streams.

use super::{FLOOD_SSRCS, NORMAL_STREAMS, SENDERS};
use std::io::{BufWriter, Write};
use std::path::Path;

/// A classic pcap file of Ethernet frames, microsecond timestamps.
struct PcapOut(BufWriter<std::fs::File>);

impl PcapOut {
    fn create(path: &Path) -> PcapOut {
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("pcap"));
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        h.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        h.extend_from_slice(&65_535u32.to_le_bytes()); // snaplen
        h.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        w.write_all(&h).expect("pcap header");
        PcapOut(w)
    }

    fn frame(&mut self, ts_us: u64, frame: &[u8]) {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&((ts_us / 1_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&((ts_us % 1_000_000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        self.0.write_all(&h).expect("pcap record");
        self.0.write_all(frame).expect("pcap record");
    }

    fn finish(mut self) {
        self.0.flush().expect("pcap flush");
    }
}

/// Ethernet / IPv4 / UDP (no checksum, RFC 768) / RTP, PT 0 (PCMU), 16 bytes of payload.
#[allow(clippy::too_many_arguments)]
fn rtp_frame(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u16,
    ts: u32,
    ssrc: u32,
) -> Vec<u8> {
    const PAYLOAD: usize = 16;
    let udp_len = 8 + 12 + PAYLOAD;
    let ip_len = 20 + udp_len;
    let mut f = Vec::with_capacity(14 + ip_len);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // destination MAC (local)
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // source MAC (local)
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let sum = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&[0x80, 0]); // V=2, PT=0
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ts.to_be_bytes());
    f.extend_from_slice(&ssrc.to_be_bytes());
    f.extend_from_slice(&[0xd5; PAYLOAD]);
    f
}

/// Share `part` of [`SENDERS`] of the burst: `FLOOD_SSRCS` SSRCs in all, two packets in
/// sequence each, from 10.9.0.1 (ports cycling over 5,000 even ports) to 10.9.0.2:30000. SSRCs
/// start at 0x1000_0000, away from the normal streams'.
pub fn write_flood(path: &Path, part: u32) {
    let mut out = PcapOut::create(path);
    for i in (part..FLOOD_SSRCS).step_by(SENDERS as usize) {
        let ssrc = 0x1000_0000 + i;
        let sport = 20_000 + (i % 5_000) as u16 * 2;
        let ts_us = u64::from(i) * 2;
        for k in 0..2u16 {
            let f = rtp_frame(
                [10, 9, 0, 1],
                sport,
                [10, 9, 0, 2],
                30_000,
                (i as u16).wrapping_add(k),
                i.wrapping_mul(160).wrapping_add(u32::from(k) * 160),
                ssrc,
            );
            out.frame(ts_us + u64::from(k), &f);
        }
    }
    out.finish();
}

/// The normal traffic: `NORMAL_STREAMS` streams, interleaved, 20 ms packets, long enough for
/// the whole test at `NORMAL_PPS` (tcpreplay sends it with `--pps`, ignoring the times).
pub fn write_normal(path: &Path, packets_per_stream: u32) {
    let mut out = PcapOut::create(path);
    for n in 0..packets_per_stream {
        for s in 0..NORMAL_STREAMS {
            let f = rtp_frame(
                [10, 8, 0, 1],
                40_000 + 2 * s as u16,
                [10, 8, 0, 2],
                50_000 + 2 * s as u16,
                (1_000 + n) as u16,
                n.wrapping_mul(160),
                0xA000_0000 + s,
            );
            out.frame(u64::from(n) * 20_000, &f);
        }
    }
    out.finish();
}
