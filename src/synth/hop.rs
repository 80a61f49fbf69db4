//! Media through a middlebox hop, captured on the middlebox, with exact per-hop ground truth.
//!
//! Senders' streams enter the middlebox M (the *ingress* streams, captured as they arrive at
//! M) and leave it towards subscribers (the *egress* streams, captured as M sends them). The
//! probe on M sees both; what it cannot see is what happens before the ingress capture
//! (upstream loss) and after the egress capture (downstream loss), which the scenario puts in
//! the truth, and which the subscriber's final RTCP receiver report (RFC 3550 §6.4.2) reveals.
//!
//! Each egress stream forwards one ingress *layer* at a time ([`Egress::layers`]: a simulcast
//! SFU switches layers at a packet ordinal), either keeping SSRC, sequence numbers and RTP
//! timestamps (a relay, a router, TURN) or rewriting them as Janus or mediasoup do: a new
//! SSRC, a new sequence base and a new timestamp base, with the same timestamp deltas, marker
//! bits and payload sizes, sequence gaps kept (upstream and in-box losses stay visible as gaps).
//! Inside M, packets are lost (never forwarded), delayed (fixed + uniform jitter) and held
//! back (reordered). An egress stream may carry RTX (RFC 4588): every packet lost downstream
//! is retransmitted in a separate SSRC and payload type, with the original timestamp and a
//! payload two bytes longer (the OSN), and counts as repaired.
//!
//! Random impairments never touch the first and last [`QUIET`] ordinals nor those within
//! [`QUIET`] of a layer switch, so every hop's first and last forwarded packet are known from
//! the packets alone and A.1 loss counting agrees with the truth at the edges.
//!
//! Ground truth ([`HopTruth`], [`EgressTruth`]) is counted from the generator's own decisions,
//! sharing no code with the probe.

use super::frame::{udp_frame, Encap, L2L3};
use super::rng::Rng;
use super::rtcp::{self, ReportBlock};
use super::rtp::{rtp_packet, RtpHeader};
use super::scenario::{EPOCH_NS, MS};
use super::{Capture, Frame, FrameKind, Truth};
use std::net::SocketAddr;

/// Ordinals kept free of random impairments at the edges and around layer switches.
pub const QUIET: u32 = 8;

/// A stream entering the middlebox.
#[derive(Debug, Clone, PartialEq)]
pub struct Ingress {
    pub src: SocketAddr,
    /// M's address on the sender's side.
    pub dst: SocketAddr,
    pub ssrc: u32,
    pub pt: u8,
    pub first_seq: u16,
    pub first_ts: u32,
    /// Video: 1–4 packets per frame of random size (200–1199 bytes), marker on a frame's last
    /// packet, timestamp step 3000 per frame. Audio: 160-byte payloads, step 160, marker first.
    pub video: bool,
    /// One-way delay sender → M.
    pub owd_ns: i64,
    /// Probability a packet is lost before it reaches M.
    pub upstream_loss: f64,
}

/// A stream leaving the middlebox.
#[derive(Debug, Clone, PartialEq)]
pub struct Egress {
    /// M's address on the subscriber's side.
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// `None`: SSRC, sequence numbers and timestamps kept. `Some`: rewritten to this SSRC,
    /// `seq_base` and `ts_base`.
    pub rewrite: Option<(u32, u16, u32)>,
    /// (first ordinal, ingress index): which layer is forwarded from which ordinal on; the
    /// first entry's ordinal is where forwarding starts.
    pub layers: Vec<(u32, usize)>,
    /// Probability M loses a packet it received (never forwards it).
    pub inside_loss: f64,
    pub delay_ns: i64,
    /// Uniform extra delay in `[0, jitter_ns]`.
    pub jitter_ns: i64,
    /// Probability a packet is held back a further `hold_ns` (reordered inside M).
    pub reorder: f64,
    pub hold_ns: i64,
    /// Probability a forwarded packet is lost on the way to the subscriber.
    pub downstream_loss: f64,
    /// RTX (RFC 4588): (SSRC, payload type); every downstream loss is retransmitted.
    pub rtx: Option<(u32, u8)>,
    /// SSRC of the subscriber's receiver report.
    pub receiver_ssrc: u32,
}

