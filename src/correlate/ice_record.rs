//! The record of an ICE session ([`super`]): what `replay --format json` shows of it
//! (docs/ice-turn.md), and its outcome.

use super::Session;
use crate::correlate::calls::StreamRef;
use crate::engine::record::rfc3339_micros;
use crate::engine::PointNames;
use serde::Serialize;

/// One ended (or snapshot) ICE session, as `replay --format json` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IceSessionRecord {
    pub kind: &'static str,
    pub id: String,
    /// The two ufrags (canonical order: bytewise smaller first); not secret (they are in the
    /// SDP) and not personal (random per session).
    pub ufrags: [String; 2],
    pub start: String,
    pub end: String,
    pub outcome: &'static str,
    /// `idle`, `evicted`, `end_of_capture`.
    pub ended_by: &'static str,
    /// `full` (both agents sent checks), `lite` (one answered but never checked: RFC 8445
    /// §2.5), `unknown` (no answer seen).
    pub mode: &'static str,
    /// Index into `ufrags` of the agent that announced ICE-CONTROLLING.
    pub controlling: Option<usize>,
    pub checks: u64,
    pub answers: u64,
    pub pairs: Vec<IcePairRecord>,
    /// Index into `pairs` of the selected one (nominated and answered), if any.
    pub selected_pair: Option<usize>,
    pub streams: Vec<StreamRef>,
    /// Stream references not kept past [`super::MAX_STREAMS`].
    pub streams_omitted: u64,
    /// Capture times behind `start` and `end` (ns since the epoch).
    #[serde(skip)]
    pub start_ns: i64,
    #[serde(skip)]
    pub end_ns: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IcePairRecord {
    pub a: String,
    pub b: String,
    pub checks: u64,
    pub answers: u64,
    pub error_answers: u64,
    pub rtt_ms_min: Option<f64>,
    pub rtt_ms_mean: Option<f64>,
    pub rtt_ms_max: Option<f64>,
    pub nominated: bool,
    pub selected: bool,
    pub consent_checks: u64,
    pub consent_answers: u64,
    pub media_packets: u64,
}

/// The outcome of a session (module docs).
fn outcome(s: &Session) -> &'static str {
    let answers: u64 = s.pairs.iter().map(|p| p.answers).sum();
    let media: u64 = s.pairs.iter().map(|p| p.media_packets).sum();
    match (answers, media) {
        (0, _) => "failed",
        (_, 0) => "no_media",
        _ => "connected",
    }
}

pub(super) fn record(
    s: &Session,
    ended_by: &'static str,
    ongoing: bool,
    names: &PointNames,
) -> IceSessionRecord {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let ufrags = [text(&s.key.0), text(&s.key.1)];
    let answers: u64 = s.pairs.iter().map(|p| p.answers).sum();
    let checks: u64 = s.pairs.iter().map(|p| p.checks).sum();
    let mode = match (s.sent, answers) {
        (_, 0) => "unknown",
        ([0, _], _) | ([_, 0], _) => "lite",
        _ => "full",
    };
    let ms = |ns: i64| ns as f64 / 1e6;
    let pairs = s
        .pairs
        .iter()
        .enumerate()
        .map(|(i, p)| IcePairRecord {
            a: p.a.to_string(),
            b: p.b.to_string(),
            checks: p.checks,
            answers: p.answers,
            error_answers: p.errors,
            rtt_ms_min: (p.answers > 0).then(|| ms(p.rtt_min_ns)),
            rtt_ms_mean: (p.answers > 0).then(|| ms(p.rtt_sum_ns) / p.answers as f64),
            rtt_ms_max: (p.answers > 0).then(|| ms(p.rtt_max_ns)),
            nominated: p.nominated,
            selected: s.selected == Some(i),
            consent_checks: p.consent_checks,
            consent_answers: p.consent_answers,
            media_packets: p.media_packets,
        })
        .collect();
    IceSessionRecord {
        kind: "ice",
        id: format!("ice:{}:{}", ufrags[0], ufrags[1]),
        ufrags,
        start: rfc3339_micros(s.first_ns),
        end: rfc3339_micros(s.last_ns),
        outcome: if ongoing { "ongoing" } else { outcome(s) },
        ended_by,
        mode,
        controlling: s.controlling,
        checks,
        answers,
        pairs,
        selected_pair: s.selected,
        streams: s.streams.iter().map(|r| r.render(names)).collect(),
        streams_omitted: s.streams_dropped,
        start_ns: s.first_ns,
        end_ns: s.last_ns,
    }
}
