//! Never-panics tests: every truncation prefix of every vector, and pseudo-random mutations,
//! through every accessor and iterator (a stand-in for the fuzz target until it runs in CI).

use super::feedback::{PsFeedbackKind, RtpFeedbackKind};
use super::test_vectors::ALL;
use super::*;

/// Touches every accessor and drains every iterator; returns a checksum so nothing is
/// optimised away.
fn exercise(buf: &[u8]) -> u64 {
    let mut sum = 0u64;
    let mut add = |v: u64| sum = sum.wrapping_mul(31).wrapping_add(v);
    add(u64::from(is_srtcp(buf)));
    add(u64::from(first_ssrc(buf).unwrap_or(0)));
    add(u64::from(packet_type(buf).unwrap_or(0)));
    let mut count = 0;
    for item in Compound::new(buf) {
        count += 1;
        let Ok(p) = item else {
            add(1);
            continue;
        };
        add(u64::from(p.packet_type()));
        match p {
            Packet::SenderReport(sr) => {
                add(sr.ntp_timestamp() ^ u64::from(sr.ssrc()) ^ u64::from(sr.rtp_timestamp()));
                add(u64::from(sr.packet_count()) ^ u64::from(sr.octet_count()));
                add(sr.profile_extension().len() as u64 + u64::from(sr.count_overflows()));
                assert!(sr.report_blocks().count() <= usize::from(sr.report_count()));
                sr.report_blocks().for_each(|b| add(block(b)));
            }
            Packet::ReceiverReport(rr) => {
                add(u64::from(rr.ssrc()) + rr.profile_extension().len() as u64);
                add(u64::from(rr.count_overflows()));
                assert!(rr.report_blocks().count() <= usize::from(rr.report_count()));
                rr.report_blocks().for_each(|b| add(block(b)));
            }
            Packet::Sdes(sdes) => {
                assert!(sdes.chunks().count() <= usize::from(sdes.source_count()));
                for chunk in sdes.chunks() {
                    add(u64::from(chunk.ssrc()));
                    chunk
                        .items()
                        .for_each(|(t, d)| add(u64::from(t) + d.len() as u64));
                }
                sdes.cnames()
                    .for_each(|(s, d)| add(u64::from(s) + d.len() as u64));
            }
            Packet::Bye(bye) => {
                bye.ssrcs().for_each(|s| add(u64::from(s)));
                add(bye.reason().map_or(0, |r| r.len() as u64));
                add(u64::from(bye.count_overflows()) + u64::from(bye.source_count()));
            }
            Packet::App(app) => {
                add(u64::from(app.subtype()) + u64::from(app.ssrc()));
                add(u64::from(u32::from_be_bytes(app.name())) + app.data().len() as u64);
            }
            Packet::Xr(xr) => {
                add(u64::from(xr.ssrc()));
                xr.blocks().for_each(|b| add(xr_block(b)));
            }
            Packet::RtpFeedback(fb) => {
                add(u64::from(fb.fmt()) + u64::from(fb.sender_ssrc()) + u64::from(fb.media_ssrc()));
                add(fb.fci().len() as u64);
                match fb.kind() {
                    RtpFeedbackKind::GenericNack(n) => {
                        n.entries()
                            .for_each(|(p, b)| add(u64::from(p) + u64::from(b)));
                        n.lost_packets().for_each(|s| add(u64::from(s)));
                    }
                    RtpFeedbackKind::TransportCc(cc) => {
                        add(u64::from(cc.base_sequence()) + u64::from(cc.packet_status_count()));
                        add(u64::from(cc.reference_time()) + u64::from(cc.fb_pkt_count()));
                        add(cc.packet_chunks().len() as u64);
                    }
                    RtpFeedbackKind::Other(fci) => add(fci.len() as u64),
                }
            }
            Packet::PsFeedback(fb) => {
                add(u64::from(fb.fmt()) + u64::from(fb.sender_ssrc()) + u64::from(fb.media_ssrc()));
                add(fb.fci().len() as u64);
                match fb.kind() {
                    PsFeedbackKind::Pli => add(1),
                    PsFeedbackKind::Fir(fir) => {
                        fir.entries()
                            .for_each(|(s, n)| add(u64::from(s) + u64::from(n)));
                    }
                    PsFeedbackKind::Remb(r) => {
                        add(r.bitrate_bps() ^ u64::from(r.num_ssrc()) ^ u64::from(r.exponent()));
                        add(u64::from(r.mantissa()) + u64::from(r.count_overflows()));
                        assert!(r.ssrcs().count() <= usize::from(r.num_ssrc()));
                        r.ssrcs().for_each(|s| add(u64::from(s)));
                    }
                    PsFeedbackKind::Afb(fci) | PsFeedbackKind::Other(fci) => add(fci.len() as u64),
                }
            }
            Packet::Unknown { packet_type, body } => {
                add(u64::from(packet_type) + body.len() as u64)
            }
        }
    }
    // Every packet is at least 4 octets, plus at most one error item.
    assert!(count <= buf.len() / 4 + 1);
    sum
}

