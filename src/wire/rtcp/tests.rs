//! Unit tests for every RTCP packet type and field, on the vectors of `test_vectors.rs`.

use super::feedback::{PsFeedbackKind, RtpFeedbackKind};
use super::sdes::item_type;
use super::test_vectors::*;
use super::*;

fn single(buf: &[u8]) -> Packet<'_> {
    let mut it = Compound::new(buf);
    let p = it.next().unwrap().unwrap();
    assert!(it.next().is_none());
    p
}

#[test]
fn sender_report() {
    let Packet::SenderReport(sr) = single(&SR) else {
        panic!("not an SR")
    };
    assert_eq!(sr.ssrc(), 0x1122_3344);
    assert_eq!(sr.ntp_timestamp(), 0xe89a_2b3c_8000_0000);
    assert_eq!(sr.rtp_timestamp(), 123_456);
    assert_eq!(sr.packet_count(), 1000);
    assert_eq!(sr.octet_count(), 160_000);
    assert_eq!(sr.report_count(), 2);
    assert!(!sr.count_overflows());
    assert!(sr.profile_extension().is_empty());
    let blocks: Vec<_> = sr.report_blocks().collect();
    assert_eq!(blocks.len(), 2);
    let b = blocks[0];
    assert_eq!(b.ssrc(), 0xaaaa_aaaa);
    assert_eq!(b.fraction_lost(), 64);
    assert_eq!(b.cumulative_lost(), 5);
    assert_eq!(b.ext_highest_seq(), 65_552);
    assert_eq!(b.jitter(), 32);
    assert_eq!(b.lsr(), 0x9a2b_3c80);
    assert_eq!(b.dlsr(), 0x0001_8000);
    let b = blocks[1];
    assert_eq!(b.ssrc(), 0xbbbb_bbbb);
    assert_eq!(b.fraction_lost(), 0);
    assert_eq!(b.cumulative_lost(), -2);
    assert_eq!(b.ext_highest_seq(), 65_535);
    assert_eq!((b.jitter(), b.lsr(), b.dlsr()), (0, 0, 0));
}

#[test]
fn receiver_report_negative_lost_and_extension() {
    let Packet::ReceiverReport(rr) = single(&RR) else {
        panic!("not an RR")
    };
    assert_eq!(rr.ssrc(), 0x5566_7788);
    assert_eq!(rr.report_count(), 1);
    let b = rr.report_blocks().next().unwrap();
    assert_eq!(b.fraction_lost(), 1);
    assert_eq!(b.cumulative_lost(), -8_388_608);
    assert_eq!(b.ext_highest_seq(), 4096);
    assert_eq!(b.jitter(), 7);
    assert_eq!(rr.profile_extension(), &[0xde, 0xad, 0xbe, 0xef]);
}

#[test]
fn report_count_overflow_yields_what_fits() {
    let mut b = RR;
    b[0] = 0x83; // RC=3 but only one block fits
    let Packet::ReceiverReport(rr) = single(&b) else {
        panic!("not an RR")
    };
    assert!(rr.count_overflows());
    assert_eq!(rr.report_blocks().count(), 1);
    assert!(rr.profile_extension().is_empty());
    let mut b = SR;
    b[0] = 0x9f; // RC=31
    let Packet::SenderReport(sr) = single(&b) else {
        panic!("not an SR")
    };
    assert!(sr.count_overflows());
    assert_eq!(sr.report_blocks().count(), 2);
}

#[test]
fn too_short_for_type_is_bad_length() {
    // An SR whose length covers only the SSRC.
    let b = [0x80, 200, 0x00, 0x01, 1, 2, 3, 4];
    let mut it = Compound::new(&b);
    assert_eq!(it.next().unwrap().unwrap_err(), RtcpError::BadLength);
    assert!(it.next().is_none());
    assert_eq!(RtcpError::BadLength.reason(), "rtcp_bad_length");
}

