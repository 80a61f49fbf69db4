//! The forwarded stream record, schema version 3 (docs/records.md, docs/records.schema.json:
//! the keys of version 1, unchanged; version 2 added the hop records of [`super::hop_record`],
//! version 3 the call records of [`super::call_record`]), and the
//! sans-IO bookkeeping that turns a worker's streams into interval and final records.
//!
//! A record is flat (no nested objects) so that every store takes it as it is: ClickHouse
//! `JSONEachRow` maps keys to columns, the remote-write sink picks numeric fields as samples,
//! the HEP sink fills its chunks. Time is capture time: the engine closes each interval on the
//! first event at or after its boundary ([`crate::engine::Cut`]) and [`Intervals::cut`] makes
//! the records, so replay and live give the same records. The record ID is a hash of what identifies a record (host,
//! stream key, first packet time, interval start, kind): the same capture replayed twice gives
//! the same IDs, which is what lets a store deduplicate at-least-once delivery.

use crate::engine::audio::AudioCounters;
use crate::engine::record::{quality_inputs, rfc3339_micros, Quality, StreamRecord};
use crate::engine::video::VideoRecord;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;

/// The schema version written in every record.
pub const SCHEMA_VERSION: u32 = 3;

/// One forwarded record: an interval of one stream, or its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub schema_version: u32,
    /// 32 hex digits, deterministic (see the module doc).
    pub record_id: String,
    /// The probe's host name (`records.host`, else gethostname(2)).
    pub host: String,
    /// `"interval"` (every `records.interval_secs` of an active stream) or `"final"`.
    pub kind: String,
    /// Why the stream ended (final records): `bye`, `idle`, `evicted`, `shutdown`,
    /// `end_of_capture`; null in interval records.
    pub ended_by: Option<String>,
    /// The interval this record covers, RFC 3339 UTC with microseconds.
    pub interval_start: String,
    pub interval_end: String,
    pub first_seen: String,
    pub last_seen: String,
    pub src_ip: String,
    pub src_port: u16,
    pub dst_ip: String,
    pub dst_port: u16,
    /// Always `"udp"`: the fifth element of the 5-tuple.
    pub protocol: String,
    pub ssrc: u32,
    pub cname: Option<String>,
    /// The first payload type seen.
    pub payload_type: Option<u8>,
    pub clock_rate: Option<u32>,
    /// Cumulative since the stream began (RFC 3550 A.3 for expected/lost).
    pub packets: u64,
    pub bytes: u64,
    pub expected: u64,
    pub lost: i64,
    pub duplicates: u64,
    pub reordered: u64,
    /// This interval only.
    pub interval_packets: u64,
    pub interval_bytes: u64,
    pub interval_expected: u64,
    pub interval_lost: i64,
    /// Lost before / after the probe (cumulative; null without receiver reports).
    pub loss_upstream: Option<i64>,
    pub loss_downstream: Option<i64>,
    /// The far end's last report block: fraction lost (0..1) and jitter.
    pub remote_fraction_lost: Option<f64>,
    pub remote_jitter_ms: Option<f64>,
    /// RFC 3550 A.8 jitter measured at the probe, ms.
    pub jitter_ms: Option<f64>,
    pub max_jitter_ms: Option<f64>,
    /// Latest RTT per method, ms (docs/output.md describes the methods).
    pub rtt_capture_point_ms: Option<f64>,
    pub rtt_end_to_end_ms: Option<f64>,
    pub rtt_sr_chain_ms: Option<f64>,
    pub rtt_stun_ms: Option<f64>,
    /// The probe dropped packets during this interval: loss figures may be short.
    pub probe_drop: bool,
    /// RTP packets of this stream the probe dropped itself (cumulative).
    pub probe_dropped: u64,
    /// E-model estimate of the listener's quality over this interval (ITU-T G.107 R-factor,
    /// 0..100, or G.107.1 on the wideband scale 0..129 when `emodel_scale` is `"wb"`; and its
    /// MOS, 1..4.5, with the delay impairment when an RTT is known;
    /// [`crate::engine::emodel`]); null for streams of no known voice codec.
    pub r_factor: Option<f64>,
    pub mos: Option<f64>,
    /// Where the stream was seen (the observation point, docs/output.md "observed_at"). Added
    /// within schema version 1: a record buffered by an older probe has none.
    #[serde(default)]
    pub observed_at: Option<String>,
    /// Audio experience (docs/records.md, "Audio"; [`crate::engine::audio`]), added within
    /// schema version 2 (absent, so null, in records an older probe buffered). Over this
    /// record's period for interval records (sequence numbers settled in it), over the whole
    /// stream for final records; null for video and streams without audio state.
    #[serde(default)]
    pub burst_r: Option<f64>,
    #[serde(default)]
    pub effective_loss_ratio: Option<f64>,
    #[serde(default)]
    pub burst_density: Option<f64>,
    #[serde(default)]
    pub gap_density: Option<f64>,
    #[serde(default)]
    pub burst_duration_ms: Option<f64>,
    #[serde(default)]
    pub gap_duration_ms: Option<f64>,
    /// Packets the emulated fixed / adaptive jitter buffer discarded as late, cumulative.
    #[serde(default)]
    pub jitter_buffer_fixed_late: Option<u64>,
    #[serde(default)]
    pub jitter_buffer_adaptive_late: Option<u64>,
    /// The adaptive buffer's mean delay since the stream began, ms.
    #[serde(default)]
    pub jitter_buffer_delay_ms: Option<f64>,
    #[serde(default)]
    pub ptime_ms: Option<f64>,
    /// Video streams (clock rate 90000, docs/records.md "Video"): this interval's frames,
    /// frame rate, frame interval p95, freezes, pauses, keyframes, bitrate and keyframe
    /// requests, and the latest resolution; null for other streams. Added within version 2.
    #[serde(default)]
    pub video_frames: Option<u64>,
    #[serde(default)]
    pub video_frame_rate: Option<f64>,
    #[serde(default)]
    pub video_frame_interval_p95_ms: Option<u64>,
    #[serde(default)]
    pub video_freeze_count: Option<u64>,
    #[serde(default)]
    pub video_freeze_duration_ms: Option<u64>,
    #[serde(default)]
    pub video_pauses: Option<u64>,
    #[serde(default)]
    pub video_pause_duration_ms: Option<u64>,
    #[serde(default)]
    pub video_keyframes: Option<u64>,
    #[serde(default)]
    pub video_width: Option<u16>,
    #[serde(default)]
    pub video_height: Option<u16>,
    #[serde(default)]
    pub video_bitrate_bps: Option<f64>,
    #[serde(default)]
    pub video_keyframe_requests: Option<u64>,
    /// The E-model's other outputs and its inputs (docs/records.md, "Quality estimate"), all
    /// null when `r_factor` is. Added within schema version 2: older records have none.
    /// Listening (no delay impairment) and conversational MOS (null without an RTT).
    #[serde(default)]
    pub mos_lq: Option<f64>,
    #[serde(default)]
    pub mos_cq: Option<f64>,
    /// Codec of the E-model table, how it was chosen, and the rating scale (`"nb"`, `"wb"`).
    #[serde(default)]
    pub codec: Option<String>,
    #[serde(default)]
    pub codec_source: Option<String>,
    #[serde(default)]
    pub emodel_scale: Option<String>,
    /// Effective loss in percent and the codec's Ie and Bpl (the BurstR input is `burst_r`).
    #[serde(default)]
    pub ppl: Option<f64>,
    #[serde(default)]
    pub ie: Option<f64>,
    #[serde(default)]
    pub bpl: Option<f64>,
    /// One-way delay and its parts, ms (null without an RTT, except the codec's part).
    #[serde(default)]
    pub one_way_delay_ms: Option<f64>,
    #[serde(default)]
    pub delay_rtt_half_ms: Option<f64>,
    #[serde(default)]
    pub delay_jitter_buffer_ms: Option<f64>,
    #[serde(default)]
    pub delay_codec_ms: Option<f64>,
    /// Latest RTT of the `xr` method (RFC 3611 RRT/DLRR), ms. Added within schema version 2.
    #[serde(default)]
    pub rtt_xr_ms: Option<f64>,
    /// The receiver's own latest RTCP XR VoIP metrics about this stream (RFC 3611 §4.7; null
    /// without one, or when the endpoint marked the field unavailable): R-factor, MOS-LQ,
    /// MOS-CQ, loss and discard rates (ratios), jitter buffer nominal delay (ms).
    #[serde(default)]
    pub xr_r_factor: Option<u8>,
    #[serde(default)]
    pub xr_mos_lq: Option<f64>,
    #[serde(default)]
    pub xr_mos_cq: Option<f64>,
    #[serde(default)]
    pub xr_loss_rate: Option<f64>,
    #[serde(default)]
    pub xr_discard_rate: Option<f64>,
    #[serde(default)]
    pub xr_jb_nominal_ms: Option<u16>,
    /// Findings of this record's period (docs/records.md, "Findings"; [`crate::diagnose`]), as
    /// four parallel arrays, most severe first: stable codes, severities, sides, sentences.
    /// Added within schema version 2: older records have none.
    #[serde(default)]
    pub finding_codes: Vec<String>,
    #[serde(default)]
    pub finding_severities: Vec<String>,
    #[serde(default)]
    pub finding_sides: Vec<String>,
    #[serde(default)]
    pub finding_messages: Vec<String>,
}

