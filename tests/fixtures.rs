//! End to end on real captures: replay every file in `fixtures/` (provenance in
//! `fixtures/README.md`) through the library and compare each stream with two independent
//! analysers.
//!
//! * **TShark 4.0** (`tests/golden/tshark/<fixture>.txt`, from `tests/golden/regen-tshark.sh`):
//!   per (source, destination, SSRC) `packets` must equal TShark's "Pkts" and `lost` its "Lost",
//!   and `max_jitter_ms` its "Max Jitter" where TShark knows the clock rate. TShark's Lost is
//!   (highest − lowest extended sequence number + 1) − packets, duplicates counted as received
//!   as we do, so it can be negative; that is RFC 3550 A.3's `expected − received` whenever the
//!   first packet has the lowest sequence number and no jump reaches A.1's MAX_DROPOUT, which
//!   holds on every fixture. Every `rtcp.roundtrip-delay` must appear among our
//!   `capture_point` RTT samples of the stream the report describes (tolerance in `check.rs`).
//! * **rtpproxy** (`fixtures/rtpproxy-expected/*.output`): packets, loss, duplicates and jitter
//!   (`check::check_rtpproxy`).
//! * For dynamic payload types TShark cannot know, the clock rate the payload format fixes.
//!
//! Each difference is written down where it occurs: a legitimate one with its reason, a bug as
//! a pin of today's wrong value (`check::bug_pin`) so that fixing it fails the test on purpose.
//! `live.rs` checks the goldens themselves: `tshark_goldens_are_current` reruns TShark when it is
//! installed (and fails under `CI=true` when it is not), and `reference_only_captures` applies
//! the same checks to the captures that must not be committed (an ignored test, run by
//! `scripts/test` when they are present and always under `CI=true`).

#[path = "fixtures/check.rs"]
mod check;
#[path = "fixtures/golden.rs"]
mod golden;
#[path = "fixtures/live.rs"]
mod live;

use check::{
    check_clock, check_rtpproxy, check_tshark, fixture, golden_path, known, replay, stream, Diff,
    Expect,
};
use golden::TsGolden;
use rtcprobe::replay::Report;

/// Replay a committed fixture and compare it with its TShark golden.
fn run(name: &str, ex: Expect) -> Report {
    let report = replay(&fixture(name));
    let problems = check_tshark(&TsGolden::load(&golden_path(name)), &report, &ex);
    assert!(
        problems.is_empty(),
        "{name} vs TShark:\n  {}",
        problems.join("\n  ")
    );
    report
}

// ---------------------------------------------------------------------------------------------
// rtpproxy's captures, with its own expected analysis.

/// G.729: seq 400, then 423…964 with gaps; 244 of 565 received. The 22 packets lost right
/// after the first one fall in A.1 probation: a gap there is loss, not a new source
/// (engine/seq.rs), so seq 400 is the base, as for TShark and rtpproxy.
#[test]
fn rtpproxy_lost() {
    let r = run("rtpproxy-lost.pcap", Expect::default());
    let s = stream(&r, "144.209.176.52:36778", "15.3.253.86:60060", 0x0A73_28F3);
    assert_eq!((s.packets, s.expected, s.lost), (244, 565, 321));
    check_rtpproxy(&r, "lost.output", 0, None, &[]);
}

/// G.729, 384 packets; the second is a duplicate of the first (seq 0, M=1, 19 ms later). It
/// arrives during A.1 probation and is a duplicate there too (engine/seq.rs): TShark's lost −1,
/// rtpproxy's pcount 383 and duplicates 1.
#[test]
fn rtpproxy_dups() {
    const SRC: &str = "123.87.99.93:30716";
    const DST: &str = "97.93.61.248:60710";
    let r = run(
        "rtpproxy-dups.pcap",
        Expect {
            // Legitimate: TShark's max jitter skips packets with the marker bit; the duplicate
            // carries M=1 and raises J to |D|/16 = 151.6/16 units = 1.1847 ms, ours maximum.
            // TShark's maximum is the next J, 15/16 of that (checked below).
            jitter_skip: &[(SRC, DST, 0xAE9D_D7AF)],
            ..Expect::default()
        },
    );
    let s = stream(&r, SRC, DST, 0xAE9D_D7AF);
    assert_eq!(
        (s.packets, s.expected, s.lost, s.duplicates),
        (384, 383, -1, 1)
    );
    let ours_max = s.max_jitter_ms.unwrap_or_default();
    assert!(
        (ours_max * 15.0 / 16.0 - 1.111).abs() < 0.0006,
        "max jitter {ours_max}"
    );
    // Legitimate: rtpproxy leaves the duplicate (its RTP timestamp repeats) out of A.8, so its
    // max_jitter is 0.12 units where ours is 9.48 (the spike above). Last and mean agree.
    check_rtpproxy(&r, "dups.output", 0, None, &["max_jitter"]);
}

