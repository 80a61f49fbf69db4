//! One behaviour per test, each on a small scenario whose truth is also written down by hand:
//! probation against RTP-looking noise, loss bursts, 16-bit sequence and 32-bit timestamp
//! wraps, a sequence restart, duplicates versus reordering, clock-rate sources, and the bounded
//! stream table (eviction, idle expiry).

use crate::check::{self, Diffs};
use rtcprobe::config::Resolved;
use rtcprobe::engine::record::StreamRecord;
use rtcprobe::replay::Report;
use rtcprobe::synth::frame::udp_frame;
use rtcprobe::synth::rng::Rng;
use rtcprobe::synth::scenario::{Impairments, Restart, Scenario, StreamSpec, EPOCH_NS, MS, SEC};
use rtcprobe::synth::{Capture, Encap, Frame, FrameKind, StreamTruth};
use std::net::SocketAddr;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("literal address")
}

fn audio(n: u8) -> StreamSpec {
    StreamSpec::audio(
        sa(&format!("10.0.0.{n}:40000")),
        sa(&format!("10.0.1.{n}:50000")),
        0xAB00_0000 | u32::from(n),
    )
}

/// Build a one-or-more-stream scenario, run it frame by frame, compare every stream and counter
/// with the truth; returns the capture and report for the test's own hand-written checks.
fn run(streams: Vec<StreamSpec>, cfg: Resolved) -> (Capture, Report) {
    let mut sc = Scenario::new(5);
    for s in streams {
        sc.add(s);
    }
    let c = sc.build();
    let r = check::run_frames(&c, cfg);
    (c, r)
}

fn matches_truth(c: &Capture, r: &Report) {
    let mut d = Diffs::default();
    check::report(&mut d, r, &c.truth, 0.0);
    d.assert_none("scenario");
}

fn rec<'a>(r: &'a Report, t: &StreamTruth) -> &'a StreamRecord {
    check::records(r, t)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("ssrc {:#x} not reported", t.ssrc))
}

#[test]
fn rtp_looking_noise_never_becomes_a_stream() {
    // 3000 random UDP datagrams that start like RTP (V=2, no padding/extension/CSRC), on 40
    // 5-tuples, between the packets of one real stream.
    let (mut c, _) = run(vec![audio(1)], Resolved::default());
    let mut rng = Rng::new(77);
    let n = 3000;
    for _ in 0..n {
        let len = 12 + rng.below(200) as usize;
        let mut p = rng.bytes(len);
        p[0] = 0x80;
        p[1] &= 0x7f; // PT < 64 or marker-free 96..127: never the RTCP range of RFC 5761
        if (64..96).contains(&p[1]) {
            p[1] += 32;
        }
        let k = rng.below(40) as u8;
        let src = sa(&format!("10.9.0.{k}:{}", 30_000 + u16::from(k)));
        let dst = sa(&format!("10.9.1.{k}:{}", 40_000 + u16::from(k)));
        c.frames.push(Frame {
            ts_ns: rng.range_i64(EPOCH_NS, EPOCH_NS + 10 * SEC),
            linktype: 1,
            bytes: udp_frame(Encap::Ethernet.into(), src, dst, &p),
            kind: FrameKind::Noise,
        });
    }
    c.frames.sort_by_key(|f| f.ts_ns);
    let r = check::run_frames(&c, Resolved::default());
    assert_eq!(r.streams.len(), 1, "only the real stream");
    let t = &c.truth.streams[0];
    let mut d = Diffs::default();
    check::stream(&mut d, rec(&r, t), t, 0.0);
    d.assert_none("real stream among noise");
    let k = &r.summary.counters;
    assert_eq!(k.streams_created, 1);
    assert_eq!(k.rtp_packets, t.packets + n);
    assert_eq!(
        k.rtp_unvalidated, n,
        "every noise datagram is an unvalidated candidate"
    );
}

#[test]
fn loss_bursts_are_counted_exactly() {
    let mut s = audio(2);
    s.count = 1000;
    s.impair = Impairments {
        loss_bursts: vec![(100, 25), (400, 1), (402, 1), (700, 64)],
        jitter_ns: 4 * MS,
        ..Default::default()
    };
    let (c, r) = run(vec![s], Resolved::default());
    matches_truth(&c, &r);
    let rec = &r.streams[0];
    assert_eq!((rec.expected, rec.packets, rec.lost), (1000, 909, 91));
    // The longest gap is the 64-packet burst: 65 intervals of 20 ms, ± the 4 ms jitter.
    assert!((rec.max_gap_ms - 1300.0).abs() <= 4.0, "{}", rec.max_gap_ms);
}

#[test]
fn sequence_number_wrap() {
    let mut s = audio(3);
    s.first_seq = 65_000;
    s.count = 3000; // wraps once, at packet 536
    s.impair.loss_bursts = vec![(530, 12)]; // loss straddling the wrap
    let (c, r) = run(vec![s], Resolved::default());
    matches_truth(&c, &r);
    let rec = &r.streams[0];
    assert_eq!(
        (rec.expected, rec.lost, rec.seq_restarts),
        (3000, 12, 0),
        "a wrap is neither a restart nor 65536 losses"
    );
}

