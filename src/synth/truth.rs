//! Ground truth: what an ideal probe must report for a synthetic capture, and the
//! straightforward reference arithmetic that produces it.
//!
//! The numbers are computed from what the generator *put on the wire*, in capture order, by code
//! that shares nothing with the probe's engine: a literal reading of RFC 3550 §6.4.1 (jitter)
//! and §6.4.1/A.3 (expected, lost), written for clarity rather than speed. Where the probe is
//! allowed to differ (rounding of NTP short format, integer jitter of Appendix A.8) the field doc
//! says so. Sequence accounting follows RFC 3550 A.1 where it decides what is counted at all:
//! the first packet after a sequence restart is a `bad_seq` jump, not received (see
//! [`Tally::restart_dropped`]).

use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

use super::frame::Encap;

/// One RTP packet of a stream as it reached the capture point. Listed in capture order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Capture timestamp, Unix epoch ns.
    pub ts_ns: i64,
    /// The packet's index in the sender's send order (0-based); equal for a duplicate.
    pub ordinal: u64,
    /// 0 before a sequence restart, 1 after.
    pub segment: u8,
    /// Extended sequence number within its segment (16-bit wraps unrolled).
    pub ext_seq: u64,
    /// RTP timestamp on the wire.
    pub rtp_ts: u32,
}

/// Sequence and jitter statistics over a capture-ordered list of arrivals.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Tally {
    pub packets: u64,
    pub expected: u64,
    pub duplicates: u64,
    pub reordered: u64,
    pub seq_restarts: u32,
    pub jitter_ts: f64,
    /// Highest extended sequence number of the latest segment.
    pub highest_ext_seq: u64,
    /// First packets of segments after a restart: RFC 3550 A.1 sees such a packet as a `bad_seq`
    /// jump and only the next one confirms the restart, so it is neither received nor expected
    /// (nor used for jitter); a probe counts it apart (rtcprobe: `rtp_unvalidated`).
    pub restart_dropped: u64,
}

/// Count `arrivals` (capture order) the way the truth fields are defined; `clock_rate` in Hz.
pub fn tally(arrivals: &[Arrival], clock_rate: u32) -> Tally {
    let mut t = Tally::default();
    // (min, max) extended seq per segment, over first copies and duplicates alike.
    let mut seg: BTreeMap<u8, (u64, u64)> = BTreeMap::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut max_ordinal: Option<u64> = None;
    let mut prev: Option<(i64, u32)> = None;
    let first_segment = arrivals.first().map(|a| a.segment);
    // The segment whose first packet was set aside, awaiting its confirming successor.
    let mut pending: Option<u8> = None;
    for a in arrivals {
        // The generator keeps the packets around a restart unimpaired, so the first arrival of
        // a new segment is followed by its successor: exactly A.1's restart confirmation.
        if Some(a.segment) != first_segment
            && !seg.contains_key(&a.segment)
            && pending.replace(a.segment) != Some(a.segment)
        {
            t.restart_dropped += 1;
            continue;
        }
        t.packets += 1;
        let e = seg.entry(a.segment).or_insert((a.ext_seq, a.ext_seq));
        e.0 = e.0.min(a.ext_seq);
        e.1 = e.1.max(a.ext_seq);
        if !seen.insert(a.ordinal) {
            t.duplicates += 1;
        } else if max_ordinal.is_some_and(|m| a.ordinal < m) {
            t.reordered += 1;
        }
        max_ordinal = Some(max_ordinal.map_or(a.ordinal, |m| m.max(a.ordinal)));
        // RFC 3550 §6.4.1: D(i-1,i) = (Rj - Ri) - (Sj - Si), J += (|D| - J) / 16, with R the
        // arrival time in timestamp units. S differences are taken modulo 2^32 (signed), so a
        // timestamp wrap is a small step, as the wire arithmetic of Appendix A.8 makes it.
        // Differences are taken in i64 ns before converting: absolute epoch times in timestamp
        // units would exceed f64's 53-bit mantissa.
        if let Some((pts, prtp)) = prev {
            let dr = (a.ts_ns - pts) as f64 * f64::from(clock_rate) / 1e9;
            let ds = f64::from(a.rtp_ts.wrapping_sub(prtp) as i32);
            let d = dr - ds;
            t.jitter_ts += (d.abs() - t.jitter_ts) / 16.0;
        }
        prev = Some((a.ts_ns, a.rtp_ts));
    }
    t.expected = seg.values().map(|(lo, hi)| hi - lo + 1).sum();
    t.seq_restarts = seg.len().saturating_sub(1) as u32;
    t.highest_ext_seq = seg.values().next_back().map_or(0, |s| s.1);
    t
}

