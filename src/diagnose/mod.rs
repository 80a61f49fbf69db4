//! Diagnostics in plain words: findings about a stream or one interval of it (docs/quality.md,
//! "Findings").
//!
//! A [`Finding`] has a stable [`Code`] (never renamed: dashboards and alerts key on it), a
//! [`Severity`], the [`Side`] of the path it points to, and one sentence with the numbers in it
//! ("3.2 % loss between the sender and this probe (12 of 375 packets): the sender's network").
//!
//! Findings are a pure function of what the engine already measured ([`Facts`], built from a
//! [`StreamRecord`] or from one interval of it): replay and live capture give the same findings
//! for the same packets, and nothing here reads a clock or does IO. Which side a loss points to
//! follows from where it was counted: sequence numbers missing at the probe were lost before it
//! (upstream, RFC 3550 A.3); the receiver's reports minus that is loss after it (downstream,
//! RFC 3550 §6.4.1); a middlebox hop's split (`crate::correlate::hop`) tells loss before the
//! media server from loss inside it. Thresholds are `[diagnostics]` ([`Thresholds`]); jitter
//! and delay limits follow ITU-T G.114 (150 ms one way) and common VoIP practice.
//!
//! Messages never hold an address, a port or a CNAME, so they are safe to show with the privacy
//! options on (docs/security.md); an SSRC is not personal data and may appear.
//!
//! Findings that need more than one stream (one-way media, SSRC collisions) are decided by the
//! engine, which sees the table, and passed in [`Facts::reverse_seen`] and
//! [`Facts::colliding`].

mod messages;
mod period;
#[cfg(test)]
mod tests;

pub use period::{of_period, Period};

use crate::engine::record::{StreamRecord, RTT_PREFERENCE};
use serde::{Deserialize, Serialize};

/// Stable finding codes (docs/quality.md, "Findings"). Names are an interface: add, never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    LossUpstream,
    LossInside,
    LossDownstream,
    HighJitter,
    HighRtt,
    LateLoss,
    BurstyLoss,
    VideoFreeze,
    OneWayMedia,
    MediaStalled,
    SsrcRestart,
    SsrcCollision,
    ClockDrift,
    PayloadChange,
    ProbeOverload,
    LimitedVisibility,
    NoRtcp,
}

impl Code {
    /// Every code, in documentation order (bounded metric label values).
    pub const ALL: [Code; 17] = [
        Code::LossUpstream,
        Code::LossInside,
        Code::LossDownstream,
        Code::HighJitter,
        Code::HighRtt,
        Code::LateLoss,
        Code::BurstyLoss,
        Code::VideoFreeze,
        Code::OneWayMedia,
        Code::MediaStalled,
        Code::SsrcRestart,
        Code::SsrcCollision,
        Code::ClockDrift,
        Code::PayloadChange,
        Code::ProbeOverload,
        Code::LimitedVisibility,
        Code::NoRtcp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Code::LossUpstream => "loss_upstream",
            Code::LossInside => "loss_inside",
            Code::LossDownstream => "loss_downstream",
            Code::HighJitter => "high_jitter",
            Code::HighRtt => "high_rtt",
            Code::LateLoss => "late_loss",
            Code::BurstyLoss => "bursty_loss",
            Code::VideoFreeze => "video_freeze",
            Code::OneWayMedia => "one_way_media",
            Code::MediaStalled => "media_stalled",
            Code::SsrcRestart => "ssrc_restart",
            Code::SsrcCollision => "ssrc_collision",
            Code::ClockDrift => "clock_drift",
            Code::PayloadChange => "payload_change",
            Code::ProbeOverload => "probe_overload",
            Code::LimitedVisibility => "limited_visibility",
            Code::NoRtcp => "no_rtcp",
        }
    }
}

