//! Write seed inputs for every fuzz target, built with [`rtcprobe::synth`].
//!
//! ```text
//! cargo run --example fuzz_seeds -- /tmp/seeds          # writes /tmp/seeds/<target>/<name>
//! ```
//!
//! The seeds are valid inputs of every kind each harness understands: RTP with CSRCs,
//! header extensions and padding; every RTCP packet type the parser knows (SR, RR, SDES, BYE,
//! APP, XR RRT/DLRR/VoIP metrics, NACK, transport-cc, PLI, FIR, REMB) alone and in compounds,
//! and SRTCP; STUN requests, responses and TURN indications; UDP payloads straight and inside
//! TURN; frames on every link type (Ethernet, VLAN, QinQ, SLL, SLL2, NULL, raw IP; IPv4 and
//! IPv6 with a Hop-by-Hop header; TCP and IP fragments as noise); and for `packet_path` short
//! per-stream captures (RTP, then the stream's RTCP and STUN within ~12 s, so report blocks
//! meet the SRs they answer and RTT is measured). `fuzz/README.md` says how these become the
//! committed corpus (`cargo fuzz cmin`). Deterministic: the same binary writes the same bytes.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use rtcprobe::fuzzing::{link_selector, packet_path_input};
use rtcprobe::synth::rtcp::{self, ReportBlock, SenderInfo, VoipMetrics, XrBlock};
use rtcprobe::synth::rtp::{rtp_packet, HeaderExt, RtpHeader};
use rtcprobe::synth::scenarios::impaired_mix_on;
use rtcprobe::synth::{rng::Rng, stun, Capture, Encap, FrameKind};
use rtcprobe::wire::demux::{classify, Demuxed};
use rtcprobe::wire::{decode_udp, LinkType};

/// Seeds per target, keyed by a descriptive file name (sorted, so output is stable).
#[derive(Default)]
struct Seeds(BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>);

impl Seeds {
    fn add(&mut self, target: &'static str, name: String, bytes: Vec<u8>) {
        let files = self.0.entry(target).or_default();
        // Identical bytes under two names would only slow the fuzzer down.
        if !files.values().any(|b| *b == bytes) {
            files.insert(name, bytes);
        }
    }

    fn write(&self, dir: &Path) -> io::Result<usize> {
        let mut n = 0;
        for (target, files) in &self.0 {
            let d = dir.join(target);
            fs::create_dir_all(&d)?;
            for (name, bytes) in files {
                fs::write(d.join(name), bytes)?;
                n += 1;
            }
        }
        Ok(n)
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| unreachable!("literal socket address {s}"))
}

/// RTP headers: plain, marker + wrap, CSRCs, both extension forms, padding.
fn rtp_seeds(seeds: &mut Seeds) {
    let base = RtpHeader {
        payload_type: 0,
        seq: 1000,
        timestamp: 160_000,
        ssrc: 0x1111_0001,
        ..Default::default()
    };
    let variants = [
        ("plain", base.clone()),
        (
            "marker-wrap",
            RtpHeader {
                marker: true,
                payload_type: 96,
                seq: 0xffff,
                timestamp: u32::MAX,
                ..base.clone()
            },
        ),
        (
            "csrc",
            RtpHeader {
                csrcs: vec![0xc5c5_0001, 0xc5c5_0002, 3],
                ..base.clone()
            },
        ),
        (
            "ext1",
            RtpHeader {
                ext: Some(HeaderExt::OneByte(vec![(1, vec![0x30]), (3, vec![1, 2])])),
                ..base.clone()
            },
        ),
        (
            "ext2",
            RtpHeader {
                ext: Some(HeaderExt::TwoByte(vec![
                    (200, vec![]),
                    (2, vec![1, 2, 3, 4, 5]),
                ])),
                ..base.clone()
            },
        ),
        (
            "padding",
            RtpHeader {
                padding: 4,
                csrcs: vec![7],
                ext: Some(HeaderExt::OneByte(vec![(14, vec![9; 16])])),
                ..base.clone()
            },
        ),
    ];
    for (name, h) in variants {
        seeds.add("rtp", format!("synth-{name}"), rtp_packet(&h, &[0xaa; 20]));
    }
}

