//! Grades and plain words: how bad each stream was, and what to say about the capture.
//!
//! A stream is **poor**, **fair** or **good** by its worst figure against these thresholds
//! (also printed in the report and in docs/report.md):
//!
//! | figure | fair from | poor from | why |
//! |---|---|---|---|
//! | loss (receiver's count when reported, else the probe's) | 1 % | 3 % | G.113 Appendix I: G.711 with PLC loses ~1 R point per 0.4 % |
//! | peak jitter (probe's or receiver's) | 30 ms | 50 ms | a 60 ms jitter buffer starts discarding |
//! | RTT | 300 ms | 800 ms | G.114: one-way delay 150 ms fine, 400 ms unacceptable |
//! | E-model MOS (whole stream) | below 3.6 | below 3.1 | G.107 R 70 / R 60: "some" / "many users dissatisfied" |
//!
//! Where loss happened comes from the records' `loss_upstream` (missing at the probe: between
//! the sender and the probe) and `loss_downstream` (reported by the receiver beyond what the
//! probe missed: between the probe and the receiver). Without receiver reports, what the probe
//! missed is still upstream of it.

use super::StreamView;
use std::collections::BTreeMap;

pub const LOSS_FAIR_PCT: f64 = 1.0;
pub const LOSS_POOR_PCT: f64 = 3.0;
pub const JITTER_FAIR_MS: f64 = 30.0;
pub const JITTER_POOR_MS: f64 = 50.0;
pub const RTT_FAIR_MS: f64 = 300.0;
pub const RTT_POOR_MS: f64 = 800.0;
pub const MOS_FAIR: f64 = 3.6;
pub const MOS_POOR: f64 = 3.1;

/// How a stream fared; ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Grade {
    Good,
    Fair,
    Poor,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Good => "good",
            Grade::Fair => "fair",
            Grade::Poor => "poor",
        }
    }
}

/// A stream's grade, a score to rank streams of the same grade (1.0 = at the poor threshold),
/// and the figures that set it, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub grade: Grade,
    pub score: f64,
    pub reasons: Vec<String>,
}

/// Grade one stream.
pub fn assess(s: &StreamView) -> Assessment {
    let mut a = Assessment {
        grade: Grade::Good,
        score: 0.0,
        reasons: Vec::new(),
    };
    let mut check = |v: Option<f64>, fair: f64, poor: f64, higher_is_worse: bool, what: String| {
        let Some(v) = v else { return };
        let (f, p, ratio) = if higher_is_worse {
            (v >= fair, v >= poor, v / poor)
        } else {
            (v < fair, v < poor, (4.5 - v) / (4.5 - poor))
        };
        a.score = a.score.max(ratio);
        let g = if p {
            Grade::Poor
        } else if f {
            Grade::Fair
        } else {
            return;
        };
        a.grade = a.grade.max(g);
        a.reasons.push(what);
    };
    let loss = s.loss_pct();
    check(
        loss,
        LOSS_FAIR_PCT,
        LOSS_POOR_PCT,
        true,
        format!("{:.1} % lost", loss.unwrap_or(0.0)),
    );
    check(
        s.jitter_peak_ms,
        JITTER_FAIR_MS,
        JITTER_POOR_MS,
        true,
        format!("jitter up to {:.0} ms", s.jitter_peak_ms.unwrap_or(0.0)),
    );
    check(
        s.rtt_peak_ms,
        RTT_FAIR_MS,
        RTT_POOR_MS,
        true,
        format!("RTT up to {:.0} ms", s.rtt_peak_ms.unwrap_or(0.0)),
    );
    check(
        s.mos,
        MOS_FAIR,
        MOS_POOR,
        false,
        format!("MOS {:.2}", s.mos.unwrap_or(0.0)),
    );
    a
}

/// Streams with their assessment, worst first (grade, then score, then more packets first,
/// then by address for a stable order).
pub fn rank(streams: Vec<StreamView>) -> Vec<(StreamView, Assessment)> {
    let mut v: Vec<(StreamView, Assessment)> = streams
        .into_iter()
        .map(|s| {
            let a = assess(&s);
            (s, a)
        })
        .collect();
    v.sort_by(|(s1, a1), (s2, a2)| {
        a2.grade
            .cmp(&a1.grade)
            .then(a2.score.total_cmp(&a1.score))
            .then(s2.packets.cmp(&s1.packets))
            .then_with(|| (s1.src(), s1.dst(), s1.ssrc).cmp(&(s2.src(), s2.dst(), s2.ssrc)))
    });
    v
}

/// The address pair a stream belongs to (both directions of a conversation), as an ordered
/// pair of endpoints.
pub fn pair_key(s: &StreamView) -> (String, String) {
    let (a, b) = (s.src(), s.dst());
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Loss attributed to one side: packets lost and expected over the streams concerned.
#[derive(Debug, Default, Clone, Copy)]
struct Side {
    lost: i64,
    expected: u64,
    streams: usize,
}

impl Side {
    fn pct(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            self.lost.max(0) as f64 * 100.0 / self.expected as f64
        }
    }
}

