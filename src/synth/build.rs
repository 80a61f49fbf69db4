//! [`Scenario::build`]: turn the description into frames and truth.
//!
//! Order of work: media per stream (loss, delay, reorder, duplicate → capture-ordered
//! arrivals), then per stream RTCP / feedback / STUN (which need the arrivals to fill report
//! blocks), then SR chains, then noise; finally one stable sort by capture time. Each stream
//! draws from its own PRNG (`Rng::derive(seed, index)`), signalling from another, noise from a
//! third, so changing one part leaves the bytes of the others untouched.

use std::net::SocketAddr;

use super::frame::{ipv4_fragment, tcp_frame, udp_frame, udp_noise_payload, L2L3};
use super::rng::{splitmix64, Rng};
use super::rtcp::{
    self, dlsr_units_to_ns, ntp_from_unix_ns, ntp_mid32, ReportBlock, SenderInfo, XrBlock,
};
use super::rtp::{write_rtp, HeaderExt, RtpHeader};
use super::scenario::{ExtForm, Scenario, SrChain, StreamSpec, Turn, MS};
use super::stun;
use super::truth::{tally, Arrival, NoiseTruth, RemoteReportTruth, StreamTruth, Tally, Truth};
use super::{Capture, Frame, FrameKind};

/// Frames and counters accumulated while building.
#[derive(Default)]
pub(super) struct Out {
    pub(super) frames: Vec<Frame>,
    pub(super) truth: Truth,
}

impl Out {
    fn push(&mut self, ts_ns: i64, linktype: u32, bytes: Vec<u8>, kind: FrameKind) {
        self.frames.push(Frame {
            ts_ns,
            linktype,
            bytes,
            kind,
        });
    }

    fn count(&mut self, kind: &str) {
        *self.truth.rtcp.entry(kind.to_string()).or_insert(0) += 1;
    }
}

/// Per-stream state carried from media generation into signalling and truth.
#[derive(Default)]
pub(super) struct StreamState {
    arrivals: Vec<Arrival>,
    /// Send indices the network dropped, ascending.
    lost: Vec<u32>,
    /// (expected, packets) at the previous report, for RFC 3550 A.3 fraction lost.
    prev_report: (u64, u64),
    pub(super) remote: Option<RemoteReportTruth>,
    pub(super) rtt_capture_point_ns: Option<i64>,
    rtt_sr_chain_ns: Option<i64>,
    rtt_end_to_end_ns: Option<i64>,
}

impl Scenario {
    /// Generate the capture and its ground truth. Deterministic in `self`.
    pub fn build(&self) -> Capture {
        let mut out = Out::default();
        let mut st: Vec<StreamState> = Vec::with_capacity(self.streams.len());
        for (i, s) in self.streams.iter().enumerate() {
            let mut rng = Rng::derive(self.seed, i as u64);
            st.push(media(&mut out, i, s, &mut rng));
        }
        for (i, s) in self.streams.iter().enumerate() {
            let mut rng = Rng::derive(self.seed, (1 << 32) | i as u64);
            signalling(&mut out, i, s, &mut st[i], &mut rng);
        }
        for ch in &self.chains {
            chain(&mut out, &self.streams, &mut st, ch);
        }
        if let Some(n) = &self.noise {
            noise(&mut out, n, &mut Rng::derive(self.seed, u64::MAX));
        }
        out.frames.sort_by_key(|f| f.ts_ns);
        let mut truth = out.truth;
        truth.frames = out.frames.len() as u64;
        for (i, s) in self.streams.iter().enumerate() {
            truth.streams.push(stream_truth(
                self,
                i,
                s,
                &st[i],
                &tally(&st[i].arrivals, s.clock_rate),
            ));
        }
        Capture {
            frames: out.frames,
            truth,
        }
    }
}

/// Sequence number on the wire for send index `i`.
fn seq_of(s: &StreamSpec, i: u32) -> u16 {
    let mut q = s.first_seq.wrapping_add(i as u16);
    if let Some(r) = s.restart.filter(|r| i >= r.after) {
        q = q.wrapping_add(r.jump);
    }
    q
}

