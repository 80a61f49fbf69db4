//! Stream churn at scale: N streams × K RTP packets written straight to a pcap, for the replay
//! scaling benchmark (benches/replay_scale.rs) and the bounded-replay test (tests/replay_bound.rs).
//!
//! Streams start in waves of [`WAVE`], each sending its packets before the next wave starts
//! (calls arriving over time), [`PACKET_GAP_NS`] apart in capture time: a 1M × 4 file spans
//! 20 s, inside the default 60 s idle timeout, so with a full table every new stream evicts one.
//! Either every stream runs between the same two sockets (one address pair, SSRCs differ: a
//! trunk between two gateways) or each has its own IP pair. Written frame by frame: memory does
//! not grow with the file. No ground truth beyond the counts: every packet is in sequence.

use super::frame::{udp_frame_into, Encap};
use super::pcap::{PcapWriter, TsResolution, DEFAULT_SNAPLEN};
use super::rtp::{write_rtp, RtpHeader};
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// Streams per wave.
pub const WAVE: u32 = 1_000;
/// Capture time between consecutive packets of the file.
pub const PACKET_GAP_NS: i64 = 5_000;
/// Capture time of the first packet (2023-11-14).
pub const START_NS: i64 = 1_700_000_000_000_000_000;
/// RTP payload bytes per packet (PCMU, PT 0; short, to keep a 4M-frame file near 300 MB).
const PAYLOAD: usize = 8;

/// The shape of a churn capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Churn {
    pub streams: u32,
    /// RTP packets per stream (1: candidates that never pass RFC 3550 A.1 probation).
    pub packets: u16,
    /// Every stream between the same two sockets; else one IP pair per stream.
    pub one_pair: bool,
}

impl Churn {
    /// Source and destination of stream `i`.
    pub fn addrs(&self, i: u32) -> (SocketAddr, SocketAddr) {
        if self.one_pair {
            (
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40_000).into(),
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 50_000).into(),
            )
        } else {
            (
                SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 | i), 40_000).into(),
                SocketAddrV4::new(Ipv4Addr::from(0x0b00_0000 | i), 50_000).into(),
            )
        }
    }

    /// SSRC of stream `i` (distinct for every `i`: an odd multiplier is a bijection).
    pub fn ssrc(i: u32) -> u32 {
        i.wrapping_mul(0x9E37_79B9) ^ 0x5eed
    }

    /// Write the capture (Ethernet, microsecond pcap) to `w`; returns the frames written.
    pub fn write<W: Write>(&self, w: W) -> io::Result<u64> {
        let mut p = PcapWriter::new(w, 1, DEFAULT_SNAPLEN, TsResolution::Micro)?;
        let (mut frame, mut rtp) = (Vec::with_capacity(128), Vec::with_capacity(64));
        let payload = [0xd5u8; PAYLOAD];
        let mut now = START_NS;
        let mut frames = 0u64;
        let mut wave = 0u32;
        while wave < self.streams {
            let end = wave.saturating_add(WAVE).min(self.streams);
            for k in 0..self.packets {
                for i in wave..end {
                    let (src, dst) = self.addrs(i);
                    let h = RtpHeader {
                        payload_type: 0,
                        marker: false,
                        seq: (i as u16).wrapping_add(k),
                        timestamp: u32::from(k) * 160,
                        ssrc: Churn::ssrc(i),
                        csrcs: Vec::new(),
                        ext: None,
                        padding: 0,
                    };
                    rtp.clear();
                    write_rtp(&mut rtp, &h, &payload);
                    frame.clear();
                    udp_frame_into(&mut frame, Encap::Ethernet.into(), src, dst, &rtp);
                    p.write_frame(now, &frame)?;
                    frames += 1;
                    now += PACKET_GAP_NS;
                }
            }
            wave = end;
        }
        p.into_inner()?.flush()?;
        Ok(frames)
    }
}