#[test]
fn rtp_timestamp_wrap_is_a_small_step() {
    let mut s = audio(4);
    s.first_ts = u32::MAX - 160 * 50; // wraps after 50 packets
    s.impair.jitter_ns = 10 * MS;
    let (c, r) = run(vec![s], Resolved::default());
    matches_truth(&c, &r);
    // Uniform 0–10 ms delay: mean |D| = 10/3 ms, so jitter stays a few ms, not 2^32 ticks.
    let j = r.streams[0].jitter_ms.expect("jitter");
    assert!((1.0..6.0).contains(&j), "{j}");
}

#[test]
fn ssrc_keeping_restart_counts_both_segments() {
    let mut s = audio(5);
    s.count = 1000;
    s.restart = Some(Restart {
        after: 400,
        jump: 20_000,
    });
    s.impair.loss_bursts = vec![(100, 5), (700, 7)];
    let (c, r) = run(vec![s], Resolved::default());
    matches_truth(&c, &r);
    let rec = &r.streams[0];
    // 1000 sent, 12 lost, the first after the jump held as A.1 bad_seq (rtp_unvalidated).
    assert_eq!(rec.seq_restarts, 1);
    assert_eq!((rec.packets, rec.expected, rec.lost), (987, 999, 12));
    assert_eq!(r.summary.counters.rtp_unvalidated, 1);
}

#[test]
fn duplicates_are_not_reordering() {
    let mut s = audio(6);
    s.count = 800;
    s.impair = Impairments {
        reorder_at: vec![(50, 3), (120, 1), (300, 7)],
        duplicate: 0.05,
        duplicate_gap_ns: 30 * MS, // copies land after later packets: still duplicates
        ..Default::default()
    };
    let (c, r) = run(vec![s], Resolved::default());
    matches_truth(&c, &r);
    let (rec, t) = (&r.streams[0], &c.truth.streams[0]);
    assert_eq!(rec.reordered, 3, "one per held-back packet");
    assert!(t.duplicates > 20, "{}", t.duplicates);
    assert_eq!(rec.duplicates, t.duplicates);
    assert_eq!(
        rec.lost,
        -(t.duplicates as i64),
        "no loss: duplicates make lost negative"
    );
}

#[test]
fn dynamic_payload_type_rate_is_inferred_without_config() {
    let video = StreamSpec {
        count: 300,
        ..StreamSpec::video(sa("10.0.0.7:40000"), sa("10.0.1.7:50000"), 0xAB00_0007)
    };
    let opus = StreamSpec {
        payload_type: 111,
        clock_rate: 48_000,
        count: 300,
        impair: Impairments {
            jitter_ns: 3 * MS,
            ..Default::default()
        },
        ..audio(8)
    };
    let pcmu = audio(9);
    let (c, r) = run(vec![video, opus, pcmu], Resolved::default());
    matches_truth(&c, &r);
    let src = |i: usize| rec(&r, &c.truth.streams[i]).clock_rate_source;
    assert_eq!(
        [src(0), src(1), src(2)],
        [Some("inferred"), Some("inferred"), Some("static")]
    );
}

#[test]
fn configured_payload_type_rate_is_used() {
    let mut clock_rates = [0u32; 128];
    clock_rates[96] = 90_000;
    let cfg = Resolved {
        clock_rates,
        ..Default::default()
    };
    let video = StreamSpec {
        count: 300,
        impair: Impairments {
            jitter_ns: 2 * MS,
            ..Default::default()
        },
        ..StreamSpec::video(sa("10.0.0.10:40000"), sa("10.0.1.10:50000"), 0xAB00_000A)
    };
    let (c, r) = run(vec![video], cfg);
    matches_truth(&c, &r);
    assert_eq!(r.streams[0].clock_rate_source, Some("config"));
}

#[test]
fn full_table_evicts_the_least_recently_active_stream() {
    // Two slots. Stream 1 stops after 1 s, stream 2 runs on, stream 3 starts at 3 s.
    let s1 = StreamSpec {
        count: 50,
        ..audio(11)
    };
    let s2 = audio(12);
    let s3 = StreamSpec {
        start_ns: EPOCH_NS + 3 * SEC,
        count: 100,
        ..audio(13)
    };
    let cfg = Resolved {
        max_streams: 2,
        ..Default::default()
    };
    let (c, r) = run(vec![s1, s2, s3], cfg);
    let t = &c.truth.streams;
    let mut d = Diffs::default();
    check::stream_ended(&mut d, rec(&r, &t[0]), &t[0], 0.0, "evicted");
    check::stream(&mut d, rec(&r, &t[1]), &t[1], 0.0);
    check::stream(&mut d, rec(&r, &t[2]), &t[2], 0.0);
    d.assert_none("eviction");
    assert_eq!(r.summary.counters.streams_evicted, 1);
    assert_eq!(r.summary.counters.streams_created, 3);
}

#[test]
fn idle_streams_expire() {
    // Idle timeout 2 s. Stream 1 stops after 1 s; stream 2 keeps capture time moving to 10 s.
    let s1 = StreamSpec {
        count: 50,
        ..audio(14)
    };
    let s2 = audio(15);
    let cfg = Resolved {
        idle_timeout_ns: 2 * SEC,
        ..Default::default()
    };
    let (c, r) = run(vec![s1, s2], cfg);
    let t = &c.truth.streams;
    let mut d = Diffs::default();
    check::stream_ended(&mut d, rec(&r, &t[0]), &t[0], 0.0, "idle");
    check::stream(&mut d, rec(&r, &t[1]), &t[1], 0.0);
    d.assert_none("idle expiry");
    assert_eq!(r.summary.counters.streams_evicted, 0);
}