/// (segment, extended sequence number within the segment) for send index `i`.
fn ext_of(s: &StreamSpec, i: u32) -> (u8, u64) {
    match s.restart.filter(|r| i >= r.after) {
        Some(r) => (1, u64::from(seq_of(s, r.after)) + u64::from(i - r.after)),
        None => (0, u64::from(s.first_seq) + u64::from(i)),
    }
}

/// Wrap `payload` per the stream's TURN mode and frame it. `forward` = the stream's direction
/// (Data indication) rather than back towards its source (Send indication).
fn wire(
    out: &mut Out,
    s: &StreamSpec,
    forward: bool,
    addrs: (SocketAddr, SocketAddr),
    payload: Vec<u8>,
    salt: u64,
) -> Vec<u8> {
    let p = match s.turn {
        Turn::None => payload,
        Turn::ChannelData { channel } => {
            out.truth.turn_channel_data += 1;
            stun::channel_data(channel, &payload)
        }
        Turn::Indication { peer } => {
            out.truth.turn_indications += 1;
            let t = if forward {
                stun::DATA_INDICATION
            } else {
                stun::SEND_INDICATION
            };
            stun::indication(t, &txid(salt), peer, &payload)
        }
    };
    udp_frame(
        L2L3 {
            encap: s.encap,
            hop_by_hop: s.hop_by_hop,
        },
        addrs.0,
        addrs.1,
        &p,
    )
}

/// A 12-byte transaction ID that is a pure function of `salt`.
fn txid(salt: u64) -> [u8; 12] {
    let mut sm = salt;
    let (a, b) = (splitmix64(&mut sm), splitmix64(&mut sm));
    let mut t = [0u8; 12];
    t[..8].copy_from_slice(&a.to_be_bytes());
    t[8..].copy_from_slice(&b.to_be_bytes()[..4]);
    t
}

/// RTP for one stream: impairments, then frames and capture-ordered arrivals.
fn media(out: &mut Out, idx: usize, s: &StreamSpec, rng: &mut Rng) -> StreamState {
    let n = s.count as usize;
    let im = &s.impair;
    let q = im.quiet as usize;
    let restart_at = s.restart.map(|r| r.after as usize);
    let quiet =
        |i: usize| i < q || i + q >= n || restart_at.is_some_and(|r| i + q >= r && i < r + q);
    let mut lost = vec![false; n];
    for &(a, l) in &im.loss_bursts {
        let (a, l) = (a as usize, l as usize);
        lost.iter_mut().skip(a).take(l).for_each(|x| *x = true);
    }
    let mut base = Vec::with_capacity(n);
    for (i, l) in lost.iter_mut().enumerate() {
        let extra = if im.jitter_ns > 0 {
            rng.range_i64(0, im.jitter_ns)
        } else {
            0
        };
        base.push(s.start_ns + i as i64 * s.ptime_ns + im.base_delay_ns + extra);
        if !quiet(i) && rng.chance(im.loss) {
            *l = true;
        }
    }
    let mut hold = vec![0u32; n];
    for &(i, k) in &im.reorder_at {
        if let Some(h) = hold.get_mut(i as usize) {
            *h = k;
        }
    }
    for (i, h) in hold.iter_mut().enumerate() {
        if *h == 0 && !quiet(i) && rng.chance(im.reorder) {
            *h = 1 + rng.below(u64::from(im.reorder_max_k.max(1))) as u32;
        }
    }
    // (capture time, send index, is a duplicate), generation order = index order.
    let mut items: Vec<(i64, u32, bool)> = Vec::with_capacity(n + n / 8);
    for i in 0..n {
        if lost[i] {
            continue;
        }
        let target = (i + hold[i] as usize).min(n - 1);
        let t = if target > i {
            base[target] + 1
        } else {
            base[i]
        };
        items.push((t, i as u32, false));
        if !quiet(i) && rng.chance(im.duplicate) {
            items.push((
                t + rng.range_i64(1, im.duplicate_gap_ns.max(1)),
                i as u32,
                true,
            ));
        }
    }
    items.sort_by_key(|it| it.0);
    let mut state = StreamState {
        lost: (0..n as u32).filter(|&i| lost[i as usize]).collect(),
        ..Default::default()
    };
    for (t, i, _dup) in items {
        state.arrivals.push(rtp_frame(out, idx, s, i, t));
    }
    state
}

