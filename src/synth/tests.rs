//! Cross-module tests of the generator: determinism, truth self-consistency, exact RTCP timing
//! read back from the bytes, streaming == in-memory, and (optionally) tshark's view.

use std::collections::BTreeMap;
use std::process::Command;

use super::rtcp::NTP_UNIX_OFFSET_SECS;
use super::scenario::MS;
use super::scenarios::{clean_many, impaired_mix, impaired_mix_on, write_clean_many, Format};
use super::*;

fn rtcp_frames(c: &Capture, stream: usize) -> impl Iterator<Item = &Frame> {
    c.frames
        .iter()
        .filter(move |f| f.kind == FrameKind::Rtcp { stream })
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn ntp_to_ns(ntp: u64) -> i128 {
    let secs = (ntp >> 32) as i128 - NTP_UNIX_OFFSET_SECS as i128;
    secs * 1_000_000_000 + (((ntp & 0xffff_ffff) as i128 * 1_000_000_000) >> 32)
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let a = impaired_mix(7).build();
    let b = impaired_mix(7).build();
    assert_eq!(a, b);
    let wa = a.write_pcapng(Vec::new(), DEFAULT_SNAPLEN).unwrap();
    let wb = b.write_pcapng(Vec::new(), DEFAULT_SNAPLEN).unwrap();
    assert_eq!(wa, wb);
    assert_ne!(impaired_mix(8).build().frames, a.frames);
}

#[test]
fn truth_is_self_consistent() {
    let c = impaired_mix(42).build();
    assert!(
        c.frames.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns),
        "sorted by capture time"
    );
    assert_eq!(c.truth.frames as usize, c.frames.len());
    for (i, s) in c.truth.streams.iter().enumerate() {
        let rtp = c
            .frames
            .iter()
            .filter(|f| f.kind == FrameKind::Rtp { stream: i })
            .count();
        assert_eq!((s.packets + s.restart_dropped) as usize, rtp, "stream {i}");
        assert_eq!(s.lost, s.expected as i64 - s.packets as i64);
        // Every RTP frame carries the stream's SSRC somewhere in its bytes.
        let needle = s.ssrc.to_be_bytes();
        assert!(c
            .frames
            .iter()
            .filter(|f| f.kind == FrameKind::Rtp { stream: i })
            .all(|f| f.bytes.windows(4).any(|w| w == needle)));
    }
    let noise = c
        .frames
        .iter()
        .filter(|f| f.kind == FrameKind::Noise)
        .count() as u64;
    let n = c.truth.noise;
    assert_eq!(noise, n.tcp + n.ip_fragments + n.udp + n.srtcp);
}

#[test]
fn impaired_mix_covers_every_impairment() {
    let t = impaired_mix(1).build().truth;
    let s = &t.streams;
    assert!(s[0].lost > 0 && s[0].jitter_ts > 1.0 && s[0].bye);
    assert_eq!(s[0].cname.as_deref(), Some("alice@synth"));
    assert_eq!(
        (s[0].rtt_capture_point_ns, s[0].rtt_xr_ns, s[0].rtt_stun_ns),
        (Some(40 * MS), Some(30 * MS), Some(30 * MS))
    );
    assert!(s[1].duplicates > 0 && s[1].reordered > 0 && s[1].lost >= 10 - s[1].duplicates as i64);
    assert_eq!((s[2].seq_restarts, s[2].restart_dropped), (1, 1));
    // Quiet edges keep both segments' first and last packets: 600 + 600 sent, the first after
    // the restart not counted (RFC 3550 A.1 `bad_seq`).
    assert_eq!(s[2].expected, 1199);
    assert_eq!(
        (s[5].rtt_end_to_end_ns, s[6].rtt_end_to_end_ns),
        (None, None)
    );
    assert_eq!(
        (s[5].ssrc, s[6].rtt_capture_point_ns),
        (s[6].ssrc, Some(35 * MS))
    );
    assert_eq!(
        (s[7].rtt_sr_chain_ns, s[8].rtt_sr_chain_ns),
        (Some(62 * MS), Some(62 * MS))
    );
    assert_eq!(
        (s[7].rtt_capture_point_ns, s[8].rtt_capture_point_ns),
        (Some(44 * MS), Some(18 * MS))
    );
    for k in [
        "sr", "rr", "sdes", "bye", "app", "xr_rrt", "xr_dlrr", "xr_voip", "nack", "twcc", "pli",
        "fir", "remb",
    ] {
        assert!(t.rtcp.get(k).copied().unwrap_or(0) > 0, "no {k}");
    }
    assert!(t.stun_requests > 0 && t.stun_requests == t.stun_responses);
    assert!(t.turn_channel_data > 0 && t.turn_indications > 0);
    assert!(s.iter().all(|x| x.remote.is_some()));
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(json["streams"][0]["ssrc"], 0x1111_0001);
    assert_eq!(json["streams"][0]["src"], "10.0.1.10:40000");
}

