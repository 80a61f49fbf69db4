//! The per-stream record: the stable, documented output schema (docs/output.md).
//!
//! Built from a stream's state when it ends (BYE, idle, eviction, end of capture). Field names
//! and units are an interface that users and other tools rely on: change them only with the docs.

use super::audio::pattern::BurstGapMetrics;
use super::audio::{AudioCounters, JitterBufferRecord, LossRuns};
use serde::Serialize;
use std::collections::BTreeMap;

/// One stream's quality, as printed by `rtcprobe replay --format json` (one entry of `streams`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StreamRecord {
    /// `"addr:port"` of the RTP sender (IPv6 as `"[addr]:port"`).
    pub src: String,
    /// `"addr:port"` of the RTP receiver.
    pub dst: String,
    pub ssrc: u32,
    /// Where the stream was seen: the observation point's name (docs/output.md, "observed_at";
    /// [`crate::engine::obs`]). The same 5-tuple and SSRC seen at two points are two streams.
    pub observed_at: String,
    /// Payload types seen, in order of first appearance (at most 8 kept).
    pub payload_types: Vec<u8>,
    /// RTP clock rate in Hz used for jitter, or null if unknown.
    pub clock_rate: Option<u32>,
    /// `"static"` (RFC 3551), `"config"` (`[payload_types]`), `"inferred"` (from timestamps), or null.
    pub clock_rate_source: Option<&'static str>,
    /// RTP packets received, duplicates included.
    pub packets: u64,
    /// UDP payload bytes of those packets, as on the wire.
    pub bytes: u64,
    /// Capture time of the first and last packet, RFC 3339 UTC with microseconds.
    pub first_seen: String,
    pub last_seen: String,
    /// RFC 3550 A.3: extended highest minus base sequence number plus one (summed over restarts).
    pub expected: u64,
    /// RFC 3550 A.3: expected minus received; negative when duplicates outnumber losses.
    pub lost: i64,
    /// Sequence numbers never received: `expected − (packets − duplicates)`, never negative.
    /// What `lost` means to a reader; `lost` stays RFC 3550's signed value.
    pub missing: u64,
    pub duplicates: u64,
    /// Packets that arrived after a packet with a higher sequence number.
    pub reordered: u64,
    pub seq_restarts: u64,
    /// Longest interval between consecutive packets, milliseconds.
    pub max_gap_ms: f64,
    /// Final RFC 3550 A.8 interarrival jitter, milliseconds (what a receiver puts in its RR).
    pub jitter_ms: Option<f64>,
    pub max_jitter_ms: Option<f64>,
    pub mean_jitter_ms: Option<f64>,
    /// One entry per RTT method that produced samples: `capture_point`, `end_to_end`,
    /// `sr_chain`, `stun`, `xr`.
    pub rtt_ms: BTreeMap<&'static str, RttSummary>,
    /// What the far end reported about this stream in RTCP report blocks, or null.
    pub remote: Option<RemoteReport>,
    /// Sequence numbers missing at the probe (lost before it), or null without receiver reports.
    pub loss_upstream: Option<i64>,
    /// The receiver's cumulative lost minus what was already missing at the probe up to the
    /// receiver's extended highest sequence number: lost after the probe. Null without reports.
    pub loss_downstream: Option<i64>,
    /// What the sender said about itself in its last SR, or null.
    pub sender: Option<SenderInfo>,
    /// RTCP feedback about this stream (RFC 4585, RFC 5104, REMB).
    pub feedback: Feedback,
    pub cname: Option<String>,
    /// `"bye"`, `"idle"`, `"end_of_capture"` or `"evicted"`.
    pub ended_by: &'static str,
    /// True when this stream's RTCP is SRTCP (encrypted past the first header).
    pub srtcp: bool,
    /// RTP packets of this stream that the probe itself dropped (its pipeline was full), and
    /// that are therefore not in `lost`, `loss_upstream` or `loss_downstream`.
    pub probe_dropped: u64,
    /// True when the probe dropped packets while this stream was active (pipeline, kernel or
    /// interface drops): its loss figures may be short of packets the probe never saw.
    pub probe_drop: bool,
    /// For a stream leaving a middlebox (the egress of a hop, `crate::correlate::hop`): its
    /// loss split by where it happened. Absent for every other stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_split: Option<LossSplit>,
    /// Audio experience (docs/output.md, "Audio"; [`super::audio`]); null for video (90 kHz)
    /// streams and streams that never passed probation. BurstR = 1/(p + q) of the G.107
    /// two-state Markov model over the effective loss (network loss and fixed-buffer
    /// discards): the E-model's BurstR input.
    pub burst_r: Option<f64>,
    /// BurstR over network loss alone.
    pub burst_r_network: Option<f64>,
    /// Network loss runs by length in packets: buckets `1`, `2`, `3`, `4-5`, `6-10`, `11-20`,
    /// `21+`.
    pub loss_runs: Option<LossRuns>,
    /// RFC 3611 §4.7.2 burst/gap metrics (Gmin 16) over packets lost or discarded by the fixed
    /// buffer, and over network loss alone.
    pub burst_gap: Option<BurstGapMetrics>,
    pub burst_gap_network: Option<BurstGapMetrics>,
    /// The emulated fixed and adaptive jitter buffers; null without a known clock rate.
    pub jitter_buffer: Option<JitterBufferRecord>,
    /// (Sequence numbers never received + fixed-buffer discards) / expected: the E-model's
    /// effective loss input.
    pub effective_loss_ratio: Option<f64>,
    /// Measured packetisation interval: the smallest positive RTP timestamp step between
    /// consecutive in-order packets, ms.
    pub ptime_ms: Option<f64>,
    /// The counters behind the audio fields, for interval records. Not in the JSON output.
    #[serde(skip)]
    pub audio_counters: Option<AudioCounters>,
    /// Frames, frame rate, freezes, pauses, keyframes, resolution of a video stream (clock
    /// rate 90000; docs/output.md, "video"); null for other streams.
    pub video: Option<super::video::VideoRecord>,
    /// The E-model estimate of the whole stream and its inputs (docs/output.md, "Quality"),
    /// null for streams of no known voice codec; set by the engine when it builds the record.
    pub quality: Option<Quality>,
    /// What the receiver itself reported about this stream in its latest RTCP XR VoIP metrics
    /// block (RFC 3611 §4.7), next to our estimate; null without one (docs/output.md, "xr_voip").
    pub xr_voip: Option<super::xr::XrVoip>,
    /// What is wrong, in plain words ([`crate::diagnose`], docs/quality.md "Findings"): most
    /// severe first; empty when nothing is. Set by the engine when it builds the record.
    pub findings: Vec<crate::diagnose::Finding>,
    /// The codec `[payload_types]` names for the first payload type, if any (set by the
    /// engine; not in the JSON output, `quality.codec_source` says `"config"`).
    #[serde(skip)]
    pub configured_codec: Option<&'static super::emodel::Codec>,
    /// The codec the call's SDP named (set by the engine; wins over `configured_codec`;
    /// `quality.codec_source` says `"sdp"`).
    #[serde(skip)]
    pub signalled_codec: Option<&'static super::emodel::Codec>,
    /// Capture times (ns since the epoch) behind `first_seen`/`last_seen` and of the latest
    /// probe drop: not in the JSON output, used to build forwarded records (src/forward).
    #[serde(skip)]
    pub first_seen_ns: i64,
    #[serde(skip)]
    pub last_seen_ns: i64,
    #[serde(skip)]
    pub probe_drop_at_ns: Option<i64>,
    /// The exporter's lost counter (`rtcprobe_rtp_lost_packets_total`, docs/metrics.md):
    /// sequence numbers never received that can no longer arrive, not lowered by duplicates
    /// nor by packets the probe dropped itself. For an ended stream `max(0, lost +
    /// duplicates)`; for a live one no more than that will be in the end
    /// (`SeqTracker::lost_settled`). Not in the JSON output.
    #[serde(skip)]
    pub lost_settled: u64,
}