/// Emit RTP packet `i` (send index) of stream `idx`, captured at `t`; returns its arrival.
/// Payload and TURN txid are functions of (ssrc, i), so a duplicate is byte-identical.
pub(super) fn rtp_frame(out: &mut Out, idx: usize, s: &StreamSpec, i: u32, t: i64) -> Arrival {
    let rtp_ts = s.first_ts.wrapping_add(s.ts_step().wrapping_mul(i));
    let (segment, ext_seq) = ext_of(s, i);
    let salt = (u64::from(s.ssrc) << 32) | u64::from(i);
    let mut payload = vec![0u8; s.payload_len];
    Rng::new(salt).fill(&mut payload);
    let elems = || {
        vec![
            (1u8, vec![0x80 | (i % 100) as u8]),
            (3u8, (i as u16).to_be_bytes().to_vec()),
        ]
    };
    let h = RtpHeader {
        payload_type: s.payload_type,
        marker: if s.rtp.marker_every > 0 {
            i % s.rtp.marker_every == 0
        } else {
            i == 0
        },
        seq: seq_of(s, i),
        timestamp: rtp_ts,
        ssrc: s.ssrc,
        csrcs: s.rtp.csrcs.clone(),
        ext: s.rtp.ext.map(|f| match f {
            ExtForm::OneByte => HeaderExt::OneByte(elems()),
            ExtForm::TwoByte => HeaderExt::TwoByte(elems()),
        }),
        padding: s.rtp.padding,
    };
    let mut buf = Vec::with_capacity(s.payload_len + 64);
    write_rtp(&mut buf, &h, &payload);
    let bytes = wire(out, s, true, (s.src, s.dst), buf, salt);
    out.push(t, s.encap.linktype(), bytes, FrameKind::Rtp { stream: idx });
    Arrival {
        ts_ns: t,
        ordinal: u64::from(i),
        segment,
        ext_seq,
        rtp_ts,
    }
}

/// A report block about stream `s` as its receiver would write it at capture time `t`
/// (RFC 3550 §6.4.1, A.3), from the packets captured up to `t`. Advances the fraction-lost
/// interval and records the block as the latest remote report when `commit`.
fn report(st: &mut StreamState, s: &StreamSpec, t: i64, commit: bool) -> ReportBlock {
    let upto = st.arrivals.partition_point(|a| a.ts_ns <= t);
    let tl = tally(&st.arrivals[..upto], s.clock_rate);
    let exp_int = tl.expected as i64 - st.prev_report.0 as i64;
    let lost_int = exp_int - (tl.packets as i64 - st.prev_report.1 as i64);
    let fraction_lost = if exp_int <= 0 || lost_int <= 0 {
        0
    } else {
        ((lost_int << 8) / exp_int).min(255) as u8
    };
    let cumulative_lost =
        (tl.expected as i64 - tl.packets as i64).clamp(-0x80_0000, 0x7f_ffff) as i32;
    let ext_highest_seq = tl.highest_ext_seq as u32;
    let jitter = tl.jitter_ts as u32;
    if commit {
        st.prev_report = (tl.expected, tl.packets);
        st.remote = Some(RemoteReportTruth {
            fraction_lost,
            cumulative_lost,
            ext_highest_seq,
            jitter,
        });
    }
    ReportBlock {
        ssrc: s.ssrc,
        fraction_lost,
        cumulative_lost,
        ext_highest_seq,
        jitter,
        lsr: 0,
        dlsr: 0,
    }
}

/// Emit one RTCP compound on the stream's RTCP 5-tuple, counting its packets by kind.
pub(super) fn emit_rtcp(
    out: &mut Out,
    idx: usize,
    s: &StreamSpec,
    t: i64,
    forward: bool,
    parts: &[(&[&str], Vec<u8>)],
) {
    for (kinds, _) in parts {
        for k in *kinds {
            out.count(k);
        }
    }
    let (a, b) = s.rtcp_addrs();
    let addrs = if forward { (a, b) } else { (b, a) };
    let c = parts.iter().flat_map(|p| p.1.iter().copied()).collect();
    let bytes = wire(out, s, forward, addrs, c, t as u64 ^ u64::from(s.ssrc));
    out.push(
        t,
        s.encap.linktype(),
        bytes,
        FrameKind::Rtcp { stream: idx },
    );
}

