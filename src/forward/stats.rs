//! Per-sink delivery counters: atomics shared by a sink's threads and read by whoever reports
//! them (the health line today, the Prometheus exporter's `/metrics`).
//!
//! Suggested metric names (STYLE.md rule 8), label `sink` = the sink's name, `type` its type:
//! `rtcprobe_forward_records_sent_total`, `rtcprobe_forward_records_failed_total` (rejected by
//! the store, not retried), `rtcprobe_forward_records_retried_total` (records in attempts that
//! failed and were retried), `rtcprobe_forward_records_dropped_total` (buffer or queue full),
//! `rtcprobe_forward_buffered_bytes`, `rtcprobe_forward_last_success_timestamp_seconds`.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub dropped: AtomicU64,
    pub buffered_bytes: AtomicU64,
    /// Unix seconds of the last accepted batch, 0 = never.
    pub last_success_secs: AtomicU64,
}

/// A snapshot of one sink's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub name: String,
    pub kind: &'static str,
    pub sent: u64,
    pub failed: u64,
    pub retried: u64,
    pub dropped: u64,
    pub buffered_bytes: u64,
    pub last_success_secs: u64,
}

impl SinkStats {
    pub fn snapshot(&self, name: &str, kind: &'static str) -> Stats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            name: name.to_string(),
            kind,
            sent: l(&self.sent),
            failed: l(&self.failed),
            retried: l(&self.retried),
            dropped: l(&self.dropped),
            buffered_bytes: l(&self.buffered_bytes),
            last_success_secs: l(&self.last_success_secs),
        }
    }
}
