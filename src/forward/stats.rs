//! Per-sink delivery counters: atomics shared by a sink's threads and read by whoever reports
//! them: the stop log line, replay's summary on stderr, and the Prometheus exporter, which
//! reads the [`SinkView`]s published on the pipeline's board at every scrape
//! (`rtcprobe_forward_*` in src/export/names.rs, labels `sink` and `type`; docs/metrics.md).

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
    /// Records of batches the store rejected for good, kept in the dead-letter directory
    /// (src/forward/deadletter.rs), and the bytes waiting there now.
    pub dead_lettered: AtomicU64,
    pub dead_letter_bytes: AtomicU64,
}

/// One running sink as readers see it: its name and type (the `sink` and `type` labels, bounded
/// by the configuration) and its live counters.
#[derive(Debug, Clone)]
pub struct SinkView {
    pub name: String,
    pub kind: &'static str,
    pub stats: Arc<SinkStats>,
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
    pub dead_lettered: u64,
    pub dead_letter_bytes: u64,
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
            dead_lettered: l(&self.dead_lettered),
            dead_letter_bytes: l(&self.dead_letter_bytes),
        }
    }
}