#[test]
fn rr_capture_point_rtt_is_exact_in_the_bytes() {
    // Stream 0: Ethernet + IPv4 + UDP = 42 bytes before RTCP, RTCP muxed on the RTP 5-tuple.
    let c = impaired_mix(3).build();
    let mut srs: BTreeMap<u32, i64> = BTreeMap::new();
    let mut checked = 0;
    for f in rtcp_frames(&c, 0) {
        let p = &f.bytes[42..];
        match p[1] {
            200 => {
                srs.insert(
                    ((u64::from(be32(p, 8)) << 32 | u64::from(be32(p, 12))) >> 16) as u32,
                    f.ts_ns,
                );
            }
            201 if p[0] & 0x1f == 1 => {
                let (lsr, dlsr) = (be32(p, 24), be32(p, 28));
                let sr_ts = srs[&lsr];
                let rtt = f.ts_ns - sr_ts - (i64::from(dlsr) * 1_000_000_000 / 65536);
                assert_eq!(rtt, 40 * MS);
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked >= 5, "{checked}");
}

#[test]
fn xr_and_stun_delays_are_exact_in_the_bytes() {
    let c = impaired_mix(4).build();
    // Stream 0 XR compounds: RR (RC=0, 8 bytes) then XR; the first block at XR offset 8.
    let mut rrt: BTreeMap<u32, i64> = BTreeMap::new();
    let mut xr_checked = 0;
    for f in rtcp_frames(&c, 0) {
        let p = &f.bytes[42..];
        if p.len() < 32 || p[1] != 201 || p[9] != 207 {
            continue;
        }
        match p[16] {
            4 => {
                rrt.insert(
                    (u64::from(be32(p, 20)) << 16 | u64::from(be32(p, 24)) >> 16) as u32,
                    f.ts_ns,
                );
            }
            5 => {
                let (lrr, dlrr) = (be32(p, 24), be32(p, 28));
                assert_eq!(
                    f.ts_ns - rrt[&lrr] - i64::from(dlrr) * 1_000_000_000 / 65536,
                    30 * MS
                );
                xr_checked += 1;
            }
            bt => panic!("unexpected XR block {bt}"),
        }
    }
    assert!(xr_checked >= 5);
    // STUN: the success response with the same transaction ID comes exactly 30 ms later.
    let stun: Vec<&Frame> = c
        .frames
        .iter()
        .filter(|f| f.kind == FrameKind::Stun { stream: 0 })
        .collect();
    let mut pairs = 0;
    for req in stun.iter().filter(|f| f.bytes[42..44] == [0, 1]) {
        let resp = stun
            .iter()
            .find(|f| f.bytes[42..44] == [1, 1] && f.bytes[50..62] == req.bytes[50..62])
            .unwrap();
        assert_eq!(resp.ts_ns - req.ts_ns, 30 * MS);
        pairs += 1;
    }
    assert_eq!(pairs as u64 * 2, stun.len() as u64);
}

#[test]
fn sr_chain_rtt_from_the_bytes() {
    // Streams 7 (A) and 8 (B): Ethernet + IPv6 + UDP = 62 bytes.
    let c = impaired_mix(3).build();
    let sr_of = |f: &Frame| {
        let p = &f.bytes[62..];
        assert_eq!(p[1], 200);
        let ntp = u64::from(be32(p, 8)) << 32 | u64::from(be32(p, 12));
        let blk = (p[0] & 0x1f == 1).then(|| (be32(p, 44), be32(p, 48)));
        (be32(p, 4), ntp, blk)
    };
    let a_srs: Vec<_> = c
        .frames
        .iter()
        .filter(|f| f.kind == FrameKind::Rtcp { stream: 7 })
        .map(sr_of)
        .collect();
    let b_srs: Vec<_> = c
        .frames
        .iter()
        .filter(|f| f.kind == FrameKind::Rtcp { stream: 8 })
        .map(sr_of)
        .collect();
    let mut n = 0;
    for w in a_srs.windows(2) {
        let (ta1, (lsr_b, da)) = (w[0].1, w[1].2.unwrap());
        let b = b_srs
            .iter()
            .find(|b| ((b.1 >> 16) as u32) == lsr_b)
            .unwrap();
        let (lsr_a, db) = b.2.unwrap();
        assert_eq!(lsr_a, (ta1 >> 16) as u32);
        let units = |u: u32| i128::from(u) * 1_000_000_000 / 65536;
        let rtt = ntp_to_ns(w[1].1) - units(da) - ntp_to_ns(ta1) - units(db);
        assert!((rtt - 62 * MS as i128).abs() <= 2, "{rtt}");
        n += 1;
    }
    assert!(n >= 3);
}

#[test]
fn streaming_clean_many_equals_in_memory_build() {
    let c = clean_many(7, 2_000, 5).build();
    let want = c
        .write_pcap(Vec::new(), TsResolution::Nano, DEFAULT_SNAPLEN)
        .unwrap();
    let mut got = Vec::new();
    let truth = write_clean_many(&mut got, 7, 2_000, 5, Format::Pcap(TsResolution::Nano)).unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "streamed bytes differ");
    assert_eq!(truth, c.truth);
    assert_eq!(truth.streams.iter().map(|s| s.packets).sum::<u64>(), 2_000);
}

#[test]
fn classic_pcap_refuses_mixed_link_types_but_forced_encap_works() {
    let mixed = impaired_mix(2).build();
    assert!(mixed.linktypes().len() >= 4);
    assert!(mixed
        .write_pcap(Vec::new(), TsResolution::Micro, DEFAULT_SNAPLEN)
        .is_err());
    let sll2 = impaired_mix_on(2, Some(Encap::Sll2)).build();
    assert_eq!(sll2.linktypes(), vec![276]);
    assert!(sll2
        .write_pcap(Vec::new(), TsResolution::Micro, 128)
        .is_ok());
}

/// `tshark` if installed; otherwise None, or a panic when CI=true (CI must run this test).
fn tshark() -> Option<&'static str> {
    let ok = Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "tshark missing on CI"
        );
        eprintln!("skipping: tshark not on PATH");
        return None;
    }
    Some("tshark")
}

