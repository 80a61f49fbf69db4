//! The same capture carried over TCP: each UDP datagram of a synthetic capture becomes a frame
//! in a TCP byte stream, RFC 4571 (a 2-byte length; RTP/RTCP over TCP and RFC 6544 ICE-TCP
//! with its STUN checks) or TURN over TCP (RFC 8656 §12.5: ChannelData padded to a multiple of
//! 4 bytes, STUN as is), cut into segments at chosen byte boundaries, with retransmissions,
//! reordering and a missing segment on request.
//!
//! Every segment of a datagram's frame is captured at the datagram's own time, so that a
//! correct reassembler hands each frame on exactly when its UDP twin arrived: the per-stream
//! numbers must then equal the UDP capture's. The datagrams are read back from the frames this
//! module's siblings built (Ethernet, IPv4 without options), never with [`crate::wire`].

use super::frame::{tcp_frame_with, Encap};
use super::rng::Rng;
use super::{Frame, FrameKind};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// How frames are delimited on the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpFraming {
    /// RFC 4571 §2: a 16-bit length, then the datagram.
    Rfc4571,
    /// TURN over TCP: the datagram (ChannelData or STUN) as is, ChannelData padded to 4.
    TurnTcp,
    /// SIP over TCP (RFC 3261 §18.3): each datagram is a message with its Content-Length.
    Sip,
}

/// Where segment boundaries fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// At every multiple of `n` bytes of the stream, and at every frame's end.
    Every(usize),
    /// At up to `cuts` random places inside each frame (seeded), and at every frame's end.
    Random { seed: u64, cuts: usize },
}

/// What to do to the segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPlan {
    pub framing: TcpFraming,
    pub split: Split,
    /// Send every `n`th segment twice (the copy right after the next one): a retransmission.
    pub retransmit_every: Option<usize>,
    /// In every `n`th frame of two or more segments, send its last segment before the one
    /// before it: reordering.
    pub reorder_every: Option<usize>,
    /// Never send the middle segment of the `n`th frame (counted over all directions) whose
    /// datagram is RTP: a hole.
    pub drop_rtp_frame: Option<usize>,
}

impl TcpPlan {
    pub fn clean(framing: TcpFraming, split: Split) -> Self {
        TcpPlan {
            framing,
            split,
            retransmit_every: None,
            reorder_every: None,
            drop_rtp_frame: None,
        }
    }
}

/// The TCP version of a capture.
#[derive(Debug, Clone)]
pub struct TcpCapture {
    pub frames: Vec<Frame>,
    /// The original frames whose bytes were (partly) never sent.
    pub missing: Vec<FrameKind>,
}

/// Addresses and payload of an Ethernet/IPv4/UDP frame built by [`super::frame`].
fn udp_of(bytes: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    if bytes.get(12..14)? != [0x08, 0x00] || *bytes.get(23)? != 17 {
        return None;
    }
    let ihl = usize::from(bytes.get(14)? & 0x0f) * 4;
    let ip = |o: usize| -> Option<IpAddr> {
        let b: [u8; 4] = bytes.get(o..o + 4)?.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(b)))
    };
    let u = 14 + ihl;
    let port = |o: usize| -> Option<u16> {
        Some(u16::from_be_bytes(bytes.get(o..o + 2)?.try_into().ok()?))
    };
    let src = SocketAddr::new(ip(26)?, port(u)?);
    let dst = SocketAddr::new(ip(30)?, port(u + 2)?);
    let len = usize::from(port(u + 4)?);
    Some((src, dst, bytes.get(u + 8..u + len)?))
}

/// The frame of `datagram` on the stream.
fn framed(framing: TcpFraming, datagram: &[u8]) -> Vec<u8> {
    match framing {
        TcpFraming::Rfc4571 => {
            let mut v = (datagram.len() as u16).to_be_bytes().to_vec();
            v.extend_from_slice(datagram);
            v
        }
        TcpFraming::TurnTcp => {
            let mut v = datagram.to_vec();
            if matches!(datagram.first(), Some(0x40..=0x4f)) {
                v.resize(v.len().next_multiple_of(4), 0);
            }
            v
        }
        TcpFraming::Sip => datagram.to_vec(),
    }
}

