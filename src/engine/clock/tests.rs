//! Unit tests for the static table and [`super::ClockRateEstimator`].

use super::*;

const MS: i64 = 1_000_000;

/// splitmix64: deterministic noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A synthetic stream: `packets` packets every `ptime_ms`, timestamps at `rate`, capture delays
/// uniform in `[0, jitter_ms)`, `loss_pct` % lost, and a few adjacent swaps. Returns the estimate
/// after each pushed packet.
fn stream(
    rate: u32,
    ptime_ms: i64,
    packets: u32,
    jitter_ms: u64,
    loss_pct: u64,
    seed: u64,
) -> Vec<Option<u32>> {
    let mut rng = Rng(seed);
    let mut sent: Vec<(i64, u32, u64)> = Vec::new();
    let ts0 = rng.next() as u32;
    let t0 = 1_700_000_000_000 * MS + rng.below(1_000) as i64 * MS;
    let step = (i64::from(rate) * ptime_ms / 1000) as u32;
    for i in 0..packets {
        if rng.below(100) < loss_pct {
            continue;
        }
        let delay = rng.below(jitter_ms.max(1) * 1000) as i64 * 1000;
        let arrival = t0 + i64::from(i) * ptime_ms * MS + delay;
        sent.push((
            arrival,
            ts0.wrapping_add(i.wrapping_mul(step)),
            70_000 + u64::from(i),
        ));
    }
    // Capture order is arrival order: jitter larger than ptime reorders.
    sent.sort_by_key(|p| p.0);
    let mut est = ClockRateEstimator::new();
    sent.iter()
        .map(|&(a, ts, seq)| {
            est.push(a, ts, seq);
            est.estimate()
        })
        .collect()
}

#[test]
fn static_table() {
    for pt in [0u8, 3, 4, 5, 7, 8, 9, 12, 13, 15, 18] {
        assert_eq!(static_clock_rate(pt), Some(8000), "PT {pt}");
    }
    assert_eq!(static_clock_rate(6), Some(16_000));
    assert_eq!(static_clock_rate(10), Some(44_100));
    assert_eq!(static_clock_rate(11), Some(44_100));
    assert_eq!(static_clock_rate(16), Some(11_025));
    assert_eq!(static_clock_rate(17), Some(22_050));
    for pt in [14u8, 25, 26, 28, 31, 32, 33, 34] {
        assert_eq!(static_clock_rate(pt), Some(90_000), "PT {pt}");
    }
    for pt in [
        1u8, 2, 19, 20, 24, 27, 29, 30, 35, 72, 95, 96, 111, 127, 128, 255,
    ] {
        assert_eq!(static_clock_rate(pt), None, "PT {pt}");
    }
}

#[test]
fn no_estimate_before_enough_samples_and_span() {
    let r = stream(8000, 20, 100, 0, 0, 1);
    // 15 packets span 280 ms: not yet (neither 20 samples nor 300 ms).
    assert!(r.iter().take(16).all(Option::is_none));
    // 20 packets span 380 ms.
    assert_eq!(r[19], Some(8000));
    // Many samples over a short span are not enough either.
    let r = stream(90_000, 2, 140, 0, 0, 1);
    assert!(r.iter().take(150).all(Option::is_none));
}

#[test]
fn infers_8000_with_jitter_and_loss() {
    for seed in 0..20 {
        let r = stream(8000, 20, 250, 30, 10, seed);
        assert_eq!(r.last().copied().flatten(), Some(8000), "seed {seed}");
        let first = r.iter().flatten().next().copied();
        assert_eq!(first, Some(8000), "seed {seed}: first confident estimate");
    }
}

#[test]
fn infers_48000_and_44100_apart() {
    for seed in 0..20 {
        let r = stream(48_000, 20, 250, 20, 5, seed);
        assert_eq!(r.last().copied().flatten(), Some(48_000), "seed {seed}");
        let r = stream(44_100, 20, 250, 20, 5, seed);
        assert_eq!(r.last().copied().flatten(), Some(44_100), "seed {seed}");
    }
}

#[test]
fn infers_90000_for_video_frames() {
    // Video: several packets per frame share a timestamp; model as 1/3 of the frame time apart.
    for seed in 0..20 {
        let mut rng = Rng(seed);
        let mut est = ClockRateEstimator::new();
        let mut seq = 0u64;
        for frame in 0..60u32 {
            for k in 0..3i64 {
                seq += 1;
                if rng.below(100) < 5 {
                    continue;
                }
                let arrival =
                    i64::from(frame) * 33_333_333 + k * 3 * MS + rng.below(15_000) as i64 * 1000;
                est.push(
                    arrival,
                    frame.wrapping_mul(3000).wrapping_add(u32::MAX - 50_000),
                    seq,
                );
            }
        }
        assert_eq!(est.estimate(), Some(90_000), "seed {seed}");
    }
}

#[test]
fn odd_rate_is_not_snapped() {
    let r = stream(1000, 20, 200, 0, 0, 3);
    assert_eq!(r.last().copied().flatten(), Some(1000));
}

#[test]
fn restart_and_stalls() {
    let mut est = ClockRateEstimator::new();
    for i in 0..50u32 {
        est.push(i64::from(i) * 20 * MS, i * 160, 100_000 + u64::from(i));
    }
    assert_eq!(est.estimate(), Some(8000));
    // Reordered and duplicate packets are skipped.
    est.push(2000 * MS, 5, 100_010);
    assert_eq!(est.estimate(), Some(8000));
    // A restart far back in sequence space starts over.
    est.push(3000 * MS, 77, 10);
    assert_eq!(est.estimate(), None);
    // Timestamps that do not advance give no rate.
    let mut est = ClockRateEstimator::new();
    for i in 0..50u32 {
        est.push(i64::from(i) * 20 * MS, 1234, u64::from(i));
    }
    assert_eq!(est.estimate(), None);
}