/// Sender info for an SR captured at `t` with NTP `ntp`: packets sent by then (lost or not).
pub(super) fn sender_info(s: &StreamSpec, t: i64, ntp: u64) -> SenderInfo {
    let el = t - s.start_ns;
    let sent = if el < 0 {
        0
    } else {
        (el / s.ptime_ns + 1).min(i64::from(s.count)) as u32
    };
    let ticks = (el as i128 * i128::from(s.clock_rate) / 1_000_000_000) as i64;
    SenderInfo {
        ntp,
        rtp_ts: s.first_ts.wrapping_add(ticks as u32),
        packet_count: sent,
        octet_count: sent.wrapping_mul(s.payload_len as u32),
    }
}

pub(super) fn sr_parts(
    s: &StreamSpec,
    info: &SenderInfo,
    blocks: &[ReportBlock],
) -> Vec<(&'static [&'static str], Vec<u8>)> {
    let mut parts: Vec<(&[&str], Vec<u8>)> = vec![(&["sr"], rtcp::sr(s.ssrc, info, blocks))];
    if let Some(c) = &s.cname {
        parts.push((&["sdes"], rtcp::sdes_cname(s.ssrc, c)));
    }
    parts
}

/// The receiver's RR compound: RR with one block, then its SDES CNAME (RFC 3550 §6.1).
pub(super) fn rr_parts(rx: u32, blk: ReportBlock) -> [(&'static [&'static str], Vec<u8>); 2] {
    let cname = format!("rx-{rx:08x}@synth");
    [
        (&["rr"], rtcp::rr(rx, &[blk])),
        (&["sdes"], rtcp::sdes_cname(rx, &cname)),
    ]
}

pub(super) fn receiver_ssrc(s: &StreamSpec) -> u32 {
    s.rtcp
        .as_ref()
        .map_or(s.ssrc ^ 0x5eed_0000, |r| r.receiver_ssrc)
}