/// What the last reception report about a stream said (it is the generator's own computation
/// at that report's capture time, echoed so a probe's "remote" view can be checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RemoteReportTruth {
    pub fraction_lost: u8,
    pub cumulative_lost: i32,
    pub ext_highest_seq: u32,
    pub jitter: u32,
}

/// Feedback the stream's receiver sent about it (RFC 4585, RFC 5104, REMB, transport-cc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FeedbackTruth {
    /// Generic NACK messages (one per run of lost packets) and the packets they name.
    pub nacks: u64,
    pub nack_packets: u64,
    pub plis: u64,
    /// FIR messages (one FCI entry each, for this stream).
    pub firs: u64,
    /// The last REMB's bitrate as encoded (18-bit mantissa, so low bits may be dropped).
    pub remb_bps: Option<u64>,
    pub transport_cc: u64,
}

/// Ground truth for one RTP stream on one 5-tuple (a relay's two legs are two entries).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamTruth {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ssrc: u32,
    pub payload_type: u8,
    pub encap: Encap,
    /// "none", "channel_data" or "data_indication".
    pub turn: &'static str,
    /// RTP packets of this stream in the capture (after loss), duplicates included, except the
    /// first packet after each restart (`restart_dropped`).
    pub packets: u64,
    /// Σ over sequence segments of (highest − lowest extended seq + 1) among the packets counted
    /// in `packets` (a segment after a restart starts at its second packet, as in A.1).
    pub expected: u64,
    /// `expected − packets`; negative when duplicates outnumber losses.
    pub lost: i64,
    /// Captured copies of a sequence number already captured.
    pub duplicates: u64,
    /// Packets captured after a packet with a higher sequence number (same segment order;
    /// duplicates are not counted here).
    pub reordered: u64,
    /// SSRC-keeping sequence jumps (> 3000) the generator made, confirmed by a second packet.
    pub seq_restarts: u32,
    /// The first packet after each restart: RFC 3550 A.1 holds it as `bad_seq` and only the next
    /// packet confirms the restart, so it is in neither `packets` nor `expected` nor the jitter.
    pub restart_dropped: u64,
    pub clock_rate: u32,
    /// Final RFC 3550 §6.4.1 interarrival jitter in timestamp units, f64, over the packets
    /// counted in `packets` in capture order (duplicates included), arrival = capture timestamp.
    pub jitter_ts: f64,
    /// `jitter_ts` in milliseconds.
    pub jitter_ms: f64,
    /// Capture-point RTT from SR → RR (or, for SR chains, SR → report block in the peer's SR):
    /// RR capture time − matching SR capture time − DLSR. Exact in ns because every DLSR the
    /// generator writes is a multiple of 128/65536 s (an integer number of ns).
    pub rtt_capture_point_ns: Option<i64>,
    /// Capture-point RTT from XR RRT → DLRR (RFC 3611 §4.5) on the sender side of the probe.
    pub rtt_xr_ns: Option<i64>,
    /// Endpoint-to-endpoint RTT: both directions of an SR chain (docs/output.md).
    pub rtt_end_to_end_ns: Option<i64>,
    /// RTT in the sender's own clock from SRs of both sides: (Ta3 − dA) − Ta1 − dB.
    pub rtt_sr_chain_ns: Option<i64>,
    /// STUN Binding request → success response delay on this 5-tuple.
    pub rtt_stun_ns: Option<i64>,
    pub cname: Option<String>,
    pub bye: bool,
    /// The last reception report about this SSRC on this leg.
    pub remote: Option<RemoteReportTruth>,
    pub feedback: FeedbackTruth,
}

