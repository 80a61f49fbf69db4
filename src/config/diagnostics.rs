//! `[diagnostics]`: the thresholds of the findings (docs/quality.md, "Findings";
//! [`crate::diagnose`]). Used by replay and the daemon alike.

use super::Problem;
use crate::diagnose::Thresholds;
use serde::{Deserialize, Serialize};

/// Thresholds of the findings; each default is documented in config.example.toml.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiagnosticsConfig {
    /// Loss (before the probe, inside a media server, after the probe, late in the emulated
    /// jitter buffer) for a warning and for a critical finding, percent. Default 1 and 5.
    pub loss_warning_percent: f64,
    pub loss_critical_percent: f64,
    /// Streams or intervals with fewer expected packets get no loss finding. Default 50.
    pub min_expected_packets: u64,
    /// RFC 3550 interarrival jitter of audio streams, ms. Default 30 and 60.
    pub jitter_warning_ms: f64,
    pub jitter_critical_ms: f64,
    /// One-way delay (round trip / 2), ms: ITU-T G.114. Default 150 and 400.
    pub one_way_delay_warning_ms: f64,
    pub one_way_delay_critical_ms: f64,
    /// G.107 BurstR from which loss of at least `loss_warning_percent` is bursty. Default 2.
    pub burst_r_warning: f64,
    /// Video freezes for a warning. Default 1.
    pub freeze_warning_count: u64,
    /// A gap between two packets this long is a stall, ms. Default 3000.
    pub stall_ms: u64,
    /// The sender's RTP clock against real time, ppm. Default 500.
    pub clock_drift_warning_ppm: f64,
    /// Media without RTCP this long gets the `no_rtcp` note, s. Default 15.
    pub no_rtcp_after_secs: u64,
    /// Streams at least this long without media the other way are one-way media, s. Default 5.
    pub one_way_after_secs: u64,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        let t = Thresholds::default();
        DiagnosticsConfig {
            loss_warning_percent: t.loss_warning_percent,
            loss_critical_percent: t.loss_critical_percent,
            min_expected_packets: t.min_expected_packets,
            jitter_warning_ms: t.jitter_warning_ms,
            jitter_critical_ms: t.jitter_critical_ms,
            one_way_delay_warning_ms: t.one_way_delay_warning_ms,
            one_way_delay_critical_ms: t.one_way_delay_critical_ms,
            burst_r_warning: t.burst_r_warning,
            freeze_warning_count: t.freeze_warning_count,
            stall_ms: t.stall_ms as u64,
            clock_drift_warning_ppm: t.clock_drift_warning_ppm,
            no_rtcp_after_secs: t.no_rtcp_after_secs as u64,
            one_way_after_secs: t.one_way_after_secs as u64,
        }
    }
}

impl DiagnosticsConfig {
    /// The thresholds (call after [`problems`] found none).
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            loss_warning_percent: self.loss_warning_percent,
            loss_critical_percent: self.loss_critical_percent,
            min_expected_packets: self.min_expected_packets,
            jitter_warning_ms: self.jitter_warning_ms,
            jitter_critical_ms: self.jitter_critical_ms,
            one_way_delay_warning_ms: self.one_way_delay_warning_ms,
            one_way_delay_critical_ms: self.one_way_delay_critical_ms,
            burst_r_warning: self.burst_r_warning,
            freeze_warning_count: self.freeze_warning_count,
            stall_ms: self.stall_ms as f64,
            clock_drift_warning_ppm: self.clock_drift_warning_ppm,
            no_rtcp_after_secs: self.no_rtcp_after_secs as f64,
            one_way_after_secs: self.one_way_after_secs as f64,
        }
    }
}

/// Every problem of `[diagnostics]`.
pub fn problems(d: &DiagnosticsConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut check = |ok: bool, key: &str, value: String, fix: &str| {
        if !ok {
            out.push(Problem {
                key: format!("diagnostics.{key}"),
                value,
                fix: fix.into(),
            });
        }
    };
    let pair = |w: f64, c: f64, max: f64| w > 0.0 && w <= c && c <= max;
    check(
        pair(d.loss_warning_percent, d.loss_critical_percent, 100.0),
        "loss_warning_percent",
        format!("{} / {}", d.loss_warning_percent, d.loss_critical_percent),
        "use 0 < loss_warning_percent <= loss_critical_percent <= 100",
    );
    check(
        d.min_expected_packets <= 1_000_000,
        "min_expected_packets",
        d.min_expected_packets.to_string(),
        "use 0 to 1000000 packets",
    );
    check(
        pair(d.jitter_warning_ms, d.jitter_critical_ms, 10_000.0),
        "jitter_warning_ms",
        format!("{} / {}", d.jitter_warning_ms, d.jitter_critical_ms),
        "use 0 < jitter_warning_ms <= jitter_critical_ms <= 10000",
    );
    check(
        pair(d.one_way_delay_warning_ms, d.one_way_delay_critical_ms, 60_000.0),
        "one_way_delay_warning_ms",
        format!(
            "{} / {}",
            d.one_way_delay_warning_ms, d.one_way_delay_critical_ms
        ),
        "use 0 < one_way_delay_warning_ms <= one_way_delay_critical_ms <= 60000 (ITU-T G.114: 150 and 400)",
    );
    check(
        (1.0..=100.0).contains(&d.burst_r_warning),
        "burst_r_warning",
        d.burst_r_warning.to_string(),
        "use a BurstR from 1 (random loss) to 100",
    );
    check(
        (1..=1_000_000).contains(&d.freeze_warning_count),
        "freeze_warning_count",
        d.freeze_warning_count.to_string(),
        "use 1 to 1000000 freezes",
    );
    check(
        (100..=3_600_000).contains(&d.stall_ms),
        "stall_ms",
        d.stall_ms.to_string(),
        "use 100 to 3600000 ms",
    );
    check(
        d.clock_drift_warning_ppm > 0.0 && d.clock_drift_warning_ppm <= 1e6,
        "clock_drift_warning_ppm",
        d.clock_drift_warning_ppm.to_string(),
        "use more than 0 and at most 1000000 ppm",
    );
    check(
        d.no_rtcp_after_secs <= 86_400,
        "no_rtcp_after_secs",
        d.no_rtcp_after_secs.to_string(),
        "use 0 to 86400 s",
    );
    check(
        d.one_way_after_secs <= 86_400,
        "one_way_after_secs",
        d.one_way_after_secs.to_string(),
        "use 0 to 86400 s",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_key() {
        assert!(problems(&DiagnosticsConfig::default()).is_empty());
        assert_eq!(
            DiagnosticsConfig::default().thresholds(),
            Thresholds::default()
        );
        let bad = DiagnosticsConfig {
            loss_warning_percent: 6.0,
            stall_ms: 0,
            jitter_warning_ms: f64::NAN,
            ..DiagnosticsConfig::default()
        };
        let keys: Vec<String> = problems(&bad).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "diagnostics.loss_warning_percent",
                "diagnostics.jitter_warning_ms",
                "diagnostics.stall_ms"
            ]
        );
    }
}