/// Every RTCP packet type, alone and as typical compounds, plus SRTCP.
fn rtcp_seeds(seeds: &mut Seeds) {
    let rb = ReportBlock {
        ssrc: 0x1111_0001,
        fraction_lost: 12,
        cumulative_lost: -3,
        ext_highest_seq: 0x0001_0010,
        jitter: 77,
        lsr: 0x1234_5678,
        dlsr: 0x0001_0000,
    };
    let info = SenderInfo {
        ntp: 0xe8f0_0000_8000_0000,
        rtp_ts: 160_000,
        packet_count: 500,
        octet_count: 80_000,
    };
    let voip = VoipMetrics {
        ssrc: 0x1111_0001,
        loss_rate: 5,
        r_factor: 90,
        mos_lq: 41,
        mos_cq: 40,
        jb_max_ms: 80,
        ..Default::default()
    };
    let sr = rtcp::sr(0x1111_0001, &info, &[rb]);
    let rr = rtcp::rr(0x2222_0001, &[rb, rb]);
    let empty_rr = rtcp::rr(0x2222_0001, &[]);
    let sdes = rtcp::sdes_cname(0x1111_0001, "alice@synth");
    let parts: Vec<(&str, Vec<u8>)> = vec![
        ("sr", sr.clone()),
        ("rr", rr.clone()),
        ("sdes", sdes.clone()),
        ("bye", rtcp::bye(&[0x1111_0001, 2], Some("hangup"))),
        ("app", rtcp::app(0x1111_0001, 3, *b"SYNT", &[1, 2, 3, 4])),
        (
            "xr",
            rtcp::xr(
                0x2222_0001,
                &[
                    XrBlock::Rrt {
                        ntp: 0xe8f0_0001_0000_0000,
                    },
                    XrBlock::Dlrr(vec![(0x1111_0001, 0x1234_5678, 0x100), (5, 6, 7)]),
                    XrBlock::Voip(voip),
                ],
            ),
        ),
        (
            "nack",
            rtcp::nack(0x2222_0001, 0x1111_0001, &[(1000, 0x8001), (65535, 1)]),
        ),
        (
            "twcc",
            rtcp::twcc(0x2222_0001, 0x1111_0001, 7, 0x12_3456, 3, &[4, 8, 0]),
        ),
        ("pli", rtcp::pli(0x2222_0001, 0x1111_0001)),
        ("fir", rtcp::fir(0x2222_0001, &[(0x1111_0001, 9), (2, 10)])),
        (
            "remb",
            rtcp::remb(0x2222_0001, 1_500_000, &[0x1111_0001, 0x1111_0002]),
        ),
    ];
    for (name, p) in &parts {
        seeds.add("rtcp", format!("synth-{name}"), p.clone());
    }
    let compounds = [
        ("sr-sdes", vec![sr.clone(), sdes.clone()]),
        (
            "rr-sdes-bye",
            vec![rr.clone(), sdes.clone(), parts[3].1.clone()],
        ),
        ("rr-xr", vec![empty_rr.clone(), parts[5].1.clone()]),
        (
            "rr-fb",
            vec![empty_rr.clone(), parts[6].1.clone(), parts[10].1.clone()],
        ),
    ];
    for (name, c) in &compounds {
        seeds.add("rtcp", format!("synth-{name}"), rtcp::compound(c));
    }
    let mut rng = Rng::new(7);
    seeds.add(
        "rtcp",
        "synth-srtcp".into(),
        rtcp::srtcp(&rtcp::compound(&compounds[0].1), 42, &mut rng),
    );
}

