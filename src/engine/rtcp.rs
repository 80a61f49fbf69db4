//! RTCP: attaching each part of a compound packet to the stream it is about.
//!
//! * SR sender info, SDES CNAME and BYE are about the *sender's* stream: same SSRC, same
//!   direction as the RTCP packet (on the RTP ports when muxed, RFC 5761, or on the next ports
//!   up, RFC 3550 §11).
//! * Report blocks and feedback are about the stream they name (media SSRC) flowing in the
//!   *reverse* direction of the RTCP packet.
//!
//! Both look first among the streams seen at the RTCP packet's own observation point
//! ([`super::obs`]): a host that forwards a call sees the media and its RTCP on both interfaces,
//! and each copy of a report belongs with the copy of the stream seen where it was seen (its
//! capture times pair with that copy's for `capture_point` RTT). Only when no stream of the
//! SSRC matches at that point does a stream seen elsewhere take it (media and RTCP captured on
//! different interfaces, e.g. asymmetric routing, or `any` with RTCP on another port's path).
//!
//! RTT methods computed here are described in [`super::rtt`].

use super::rtt::{
    ntp_middle, short_diff_to_ns, short_to_ns, PendingSr, RttMethod, SrEntry, SR_BLOCKS,
};
use super::{shard, EndReason, Engine, StreamKey};
use crate::wire::rtcp::{self, Compound, Packet, PsFeedbackKind, ReportBlock, RtpFeedbackKind};
use std::net::SocketAddr;

/// How well a stream's 5-tuple matches an RTCP packet's: 3 same ports (rtcp-mux), 2 the RTCP
/// ports are the RTP ports plus one (RFC 3550 §11), 1 same addresses, 0 no match.
pub(super) fn flow_score(
    k_src: SocketAddr,
    k_dst: SocketAddr,
    src: SocketAddr,
    dst: SocketAddr,
) -> u8 {
    if k_src.ip() != src.ip() || k_dst.ip() != dst.ip() {
        0
    } else if k_src.port() == src.port() && k_dst.port() == dst.port() {
        3
    } else if k_src.port().checked_add(1) == Some(src.port())
        && k_dst.port().checked_add(1) == Some(dst.port())
    {
        2
    } else {
        1
    }
}

impl Engine {
    /// The stream sent by `ssrc` that an RTCP packet from `src` to `dst` belongs to, preferably
    /// one seen at the packet's own observation point (see the module docs).
    pub(super) fn sender_stream(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        ssrc: u32,
    ) -> Option<StreamKey> {
        self.streams.best_flow(ssrc, self.point, src, dst)
    }

    /// The stream with `ssrc` that a report sent from `src` to `dst` describes (reverse
    /// direction), preferably one seen at the report's observation point.
    pub(super) fn described_stream(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
        ssrc: u32,
    ) -> Option<StreamKey> {
        self.streams.best_flow(ssrc, self.point, dst, src)
    }

