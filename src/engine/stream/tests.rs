//! Unit tests of [`super::Stream`]: layout (hot part, inline size) and probe-drop flags.

use super::*;
use crate::engine::EndReason;
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

/// The RTP marker bit reaches the audio state (RFC 3551 §4.1: the first packet of a
/// talkspurt): after a silence whose last packet was lost (so no timestamp step between
/// consecutive sequence numbers shows the silence), the path is 200 ms slower; the marked
/// packet starts a talkspurt and the fixed 60 ms buffer re-anchors there instead of
/// discarding the whole talkspurt as late.
#[test]
fn marker_starts_a_talkspurt_in_the_jitter_buffers() {
    use crate::engine::{Engine, RtpMeta};
    const MS: i64 = 1_000_000;
    let t0 = 1_700_000_000_000_000_000i64;
    let late_with = |marker_bit: bool| {
        let mut e = Engine::new(Resolved::default());
        let mut send = |seq: u16, sent_ms: i64, delay_ms: i64, marker: bool| {
            let m = RtpMeta {
                src: ([10, 0, 0, 1], 4000).into(),
                dst: ([10, 0, 0, 2], 5000).into(),
                ssrc: 7,
                seq,
                pt: 0,
                ts: (sent_ms * 8) as u32,
                wire_len: 172,
                point: crate::engine::ObservationPoint::CAPTURE,
                marker,
                hint: Default::default(),
            };
            e.on_rtp_meta(t0 + (sent_ms + delay_ms) * MS, &m);
        };
        // Talkspurt 1: seq 0..=49, 20 ms apart, 10 ms on the path. Seq 50 (its last) is lost.
        for k in 0..50u16 {
            send(k, i64::from(k) * 20, 10, false);
        }
        // One second of silence, then talkspurt 2 (seq 51..=100), 210 ms on the path.
        for k in 51..=100u16 {
            let sent = 2_000 + i64::from(k - 51) * 20;
            send(k, sent, 210, marker_bit && k == 51);
        }
        e.finish_all();
        let r = &e.drain_finished()[0].1;
        r.jitter_buffer.map(|j| j.fixed_late)
    };
    assert_eq!(late_with(true), Some(0), "the marked packet re-anchors");
    assert_eq!(
        late_with(false),
        Some(50),
        "without it the talkspurt is late"
    );
}
