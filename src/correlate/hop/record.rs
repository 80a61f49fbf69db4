//! What the hop matcher reports: each hop ([`HopRecord`], `hops` in `replay --format json`,
//! docs/output.md) and the two streams it joins ([`StreamRef`]).

use super::MatchedBy;
use crate::engine::{PointNames, StreamKey};
use serde::Serialize;

/// A stream's identity in reports: the engine's key, shown as in stream records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamRef {
    pub src: String,
    pub dst: String,
    pub ssrc: u32,
    /// The observation point's name, as `observed_at` in stream records.
    pub observed_at: String,
}

impl StreamRef {
    /// `k` with its point named by `names`.
    pub fn of(k: &StreamKey, names: &PointNames) -> Self {
        StreamRef {
            src: k.src.to_string(),
            dst: k.dst.to_string(),
            ssrc: k.ssrc,
            observed_at: names.name(k.point).to_string(),
        }
    }
}

/// Forwarding delay quantiles, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DelaySummary {
    pub min: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// One hop as reported (`hops` in `replay --format json`, docs/output.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HopRecord {
    pub ingress: StreamRef,
    pub egress: StreamRef,
    pub matched_by: MatchedBy,
    pub confidence: f64,
    pub packets_in: u64,
    pub packets_out: u64,
    pub lost_inside: u64,
    /// Sequence numbers of the hop's ingress range that never reached the box.
    pub lost_upstream: u64,
    pub evicted: u64,
    pub late: u64,
    pub duplicates_out: u64,
    pub rtx_packets: u64,
    pub forwarding_delay: Option<DelaySummary>,
    pub jitter_added: f64,
    #[serde(skip)]
    pub ingress_key: StreamKey,
    #[serde(skip)]
    pub egress_key: StreamKey,
}

impl HopRecord {
    /// A record of nothing (never shown: the matcher reads hops it holds).
    pub(super) fn empty() -> Self {
        let k = crate::engine::StreamKey {
            src: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            dst: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            ssrc: 0,
            point: crate::engine::ObservationPoint::CAPTURE,
        };
        let r = StreamRef {
            src: String::new(),
            dst: String::new(),
            ssrc: 0,
            observed_at: String::new(),
        };
        HopRecord {
            ingress: r.clone(),
            egress: r,
            matched_by: super::MatchedBy::Ssrc,
            confidence: 0.0,
            packets_in: 0,
            packets_out: 0,
            lost_inside: 0,
            lost_upstream: 0,
            evicted: 0,
            late: 0,
            duplicates_out: 0,
            rtx_packets: 0,
            forwarding_delay: None,
            jitter_added: 0.0,
            ingress_key: k,
            egress_key: k,
        }
    }
}
