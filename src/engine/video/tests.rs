//! Unit tests of [`super::Video`]: frames, reordering, freezes (libwebrtc's rule), pauses.

use super::hist::{index, upper};
use super::*;

const MS: i64 = 1_000_000;

/// Feed frames starting at `starts` (ms), `per_frame` packets 1 ms apart, 3000 ticks apart.
fn feed(v: &mut Video, starts: &[i64], per_frame: i64) {
    for (i, &t) in starts.iter().enumerate() {
        for k in 0..per_frame {
            v.on_packet((t + k) * MS, 3000 * i as u32, Hint::default());
        }
    }
}

/// The freeze rule as libwebrtc's `VideoQualityObserver` states it, over a whole list.
fn reference(starts: &[i64]) -> (u64, u64, u64, u64) {
    let (mut window, mut freezes, mut freeze_ms, mut pauses, mut pause_ms) =
        (Vec::new(), 0, 0, 0, 0);
    for w in starts.windows(2) {
        let d = (w[1] - w[0]) as u64;
        if d > 5000 {
            pauses += 1;
            pause_ms += d;
            continue;
        }
        window.push(d);
        let last: Vec<u64> = window.iter().rev().take(30).copied().collect();
        if last.len() >= 5 {
            let avg = last.iter().sum::<u64>() / last.len() as u64;
            if d >= (3 * avg).max(avg + 150) {
                freezes += 1;
                freeze_ms += d;
            }
        }
    }
    (freezes, freeze_ms, pauses, pause_ms)
}

#[test]
fn frames_span_packets_and_freezes_follow_libwebrtc() {
    // 30 frames/s (33 or 34 ms), a 400 ms freeze after frame 40, a 6 s pause after frame 80,
    // a 200 ms hiccup right after the pause (the window restarts nothing: 200 < 3 × 33).
    let mut starts = vec![0i64];
    for i in 1..120 {
        let step = match i {
            41 => 400,
            81 => 6000,
            82 => 200,
            _ if i % 3 == 0 => 34,
            _ => 33,
        };
        starts.push(starts[i - 1] + step);
    }
    let mut v = Video::default();
    feed(&mut v, &starts, 3);
    let r = v.record(0, 0, 0);
    assert_eq!(r.frames, 120);
    let (f, fms, p, pms) = reference(&starts);
    assert_eq!((f, fms, p, pms), (2, 600, 1, 6000), "the reference itself");
    assert_eq!(
        (
            r.freeze_count,
            r.freeze_duration_ms,
            r.pauses,
            r.pause_duration_ms
        ),
        (f, fms, p, pms)
    );
    let mut d: Vec<u64> = starts.windows(2).map(|w| (w[1] - w[0]) as u64).collect();
    d.sort_unstable();
    let rank = (0.95 * d.len() as f64).ceil() as usize;
    assert_eq!(r.frame_interval_p95_ms, Some(upper(index(d[rank - 1]))));
    let span = (starts[119] - starts[0]) as f64 / 1e3;
    assert!((r.frame_rate.unwrap() - 119.0 / span).abs() < 1e-9);
}

#[test]
fn reordering_loss_and_duplicates() {
    let mut v = Video::default();
    let p = |v: &mut Video, ms: i64, ts: u32| v.on_packet(ms * MS, ts, Hint::default());
    p(&mut v, 0, 0);
    p(&mut v, 33, 3000);
    p(&mut v, 34, 0); // late packet of frame 0
    p(&mut v, 35, 3000); // duplicate
                         // Frame 6000 lost entirely; 12000 arrives before 9000.
    p(&mut v, 100, 12000);
    p(&mut v, 101, 9000); // first seen late: counted, not timed
    p(&mut v, 102, 9000);
    p(&mut v, 133, 15000);
    let r = v.record(0, 0, 0);
    assert_eq!(r.frames, 5, "0, 3000, 9000, 12000, 15000");
    assert_eq!(v.hist.count(), 3, "intervals 33, 67, 33 ms");
    // Timestamps wrap.
    let mut w = Video::default();
    p(&mut w, 0, u32::MAX - 1000);
    p(&mut w, 33, 2000);
    assert_eq!(w.record(0, 0, 0).frames, 2);
}

#[test]
fn keyframes_once_per_frame_and_resolution() {
    let mut v = Video::default();
    let mut key = Hint::empty();
    key.set_keyframe();
    key.set_resolution(640, 360);
    for k in 0..3 {
        v.on_packet(k, 0, key);
    }
    v.on_packet(33 * MS, 3000, Hint::empty());
    let r = v.record(1000, 1_000_000_000, 2);
    assert_eq!(r.keyframes, Some(1));
    assert_eq!((r.width, r.height), (Some(640), Some(360)));
    assert_eq!(r.bitrate_bps, Some(8000.0));
    assert_eq!(r.keyframe_requests, 2);
    // Without parsing: unknown, not zero.
    assert_eq!(Video::default().record(0, 0, 0).keyframes, None);
}

/// The boxed state's size (docs/benchmarks.md, "Memory per stream"), and the hint's.
#[test]
fn sizes_are_pinned() {
    assert_eq!(std::mem::size_of::<Video>(), 912);
    assert_eq!(std::mem::size_of::<Hint>(), 6);
    assert_eq!(std::mem::size_of::<crate::engine::RtpMeta>(), 88);
}