/// Frames that are not RTP/RTCP/STUN of a modelled stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct NoiseTruth {
    pub tcp: u64,
    pub ip_fragments: u64,
    pub udp: u64,
    pub srtcp: u64,
}

/// Ground truth for a whole capture.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Truth {
    pub streams: Vec<StreamTruth>,
    /// RTCP packets (inside compounds, each counted) by kind: sr, rr, sdes, bye, app, xr_rrt,
    /// xr_dlrr, xr_voip (XR blocks), nack, twcc, pli, fir, remb.
    pub rtcp: BTreeMap<String, u64>,
    pub stun_requests: u64,
    pub stun_responses: u64,
    /// RTP/RTCP datagrams wrapped in TURN ChannelData / Send-Data indications.
    pub turn_channel_data: u64,
    pub turn_indications: u64,
    pub noise: NoiseTruth,
    /// All frames in the capture.
    pub frames: u64,
}

impl Truth {
    /// The truth for `ssrc` on the leg whose source is `src`.
    pub fn stream(&self, ssrc: u32, src: SocketAddr) -> Option<&StreamTruth> {
        self.streams.iter().find(|s| s.ssrc == ssrc && s.src == src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000_000_000;

    fn arr(ts_ns: i64, ordinal: u64, rtp_ts: u32) -> Arrival {
        Arrival {
            ts_ns: T0 + ts_ns,
            ordinal,
            segment: 0,
            ext_seq: 100 + ordinal,
            rtp_ts,
        }
    }

    #[test]
    fn counts_loss_dup_reorder() {
        // Sent 0..=5; 2 lost; 4 arrives before 3; 1 duplicated.
        let a = [
            arr(0, 0, 0),
            arr(20, 1, 160),
            arr(21, 1, 160),
            arr(60, 4, 640),
            arr(61, 3, 480),
            arr(100, 5, 800),
        ];
        let t = tally(&a, 8000);
        assert_eq!(
            (t.packets, t.expected, t.duplicates, t.reordered),
            (6, 6, 1, 1)
        );
        assert_eq!(t.highest_ext_seq, 105);
    }

    #[test]
    fn jitter_matches_hand_computation() {
        // 8 kHz, 20 ms packets; second arrives 1 ms late (8 ts units), third on time.
        let ms = 1_000_000;
        let a = [arr(0, 0, 0), arr(21 * ms, 1, 160), arr(40 * ms, 2, 320)];
        let t = tally(&a, 8000);
        let j1 = 8.0 / 16.0;
        let j2 = j1 + (8.0 - j1) / 16.0;
        assert!((t.jitter_ts - j2).abs() < 1e-9, "{}", t.jitter_ts);
    }

    #[test]
    fn timestamp_wrap_is_a_small_step_and_segments_add() {
        let mut a = vec![arr(0, 0, u32::MAX - 79), arr(20_000_000, 1, 80)];
        a.push(Arrival {
            ts_ns: T0 + 40_000_000,
            ordinal: 2,
            segment: 1,
            ext_seq: 9000,
            rtp_ts: 240,
        });
        a.push(Arrival {
            ts_ns: T0 + 60_000_000,
            ordinal: 3,
            segment: 1,
            ext_seq: 9001,
            rtp_ts: 400,
        });
        let t = tally(&a, 8000);
        assert_eq!(t.jitter_ts, 0.0);
        // The first packet after the jump is A.1's `bad_seq`: the segment starts at 9001.
        assert_eq!(
            (t.packets, t.expected, t.seq_restarts, t.restart_dropped),
            (3, 3, 1, 1)
        );
        assert_eq!(t.highest_ext_seq, 9001);
    }
}
