//! Every finding code fired by a scenario built for it, at the right side: synthetic captures
//! (src/synth) replayed through the engine where the generator can make the condition, and
//! [`Facts`] set by hand for the rest (a codec change, SRTCP, receiver-reported loss); clock
//! drift from hand-made sender reports. A clean generated call, both ways with RTCP, fires nothing above `info`.

use super::*;
use crate::config::Resolved;
use crate::engine::{Engine, StreamKey};
use crate::synth::scenario::{Restart, RtcpSpec, Scenario, StreamSpec, MS, SEC};
use crate::wire::{decode_udp, LinkType};
use std::net::SocketAddr;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn a_to_b(ssrc: u32) -> StreamSpec {
    StreamSpec::audio(addr("10.0.0.1:40000"), addr("10.0.1.1:50000"), ssrc)
}

fn b_to_a(ssrc: u32) -> StreamSpec {
    StreamSpec::audio(addr("10.0.1.1:50000"), addr("10.0.0.1:40000"), ssrc)
}

/// A 30 s call both ways with RTCP (RTT 40 ms), 5 ms of jitter: what a healthy call looks like.
fn clean_call() -> Scenario {
    let mut sc = Scenario::new(7);
    for (mut s, rx) in [(a_to_b(0xA1), 0xB1), (b_to_a(0xB1), 0xA1)] {
        s.count = 1500;
        s.impair.jitter_ns = 5 * MS;
        s.rtcp = Some(RtcpSpec::with_rtt(rx, 40 * MS));
        sc.add(s);
    }
    sc
}

fn engine_of(sc: &Scenario) -> Engine {
    let mut e = Engine::new(Resolved::default());
    for f in &sc.build().frames {
        let dg = decode_udp(LinkType::Ethernet, &f.bytes).expect("synthetic frames decode");
        e.on_datagram(f.ts_ns, &dg);
    }
    e
}

fn finish(mut e: Engine) -> Vec<StreamRecord> {
    e.finish_all();
    e.drain_finished().into_iter().map(|(_, r)| r).collect()
}

/// The findings of the stream of `ssrc`.
fn of(records: &[StreamRecord], ssrc: u32) -> Vec<Finding> {
    records
        .iter()
        .find(|r| r.ssrc == ssrc)
        .map(|r| r.findings.clone())
        .expect("stream present")
}

fn has(f: &[Finding], code: Code, severity: Severity, side: Side) -> bool {
    f.iter()
        .any(|x| x.code == code && x.severity == severity && x.side == side)
}

fn codes(f: &[Finding]) -> Vec<&'static str> {
    f.iter().map(|x| x.code.name()).collect()
}

#[test]
fn clean_generated_call_has_no_finding_above_info() {
    let recs = finish(engine_of(&clean_call()));
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert!(r.quality.is_some(), "PCMU is rated");
        assert!(
            worst(&r.findings) <= Some(Severity::Info),
            "{:#x}: {:?}",
            r.ssrc,
            r.findings
        );
    }
}

#[test]
fn loss_before_the_probe_is_upstream_with_its_numbers() {
    let mut s = a_to_b(0xA2);
    s.impair.loss = 0.03;
    let mut sc = Scenario::new(1);
    sc.add(s);
    let recs = finish(engine_of(&sc));
    let f = of(&recs, 0xA2);
    let loss = f
        .iter()
        .find(|x| x.code == Code::LossUpstream)
        .expect("loss finding");
    assert_eq!(
        (loss.severity, loss.side),
        (Severity::Warning, Side::Upstream)
    );
    let r = &recs[0];
    let pct = format!("{:.1} %", r.missing as f64 * 100.0 / r.expected as f64);
    assert!(loss.message.starts_with(&pct), "{}", loss.message);
    assert!(loss
        .message
        .contains(&format!("{} of {}", r.missing, r.expected)));
    // Privacy: no address in the sentence.
    assert!(!f.iter().any(|x| x.message.contains("10.0.")));
}

#[test]
fn jitter_past_the_buffer_gives_high_jitter_and_late_loss_upstream() {
    let mut s = a_to_b(0xA3);
    s.impair.jitter_ns = 250 * MS;
    let mut sc = Scenario::new(2);
    sc.add(s);
    let f = of(&finish(engine_of(&sc)), 0xA3);
    assert!(
        f.iter()
            .any(|x| x.code == Code::HighJitter && x.side == Side::Upstream),
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|x| x.code == Code::LateLoss && x.side == Side::Upstream),
        "{f:?}"
    );
}

