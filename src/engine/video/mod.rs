//! Video experience from RTP headers: frames, frame rate, frame intervals, freezes and pauses.
//!
//! Works from the RTP header alone, so it works on SRTP (RFC 3711 leaves the header in
//! clear). A **frame** is the run of packets that share one RTP timestamp (RFC 3550 §5.1: all
//! packets of a video frame carry its sampling instant; the marker bit flags its last packet,
//! RFC 3551 §5). It is counted, and timed, at its *first* packet: a timestamp newer than every
//! frame so far (wrapping comparison, RFC 1982 style) starts a frame, and the interval from the
//! previous frame's first packet is its **frame interval**. So:
//! * a lost packet loses nothing unless it was a whole frame (then the next frame's interval is
//!   longer, as a receiver's would be); a lost marker packet loses nothing either;
//! * a packet of an older frame that arrives late (reordering) is recognised by a ring of the
//!   last [`RECENT_FRAMES`] timestamps and ignored; if its timestamp is not in the ring, every
//!   earlier packet of that frame was lost or is later still: the frame is counted, not timed;
//! * duplicates repeat a known timestamp and are ignored.
//!
//! The marker bit travels with the header fields ([`super::RtpMeta::marker`]) but counting does
//! not need it: a frame starts where the timestamp changes, which also holds when the marker
//! packet was lost; the marker alone could only split frames of one timestamp, which video
//! payload formats do not send (RFC 3551 §5: the packets of one frame share its timestamp).
//!
//! **Freezes** follow the W3C webrtc-stats definition of `freezeCount` and
//! `totalFreezesDuration` as libwebrtc implements it (`video/video_quality_observer2.cc`,
//! `VideoQualityObserver::OnRenderedFrame`): each inter-frame delay, in whole milliseconds, is
//! added to a moving window of the last 30 (`kAvgInterframeDelaysWindowSizeFrames`); once it
//! holds 5 (`kMinFrameSamplesToDetectFreeze`), a delay is a freeze when it is ≥ max(3 × avg,
//! avg + 150 ms) (`kMinIncreaseForFreezeMs`), avg being the window's mean rounded down, the
//! delay itself included; its duration is the delay. Where libwebrtc times the *rendering* of
//! frames, the probe times their first packet's arrival: a receiver's jitter buffer smooths
//! what it can, so the probe sees at least the freezes of the network.
//! **Pauses** are webrtc-stats' `pauseCount`/`totalPausesDuration`: no frame for more than
//! 5 s. A pause is not a freeze and, as in libwebrtc, does not enter the window.
//!
//! Per packet: O(1), no allocation (the state is boxed once per stream). Which streams get it:
//! clock rate 90000 (RFC 3551 static video types, or `[payload_types]`), when they are created;
//! and streams of dynamic types whose rate is still being inferred: their frames are tracked
//! from the first packet and reported only if the inferred rate turns out to be 90000, so an
//! O(1) tracker runs beside the inference rather than a decision being made late and the first
//! frames lost. For those the box is made at the second packet, fed the first (kept meanwhile
//! beside the inference) and the second: a flood of single-packet streams of unknown rate
//! costs no tracker.
//!
//! Keyframes and resolution come from the payload ([`payload`]), where the triage step could
//! read it: unencrypted VP8, VP9, H.264, AV1 of a payload type known as video.

pub mod hist;
pub mod payload;

#[cfg(test)]
mod tests;

use hist::Hist;
pub use payload::{Codec, Hint};
use serde::Serialize;

/// Timestamps of the most recent frames remembered to recognise late packets.
pub const RECENT_FRAMES: usize = 8;
/// libwebrtc `kAvgInterframeDelaysWindowSizeFrames`.
pub const WINDOW: usize = 30;
/// libwebrtc `kMinFrameSamplesToDetectFreeze`.
pub const MIN_SAMPLES_FOR_FREEZE: usize = 5;
/// libwebrtc `kMinIncreaseForFreezeMs`.
pub const MIN_FREEZE_INCREASE_MS: u64 = 150;
/// webrtc-stats `pauseCount`: no frame for longer than this is a pause.
pub const PAUSE_MS: u64 = 5_000;

/// Frame state of one video stream (about 0.9 KiB, boxed).
#[derive(Debug, Clone, Default)]
pub struct Video {
    frames: u64,
    /// Timestamp and first packet arrival (ns) of the newest frame, and of the first one.
    cur_ts: u32,
    cur_start_ns: i64,
    first_start_ns: i64,
    recent: [u32; RECENT_FRAMES],
    recent_next: u8,
    /// libwebrtc's moving window of inter-frame delays (ms): ring, length, sum.
    window: [u32; WINDOW],
    window_next: u8,
    window_len: u8,
    window_sum: u64,
    /// Sum of all frame intervals (ns), for the mean.
    interval_sum_ns: i64,
    freezes: u64,
    freeze_ms: u64,
    pauses: u64,
    pause_ms: u64,
    keyframes: u64,
    /// Timestamp of the last keyframe counted (a keyframe spans several packets).
    last_key_ts: Option<u32>,
    /// Latest resolution the payload gave, 0 × 0 if none.
    width: u16,
    height: u16,
    /// A payload parser ran on this stream's packets (keyframes are then known, maybe 0).
    parsed: bool,
    hist: Hist,
}

