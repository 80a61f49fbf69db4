//! A host that forwards media (a router), captured on both of its interfaces: every frame of a
//! base capture is seen arriving on the ingress interface and, `delay_ns` later, leaving on the
//! egress interface, except the RTP packets the host itself loses. What the capture records of
//! where each copy was seen depends on how it was made ([`Seen`]):
//!
//! ```text
//! Linux SLL2 (276)  protocol(2) reserved(2) ifindex(4) arphrd(2)=1 pkttype(1) addrlen(1)=6 addr(8)
//! Linux SLL (113)   pkttype(2) arphrd(2)=1 addrlen(2)=6 addr(8) protocol(2)
//!                   pkttype 0 = to us (arriving), 4 = outgoing (leaving)
//! pcapng            one IDB per interface, `if_name` set: ingress Ethernet (1) with ns
//!                   timestamps, egress raw IP (101) with µs timestamps (`if_tsresol` 6)
//! ```
//!
//! The base capture must be raw IP ([`super::Encap::RawIp`]); its truth stays the truth of the
//! ingress copies, and [`Forwarded::lost_inside`] says how many RTP packets of each stream the
//! egress copies lack.

use super::{Capture, Frame, FrameKind, PcapngWriter, DEFAULT_SNAPLEN};
use std::io::{self, Write};

/// How the capture tells the two copies of a packet apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// `tcpdump -i any` with libpcap ≥ 1.10: the interface index.
    Sll2 { ingress: u32, egress: u32 },
    /// `tcpdump -i any` with an older libpcap: only the direction.
    Sll,
    /// A pcapng file with one interface each (Ethernet named `eth0`, raw IP named `eth1`).
    Interfaces,
}

/// Name of the ingress interface in [`Seen::Interfaces`] captures.
pub const INGRESS_NAME: &str = "eth0";
/// Name of the egress interface in [`Seen::Interfaces`] captures.
pub const EGRESS_NAME: &str = "eth1";

/// The forwarding host's capture.
#[derive(Debug, Clone)]
pub struct Forwarded {
    /// Frames in capture order, each with its interface (0 ingress, 1 egress).
    pub frames: Vec<(u32, Frame)>,
    /// RTP packets of each base stream (by index) lost inside the host: captured arriving,
    /// never leaving.
    pub lost_inside: Vec<u64>,
    pub seen: Seen,
}

/// Forward every frame of `base` (raw IP) `delay_ns` later, losing every `drop_every`-th RTP
/// packet of each stream inside the host (0: none). The first two and the last RTP packet of a
/// stream are always forwarded, so the egress copy has the same sequence range (RFC 3550 A.1
/// probation and `expected` stay those of the ingress copy).
pub fn forward(base: &Capture, seen: Seen, delay_ns: i64, drop_every: u64) -> Forwarded {
    let streams = base.truth.streams.len();
    let mut total = vec![0u64; streams];
    for f in &base.frames {
        if let FrameKind::Rtp { stream } = f.kind {
            if let Some(t) = total.get_mut(stream) {
                *t += 1;
            }
        }
    }
    let mut nth = vec![0u64; streams];
    let mut lost_inside = vec![0u64; streams];
    let mut frames = Vec::with_capacity(base.frames.len() * 2);
    for f in &base.frames {
        frames.push((0, wrap(f, seen, false, f.ts_ns)));
        if let FrameKind::Rtp { stream } = f.kind {
            let (Some(n), Some(&t)) = (nth.get_mut(stream), total.get(stream)) else {
                continue;
            };
            *n += 1;
            let k = *n;
            if drop_every > 0 && k > 2 && k < t && k % drop_every == 0 {
                if let Some(l) = lost_inside.get_mut(stream) {
                    *l += 1;
                }
                continue;
            }
        }
        frames.push((1, wrap(f, seen, true, f.ts_ns + delay_ns)));
    }
    frames.sort_by_key(|(_, f)| f.ts_ns);
    Forwarded {
        frames,
        lost_inside,
        seen,
    }
}

/// `f` (raw IP) as captured arriving (`egress` false) or leaving.
fn wrap(f: &Frame, seen: Seen, egress: bool, ts_ns: i64) -> Frame {
    let ethertype: u16 = match f.bytes.first() {
        Some(b) if b >> 4 == 6 => 0x86dd,
        _ => 0x0800,
    };
    let addr = [0x02, 0x00, 0x5e, 0x00, 0x00, u8::from(egress), 0, 0];
    let mut b = Vec::with_capacity(f.bytes.len() + 20);
    let linktype = match seen {
        Seen::Sll2 {
            ingress,
            egress: out,
        } => {
            b.extend_from_slice(&ethertype.to_be_bytes());
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&(if egress { out } else { ingress }).to_be_bytes());
            b.extend_from_slice(&1u16.to_be_bytes());
            b.push(if egress { 4 } else { 0 });
            b.push(6);
            b.extend_from_slice(&addr);
            276
        }
        Seen::Sll => {
            b.extend_from_slice(&(if egress { 4u16 } else { 0 }).to_be_bytes());
            b.extend_from_slice(&1u16.to_be_bytes());
            b.extend_from_slice(&6u16.to_be_bytes());
            b.extend_from_slice(&addr);
            b.extend_from_slice(&ethertype.to_be_bytes());
            113
        }
        Seen::Interfaces if egress => 101,
        Seen::Interfaces => {
            b.extend_from_slice(&[0x02, 0x00, 0x5e, 0x00, 0x00, 0x01]);
            b.extend_from_slice(&[0x02, 0x00, 0x5e, 0x00, 0x00, 0x00]);
            b.extend_from_slice(&ethertype.to_be_bytes());
            1
        }
    };
    b.extend_from_slice(&f.bytes);
    Frame {
        ts_ns,
        linktype,
        bytes: b,
        kind: f.kind,
    }
}

impl Forwarded {
    /// Write the capture: classic pcap (ns) for the cooked kinds, pcapng with two named
    /// interfaces of different link types and timestamp resolutions for [`Seen::Interfaces`].
    pub fn write<W: Write>(&self, w: W) -> io::Result<W> {
        match self.seen {
            Seen::Interfaces => {
                let mut p = PcapngWriter::new(w)?;
                p.add_named_interface(1, DEFAULT_SNAPLEN, 9, INGRESS_NAME)?;
                p.add_named_interface(101, DEFAULT_SNAPLEN, 6, EGRESS_NAME)?;
                for (iface, f) in &self.frames {
                    p.write_frame(*iface, f.ts_ns, &f.bytes)?;
                }
                p.into_inner()
            }
            Seen::Sll2 { .. } | Seen::Sll => {
                let lt = if matches!(self.seen, Seen::Sll) {
                    113
                } else {
                    276
                };
                let mut p =
                    super::PcapWriter::new(w, lt, DEFAULT_SNAPLEN, super::TsResolution::Nano)?;
                for (_, f) in &self.frames {
                    p.write_frame(f.ts_ns, &f.bytes)?;
                }
                p.into_inner()
            }
        }
    }
}