/// STUN and TURN messages built directly.
fn stun_seeds(seeds: &mut Seeds) {
    let txid = *b"fuzzseedtxid";
    let inner = rtp_packet(
        &RtpHeader {
            seq: 1,
            ssrc: 9,
            ..Default::default()
        },
        &[0; 8],
    );
    let msgs = [
        (
            "binding-request",
            stun::binding_request(&txid, "abcd:efgh", 0x6e00_1eff, 0x0102_0304_0506_0708),
        ),
        (
            "binding-success-v4",
            stun::binding_success(&txid, sa("192.0.2.1:3478")),
        ),
        (
            "binding-success-v6",
            stun::binding_success(&txid, sa("[2001:db8::1]:3478")),
        ),
        (
            "data-indication",
            stun::indication(
                stun::DATA_INDICATION,
                &txid,
                sa("198.51.100.7:40000"),
                &inner,
            ),
        ),
        (
            "send-indication",
            stun::indication(
                stun::SEND_INDICATION,
                &txid,
                sa("[2001:db8::7]:40000"),
                &inner,
            ),
        ),
    ];
    for (name, m) in msgs {
        seeds.add("demux", format!("synth-{name}"), m.clone());
        seeds.add("stun", format!("synth-{name}"), m);
    }
    seeds.add(
        "demux",
        "synth-channel-data".into(),
        stun::channel_data(0x4001, &inner),
    );
}

/// Frames, datagrams and inner packets of the mixed scenario (every stream, encapsulation and
/// noise kind), at most `per_group` of each (stream, kind, link type).
fn capture_seeds(seeds: &mut Seeds, cap: &Capture, tag: &str, per_group: usize) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for f in &cap.frames {
        let Some(link) = i32::try_from(f.linktype).ok().and_then(LinkType::from_dlt) else {
            continue;
        };
        let group = format!("{:?}-{}", f.kind, f.linktype)
            .replace([' ', '{', '}', ':'], "")
            .to_lowercase();
        let n = seen.entry(group.clone()).or_default();
        if *n >= per_group {
            continue;
        }
        *n += 1;
        let name = format!("{tag}-{group}-{n}");
        let mut framed = vec![link_selector(link)];
        framed.extend_from_slice(&f.bytes);
        seeds.add("frame", name.clone(), framed);
        let Ok(dg) = decode_udp(link, &f.bytes) else {
            continue;
        };
        seeds.add("demux", name.clone(), dg.payload.to_vec());
        match classify(dg.payload).inner {
            Demuxed::Rtp(b) => seeds.add("rtp", name, b.to_vec()),
            Demuxed::Rtcp(b) => seeds.add("rtcp", name, b.to_vec()),
            Demuxed::Stun(_) => seeds.add("stun", name, dg.payload.to_vec()),
            _ => {}
        }
    }
}

/// Per-stream mini captures for `packet_path`: the stream's first `rtp_head` RTP packets, then
/// every 100th, and all its RTCP and STUN, up to `until_ns` after the first frame.
fn packet_path_seeds(seeds: &mut Seeds, cap: &Capture, tag: &str, rtp_head: usize, until_ns: i64) {
    let Some(t0) = cap.frames.first().map(|f| f.ts_ns) else {
        return;
    };
    let streams = cap.truth.streams.len();
    for s in 0..streams {
        let mut rtp_seen = 0usize;
        let mut link = None;
        let mut picked: Vec<(i64, &[u8])> = Vec::new();
        for f in cap.frames.iter().filter(|f| f.ts_ns - t0 <= until_ns) {
            let keep = match f.kind {
                FrameKind::Rtp { stream } if stream == s => {
                    rtp_seen += 1;
                    rtp_seen <= rtp_head || rtp_seen % 100 == 0
                }
                FrameKind::Rtcp { stream } | FrameKind::Stun { stream } => stream == s,
                _ => false,
            };
            let l = i32::try_from(f.linktype).ok().and_then(LinkType::from_dlt);
            // One link type per input: a stream's frames all share its encapsulation.
            if keep && l.is_some() && (link.is_none() || link == l) {
                link = l;
                picked.push((f.ts_ns, &f.bytes));
            }
        }
        let Some(link) = link else { continue };
        let mut prev = t0;
        let records = picked.iter().map(|&(ts, bytes)| {
            let step = u16::try_from((ts - prev).max(0) / 1_000_000).unwrap_or(u16::MAX);
            prev = ts;
            (step, bytes)
        });
        let input = packet_path_input(link, records);
        seeds.add("packet_path", format!("{tag}-stream{s}"), input);
    }
    // The first frames of the whole capture, every kind interleaved, on the first link type.
    if let Some(link) = cap
        .frames
        .first()
        .and_then(|f| i32::try_from(f.linktype).ok())
        .and_then(LinkType::from_dlt)
    {
        let first = cap.frames[0].linktype;
        let mut prev = t0;
        let records = cap
            .frames
            .iter()
            .filter(|f| f.linktype == first)
            .take(40)
            .map(|f| {
                let step = u16::try_from((f.ts_ns - prev).max(0) / 1_000_000).unwrap_or(0);
                prev = f.ts_ns;
                (step, &f.bytes[..])
            });
        let input = packet_path_input(link, records);
        seeds.add("packet_path", format!("{tag}-mixed"), input);
    }
}