/// How bad: `info` (worth knowing, not a fault), `warning` (users may notice), `critical`
/// (users notice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// Where along the path a finding points, seen from the probe: `upstream` (between the sender
/// and the probe, or the media server's ingress: the sender's network), `inside` (inside the
/// media server between its ingress and egress), `downstream` (between the probe and the
/// receiver), `endpoint` (the sending or receiving software itself), `probe` (the probe's own
/// limits), `unknown` (the whole path, or not decidable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Upstream,
    Inside,
    Downstream,
    Endpoint,
    Probe,
    Unknown,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Upstream => "upstream",
            Side::Inside => "inside",
            Side::Downstream => "downstream",
            Side::Endpoint => "endpoint",
            Side::Probe => "probe",
            Side::Unknown => "unknown",
        }
    }
}

/// One finding (docs/quality.md, "Findings").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub side: Side,
    /// One sentence for an operator, with the numbers in it; no address or CNAME.
    pub message: String,
}

/// `[diagnostics]` thresholds (config.example.toml documents each and its default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Loss (upstream, inside, downstream, late) at or above which a warning / critical fires, %.
    pub loss_warning_percent: f64,
    pub loss_critical_percent: f64,
    /// Fewer expected packets than this give no loss finding (a few packets say little).
    pub min_expected_packets: u64,
    /// RFC 3550 A.8 interarrival jitter of audio streams, ms.
    pub jitter_warning_ms: f64,
    pub jitter_critical_ms: f64,
    /// One-way delay (best round trip / 2), ms: ITU-T G.114's 150 and 400.
    pub one_way_delay_warning_ms: f64,
    pub one_way_delay_critical_ms: f64,
    /// G.107 BurstR at or above which loss is called bursty (with at least the warning loss).
    pub burst_r_warning: f64,
    /// Video freezes (webrtc-stats definition) in a stream or interval for a warning.
    pub freeze_warning_count: u64,
    /// Longest gap between two packets that counts as a stall, ms.
    pub stall_ms: f64,
    /// The sender's RTP clock against capture time, parts per million.
    pub clock_drift_warning_ppm: f64,
    /// Media without any RTCP for this long gets the `no_rtcp` note, s.
    pub no_rtcp_after_secs: f64,
    /// Streams shorter than this give no one-way media finding, s (call setup).
    pub one_way_after_secs: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            loss_warning_percent: 1.0,
            loss_critical_percent: 5.0,
            min_expected_packets: 50,
            jitter_warning_ms: 30.0,
            jitter_critical_ms: 60.0,
            one_way_delay_warning_ms: 150.0,
            one_way_delay_critical_ms: 400.0,
            burst_r_warning: 2.0,
            freeze_warning_count: 1,
            stall_ms: 3_000.0,
            clock_drift_warning_ppm: 500.0,
            no_rtcp_after_secs: 15.0,
            one_way_after_secs: 5.0,
        }
    }
}

/// What the findings are computed from: a whole stream ([`Facts::of_record`]) or one interval
/// of it (the caller replaces the period's figures).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Clock rate 90000: video (no jitter, late-loss or burst findings; freezes instead).
    pub video: bool,
    /// The period's length, s (first to last packet for a whole stream).
    pub duration_secs: f64,
    /// Expected and missing packets at the probe in the period (RFC 3550 A.3, missing ≥ 0).
    pub expected: u64,
    pub missing: u64,
    /// Egress of a middlebox hop: lost before it and inside it (packets), and the packets
    /// the box received of this stream (`expected` of its ingress, approximated by ours).
    pub hop_split: Option<(u64, u64)>,
    /// Lost after the probe according to the receiver's reports (cumulative), and what it
    /// is a share of (`expected` up to the receiver's highest sequence number, ≈ expected).
    pub loss_downstream: Option<i64>,
    pub jitter_ms: Option<f64>,
    pub remote_jitter_ms: Option<f64>,
    /// Best round trip ([`RTT_PREFERENCE`]) and its method.
    pub rtt: Option<(&'static str, f64)>,
    /// Packets the emulated fixed jitter buffer discarded as late, and its depth, ms.
    pub late: u64,
    pub buffer_ms: f64,
    pub burst_r: Option<f64>,
    pub effective_loss_ratio: Option<f64>,
    pub freezes: u64,
    pub freeze_ms: u64,
    pub max_gap_ms: f64,
    /// Comfort noise (PT 13 or 19, RFC 3389) seen: the sender stops in silence.
    pub comfort_noise: bool,
    pub seq_restarts: u64,
    /// The media payload types when there are several (see `messages::media_payload_types`),
    /// else empty: no allocation for the usual single-codec stream.
    pub payload_types: Vec<u8>,
    pub probe_dropped: u64,
    pub probe_drop: bool,
    pub srtcp: bool,
    pub rtcp_seen: bool,
    /// The receiver's RTCP reports about this stream reached the probe: the way back passes it.
    pub reports_seen: bool,
    /// The sender's RTP clock rate against capture time (SR-based), ppm, when measured.
    pub clock_drift_ppm: Option<f64>,
    /// Media seen in the opposite direction between the two hosts (`None`: not decidable,
    /// e.g. the reverse may be in another shard worker).
    pub reverse_seen: Option<bool>,
    /// The same SSRC reaches the same receiver from another host (RFC 3550 §8.2).
    pub colliding: bool,
    pub ssrc: u32,
}

