//! A call through a media middlebox, captured on the middlebox, with a known round trip.
//!
//! Caller A and callee B each send one RTP stream (SSRC `ssrc_a`, `ssrc_b`) through a
//! middlebox M that faces A from `m_a` and B from `m_b` (one address or two). The probe sits on
//! M, so every packet is captured twice: arriving at M on one leg and leaving M on the other.
//! One-way delays are `owd_a_ns` (probe ↔ A) and `owd_b_ns` (probe ↔ B); M adds `forward_ns`.
//!
//! * [`Kind::Relay`] forwards RTCP unchanged (rtpengine): A's SR passes the probe on both legs,
//!   and so does B's reception report about it. Each report reaches the probe again
//!   `forward_ns` after it first did.
//! * [`Kind::Sfu`] terminates RTCP: each leg has its own SRs (M sends SRs for the SSRCs it
//!   forwards) and its own reports (M reports on what it receives, with its own SSRCs
//!   `sfu_ssrc_a`, `sfu_ssrc_b`, answering `forward_ns` later than its DLSR says).
//!
//! * [`Kind::Forwarding`] is a plain IP router (or bridge) captured on both of its interfaces
//!   (`any`): A and B address each other (`m_a`, `m_b` are not used) and every frame, RTP and
//!   RTCP, is seen twice with the same 5-tuple: on the interface facing its sender, then
//!   `forward_ns` later on the interface facing its receiver ([`Call::build_sides`]).
//!
//! Ground truth ([`Call::true_rtt_ns`]): the round trip between A and B is the round trip of
//! the leg to A plus that of the leg to B, each including M's turnaround:
//! `2·owd_a + 2·owd_b + 2·forward` in both kinds. Every DLSR is a multiple of 128/65536 s, so
//! every capture-point RTT is a whole number of ns and the truth is exact.

use super::frame::{udp_frame, Encap, L2L3};
use super::rtcp::{self, ntp_from_unix_ns, ntp_mid32, ReportBlock, SenderInfo};
use super::rtp::{rtp_packet, RtpHeader};
use super::scenario::{EPOCH_NS, MS, SEC};
use super::{Capture, Frame, FrameKind, Truth};
use std::net::SocketAddr;

/// What the middlebox does with RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Forwards RTCP unchanged (a relay such as rtpengine).
    Relay,
    /// Terminates RTCP: its own SRs and reports on each leg (an SFU that keeps SSRCs).
    Sfu,
    /// Forwards every frame unchanged, seen on the interface facing A and on the one facing B.
    Forwarding,
}

/// A call A ↔ M ↔ B (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub kind: Kind,
    pub a: SocketAddr,
    pub m_a: SocketAddr,
    pub m_b: SocketAddr,
    pub b: SocketAddr,
    pub owd_a_ns: i64,
    pub owd_b_ns: i64,
    pub forward_ns: i64,
    pub ssrc_a: u32,
    pub ssrc_b: u32,
    pub sfu_ssrc_a: u32,
    pub sfu_ssrc_b: u32,
    /// Media duration, whole seconds (one RTCP round per second after the first).
    pub secs: u32,
    pub start_ns: i64,
}

/// DLSR every report in the call carries: 125 ms, a multiple of 128/65536 s.
const DLSR_UNITS: u32 = 128 * 64;
const PTIME_NS: i64 = 20 * MS;

impl Call {
    /// A relay on one address between two IPv4 hosts: 20 ms and 40 ms one way, 0.5 ms through.
    pub fn relay() -> Self {
        let sa = |s: &str| s.parse().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        Call {
            kind: Kind::Relay,
            a: sa("10.1.0.1:4000"),
            m_a: sa("10.1.0.100:30000"),
            m_b: sa("10.1.0.100:30002"),
            b: sa("10.2.0.2:6000"),
            owd_a_ns: 20 * MS,
            owd_b_ns: 40 * MS,
            forward_ns: MS / 2,
            ssrc_a: 0xA000_0001,
            ssrc_b: 0xB000_0002,
            sfu_ssrc_a: 0x5F00_00A0,
            sfu_ssrc_b: 0x5F00_00B0,
            secs: 6,
            start_ns: EPOCH_NS,
        }
    }