#[test]
fn sdes_chunks_items_and_padding() {
    let Packet::Sdes(sdes) = single(&SDES) else {
        panic!("not SDES")
    };
    assert_eq!(sdes.source_count(), 2);
    let chunks: Vec<_> = sdes.chunks().collect();
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[0].ssrc(), 0x1122_3344);
    let items: Vec<_> = chunks[0].items().collect();
    assert_eq!(
        items,
        vec![
            (item_type::CNAME, &b"a@b"[..]),
            (item_type::NAME, &b"x"[..])
        ]
    );
    assert_eq!(chunks[1].ssrc(), 0x5566_7788);
    let items: Vec<_> = chunks[1].items().collect();
    assert_eq!(
        items,
        vec![(item_type::CNAME, &b"cd"[..]), (item_type::TOOL, &b"t"[..])]
    );
    let cnames: Vec<_> = sdes.cnames().collect();
    assert_eq!(
        cnames,
        vec![(0x1122_3344, &b"a@b"[..]), (0x5566_7788, &b"cd"[..])]
    );
}

#[test]
fn sdes_overrunning_item_stops_the_walk() {
    let mut b = SDES;
    b[14] = 0x30; // NAME length 48: overruns the packet
    let Packet::Sdes(sdes) = single(&b) else {
        panic!("not SDES")
    };
    let chunks: Vec<_> = sdes.chunks().collect();
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].items().count(), 1); // the CNAME before it
}

#[test]
fn bye_with_reason() {
    let Packet::Bye(bye) = single(&BYE) else {
        panic!("not BYE")
    };
    assert_eq!(bye.ssrcs().collect::<Vec<_>>(), vec![0x1122_3344]);
    assert_eq!(bye.reason(), Some(&b"timeout"[..]));
    assert!(!bye.count_overflows());
    // Without a reason.
    let b = [0x81, 203, 0x00, 0x01, 1, 2, 3, 4];
    let Packet::Bye(bye) = single(&b) else {
        panic!("not BYE")
    };
    assert_eq!(bye.reason(), None);
    // Reason longer than the packet.
    let mut b = BYE;
    b[8] = 8;
    let Packet::Bye(bye) = single(&b) else {
        panic!("not BYE")
    };
    assert_eq!(bye.reason(), None);
}

#[test]
fn app() {
    let Packet::App(app) = single(&APP) else {
        panic!("not APP")
    };
    assert_eq!(app.subtype(), 5);
    assert_eq!(app.ssrc(), 0x1122_3344);
    assert_eq!(app.name(), *b"TEST");
    assert_eq!(app.data(), &[1, 2, 3, 4]);
}

#[test]
fn xr_rrt_dlrr_voip_metrics() {
    let Packet::Xr(xr) = single(&XR) else {
        panic!("not XR")
    };
    assert_eq!(xr.ssrc(), 0x1122_3344);
    let blocks: Vec<_> = xr.blocks().collect();
    assert_eq!(blocks.len(), 3);
    assert_eq!(
        blocks[0],
        XrBlock::ReceiverReferenceTime {
            ntp: 0xe89a_2b3c_8000_0000
        }
    );
    let XrBlock::Dlrr(items) = blocks[1] else {
        panic!("not DLRR")
    };
    let items: Vec<_> = items.collect();
    assert_eq!(
        items,
        vec![
            DlrrItem {
                ssrc: 0xaaaa_aaaa,
                last_rr: 0x9a2b_3c80,
                delay_since_last_rr: 0x8000
            },
            DlrrItem {
                ssrc: 0xbbbb_bbbb,
                last_rr: 1,
                delay_since_last_rr: 2
            },
        ]
    );
    let XrBlock::VoipMetrics(vm) = blocks[2] else {
        panic!("not VoIP metrics")
    };
    assert_eq!(vm.ssrc(), 0xcccc_cccc);
    assert_eq!(
        (vm.loss_rate(), vm.discard_rate()),
        (0x0a, 0x0b),
        "loss, discard"
    );
    assert_eq!((vm.burst_density(), vm.gap_density()), (0x0c, 0x0d));
    assert_eq!((vm.burst_duration(), vm.gap_duration()), (100, 500));
    assert_eq!((vm.round_trip_delay(), vm.end_system_delay()), (150, 40));
    assert_eq!((vm.signal_level(), vm.noise_level()), (-30, -75));
    assert_eq!((vm.rerl(), vm.gmin()), (30, 16));
    assert_eq!((vm.r_factor(), vm.ext_r_factor()), (93, 127));
    assert_eq!((vm.mos_lq(), vm.mos_cq()), (41, 40));
    assert_eq!(vm.rx_config(), 0x80);
    assert_eq!(
        (vm.jb_nominal(), vm.jb_max(), vm.jb_abs_max()),
        (40, 120, 300)
    );
}