/// SR/RR/XR/APP/BYE, feedback and STUN for one stream.
fn signalling(out: &mut Out, idx: usize, s: &StreamSpec, st: &mut StreamState, rng: &mut Rng) {
    let end = s.start_ns + i64::from(s.count) * s.ptime_ns;
    let rx = receiver_ssrc(s);
    if let Some(r) = &s.rtcp {
        let mut c = s.start_ns + r.interval_ns / 2;
        while c < end {
            let ntp = ntp_from_unix_ns(c + r.ntp_offset_ns);
            let mut parts = sr_parts(s, &sender_info(s, c, ntp), &[]);
            if r.app {
                parts.push((&["app"], rtcp::app(s.ssrc, 1, *b"SYNT", &rng.bytes(8))));
            }
            emit_rtcp(out, idx, s, c, true, &parts);
            if let Some(rr) = r.rr {
                let units = rr.dlsr_units / 128 * 128;
                let t = c + rr.rtt_ns + dlsr_units_to_ns(units);
                let blk = ReportBlock {
                    lsr: ntp_mid32(ntp),
                    dlsr: units,
                    ..report(st, s, t, true)
                };
                emit_rtcp(out, idx, s, t, false, &rr_parts(rx, blk));
                st.rtt_capture_point_ns = Some(rr.rtt_ns);
            }
            if let Some(x) = r.xr {
                let t1 = c + r.interval_ns / 4;
                let rntp = ntp_from_unix_ns(t1 + r.receiver_ntp_offset_ns);
                let mut blocks = vec![XrBlock::Rrt { ntp: rntp }];
                let mut kinds: &[&str] = &["xr_rrt"];
                if x.voip_metrics {
                    let b = report(st, s, t1, false);
                    blocks.push(XrBlock::Voip(rtcp::VoipMetrics {
                        ssrc: s.ssrc,
                        loss_rate: b.fraction_lost,
                        round_trip_delay_ms: (x.rtt_ns / MS) as u16,
                        end_system_delay_ms: 40,
                        r_factor: 90,
                        mos_lq: 42,
                        mos_cq: 41,
                        jb_nominal_ms: 40,
                        jb_max_ms: 80,
                        jb_abs_max_ms: 200,
                        ..Default::default()
                    }));
                    kinds = &["xr_rrt", "xr_voip"];
                }
                emit_rtcp(
                    out,
                    idx,
                    s,
                    t1,
                    false,
                    &[(&["rr"], rtcp::rr(rx, &[])), (kinds, rtcp::xr(rx, &blocks))],
                );
                let units = x.dlrr_units / 128 * 128;
                let t2 = t1 + x.rtt_ns + dlsr_units_to_ns(units);
                let dlrr = XrBlock::Dlrr(vec![(rx, ntp_mid32(rntp), units)]);
                emit_rtcp(
                    out,
                    idx,
                    s,
                    t2,
                    true,
                    &[
                        (&["rr"], rtcp::rr(s.ssrc, &[])),
                        (&["xr_dlrr"], rtcp::xr(s.ssrc, &[dlrr])),
                    ],
                );
            }
            c += r.interval_ns;
        }
    }
    if s.bye {
        let ntp = ntp_from_unix_ns(end + s.rtcp.as_ref().map_or(0, |r| r.ntp_offset_ns));
        let mut parts = sr_parts(s, &sender_info(s, end, ntp), &[]);
        parts.push((&["bye"], rtcp::bye(&[s.ssrc], Some("done"))));
        emit_rtcp(out, idx, s, end, true, &parts);
    }
    feedback(out, idx, s, st, rx, end);
    if let Some(k) = s.stun {
        let mut t = s.start_ns + 7_000;
        while t < end {
            let tx = txid(rng.next_u64());
            let req = stun::binding_request(
                &tx,
                &format!("{rx:08x}:{:08x}", s.ssrc),
                0x6e00_01ff,
                rng.next_u64(),
            );
            let l2 = L2L3 {
                encap: s.encap,
                hop_by_hop: s.hop_by_hop,
            };
            out.push(
                t,
                s.encap.linktype(),
                udp_frame(l2, s.src, s.dst, &req),
                FrameKind::Stun { stream: idx },
            );
            let resp = stun::binding_success(&tx, s.src);
            let tr = t + k.response_delay_ns;
            out.push(
                tr,
                s.encap.linktype(),
                udp_frame(l2, s.dst, s.src, &resp),
                FrameKind::Stun { stream: idx },
            );
            out.truth.stun_requests += 1;
            out.truth.stun_responses += 1;
            t += k.interval_ns;
        }
    }
}