fn block(b: ReportBlock<'_>) -> u64 {
    u64::from(b.ssrc())
        ^ u64::from(b.fraction_lost())
        ^ (b.cumulative_lost() as u64)
        ^ u64::from(b.ext_highest_seq())
        ^ u64::from(b.jitter())
        ^ u64::from(b.lsr())
        ^ u64::from(b.dlsr())
}

fn xr_block(b: XrBlock<'_>) -> u64 {
    match b {
        XrBlock::ReceiverReferenceTime { ntp } => ntp,
        XrBlock::Dlrr(items) => items
            .map(|i| u64::from(i.ssrc ^ i.last_rr ^ i.delay_since_last_rr))
            .sum(),
        XrBlock::VoipMetrics(v) => {
            let bytes = [
                v.loss_rate(),
                v.discard_rate(),
                v.burst_density(),
                v.gap_density(),
                v.signal_level() as u8,
                v.noise_level() as u8,
                v.rerl(),
                v.gmin(),
                v.r_factor(),
                v.ext_r_factor(),
                v.mos_lq(),
                v.mos_cq(),
                v.rx_config(),
            ];
            let words = [
                v.burst_duration(),
                v.gap_duration(),
                v.round_trip_delay(),
                v.end_system_delay(),
                v.jb_nominal(),
                v.jb_max(),
                v.jb_abs_max(),
            ];
            u64::from(v.ssrc())
                + bytes.iter().map(|&b| u64::from(b)).sum::<u64>()
                + words.iter().map(|&w| u64::from(w)).sum::<u64>()
        }
        XrBlock::Other { block_type, body } => u64::from(block_type) + body.len() as u64,
    }
}

#[test]
fn every_truncation_prefix() {
    let mut compound = Vec::new();
    for v in ALL {
        compound.extend_from_slice(v);
        for n in 0..=v.len() {
            exercise(&v[..n]);
        }
    }
    for n in 0..=compound.len() {
        exercise(&compound[..n]);
    }
}

#[test]
fn random_mutations_never_panic() {
    let mut x: u64 = 0x853c_49e6_748f_ea9b;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut compound = Vec::new();
    for v in ALL {
        compound.extend_from_slice(v);
    }
    let mut sum = 0u64;
    for i in 0..100_000 {
        let base: &[u8] = if i % 12 == 11 { &compound } else { ALL[i % 11] };
        let mut b = base.to_vec();
        for _ in 0..=(next() % 4) {
            let r = next();
            let at = (r as usize >> 8) % b.len();
            // Bias towards the header octets, where the interesting lengths live.
            let at = if r & 0x10000 != 0 { at % 4 } else { at };
            b[at] = r as u8;
        }
        let cut = (next() as usize) % (b.len() + 1);
        sum = sum.wrapping_add(exercise(&b[..cut]));
        sum = sum.wrapping_add(exercise(&b));
        // Direct view constructors on arbitrary bytes must not panic either.
        let _ = SenderReport::new_checked(&b).map(|s| s.report_blocks().count());
        let _ = Sdes::new_checked(&b).map(|s| s.cnames().count());
        let _ = Xr::new_checked(&b).map(|x| x.blocks().count());
    }
    assert_ne!(sum, 0);
}