impl StreamRecord {
    /// The E-model estimate of the whole stream ([`super::emodel`], docs/output.md "Quality"),
    /// from [`quality_inputs`]. `None` for streams of no voice codec in the table.
    pub fn estimate_quality(&self) -> Option<Quality> {
        let q = quality_inputs(self)?;
        Quality::of(&q)
    }
}

/// The round-trip methods in the order the E-model prefers them: the ones that cover the
/// whole path first.
pub const RTT_PREFERENCE: [&str; 5] = ["end_to_end", "sr_chain", "xr", "stun", "capture_point"];

/// What the E-model of one stream is computed from, and the choice of codec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityInputs {
    pub choice: super::emodel::CodecChoice,
    /// Effective loss, percent: network loss plus late discards.
    pub ppl: f64,
    pub burst_r: f64,
    /// Packetisation interval, ms, and whether it was measured (else the codec's nominal one).
    pub ptime_ms: f64,
    pub ptime_measured: bool,
    /// `None` when no round trip is known.
    pub delay: Option<super::emodel::Delay>,
}

/// The E-model inputs of a stream record, the one place they are gathered (docs/output.md,
/// "Quality"): the codec of the first payload type (`[payload_types]` when it names one, else
/// [`super::emodel::codec_for_stream`]); the
/// loss the receiver reported (`loss_upstream + loss_downstream`) when it did, else the probe's;
/// plus the packets the emulated fixed jitter buffer discarded ([`super::audio`]), with its
/// BurstR; the best RTT ([`RTT_PREFERENCE`]) halved, plus the fixed buffer's depth (without
/// a known clock rate: a nominal buffer of twice the interarrival jitter, the receiver's, else
/// the probe's), plus ptime (measured, else nominal) and the codec's look-ahead. `None` for no known voice codec or no expected packet.
pub fn quality_inputs(r: &StreamRecord) -> Option<QualityInputs> {
    // From the emulated receiver ([`super::audio`]): the burstiness of what it lost or
    // discarded, the packets its fixed buffer discarded as late, and the measured ptime.
    let burst_r = r.burst_r.unwrap_or(1.0);
    let late_discards = r.jitter_buffer.map_or(0, |j| j.fixed_late);
    let measured_ptime_ms = r.ptime_ms;

    let pt = *r.payload_types.first()?;
    let choice = match (r.signalled_codec, r.configured_codec) {
        (Some(codec), _) => super::emodel::CodecChoice {
            codec,
            source: super::emodel::CodecSource::Sdp,
        },
        (None, Some(codec)) => super::emodel::CodecChoice {
            codec,
            source: super::emodel::CodecSource::Config,
        },
        (None, None) => super::emodel::codec_for_stream(None, pt, r.clock_rate)?,
    };
    if r.expected == 0 {
        return None;
    }
    let lost = r
        .loss_upstream
        .zip(r.loss_downstream)
        .map_or(r.lost, |(u, d)| u.saturating_add(d));
    let effective = lost.max(0) as f64 + late_discards as f64;
    let ppl = (effective * 100.0 / r.expected as f64).min(100.0);
    let rtt = RTT_PREFERENCE
        .iter()
        .find_map(|m| r.rtt_ms.get(m).map(|s| s.last));
    let jitter = r.remote.and_then(|x| x.jitter_ms).or(r.jitter_ms);
    let mut q = inputs_with(choice, ppl, burst_r, measured_ptime_ms, rtt, jitter);
    // The emulated fixed buffer whose discards are in `ppl` holds each packet its depth: that
    // is the listener's buffering delay, not the nominal twice-the-jitter.
    if let (Some(d), Some(jb)) = (q.delay.as_mut(), r.jitter_buffer) {
        d.jitter_buffer_ms = jb.fixed_ms;
    }
    Some(q)
}