/// NACKs for each run of lost packets; periodic PLI, FIR, REMB and transport-cc.
fn feedback(out: &mut Out, idx: usize, s: &StreamSpec, st: &StreamState, rx: u32, end: i64) {
    let f = s.feedback;
    let head = || rtcp::rr(rx, &[]);
    if f.nack {
        let mut i = 0;
        while i < st.lost.len() {
            let mut j = i;
            while j + 1 < st.lost.len() && st.lost[j + 1] == st.lost[j] + 1 {
                j += 1;
            }
            // One NACK per run, FCI items of one PID + 16 BLP bits (RFC 4585 §6.2.1).
            let items: Vec<(u16, u16)> = st.lost[i..=j]
                .chunks(17)
                .map(|c| (seq_of(s, c[0]), ((1u32 << (c.len() - 1)) - 1) as u16))
                .collect();
            let t = s.start_ns
                + i64::from(st.lost[j] + 1) * s.ptime_ns
                + s.impair.base_delay_ns
                + 10 * MS;
            emit_rtcp(
                out,
                idx,
                s,
                t,
                false,
                &[
                    (&["rr"], head()),
                    (&["nack"], rtcp::nack(rx, s.ssrc, &items)),
                ],
            );
            i = j + 1;
        }
    }
    let periodic: [(Option<i64>, &str); 4] = [
        (f.pli_interval_ns, "pli"),
        (f.fir_interval_ns, "fir"),
        (f.remb_interval_ns, "remb"),
        (f.twcc_interval_ns, "twcc"),
    ];
    for (iv, kind) in periodic {
        let Some(iv) = iv.filter(|v| *v > 0) else {
            continue;
        };
        let mut j: i64 = 1;
        while s.start_ns + j * iv + 3 * MS < end {
            let t = s.start_ns + j * iv + 3 * MS;
            let fb = match kind {
                "pli" => rtcp::pli(rx, s.ssrc),
                "fir" => rtcp::fir(rx, &[(s.ssrc, j as u8)]),
                "remb" => rtcp::remb(rx, 1_000_000 + 1000 * j as u64, &[s.ssrc]),
                _ => {
                    let base = ((j - 1) * iv / s.ptime_ns) as u16;
                    let deltas = vec![
                        (s.ptime_ns / 250_000).min(255) as u8;
                        (iv / s.ptime_ns).clamp(1, 64) as usize
                    ];
                    rtcp::twcc(
                        rx,
                        s.ssrc,
                        base,
                        ((t / (64 * MS)) & 0xff_ffff) as u32,
                        j as u8,
                        &deltas,
                    )
                }
            };
            emit_rtcp(out, idx, s, t, false, &[(&["rr"], head()), (&[kind], fb)]);
            j += 1;
        }
    }
}

/// The SR ping-pong of an [`SrChain`]; see its doc for the timing.
fn chain(out: &mut Out, streams: &[StreamSpec], st: &mut [StreamState], ch: &SrChain) {
    let mut c = ch.start_ns;
    let mut prev_ntp: Option<u64> = None;
    for r in 0..ch.rounds {
        let a_turn = r % 2 == 0;
        let (me, other, my_leg, off, my_units, next_leg, next_units) = if a_turn {
            (
                ch.a,
                ch.b,
                ch.a_leg_rtt_ns,
                ch.ntp_offset_a_ns,
                ch.dlsr_a_units,
                ch.b_leg_rtt_ns,
                ch.dlsr_b_units,
            )
        } else {
            (
                ch.b,
                ch.a,
                ch.b_leg_rtt_ns,
                ch.ntp_offset_b_ns,
                ch.dlsr_b_units,
                ch.a_leg_rtt_ns,
                ch.dlsr_a_units,
            )
        };
        // The SR left its sender half a leg before the probe saw it; NTP is the sender's clock.
        let ntp = ntp_from_unix_ns(c - my_leg / 2 + off);
        let blocks: Vec<ReportBlock> = match prev_ntp {
            Some(p) => {
                let b = report(&mut st[other], &streams[other], c, true);
                vec![ReportBlock {
                    lsr: ntp_mid32(p),
                    dlsr: my_units / 128 * 128,
                    ..b
                }]
            }
            None => Vec::new(),
        };
        let s = &streams[me];
        emit_rtcp(
            out,
            me,
            s,
            c,
            true,
            &sr_parts(s, &sender_info(s, c, ntp), &blocks),
        );
        prev_ntp = Some(ntp);
        c += next_leg + dlsr_units_to_ns(next_units / 128 * 128);
    }
    let sum = ch.a_leg_rtt_ns + ch.b_leg_rtt_ns;
    st[ch.a].rtt_capture_point_ns = Some(ch.b_leg_rtt_ns);
    st[ch.b].rtt_capture_point_ns = Some(ch.a_leg_rtt_ns);
    for i in [ch.a, ch.b] {
        st[i].rtt_sr_chain_ns = Some(sum);
        st[i].rtt_end_to_end_ns = Some(sum);
    }
}