/// A hop scenario: ingress streams, egress streams, packets per ingress stream.
#[derive(Debug, Clone, PartialEq)]
pub struct HopScenario {
    pub seed: u64,
    pub ingress: Vec<Ingress>,
    pub egress: Vec<Egress>,
    /// Packets each sender sends (ordinals `0..count`).
    pub count: u32,
    /// Send interval between consecutive packets.
    pub spacing_ns: i64,
    pub start_ns: i64,
}

/// What happened on one (ingress, egress) pair that forwarded at least one packet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HopTruth {
    pub ingress: usize,
    pub egress: usize,
    /// Ingress packets that reached M with ordinals between the first and last forwarded.
    pub packets_in: u64,
    /// Of those, forwarded (originals; RTX repairs are not counted here).
    pub packets_out: u64,
    /// Reached M, never forwarded.
    pub lost_inside: u64,
    /// Ordinals in that range lost before M.
    pub upstream_lost: u64,
    /// Forwarding delays (egress − ingress capture time) in egress capture order.
    pub delays_ns: Vec<i64>,
    pub rtx_packets: u64,
}

/// What happened to one egress stream after M.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EgressTruth {
    /// Forwarded packets lost on the way to the subscriber and not repaired by RTX.
    pub downstream_lost: u64,
    /// Forwarded packets lost downstream and repaired by RTX.
    pub repaired: u64,
}

/// The ground truth of a [`HopScenario`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HopsTruth {
    pub hops: Vec<HopTruth>,
    pub egress: Vec<EgressTruth>,
    /// Per ingress stream: packets lost before M.
    pub upstream_lost: Vec<u64>,
}

/// An ingress packet: (arrival at M, `None` if lost before it; RTP timestamp; marker; size).
type Sent = (Option<i64>, u32, bool, usize);

/// The shape of packet `k`: (RTP timestamp offset, marker, payload size).
fn shape(
    rng: &mut Rng,
    video: bool,
    k: u32,
    frame: &mut u32,
    left: &mut u32,
) -> (u32, bool, usize) {
    if !video {
        return (k * 160, k == 0, 160);
    }
    if *left == 0 {
        *left = 1 + rng.below(4) as u32;
        if k > 0 {
            *frame += 1;
        }
    }
    *left -= 1;
    (*frame * 3000, *left == 0, 200 + rng.below(1000) as usize)
}

