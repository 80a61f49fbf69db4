//! One RTP stream's state: sequence accounting, jitter, clock rate, RTCP-derived facts.
//!
//! A stream is (source addr:port, destination addr:port, SSRC): the same SSRC relayed on two
//! legs is two streams. All methods take the capture time; nothing here reads a clock, and the
//! per-packet path ([`Stream::on_rtp`]) never allocates.

use super::audio::{Audio, AudioRecord};
use super::clock::{static_clock_rate, ClockRateEstimator, COMMON_RATES};
use super::jitter::Jitter;
use super::record::{Feedback, SenderInfo};
use super::rtt::{RttStats, SrHistory};
use super::seq::{SeqEvent, SeqTracker};
use super::video::{Hint, Video};
use super::{RtpMeta, StreamKey};
use crate::config::Resolved;
use std::num::NonZeroU32;

/// Kernel or interface drops the engine was told about ([`super::Engine::on_capture_drop`]):
/// which streams lost packets is unknown, so every stream live at the time is flagged. Kept
/// once in the engine, not written into every stream: each stream compares the count with the
/// one it saw when it became live.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaptureDrops {
    pub count: u64,
    pub last_at: i64,
}

/// The RTP clock rate of video (RFC 3551 §5).
const VIDEO_RATE: u32 = 90_000;
/// Payload types remembered per stream.
const MAX_PTS: usize = 8;
/// Extended sequence numbers of the most recent duplicates, to tell how many of the probe's
/// duplicates lie above a receiver report's highest sequence number.
const RECENT_DUPS: usize = 16;

/// Clock-rate inference for a dynamic payload type without configuration. The estimate keeps
/// improving over the whole stream (longer spans between early and recent timestamps), so it is
/// read only when the record is built; meanwhile jitter is computed for every common rate at
/// once, so the reported jitter covers the stream from its first packet whatever rate wins.
#[derive(Debug, Clone)]
struct Inference {
    estimator: ClockRateEstimator,
    jitter: [Jitter; COMMON_RATES.len()],
    /// The first packet's frame facts (capture time, RTP timestamp, payload hint), kept until a
    /// second packet comes: only then does the stream get its video tracker ([`Stream::on_video`]),
    /// so that a flood of single-packet streams of unknown rate costs no cold box and no tracker.
    first_frame: Option<(i64, u32, Hint)>,
}

/// Where the clock rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockSource {
    Static,
    Config,
    Inferred,
    /// Signalled by the call's SDP (`a=rtpmap`, [`super::sdp`]).
    Sdp,
}

impl ClockSource {
    pub fn name(self) -> &'static str {
        match self {
            ClockSource::Static => "static",
            ClockSource::Config => "config",
            ClockSource::Inferred => "inferred",
            ClockSource::Sdp => "sdp",
        }
    }
}

/// The last report block received about this stream.
#[derive(Debug, Clone, Copy)]
pub struct Remote {
    pub fraction_lost: u8,
    pub cumulative_lost: i32,
    pub ext_highest_seq: u32,
    pub jitter: u32,
    pub reports: u64,
    /// Loss after the probe computed at the last report, if the report's range was tracked.
    pub downstream: Option<i64>,
}

