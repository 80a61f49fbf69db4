//! What `rtcprobe top` shows, computed from two successive polls of a daemon: the streams of
//! `/streams` (docs/output.md) with their current rates, and the probe's own health from
//! `/metrics` (docs/metrics.md). Pure: the poller hands in the bodies and the time between
//! polls; no IO, no clock.
//!
//! Rates are differences between polls divided by the poll interval: packets/s and kbit/s of
//! each stream, and its **current loss**, the RFC 3550 A.3 loss over the interval (`Δlost /
//! Δexpected`). MOS is the E-model estimate of docs/records.md ("Quality estimate") computed
//! the way an interval record does it: the receiver's latest fraction lost when it reported,
//! else the current loss; the receiver's jitter, else the probe's; the first RTT known of
//! end-to-end, SR chain, STUN and capture point.

use crate::engine::emodel;
use crate::engine::record::{inputs_with, Quality, RTT_PREFERENCE};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// The fields of a `/streams` entry that top uses; others are ignored (the daemon may be newer).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StreamJson {
    pub src: String,
    pub dst: String,
    pub ssrc: u32,
    pub payload_types: Vec<u8>,
    pub packets: u64,
    pub bytes: u64,
    pub first_seen: String,
    pub expected: u64,
    pub lost: i64,
    pub jitter_ms: Option<f64>,
    pub rtt_ms: BTreeMap<String, RttJson>,
    pub remote: Option<RemoteJson>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct RttJson {
    pub last: f64,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct RemoteJson {
    pub fraction_lost: f64,
    pub jitter_ms: Option<f64>,
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub src: String,
    pub dst: String,
    pub ssrc: u32,
    pub payload_type: Option<u8>,
    pub packets: u64,
    /// Since the previous poll; `None` on a stream's first poll.
    pub pps: Option<f64>,
    pub kbps: Option<f64>,
    pub loss_now_pct: Option<f64>,
    /// Cumulative RFC 3550 A.3 loss in percent (not below 0).
    pub loss_pct: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub rtt_ms: Option<f64>,
    pub mos: Option<f64>,
}

/// The sort orders; each puts the worst stream first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Loss,
    Jitter,
    Rtt,
    Mos,
    Packets,
}

impl SortKey {
    /// The key that selects it on screen.
    pub fn from_key(c: char) -> Option<SortKey> {
        Some(match c {
            'l' => SortKey::Loss,
            'j' => SortKey::Jitter,
            'r' => SortKey::Rtt,
            'm' => SortKey::Mos,
            'p' => SortKey::Packets,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Loss => "loss",
            SortKey::Jitter => "jitter",
            SortKey::Rtt => "rtt",
            SortKey::Mos => "mos",
            SortKey::Packets => "packets/s",
        }
    }
}

/// Worst first by `key`; unknown values last; ties by address for a stable screen.
pub fn sort(rows: &mut [Row], key: SortKey) {
    let value = |r: &Row| -> Option<f64> {
        match key {
            // Current loss, else the stream's loss so far.
            SortKey::Loss => r.loss_now_pct.or(r.loss_pct),
            SortKey::Jitter => r.jitter_ms,
            SortKey::Rtt => r.rtt_ms,
            SortKey::Mos => r.mos.map(|m| -m),
            SortKey::Packets => r.pps.or(Some(r.packets as f64)),
        }
    };
    rows.sort_by(|a, b| {
        let (va, vb) = (value(a), value(b));
        match (va, vb) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then_with(|| (&a.src, &a.dst, a.ssrc).cmp(&(&b.src, &b.dst, b.ssrc)))
    });
}

/// The probe's own counters from `/metrics` (sums over all label sets).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Health {
    pub frames: f64,
    pub dropped: f64,
    pub streams_active: f64,
}

/// Sum the samples of the metrics top shows from a Prometheus text exposition.
pub fn health(metrics: &str) -> Health {
    let mut h = Health::default();
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = line.get(..name_end).unwrap_or_default();
        // The value follows the label set (whose values may hold spaces) or the name.
        let rest = match line.rfind('}') {
            Some(i) if line.get(name_end..name_end + 1) == Some("{") => line.get(i + 1..),
            _ => line.get(name_end..),
        };
        let Some(v) = rest
            .and_then(|r| r.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
        else {
            continue;
        };
        match name {
            "rtcprobe_capture_frames_total" => h.frames += v,
            "rtcprobe_capture_dropped_packets_total" => h.dropped += v,
            "rtcprobe_streams_active" => h.streams_active += v,
            _ => {}
        }
    }
    h
}