    /// Handle one RTCP datagram (compound, RFC 3550 §6.1, or reduced-size, RFC 5506).
    /// `complete` is false when the snap length cut the datagram: a cut plain compound does not
    /// walk cleanly either, so SRTCP detection is skipped and what fits is parsed.
    pub fn on_rtcp(
        &mut self,
        now: i64,
        src: SocketAddr,
        dst: SocketAddr,
        buf: &[u8],
        complete: bool,
    ) {
        self.cut(now);
        // With several shards, the datagram reaches every shard owning an SSRC it mentions;
        // the owner of the first SSRC counts it (super::shard).
        let primary = self.shard.owns(shard::primary_ssrc(buf));
        if primary {
            self.counters.rtcp_packets += 1;
        }
        if complete && rtcp::is_srtcp(buf) {
            if !primary {
                return;
            }
            self.counters.srtcp_packets += 1;
            if let Some(k) = rtcp::first_ssrc(buf).and_then(|s| self.sender_stream(src, dst, s)) {
                if let Some(s) = self.streams.get_mut(&k) {
                    s.cold_mut().srtcp = true;
                }
            }
            return;
        }
        let shard = self.shard;
        for item in Compound::new(buf) {
            let Ok(p) = item else {
                if primary {
                    self.counters.rtcp_malformed += 1;
                }
                break;
            };
            if primary {
                self.counters.rtcp_types.count(&p);
            }
            match p {
                Packet::SenderReport(sr) => {
                    // Where this direction's capture_point is measured (super::foreign).
                    self.foreign.on_sr_seen(now, self.point, src.ip(), dst.ip());
                    let mut entry = SrEntry {
                        ntp: sr.ntp_timestamp(),
                        capture_ns: now,
                        rtp_ts: sr.rtp_timestamp(),
                        ..SrEntry::default()
                    };
                    for (slot, b) in entry.blocks.iter_mut().zip(sr.report_blocks()) {
                        *slot = (b.ssrc(), b.lsr(), b.dlsr());
                        entry.n_blocks += 1;
                    }
                    debug_assert!(usize::from(entry.n_blocks) <= SR_BLOCKS);
                    if shard.owns(sr.ssrc()) {
                        self.on_sender_report(
                            src,
                            dst,
                            sr.ssrc(),
                            &entry,
                            sr.packet_count(),
                            sr.octet_count(),
                        );
                    } else {
                        self.foreign
                            .on_sr(now, self.point, sr.ssrc(), src, dst, &entry);
                    }
                    for b in sr.report_blocks() {
                        if shard.owns(b.ssrc()) {
                            self.on_report_block(now, src, dst, sr.ssrc(), &b, Some(&entry));
                        } else {
                            self.foreign_report(now, src, dst, &b);
                        }
                    }
                }
                Packet::ReceiverReport(rr) => {
                    for b in rr.report_blocks() {
                        if !shard.owns(b.ssrc()) {
                            self.foreign_report(now, src, dst, &b);
                            continue;
                        }
                        self.on_report_block(now, src, dst, rr.ssrc(), &b, None);
                    }
                }
                Packet::Sdes(sdes) => {
                    for (ssrc, cname) in sdes.cnames().filter(|(s, _)| shard.owns(*s)) {
                        let Some(k) = self.sender_stream(src, dst, ssrc) else {
                            continue;
                        };
                        if let Some(s) = self.streams.get_mut(&k) {
                            let c = s.cold_mut();
                            if c.cname.as_deref().map(str::as_bytes) != Some(cname) {
                                c.cname = Some(String::from_utf8_lossy(cname).into_owned());
                            }
                        }
                    }
                }
                Packet::Bye(bye) => {
                    for ssrc in bye.ssrcs().filter(|s| shard.owns(*s)) {
                        if let Some(k) = self.sender_stream(src, dst, ssrc) {
                            self.finish(&k, EndReason::Bye);
                        }
                    }
                }
                Packet::RtpFeedback(fb) if !shard.owns(fb.media_ssrc()) => {}
                Packet::RtpFeedback(fb) => {
                    let k = self.described_stream(src, dst, fb.media_ssrc());
                    let Some(s) = k.and_then(|k| self.streams.get_mut(&k)) else {
                        self.counters.rtcp_unmatched += 1;
                        continue;
                    };
                    match fb.kind() {
                        RtpFeedbackKind::GenericNack(nack) => {
                            let f = &mut s.cold_mut().feedback;
                            f.nacks += 1;
                            f.nack_packets += nack.lost_packets().count() as u64;
                        }
                        RtpFeedbackKind::TransportCc(_) => s.cold_mut().feedback.transport_cc += 1,
                        _ => {}
                    }
                }
                Packet::PsFeedback(fb) => self.on_ps_feedback(src, dst, &fb),
                Packet::Xr(xr) => self.on_xr(now, src, dst, &xr),
                Packet::App(_) | Packet::Unknown { .. } => {}
            }
        }
    }

    fn on_ps_feedback(&mut self, src: SocketAddr, dst: SocketAddr, fb: &rtcp::PsFeedback<'_>) {
        let shard = self.shard;
        match fb.kind() {
            PsFeedbackKind::Pli if !shard.owns(fb.media_ssrc()) => {}
            PsFeedbackKind::Pli => {
                if let Some(s) = self.described_mut(src, dst, fb.media_ssrc()) {
                    s.cold_mut().feedback.plis += 1;
                }
            }
            PsFeedbackKind::Fir(fir) => {
                for (ssrc, _seq) in fir.entries().filter(|(s, _)| shard.owns(*s)) {
                    if let Some(s) = self.described_mut(src, dst, ssrc) {
                        s.cold_mut().feedback.firs += 1;
                    }
                }
            }
            PsFeedbackKind::Remb(remb) => {
                let bps = remb.bitrate_bps();
                for ssrc in remb.ssrcs().filter(|s| shard.owns(*s)) {
                    if let Some(s) = self.described_mut(src, dst, ssrc) {
                        s.cold_mut().feedback.remb_bps = Some(bps);
                    }
                }
            }
            _ => {}
        }
    }

