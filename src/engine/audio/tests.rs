//! Audio state against literal references: RFC 3611 A.2 ([`super::appendix_a2`]) for
//! burst/gap, direct counting for the Markov transitions and loss runs, and hand-computed
//! jitter buffer verdicts.

use super::appendix_a2::A2;
use super::jbuf::JitterBuffers;
use super::pattern::{Pattern, RUN_BUCKETS, SETTLE};
use super::Audio;
use crate::engine::seq::SeqEvent;
use proptest::prelude::*;

/// Feeds `arrived[i]` (position `base + i`) to a pattern, in an arrival order where each
/// packet may be held back by up to `delays[i]` positions (< 100, as A.1 accepts).
fn feed(base: u64, arrived: &[bool], discarded: &[bool], delays: &[u8]) -> Pattern {
    let mut order: Vec<(u64, usize)> = (0..arrived.len())
        .filter(|&i| arrived[i])
        .map(|i| (i as u64 + u64::from(delays[i] % 100), i))
        .collect();
    order.sort();
    let mut p = Pattern::default();
    for (_, i) in order {
        p.on_arrival(base + i as u64, discarded[i]);
    }
    p.finish(base + arrived.len() as u64 - 1);
    p
}

fn pattern_strategy() -> impl Strategy<Value = (Vec<bool>, Vec<bool>, Vec<u8>)> {
    (2usize..1500).prop_flat_map(|n| {
        (
            // Loss probability varies per case: random, rare, heavy.
            (0u32..60).prop_flat_map(move |pct| {
                proptest::collection::vec(proptest::bool::weighted(1.0 - f64::from(pct) / 100.0), n)
            }),
            proptest::collection::vec(proptest::bool::weighted(0.05), n),
            proptest::collection::vec(prop_oneof![8 => Just(0u8), 1 => 0u8..100], n),
        )
    })
}

