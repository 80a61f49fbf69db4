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
use rtcprobe::synth::hop::{named, NAMES};
use rtcprobe::synth::pcap::TsResolution;
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
        &Resolved::default(),
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
        let r = replay_file(&path, &Resolved::default()).unwrap();
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