impl Record {
    /// Capture time of `interval_end`, ns since the epoch (0 if unparseable).
    pub fn interval_end_ns(&self) -> i64 {
        parse_rfc3339(&self.interval_end).unwrap_or(0)
    }
}

/// Record settings: interval, host name, the findings' thresholds (`[diagnostics]`).
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Send call records too (`records.calls`).
    pub calls: bool,
    pub interval_ns: i64,
    pub host: String,
    pub diagnostics: crate::diagnose::Thresholds,
}

/// What the previous record of a stream left off at.
#[derive(Debug, Clone)]
struct Mark {
    end_ns: i64,
    packets: u64,
    bytes: u64,
    expected: u64,
    lost: i64,
    duplicates: u64,
    audio: AudioCounters,
    /// The video figures then (cumulative), for this interval's differences.
    video: Option<VideoRecord>,
}

type Key = (String, String, u32, String, i64);

/// Per-stream interval bookkeeping for one engine (one worker, or a single-threaded replay).
#[derive(Debug)]
pub struct Intervals {
    opts: RecordOptions,
    marks: HashMap<Key, Mark>,
}

impl Intervals {
    pub fn new(opts: RecordOptions) -> Self {
        Intervals {
            opts,
            marks: HashMap::new(),
        }
    }

    /// The interval records of one closed interval ([`crate::engine::Cut`]): the live streams
    /// as they stood at the boundary `end`, taken by the engine on packet timestamps. A stream
    /// that got no RTP packet since its previous record emits none (its next record starts at
    /// this boundary); streams newer than the boundary are left for the next one.
    pub fn cut(&mut self, end: i64, live: &[(u64, StreamRecord)]) -> Vec<(u64, Record)> {
        let mut out = Vec::new();
        for (o, s) in live.iter().filter(|(_, s)| s.first_seen_ns < end) {
            match self.marks.get_mut(&key(s)) {
                Some(m) if m.packets == s.packets => m.end_ns = end,
                _ => out.push((*o, self.record(s, "interval", None, end))),
            }
        }
        out.sort_by_key(|(o, _)| *o);
        out
    }