    fn described_mut(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        ssrc: u32,
    ) -> Option<&mut super::Stream> {
        let k = self.described_stream(src, dst, ssrc);
        match k.and_then(|k| self.streams.get_mut(&k)) {
            Some(s) => Some(s),
            None => {
                self.counters.rtcp_unmatched += 1;
                None
            }
        }
    }

    /// Remember an SR on its sender's stream and derive the `sr_chain` RTT: this SR (NTP T3)
    /// reports on the peer with LSR = the peer's SR, which itself reported on us with
    /// (LSR = our earlier SR T1, DLSR_b). RTT = T3 − DLSR_a − T1 − DLSR_b, in our clock.
    fn on_sender_report(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        ssrc: u32,
        entry: &SrEntry,
        packet_count: u32,
        octet_count: u32,
    ) {
        let Some(k) = self.sender_stream(src, dst, ssrc) else {
            // The stream may still be in probation (an SR between its first RTP packets):
            // keep the SR so that a report answering it still yields an RTT once it is valid.
            self.pending_srs.push(PendingSr {
                point: self.point,
                src,
                dst,
                ssrc,
                entry: *entry,
                packet_count,
                octet_count,
            });
            return;
        };
        let mut chain = None;
        for &(peer, lsr, dlsr_a) in entry.blocks.iter().take(usize::from(entry.n_blocks)) {
            if lsr == 0 {
                continue;
            }
            // The peer's SR: on its stream when this shard owns the peer, else as remembered
            // from the compounds that mention both (super::foreign).
            let peer_sr = if self.shard.owns(peer) {
                self.described_stream(src, dst, peer)
                    .and_then(|pk| self.streams.get(&pk))
                    .and_then(|p| p.sr(lsr).copied())
            } else {
                self.foreign.sr(self.point, peer, dst, src, lsr).copied()
            };
            let Some(peer_sr) = peer_sr else { continue };
            let mut ours = peer_sr.blocks.iter().take(usize::from(peer_sr.n_blocks));
            if let Some(&(_, t1, dlsr_b)) = ours.rfind(|b| b.0 == ssrc && b.1 != 0) {
                let units = ntp_middle(entry.ntp)
                    .wrapping_sub(dlsr_a)
                    .wrapping_sub(t1)
                    .wrapping_sub(dlsr_b) as i32;
                chain = Some(short_diff_to_ns(i64::from(units)));
            }
        }
        if let Some(s) = self.streams.get_mut(&k) {
            s.on_sr(*entry, packet_count, octet_count);
            if let Some(rtt) = chain {
                s.add_rtt(RttMethod::SrChain, rtt);
            }
        }
    }

    /// A report block from `reporter` (sent `src` → `dst`) about a stream flowing `dst` → `src`:
    /// remote view, loss after the probe, and the `capture_point` RTT when its LSR matches an SR
    /// we saw (RFC 3550 §6.4.1: A − LSR − DLSR, with A and the SR time both taken at the probe).
    fn on_report_block(
        &mut self,
        now: i64,
        src: SocketAddr,
        dst: SocketAddr,
        reporter: u32,
        b: &ReportBlock<'_>,
        _in_sr: Option<&SrEntry>,
    ) {
        let Some(k) = self.described_stream(src, dst, b.ssrc()) else {
            self.counters.rtcp_unmatched += 1;
            return;
        };
        let Some(s) = self.streams.get_mut(&k) else {
            return;
        };
        s.on_report(
            b.fraction_lost(),
            b.cumulative_lost(),
            b.ext_highest_seq(),
            b.jitter(),
        );
        if b.lsr() == 0 {
            return;
        }
        let Some(sr) = s.sr(b.lsr()).copied() else {
            return;
        };
        // Capture times are any i64 (libpcap saturates); out-of-range results are refused by
        // add_rtt, so saturating is exact enough.
        let rtt = now
            .saturating_sub(sr.capture_ns)
            .saturating_sub(short_to_ns(b.dlsr()));
        if s.add_rtt(RttMethod::CapturePoint, rtt) {
            s.cold_mut().cp_reporter = Some(reporter);
            self.foreign
                .on_capture_point(now, k.point, k.src.ip(), k.dst.ip(), rtt);
            self.end_to_end(&k);
        }
    }

