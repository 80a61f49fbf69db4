//! Middlebox hops end to end: each synthetic hop scenario (`synth::hop`) written to a pcap,
//! replayed single-threaded and through the pipeline with 3 workers; the `hops` array and
//! every egress stream's loss split (upstream / inside the middlebox / downstream) must equal
//! the scenario's truth exactly, and the two replays must agree.

use rtcprobe::config::Resolved;
use rtcprobe::engine::EndReason;
use rtcprobe::pipeline::feeder::Overflow;
use rtcprobe::pipeline::file::{replay as piped, Pace};
use rtcprobe::pipeline::Options;
use rtcprobe::replay::{replay_file, Report};
use rtcprobe::synth::frame::{udp_frame, L2L3};
use rtcprobe::synth::hop::{named, NAMES};
use rtcprobe::synth::pcap::{PcapWriter, TsResolution};
use rtcprobe::synth::rtp::{rtp_packet, RtpHeader};
use rtcprobe::synth::Encap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn through_pipeline(path: &std::path::Path, workers: usize) -> Report {
    let opts = Options {
        workers,
        queue_batches: 64,
        batch_events: 64,
        snapshot_interval: Duration::from_millis(100),
        overflow: Overflow::Wait,
        end_reason: EndReason::EndOfCapture,
        labels: None,
        ended_linger: Duration::ZERO,
    };
    let stop = AtomicBool::new(false);
    piped(
        path,
        &hops_on(),
        &opts,
        Pace::Fast,
        &stop,
        Duration::ZERO,
        None,
        &mut |_| {},
    )
    .expect("pipeline replay")
}

