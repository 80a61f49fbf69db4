//! Property tests: [`Jitter`] against the literal A.8, both forms.
//!
//! * With arrivals that are whole timestamp units (8 kHz: 125 µs), our estimate is the A.8
//!   floating-point form exactly (same D, same recurrence; 1/16 is exact in binary).
//! * The A.8 integer form keeps 16·J with a rounding of at most half a unit per step, which the
//!   1/16 recurrence damps: it stays within 0.5 timestamp units of the float form, so the RR
//!   values differ by at most one.
//! * With arbitrary nanosecond arrivals, a receiver's integer clock reads
//!   `floor(ns * rate / 1e9)`; each literal D is then off ours by less than one unit, so the
//!   estimates stay within one unit.

use proptest::prelude::*;

use super::{JitterFloat, JitterInt};
use crate::engine::jitter::Jitter;

const NANOS: i128 = 1_000_000_000;

/// (arrival step in timestamp units, timestamp step): normal pacing, jitter, reordering,
/// occasional large timestamp jumps.
fn step() -> impl Strategy<Value = (u32, i32)> {
    prop_oneof![
        10 => (140u32..180, Just(160i32)),
        5 => (0u32..2000, prop_oneof![Just(160i32), Just(320), Just(-160), Just(0)]),
        1 => (0u32..100_000, -100_000i32..100_000),
    ]
}

/// The packets as (arrival in units, rtp timestamp).
fn packets(start_arrival: u32, start_ts: u32, steps: &[(u32, i32)]) -> Vec<(u32, u32)> {
    let mut arrival = start_arrival;
    let mut ts = start_ts;
    let mut out = vec![(arrival, ts)];
    for &(da, dts) in steps {
        arrival = arrival.wrapping_add(da);
        ts = ts.wrapping_add_signed(dts);
        out.push((arrival, ts));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn jitter_matches_a8_on_unit_arrivals(
        start_arrival in any::<u32>(),
        start_ts in prop_oneof![any::<u32>(), (u32::MAX - 100_000)..=u32::MAX],
        steps in prop::collection::vec(step(), 1..300),
        start_ns in -1_000_000_000_000i64..1_000_000_000_000,
    ) {
        const RATE: u32 = 8000;
        const NS_PER_UNIT: i64 = 125_000;
        let pkts = packets(start_arrival, start_ts, &steps);
        let mut ours = Jitter::new();
        let mut float: Option<JitterFloat> = None;
        let mut int: Option<JitterInt> = None;
        // Arrival in ns as an offset from the first, in whole units.
        let mut ns = start_ns;
        let mut prev_arrival = start_arrival;
        for &(arrival, ts) in &pkts {
            ns += i64::from(arrival.wrapping_sub(prev_arrival)) * NS_PER_UNIT;
            prev_arrival = arrival;
            ours.update(ns, ts, RATE);
            match (float.as_mut(), int.as_mut()) {
                (Some(f), Some(n)) => {
                    f.update(arrival, ts);
                    n.update(arrival, ts);
                }
                _ => {
                    float = Some(JitterFloat::first(arrival, ts));
                    int = Some(JitterInt::first(arrival, ts));
                }
            }
            let (Some(f), Some(n)) = (float, int) else { unreachable!() };
            prop_assert_eq!(ours.jitter_ts(), f.jitter);
            prop_assert_eq!(ours.rr_value(), f.rr());
            let scaled = f64::from(n.jitter) / 16.0;
            prop_assert!((scaled - f.jitter).abs() <= 0.5 + 1e-9, "int {} float {}", scaled, f.jitter);
            prop_assert!(n.rr().abs_diff(f.rr()) <= 1);
        }
        prop_assert_eq!(ours.samples(), pkts.len() as u64 - 1);
    }

    #[test]
    fn jitter_matches_a8_on_nanosecond_arrivals(
        start_ns in 0i64..1_000_000_000_000_000,
        start_ts in any::<u32>(),
        rate in prop_oneof![Just(8000u32), Just(48_000), Just(90_000), 1u32..200_000],
        steps in prop::collection::vec((0i64..60_000_000, -5000i32..5000), 1..300),
    ) {
        let mut ours = Jitter::new();
        let mut lit: Option<JitterFloat> = None;
        let (mut ns, mut ts) = (start_ns, start_ts);
        for (k, &(dns, dts)) in std::iter::once(&(0, 0)).chain(&steps).enumerate() {
            ns += dns;
            ts = ts.wrapping_add_signed(dts);
            ours.update(ns, ts, rate);
            // The receiver's clock in timestamp units, modulo 2^32.
            let arrival = (i128::from(ns) * i128::from(rate) / NANOS) as u32;
            match lit.as_mut() {
                Some(l) => l.update(arrival, ts),
                None => lit = Some(JitterFloat::first(arrival, ts)),
            }
            let l = lit.map_or(0.0, |l| l.jitter);
            prop_assert!((ours.jitter_ts() - l).abs() < 1.0, "packet {}: ours {} literal {}", k, ours.jitter_ts(), l);
        }
    }
}