#[test]
fn burst_loss_is_bursty_and_a_long_burst_is_a_stall() {
    let mut s = a_to_b(0xA4);
    s.count = 1000;
    // Four bursts of 8 packets, and one of 200 (4 s without media).
    s.impair.loss_bursts = vec![(100, 8), (200, 8), (300, 8), (400, 8), (600, 200)];
    let mut sc = Scenario::new(3);
    sc.add(s);
    let f = of(&finish(engine_of(&sc)), 0xA4);
    assert!(
        has(&f, Code::BurstyLoss, Severity::Warning, Side::Upstream),
        "{f:?}"
    );
    assert!(
        has(&f, Code::MediaStalled, Severity::Warning, Side::Unknown),
        "{f:?}"
    );
    assert!(
        has(&f, Code::LossUpstream, Severity::Critical, Side::Upstream),
        "{f:?}"
    );
}

#[test]
fn video_frames_lost_in_a_run_freeze_the_picture() {
    let mut s = StreamSpec::video(addr("10.0.0.1:40002"), addr("10.0.1.1:50002"), 0xA5);
    s.count = 600;
    s.impair.loss_bursts = vec![(300, 15)];
    let mut sc = Scenario::new(4);
    sc.add(s);
    let f = of(&finish(engine_of(&sc)), 0xA5);
    assert!(
        has(&f, Code::VideoFreeze, Severity::Warning, Side::Upstream),
        "{f:?}"
    );
    // Video jitter and late loss are not judged (freezes are what a viewer sees).
    assert!(!f
        .iter()
        .any(|x| x.code == Code::LateLoss || x.code == Code::HighJitter));
}

#[test]
fn one_way_media_is_a_warning_only_when_the_way_back_is_visible() {
    // A → B with B's receiver reports coming back past the probe, and no media B → A.
    let mut s = a_to_b(0xA6);
    s.count = 1000;
    s.rtcp = Some(RtcpSpec::with_rtt(0xB6, 40 * MS));
    let mut sc = Scenario::new(5);
    sc.add(s);
    let f = of(&finish(engine_of(&sc)), 0xA6);
    assert!(
        has(&f, Code::OneWayMedia, Severity::Warning, Side::Endpoint),
        "{f:?}"
    );
    // Without any RTCP back, the capture may see one direction only: a note.
    let mut s = a_to_b(0xA7);
    s.count = 1000;
    let mut sc = Scenario::new(5);
    sc.add(s);
    let f = of(&finish(engine_of(&sc)), 0xA7);
    assert!(
        has(&f, Code::OneWayMedia, Severity::Info, Side::Unknown),
        "{f:?}"
    );
    // Both ways: none (whichever stream ends first).
    let recs = finish(engine_of(&clean_call()));
    for r in &recs {
        assert!(!r.findings.iter().any(|x| x.code == Code::OneWayMedia));
    }
}

#[test]
fn a_long_round_trip_is_high_rtt_on_the_receiver_side() {
    let mut s = a_to_b(0xA8);
    s.count = 1000;
    s.rtcp = Some(RtcpSpec::with_rtt(0xB8, 400 * MS));
    let mut sc = Scenario::new(6);
    sc.add(s);
    let f = of(&finish(engine_of(&sc)), 0xA8);
    let rtt = f.iter().find(|x| x.code == Code::HighRtt).expect("{f:?}");
    // capture_point: the probe ↔ the receiver; 400 / 2 = 200 ms ≥ 150 (G.114).
    assert_eq!(
        (rtt.severity, rtt.side),
        (Severity::Warning, Side::Downstream)
    );
    assert!(rtt.message.starts_with("200 ms"), "{}", rtt.message);
}