/// One direction's sender.
struct Sender {
    /// Stream offset of the next byte.
    off: u64,
    isn: u32,
}

/// Carry every Ethernet/IPv4 UDP datagram of `frames` over TCP as `plan` says (other frames
/// are kept as they are). Each direction starts with a SYN at its first datagram's time.
///
/// # Panics
/// On frames that are not Ethernet (a test setup bug).
pub fn over_tcp(frames: &[Frame], plan: TcpPlan) -> TcpCapture {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    let mut senders: HashMap<(SocketAddr, SocketAddr), Sender> = HashMap::new();
    let mut rng = match plan.split {
        Split::Random { seed, .. } => Rng::new(seed),
        Split::Every(_) => Rng::new(0),
    };
    let (mut nseg, mut nmulti, mut nrtp) = (0usize, 0usize, 0usize);
    let mut last_seg: Option<Frame> = None;
    for f in frames {
        let Some((src, dst, dg)) = udp_of(&f.bytes) else {
            out.push(f.clone());
            continue;
        };
        let seg = |seq: u32, flags: u8, data: &[u8]| Frame {
            ts_ns: f.ts_ns,
            linktype: f.linktype,
            bytes: tcp_frame_with(Encap::Ethernet.into(), src, dst, seq, flags, data),
            kind: f.kind,
        };
        let s = senders.entry((src, dst)).or_insert_with(|| {
            let isn = u32::from(src.port()).wrapping_mul(2_654_435_761) ^ 0xfff0_0000;
            out.push(seg(isn, 0x02, &[]));
            Sender { off: 0, isn }
        });
        let bytes = framed(plan.framing, dg);
        // Cut points inside the frame.
        let mut cuts: Vec<usize> = match plan.split {
            Split::Every(n) => {
                let n = n.max(1) as u64;
                let first = (n - s.off % n) % n;
                (0..)
                    .map(|i| first + i * n)
                    .take_while(|&c| c < bytes.len() as u64)
                    .filter(|&c| c > 0)
                    .map(|c| c as usize)
                    .collect()
            }
            Split::Random { cuts, .. } => (0..cuts)
                .map(|_| 1 + rng.below(bytes.len().max(2) as u64 - 1) as usize)
                .collect(),
        };
        cuts.push(bytes.len());
        cuts.sort_unstable();
        cuts.dedup();
        let mut segs = Vec::new();
        let mut at = 0;
        for c in cuts {
            let seq = s
                .isn
                .wrapping_add(1)
                .wrapping_add((s.off + at as u64) as u32);
            segs.push(seg(seq, 0x18, &bytes[at..c]));
            at = c;
        }
        s.off += bytes.len() as u64;
        if matches!(f.kind, FrameKind::Rtp { .. }) {
            nrtp += 1;
            if plan.drop_rtp_frame == Some(nrtp) {
                segs.remove(segs.len() / 2);
                missing.push(f.kind);
            }
        }
        if segs.len() >= 2 {
            nmulti += 1;
            if plan.reorder_every.is_some_and(|n| nmulti % n == 0) {
                let l = segs.len();
                segs.swap(l - 1, l - 2);
            }
        }
        for sg in segs {
            nseg += 1;
            let again = plan.retransmit_every.is_some_and(|n| nseg % n == 0);
            out.push(sg.clone());
            if let Some(prev) = last_seg.take().filter(|_| again) {
                // The earlier segment again, captured now.
                out.push(Frame {
                    ts_ns: sg.ts_ns,
                    ..prev
                });
            }
            last_seg = Some(sg);
        }
    }
    TcpCapture {
        frames: out,
        missing,
    }
}
