//! RTCP, RTCP feedback and STUN for the scenario builder: SR/RR timed for an exact
//! capture-point RTT (RFC 3550 §6.4.1), XR RRT/DLRR and VoIP metrics (RFC 3611), NACK / PLI /
//! FIR / REMB / transport-cc, SR ping-pong chains, and STUN Binding pairs (RFC 8489).
//!
//! Report blocks are what the receiver would write, computed from the packets captured up to
//! the report's capture time (the receiver is assumed to see what the probe saw).

use super::build::{seq_of, txid, wire, Out, StreamState};
use super::frame::{udp_frame, L2L3};
use super::rng::Rng;
use super::rtcp::{
    self, dlsr_units_to_ns, ntp_from_unix_ns, ntp_mid32, ReportBlock, SenderInfo, XrBlock,
};
use super::scenario::{SrChain, StreamSpec, MS};
use super::stun;
use super::truth::{tally, RemoteReportTruth};
use super::FrameKind;

/// A report block about stream `s` as its receiver would write it at capture time `t`
/// (RFC 3550 §6.4.1, A.3), from the packets captured up to `t`. Advances the fraction-lost
/// interval and records the block as the latest remote report when `commit`.
pub(super) fn report(st: &mut StreamState, s: &StreamSpec, t: i64, commit: bool) -> ReportBlock {
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
pub(super) fn signalling(
    out: &mut Out,
    idx: usize,
    s: &StreamSpec,
    st: &mut StreamState,
    rng: &mut Rng,
) {
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
pub(super) fn feedback(
    out: &mut Out,
    idx: usize,
    s: &StreamSpec,
    st: &mut StreamState,
    rx: u32,
    end: i64,
) {
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
            st.feedback.nacks += 1;
            st.feedback.nack_packets += (j + 1 - i) as u64;
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
            let fbt = &mut st.feedback;
            let fb = match kind {
                "pli" => {
                    fbt.plis += 1;
                    rtcp::pli(rx, s.ssrc)
                }
                "fir" => {
                    fbt.firs += 1;
                    rtcp::fir(rx, &[(s.ssrc, j as u8)])
                }
                "remb" => {
                    let bps = 1_000_000 + 1000 * j as u64;
                    fbt.remb_bps = Some(rtcp::remb_wire_bps(bps));
                    rtcp::remb(rx, bps, &[s.ssrc])
                }
                _ => {
                    fbt.transport_cc += 1;
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
pub(super) fn chain(out: &mut Out, streams: &[StreamSpec], st: &mut [StreamState], ch: &SrChain) {
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