/// G.729, 1273 of 3379 packets received (62 % loss): rtpproxy's `weird.output`, second block.
#[test]
fn rtpproxy_weird_loss() {
    let r = run("rtpproxy-weird-loss.pcap", Expect::default());
    check_rtpproxy(&r, "weird.output", 1, None, &[]);
}

/// DLT_NULL (BSD loopback); GSM over IPv4 whose source port changes after 1 s (two streams for
/// us and TShark, one for rtpproxy, which ignores addresses: compared as a sum), and over IPv6
/// (not in rtpproxy's output, which analyses a single SSRC here).
#[test]
fn rtpproxy_dlt_null() {
    let r = run("rtpproxy-dlt-null.pcap", Expect::default());
    assert_eq!(r.summary.linktype, 0);
    check_rtpproxy(&r, "DLT_NULL.output", 0, None, &[]);
}

/// SRTP (AES_CM_128_HMAC_SHA1_80), G.722: header-level statistics need no key. G.722's RTP
/// clock is 8000 Hz (RFC 3551 §4.5.2) for all three analysers.
#[test]
fn rtpproxy_alice_srtp() {
    let r = run("rtpproxy-alice-srtp.pcap", Expect::default());
    check_rtpproxy(&r, "alice_to_bob.output", 0, None, &[]);
}

#[test]
fn rtpproxy_bob_srtp() {
    let r = run("rtpproxy-bob-srtp.pcap", Expect::default());
    check_rtpproxy(&r, "alice_to_bob.output", 1, None, &[]);
}

/// G.711A with one loss and one SR+SDES, compared with TShark's decode of the SR.
#[test]
fn rtpproxy_rtcp_sr() {
    let r = run("rtpproxy-rtcp-sr.pcap", Expect::default());
    let s = stream(&r, "10.1.6.18:2006", "127.0.0.1:2008", 0xF3CB_2001);
    let sender = s.sender.expect("SR sender info");
    assert_eq!(
        (
            sender.sender_reports,
            sender.packet_count,
            sender.octet_count
        ),
        (1, 158, 39_816)
    );
    assert_eq!(s.cname.as_deref(), Some("outChannel"));
}

// ---------------------------------------------------------------------------------------------
// Other captures.

#[test]
fn sipp_g711a() {
    run("sipp-g711a.pcap", Expect::default());
}

/// Linux SLL. One AMR leg in clear with 4 SR+SDES; the other leg (1067 frames) is inside
/// UDP-encapsulated ESP, invisible to TShark and to us. The SRs' report blocks describe that
/// hidden leg, so they match no stream and no RTT can be computed (TShark computes none).
#[test]
fn hdiniz_vowifi_esp() {
    let r = run("hdiniz-vowifi-esp-amr-rtcp-sll.pcap", Expect::default());
    assert_eq!(r.summary.linktype, 113);
    assert_eq!(r.summary.counters.rtcp_unmatched, 4);
    let s = stream(
        &r,
        "10.192.51.201:12720",
        "186.196.183.115:50010",
        0x20AE_3805,
    );
    let sender = s.sender.expect("SR sender info");
    // TShark, last SR (frame 1755): packet count 724, octet count 51728.
    assert_eq!(
        (
            sender.sender_reports,
            sender.packet_count,
            sender.octet_count
        ),
        (4, 724, 51_728)
    );
    assert_eq!(s.cname.as_deref(), Some("se2900@huawei.com"));
    // AMR (RFC 4867 §4.1: 8000 Hz); TShark knows it from the SDP and its max jitter agrees.
    check_clock(
        &r,
        "10.192.51.201:12720",
        "186.196.183.115:50010",
        0x20AE_3805,
        Ok(8000),
    );
}