/// Markov transitions counted directly over a sequence of loss flags.
fn transitions(lost: &[bool]) -> [u64; 4] {
    let mut t = [0u64; 4];
    for w in lost.windows(2) {
        t[usize::from(w[0]) * 2 + usize::from(w[1])] += 1;
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Burst/gap counters and metrics equal the literal RFC 3611 A.2 over the same sequence,
    /// for network loss and for loss plus discards, whatever the reordering (< 100).
    #[test]
    fn burst_gap_matches_appendix_a2((mut arrived, mut discarded, mut delays) in pattern_strategy()) {
        let n = arrived.len();
        // The stream starts at its first packet (A.1 probation validated it in order).
        arrived[0] = true;
        delays[0] = 0;
        arrived[n - 1] = true;
        discarded[0] = false;
        let p = feed(7, &arrived, &discarded, &delays);
        let mut net = A2::new();
        let mut eff = A2::new();
        for i in 0..n {
            net.packet(!arrived[i]);
            eff.packet(!arrived[i] || discarded[i]);
        }
        for (which, a2, ours) in [("net", &net, &p.settled.network), ("eff", &eff, &p.settled.effective)] {
            let bg = ours.burst_gap;
            prop_assert_eq!(
                (bg.c11, bg.c13, bg.c14, bg.c22, bg.c23, bg.c33, bg.pkt, bg.lost),
                (a2.c11 as u64, a2.c13 as u64, a2.c14 as u64, a2.c22 as u64, a2.c23 as u64,
                 a2.c33 as u64, a2.pkt as u64, a2.lost as u64),
                "{}", which
            );
            let m = bg.metrics(Some(20.0));
            let r = a2.report(20.0);
            prop_assert_eq!(m.is_some(), r.is_some());
            if let (Some(m), Some((bd, gd, bl, gl))) = (m, r) {
                prop_assert!((m.burst_density * 256.0 - bd).abs() < 1e-9);
                prop_assert!((m.gap_density * 256.0 - gd).abs() < 1e-9);
                prop_assert!((m.burst_duration_ms.unwrap() - bl).abs() < 1e-6);
                prop_assert!((m.gap_duration_ms.unwrap() - gl).abs() < 1e-6);
            }
        }
        let lost: Vec<bool> = arrived.iter().map(|a| !a).collect();
        let t = transitions(&lost);
        let mk = p.settled.network.markov;
        prop_assert_eq!([mk.found_found, mk.found_lost, mk.lost_found, mk.lost_lost], t);
        // Loss runs: lengths counted directly.
        let mut runs = [0u64; 7];
        let mut run = 0u64;
        for &l in lost.iter().chain([false].iter()) {
            if l {
                run += 1;
            } else if run > 0 {
                let i = RUN_BUCKETS.iter().position(|&b| run <= b).unwrap();
                runs[i] += 1;
                run = 0;
            }
        }
        prop_assert_eq!(p.settled.runs, runs);
    }

    /// Settled counters never go back and never exceed the final ones (live records).
    #[test]
    fn settled_part_is_a_prefix((arrived, discarded, _d) in pattern_strategy(), cut in 0usize..1500) {
        let n = arrived.len();
        let cut = cut.min(n - 1);
        let mut p = Pattern::default();
        p.on_arrival(0, false);
        for i in 1..=cut {
            if arrived[i] {
                p.on_arrival(i as u64, discarded[i]);
            }
        }
        let live = p;
        let mut end = p;
        end.on_arrival(cut as u64 + 1, false);
        end.finish(cut as u64 + 1);
        let (a, b) = (live.settled.network.burst_gap, end.settled.network.burst_gap);
        prop_assert!(a.c11 <= b.c11 && a.c13 <= b.c13 && a.c14 <= b.c14);
        prop_assert!(a.c22 <= b.c22 && a.c23 <= b.c23 && a.c33 <= b.c33);
    }
}

#[test]
fn burst_r_random_and_bursty() {
    // Alternating found/lost: p = 1, q = 1: BurstR = 0.5 (loss "less bursty than random").
    let mut p = Pattern::default();
    for i in 0..200u64 {
        if i % 2 == 0 {
            p.on_arrival(i, false);
        }
    }
    p.finish(198);
    assert!((p.settled.network.markov.burst_r().unwrap() - 0.5).abs() < 1e-12);
    // Bursts of 5 every 100: p = 1/96 (5 of 480 found→lost), q = 1/5: BurstR = 1/(p+q).
    let mut p = Pattern::default();
    let mut lost = Vec::new();
    for i in 0..1000u64 {
        let l = (i % 100) >= 50 && (i % 100) < 55;
        lost.push(l);
        if !l {
            p.on_arrival(i, false);
        }
    }
    p.finish(999);
    let t = transitions(&lost);
    let pp = t[1] as f64 / (t[0] + t[1]) as f64;
    let q = t[2] as f64 / (t[2] + t[3]) as f64;
    assert!((p.settled.network.markov.burst_r().unwrap() - 1.0 / (pp + q)).abs() < 1e-12);
    assert!(p.settled.network.markov.burst_r().unwrap() > 4.0);
    // No loss: random by convention.
    let mut p = Pattern::default();
    (0..50).for_each(|i| p.on_arrival(i, false));
    p.finish(49);
    assert_eq!(p.settled.network.markov.burst_r(), Some(1.0));
}

#[test]
fn too_late_for_the_window_stays_lost() {
    let mut p = Pattern::default();
    p.on_arrival(0, false);
    p.on_arrival(SETTLE + 10, false);
    // Position 5 was settled as lost when SETTLE + 10 arrived.
    p.on_arrival(5, false);
    p.finish(SETTLE + 10);
    assert_eq!(p.settled.network.markov.found_lost, 1);
    assert_eq!(p.settled.runs[6], 1);
}

const MS: i64 = 1_000_000;

#[test]
fn fixed_buffer_counts_packets_past_its_depth() {
    let mut jb = JitterBuffers::new(60, 8000);
    // 8 kHz, 20 ms: packet k sent at k*20 ms, delays in ms.
    let delays = [10i64, 10, 70, 71, 5, 66, 64, 10];
    let mut late = 0;
    for (k, d) in delays.iter().enumerate() {
        let now = k as i64 * 20 * MS + d * MS;
        if jb.on_packet(now, 160 * k as u32) {
            late += 1;
        }
    }
    // Minimum so far: 10, then 5 from packet 4: late are 71 (61 > 60) and 66 (61 > 60); 70 is
    // exactly 60 past 10 (not late), 64 is 59 past 5.
    assert_eq!(late, 2);
    assert_eq!(jb.fixed_late, 2);
}

/// A packet about 73 years (2^61 ns) or more from its talkspurt's reference starts a new
/// talkspurt: never late, and no overflow on the way (capture times are any i64).
#[test]
fn absurd_capture_time_starts_a_talkspurt() {
    let mut jb = JitterBuffers::new(60, 8000);
    assert!(!jb.on_packet(0, 0));
    assert!(!jb.on_packet(20 * MS, 160));
    for now in [i64::MAX, i64::MIN, 1 << 61, -(1 << 61)] {
        assert!(!jb.on_packet(now, 320), "{now}");
        // The next packet is judged against the new reference: 10 ms late is not late.
        assert!(!jb.on_packet(now.saturating_add(30 * MS), 480), "{now}");
        assert!(jb.on_packet(now.saturating_add(130 * MS), 640) || now == i64::MAX);
    }
    assert_eq!(jb.judged(), 14);
}

proptest! {
    /// The adaptive buffer's kept histogram total stays the histogram's sum, through every
    /// halving and re-anchoring, whatever the delays (its target update relies on it).
    #[test]
    fn histogram_total_is_kept_exact(
        delays in proptest::collection::vec(0i64..400, 1..3000),
        spurts in proptest::collection::vec(0usize..3000, 0..20),
    ) {
        let mut jb = JitterBuffers::new(60, 8000);
        for (k, d) in delays.iter().enumerate() {
            if spurts.contains(&k) {
                jb.reanchor();
            }
            jb.on_packet(k as i64 * 20 * MS + d * MS, (160 * k) as u32);
            prop_assert!(jb.total_is_exact(), "packet {}", k);
        }
    }
}

#[test]
fn timestamp_wrap_is_not_a_delay() {
    let mut jb = JitterBuffers::new(60, 8000);
    let mut ts = u32::MAX - 400;
    for k in 0..10i64 {
        assert!(!jb.on_packet(k * 20 * MS, ts));
        ts = ts.wrapping_add(160);
    }
}

#[test]
fn adaptive_target_follows_jitter_and_is_bounded() {
    let mut jb = JitterBuffers::new(60, 8000);
    // 2000 packets with delays cycling 0..100 ms: the 95th percentile is about 100 ms.
    for k in 0..2000i64 {
        let d = (k * 37 % 101) * MS;
        jb.on_packet(k * 20 * MS + d, (160 * k) as u32);
    }
    let mean = jb.delay_sum_ns() as f64 / jb.judged() as f64 / 1e6;
    assert!(jb.delay_max_ns() <= 110 * MS, "{}", jb.delay_max_ns());
    assert!(mean > 80.0 && mean <= 110.0, "{mean}");
    assert!(jb.adaptive_late < jb.fixed_late);
    // Clean: the target decays to its floor and nothing is late.
    let mut jb = JitterBuffers::new(60, 8000);
    for k in 0..500i64 {
        jb.on_packet(k * 20 * MS, (160 * k) as u32);
    }
    assert_eq!((jb.fixed_late, jb.adaptive_late), (0, 0));
    assert_eq!(jb.delay_max_ns(), 40 * MS);
}

/// DTX: a timestamp jump without a sequence gap is silence: no loss, and the buffer
/// re-anchors (a talkspurt that starts later than the last one ended is not late).
#[test]
fn dtx_is_silence_not_loss() {
    let mut a = Audio::new(Some(48_000), 60, 0, 1);
    let mut ts = 960u32;
    let mut now = 20 * MS;
    let mut ext = 1u64;
    for k in 0..200 {
        ext += 1;
        ts = ts.wrapping_add(if k == 100 { 960 * 50 } else { 960 });
        // After the silence, the network path is 200 ms slower: a new talkspurt's anchor.
        now += if k == 100 {
            1000 * MS + 200 * MS
        } else {
            20 * MS
        };
        a.on_packet(
            now,
            ts,
            false,
            true,
            &SeqEvent::Valid {
                ext_seq: ext,
                gap: 0,
            },
            0,
        );
    }
    let r = a.record(true, ext + 1, 0);
    assert_eq!(r.jitter_buffer.unwrap().fixed_late, 0);
    assert_eq!(r.ptime_ms, Some(20.0));
    assert_eq!(r.loss_runs, Default::default());
    assert_eq!(r.effective_loss_ratio, Some(0.0));
}

#[test]
fn ptime_is_the_smallest_step_of_consecutive_packets() {
    let mut a = Audio::new(Some(8000), 60, 0, 1);
    // A gap of 2 (ts step 480) does not count; consecutive steps are 160.
    let evs = [(2u64, 0u64, 320u32), (5, 2, 800), (6, 0, 960), (7, 0, 1120)];
    for (i, &(ext, gap, ts)) in evs.iter().enumerate() {
        a.on_packet(
            i as i64 * 20 * MS,
            ts,
            false,
            true,
            &SeqEvent::Valid { ext_seq: ext, gap },
            0,
        );
    }
    assert_eq!(a.record(true, 8, 2).ptime_ms, Some(20.0));
}

/// The timestamp step into a marked packet (a talkspurt start, RFC 3551 §4.1) spans the
/// silence before it: not a packetisation interval.
#[test]
fn marker_step_is_not_a_ptime() {
    let mut a = Audio::new(Some(8000), 60, 0, 1);
    let evs = [(2u64, 320u32, false), (3, 320 + 8000, true)];
    for (i, &(ext, ts, marker)) in evs.iter().enumerate() {
        a.on_packet(
            i as i64 * 20 * MS,
            ts,
            marker,
            true,
            &SeqEvent::Valid {
                ext_seq: ext,
                gap: 0,
            },
            0,
        );
    }
    assert_eq!(a.record(true, 4, 0).ptime_ms, None);
    // The same step without the marker is one (nothing else to compare it with).
    let mut a = Audio::new(Some(8000), 60, 0, 1);
    for (i, &(ext, ts, _)) in evs.iter().enumerate() {
        a.on_packet(
            i as i64 * 20 * MS,
            ts,
            false,
            true,
            &SeqEvent::Valid {
                ext_seq: ext,
                gap: 0,
            },
            0,
        );
    }
    assert_eq!(a.record(true, 4, 0).ptime_ms, Some(1000.0));
}

/// The per-stream box (docs/benchmarks.md, "Memory per stream").
#[test]
fn audio_state_size_is_pinned() {
    assert_eq!(std::mem::size_of::<Audio>(), 512);
}