/// A stream's identity: src, dst, SSRC, first packet time.
type Key = (String, String, u32, String);
/// Its counters at a poll: packets, bytes, expected, lost.
type Counts = (u64, u64, u64, i64);

/// What one poll left, to compute the next poll's rates.
#[derive(Debug, Default)]
pub struct Previous {
    streams: HashMap<Key, Counts>,
    health: Option<Health>,
}

/// The screen's content after a poll.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    pub rows: Vec<Row>,
    pub health: Health,
    pub frames_per_sec: Option<f64>,
    pub drops_per_sec: Option<f64>,
}

/// Turn one poll (`/streams` entries, `/metrics` health, `secs` since the previous poll) into
/// rows, updating `prev` (which then holds only the streams of this poll: bounded by the
/// daemon's stream table).
pub fn view(streams: Vec<StreamJson>, health: Health, secs: f64, prev: &mut Previous) -> View {
    let rate = |d: f64| (secs > 0.0).then(|| d / secs);
    let mut next = HashMap::with_capacity(streams.len());
    let mut rows = Vec::with_capacity(streams.len());
    for s in streams {
        let key = (s.src.clone(), s.dst.clone(), s.ssrc, s.first_seen.clone());
        let before = prev.streams.get(&key).copied();
        let now = (s.packets, s.bytes, s.expected, s.lost);
        next.insert(key, now);
        let delta = before.filter(|b| b.0 <= now.0 && b.2 <= now.2);
        let pps = delta.and_then(|b| rate((now.0 - b.0) as f64));
        let kbps = delta.and_then(|b| rate((now.1.saturating_sub(b.1)) as f64 * 8.0 / 1000.0));
        let loss_now_pct = delta.and_then(|b| {
            let e = now.2 - b.2;
            (e > 0).then(|| (now.3.saturating_sub(b.3)).max(0) as f64 * 100.0 / e as f64)
        });
        let loss_pct = (s.expected > 0).then(|| s.lost.max(0) as f64 * 100.0 / s.expected as f64);
        let rtt = RTT_PREFERENCE
            .iter()
            .find_map(|m| s.rtt_ms.get(*m).map(|r| r.last));
        let jitter = s.remote.and_then(|r| r.jitter_ms).or(s.jitter_ms);
        let loss_ratio = s
            .remote
            .map(|r| r.fraction_lost)
            .or(loss_now_pct.map(|p| p / 100.0))
            .or(loss_pct.map(|p| p / 100.0));
        // The E-model of the loss the row shows (engine::record's builder; `/streams` carries
        // no clock rate, so only static payload types are rated here).
        let mos = s
            .payload_types
            .first()
            .and_then(|pt| emodel::codec_for_stream(None, *pt, None))
            .zip(loss_ratio)
            .and_then(|(codec, loss_ratio)| {
                let ppl = (loss_ratio * 100.0).clamp(0.0, 100.0);
                Quality::of(&inputs_with(codec, ppl, 1.0, None, rtt, jitter))
            })
            .map(|q| q.mos);
        rows.push(Row {
            payload_type: s.payload_types.first().copied(),
            packets: s.packets,
            pps,
            kbps,
            loss_now_pct,
            loss_pct,
            jitter_ms: s.jitter_ms,
            rtt_ms: rtt,
            mos,
            src: s.src,
            dst: s.dst,
            ssrc: s.ssrc,
        });
    }
    prev.streams = next;
    let per_sec = |f: fn(&Health) -> f64| {
        prev.health
            .map(|p| f(&health) - f(&p))
            .filter(|d| *d >= 0.0)
            .and_then(rate)
    };
    let v = View {
        rows,
        health,
        frames_per_sec: per_sec(|h| h.frames),
        drops_per_sec: per_sec(|h| h.dropped),
    };
    prev.health = Some(health);
    v
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