    pub fn interval_ns(&self) -> i64 {
        self.opts.interval_ns
    }

    /// The options records are made with.
    pub fn options(&self) -> &RecordOptions {
        &self.opts
    }

    /// The final record of a stream that ended; forgets the stream.
    pub fn finish(&mut self, s: &StreamRecord) -> Record {
        let end = s.last_seen_ns;
        let r = self.record(s, "final", Some(s.ended_by.to_string()), end);
        self.marks.remove(&key(s));
        r
    }

    fn record(
        &mut self,
        s: &StreamRecord,
        kind: &str,
        ended_by: Option<String>,
        end: i64,
    ) -> Record {
        let k = key(s);
        let prev = self.marks.get(&k).cloned().unwrap_or(Mark {
            end_ns: s.first_seen_ns,
            packets: 0,
            bytes: 0,
            expected: 0,
            lost: 0,
            duplicates: 0,
            audio: AudioCounters::default(),
            video: None,
        });
        let start = prev.end_ns.min(end);
        self.marks.insert(
            k,
            Mark {
                end_ns: end,
                packets: s.packets,
                bytes: s.bytes,
                expected: s.expected,
                lost: s.lost,
                duplicates: s.duplicates,
                audio: s.audio_counters.unwrap_or_default(),
                video: s.video.clone(),
            },
        );
        let (src_ip, src_port) = split(&s.src);
        let (dst_ip, dst_port) = split(&s.dst);
        let rtt = |m: &str| s.rtt_ms.get(m).map(|r| r.last);
        let mut r = Record {
            schema_version: SCHEMA_VERSION,
            record_id: record_id(&self.opts.host, s, start, kind),
            host: self.opts.host.clone(),
            kind: kind.to_string(),
            ended_by,
            interval_start: rfc3339_micros(start),
            interval_end: rfc3339_micros(end),
            first_seen: s.first_seen.clone(),
            last_seen: s.last_seen.clone(),
            src_ip,
            src_port,
            dst_ip,
            dst_port,
            protocol: "udp".into(),
            ssrc: s.ssrc,
            cname: s.cname.clone(),
            payload_type: s.payload_types.first().copied(),
            clock_rate: s.clock_rate,
            packets: s.packets,
            bytes: s.bytes,
            expected: s.expected,
            lost: s.lost,
            duplicates: s.duplicates,
            reordered: s.reordered,
            interval_packets: s.packets.saturating_sub(prev.packets),
            interval_bytes: s.bytes.saturating_sub(prev.bytes),
            interval_expected: s.expected.saturating_sub(prev.expected),
            interval_lost: s.lost.saturating_sub(prev.lost),
            loss_upstream: s.loss_upstream,
            loss_downstream: s.loss_downstream,
            remote_fraction_lost: s.remote.map(|r| r.fraction_lost),
            remote_jitter_ms: s.remote.and_then(|r| r.jitter_ms),
            jitter_ms: s.jitter_ms,
            max_jitter_ms: s.max_jitter_ms,
            rtt_capture_point_ms: rtt("capture_point"),
            rtt_end_to_end_ms: rtt("end_to_end"),
            rtt_sr_chain_ms: rtt("sr_chain"),
            rtt_stun_ms: rtt("stun"),
            // A drop at the interval's start belongs to it (a drop exactly at the previous
            // boundary was after that record was built, on the same tick or later).
            probe_drop: s
                .probe_drop_at_ns
                .is_some_and(|t| t >= start && (t <= end || kind == "final")),
            probe_dropped: s.probe_dropped,
            r_factor: None,
            mos: None,
            observed_at: Some(s.observed_at.clone()),
            burst_r: None,
            effective_loss_ratio: None,
            burst_density: None,
            gap_density: None,
            burst_duration_ms: None,
            gap_duration_ms: None,
            jitter_buffer_fixed_late: s.jitter_buffer.map(|j| j.fixed_late),
            jitter_buffer_adaptive_late: s.jitter_buffer.map(|j| j.adaptive_late),
            jitter_buffer_delay_ms: s.jitter_buffer.and_then(|j| j.adaptive_mean_delay_ms),
            ptime_ms: s.ptime_ms,
            video_frames: None,
            video_frame_rate: None,
            video_frame_interval_p95_ms: None,
            video_freeze_count: None,
            video_freeze_duration_ms: None,
            video_pauses: None,
            video_pause_duration_ms: None,
            video_keyframes: None,
            video_width: None,
            video_height: None,
            video_bitrate_bps: None,
            video_keyframe_requests: None,
            mos_lq: None,
            mos_cq: None,
            codec: None,
            codec_source: None,
            emodel_scale: None,
            ppl: None,
            ie: None,
            bpl: None,
            one_way_delay_ms: None,
            delay_rtt_half_ms: None,
            delay_jitter_buffer_ms: None,
            delay_codec_ms: None,
            rtt_xr_ms: rtt("xr"),
            xr_r_factor: s.xr_voip.and_then(|x| x.r_factor),
            xr_mos_lq: s.xr_voip.and_then(|x| x.mos_lq),
            xr_mos_cq: s.xr_voip.and_then(|x| x.mos_cq),
            xr_loss_rate: s.xr_voip.map(|x| x.loss_rate),
            xr_discard_rate: s.xr_voip.map(|x| x.discard_rate),
            xr_jb_nominal_ms: s.xr_voip.map(|x| x.jb_nominal_ms),
            finding_codes: Vec::new(),
            finding_severities: Vec::new(),
            finding_sides: Vec::new(),
            finding_messages: Vec::new(),
        };
        audio_period(&mut r, s, &prev, kind == "final");
        if let Some(v) = &s.video {
            video_interval(&mut r, v, prev.video.as_ref(), end.saturating_sub(start));
        }
        if let Some(q) = quality(s, &r) {
            r.r_factor = Some(q.r_factor);
            r.mos = Some(q.mos);
            r.mos_lq = Some(q.mos_lq);
            r.mos_cq = q.mos_cq;
            r.codec = Some(q.codec.to_string());
            r.codec_source = Some(q.codec_source.to_string());
            r.emodel_scale = Some(q.scale.to_string());
            r.ppl = Some(q.ppl);
            r.ie = Some(q.ie);
            r.bpl = Some(q.bpl);
            r.one_way_delay_ms = q.one_way_delay_ms;
            r.delay_rtt_half_ms = q.rtt_half_ms;
            r.delay_jitter_buffer_ms = q.jitter_buffer_ms;
            r.delay_codec_ms = Some(q.codec_delay_ms);
        }
        let late_before = prev.audio.fixed_late;
        super::record_findings::set(&mut r, s, kind == "final", late_before, &self.opts);
        r
    }
}