/// [`QualityInputs`] from their parts (also used by forwarded interval records, whose loss is
/// the interval's).
pub fn inputs_with(
    choice: super::emodel::CodecChoice,
    ppl: f64,
    burst_r: f64,
    measured_ptime_ms: Option<f64>,
    rtt_ms: Option<f64>,
    jitter_ms: Option<f64>,
) -> QualityInputs {
    let ptime_ms = measured_ptime_ms.unwrap_or(choice.codec.nominal_ptime_ms);
    QualityInputs {
        choice,
        ppl,
        burst_r,
        ptime_ms,
        ptime_measured: measured_ptime_ms.is_some(),
        delay: rtt_ms.map(|rtt| super::emodel::Delay {
            rtt_half_ms: rtt.max(0.0) / 2.0,
            jitter_buffer_ms: 2.0 * jitter_ms.unwrap_or(0.0).max(0.0),
            codec_ms: ptime_ms + choice.codec.lookahead_ms,
        }),
    }
}

/// A stream's E-model estimate with every input beside it (docs/output.md, "Quality"). Numbers
/// are rounded to two decimals: the model is not more precise than that.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Quality {
    /// Codec name of the table (`PCMU`, `G722`, `opus-wb`, …) and how it was chosen: `"sdp"`,
    /// `"static"` (RFC 3551), `"config"` or `"inferred"` (48000 Hz dynamic: Opus).
    pub codec: &'static str,
    pub codec_source: &'static str,
    /// `"nb"` (G.107, R 0–100) or `"wb"` (G.107.1, R 0–129; divide by 1.29 to compare).
    pub scale: &'static str,
    /// R with the delay impairment when a round trip is known, else without it.
    pub r_factor: f64,
    /// MOS of `r_factor`.
    pub mos: f64,
    /// Listening quality (no delay impairment) and conversational quality (null without RTT).
    pub mos_lq: f64,
    pub mos_cq: Option<f64>,
    /// Effective loss, percent, and G.107's BurstR (1 = random loss).
    pub ppl: f64,
    pub burst_r: f64,
    /// One-way delay and its parts, ms; null without a round trip.
    pub one_way_delay_ms: Option<f64>,
    pub rtt_half_ms: Option<f64>,
    pub jitter_buffer_ms: Option<f64>,
    pub codec_delay_ms: f64,
    /// Packetisation interval, ms; `"measured"` or `"nominal"`.
    pub ptime_ms: f64,
    pub ptime_source: &'static str,
    /// The codec's `Ie` and `Bpl`, and the model's `Ie,eff` and `Idd`.
    pub ie: f64,
    pub bpl: f64,
    pub ie_eff: f64,
    pub idd: f64,
}