fn run_tshark(file: &std::path::Path, args: &[&str]) -> String {
    let o = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn tshark_counts_rtp_per_ssrc_and_decodes_encapsulations() {
    let Some(_) = tshark() else { return };
    let dir = std::env::temp_dir().join(format!("rtcprobe-synth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = impaired_mix(11).build();
    let file = dir.join("mix.pcapng");
    std::fs::write(&file, c.write_pcapng(Vec::new(), DEFAULT_SNAPLEN).unwrap()).unwrap();
    // With the heuristic on, tshark also finds RTP inside TURN ChannelData and Data indications.
    let out = run_tshark(
        &file,
        &[
            "-o",
            "rtp.heuristic_rtp:TRUE",
            "-Y",
            "rtp",
            "-T",
            "fields",
            "-e",
            "rtp.ssrc",
            "-e",
            "rtp.seq",
        ],
    );
    let mut seen: BTreeMap<u32, u64> = BTreeMap::new();
    for line in out.lines() {
        let ssrc = line.split('\t').next().unwrap();
        *seen
            .entry(u32::from_str_radix(ssrc.trim_start_matches("0x"), 16).unwrap())
            .or_insert(0) += 1;
    }
    let mut want: BTreeMap<u32, u64> = BTreeMap::new();
    for s in &c.truth.streams {
        *want.entry(s.ssrc).or_insert(0) += s.packets + s.restart_dropped;
    }
    for (ssrc, n) in &want {
        assert_eq!(seen.get(ssrc), Some(n), "ssrc {ssrc:#x}");
    }
    assert_eq!(seen.len(), want.len());
    let protos = run_tshark(&file, &["-T", "fields", "-e", "frame.protocols"]);
    for p in [
        "eth:ethertype:vlan:ethertype:ip:udp",
        "eth:ethertype:ieee8021ad:ethertype:vlan:ethertype:ipv6:ipv6.hopopts:udp",
        "sll:ethertype:ip:udp:stun",
        "null:ipv6:udp",
        "raw:ip:udp",
        "eth:ethertype:ip:tcp",
    ] {
        assert!(protos.contains(p), "tshark never saw {p}");
    }
    // SLL2 is the only one with an interface index.
    assert!(!run_tshark(&file, &["-Y", "sll.ifindex == 2"]).is_empty());
    // IPv4 header, UDP and TCP checksums all verify; STUN FINGERPRINTs are good.
    let checks = [
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
    ];
    let bad = run_tshark(
        &file,
        &[
            &checks[..],
            &[
                "-Y",
                "ip.checksum.status == 0 || udp.checksum.status == 0 || tcp.checksum.status == 0",
            ],
        ]
        .concat(),
    );
    assert!(bad.is_empty(), "bad checksums: {bad}");
    assert!(run_tshark(&file, &["-Y", "stun.att.crc32.status == 0"]).is_empty());
    std::fs::remove_dir_all(&dir).ok();
}
