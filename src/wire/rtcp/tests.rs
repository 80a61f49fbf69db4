//! Annotated test vectors for every RTCP packet type and field. The vectors are shared with
//! the never-panics tests in `tests_fuzz.rs`.

use super::feedback::{PsFeedbackKind, RtpFeedbackKind};
use super::sdes::item_type;
use super::*;

pub(super) const SR: [u8; 76] = [
    0x82, 200, 0x00, 0x12, // V=2 P=0 RC=2 | PT=SR | length=18
    0x11, 0x22, 0x33, 0x44, // SSRC of sender
    0xe8, 0x9a, 0x2b, 0x3c, // NTP msw
    0x80, 0x00, 0x00, 0x00, // NTP lsw
    0x00, 0x01, 0xe2, 0x40, // RTP timestamp=123456
    0x00, 0x00, 0x03, 0xe8, // packet count=1000
    0x00, 0x02, 0x71, 0x00, // octet count=160000
    0xaa, 0xaa, 0xaa, 0xaa, // RB1 SSRC_1
    0x40, 0x00, 0x00, 0x05, // RB1 fraction lost=64 | cumulative lost=5
    0x00, 0x01, 0x00, 0x10, // RB1 ext highest seq=65552
    0x00, 0x00, 0x00, 0x20, // RB1 jitter=32
    0x9a, 0x2b, 0x3c, 0x80, // RB1 LSR
    0x00, 0x01, 0x80, 0x00, // RB1 DLSR=1.5 s
    0xbb, 0xbb, 0xbb, 0xbb, // RB2 SSRC_2
    0x00, 0xff, 0xff, 0xfe, // RB2 fraction lost=0 | cumulative lost=-2
    0x00, 0x00, 0xff, 0xff, // RB2 ext highest seq=65535
    0x00, 0x00, 0x00, 0x00, // RB2 jitter
    0x00, 0x00, 0x00, 0x00, // RB2 LSR
    0x00, 0x00, 0x00, 0x00, // RB2 DLSR
];

pub(super) const RR: [u8; 36] = [
    0x81, 201, 0x00, 0x08, // V=2 RC=1 | PT=RR | length=8
    0x55, 0x66, 0x77, 0x88, // SSRC of packet sender
    0xaa, 0xaa, 0xaa, 0xaa, // RB SSRC_1
    0x01, 0x80, 0x00, 0x00, // fraction lost=1 | cumulative lost=-8388608 (most negative)
    0x00, 0x00, 0x10, 0x00, // ext highest seq=4096
    0x00, 0x00, 0x00, 0x07, // jitter=7
    0x00, 0x00, 0x00, 0x00, // LSR=0 (no SR yet)
    0x00, 0x00, 0x00, 0x00, // DLSR=0
    0xde, 0xad, 0xbe, 0xef, // profile-specific extension
];

pub(super) const SDES: [u8; 36] = [
    0xa2, 202, 0x00, 0x08, // V=2 P=1 SC=2 | PT=SDES | length=8
    0x11, 0x22, 0x33, 0x44, // chunk 1 SSRC
    0x01, 0x03, b'a', b'@', b'b', // CNAME len=3 "a@b"
    0x02, 0x01, b'x', // NAME len=1 "x"
    0x00, 0x00, 0x00, 0x00, // END + pad to 32 bits
    0x55, 0x66, 0x77, 0x88, // chunk 2 SSRC
    0x01, 0x02, b'c', b'd', // CNAME len=2 "cd"
    0x06, 0x01, b't', // TOOL len=1 "t"
    0x00, // END (already aligned)
    0x00, 0x00, 0x00, 0x04, // RTCP padding, count=4
];

pub(super) const BYE: [u8; 16] = [
    0x81, 203, 0x00, 0x03, // V=2 SC=1 | PT=BYE | length=3
    0x11, 0x22, 0x33, 0x44, // SSRC
    0x07, b't', b'i', b'm', // reason length=7
    b'e', b'o', b'u', b't', // "timeout"
];

pub(super) const APP: [u8; 16] = [
    0x85, 204, 0x00, 0x03, // V=2 subtype=5 | PT=APP | length=3
    0x11, 0x22, 0x33, 0x44, // SSRC
    b'T', b'E', b'S', b'T', // name
    0x01, 0x02, 0x03, 0x04, // data
];