/// The audio fields of a record's period: the whole stream for a final record (as the stream
/// record has them), else the counters' growth since the previous record of the stream.
fn audio_period(r: &mut Record, s: &StreamRecord, prev: &Mark, whole: bool) {
    let Some(now) = s.audio_counters else {
        return;
    };
    let (bg, markov, ratio) = if whole {
        (now.burst_gap, now.markov, s.effective_loss_ratio)
    } else {
        let expected = s.expected.saturating_sub(prev.expected);
        let missing = (s.lost.saturating_add(s.duplicates as i64))
            .saturating_sub(prev.lost.saturating_add(prev.duplicates as i64))
            .max(0) as u64;
        let late = now.fixed_late.saturating_sub(prev.audio.fixed_late);
        (
            now.burst_gap.since(&prev.audio.burst_gap),
            now.markov.since(&prev.audio.markov),
            (expected > 0).then(|| (missing + late) as f64 / expected as f64),
        )
    };
    r.burst_r = markov.burst_r();
    r.effective_loss_ratio = ratio;
    if let Some(m) = bg.metrics(s.ptime_ms) {
        r.burst_density = Some(m.burst_density);
        r.gap_density = Some(m.gap_density);
        r.burst_duration_ms = m.burst_duration_ms;
        r.gap_duration_ms = m.gap_duration_ms;
    }
}