    /// A report block about an SSRC another shard owns: only its `capture_point` RTT is kept,
    /// as the opposite direction of a leg for `end_to_end` (super::foreign).
    fn foreign_report(&mut self, now: i64, src: SocketAddr, dst: SocketAddr, b: &ReportBlock<'_>) {
        self.foreign.on_report(
            now,
            self.point,
            (src, dst),
            b.ssrc(),
            b.lsr(),
            short_to_ns(b.dlsr()),
        );
    }

    /// `end_to_end` of stream `k`, after its `capture_point` got a new sample (docs/output.md,
    /// "Round trips through a middlebox").
    ///
    /// A `capture_point` sample is the round trip from the probe to whoever *wrote* the report
    /// block, along the path the SR and the report took. So the round trip between the two
    /// hosts of one leg is the leg's own `capture_point` plus that of the opposite direction
    /// between the same two hosts ([`Engine::leg_rtt`]). Legs of one SSRC whose reports come
    /// from the same reporter are one RTCP session seen twice (a relay forwarding RTCP
    /// unchanged): its leg round trip already spans the relay and is counted once. While another
    /// leg has no `capture_point` yet, which case it is is unknown and no sample is taken. Legs with
    /// another reporter are another RTCP session (an SFU terminating RTCP): the SFU's ingress
    /// leg (the earliest-seen one) is added. With several other sessions (1→N fan-out) only the
    /// egress legs pair with the ingress leg; the ingress leg alone has no `end_to_end`.
    fn end_to_end(&mut self, k: &StreamKey) {
        let Some(s) = self.streams.get(k) else { return };
        let (Some(reporter), order) = (s.cp_reporter(), s.order) else {
            return;
        };
        let Some(own) = self.leg_rtt(k) else { return };
        // The other legs of this media: streams with the SSRC that arrive at this stream's
        // sender or leave from its receiver (a middlebox on one address), else the single
        // other stream with the SSRC (a middlebox facing its sides from unrelated addresses,
        // even of two IP versions). Two or more unrelated ones are SSRC collisions between
        // calls (RFC 3550 §8.1: random SSRCs do collide among many streams) and are ignored.
        // The same flow seen at another observation point (a forwarding host capturing it on
        // both interfaces) is this leg again, not another one.
        let same_ssrc = || {
            self.streams
                .ssrc_keys(k.ssrc)
                .filter(|p| p.src != k.src || p.dst != k.dst)
        };
        let connected = |p: &StreamKey| p.dst.ip() == k.src.ip() || p.src.ip() == k.dst.ip();
        let any_connected = same_ssrc().any(connected);
        let lone = same_ssrc().nth(1).is_none();
        let legs = || {
            same_ssrc()
                .filter(move |p| if any_connected { connected(p) } else { lone })
                .filter_map(|p| self.streams.get(p))
        };
        let mut others = legs().filter(|p| p.cp_reporter().is_some_and(|r| r != reporter));
        let Some(first) = others.next() else {
            // One RTCP session, unless a leg without reports yet turns out to be another.
            if legs().any(|p| p.cp_reporter().is_none()) {
                return;
            }
            drop(others);
            if let Some(s) = self.streams.get_mut(k) {
                s.add_rtt(RttMethod::EndToEnd, own);
            }
            return;
        };
        let (mut ingress, mut several) = (first, false);
        for p in others {
            several |= p.cp_reporter() != first.cp_reporter();
            if (p.order, p.key) < (ingress.order, ingress.key) {
                ingress = p;
            }
        }
        if several && ingress.order > order {
            return;
        }
        let ingress = ingress.key;
        if let Some(other) = self.leg_rtt(&ingress) {
            if let Some(s) = self.streams.get_mut(k) {
                s.add_rtt(RttMethod::EndToEnd, own.saturating_add(other));
            }
        }
    }

    /// The round trip between the two hosts of leg `k` through the probe: its latest
    /// `capture_point` plus the latest one of any stream flowing the opposite way between the
    /// same two IP addresses (in this shard or another: [`super::foreign`]), measured at the
    /// same observation point: on a forwarding host seen on both interfaces, the copy on the
    /// sender's side spans the host's delay in its own `capture_point` and the copy on the
    /// receiver's side in the opposite direction's, so each counts it exactly once.
    fn leg_rtt(&self, k: &StreamKey) -> Option<i64> {
        let cp = self.streams.get(k)?.rtt(RttMethod::CapturePoint)?.last_ns;
        let back = self
            .foreign
            .capture_point(k.point, k.dst.ip(), k.src.ip())?;
        Some(cp.saturating_add(back))
    }
}