/// What only some streams need, or only RTCP and rare events touch: boxed, allocated on first
/// use ([`Stream::cold_mut`]), so that a stream with no RTCP costs its inline part only.
#[derive(Debug, Clone, Default)]
pub struct Cold {
    pub srs: SrHistory,
    /// The sender's first SR: the middle 32 bits of its NTP timestamp (16.16 s, 0: none yet)
    /// and its RTP timestamp; with the latest SR, the sender's clock drift. 8 bytes: the
    /// middle bits wrap every 18 hours, far beyond a call.
    pub first_sr: [u32; 2],
    pub sender: Option<SenderInfo>,
    pub remote: Option<Remote>,
    /// One per [`RttMethod`](super::rtt::RttMethod) but `stun` (STUN round trips are per
    /// 5-tuple pair, in the engine).
    pub rtt: [RttStats; 4],
    /// The receiver's latest RTCP XR VoIP metrics block about this stream (RFC 3611 §4.7);
    /// boxed: few streams get one, and every stream with RTCP pays for `Cold`.
    pub xr_voip: Option<Box<super::xr::XrVoip>>,
    /// SSRC that wrote the report block of the latest `capture_point` sample: which RTCP
    /// session this leg belongs to (a relay forwarding RTCP shows one reporter on two legs).
    pub cp_reporter: Option<u32>,
    pub feedback: Feedback,
    pub cname: Option<String>,
    pub srtcp: bool,
    /// Extended sequence numbers of the most recent duplicates (ring by duplicate count), to
    /// tell how many of the probe's duplicates lie above a receiver report's highest.
    recent_dups: Option<Box<[u64; RECENT_DUPS]>>,
    /// RTP packets of this stream the probe itself dropped (pipeline queue full).
    probe_dropped: u64,
    /// Capture time of the latest probe drop that may have hit this stream, if any, and the
    /// engine's count of capture drops then (to tell which came last, see [`Stream::record`]).
    probe_drop_at: Option<(i64, u64)>,
    /// The latest capture time of any packet, once capture time went backwards (before,
    /// it is `last_seen`).
    latest_seen: i64,
    /// Frames, freezes, pauses ([`super::video`]): streams of clock rate 90000 get it when they
    /// are created, streams of a rate being inferred at their second packet (the first one
    /// waits in [`Inference`]).
    video: Option<Box<Video>>,
    /// The voice codec the call's SDP named for the stream's first payload type, if any.
    sdp_codec: Option<&'static super::emodel::Codec>,
}

/// All state of one stream.
///
/// `repr(C)` keeps the declaration order: the first 128 bytes (two cache lines) hold
/// everything an RTP packet in order touches, the sequence tracker's hot part included; the
/// rest of the inline part is read per packet only on rare paths (another payload type,
/// capture time going backwards, probation), and [`Cold`] (RTCP, RTT, remote report, feedback,
/// CNAME, duplicates, probe drops) is boxed on first use. With thousands of interleaved streams
/// each packet finds its stream cold in the cache, so the number of cache lines it touches is
/// what the per-packet cost is made of, and the inline size is what a table of them costs.
#[derive(Debug, Clone)]
#[repr(C)]
pub struct Stream {
    pub packets: u64,
    pub bytes: u64,
    pub last_seen: i64,
    max_gap_ns: i64,
    jitter: Jitter,
    pub seq: SeqTracker,
    /// Known clock rate (static or configured); None while inferring.
    clock_rate: Option<NonZeroU32>,
    main_pt: u8,
    n_pts: u8,
    clock_source: Option<ClockSource>,
    /// Capture time went backwards at some packet: `first_seen` and `latest_seen` need
    /// updating on every packet from then on.
    went_back: bool,
    // ---- end of the hot part (see `hot_part_fits_two_cache_lines`) ----
    pub key: StreamKey,
    /// Audio experience state ([`super::audio`]), boxed when the stream passes probation
    /// ([`Stream::start_audio`]); never for 90 kHz (video) streams. Right after the key, which
    /// the table's lookup has just read: the pointer costs no cache line of its own.
    audio: Option<Box<Audio>>,
    /// The engine's capture drop count when the stream became live (wrapping; it fits beside
    /// the key).
    capture_drops_seen: u32,
    /// Order of first appearance, for output ordering.
    pub order: u64,
    /// Earliest capture time of any packet: what records report as `first_seen`, so that a
    /// capture going backwards in time never gives `last_seen` before `first_seen`.
    /// (`last_seen`, the time of the latest packet to *arrive*, is what idle expiry and gaps
    /// use; the latest time of any packet is [`Stream::latest_seen`].)
    pub first_seen: i64,
    /// Bytes of the current A.1 probation run, to take back out of `bytes` with its packets if a
    /// jump restarts probation (the run is then never counted).
    probation_bytes: u64,
    pts: [u8; MAX_PTS],
    /// Boxed: only streams of unconfigured dynamic payload types need it (about 1.5 KiB).
    inference: Option<Box<Inference>>,
    cold: Option<Box<Cold>>,
}