#[test]
fn xr_short_or_overrunning_blocks() {
    let mut b = XR;
    b[11] = 0x01; // RRT block length 1: too short → Other; the walk then misaligns
    let Packet::Xr(xr) = single(&b) else {
        panic!("not XR")
    };
    let first = xr.blocks().next().unwrap();
    assert!(matches!(first, XrBlock::Other { block_type: 4, body } if body.len() == 4));
    let mut b = XR;
    b[11] = 0xff; // overruns: no blocks
    let Packet::Xr(xr) = single(&b) else {
        panic!("not XR")
    };
    assert_eq!(xr.blocks().count(), 0);
}

#[test]
fn generic_nack() {
    let Packet::RtpFeedback(fb) = single(&NACK) else {
        panic!("not RTPFB")
    };
    assert_eq!(fb.fmt(), 1);
    assert_eq!(fb.sender_ssrc(), 0x1122_3344);
    assert_eq!(fb.media_ssrc(), 0x5566_7788);
    let RtpFeedbackKind::GenericNack(nack) = fb.kind() else {
        panic!("not NACK")
    };
    assert_eq!(
        nack.entries().collect::<Vec<_>>(),
        vec![(100, 5), (65535, 1)]
    );
    assert_eq!(
        nack.lost_packets().collect::<Vec<_>>(),
        vec![100, 101, 103, 65535, 0]
    );
}

#[test]
fn transport_cc_header() {
    let Packet::RtpFeedback(fb) = single(&TWCC) else {
        panic!("not RTPFB")
    };
    assert_eq!(fb.fmt(), 15);
    assert_eq!(fb.media_ssrc(), 0);
    let RtpFeedbackKind::TransportCc(cc) = fb.kind() else {
        panic!("not TWCC")
    };
    assert_eq!(cc.base_sequence(), 258);
    assert_eq!(cc.packet_status_count(), 3);
    assert_eq!(cc.reference_time(), 0x12_3456);
    assert_eq!(cc.fb_pkt_count(), 7);
    // Padding (P bit, count 3) is removed.
    assert_eq!(cc.packet_chunks(), &[0x20, 0x03, 0x04, 0x08, 0x0c]);
}

#[test]
fn pli_reduced_size() {
    // RFC 5506: a lone PSFB, no SR/RR first.
    let Packet::PsFeedback(fb) = single(&PLI) else {
        panic!("not PSFB")
    };
    assert_eq!(fb.fmt(), 1);
    assert_eq!(fb.sender_ssrc(), 0x1122_3344);
    assert_eq!(fb.media_ssrc(), 0x5566_7788);
    assert_eq!(fb.kind(), PsFeedbackKind::Pli);
}

#[test]
fn fir() {
    let Packet::PsFeedback(fb) = single(&FIR) else {
        panic!("not PSFB")
    };
    let PsFeedbackKind::Fir(fir) = fb.kind() else {
        panic!("not FIR")
    };
    assert_eq!(fir.entries().collect::<Vec<_>>(), vec![(0xabcd_ef01, 9)]);
}