    /// An SFU with one address per side (IPv4 towards A, IPv6 towards B).
    pub fn sfu() -> Self {
        let sa = |s: &str| s.parse().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        Call {
            kind: Kind::Sfu,
            m_b: sa("[2001:db8:2::100]:30002"),
            b: sa("[2001:db8:2::2]:6000"),
            owd_a_ns: 15 * MS,
            owd_b_ns: 35 * MS,
            forward_ns: MS,
            ..Call::relay()
        }
    }

    /// The round trip between A and B (module doc).
    pub fn true_rtt_ns(&self) -> i64 {
        2 * (self.owd_a_ns + self.owd_b_ns + self.forward_ns)
    }

    /// A plain router between A and B, captured on both interfaces ([`Kind::Forwarding`]):
    /// 12 ms one way to A, 9 ms to B, 4.5 ms through the router.
    pub fn forwarding() -> Self {
        Call {
            kind: Kind::Forwarding,
            owd_a_ns: 12 * MS,
            owd_b_ns: 9 * MS,
            forward_ns: 9 * MS / 2,
            ..Call::relay()
        }
    }

    /// The capture on M: frames sorted by capture time. Stream indices in [`FrameKind`]:
    /// 0 = A→M (SSRC a), 1 = M→B (a), 2 = B→M (b), 3 = M→A (b).
    pub fn build(&self) -> Capture {
        let frames = self.build_sides();
        let truth = Truth {
            frames: frames.len() as u64,
            ..Truth::default()
        };
        let frames = frames.into_iter().map(|(_, f)| f).collect();
        Capture { frames, truth }
    }

