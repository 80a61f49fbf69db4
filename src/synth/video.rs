//! Synthetic video: frames of several packets with known timing, marker bits, VP8 payload
//! descriptors, and injected freezes, pauses, loss and reordering.
//!
//! The other scenarios send one packet per `ptime`; video sends *frames*: frame `f` is sent at
//! `start + Σ gaps[..f]`, as `packets_per_frame` packets `packet_gap_ns` apart, all with the
//! frame's RTP timestamp (90 kHz, from the send time) and the marker on the last one (RFC 3551
//! §5). Each payload starts with an RFC 7741 VP8 descriptor; the first packet of every
//! `keyframe_every`-th frame carries a VP8 key frame header with the resolution. A
//! [`VideoCapture`] returns what the generator did: per frame, whether any packet reached the
//! capture and when the first one did, so tests compute the expected figures from the
//! schedule itself.

use super::frame::{udp_frame, Encap};
use super::rtp::{rtp_packet, RtpHeader};
use super::{Capture, Frame, FrameKind, Truth};
use std::collections::BTreeSet;
use std::net::SocketAddr;

/// One synthetic video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoSpec {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ssrc: u32,
    pub payload_type: u8,
    /// Send time of frame 0, Unix epoch ns.
    pub start_ns: i64,
    /// Send gap before each frame after the first, ns (`gaps.len() + 1` frames).
    pub gaps_ns: Vec<i64>,
    pub packets_per_frame: u32,
    pub packet_gap_ns: i64,
    pub first_seq: u16,
    pub first_ts: u32,
    /// Every n-th frame is a key frame (0: only frame 0).
    pub keyframe_every: u32,
    pub width: u16,
    pub height: u16,
    /// Packets never captured: (frame, packet within it).
    pub lost: BTreeSet<(u32, u32)>,
    /// Frames whose packets are all captured `by_ns` late: (frame, by_ns).
    pub late_frames: Vec<(u32, i64)>,
}

impl VideoSpec {
    /// 30 frames/s (gaps of 33 or 34 ms), 300 frames, 4 packets of 1 ms each, key frame
    /// every 60 frames, 640 × 360.
    pub fn new(src: SocketAddr, dst: SocketAddr, ssrc: u32) -> Self {
        VideoSpec {
            src,
            dst,
            ssrc,
            payload_type: 96,
            start_ns: super::scenario::EPOCH_NS,
            gaps_ns: (1..300)
                .map(|i| if i % 3 == 0 { 34 } else { 33 } * 1_000_000)
                .collect(),
            packets_per_frame: 4,
            packet_gap_ns: 1_000_000,
            first_seq: 500,
            first_ts: 90_000,
            keyframe_every: 60,
            width: 640,
            height: 360,
            lost: BTreeSet::new(),
            late_frames: Vec::new(),
        }
    }
}

/// What the generator produced, frame by frame.
#[derive(Debug, Clone)]
pub struct VideoCapture {
    pub capture: Capture,
    /// Per frame: capture time of its first captured packet, if any packet was captured.
    pub first_arrival_ns: Vec<Option<i64>>,
    /// Per frame: RTP timestamp and whether it is a key frame.
    pub frames: Vec<(u32, bool)>,
}

/// Build the capture of `spec` (Ethernet, IPv4 or IPv6 by its addresses).
pub fn build(spec: &VideoSpec) -> VideoCapture {
    let mut frames = Vec::new();
    let mut info = Vec::new();
    let mut first_arrival = Vec::new();
    let mut send = spec.start_ns;
    let mut seq = spec.first_seq;
    let n = spec.gaps_ns.len() + 1;
    for f in 0..n as u32 {
        if f > 0 {
            send += spec.gaps_ns.get(f as usize - 1).copied().unwrap_or(0);
        }
        let ts = spec
            .first_ts
            .wrapping_add(((send - spec.start_ns) as i128 * 90_000 / 1_000_000_000) as u32);
        let key = f == 0 || (spec.keyframe_every > 0 && f % spec.keyframe_every == 0);
        info.push((ts, key));
        let late = spec
            .late_frames
            .iter()
            .find(|(lf, _)| *lf == f)
            .map_or(0, |l| l.1);
        let mut first = None;
        for p in 0..spec.packets_per_frame {
            let at = send + i64::from(p) * spec.packet_gap_ns + late;
            let h = RtpHeader {
                payload_type: spec.payload_type,
                marker: p + 1 == spec.packets_per_frame,
                seq,
                timestamp: ts,
                ssrc: spec.ssrc,
                csrcs: Vec::new(),
                ext: None,
                padding: 0,
            };
            seq = seq.wrapping_add(1);
            if spec.lost.contains(&(f, p)) {
                continue;
            }
            first = Some(first.map_or(at, |t: i64| t.min(at)));
            let payload = vp8_payload(p == 0, key, spec.width, spec.height);
            frames.push(Frame {
                ts_ns: at,
                linktype: Encap::Ethernet.linktype(),
                bytes: udp_frame(
                    Encap::Ethernet.into(),
                    spec.src,
                    spec.dst,
                    &rtp_packet(&h, &payload),
                ),
                kind: FrameKind::Rtp { stream: 0 },
            });
        }
        first_arrival.push(first);
    }
    frames.sort_by_key(|f| f.ts_ns);
    VideoCapture {
        capture: Capture {
            frames,
            truth: Truth::default(),
        },
        first_arrival_ns: first_arrival,
        frames: info,
    }
}

/// An RFC 7741 payload: descriptor (S = 1 on a frame's first packet, PID 0), then on a key
/// frame's first packet the VP8 frame tag (P = 0), start code and size; filler after.
fn vp8_payload(start: bool, key: bool, width: u16, height: u16) -> Vec<u8> {
    let mut p = vec![if start { 0x10 } else { 0x00 }];
    if start && key {
        p.extend_from_slice(&[0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a]);
        p.extend_from_slice(&width.to_le_bytes());
        p.extend_from_slice(&height.to_le_bytes());
    } else if start {
        p.extend_from_slice(&[0x31, 0x2a, 0x00]); // P = 1: an interframe
    }
    p.resize(900, 0x5a);
    p
}