#[test]
fn every_hop_scenario_gives_exact_hops_and_loss_split_in_replay_and_pipeline() {
    let dir = std::env::temp_dir().join(format!("rtcprobe-hops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in NAMES {
        let s = named(name).unwrap();
        let (cap, truth) = s.build();
        let path = dir.join(format!("{name}.pcap"));
        let f = std::fs::File::create(&path).unwrap();
        cap.write_pcap(f, TsResolution::Nano, 65535).unwrap();
        let r = replay_file(&path, &hops_on()).unwrap();
        assert_eq!(r.hops.len(), truth.hops.len(), "{name}: {:#?}", r.hops);
        for t in &truth.hops {
            let (i, e) = (&s.ingress[t.ingress], &s.egress[t.egress]);
            let essrc = e.rewrite.map_or(i.ssrc, |w| w.0);
            let h = r
                .hops
                .iter()
                .find(|h| h.ingress.ssrc == i.ssrc && h.egress.ssrc == essrc)
                .unwrap_or_else(|| panic!("{name}: hop {} → {}", i.ssrc, essrc));
            assert_eq!(h.egress.dst, e.dst.to_string());
            assert_eq!(
                (h.packets_in, h.packets_out, h.lost_inside, h.lost_upstream),
                (t.packets_in, t.packets_out, t.lost_inside, t.upstream_lost),
                "{name}"
            );
            let mut d = t.delays_ns.clone();
            d.sort_unstable();
            let p50 = d[d.len().div_ceil(2) - 1] as f64 / 1e9;
            let fd = h.forwarding_delay.unwrap();
            assert!(
                (fd.p50 - p50).abs() < 0.001,
                "{name}: p50 {} vs {p50}",
                fd.p50
            );
        }
        // Each egress stream's loss, split three ways, exactly as the scenario made it.
        for (k, e) in s.egress.iter().enumerate() {
            let first = &s.ingress[e.layers[0].1];
            let essrc = e.rewrite.map_or(first.ssrc, |w| w.0);
            let rec = r
                .streams
                .iter()
                .find(|x| x.ssrc == essrc && x.dst == e.dst.to_string())
                .unwrap_or_else(|| panic!("{name}: egress stream {essrc:#x}"));
            let hops: Vec<_> = truth.hops.iter().filter(|h| h.egress == k).collect();
            let up: u64 = hops.iter().map(|h| h.upstream_lost).sum();
            let inside: u64 = hops.iter().map(|h| h.lost_inside).sum();
            let split = rec.loss_split.unwrap_or_else(|| panic!("{name}: no split"));
            assert_eq!(split.upstream, up, "{name}: upstream");
            assert_eq!(split.inside_middlebox, inside, "{name}: inside");
            let down = truth.egress[k].downstream_lost as i64;
            assert_eq!(split.downstream, Some(down), "{name}: downstream");
            // The gaps the probe sees on the way out are exactly upstream + inside.
            assert_eq!(rec.lost, (up + inside) as i64, "{name}: egress gaps");
        }
        // Ingress streams are not split (they are nobody's egress).
        for i in &s.ingress {
            let rec = r
                .streams
                .iter()
                .find(|x| x.src == i.src.to_string())
                .unwrap();
            assert!(rec.loss_split.is_none(), "{name}");
        }
        let json = serde_json::to_value(&r).unwrap();
        let h0 = &json["hops"][0];
        for f in [
            "ingress",
            "egress",
            "matched_by",
            "confidence",
            "packets_in",
            "packets_out",
        ] {
            assert!(!h0[f].is_null(), "{name}: {f}");
        }
        for f in ["min", "p50", "p95", "p99", "max"] {
            assert!(
                h0["forwarding_delay"][f].as_f64().unwrap() > 0.0,
                "{name}: {f}"
            );
        }
        let p = through_pipeline(&path, 3);
        assert_eq!(p.hops, r.hops, "{name}: pipeline hops");
        assert_eq!(p.summary.hop_matcher, r.summary.hop_matcher, "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Linux cooked v2 frame (`tcpdump -i any`, libpcap ≥ 1.10) of an RTP packet seen on
/// interface `ifindex`: protocol(2) reserved(2) ifindex(4) arphrd(2) pkttype(1) addrlen(1)
/// addr(8), then the IPv4 packet.
fn sll2(ifindex: u32, out: bool, src: &str, dst: &str, h: &RtpHeader, size: usize) -> Vec<u8> {
    let ip = udp_frame(
        L2L3::from(Encap::RawIp),
        src.parse().unwrap(),
        dst.parse().unwrap(),
        &rtp_packet(h, &vec![0x5a; size]),
    );
    let mut b = vec![0x08, 0x00, 0, 0];
    b.extend_from_slice(&ifindex.to_be_bytes());
    b.extend_from_slice(&1u16.to_be_bytes());
    b.push(if out { 4 } else { 0 });
    b.push(6);
    b.extend_from_slice(&[2, 0, 0x5e, 0, 0, 1, 0, 0]);
    b.extend_from_slice(&ip);
    b
}

/// Issue 10, found in the media lab: on a forwarding host captured on `any`, both directions
/// of a call with look-alike video (two identical test sources) were paired the wrong way:
/// the callee's video (arriving on the callee's interface) was taken for a copy of the caller's
/// video (first seen earlier, same sizes, markers and timestamp steps), and the hop summaries
/// named every stream's point `capture`. Each copy must pair with its own stream (`ssrc`), at
/// the frame's real point, and a stream going back toward a sender is never its copy.
#[test]
fn a_forwarding_host_pairs_each_direction_with_itself_never_the_reverse() {
    let dir = std::env::temp_dir().join(format!("rtcprobe-hops-2way-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = ("10.0.1.1:5000", "10.0.2.1:6000");
    // (time, frame): A's video arrives on if2 and leaves on if3 0.3 ms later; B's video, 5 ms
    // behind, arrives on if3 and leaves on if2. Same shapes both ways; packet 50 of A's and 70
    // of B's are lost inside the host.
    let mut frames: Vec<(i64, Vec<u8>)> = Vec::new();
    let t0 = 1_700_000_000_000_000_000i64;
    let (mut frame, mut left) = (0u32, 0u32);
    for k in 0..400u32 {
        if left == 0 {
            left = 1 + (k * 7 + 3) % 4;
            frame += u32::from(k > 0);
        }
        left -= 1;
        let size = 200 + ((k * 7919) % 1000) as usize;
        for (ssrc, seq0, ts0, from, to, inn, out, lag, lost) in [
            (0xA1u32, 1000u16, 5000u32, a, b, 2, 3, 0, 50),
            (0xB1, 30000, 900_000, b, a, 3, 2, 5_000_000, 70),
        ] {
            let h = RtpHeader {
                payload_type: 96,
                marker: left == 0,
                seq: seq0.wrapping_add(k as u16),
                timestamp: ts0.wrapping_add(frame * 3000),
                ssrc,
                ..RtpHeader::default()
            };
            let t = t0 + i64::from(k) * 10_000_000 + lag;
            frames.push((t, sll2(inn, false, from, to, &h, size)));
            if k != lost {
                frames.push((t + 300_000, sll2(out, true, from, to, &h, size)));
            }
        }
    }
    frames.sort_by_key(|f| f.0);
    let path = dir.join("two-way.pcap");
    let f = std::fs::File::create(&path).unwrap();
    let mut w = PcapWriter::new(f, 276, 65535, TsResolution::Nano).unwrap();
    for (t, b) in &frames {
        w.write_frame(*t, b).unwrap();
    }
    w.into_inner().unwrap();
    let r = replay_file(&path, &hops_on()).unwrap();
    let got: Vec<_> = r
        .hops
        .iter()
        .map(|h| {
            (
                h.ingress.ssrc,
                h.ingress.observed_at.as_str(),
                h.egress.ssrc,
                h.egress.observed_at.as_str(),
                h.matched_by,
                (h.packets_in, h.packets_out, h.lost_inside),
            )
        })
        .collect();
    use rtcprobe::correlate::hop::MatchedBy::Ssrc;
    assert_eq!(
        got,
        vec![
            (0xA1, "if2", 0xA1, "if3", Ssrc, (400, 399, 1)),
            (0xB1, "if3", 0xB1, "if2", Ssrc, (400, 399, 1)),
        ],
        "{:#?}",
        r.hops
    );
    // The reverse is refused before the direction rule is asked: each stream shares its SSRC
    // with its copy, so it pairs by SSRC only (no fingerprint candidate, none undone).
    assert_eq!(r.summary.hop_matcher.reverse_refused, 0);
    assert_eq!(r.summary.hop_matcher.fingerprint_undone, 0);
    // Each egress copy's loss split: one packet lost inside the host, none upstream.
    for (ssrc, at) in [(0xA1, "if3"), (0xB1, "if2")] {
        let s = r
            .streams
            .iter()
            .find(|s| s.ssrc == ssrc && s.observed_at == at)
            .unwrap();
        let split = s.loss_split.unwrap();
        assert_eq!(
            (split.upstream, split.inside_middlebox),
            (0, 1),
            "{ssrc:#x}"
        );
        assert_eq!(s.lost, 1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The default configuration with the hop matcher on (`engine.hops`).
fn hops_on() -> Resolved {
    Resolved {
        hops: true,
        ..Resolved::default()
    }
}