impl HopScenario {
    /// Build the capture on M (frames sorted by capture time) and its truth. Stream indices in
    /// [`FrameKind`]: ingress `i` is `i`, egress `e` is `ingress.len() + e`, its RTX stream
    /// `ingress.len() + egress.len() + e`.
    pub fn build(&self) -> (Capture, HopsTruth) {
        let ni = self.ingress.len();
        let ne = self.egress.len();
        let n = self.count;
        let mut frames: Vec<Frame> = Vec::new();
        let mut push = |t: i64, src: SocketAddr, dst: SocketAddr, p: &[u8], kind| {
            frames.push(Frame {
                ts_ns: t,
                linktype: Encap::Ethernet.linktype(),
                bytes: udp_frame(L2L3::from(Encap::Ethernet), src, dst, p),
                kind,
            });
        };
        let mut truth = HopsTruth {
            egress: vec![EgressTruth::default(); ne],
            upstream_lost: vec![0; ni],
            ..HopsTruth::default()
        };
        // Ingress packets: (arrival at M or None, rtp ts, marker, size).
        let mut ing: Vec<Vec<Sent>> = Vec::new();
        for (i, s) in self.ingress.iter().enumerate() {
            let mut rng = Rng::derive(self.seed, i as u64);
            let (mut frame, mut left) = (0u32, 0u32);
            let mut v = Vec::new();
            for k in 0..n {
                let (dts, marker, size) = shape(&mut rng, s.video, k, &mut frame, &mut left);
                let quiet = k < QUIET || k + QUIET >= n;
                let lost = !quiet && rng.chance(s.upstream_loss);
                let t = self.start_ns + i64::from(k) * self.spacing_ns + s.owd_ns;
                let ts = s.first_ts.wrapping_add(dts);
                if lost {
                    truth.upstream_lost[i] += 1;
                    v.push((None, ts, marker, size));
                    continue;
                }
                let h = RtpHeader {
                    payload_type: s.pt,
                    marker,
                    seq: s.first_seq.wrapping_add(k as u16),
                    timestamp: ts,
                    ssrc: s.ssrc,
                    ..RtpHeader::default()
                };
                push(
                    t,
                    s.src,
                    s.dst,
                    &rtp_packet(&h, &vec![0x5a; size]),
                    FrameKind::Rtp { stream: i },
                );
                v.push((Some(t), ts, marker, size));
            }
            ing.push(v);
        }
        for (e, eg) in self.egress.iter().enumerate() {
            let mut rng = Rng::derive(self.seed ^ 0xE6E5, e as u64);
            let start = eg.layers.first().map_or(n, |l| l.0);
            let switches: Vec<u32> = eg.layers.iter().map(|l| l.0).collect();
            let near_switch = |k: u32| switches.iter().any(|&s| k + QUIET >= s && k < s + QUIET);
            // Per layer segment: a hop truth, indexed by position in `layers`.
            let mut hops: Vec<HopTruth> = eg
                .layers
                .iter()
                .map(|&(_, i)| HopTruth {
                    ingress: i,
                    egress: e,
                    ..HopTruth::default()
                })
                .collect();
            let mut seg_range: Vec<(Option<u32>, Option<u32>)> = vec![(None, None); hops.len()];
            let mut out: Vec<(i64, usize, u32)> = Vec::new(); // (time, segment, ordinal)
            let (mut rtx_seq, mut received, mut highest) = (0u16, 0u64, 0u64);
            for k in start..n {
                let seg = eg.layers.iter().rposition(|l| l.0 <= k).unwrap_or(0);
                let i = eg.layers.get(seg).map_or(0, |l| l.1);
                let Some(&(arr, ts, marker, size)) = ing.get(i).and_then(|v| v.get(k as usize))
                else {
                    continue;
                };
                let quiet = k < QUIET || k + QUIET >= n || near_switch(k);
                let Some(t_in) = arr else { continue };
                if !quiet && rng.chance(eg.inside_loss) {
                    continue;
                }
                let mut d = eg.delay_ns + rng.range_i64(0, eg.jitter_ns);
                if !quiet && rng.chance(eg.reorder) {
                    d += eg.hold_ns;
                }
                let t_out = t_in + d;
                let r = &mut seg_range[seg];
                r.0 = Some(r.0.map_or(k, |a| a.min(k)));
                r.1 = Some(r.1.map_or(k, |b| b.max(k)));
                let s = &self.ingress[i];
                let (ssrc, seq, ts_out) = match eg.rewrite {
                    None => (s.ssrc, s.first_seq.wrapping_add(k as u16), ts),
                    Some((ssrc, seq_base, ts_base)) => (
                        ssrc,
                        seq_base.wrapping_add((k - start) as u16),
                        ts_base.wrapping_add(ts.wrapping_sub(s.first_ts)),
                    ),
                };
                let h = RtpHeader {
                    payload_type: s.pt,
                    marker,
                    seq,
                    timestamp: ts_out,
                    ssrc,
                    ..RtpHeader::default()
                };
                push(
                    t_out,
                    eg.src,
                    eg.dst,
                    &rtp_packet(&h, &vec![0x5a; size]),
                    FrameKind::Rtp { stream: ni + e },
                );
                out.push((t_out, seg, k));
                highest = highest.max(u64::from(k - start));
                let lost_down = !quiet && rng.chance(eg.downstream_loss);
                match (lost_down, eg.rtx) {
                    (false, _) => received += 1,
                    (true, None) => truth.egress[e].downstream_lost += 1,
                    (true, Some((rtx_ssrc, rtx_pt))) => {
                        // The subscriber NACKs; M retransmits 100 ms later (RFC 4588 §4).
                        received += 1;
                        truth.egress[e].repaired += 1;
                        let mut payload = seq.to_be_bytes().to_vec();
                        payload.extend(std::iter::repeat(0x5a).take(size));
                        let h = RtpHeader {
                            payload_type: rtx_pt,
                            seq: rtx_seq,
                            timestamp: ts_out,
                            ssrc: rtx_ssrc,
                            ..RtpHeader::default()
                        };
                        rtx_seq = rtx_seq.wrapping_add(1);
                        push(
                            t_out + 100 * MS,
                            eg.src,
                            eg.dst,
                            &rtp_packet(&h, &payload),
                            FrameKind::Rtp {
                                stream: ni + ne + e,
                            },
                        );
                        if let Some(hop) = hops.get_mut(seg) {
                            hop.rtx_packets += 1;
                        }
                    }
                }
            }
            out.sort_by_key(|o| o.0);
            for (t_out, seg, k) in out {
                let i = eg.layers.get(seg).map_or(0, |l| l.1);
                if let (Some(hop), Some(Some(t_in))) = (
                    hops.get_mut(seg),
                    ing.get(i).and_then(|v| v.get(k as usize)).map(|p| p.0),
                ) {
                    hop.delays_ns.push(t_out - t_in);
                    hop.packets_out += 1;
                }
            }
            for (seg, hop) in hops.iter_mut().enumerate() {
                let (Some(a), Some(b)) = seg_range[seg] else {
                    continue;
                };
                for k in a..=b {
                    match ing.get(hop.ingress).and_then(|v| v.get(k as usize)) {
                        Some((Some(_), ..)) => hop.packets_in += 1,
                        _ => hop.upstream_lost += 1,
                    }
                }
                hop.lost_inside = hop.packets_in - hop.packets_out;
            }
            truth
                .hops
                .extend(hops.into_iter().filter(|h| h.packets_out > 0));
            // The subscriber's final report: everything between the first and the highest
            // egress sequence number that it did not receive (repairs count as received).
            let (ssrc, seq_base) = match eg.rewrite {
                Some((ssrc, base, _)) => (ssrc, base),
                None => {
                    let s = eg.layers.first().and_then(|l| self.ingress.get(l.1));
                    s.map_or((0, 0), |s| (s.ssrc, s.first_seq.wrapping_add(start as u16)))
                }
            };
            let expected = highest + 1;
            let blk = ReportBlock {
                ssrc,
                cumulative_lost: i32::try_from(expected - received).unwrap_or(i32::MAX),
                ext_highest_seq: (u64::from(seq_base) + highest) as u32,
                ..ReportBlock::default()
            };
            let last = self.start_ns + i64::from(n) * self.spacing_ns + 500 * MS;
            push(
                last,
                eg.dst,
                eg.src,
                &rtcp::rr(eg.receiver_ssrc, &[blk]),
                FrameKind::Rtcp { stream: ni + e },
            );
        }
        frames.sort_by_key(|f| f.ts_ns);
        let t = Truth {
            frames: frames.len() as u64,
            ..Truth::default()
        };
        (Capture { frames, truth: t }, truth)
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// A video ingress stream from `10.1.0.<host>` to M.
pub fn video_in(host: u8, ssrc: u32) -> Ingress {
    Ingress {
        src: sa(&format!("10.1.0.{host}:5000")),
        dst: sa("10.1.0.100:30000"),
        ssrc,
        pt: 96,
        first_seq: 100u16.wrapping_mul(u16::from(host)).wrapping_add(65000),
        first_ts: 0x1234_5678u32.wrapping_mul(u32::from(host)),
        video: true,
        owd_ns: 10 * MS,
        upstream_loss: 0.0,
    }
}

/// An egress stream from M to `10.2.0.<host>` forwarding ingress `layer` from ordinal 0.
pub fn egress_to(host: u8, layer: usize) -> Egress {
    Egress {
        src: sa("10.2.0.100:40000"),
        dst: sa(&format!("10.2.0.{host}:6000")),
        rewrite: None,
        layers: vec![(0, layer)],
        inside_loss: 0.0,
        delay_ns: 2 * MS,
        jitter_ns: 0,
        reorder: 0.0,
        hold_ns: 0,
        downstream_loss: 0.0,
        rtx: None,
        receiver_ssrc: 0xCAFE_0000 | u32::from(host),
    }
}

/// A scenario of `count` packets 10 ms apart.
pub fn scenario(seed: u64, ingress: Vec<Ingress>, egress: Vec<Egress>, count: u32) -> HopScenario {
    HopScenario {
        seed,
        ingress,
        egress,
        count,
        spacing_ns: 10 * MS,
        start_ns: EPOCH_NS,
    }
}

/// The six scenarios the issue asks for, by name: `relay` (SSRC kept, loss, delay, jitter and
/// reordering inside), `sfu` (rewritten), `fanout` (1→3), `simulcast` (three layers, each
/// subscriber switching once), `rtx`, `audio_relay` (constant-size audio, SSRC kept).
pub fn named(name: &str) -> Option<HopScenario> {
    let imp = |mut e: Egress| {
        e.inside_loss = 0.03;
        e.delay_ns = 5 * MS;
        e.jitter_ns = 4 * MS;
        e.reorder = 0.02;
        e.hold_ns = 25 * MS;
        e.downstream_loss = 0.02;
        e
    };
    let up = |mut i: Ingress| {
        i.upstream_loss = 0.02;
        i
    };
    let rw = |mut e: Egress, ssrc: u32, seq: u16, ts: u32| {
        e.rewrite = Some((ssrc, seq, ts));
        e
    };
    Some(match name {
        "relay" => scenario(
            1,
            vec![up(video_in(1, 0xA1))],
            vec![imp(egress_to(2, 0))],
            1500,
        ),
        "sfu" => scenario(
            2,
            vec![up(video_in(1, 0xA1))],
            vec![rw(imp(egress_to(2, 0)), 0x5E00_0001, 40000, 777)],
            1500,
        ),
        "fanout" => scenario(
            3,
            vec![up(video_in(1, 0xA1)), video_in(4, 0xA4)],
            (0..3)
                .map(|k| {
                    rw(
                        imp(egress_to(10 + k, 0)),
                        0x5E00_0010 + u32::from(k),
                        1000 * u16::from(k),
                        99 * u32::from(k),
                    )
                })
                .collect(),
            1500,
        ),
        "simulcast" => scenario(
            4,
            (0..3)
                .map(|l| up(video_in(1 + l, 0xB0 + u32::from(l))))
                .collect(),
            (0..3u8)
                .map(|k| {
                    let mut e = rw(
                        imp(egress_to(20 + k, 0)),
                        0x5E00_0020 + u32::from(k),
                        5000,
                        1,
                    );
                    let (a, b) = (usize::from(k), usize::from((k + 1) % 3));
                    e.layers = vec![(0, a), (600 + 100 * u32::from(k), b)];
                    e
                })
                .collect(),
            1500,
        ),
        "rtx" => {
            let mut e = rw(imp(egress_to(2, 0)), 0x5E00_0030, 7, 7);
            e.rtx = Some((0x5E00_0031, 97));
            scenario(5, vec![up(video_in(1, 0xA1))], vec![e], 1500)
        }
        "audio_relay" => {
            let mut i = up(video_in(1, 0xA1));
            i.video = false;
            i.pt = 0;
            scenario(6, vec![i], vec![imp(egress_to(2, 0))], 1500)
        }
        _ => return None,
    })
}

/// The names [`named`] knows.
pub const NAMES: [&str; 6] = ["relay", "sfu", "fanout", "simulcast", "rtx", "audio_relay"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_scenario_builds_with_consistent_truth() {
        for name in NAMES {
            let s = named(name).unwrap();
            let (cap, t) = s.build();
            assert!(
                cap.frames.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns),
                "{name}"
            );
            assert!(!t.hops.is_empty(), "{name}");
            for h in &t.hops {
                assert_eq!(h.packets_in, h.packets_out + h.lost_inside, "{name}");
                assert_eq!(h.delays_ns.len() as u64, h.packets_out, "{name}");
                assert!(h.delays_ns.iter().all(|&d| d > 0), "{name}");
            }
        }
        // Impairments inside the box happened where they were asked for.
        let (_, t) = named("relay").unwrap().build();
        assert!(t.hops[0].lost_inside > 10 && t.upstream_lost[0] > 10);
        assert!(t.egress[0].downstream_lost > 5);
        let (_, t) = named("simulcast").unwrap().build();
        assert_eq!(t.hops.len(), 6, "three subscribers, each on two layers");
        let (_, t) = named("rtx").unwrap().build();
        assert!(t.hops[0].rtx_packets > 5 && t.egress[0].downstream_lost == 0);
        let (_, t) = named("fanout").unwrap().build();
        assert!(t.hops.iter().all(|h| h.ingress == 0) && t.hops.len() == 3);
    }
}
