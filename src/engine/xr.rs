//! RTCP Extended Reports (RFC 3611) reported: the VoIP metrics an endpoint computes about the
//! stream it receives (§4.7), and the `xr` round trip from receiver reference time (§4.4) and
//! DLRR (§4.5) blocks.
//!
//! * A VoIP metrics block is written by the receiver of a stream and names the stream's SSRC: it
//!   is attached, as the receiver's own view, to that stream flowing in the reverse direction of
//!   the XR packet (as report blocks are, `engine::rtcp`), and reported next to our estimate
//!   (`xr_voip`). Fields the RFC marks unavailable with 127 come out null.
//! * `xr` RTT: a receiver that sends no SR sends an RRT block (its NTP time); the media sender
//!   answers with a DLRR sub-block naming that receiver, echoing the NTP middle 32 bits (LRR) and
//!   how long it held them (DLRR). At the probe: capture time of the DLRR minus capture time of
//!   the RRT minus DLRR, the round trip from the probe to the DLRR's writer. It is kept on the
//!   writer's own stream (the XR packet's SSRC, same direction). RRTs are remembered in a ring
//!   of [`RRT_HISTORY`] entries for every shard (XR with RRT or DLRR blocks reaches every shard,
//!   [`super::shard::rtcp_shards`]), so memory is bounded whatever the traffic.
//!
//! Not done here: the other XR blocks (loss/duplicate RLE, packet receipt times, statistics
//! summary) are counted by type only.

use super::obs::ObservationPoint;
use super::rtt::{ntp_middle, short_to_ns, RttMethod};
use super::Engine;
use crate::wire::rtcp::xr::{DlrrItem, VoipMetrics, Xr, XrBlock};
use serde::Serialize;
use std::net::SocketAddr;

/// RRT blocks remembered (for all receivers together): a DLRR answers the latest RRT of its
/// receiver within one RTCP interval, so a few per active receiver suffice.
pub const RRT_HISTORY: usize = 64;

/// One RRT block as seen at the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rrt {
    point: ObservationPoint,
    src: SocketAddr,
    dst: SocketAddr,
    ssrc: u32,
    ntp_mid: u32,
    capture_ns: i64,
}

/// A fixed-size ring of the latest RRT blocks.
#[derive(Debug, Clone, Default)]
pub struct Rrts {
    entries: Vec<Rrt>,
    next: usize,
}

impl Rrts {
    fn push(&mut self, r: Rrt) {
        if self.entries.len() < RRT_HISTORY {
            self.entries.push(r);
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = r;
        }
        self.next = (self.next + 1) % RRT_HISTORY;
    }

    /// The RRT that a DLRR sent `src` → `dst` at `point` answers: written by `receiver`, sent in
    /// the reverse direction, with NTP middle bits `lrr`.
    fn find(
        &self,
        point: ObservationPoint,
        src: SocketAddr,
        dst: SocketAddr,
        item: &DlrrItem,
    ) -> Option<&Rrt> {
        self.entries.iter().find(|r| {
            r.point == point
                && r.src == dst
                && r.dst == src
                && r.ssrc == item.ssrc
                && r.ntp_mid == item.last_rr
        })
    }
}

/// An RFC 3611 §4.7 VoIP metrics block in reporting units (docs/output.md, "xr_voip").
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct XrVoip {
    /// Fraction of packets lost, and discarded (late or early), ratio 0–1 (the 8-bit / 256).
    pub loss_rate: f64,
    pub discard_rate: f64,
    /// Fraction lost or discarded within bursts, and within gaps, ratio 0–1 (§4.7.2).
    pub burst_density: f64,
    pub gap_density: f64,
    /// Mean burst and gap durations, ms.
    pub burst_duration_ms: u16,
    pub gap_duration_ms: u16,
    /// The endpoint's most recent round trip and its own end system delay, ms.
    pub round_trip_delay_ms: u16,
    pub end_system_delay_ms: u16,
    /// Signal and noise level, dBm; residual echo return loss, dB; null when unavailable (127).
    pub signal_level_dbm: Option<i8>,
    pub noise_level_dbm: Option<i8>,
    pub rerl_db: Option<u8>,
    /// Gap threshold, packets (RFC 3611 recommends 16).
    pub gmin: u8,
    /// The endpoint's R-factor and external R-factor (0–100), MOS-LQ and MOS-CQ (1.0–5.0);
    /// null when unavailable (127).
    pub r_factor: Option<u8>,
    pub ext_r_factor: Option<u8>,
    pub mos_lq: Option<f64>,
    pub mos_cq: Option<f64>,
    /// Receiver configuration (§4.7.6): packet loss concealment (`"unspecified"`,
    /// `"disabled"`, `"enhanced"`, `"standard"`), jitter buffer (`"unknown"`, `"reserved"`,
    /// `"non_adaptive"`, `"adaptive"`) and its adjustment rate (0–15).
    pub plc: &'static str,
    pub jitter_buffer: &'static str,
    pub jitter_buffer_rate: u8,
    /// Jitter buffer nominal, maximum and absolute maximum delay, ms.
    pub jb_nominal_ms: u16,
    pub jb_max_ms: u16,
    pub jb_abs_max_ms: u16,
    /// VoIP metrics blocks seen about this stream.
    pub reports: u64,
}

