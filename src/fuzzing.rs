//! Fuzz harnesses: each `cargo fuzz` target in `fuzz/fuzz_targets/` is one line calling one of
//! these, so the harnesses are compiled, linted and unit-tested with the crate and the crash
//! reproducers in `fuzz/regressions/` run as ordinary tests (`tests/fuzz_regressions.rs`).
//!
//! Every harness walks every accessor and iterator of what it parsed: a parser that checks
//! lengths lazily must not panic later either.

use crate::config::Resolved;
use crate::replay::Run;
use crate::wire::{self, demux, rtcp, rtp, stun, LinkType};

/// Link types the frame harnesses choose from with the first input byte.
const LINKS: [LinkType; 8] = [
    LinkType::Ethernet,
    LinkType::Null,
    LinkType::Loop,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
];

/// RTP header view and every accessor.
pub fn rtp(data: &[u8]) {
    for parsed in [
        rtp::Packet::new_checked(data),
        rtp::Packet::new_header_only(data),
    ]
    .into_iter()
    .flatten()
    {
        {
            let p = parsed;
            let _ = (p.version(), p.padding(), p.marker(), p.payload_type());
            let _ = (p.sequence_number(), p.timestamp(), p.ssrc(), p.csrc_count());
            let _ = p.csrcs().count();
            if let Some(ext) = p.header_extension() {
                let _ = (ext.profile(), ext.data().len(), ext.elements().count());
            }
            let _ = (p.header_len(), p.payload().len());
        }
    }
}

/// RTCP compound walk, every packet type and field, and SRTCP detection.
pub fn rtcp(data: &[u8]) {
    let _ = (
        rtcp::is_srtcp(data),
        rtcp::first_ssrc(data),
        rtcp::packet_type(data),
    );
    for p in rtcp::Compound::new(data).flatten() {
        walk_rtcp(&p);
    }
}

fn walk_rtcp(p: &rtcp::Packet<'_>) {
    use rtcp::Packet;
    match p {
        Packet::SenderReport(sr) => {
            let _ = (sr.ssrc(), sr.ntp_timestamp(), sr.rtp_timestamp());
            let _ = (
                sr.packet_count(),
                sr.octet_count(),
                sr.profile_extension().len(),
            );
            sr.report_blocks().for_each(|b| walk_block(&b));
        }
        Packet::ReceiverReport(rr) => {
            let _ = (rr.ssrc(), rr.profile_extension().len());
            rr.report_blocks().for_each(|b| walk_block(&b));
        }
        Packet::Sdes(s) => {
            for c in s.chunks() {
                let _ = (c.ssrc(), c.items().count());
            }
            let _ = s.cnames().count();
        }
        Packet::Bye(b) => {
            let _ = (b.ssrcs().count(), b.reason());
        }
        Packet::App(a) => {
            let _ = (a.subtype(), a.ssrc(), a.name(), a.data().len());
        }
        Packet::Xr(x) => {
            let _ = x.ssrc();
            for b in x.blocks() {
                match b {
                    rtcp::XrBlock::Dlrr(items) => {
                        let _ = items.count();
                    }
                    rtcp::XrBlock::VoipMetrics(v) => {
                        let _ = (
                            v.ssrc(),
                            v.loss_rate(),
                            v.r_factor(),
                            v.mos_lq(),
                            v.mos_cq(),
                        );
                    }
                    _ => {}
                }
            }
        }
        Packet::RtpFeedback(f) => {
            let _ = (f.fmt(), f.sender_ssrc(), f.media_ssrc());
            if let rtcp::RtpFeedbackKind::GenericNack(n) = f.kind() {
                let _ = n.lost_packets().count();
            }
        }
        Packet::PsFeedback(f) => {
            let _ = (f.fmt(), f.sender_ssrc(), f.media_ssrc());
            match f.kind() {
                rtcp::PsFeedbackKind::Fir(fir) => {
                    let _ = fir.entries().count();
                }
                rtcp::PsFeedbackKind::Remb(r) => {
                    let _ = (r.bitrate_bps(), r.ssrcs().count());
                }
                _ => {}
            }
        }
        Packet::Unknown { .. } => {}
    }
}

fn walk_block(b: &rtcp::ReportBlock<'_>) {
    let _ = (
        b.ssrc(),
        b.fraction_lost(),
        b.cumulative_lost(),
        b.ext_highest_seq(),
    );
    let _ = (b.jitter(), b.lsr(), b.dlsr());
}

/// STUN message view and attributes.
pub fn stun(data: &[u8]) {
    if let Ok(m) = stun::Message::new_checked(data) {
        let _ = (m.class(), m.method(), m.transaction_id(), m.is_ice_check());
        let _ = (m.attributes().count(), m.data(), m.xor_peer_address());
    }
}

/// RFC 7983 demultiplexing, TURN unwrapping, then the matching parser.
pub fn demux(data: &[u8]) {
    let c = demux::classify(data);
    match c.inner {
        demux::Demuxed::Rtp(b) => rtp(b),
        demux::Demuxed::Rtcp(b) => rtcp(b),
        demux::Demuxed::Stun(m) => {
            let _ = (m.class(), m.method(), m.transaction_id(), m.is_ice_check());
            let _ = (m.attributes().count(), m.data(), m.xor_peer_address());
        }
        _ => {}
    }
}

/// Link, IP and UDP decoding; the first byte picks the link type.
pub fn frame(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(sel) % LINKS.len()];
    if let Ok(dg) = wire::decode_udp(link, rest) {
        assert!(dg.payload.len() <= rest.len());
        demux(dg.payload);
    }
}

/// The whole decode-and-track path over a sequence of frames. Input: a link selector byte, then
/// records of [2-byte big-endian length][2-byte time step in ms][frame bytes].
pub fn packet_path(data: &[u8]) {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(sel) % LINKS.len()];
    let cfg = Resolved {
        max_streams: 8,
        max_candidates: 8,
        ..Resolved::default()
    };
    let mut run = Run::new(cfg);
    let mut now: i64 = 1_700_000_000_000_000_000;
    while let [a, b, c, d, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        now += i64::from(u16::from_be_bytes([*c, *d])) * 1_000_000;
        let (f, next) = tail.split_at(len);
        run.frame(link, now, f);
        rest = next;
    }
    let report = run.finish(String::new(), 0, None);
    for s in &report.streams {
        assert!(s.packets > 0);
        assert!(s.expected < 1 << 48);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn whole_path_harness_tracks_a_stream() {
        // Raw IPv4 link; three RTP packets 20 ms apart on one flow.
        let mut input = vec![5u8]; // LINKS[5] = Raw
        for seq in 0u16..3 {
            let mut f = vec![
                0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
            ];
            f.extend_from_slice(&[0x13, 0x88, 0x13, 0x89, 0, 20, 0, 0]);
            f.extend_from_slice(&[0x80, 0, 0, seq as u8, 0, 0, 0, 0, 0, 0, 0, 7]);
            input.extend_from_slice(&(f.len() as u16).to_be_bytes());
            input.extend_from_slice(&20u16.to_be_bytes());
            input.extend_from_slice(&f);
        }
        super::packet_path(&input);
        for cut in 0..input.len() {
            super::packet_path(&input[..cut]);
        }
    }
}