impl Stream {
    /// A stream seen for the first time; `first_seq` starts RFC 3550 A.1 probation.
    pub fn new(
        key: StreamKey,
        order: u64,
        now: i64,
        first_seq: u16,
        pt: u8,
        cfg: &Resolved,
    ) -> Self {
        let (clock_rate, clock_source) = match (cfg.clock_rate(pt), static_clock_rate(pt)) {
            (Some(r), _) => (NonZeroU32::new(r), Some(ClockSource::Config)),
            (None, Some(r)) => (NonZeroU32::new(r), Some(ClockSource::Static)),
            (None, None) => (None, None),
        };
        Stream {
            key,
            order,
            seq: SeqTracker::new(first_seq),
            jitter: Jitter::new(),
            clock_rate,
            clock_source: clock_rate.and(clock_source),
            inference: clock_rate.is_none().then(|| {
                Box::new(Inference {
                    estimator: ClockRateEstimator::new(),
                    jitter: std::array::from_fn(|_| Jitter::new()),
                    first_frame: None,
                })
            }),
            main_pt: pt,
            pts: [0; MAX_PTS],
            n_pts: 0,
            packets: 0,
            bytes: 0,
            first_seen: now,
            last_seen: now,
            went_back: false,
            max_gap_ns: 0,
            probation_bytes: 0,
            capture_drops_seen: 0,
            // Video: the frame tracker from the first packet (maybe video, rate unknown: from
            // the second, [`Stream::on_video`]).
            cold: (clock_rate.map(NonZeroU32::get) == Some(VIDEO_RATE)).then(|| {
                Box::new(Cold {
                    video: Some(Box::default()),
                    ..Cold::default()
                })
            }),
            audio: None,
        }
    }

    /// A packet [`Stream::on_rtp`] counted (not an A.1 "bad" one): video frames, for streams
    /// of clock rate 90000 or a rate still being inferred, and the main payload type only.
    /// Audio of a known rate returns after one comparison in the hot part.
    #[inline]
    pub fn on_video(&mut self, now: i64, m: &RtpMeta) {
        if self.clock_rate.is_some_and(|r| r.get() != VIDEO_RATE) || m.pt != self.main_pt {
            return;
        }
        if let Some(v) = self
            .cold
            .as_deref_mut()
            .and_then(|c| c.video.as_deref_mut())
        {
            v.on_packet(now, m.ts, m.hint);
            return;
        }
        self.start_video(now, m);
    }

    /// A stream of unknown rate without a video tracker yet: its first packet waits in the
    /// inference box; at the second the tracker is made and fed both, in order (what it would
    /// have seen from the first packet on).
    #[cold]
    fn start_video(&mut self, now: i64, m: &RtpMeta) {
        let Some(inf) = self.inference.as_deref_mut() else {
            return;
        };
        let Some((at, ts, hint)) = inf.first_frame.take() else {
            inf.first_frame = Some((now, m.ts, m.hint));
            return;
        };
        let mut v = Box::<Video>::default();
        v.on_packet(at, ts, hint);
        v.on_packet(now, m.ts, m.hint);
        self.cold_mut().video = Some(v);
    }