/// TCP, non-first IPv4 fragments, unclassifiable UDP and SRTCP on their own addresses.
fn noise(out: &mut Out, n: &super::scenario::Noise, rng: &mut Rng) {
    let sa = |s: &str| -> SocketAddr {
        s.parse()
            .unwrap_or_else(|_| unreachable!("literal address"))
    };
    let lt = n.encap.linktype();
    let l2: L2L3 = n.encap.into();
    for j in 0..n.tcp {
        let t = rng.range_i64(n.start_ns, n.end_ns);
        let f = tcp_frame(
            l2,
            sa("10.99.0.1:443"),
            sa("10.99.0.2:51000"),
            j * 100,
            &rng.bytes(100),
        );
        out.push(t, lt, f, FrameKind::Noise);
    }
    for _ in 0..n.ip_fragments {
        let t = rng.range_i64(n.start_ns, n.end_ns);
        let mut data = rng.bytes(200);
        data[0] = 0x80; // looks like RTP on purpose: a probe must not decode fragments
        let (s, d) = (sa("10.99.0.3:0").ip(), sa("10.99.0.4:0").ip());
        out.push(
            t,
            lt,
            ipv4_fragment(n.encap, s, d, rng.next_u32() as u16, 185, false, &data),
            FrameKind::Noise,
        );
    }
    for _ in 0..n.udp {
        let t = rng.range_i64(n.start_ns, n.end_ns);
        let src = SocketAddr::new(sa("10.99.0.5:0").ip(), 40_000 + rng.below(1000) as u16);
        let dst = SocketAddr::new(sa("10.99.0.6:0").ip(), 50_000 + rng.below(1000) as u16);
        let len = 20 + rng.below(200) as usize;
        out.push(
            t,
            lt,
            udp_frame(l2, src, dst, &udp_noise_payload(rng, len)),
            FrameKind::Noise,
        );
    }
    let ssrc = rng.next_u32();
    for j in 0..n.srtcp {
        let t = rng.range_i64(n.start_ns, n.end_ns);
        let clear = rtcp::compound(&[
            rtcp::rr(ssrc, &[ReportBlock::default()]),
            rtcp::sdes_cname(ssrc, "srtcp@synth"),
        ]);
        let d = rtcp::srtcp(&clear, j, rng);
        out.push(
            t,
            lt,
            udp_frame(l2, sa("10.98.0.1:50001"), sa("10.98.0.2:50001"), &d),
            FrameKind::Noise,
        );
    }
    out.truth.noise = NoiseTruth {
        tcp: u64::from(n.tcp),
        ip_fragments: u64::from(n.ip_fragments),
        udp: u64::from(n.udp),
        srtcp: u64::from(n.srtcp),
    };
}

pub(super) fn stream_truth(
    sc: &Scenario,
    i: usize,
    s: &StreamSpec,
    st: &StreamState,
    t: &Tally,
) -> StreamTruth {
    let rr_rtt = |k: usize| {
        sc.streams[k]
            .rtcp
            .as_ref()
            .and_then(|r| r.rr)
            .map(|r| r.rtt_ns)
    };
    // Relay legs: this stream is the second leg, or some stream is the second leg of this one.
    let partner = s
        .relay_of
        .or_else(|| sc.streams.iter().position(|o| o.relay_of == Some(i)));
    let relay = partner.and_then(|p| Some(rr_rtt(p)? + rr_rtt(i)?));
    StreamTruth {
        src: s.src,
        dst: s.dst,
        ssrc: s.ssrc,
        payload_type: s.payload_type,
        encap: s.encap,
        turn: s.turn.name(),
        packets: t.packets,
        expected: t.expected,
        lost: t.expected as i64 - t.packets as i64,
        duplicates: t.duplicates,
        reordered: t.reordered,
        seq_restarts: t.seq_restarts,
        clock_rate: s.clock_rate,
        jitter_ts: t.jitter_ts,
        jitter_ms: t.jitter_ts * 1000.0 / f64::from(s.clock_rate),
        rtt_capture_point_ns: st.rtt_capture_point_ns,
        rtt_xr_ns: s.rtcp.as_ref().and_then(|r| r.xr).map(|x| x.rtt_ns),
        rtt_end_to_end_ns: relay.or(st.rtt_end_to_end_ns),
        rtt_sr_chain_ns: st.rtt_sr_chain_ns,
        rtt_stun_ns: s.stun.map(|k| k.response_delay_ns),
        cname: s.cname.clone(),
        bye: s.bye,
        remote: st.remote,
    }
}