/// The video figures of one interval: differences of the cumulative ones since the previous
/// record (`prev`; none: since the stream began), the p95 of this interval's frame intervals
/// (histogram difference), rates over the interval's `len_ns`; the resolution as it stands.
fn video_interval(r: &mut Record, v: &VideoRecord, prev: Option<&VideoRecord>, len_ns: i64) {
    let d = |now: u64, f: fn(&VideoRecord) -> u64| now.saturating_sub(prev.map_or(0, f));
    let frames = d(v.frames, |p| p.frames);
    let secs = len_ns as f64 / 1e9;
    r.video_frames = Some(frames);
    r.video_frame_rate = (len_ns > 0).then(|| frames as f64 / secs);
    r.video_frame_interval_p95_ms = v.hist.quantile(0.95, prev.map(|p| &*p.hist));
    r.video_freeze_count = Some(d(v.freeze_count, |p| p.freeze_count));
    r.video_freeze_duration_ms = Some(d(v.freeze_duration_ms, |p| p.freeze_duration_ms));
    r.video_pauses = Some(d(v.pauses, |p| p.pauses));
    r.video_pause_duration_ms = Some(d(v.pause_duration_ms, |p| p.pause_duration_ms));
    r.video_keyframes = v
        .keyframes
        .map(|k| k.saturating_sub(prev.and_then(|p| p.keyframes).unwrap_or(0)));
    r.video_width = v.width;
    r.video_height = v.height;
    r.video_bitrate_bps = (len_ns > 0).then(|| r.interval_bytes as f64 * 8.0 / secs);
    r.video_keyframe_requests = Some(d(v.keyframe_requests, |p| p.keyframe_requests));
}

