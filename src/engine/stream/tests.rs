//! Unit tests of [`super::Stream`]: layout (hot part, inline size) and probe-drop flags.

use super::*;
use std::mem::{offset_of, size_of};

/// Everything an in-order RTP packet touches lies before `key`: two cache lines at most.
#[test]
fn hot_part_fits_two_cache_lines() {
    assert_eq!(offset_of!(Stream, packets), 0);
    assert!(
        offset_of!(Stream, key) <= 128,
        "hot part: {} bytes",
        offset_of!(Stream, key)
    );
    assert_eq!(size_of::<SeqTracker>(), 40);
    assert_eq!(size_of::<Jitter>(), 48);
}

fn stream() -> Stream {
    let key = StreamKey {
        src: ([10, 0, 0, 1], 4000).into(),
        dst: ([10, 0, 0, 2], 5000).into(),
        ssrc: 1,
        point: crate::engine::ObservationPoint::CAPTURE,
    };
    Stream::new(key, 0, 0, 1, 0, &Resolved::default())
}

/// Capture drops are noted once in the engine: a stream is flagged by those after it
/// became live, and reports whichever drop came last, its own or a capture drop.
#[test]
fn capture_drops_flag_streams_live_at_the_time() {
    let at = |s: &Stream, count, last_at| s.probe_drop_at(CaptureDrops { count, last_at });
    let mut s = stream();
    s.set_capture_drops_seen(3);
    assert_eq!(at(&s, 3, 50), None, "drops before it was live");
    assert_eq!(at(&s, 4, 70), Some(70));
    s.on_probe_drop(80, 2, 4);
    assert_eq!(at(&s, 4, 70), Some(80), "its own drop came last");
    assert_eq!(at(&s, 5, 90), Some(90), "then a capture drop");
    let mut t = stream();
    t.on_probe_drop(10, 1, 0);
    assert_eq!(at(&t, 0, 0), Some(10));
    let r = t.record(
        EndReason::Idle,
        None,
        CaptureDrops {
            count: 2,
            last_at: 20,
        },
    );
    assert_eq!(
        (r.probe_drop, r.probe_drop_at_ns, r.probe_dropped),
        (true, Some(20), 1)
    );
}

/// What each slab entry holds inline; the rest is boxed on first use ([`Cold`]).
#[test]
fn inline_size_is_pinned() {
    // 248 before the observation point joined the key (issue 10), 256 before the audio box
    // pointer (issue 14).
    assert_eq!(size_of::<Stream>(), 264);
    assert_eq!(size_of::<Option<Stream>>(), size_of::<Stream>());
    // 384 before issue 14: + 48 for the `xr` RTT statistics, + 8 for the boxed XR VoIP block,
    // + 8 for the video frame tracker's box (in what was padding). 448 before the first SR
    // kept for the clock drift finding (8 bytes) and the codec the call's SDP named (issue 13,
    // 8 bytes), each rounded up to the 16-byte alignment.
    assert_eq!(size_of::<Cold>(), 464);
}