/// 127 is "unavailable" in the §4.7 level and score fields.
fn available<T: From<u8> + PartialEq>(raw: u8) -> Option<T> {
    (raw != 127).then(|| T::from(raw))
}

impl XrVoip {
    /// Converted from the wire block; `reports` is the count including this one.
    pub fn of(m: &VoipMetrics<'_>, reports: u64) -> XrVoip {
        let ratio = |v: u8| f64::from(v) / 256.0;
        let mos = |v: u8| (v != 127).then(|| f64::from(v) / 10.0);
        let level = |v: i8| (v != 127).then_some(v);
        let rx = m.rx_config();
        XrVoip {
            loss_rate: ratio(m.loss_rate()),
            discard_rate: ratio(m.discard_rate()),
            burst_density: ratio(m.burst_density()),
            gap_density: ratio(m.gap_density()),
            burst_duration_ms: m.burst_duration(),
            gap_duration_ms: m.gap_duration(),
            round_trip_delay_ms: m.round_trip_delay(),
            end_system_delay_ms: m.end_system_delay(),
            signal_level_dbm: level(m.signal_level()),
            noise_level_dbm: level(m.noise_level()),
            rerl_db: available(m.rerl()),
            gmin: m.gmin(),
            r_factor: available(m.r_factor()),
            ext_r_factor: available(m.ext_r_factor()),
            mos_lq: mos(m.mos_lq()),
            mos_cq: mos(m.mos_cq()),
            plc: match rx >> 6 {
                3 => "enhanced",
                2 => "standard",
                1 => "disabled",
                _ => "unspecified",
            },
            jitter_buffer: match (rx >> 4) & 3 {
                3 => "adaptive",
                2 => "non_adaptive",
                1 => "reserved",
                _ => "unknown",
            },
            jitter_buffer_rate: rx & 0x0f,
            jb_nominal_ms: m.jb_nominal(),
            jb_max_ms: m.jb_max(),
            jb_abs_max_ms: m.jb_abs_max(),
            reports,
        }
    }
}

impl Engine {
    /// One XR packet sent `src` → `dst` at capture time `now` ([`super::rtcp`] calls it for
    /// every XR part of a compound).
    pub(super) fn on_xr(&mut self, now: i64, src: SocketAddr, dst: SocketAddr, xr: &Xr<'_>) {
        for block in xr.blocks() {
            match block {
                XrBlock::ReceiverReferenceTime { ntp } => self.rrts.push(Rrt {
                    point: self.point,
                    src,
                    dst,
                    ssrc: xr.ssrc(),
                    ntp_mid: ntp_middle(ntp),
                    capture_ns: now,
                }),
                XrBlock::Dlrr(items) => {
                    if !self.shard.owns(xr.ssrc()) {
                        continue;
                    }
                    for item in items {
                        self.on_dlrr(now, src, dst, xr.ssrc(), &item);
                    }
                }
                XrBlock::VoipMetrics(m) => {
                    if !self.shard.owns(m.ssrc()) {
                        continue;
                    }
                    let Some(k) = self.described_stream(src, dst, m.ssrc()) else {
                        self.counters.rtcp_unmatched += 1;
                        continue;
                    };
                    if let Some(s) = self.streams.get_mut(&k) {
                        let cold = s.cold_mut();
                        let reports = cold.xr_voip.as_ref().map_or(0, |v| v.reports);
                        let v = XrVoip::of(&m, reports.saturating_add(1));
                        // One allocation per stream, on its first block; then in place.
                        match &mut cold.xr_voip {
                            Some(b) => **b = v,
                            None => cold.xr_voip = Some(Box::new(v)),
                        }
                    }
                }
                XrBlock::Other { .. } => {}
            }
        }
    }

    /// A DLRR sub-block written by `writer` (sent `src` → `dst`): the `xr` RTT of `writer`'s
    /// stream when the RRT it answers was seen.
    fn on_dlrr(
        &mut self,
        now: i64,
        src: SocketAddr,
        dst: SocketAddr,
        writer: u32,
        item: &DlrrItem,
    ) {
        if item.last_rr == 0 {
            return;
        }
        let Some(rrt) = self.rrts.find(self.point, src, dst, item).copied() else {
            return;
        };
        let Some(k) = self.sender_stream(src, dst, writer) else {
            self.counters.rtcp_unmatched += 1;
            return;
        };
        // Out-of-range results are refused by add_rtt, so saturating is exact enough.
        let rtt = now
            .saturating_sub(rrt.capture_ns)
            .saturating_sub(short_to_ns(item.delay_since_last_rr));
        if let Some(s) = self.streams.get_mut(&k) {
            s.add_rtt(RttMethod::Xr, rtt);
        }
    }
}

#[cfg(test)]
#[path = "xr_tests.rs"]
mod tests;