impl Video {
    /// Account one packet of the stream's main payload type, captured at `now`.
    #[inline]
    pub fn on_packet(&mut self, now: i64, ts: u32, hint: Hint) {
        if hint.parsed() {
            self.on_hint(ts, hint);
        }
        if self.frames == 0 {
            self.frames = 1;
            self.cur_ts = ts;
            self.cur_start_ns = now;
            self.first_start_ns = now;
            self.remember(ts);
            return;
        }
        if ts == self.cur_ts {
            return;
        }
        if (ts.wrapping_sub(self.cur_ts) as i32) < 0 {
            // An older frame: a late packet of one already counted, or the first seen of one.
            if !self.recent.contains(&ts) {
                self.frames += 1;
                self.remember(ts);
            }
            return;
        }
        self.frames += 1;
        self.remember(ts);
        // Capture time may go backwards (merged captures): such an interval counts as 0.
        let d_ns = now.saturating_sub(self.cur_start_ns).max(0);
        self.cur_ts = ts;
        self.cur_start_ns = now;
        self.on_interval(d_ns);
    }

    #[cold]
    fn on_hint(&mut self, ts: u32, hint: Hint) {
        self.parsed = true;
        if hint.keyframe() && self.last_key_ts != Some(ts) {
            self.keyframes += 1;
            self.last_key_ts = Some(ts);
        }
        if let Some((w, h)) = hint.resolution() {
            (self.width, self.height) = (w, h);
        }
    }

    fn remember(&mut self, ts: u32) {
        let i = usize::from(self.recent_next) % RECENT_FRAMES;
        if let Some(slot) = self.recent.get_mut(i) {
            *slot = ts;
        }
        self.recent_next = ((i + 1) % RECENT_FRAMES) as u8;
    }

    /// One inter-frame delay: histogram, pause, libwebrtc's freeze rule.
    fn on_interval(&mut self, d_ns: i64) {
        self.interval_sum_ns = self.interval_sum_ns.saturating_add(d_ns);
        // Whole milliseconds, as libwebrtc's `interframe_delay_ms`.
        let ms = (d_ns / 1_000_000) as u64;
        self.hist.add(ms);
        if ms > PAUSE_MS {
            self.pauses += 1;
            self.pause_ms += ms;
            return;
        }
        let ms32 = ms as u32; // ≤ PAUSE_MS
        let i = usize::from(self.window_next) % WINDOW;
        if let Some(slot) = self.window.get_mut(i) {
            if usize::from(self.window_len) == WINDOW {
                self.window_sum -= u64::from(*slot);
            } else {
                self.window_len += 1;
            }
            *slot = ms32;
            self.window_sum += ms;
        }
        self.window_next = ((i + 1) % WINDOW) as u8;
        let n = u64::from(self.window_len);
        if n as usize >= MIN_SAMPLES_FOR_FREEZE {
            let avg = self.window_sum / n;
            if ms >= (3 * avg).max(avg + MIN_FREEZE_INCREASE_MS) {
                self.freezes += 1;
                self.freeze_ms += ms;
            }
        }
    }

    /// The video figures of the stream as they stand. `bytes` and `span_ns` are the stream's
    /// (for the bitrate), `keyframe_requests` its PLIs and FIRs.
    pub fn record(&self, bytes: u64, span_ns: i64, keyframe_requests: u64) -> VideoRecord {
        let frame_span_ns = self.cur_start_ns.saturating_sub(self.first_start_ns);
        let timed = self.hist.count();
        VideoRecord {
            frames: self.frames,
            frame_rate: (timed > 0 && frame_span_ns > 0)
                .then(|| timed as f64 * 1e9 / frame_span_ns as f64),
            frame_interval_mean_ms: (timed > 0)
                .then(|| self.interval_sum_ns as f64 / 1e6 / timed as f64),
            frame_interval_p95_ms: self.hist.quantile(0.95, None),
            freeze_count: self.freezes,
            freeze_duration_ms: self.freeze_ms,
            pauses: self.pauses,
            pause_duration_ms: self.pause_ms,
            keyframes: self.parsed.then_some(self.keyframes),
            width: (self.width > 0).then_some(self.width),
            height: (self.height > 0).then_some(self.height),
            bitrate_bps: (span_ns > 0).then(|| bytes as f64 * 8e9 / span_ns as f64),
            keyframe_requests,
            hist: Box::new(self.hist.clone()),
        }
    }
}

/// The `video` object of a stream record (docs/output.md, "video").
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VideoRecord {
    /// Frames seen: distinct RTP timestamps.
    pub frames: u64,
    /// Frames per second: frame intervals over the time from the first frame to the last.
    pub frame_rate: Option<f64>,
    pub frame_interval_mean_ms: Option<f64>,
    /// 95th percentile of the frame intervals (upper edge of its bucket, [`hist`]).
    pub frame_interval_p95_ms: Option<u64>,
    pub freeze_count: u64,
    pub freeze_duration_ms: u64,
    pub pauses: u64,
    pub pause_duration_ms: u64,
    /// Keyframes from the payload; null when the payload is not parsed (encrypted, unknown codec).
    pub keyframes: Option<u64>,
    pub width: Option<u16>,
    pub height: Option<u16>,
    /// UDP payload bits per second over the stream's life.
    pub bitrate_bps: Option<f64>,
    /// PLIs and FIRs about the stream (the same ones as in `feedback`).
    pub keyframe_requests: u64,
    /// The frame interval histogram, for interval records' percentiles (not in the JSON).
    #[serde(skip)]
    pub hist: Box<Hist>,
}