#[test]
fn a_sequence_restart_and_an_ssrc_from_two_hosts_point_at_the_endpoints() {
    let mut s = a_to_b(0xA9);
    s.restart = Some(Restart {
        after: 250,
        jump: 20_000,
    });
    let mut other = StreamSpec::audio(addr("10.0.0.9:40000"), addr("10.0.1.1:50000"), 0xA9);
    other.start_ns += 2 * SEC;
    let mut sc = Scenario::new(7);
    sc.add(s);
    sc.add(other);
    let recs = finish(engine_of(&sc));
    let restarted = recs.iter().find(|r| r.seq_restarts > 0).expect("restart");
    assert!(has(
        &restarted.findings,
        Code::SsrcRestart,
        Severity::Warning,
        Side::Endpoint
    ));
    for r in &recs {
        assert!(
            has(
                &r.findings,
                Code::SsrcCollision,
                Severity::Warning,
                Side::Endpoint
            ),
            "{:?}",
            r.findings
        );
    }
}

#[test]
fn probe_drops_hop_splits_and_missing_rtcp_from_the_engine() {
    let mut s = a_to_b(0xAA);
    s.count = 1000;
    let mut sc = Scenario::new(8);
    sc.add(s.clone());
    let mut e = engine_of(&sc);
    let key = StreamKey {
        src: s.src,
        dst: s.dst,
        ssrc: 0xAA,
        point: Default::default(),
    };
    e.on_probe_drop(s.start_ns + 20 * SEC, &key, 12);
    assert!(e.add_loss_split(&key, 40, 30));
    let f = of(&finish(e), 0xAA);
    assert!(
        has(&f, Code::ProbeOverload, Severity::Warning, Side::Probe),
        "{f:?}"
    );
    assert!(
        has(&f, Code::LossUpstream, Severity::Warning, Side::Upstream),
        "{f:?}"
    );
    assert!(
        has(&f, Code::LossInside, Severity::Warning, Side::Inside),
        "{f:?}"
    );
    assert!(
        has(&f, Code::NoRtcp, Severity::Info, Side::Endpoint),
        "{f:?}"
    );
}

/// Facts of a healthy 60 s audio stream, to change one thing at a time.
fn healthy() -> Facts {
    Facts {
        duration_secs: 60.0,
        expected: 3000,
        jitter_ms: Some(2.0),
        rtt: Some(("end_to_end", 60.0)),
        buffer_ms: 60.0,
        burst_r: Some(1.0),
        effective_loss_ratio: Some(0.0),
        max_gap_ms: 20.0,
        payload_types: vec![0],
        rtcp_seen: true,
        reports_seen: true,
        reverse_seen: Some(true),
        ..Facts::default()
    }
}

#[test]
fn facts_set_by_hand_fire_the_codes_the_generator_cannot_make() {
    let t = Thresholds::default();
    assert!(diagnose(&healthy(), &t).is_empty());
    let cases: Vec<(Facts, Code, Severity, Side)> = vec![
        (
            Facts {
                loss_downstream: Some(90),
                ..healthy()
            },
            Code::LossDownstream,
            Severity::Warning,
            Side::Downstream,
        ),
        (
            Facts {
                loss_downstream: Some(300),
                ..healthy()
            },
            Code::LossDownstream,
            Severity::Critical,
            Side::Downstream,
        ),
        (
            Facts {
                remote_jitter_ms: Some(70.0),
                ..healthy()
            },
            Code::HighJitter,
            Severity::Critical,
            Side::Downstream,
        ),
        (
            Facts {
                rtt: Some(("sr_chain", 900.0)),
                ..healthy()
            },
            Code::HighRtt,
            Severity::Critical,
            Side::Unknown,
        ),
        (
            Facts {
                clock_drift_ppm: Some(-800.0),
                ..healthy()
            },
            Code::ClockDrift,
            Severity::Warning,
            Side::Endpoint,
        ),
        (
            Facts {
                payload_types: vec![8, 0],
                ..healthy()
            },
            Code::PayloadChange,
            Severity::Info,
            Side::Endpoint,
        ),
        (
            Facts {
                srtcp: true,
                rtcp_seen: true,
                ..healthy()
            },
            Code::LimitedVisibility,
            Severity::Info,
            Side::Probe,
        ),
        (
            Facts {
                probe_drop: true,
                ..healthy()
            },
            Code::ProbeOverload,
            Severity::Warning,
            Side::Probe,
        ),
        (
            Facts {
                colliding: true,
                ..healthy()
            },
            Code::SsrcCollision,
            Severity::Warning,
            Side::Endpoint,
        ),
    ];
    for (f, code, sev, side) in cases {
        let got = diagnose(&f, &t);
        assert!(has(&got, code, sev, side), "{code:?}: {got:?}");
    }
}