/// The E-model estimate of a record (docs/records.md, "Quality estimate"): the stream's
/// inputs ([`quality_inputs`]: codec, delay, burstiness), with the loss of the record's period.
/// For an interval record, the receiver's latest report, else what the probe measured in the
/// interval; for a final record, the whole stream's, so that it does not depend on where the
/// intervals were cut (the receiver's cumulative loss when it has reported, else the probe's).
fn quality(s: &StreamRecord, r: &Record) -> Option<Quality> {
    let whole = quality_inputs(s)?;
    if r.kind == "final" {
        return Quality::of(&whole);
    }
    let ratio =
        |lost: i64, expected: u64| (expected > 0).then(|| lost.max(0) as f64 / expected as f64);
    // The receiver's report covers the whole path; else the period's effective loss (network
    // loss and fixed-buffer discards, settled in the period, [`audio_period`]), else its
    // network loss.
    let loss_ratio = r
        .remote_fraction_lost
        .or(r.effective_loss_ratio)
        .or_else(|| ratio(r.interval_lost, r.interval_expected))?;
    let mut q = whole;
    q.ppl = (loss_ratio * 100.0).min(100.0);
    q.burst_r = r.burst_r.unwrap_or(1.0);
    Quality::of(&q)
}

fn key(s: &StreamRecord) -> Key {
    (
        s.src.clone(),
        s.dst.clone(),
        s.ssrc,
        s.observed_at.clone(),
        s.first_seen_ns,
    )
}

/// `"addr:port"` (IPv6 `"[addr]:port"`) to its parts; the engine formats them, so parsing
/// succeeds, but a bad string gives the whole string and port 0 rather than a panic.
fn split(a: &str) -> (String, u16) {
    match a.parse::<SocketAddr>() {
        Ok(sa) => (sa.ip().to_string(), sa.port()),
        Err(_) => (a.to_string(), 0),
    }
}

/// 128 bits of two independent FNV-1a 64 hashes (different offset bases) over the identifying
/// fields, as 32 hex digits. The observation point is one of them (the copies of a forwarded
/// stream seen on two interfaces are two records), appended only when it is not the single
/// point of a capture that tells none apart, so that such records keep the IDs they had
/// before observation points existed. Not cryptographic: it only needs to be stable and collision-free
/// in practice across one deployment's records.
fn record_id(host: &str, s: &StreamRecord, start: i64, kind: &str) -> String {
    let mut text = format!(
        "{host}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{start}\u{1f}{kind}",
        s.src, s.dst, s.ssrc, s.first_seen_ns
    );
    if s.observed_at != crate::engine::obs::CAPTURE_NAME {
        text.push('\u{1f}');
        text.push_str(&s.observed_at);
    }
    let fnv = |basis: u64| {
        text.bytes().fold(basis, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

/// Parse the RFC 3339 form [`rfc3339_micros`] writes (`YYYY-MM-DDThh:mm:ss.uuuuuuZ`), to ns.
/// Records are read back from disk buffers, so the text is hostile: only digits in range are
/// taken, and a time past what i64 nanoseconds hold (after 2262) is `None`, not an overflow.
pub fn parse_rfc3339(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() != 27 || b.get(26) != Some(&b'Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>, max: i64| {
        let d = t.get(r)?;
        let v = d
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| d.parse::<i64>().ok())??;
        (v <= max).then_some(v)
    };
    let (y, m, d) = (num(0..4, 9999)?, num(5..7, 12)?, num(8..10, 31)?);
    let (hh, mm, ss) = (num(11..13, 23)?, num(14..16, 59)?, num(17..19, 60)?);
    let us = num(20..26, 999_999)?;
    if m == 0 || d == 0 {
        return None;
    }
    // H. Hinnant's days_from_civil (small numbers: no overflow before the last step).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    secs.checked_mul(1_000_000_000)?.checked_add(us * 1_000)
}

/// This machine's host name (gethostname(2)), or `"unknown"`.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(buf.get(..end).unwrap_or_default()).into_owned()
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