/// VoLTE AMR-NB; the UE sends every packet twice (hence TShark's negative Lost: −515, −261,
/// −58, −119), the first one too: its copy arrives during A.1 probation and is a duplicate there
/// (engine/seq.rs).
#[test]
fn hdiniz_volte_amr() {
    const UE: &str = "10.120.76.36";
    const NET: &str = "10.175.69.220:1236";
    let r = run("hdiniz-volte-amr-nb.pcap", Expect::default());
    for (port, packets, lost) in [
        (1128, 1052, -515),
        (1130, 528, -261),
        (1132, 118, -58),
        (1134, 240, -119),
    ] {
        let s = r
            .streams
            .iter()
            .find(|s| s.src == format!("{UE}:{port}") && s.dst == NET)
            .unwrap_or_else(|| panic!("no stream from port {port}"));
        // Every packet exactly twice: half of them are duplicates (the first one's copy too).
        assert_eq!(
            (s.packets, s.lost, s.duplicates),
            (packets, lost, packets / 2),
            "port {port}"
        );
    }
    // AMR-NB is 8000 Hz (RFC 4867 §4.1); TShark has no SDP here, so it has no jitter at all.
    // The network's two streams start with a burst (6 packets in 32 ms) or slowly: an estimate
    // over the first 0.3 s said 8927 and 4478 Hz (fixed in 12320bb, inference over the whole
    // stream; timestamps advance at 8084 and 7814 units/s overall).
    for (src, dst, ssrc) in [
        (format!("{UE}:1128"), NET.to_owned(), 0x0025_B105),
        (format!("{UE}:1130"), NET.to_owned(), 0x0061_2603),
        (format!("{UE}:1132"), NET.to_owned(), 0x40C1_B512),
        (format!("{UE}:1134"), NET.to_owned(), 0x401D_D106),
        (NET.to_owned(), format!("{UE}:1128"), 0x7100_06B8),
        (NET.to_owned(), format!("{UE}:1130"), 0x7100_8205),
    ] {
        check_clock(&r, &src, &dst, ssrc, Ok(8000));
    }
}

/// Linux SLL; five compound RTCP datagrams (SR/RR + SDES) and no RTP at all: no stream.
#[test]
fn ndpi_rtcp_compound() {
    let r = run("ndpi-rtcp-compound-sll.pcap", Expect::default());
    let c = &r.summary.counters;
    assert!(r.streams.is_empty());
    assert_eq!(
        (c.rtcp_packets, c.rtcp_malformed, c.rtcp_unmatched),
        (5, 0, 5)
    );
}

/// KakaoTalk call through a relay, Linux SLL: the same SSRC on two legs (two streams each).
/// The 44 RTCP packets on the RTP+1 ports are SRTCP: TShark does not find them by heuristic
/// (the golden decodes them with `-d udp.port==…,rtcp`, as ciphertext, and computes no RTT);
/// we must flag every stream `srtcp` and compute nothing from them.
#[test]
fn ndpi_kakaotalk() {
    let r = run("ndpi-kakaotalk-sll-rtp.pcap", Expect::default());
    assert_eq!(r.summary.counters.srtcp_packets, 44);
    assert_eq!(r.streams.len(), 4);
    for s in &r.streams {
        assert!(s.srtcp, "{} -> {}: srtcp", s.src, s.dst);
        assert!(
            s.sender.is_none() && s.remote.is_none(),
            "{} -> {}: read SRTCP as RTCP",
            s.src,
            s.dst
        );
        // Encrypted payload, PT 108: the timestamps advance at 16043 units/s over 45 s.
        assert_eq!(s.clock_rate, Some(16_000), "{} -> {}", s.src, s.dst);
    }
}

/// pcapng merged from several captures ten years apart: VLAN-tagged Opus, H.263,
/// telephone-event, and three SRTCP (transport-cc with encrypted bodies) on one RTP 5-tuple,
/// which TShark shows as undissected data.
#[test]
fn ndpi_rtp_vlan_mixed() {
    // RTP over TCP (RFC 4571: a 2-byte length before each packet) from 172.16.168.24:40252 to
    // port 5000: G.711 A-law, SSRC 0, 17 packets. TShark's RTP heuristic looks at UDP only, so
    // its golden does not list the stream; told to decode the port as RTP
    // (`tshark -d tcp.port==5000,rtp -z rtp,streams`) it shows 17 packets, 0 lost, max jitter
    // 3.548 ms, which is what we must find.
    let tcp = ("172.16.168.24:40252", "172.16.168.64:5000", 0);
    let r = run(
        "ndpi-rtp-vlan-h263-mixed.pcapng",
        Expect {
            ours_only: &[tcp],
            ..Expect::default()
        },
    );
    let s = stream(&r, tcp.0, tcp.1, tcp.2);
    assert_eq!((s.packets, s.lost), (17, 0));
    assert!(
        (s.max_jitter_ms.unwrap() - 3.548).abs() < 0.0006,
        "{:?}",
        s.max_jitter_ms
    );
    assert_eq!(r.summary.tcp.rfc4571_connections, 1);
    assert_eq!(r.summary.tcp.rfc4571_frames, 17);
    assert_eq!(r.summary.counters.srtcp_packets, 3);
    assert!(
        stream(
            &r,
            "150.219.118.19:54234",
            "192.113.193.227:50003",
            0x001A_7E73
        )
        .srtcp
    );
    // Opus is always 48000 Hz (RFC 7587 §4.1), but this stream is 29 packets in 0.73 s whose
    // timestamps advance at only ~36700 units/s (DTX); the raw estimate (27671 Hz) is near no
    // common rate, so the rate is reported as unknown and no jitter is computed, rather than a
    // wrong rate. Configuring `[payload_types]` gives the right one.
    let opus = stream(&r, "10.140.67.167:55402", "148.153.85.97:6008", 0xB809_74D8);
    assert_eq!(
        (opus.clock_rate, opus.clock_rate_source, opus.jitter_ms),
        (None, None, None)
    );
}

