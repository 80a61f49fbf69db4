//! The Prometheus endpoint: `/metrics`, `/healthz` and `/streams` over HTTP/1.1, optionally
//! with TLS and basic authentication.
//!
//! The server ([`server`]) is hyper 1 on a small tokio runtime of its own; [`routes`] answers
//! the requests, [`guard`] and [`limits`] keep it reachable and correct under abuse (RFC 9110,
//! RFC 9112), [`web_config`], [`site`], [`tls`] and [`auth`] read and apply the Prometheus
//! exporter toolkit's web configuration file. Each scrape encodes from the pipeline's
//! published snapshots ([`metrics`]), so it never blocks capture or the workers, and ended
//! streams are gone from the next scrape. The aggregates it encodes are accumulated by the
//! workers ([`aggregate`]) with the labels of [`labels`]; every metric name is in [`names`].
//!
//! `/streams` shows the live streams with the privacy rules of the labels: addresses in the
//! `address_labels` form, the CNAME only with `cname_label`. `/hops` shows the middlebox hops
//! ([`hops`]) under the same switch and rules.
//!
//! What it does not do: HTTP/2, or push.

pub mod aggregate;
pub mod auth;
mod calls;
pub mod calls_view;
pub mod guard;
pub mod hops;
pub mod labels;
pub mod limits;
pub mod metrics;
pub mod names;
pub mod routes;
pub mod server;
mod sip;
pub mod site;
pub mod tls;
pub mod web_config;

pub use server::Exporter;

use crate::engine::record::StreamRecord;
use crate::pipeline::snapshot::Board;
use labels::Labeller;

/// The live streams of every worker's latest snapshot, in order of first appearance.
pub fn live_streams(board: &Board) -> Vec<StreamRecord> {
    let mut all: Vec<(u64, StreamRecord)> = board
        .shards
        .iter()
        .flat_map(|s| s.load().streams.clone())
        .collect();
    all.sort_by(|(a, ra), (b, rb)| (a, &ra.src, ra.ssrc).cmp(&(b, &rb.src, rb.ssrc)));
    all.into_iter().map(|(_, r)| r).collect()
}

/// A record as `/streams` shows it: addresses as the per-stream labels show them
/// (`address_labels`), the CNAME only with `cname_label`.
pub fn private_record(l: &Labeller, mut r: StreamRecord) -> StreamRecord {
    r.src = l.address(&r.src);
    r.dst = l.address(&r.dst);
    if !l.cname_label {
        r.cname = None;
    }
    r
}

/// A record with every field empty or zero, for tests.
#[cfg(test)]
pub(crate) fn test_record() -> StreamRecord {
    StreamRecord {
        src: "10.0.0.1:4000".into(),
        dst: "10.0.0.2:5000".into(),
        ssrc: 1,
        observed_at: "capture".into(),
        payload_types: vec![0],
        clock_rate: Some(8000),
        clock_rate_source: Some("static"),
        packets: 0,
        bytes: 0,
        first_seen: String::new(),
        last_seen: String::new(),
        expected: 0,
        lost: 0,
        missing: 0,
        duplicates: 0,
        reordered: 0,
        seq_restarts: 0,
        max_gap_ms: 0.0,
        jitter_ms: None,
        max_jitter_ms: None,
        mean_jitter_ms: None,
        rtt_ms: Default::default(),
        remote: None,
        loss_upstream: None,
        loss_downstream: None,
        sender: None,
        feedback: Default::default(),
        cname: None,
        ended_by: "active",
        srtcp: false,
        probe_dropped: 0,
        probe_drop: false,
        loss_split: None,
        burst_r: None,
        burst_r_network: None,
        loss_runs: None,
        burst_gap: None,
        burst_gap_network: None,
        jitter_buffer: None,
        effective_loss_ratio: None,
        ptime_ms: None,
        audio_counters: None,
        quality: None,
        findings: Vec::new(),
        xr_voip: None,
        configured_codec: None,
        signalled_codec: None,
        first_seen_ns: 0,
        last_seen_ns: 0,
        probe_drop_at_ns: None,
        lost_settled: 0,
        video: None,
    }
}