impl Facts {
    /// The whole stream's facts. `reverse_seen`, `colliding` and `clock_drift_ppm` are the
    /// engine's to fill.
    pub fn of_record(r: &StreamRecord) -> Facts {
        let rtt = RTT_PREFERENCE
            .iter()
            .find_map(|m| r.rtt_ms.get(m).map(|s| (*m, s.last)));
        Facts {
            video: r.clock_rate == Some(90_000) || r.video.is_some(),
            duration_secs: (r.last_seen_ns.saturating_sub(r.first_seen_ns)) as f64 / 1e9,
            expected: r.expected,
            missing: r.missing,
            hop_split: r.loss_split.map(|s| (s.upstream, s.inside_middlebox)),
            loss_downstream: r.loss_downstream,
            jitter_ms: r.jitter_ms,
            remote_jitter_ms: r.remote.and_then(|x| x.jitter_ms),
            rtt,
            late: r.jitter_buffer.map_or(0, |j| j.fixed_late),
            buffer_ms: r.jitter_buffer.map_or(0.0, |j| j.fixed_ms),
            burst_r: r.burst_r,
            effective_loss_ratio: r.effective_loss_ratio,
            freezes: r.video.as_ref().map_or(0, |v| v.freeze_count),
            freeze_ms: r.video.as_ref().map_or(0, |v| v.freeze_duration_ms),
            max_gap_ms: r.max_gap_ms,
            comfort_noise: r.payload_types.iter().any(|p| *p == 13 || *p == 19),
            seq_restarts: r.seq_restarts,
            payload_types: messages::several_media_payload_types(&r.payload_types),
            probe_dropped: r.probe_dropped,
            probe_drop: r.probe_drop,
            srtcp: r.srtcp,
            rtcp_seen: r.srtcp || r.remote.is_some() || r.sender.is_some(),
            reports_seen: r.remote.is_some(),
            clock_drift_ppm: None,
            reverse_seen: None,
            colliding: false,
            ssrc: r.ssrc,
        }
    }
}

/// The findings of `f` under `t`, most severe first (then in code order).
pub fn diagnose(f: &Facts, t: &Thresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    messages::loss(f, t, &mut out);
    messages::timing(f, t, &mut out);
    messages::media(f, t, &mut out);
    messages::visibility(f, t, &mut out);
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.code.cmp(&b.code)));
    out
}

/// The most severe finding's severity, if any.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

/// `warning` at or above `warn`, `critical` at or above `crit`, else nothing.
fn grade(v: f64, warn: f64, crit: f64) -> Option<Severity> {
    if v >= crit {
        Some(Severity::Critical)
    } else if v >= warn {
        Some(Severity::Warning)
    } else {
        None
    }
}