impl Quality {
    /// The estimate for `q`; `None` when an input is not a finite number.
    pub fn of(q: &QualityInputs) -> Option<Quality> {
        let codec = q.choice.codec;
        let e = super::emodel::estimate(
            codec,
            super::emodel::Inputs {
                ppl: q.ppl,
                burst_r: q.burst_r,
                delay: q.delay,
            },
        )?;
        Some(Quality {
            codec: codec.name,
            codec_source: q.choice.source.name(),
            scale: e.scale.name(),
            r_factor: round2(e.r_factor),
            mos: round2(e.mos),
            mos_lq: round2(e.mos_lq),
            mos_cq: e.mos_cq.map(round2),
            ppl: round2(q.ppl),
            burst_r: round2(q.burst_r),
            one_way_delay_ms: q.delay.map(|d| round2(d.total_ms())),
            rtt_half_ms: q.delay.map(|d| round2(d.rtt_half_ms)),
            jitter_buffer_ms: q.delay.map(|d| round2(d.jitter_buffer_ms)),
            codec_delay_ms: round2(q.ptime_ms + codec.lookahead_ms),
            ptime_ms: round2(q.ptime_ms),
            ptime_source: if q.ptime_measured {
                "measured"
            } else {
                "nominal"
            },
            ie: codec.ie,
            bpl: codec.bpl,
            ie_eff: round2(e.ie_eff),
            idd: round2(e.idd),
        })
    }
}

/// Two decimals.
pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Where an egress stream's packets were lost (docs/output.md, "Loss split"), in packets.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct LossSplit {
    /// Before the middlebox: sequence numbers of the forwarded ingress range that never
    /// reached the probe on the way in.
    pub upstream: u64,
    /// Inside the middlebox: arrived, never forwarded.
    pub inside_middlebox: u64,
    /// After the probe on the way out: the receiver's reports say so (`loss_downstream`);
    /// null without receiver reports.
    pub downstream: Option<i64>,
}

/// Statistics of one RTT method, milliseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct RttSummary {
    pub last: f64,
    pub min: f64,
    pub mean: f64,
    pub max: f64,
    pub samples: u64,
}

/// The last report block about this stream (RFC 3550 §6.4.1), plus how many were seen.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct RemoteReport {
    /// Fraction lost as a ratio 0..1 (the 8-bit field divided by 256).
    pub fraction_lost: f64,
    pub cumulative_lost: i64,
    pub ext_highest_seq: u32,
    /// The reported jitter converted with the stream's clock rate, or null if unknown.
    pub jitter_ms: Option<f64>,
    pub reports: u64,
}

/// The sender's own counters from its last SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct SenderInfo {
    pub sender_reports: u64,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// Feedback messages about this stream.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Feedback {
    /// Generic NACK messages (RFC 4585 §6.2.1) and the packets they asked for.
    pub nacks: u64,
    pub nack_packets: u64,
    /// Picture Loss Indications (RFC 4585 §6.3.1).
    pub plis: u64,
    /// Full Intra Requests (RFC 5104 §4.3.1).
    pub firs: u64,
    /// Last REMB estimate, bits per second, or null.
    pub remb_bps: Option<u64>,
    /// Transport-wide congestion control feedback messages.
    pub transport_cc: u64,
}

/// RFC 3339 UTC with microseconds for a capture timestamp in ns since the Unix epoch.
pub fn rfc3339_micros(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let micros = ts_ns.rem_euclid(1_000_000_000) / 1_000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        // 2006-06-05T12:34:56.789012Z
        assert_eq!(
            rfc3339_micros(1_149_510_896_789_012_345),
            "2006-06-05T12:34:56.789012Z"
        );
        assert_eq!(
            rfc3339_micros(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(rfc3339_micros(-1_000), "1969-12-31T23:59:59.999999Z");
    }
}