/// Google Meet over IPv4 and IPv6: STUN, DTLS, SRTP, SRTCP (rtcp-mux), TURN port.
#[test]
fn ndpi_google_meet() {
    // Legitimate: SSRC 0 carries SRTP probing packets with the padding bit set. Without the
    // key TShark reads the last byte (auth tag) as the padding count and, when it exceeds the
    // payload, rejects the packet as RTP ("data"): it misses 11 and 6 packets and counts most
    // as lost. Sequence numbers 1…104 and 1…31 are each there once: 104 and 31, none lost.
    let known = [
        known(
            "[2001:4860:4864:6::81]:19305",
            "[2001:b07:a3d:c112:48a1:1094:1227:281e]:45572",
            0,
            Diff::Counts {
                packets: 104,
                lost: 0,
            },
        ),
        known(
            "142.250.82.76:19305",
            "192.168.12.156:38152",
            0,
            Diff::Counts {
                packets: 31,
                lost: 0,
            },
        ),
    ];
    let r = run(
        "ndpi-google-meet-ipv6-webrtc.pcapng",
        Expect {
            known: &known,
            ..Expect::default()
        },
    );
    assert_eq!(
        r.summary.counters.srtcp_packets,
        r.summary.counters.rtcp_packets
    );
    for dst in ["142.250.82.76:19305", "142.250.82.76:3478"] {
        assert!(
            stream(&r, "192.168.12.156:38152", dst, 0x7869_1914).srtcp,
            "{dst}"
        );
    }
    check_clock(
        &r,
        "192.168.12.156:38152",
        "142.250.82.76:3478",
        0x7869_1914,
        Ok(48_000),
    );
}

/// Chrome VP8 with FlexFEC, decrypted, real network loss.
#[test]
fn jitsi_vp8_flexfec() {
    const SRC: &str = "172.29.63.56:65135";
    const DST: &str = "172.29.32.113:59759";
    let r = run("jitsi-chrome-vp8-flexfec-loss.pcap", Expect::default());
    // VP8 is 90000 Hz (RFC 7741 §4.1); the FlexFEC stream runs on the same clock (its
    // timestamps advance at 90662 units/s). Over the first, bursty frames the VP8 estimate was
    // 102386 (fixed in 12320bb, see `hdiniz_volte_amr`).
    check_clock(&r, SRC, DST, 0xC623_6C24, Ok(90_000));
    check_clock(&r, SRC, DST, 0xC38F_C709, Ok(90_000));
}

/// Opus 48 kHz with exactly 29 of 3000 packets removed by the Asterisk authors.
#[test]
fn ast_opus_fec_dropped() {
    let r = run("ast-opus-fec-dropped.pcapng", Expect::default());
    check_clock(
        &r,
        "10.24.17.53:12668",
        "10.24.17.123:16596",
        0x3760_BFAA,
        Ok(48_000),
    );
}

/// AST-2017-012 reproducer: RTCP compounds with both an SR and an RR from one SSRC; the report
/// blocks name an SSRC not in the capture and the sender itself, so nothing matches.
#[test]
fn ast_2017_012_rtcp() {
    let r = run("ast-2017-012-rtcp-crash.pcap", Expect::default());
    let c = &r.summary.counters;
    assert_eq!(
        (c.rtcp_packets, c.rtcp_malformed, c.rtcp_unmatched),
        (2, 0, 3)
    );
    let s = stream(&r, "127.0.0.1:10194", "127.0.0.1:15394", 0x6A1B_26D7);
    let sender = s.sender.expect("SR sender info");
    assert_eq!(
        (
            sender.sender_reports,
            sender.packet_count,
            sender.octet_count
        ),
        (2, 274, 43_840)
    );
    assert_eq!(s.cname.as_deref(), Some("nr"));
}