/// Sentences for the top of the report, most important first.
pub fn summary(ranked: &[(StreamView, Assessment)]) -> Vec<String> {
    let n = ranked.len();
    let mut out = Vec::new();
    if n == 0 {
        out.push("No RTP stream was found in this capture.".to_string());
        return out;
    }
    let count = |g: Grade| ranked.iter().filter(|(_, a)| a.grade == g).count();
    let (poor, fair) = (count(Grade::Poor), count(Grade::Fair));
    out.push(match (poor, fair) {
        (0, 0) if n == 1 => "The only stream was good.".to_string(),
        (0, 0) => format!("All {n} streams were good."),
        (0, f) => format!("None of {n} streams was poor; {f} {} fair.", was(f)),
        (p, 0) => format!("{p} of {} {} poor; none was fair.", n_streams(n), was(p)),
        (p, f) => format!("{p} of {} {} poor and {f} fair.", n_streams(n), was(p)),
    });
    // Where the loss happened: before the probe, by sender address; after it, by receiver.
    let mut up: BTreeMap<&str, Side> = BTreeMap::new();
    let mut down: BTreeMap<&str, Side> = BTreeMap::new();
    for (s, _) in ranked {
        let u = up.entry(&s.src_ip).or_default();
        u.lost = u
            .lost
            .saturating_add(s.loss_upstream.unwrap_or(s.lost).max(0));
        u.expected = u.expected.saturating_add(s.expected);
        u.streams += 1;
        if let Some(d) = s.loss_downstream {
            let e = down.entry(&s.dst_ip).or_default();
            e.lost = e.lost.saturating_add(d.max(0));
            e.expected = e.expected.saturating_add(s.expected);
            e.streams += 1;
        }
    }
    for (side, map) in [("sender", &up), ("receiver", &down)] {
        let mut worst: Vec<(&str, Side)> = map
            .iter()
            .filter(|(_, s)| s.pct() >= LOSS_FAIR_PCT)
            .map(|(k, s)| (*k, *s))
            .collect();
        worst.sort_by(|a, b| b.1.pct().total_cmp(&a.1.pct()));
        for (ip, s) in worst.iter().take(5) {
            let place = if side == "sender" {
                "before the probe"
            } else {
                "after the probe"
            };
            out.push(format!(
                "The {side}'s network of {ip} lost {:.1} % ({place}; {} packets of {}, {}).",
                s.pct(),
                s.lost,
                s.expected,
                plural(s.streams, "stream", "streams")
            ));
        }
        if worst.len() > 5 {
            out.push(format!(
                "{} more {side} addresses lost {LOSS_FAIR_PCT} % or more.",
                worst.len() - 5
            ));
        }
    }
    let worst_of = |f: fn(&StreamView) -> Option<f64>, limit: f64| {
        let hit: Vec<&StreamView> = ranked
            .iter()
            .map(|(s, _)| s)
            .filter(|s| f(s).is_some_and(|v| v >= limit))
            .collect();
        let top = hit
            .iter()
            .max_by(|a, b| f(a).unwrap_or(0.0).total_cmp(&f(b).unwrap_or(0.0)))
            .map(|s| (f(s).unwrap_or(0.0), s.src()));
        (hit.len(), top)
    };
    if let (k @ 1.., Some((v, src))) = worst_of(|s| s.jitter_peak_ms, JITTER_FAIR_MS) {
        out.push(format!(
            "{} had jitter of {JITTER_FAIR_MS} ms or more (worst {v:.0} ms, from {src}).",
            plural(k, "stream", "streams")
        ));
    }
    if let (k @ 1.., Some((v, src))) = worst_of(|s| s.rtt_peak_ms, RTT_FAIR_MS) {
        out.push(format!(
            "{} had a round-trip time of {RTT_FAIR_MS} ms or more (worst {v:.0} ms, from {src}).",
            plural(k, "stream", "streams")
        ));
    }
    let rated: Vec<f64> = ranked.iter().filter_map(|(s, _)| s.mos).collect();
    if rated.is_empty() {
        out.push(
            "No stream has an E-model estimate (only PCMU, PCMA, G.729 and G.723.1 are rated)."
                .to_string(),
        );
    } else {
        let low = rated.iter().filter(|m| **m < MOS_FAIR).count();
        let min = rated.iter().copied().fold(f64::INFINITY, f64::min);
        out.push(if low == 0 {
            format!(
                "Every stream with an E-model estimate had a MOS of {MOS_FAIR} or more \
                 (lowest {min:.2}, {} rated).",
                rated.len()
            )
        } else {
            format!(
                "Estimated MOS below {MOS_FAIR} for {low} of {} rated {} (lowest {min:.2}).",
                rated.len(),
                if rated.len() == 1 {
                    "stream"
                } else {
                    "streams"
                }
            )
        });
    }
    let dropped = ranked.iter().filter(|(s, _)| s.probe_drop).count();
    if dropped > 0 {
        out.push(format!(
            "The probe itself dropped packets during {}: their loss may be short.",
            plural(dropped, "stream", "streams")
        ));
    }
    out
}

/// "1 stream", "2 streams".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn n_streams(n: usize) -> String {
    plural(n, "stream", "streams")
}

fn was(n: usize) -> &'static str {
    if n == 1 {
        "was"
    } else {
        "were"
    }
}