pub(super) const XR: [u8; 84] = [
    0x80, 207, 0x00, 0x14, // V=2 | PT=XR | length=20
    0x11, 0x22, 0x33, 0x44, // SSRC
    0x04, 0x00, 0x00, 0x02, // BT=4 RRT | block length=2
    0xe8, 0x9a, 0x2b, 0x3c, // NTP msw
    0x80, 0x00, 0x00, 0x00, // NTP lsw
    0x05, 0x00, 0x00, 0x06, // BT=5 DLRR | block length=6
    0xaa, 0xaa, 0xaa, 0xaa, // sub-block 1 SSRC
    0x9a, 0x2b, 0x3c, 0x80, // LRR
    0x00, 0x00, 0x80, 0x00, // DLRR=0.5 s
    0xbb, 0xbb, 0xbb, 0xbb, // sub-block 2 SSRC
    0x00, 0x00, 0x00, 0x01, // LRR
    0x00, 0x00, 0x00, 0x02, // DLRR
    0x07, 0x00, 0x00, 0x08, // BT=7 VoIP metrics | block length=8
    0xcc, 0xcc, 0xcc, 0xcc, // SSRC of source
    0x0a, 0x0b, 0x0c, 0x0d, // loss rate | discard rate | burst density | gap density
    0x00, 0x64, 0x01, 0xf4, // burst duration=100 | gap duration=500
    0x00, 0x96, 0x00, 0x28, // round trip delay=150 | end system delay=40
    0xe2, 0xb5, 0x1e, 0x10, // signal=-30 dBm | noise=-75 dBm | RERL=30 | Gmin=16
    0x5d, 0x7f, 0x29, 0x28, // R=93 | ext R=127 | MOS-LQ=4.1 | MOS-CQ=4.0
    0x80, 0x00, 0x00, 0x28, // RX config | reserved | JB nominal=40
    0x00, 0x78, 0x01, 0x2c, // JB maximum=120 | JB abs max=300
];

pub(super) const NACK: [u8; 20] = [
    0x81, 205, 0x00, 0x04, // V=2 FMT=1 | PT=RTPFB | length=4
    0x11, 0x22, 0x33, 0x44, // SSRC of packet sender
    0x55, 0x66, 0x77, 0x88, // SSRC of media source
    0x00, 0x64, 0x00, 0x05, // PID=100 | BLP=0b101: 101 and 103 lost too
    0xff, 0xff, 0x00, 0x01, // PID=65535 | BLP=0b1: 0 lost too (wraps)
];

pub(super) const TWCC: [u8; 28] = [
    0xaf, 205, 0x00, 0x06, // V=2 P=1 FMT=15 | PT=RTPFB | length=6
    0x11, 0x22, 0x33, 0x44, // SSRC of packet sender
    0x00, 0x00, 0x00, 0x00, // SSRC of media source
    0x01, 0x02, 0x00, 0x03, // base sequence=258 | packet status count=3
    0x12, 0x34, 0x56, 0x07, // reference time=0x123456 | fb pkt count=7
    0x20, 0x03, // run length chunk: small delta x 3
    0x04, 0x08, 0x0c, // receive deltas
    0x00, 0x00, 0x03, // RTCP padding, count=3
];

pub(super) const PLI: [u8; 12] = [
    0x81, 206, 0x00, 0x02, // V=2 FMT=1 | PT=PSFB | length=2
    0x11, 0x22, 0x33, 0x44, // SSRC of packet sender
    0x55, 0x66, 0x77, 0x88, // SSRC of media source
];

pub(super) const FIR: [u8; 20] = [
    0x84, 206, 0x00, 0x04, // V=2 FMT=4 | PT=PSFB | length=4
    0x11, 0x22, 0x33, 0x44, // SSRC of packet sender
    0x00, 0x00, 0x00, 0x00, // SSRC of media source (unused)
    0xab, 0xcd, 0xef, 0x01, // FCI SSRC
    0x09, 0x00, 0x00, 0x00, // Seq nr=9 | reserved
];

pub(super) const REMB: [u8; 28] = [
    0x8f, 206, 0x00, 0x06, // V=2 FMT=15 | PT=PSFB | length=6
    0x11, 0x22, 0x33, 0x44, // SSRC of packet sender
    0x00, 0x00, 0x00, 0x00, // SSRC of media source (unused)
    b'R', b'E', b'M', b'B', // unique identifier
    0x02, 0x0f, 0x0d, 0x40, // num SSRC=2 | exp=3 mantissa=200000 → 1.6 Mbit/s
    0xaa, 0xaa, 0xaa, 0xaa, // SSRC feedback 1
    0xbb, 0xbb, 0xbb, 0xbb, // SSRC feedback 2
];

/// Every vector, for the compound and never-panics tests.
pub(super) const ALL: [&[u8]; 11] = [
    &SR, &RR, &SDES, &BYE, &APP, &XR, &NACK, &TWCC, &PLI, &FIR, &REMB,
];

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
        (vm.jb_nominal(), vm.jb_maximum(), vm.jb_abs_max()),
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
