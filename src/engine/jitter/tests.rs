//! Unit tests for [`super::Jitter`].

use super::*;

const MS: i64 = 1_000_000;

#[test]
fn perfect_stream_has_zero_jitter() {
    let mut j = Jitter::new();
    for i in 0..100u32 {
        j.update(i64::from(i) * 20 * MS, 1000 + i * 160, 8000);
    }
    assert_eq!(j.jitter_ts(), 0.0);
    assert_eq!(j.samples(), 99);
    assert_eq!(j.rr_value(), 0);
    assert_eq!(j.mean_secs(8000), 0.0);
}

#[test]
fn single_late_packet_follows_the_recurrence() {
    let mut j = Jitter::new();
    j.update(0, 0, 8000);
    j.update(20 * MS, 160, 8000);
    // 10 ms late = 80 units: J = 80/16 = 5.
    j.update(50 * MS, 320, 8000);
    assert_eq!(j.jitter_ts(), 5.0);
    // Back on time: D = -80 → |D| = 80, J = 5 + (80 - 5)/16.
    j.update(60 * MS, 480, 8000);
    assert_eq!(j.jitter_ts(), 5.0 + 75.0 / 16.0);
    assert_eq!(j.rr_value(), 9);
    assert!((j.jitter_secs(8000) - j.jitter_ts() / 8000.0).abs() < 1e-15);
    assert_eq!(j.max_secs(8000), j.jitter_secs(8000));
    let mean = (0.0 + 5.0 + (5.0 + 75.0 / 16.0)) / 3.0 / 8000.0;
    assert!((j.mean_secs(8000) - mean).abs() < 1e-15);
}

#[test]
fn timestamp_wrap_is_handled() {
    let mut j = Jitter::new();
    let start = u32::MAX - 1000;
    for i in 0..50u32 {
        j.update(i64::from(i) * 20 * MS, start.wrapping_add(i * 960), 48_000);
    }
    assert_eq!(j.jitter_ts(), 0.0);
}

#[test]
fn reordered_packets_are_taken_in_arrival_order() {
    let mut j = Jitter::new();
    // Packets 0, 2, 1 arriving 0, 20, 40 ms; 1 and 2 swapped on the wire.
    j.update(0, 0, 8000);
    j.update(20 * MS, 320, 8000); // D = 160 - 320 = -160
    j.update(40 * MS, 160, 8000); // D = 160 + 160 = 320
    assert_eq!(j.jitter_ts(), 10.0 + (320.0 - 10.0) / 16.0);
}

#[test]
fn ninety_khz_nanosecond_precision() {
    // 90 kHz: 1 unit = 11111.1 ns; arrivals exactly on 1/30 s frame times stay exact.
    let mut j = Jitter::new();
    let base = 1_700_000_000 * 1_000_000_000i64;
    for i in 0..300i64 {
        j.update(base + i * 1_000_000_000 / 30, (i * 3000) as u32, 90_000);
    }
    assert!(j.jitter_ts() < 1e-3, "{}", j.jitter_ts());
}

#[test]
fn zero_clock_rate_is_ignored() {
    let mut j = Jitter::new();
    j.update(0, 0, 0);
    j.update(1, 99, 0);
    assert_eq!(j.samples(), 0);
    assert_eq!(j.jitter_secs(0), 0.0);
    assert_eq!(j.mean_secs(0), 0.0);
}

#[test]
fn extreme_inputs_do_not_panic() {
    let mut j = Jitter::new();
    j.update(i64::MIN, 0, u32::MAX);
    j.update(i64::MAX, u32::MAX, u32::MAX);
    j.update(i64::MIN, 7, u32::MAX);
    assert!(j.jitter_ts().is_finite());
    let _ = j.rr_value();
}