/// `pcap_file`: the first frames of `cap` as a classic pcap file after each header selector
/// (byte orders, resolutions, snapshot lengths, version 2.3), cut at a few places; and a
/// pcapng file of them with no selector header (top bit set).
fn pcap_file_seeds(seeds: &mut Seeds, cap: &Capture) {
    let frames: Vec<&[u8]> = cap
        .frames
        .iter()
        .take(6)
        .map(|f| f.bytes.as_slice())
        .collect();
    for sel in [0u8, 1, 2, 3, 4, 8, 12, 0x10] {
        let big = sel & 2 != 0;
        let mut body = vec![sel];
        for (i, f) in frames.iter().enumerate() {
            let len = u32::try_from(f.len()).unwrap_or(u32::MAX);
            for v in [1_700_000_000 + i as u32, 20_000 * i as u32, len, len] {
                body.extend_from_slice(&if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                });
            }
            body.extend_from_slice(f);
        }
        seeds.add("pcap_file", format!("classic-{sel:02x}"), body.clone());
        if sel == 0 {
            for cut in [30, 100, body.len() - 7] {
                seeds.add("pcap_file", format!("cut-{cut}"), body[..cut].to_vec());
            }
        }
    }
    let mut ng = vec![0x80];
    if let Ok(mut w) = rtcprobe::synth::pcap::PcapngWriter::new(&mut ng) {
        if let Ok(i) = w.add_interface(1, 65_535) {
            for (n, f) in frames.iter().enumerate() {
                let _ = w.write_frame(i, 1_700_000_000_000_000_000 + n as i64, f);
            }
        }
    }
    seeds.add("pcap_file", "pcapng".into(), ng);
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: fuzz_seeds OUT_DIR   (writes OUT_DIR/<target>/<seed>)");
        return ExitCode::from(2);
    };
    let mut seeds = Seeds::default();
    rtp_seeds(&mut seeds);
    rtcp_seeds(&mut seeds);
    stun_seeds(&mut seeds);

    // The mixed-link scenario: every stream on its own encapsulation.
    let mixed = impaired_mix_on(1, None).build();
    capture_seeds(&mut seeds, &mixed, "mix", 2);
    packet_path_seeds(&mut seeds, &mixed, "mix", 6, 11_000_000_000);
    // The same streams on each link type, so packet_path sees IPv4 and IPv6 on every link.
    let encaps = [
        ("eth", Encap::Ethernet),
        ("vlan", Encap::Vlan { vid: 100 }),
        (
            "qinq",
            Encap::QinQ {
                outer: 10,
                inner: 20,
            },
        ),
        ("sll", Encap::Sll),
        ("sll2", Encap::Sll2),
        ("null", Encap::Null),
        ("raw", Encap::RawIp),
    ];
    for (tag, encap) in encaps {
        let cap = impaired_mix_on(2, Some(encap)).build();
        capture_seeds(&mut seeds, &cap, tag, 1);
        // A bigger view of the whole capture only once: it is the largest seed kind.
        if tag == "eth" {
            packet_path_seeds(&mut seeds, &cap, tag, 3, 11_000_000_000);
        }
    }

    pcap_file_seeds(&mut seeds, &mixed);

    match seeds.write(Path::new(&dir)) {
        Ok(n) => {
            eprintln!("wrote {n} seeds under {dir}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fuzz_seeds: {dir}: {e}");
            ExitCode::FAILURE
        }
    }
}