#[test]
fn remb() {
    let Packet::PsFeedback(fb) = single(&REMB) else {
        panic!("not PSFB")
    };
    let PsFeedbackKind::Remb(remb) = fb.kind() else {
        panic!("not REMB")
    };
    assert_eq!(remb.num_ssrc(), 2);
    assert_eq!(remb.exponent(), 3);
    assert_eq!(remb.mantissa(), 200_000);
    assert_eq!(remb.bitrate_bps(), 1_600_000);
    assert_eq!(
        remb.ssrcs().collect::<Vec<_>>(),
        vec![0xaaaa_aaaa, 0xbbbb_bbbb]
    );
    assert!(!remb.count_overflows());
    // Saturation: exp=63, mantissa=2^18-1.
    let mut b = REMB;
    b[17..20].copy_from_slice(&[0xff, 0xff, 0xff]);
    let Packet::PsFeedback(fb) = single(&b) else {
        panic!("not PSFB")
    };
    let PsFeedbackKind::Remb(remb) = fb.kind() else {
        panic!("not REMB")
    };
    assert_eq!(remb.bitrate_bps(), u64::MAX);
    // Another AFB identifier.
    let mut b = REMB;
    b[12] = b'X';
    let Packet::PsFeedback(fb) = single(&b) else {
        panic!("not PSFB")
    };
    assert!(matches!(fb.kind(), PsFeedbackKind::Afb(fci) if fci.len() == 16));
}

#[test]
fn compound_walk_and_errors() {
    let mut buf = Vec::new();
    for v in ALL {
        buf.extend_from_slice(v);
    }
    let types: Vec<u8> = Compound::new(&buf)
        .map(|p| p.unwrap().packet_type())
        .collect();
    assert_eq!(
        types,
        vec![200, 201, 202, 203, 204, 207, 205, 205, 206, 206, 206]
    );
    assert_eq!(packet_type(&buf), Some(200));
    assert_eq!(first_ssrc(&buf), Some(0x1122_3344));

    // Unknown packet type.
    let b = [0x80, 210, 0x00, 0x01, 9, 9, 9, 9];
    let p = single(&b);
    assert!(matches!(
        p,
        Packet::Unknown {
            packet_type: 210,
            body: [9, 9, 9, 9]
        }
    ));

    // Truncated second packet: first item Ok, then one Err, then None.
    let mut it = Compound::new(&buf[..SR.len() + 10]);
    assert!(it.next().unwrap().is_ok());
    assert_eq!(it.next().unwrap().unwrap_err(), RtcpError::Truncated);
    assert!(it.next().is_none());
    assert_eq!(it.remaining().len(), 10);

    // Bad version in the second packet.
    let mut b = buf.clone();
    b[SR.len()] = 0x41;
    let mut it = Compound::new(&b);
    assert!(it.next().unwrap().is_ok());
    assert_eq!(it.next().unwrap().unwrap_err(), RtcpError::BadVersion);
    assert!(it.next().is_none());
    assert_eq!(packet_type(&b[SR.len()..]), None);
    assert_eq!(first_ssrc(&[0x80, 200, 0, 6, 1, 2, 3]), None);
    assert_eq!(RtcpError::Truncated.reason(), "rtcp_truncated");
    assert_eq!(RtcpError::BadVersion.reason(), "rtcp_bad_version");
}

#[test]
fn invalid_padding_is_ignored() {
    let mut b = BYE;
    b[0] |= 0x20; // P=1, last octet 't' (116) exceeds the body: read unpadded
    let Packet::Bye(bye) = single(&b) else {
        panic!("not BYE")
    };
    assert_eq!(bye.reason(), Some(&b"timeout"[..]));
    let h = Header::new_checked(&b).unwrap();
    assert!(h.padding());
    assert_eq!((h.version(), h.count(), h.packet_type()), (2, 1, 203));
    assert_eq!((h.length(), h.packet_len()), (3, 16));
}