    /// [`Call::build`] with the side of M each frame was seen on: 0 the interface facing A,
    /// 1 the one facing B (an observation point each, for [`Kind::Forwarding`]).
    pub fn build_sides(&self) -> Vec<(u8, Frame)> {
        let mut frames = Vec::new();
        let f = self.forward_ns;
        // A router keeps the endpoints' addresses: both legs are A ↔ B.
        let (m_a, m_b) = if self.kind == Kind::Forwarding {
            (self.b, self.a)
        } else {
            (self.m_a, self.m_b)
        };
        let mut push = |t: i64, src, dst, payload: &[u8], kind| {
            let bytes = udp_frame(L2L3::from(Encap::Ethernet), src, dst, payload);
            // Legs 0 (A→M) and 3 (M→A) are on A's side, 1 and 2 on B's; RTCP is tagged with
            // the leg it travels on.
            let side = match kind {
                FrameKind::Rtp { stream } | FrameKind::Rtcp { stream } => u8::from(stream % 3 != 0),
                _ => 0,
            };
            frames.push((
                side,
                Frame {
                    ts_ns: t,
                    linktype: Encap::Ethernet.linktype(),
                    bytes,
                    kind,
                },
            ));
        };
        // Media: each packet at M on its way in, and `f` later on its way out.
        let n = self.secs * (SEC / PTIME_NS) as u32;
        for i in 0..n {
            for (ssrc, legs, owd, idx) in [
                (
                    self.ssrc_a,
                    [(self.a, m_a), (m_b, self.b)],
                    self.owd_a_ns,
                    0,
                ),
                (
                    self.ssrc_b,
                    [(self.b, m_b), (m_a, self.a)],
                    self.owd_b_ns,
                    2,
                ),
            ] {
                let h = RtpHeader {
                    payload_type: 0,
                    seq: 1000u16.wrapping_add(i as u16),
                    timestamp: 160 * i,
                    ssrc,
                    ..RtpHeader::default()
                };
                let p = rtp_packet(&h, &[0xd5; 160]);
                let t = self.start_ns + i64::from(i) * PTIME_NS + owd;
                push(t, legs[0].0, legs[0].1, &p, FrameKind::Rtp { stream: idx });
                push(
                    t + f,
                    legs[1].0,
                    legs[1].1,
                    &p,
                    FrameKind::Rtp { stream: idx + 1 },
                );
            }
        }
        let dlsr = rtcp::dlsr_units_to_ns(DLSR_UNITS);
        let sr = |ssrc: u32, t: i64| {
            let ntp = ntp_from_unix_ns(t);
            let info = SenderInfo {
                ntp,
                ..SenderInfo::default()
            };
            (rtcp::sr(ssrc, &info, &[]), ntp_mid32(ntp))
        };
        let rr = |reporter: u32, about: u32, lsr: u32| {
            let blk = ReportBlock {
                ssrc: about,
                ext_highest_seq: 1000,
                lsr,
                dlsr: DLSR_UNITS,
                ..ReportBlock::default()
            };
            rtcp::rr(reporter, &[blk])
        };
        for r in 1..self.secs.saturating_sub(1) {
            let round = self.start_ns + i64::from(r) * SEC;
            // (sender SSRC, [in-leg, out-leg], one-way delay of sender, of receiver,
            //  receiver's SSRC, M's reporter SSRC towards the sender, stream index of in-leg)
            for (k, (ssrc, legs, owd_s, owd_r, rx, m_rx, idx)) in [
                (
                    self.ssrc_a,
                    [(self.a, m_a), (m_b, self.b)],
                    self.owd_a_ns,
                    self.owd_b_ns,
                    self.ssrc_b,
                    self.sfu_ssrc_a,
                    0,
                ),
                (
                    self.ssrc_b,
                    [(self.b, m_b), (m_a, self.a)],
                    self.owd_b_ns,
                    self.owd_a_ns,
                    self.ssrc_a,
                    self.sfu_ssrc_b,
                    2,
                ),
            ]
            .into_iter()
            .enumerate()
            {
                let (in_leg, out_leg) = (legs[0], legs[1]);
                let at_m = round + k as i64 * 500 * MS + owd_s;
                let (bytes, lsr) = sr(ssrc, at_m - owd_s);
                push(
                    at_m,
                    in_leg.0,
                    in_leg.1,
                    &bytes,
                    FrameKind::Rtcp { stream: idx },
                );
                match self.kind {
                    Kind::Relay | Kind::Forwarding => {
                        // Forwarded out, answered by the receiver, forwarded back.
                        let out = at_m + f;
                        push(
                            out,
                            out_leg.0,
                            out_leg.1,
                            &bytes,
                            FrameKind::Rtcp { stream: idx + 1 },
                        );
                        let rep = rr(rx, ssrc, lsr);
                        let back = out + 2 * owd_r + dlsr;
                        push(
                            back,
                            out_leg.1,
                            out_leg.0,
                            &rep,
                            FrameKind::Rtcp { stream: idx + 1 },
                        );
                        push(
                            back + f,
                            in_leg.1,
                            in_leg.0,
                            &rep,
                            FrameKind::Rtcp { stream: idx },
                        );
                    }
                    Kind::Sfu => {
                        // M answers the sender itself, and sends its own SR on the out-leg,
                        // which the receiver answers.
                        let rep = rr(m_rx, ssrc, lsr);
                        push(
                            at_m + dlsr + f,
                            in_leg.1,
                            in_leg.0,
                            &rep,
                            FrameKind::Rtcp { stream: idx },
                        );
                        let out = at_m + 200 * MS;
                        let (own, own_lsr) = sr(ssrc, out + 7 * SEC);
                        push(
                            out,
                            out_leg.0,
                            out_leg.1,
                            &own,
                            FrameKind::Rtcp { stream: idx + 1 },
                        );
                        let rep = rr(rx, ssrc, own_lsr);
                        let back = out + 2 * owd_r + dlsr;
                        push(
                            back,
                            out_leg.1,
                            out_leg.0,
                            &rep,
                            FrameKind::Rtcp { stream: idx + 1 },
                        );
                    }
                }
            }
        }
        frames.sort_by_key(|(_, fr)| fr.ts_ns);
        frames
    }
}