    /// The video tracker: the stream's, or one fed the single packet a stream of unknown rate
    /// has seen so far ([`Stream::start_video`]).
    fn video(&self) -> Option<std::borrow::Cow<'_, Video>> {
        if let Some(v) = self.cold().and_then(|c| c.video.as_deref()) {
            return Some(std::borrow::Cow::Borrowed(v));
        }
        let (at, ts, hint) = self.inference.as_deref()?.first_frame?;
        let mut v = Video::default();
        v.on_packet(at, ts, hint);
        Some(std::borrow::Cow::Owned(v))
    }

    /// The clock rate (and codec) the call's SDP signalled for the first payload type: it
    /// replaces the configured, static or inferred one (docs/calls.md, precedence). Call it
    /// right after [`Stream::new`], before any packet is counted.
    pub fn set_sdp(&mut self, rate: u32, codec: Option<&'static super::emodel::Codec>) {
        let Some(r) = NonZeroU32::new(rate) else {
            return;
        };
        self.clock_rate = Some(r);
        self.clock_source = Some(ClockSource::Sdp);
        self.inference = None;
        let cold = self.cold_mut();
        cold.sdp_codec = codec;
        if rate != VIDEO_RATE {
            cold.video = None;
        } else if cold.video.is_none() {
            cold.video = Some(Box::default());
        }
    }

    /// The voice codec the SDP named, if any.
    pub fn sdp_codec(&self) -> Option<&'static super::emodel::Codec> {
        self.cold.as_deref().and_then(|c| c.sdp_codec)
    }

    /// The cold part, allocated on first use.
    pub fn cold_mut(&mut self) -> &mut Cold {
        self.cold.get_or_insert_with(Box::default)
    }

    /// The cold part, if anything needed it yet.
    pub fn cold(&self) -> Option<&Cold> {
        self.cold.as_deref()
    }

    /// Latest capture time of any packet (`last_seen` unless capture time went backwards).
    pub fn latest_seen(&self) -> i64 {
        match self.cold() {
            Some(c) if self.went_back => c.latest_seen,
            _ => self.last_seen,
        }
    }

    /// Keeps `first_seen` and the latest time right when capture time goes backwards (rare:
    /// merged captures). Before it first does, the latest time is `last_seen`.
    #[cold]
    fn note_time(&mut self, now: i64) {
        self.first_seen = self.first_seen.min(now);
        let latest = self.latest_seen().max(now);
        self.went_back = true;
        self.cold_mut().latest_seen = latest;
    }

    /// Account one RTP packet. The first packet of the stream was passed to [`Stream::new`] and
    /// must be passed here too. Returns the sequence event.
    ///
    /// `packets` (and `bytes`) count exactly what the sequence tracker counts as received, so
    /// that `packets == expected - lost` (RFC 3550 A.3, duplicates included) once the stream is
    /// valid: A.1 "bad" packets are left out ([`SeqEvent::Bad`]), and so is a probation run cut
    /// short by a jump ([`SeqEvent::ProbationRestart`]); the caller counts both apart. While on
    /// probation, `packets` is the current run.
    #[inline(always)]
    pub fn on_rtp(
        &mut self,
        now: i64,
        seq: u16,
        ts: u32,
        pt: u8,
        marker: bool,
        wire_len: usize,
    ) -> SeqEvent {
        if now < self.last_seen || self.went_back {
            self.note_time(now);
        }
        let ev = if self.packets == 0 {
            SeqEvent::Probation
        } else {
            self.seq.update(seq)
        };
        match ev {
            SeqEvent::Bad => {
                // A.1: a jump that is not (yet) a restart: not counted, not used for jitter.
                self.last_seen = now;
                return ev;
            }
            SeqEvent::ProbationRestart { discarded } => {
                self.packets = self.packets.saturating_sub(discarded);
                self.bytes = self.bytes.saturating_sub(self.probation_bytes);
                self.probation_bytes = 0;
            }
            SeqEvent::Duplicate { ext_seq } => self.note_dup(ext_seq),
            _ => {}
        }
        if self.packets > 0 {
            // Capture times are any i64 (libpcap saturates) and may go backwards.
            self.max_gap_ns = self.max_gap_ns.max(now.saturating_sub(self.last_seen));
        }
        self.packets += 1;
        self.bytes += wire_len as u64;
        if !self.seq.is_valid() {
            self.probation_bytes += wire_len as u64;
        }
        self.last_seen = now;
        self.on_audio(now, ts, pt, marker, &ev);
        if pt == self.main_pt {
            // Known: the first packet noted the main payload type.
            if self.n_pts == 0 {
                self.note_pt(pt);
            }
            self.on_timing(now, ts, &ev);
        } else {
            self.note_pt(pt);
        }
        ev
    }

    /// [`Stream::on_rtp`] for a candidate (a stream on RFC 3550 A.1 probation): out of line,
    /// so that the established streams' path, which [`Stream::on_rtp`] is inlined into, is one
    /// copy.
    #[inline(never)]
    pub fn on_rtp_candidate(
        &mut self,
        now: i64,
        seq: u16,
        ts: u32,
        pt: u8,
        marker: bool,
        wire_len: usize,
    ) -> SeqEvent {
        self.on_rtp(now, seq, ts, pt, marker, wire_len)
    }

    /// Start loading the audio state's two hot cache lines ([`Audio`]'s layout), which the
    /// packet reaches only after the sequence and timing work: the engine calls it right after
    /// the table lookup, whose key compare has just read the box pointer. A hint only.
    #[inline(always)]
    pub fn prefetch_audio(&self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(a) = self.audio.as_deref() {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let p = std::ptr::from_ref(a).cast::<i8>();
            // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never faults or
            // reads into the program: any address is allowed (this one is the live box).
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p);
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(64));
            }
        }
    }

    /// The audio hook ([`super::audio`]), once [`Stream::start_audio`] gave the stream its
    /// state: one branch for every other stream (video, candidates).
    #[inline]
    fn on_audio(&mut self, now: i64, ts: u32, pt: u8, marker: bool, ev: &SeqEvent) {
        let Some(a) = self.audio.as_deref_mut() else {
            return;
        };
        if matches!(ev, SeqEvent::Probation | SeqEvent::ProbationRestart { .. }) {
            return;
        }
        a.on_packet(
            now,
            ts,
            marker,
            pt == self.main_pt,
            ev,
            self.seq.base_ext_seq(),
        );
    }

    /// Give a stream that just passed probation its audio state, with a fixed jitter buffer of
    /// `jitter_buffer_ms` (`engine.jitter_buffer_ms`): the engine calls it when it promotes the
    /// stream. Not for 90 kHz (video) streams.
    pub fn start_audio(&mut self, jitter_buffer_ms: u32) {
        if self.clock_rate.is_some_and(|r| r.get() == 90_000) || self.audio.is_some() {
            return;
        }
        self.audio = Some(Box::new(Audio::new(
            self.clock_rate.map(|r| r.get()),
            jitter_buffer_ms,
            self.seq.base_ext_seq(),
            self.seq.highest_ext_seq(),
        )));
    }

    /// The audio fields of the record, if the stream has audio state.
    pub fn audio_record(&self, ended: bool, expected: u64, missing: u64) -> Option<AudioRecord> {
        Some(self.audio.as_deref()?.record(ended, expected, missing))
    }

    #[cold]
    fn note_dup(&mut self, ext_seq: u64) {
        let i = (self.seq.duplicates().saturating_sub(1) % RECENT_DUPS as u64) as usize;
        let dups = self
            .cold_mut()
            .recent_dups
            .get_or_insert_with(|| Box::new([0; RECENT_DUPS]));
        if let Some(slot) = dups.get_mut(i) {
            *slot = ext_seq;
        }
    }

    fn note_pt(&mut self, pt: u8) {
        let n = usize::from(self.n_pts);
        let known = self.pts.get(..n).is_some_and(|s| s.contains(&pt));
        if !known && n < MAX_PTS {
            if let Some(slot) = self.pts.get_mut(n) {
                *slot = pt;
                self.n_pts += 1;
            }
        }
    }

    /// Jitter (RFC 3550 A.8) with the stream's clock rate, or with every common rate while the
    /// rate is being inferred.
    #[inline]
    fn on_timing(&mut self, now: i64, ts: u32, ev: &SeqEvent) {
        if let Some(rate) = self.clock_rate {
            self.jitter.update(now, ts, rate.get());
            return;
        }
        self.on_inference(now, ts, ev);
    }

    /// [`Stream::on_timing`] while the rate is being inferred: out of line (the loop over the
    /// common rates would make the known-rate path too big to inline).
    #[inline(never)]
    fn on_inference(&mut self, now: i64, ts: u32, ev: &SeqEvent) {
        let Some(inf) = self.inference.as_deref_mut() else {
            return;
        };
        let ext = match *ev {
            SeqEvent::Valid { ext_seq, .. } => Some(ext_seq),
            // The run's highest: a late packet on probation repeats it and is skipped.
            SeqEvent::Probation | SeqEvent::ProbationRestart { .. } => {
                Some(self.seq.highest_ext_seq())
            }
            _ => None,
        };
        if let Some(ext) = ext {
            inf.estimator.push(now, ts, ext);
        }
        for (j, &rate) in inf.jitter.iter_mut().zip(COMMON_RATES.iter()) {
            j.update(now, ts, rate);
        }
    }

    /// The clock rate, where it came from, and the jitter estimator computed with it.
    fn clock(&self) -> (Option<u32>, Option<ClockSource>, Option<&Jitter>) {
        if let Some(rate) = self.clock_rate {
            return (Some(rate.get()), self.clock_source, Some(&self.jitter));
        }
        let Some(inf) = self.inference.as_deref() else {
            return (None, None, None);
        };
        // Only a rate that snapped to a common one is trusted: a raw estimate far from every
        // common rate (Opus DTX, irregular video frames) is reported as unknown.
        let found = inf.estimator.estimate().and_then(|r| {
            let i = COMMON_RATES.iter().position(|&c| c == r)?;
            Some((r, inf.jitter.get(i)?))
        });
        match found {
            Some((rate, jitter)) => (Some(rate), Some(ClockSource::Inferred), Some(jitter)),
            None => (None, None, None),
        }
    }

    /// The clock rate in use: known, or the current inference.
    pub fn clock_rate(&self) -> Option<u32> {
        self.clock().0
    }

    /// Whether the stream passed probation (so it is RTP, not random UDP).
    pub fn is_valid(&self) -> bool {
        self.seq.is_valid()
    }
}

mod record;
mod rtcp;

#[cfg(test)]
mod tests;