#[test]
fn telephone_events_and_comfort_noise_are_no_codec_change() {
    let t = Thresholds::default();
    let f = Facts {
        payload_types: vec![0, 101, 13],
        ..healthy()
    };
    assert!(diagnose(&f, &t).is_empty());
}

#[test]
fn thresholds_move_the_findings_and_few_packets_say_nothing() {
    let lossy = Facts {
        missing: 45,
        ..healthy()
    }; // 1.5 %
    let t = Thresholds::default();
    assert_eq!(codes(&diagnose(&lossy, &t)), ["loss_upstream"]);
    let lenient = Thresholds {
        loss_warning_percent: 2.0,
        ..t
    };
    assert!(diagnose(&lossy, &lenient).is_empty());
    let short = Facts {
        expected: 40,
        missing: 20,
        ..healthy()
    };
    assert!(diagnose(&short, &t).is_empty());
}

#[test]
fn findings_are_sorted_most_severe_first_and_codes_are_stable() {
    let f = Facts {
        missing: 600,
        probe_drop: true,
        srtcp: true,
        ..healthy()
    };
    let got = diagnose(&f, &Thresholds::default());
    assert_eq!(
        codes(&got),
        ["loss_upstream", "probe_overload", "limited_visibility"]
    );
    let json = serde_json::to_value(&got[0]).unwrap();
    assert_eq!(json["code"], "loss_upstream");
    assert_eq!(json["severity"], "critical");
    assert_eq!(json["side"], "upstream");
    for c in Code::ALL {
        assert_eq!(serde_json::to_value(c).unwrap(), c.name());
    }
}

/// A 90 s stream whose sender reports put `ppm` more RTP ticks per second than its clock rate.
fn drifting(ppm: f64) -> Vec<Finding> {
    use crate::synth::rtcp::{ntp_from_unix_ns, sr, SenderInfo};
    let mut s = a_to_b(0xAB);
    s.count = 4500;
    let mut sc = Scenario::new(9);
    sc.add(s.clone());
    let mut events: Vec<(i64, SocketAddr, SocketAddr, Vec<u8>)> = Vec::new();
    for f in sc.build().frames {
        let dg = decode_udp(LinkType::Ethernet, &f.bytes).expect("decodes");
        events.push((f.ts_ns, dg.src, dg.dst, dg.payload.to_vec()));
    }
    for k in 0..18i64 {
        let t = s.start_ns + SEC + k * 5 * SEC;
        let ticks = (k as f64 * 5.0 * 8000.0 * (1.0 + ppm / 1e6)).round() as u32;
        let info = SenderInfo {
            ntp: ntp_from_unix_ns(t),
            rtp_ts: s.first_ts.wrapping_add(8000).wrapping_add(ticks),
            ..SenderInfo::default()
        };
        events.push((t, s.src, s.dst, sr(0xAB, &info, &[])));
    }
    events.sort_by_key(|e| e.0);
    let mut e = Engine::new(Resolved::default());
    for (t, src, dst, payload) in &events {
        let dg = crate::wire::Datagram {
            src: *src,
            dst: *dst,
            payload,
            wire_len: payload.len(),
            vlan: None,
        };
        e.on_datagram(*t, &dg);
    }
    of(&finish(e), 0xAB)
}

#[test]
fn a_sender_clock_off_by_a_thousand_ppm_is_clock_drift() {
    let f = drifting(1000.0);
    let d = f
        .iter()
        .find(|x| x.code == Code::ClockDrift)
        .expect("drift finding");
    assert_eq!((d.severity, d.side), (Severity::Warning, Side::Endpoint));
    assert!(d.message.contains("1000 ppm fast"), "{}", d.message);
    let f = drifting(-700.0);
    assert!(
        f.iter().any(|x| x.message.contains("700 ppm slow")),
        "{f:?}"
    );
    // 100 ppm (a common crystal) is under the 500 ppm default; an exact clock has none.
    for ppm in [0.0, 100.0] {
        assert!(!drifting(ppm).iter().any(|x| x.code == Code::ClockDrift));
    }
}
