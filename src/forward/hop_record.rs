//! The hop record of schema version 2 (docs/records.md, "Hop records";
//! docs/records-hop.schema.json): one middlebox hop (an ingress stream and one egress stream
//! carrying its media, [`crate::correlate::hop`]) over an interval, or at its end.
//!
//! Flat like the stream record, so that every store takes it as it is; `kind` is `hop_interval`
//! or `hop_final`, which is how a reader tells it from the stream records (`interval`, `final`)
//! whose keys are those of version 1, unchanged. Times are capture times and the ID is a hash of
//! what identifies the record, so a replay gives the records the live probe sent.

use super::record::{RecordOptions, SCHEMA_VERSION};
use crate::correlate::hop::{HopRecord, MatchedBy, StreamRef};
use crate::engine::record::rfc3339_micros;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// `kind` of a hop's periodic record.
pub const HOP_INTERVAL: &str = "hop_interval";
/// `kind` of a hop's last record (it stopped forwarding, or the capture ended).
pub const HOP_FINAL: &str = "hop_final";

/// One forwarded hop record. Counts are cumulative since the hop was paired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HopRecordOut {
    pub schema_version: u32,
    pub record_id: String,
    pub host: String,
    /// [`HOP_INTERVAL`] or [`HOP_FINAL`].
    pub kind: String,
    /// Capture times: from the previous record of the hop (or its pairing) to this one.
    pub interval_start: String,
    pub interval_end: String,
    pub ingress_src_ip: String,
    pub ingress_src_port: u16,
    pub ingress_dst_ip: String,
    pub ingress_dst_port: u16,
    pub ingress_ssrc: u32,
    pub ingress_observed_at: String,
    pub egress_src_ip: String,
    pub egress_src_port: u16,
    pub egress_dst_ip: String,
    pub egress_dst_port: u16,
    pub egress_ssrc: u32,
    pub egress_observed_at: String,
    /// `ssrc` or `fingerprint`, and the share of the pairing window that matched.
    pub matched_by: String,
    pub confidence: f64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub lost_inside: u64,
    pub lost_upstream: u64,
    pub evicted: u64,
    pub late: u64,
    pub duplicates_out: u64,
    pub rtx_packets: u64,
    /// Forwarding delay (egress − ingress capture time) since pairing, ms; null before the
    /// first forwarded packet.
    pub forwarding_delay_min_ms: Option<f64>,
    pub forwarding_delay_p50_ms: Option<f64>,
    pub forwarding_delay_p95_ms: Option<f64>,
    pub forwarding_delay_p99_ms: Option<f64>,
    pub forwarding_delay_max_ms: Option<f64>,
    pub jitter_added_ms: f64,
}

/// What identifies one hop's records: both streams, where they were seen, and which pairing
/// of that pair it is (a pair can be paired again after a layer switch).
pub struct HopId<'a> {
    pub ingress_observed_at: &'a str,
    pub egress_observed_at: &'a str,
    pub occurrence: u32,
    /// Capture time the probe first saw the hop (ns).
    pub since_ns: i64,
}

/// The record of hop `h` for the period `start`..`end` (ns, capture time).
pub fn hop_record(
    opts: &RecordOptions,
    h: &HopRecord,
    id: &HopId<'_>,
    kind: &str,
    start: i64,
    end: i64,
) -> HopRecordOut {
    let (i_src, i_src_port) = split(&h.ingress.src);
    let (i_dst, i_dst_port) = split(&h.ingress.dst);
    let (e_src, e_src_port) = split(&h.egress.src);
    let (e_dst, e_dst_port) = split(&h.egress.dst);
    let ms = |f: fn(&crate::correlate::hop::DelaySummary) -> f64| {
        h.forwarding_delay.as_ref().map(|d| f(d) * 1e3)
    };
    HopRecordOut {
        schema_version: SCHEMA_VERSION,
        record_id: record_id(&opts.host, &h.ingress, &h.egress, id, start, kind),
        host: opts.host.clone(),
        kind: kind.to_string(),
        interval_start: rfc3339_micros(start.min(end)),
        interval_end: rfc3339_micros(end),
        ingress_src_ip: i_src,
        ingress_src_port: i_src_port,
        ingress_dst_ip: i_dst,
        ingress_dst_port: i_dst_port,
        ingress_ssrc: h.ingress.ssrc,
        ingress_observed_at: id.ingress_observed_at.to_string(),
        egress_src_ip: e_src,
        egress_src_port: e_src_port,
        egress_dst_ip: e_dst,
        egress_dst_port: e_dst_port,
        egress_ssrc: h.egress.ssrc,
        egress_observed_at: id.egress_observed_at.to_string(),
        matched_by: match h.matched_by {
            MatchedBy::Ssrc => "ssrc",
            MatchedBy::Fingerprint => "fingerprint",
        }
        .to_string(),
        confidence: h.confidence,
        packets_in: h.packets_in,
        packets_out: h.packets_out,
        lost_inside: h.lost_inside,
        lost_upstream: h.lost_upstream,
        evicted: h.evicted,
        late: h.late,
        duplicates_out: h.duplicates_out,
        rtx_packets: h.rtx_packets,
        forwarding_delay_min_ms: ms(|d| d.min),
        forwarding_delay_p50_ms: ms(|d| d.p50),
        forwarding_delay_p95_ms: ms(|d| d.p95),
        forwarding_delay_p99_ms: ms(|d| d.p99),
        forwarding_delay_max_ms: ms(|d| d.max),
        jitter_added_ms: h.jitter_added * 1e3,
    }
}

/// `"addr:port"` to its parts (the whole text and port 0 if it does not parse).
fn split(a: &str) -> (String, u16) {
    match a.parse::<SocketAddr>() {
        Ok(sa) => (sa.ip().to_string(), sa.port()),
        Err(_) => (a.to_string(), 0),
    }
}

/// 32 hex digits of two FNV-1a 64 hashes (as the stream records' IDs) over host, both
/// streams and points, the occurrence, the hop's first-seen time, the period start and kind.
fn record_id(
    host: &str,
    i: &StreamRef,
    e: &StreamRef,
    id: &HopId<'_>,
    start: i64,
    kind: &str,
) -> String {
    let text = format!(
        "{host}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{start}\u{1f}{kind}",
        i.src,
        i.dst,
        i.ssrc,
        id.ingress_observed_at,
        e.src,
        e.dst,
        e.ssrc,
        id.egress_observed_at,
        id.occurrence,
        id.since_ns,
    );
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
