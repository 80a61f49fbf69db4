//! A capture thread: one live source (an interface, or one fanout member of it) feeding the
//! pipeline until told to stop.
//!
//! The thread never waits for traffic: [`LiveSource::next`] returns `Idle` after a bounded
//! wait, which is when idle streams get their expiry tick, partial batches go out, and the
//! stop flag and reload requests are seen. Every second it reads libpcap's statistics (kernel
//! and interface drops flag the live streams) and publishes its counters.

use crate::capture::{LiveSource, Next};
use crate::config::Resolved;
use crate::pipeline::feeder::Feeder;
use crate::pipeline::file::wall_ns;
use crate::wire::LinkType;
use crossbeam_channel::Receiver;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a capture thread waits for a packet before doing its periodic work.
const WAIT: Duration = Duration::from_millis(100);
/// How often libpcap statistics are read.
const STATS_EVERY: Duration = Duration::from_secs(1);
/// How often the counters are published between statistics: the health line and the exporter
/// read them, and a snapshot a second old made the first health line's rate nearly 0.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// What a reload asks of a capture thread.
#[derive(Debug, Clone)]
pub struct Reload {
    pub filter: Option<String>,
    pub engine: Resolved,
}

/// Everything a capture thread owns.
pub struct CaptureThread {
    pub source: LiveSource,
    pub link: LinkType,
    pub feeder: Feeder,
    pub stop: Arc<AtomicBool>,
    pub reload: Receiver<Reload>,
    /// Wall-clock second of the latest loop turn, for the watchdog.
    pub heartbeat: Arc<AtomicI64>,
    /// How long to keep reading after the stop flag: the kernel may hold frames it already
    /// captured in a block it has not yet handed over (TPACKET_V3 retires a partly filled block
    /// only after `capture.timeout_ms`). See [`drain_time`].
    pub drain: Duration,
}

/// The final drain: the block timeout plus a margin, at most `MAX_DRAIN` (2 s) so that a
/// SIGTERM during a flood still ends well inside systemd's stop timeout.
pub fn drain_time(timeout_ms: u32) -> Duration {
    (Duration::from_millis(u64::from(timeout_ms)) + WAIT).min(MAX_DRAIN)
}

/// Upper bound of the final drain.
const MAX_DRAIN: Duration = Duration::from_secs(2);

impl CaptureThread {
    pub fn run(mut self) {
        let mut next_stats = Instant::now();
        let mut next_publish = Instant::now() + PUBLISH_EVERY;
        let name = self.source.interface().to_string();
        while !self.stop.load(Ordering::Relaxed) {
            match self.source.next(WAIT) {
                Ok(Next::Frame(f)) => self.feeder.frame(self.link, f.ts_ns, f.data),
                Ok(Next::Idle) => self.feeder.idle(wall_ns()),
                Err(e) => {
                    tracing::error!(interface = %name, "capture failed: {e}");
                    break;
                }
            }
            if Instant::now() >= next_stats {
                next_stats = Instant::now() + STATS_EVERY;
                self.heartbeat
                    .store(wall_ns() / 1_000_000_000, Ordering::Relaxed);
                self.periodic(&name);
            } else if Instant::now() >= next_publish {
                next_publish = Instant::now() + PUBLISH_EVERY;
                self.feeder.publish();
            }
        }
        // Frames the kernel captured before the stop (packets sent just before a SIGTERM) are
        // still counted: read until the ring stays empty for a block timeout, within a deadline.
        let deadline = Instant::now() + self.drain;
        while Instant::now() < deadline {
            match self
                .source
                .next(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Next::Frame(f)) => self.feeder.frame(self.link, f.ts_ns, f.data),
                Ok(Next::Idle) | Err(_) => break,
            }
        }
        // Final statistics, so the summary counts drops up to the end.
        self.periodic(&name);
    }

    fn periodic(&mut self, name: &str) {
        match self.source.stats() {
            Ok(s) => self
                .feeder
                .capture_stats(wall_ns(), s.received, s.dropped, s.if_dropped),
            Err(e) => tracing::warn!(interface = %name, "cannot read capture statistics: {e}"),
        }
        while let Ok(r) = self.reload.try_recv() {
            if let Some(filter) = &r.filter {
                match self.source.set_filter(filter) {
                    Ok(()) => {
                        tracing::info!(interface = %name, filter = %filter, "filter replaced")
                    }
                    Err(e) => tracing::error!(interface = %name, "filter kept: {e}"),
                }
            }
            self.feeder.reconfigure(r.engine);
        }
        self.feeder.publish();
    }
}
