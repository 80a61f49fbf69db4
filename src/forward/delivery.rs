//! Moving batches from a sink's disk buffer to its store: one sender thread per sink, so a
//! store that is down or slow holds up only its own sink.
//!
//! A batch leaves the buffer only when the store accepted it ([`Outcome::Sent`]) or rejected it
//! for good ([`Outcome::Rejected`]: retrying a request the store will never take would block
//! every later record): then it moves to the sink's dead-letter directory
//! ([`super::deadletter`]), logged once with the store's (redacted) reason, to be resent once
//! the configuration is fixed; only a batch that cannot be written there is counted as failed
//! (lost). Anything else is retried after an exponential backoff
//! (`retry_initial_ms`, doubling to `retry_max_ms`) with jitter (a random delay between half
//! and all of the backoff, so probes restarted together do not retry in step).

use super::buffer::Buffer;
use super::deadletter::DeadLetter;
use super::stats::SinkStats;
use crate::config::Delivery;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a store did with a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Transient (connection refused, timeout, 5xx, 429): keep and retry.
    Retry(String),
    /// Permanent (4xx): drop, count as failed.
    Rejected(String),
}

/// Sends one batch (NDJSON lines, as buffered) to a store.
pub trait Service: Send {
    fn send(&mut self, batch: &[u8], records: u64) -> Outcome;
}

/// Run until `stop` is set and the buffer is empty, or `grace_ms` (read when `stop` is seen)
/// after `stop` has passed: what is left stays on disk for the next start.
#[allow(clippy::too_many_arguments)]
pub fn run(
    buffer: &Mutex<Buffer>,
    dead: &mut Option<DeadLetter>,
    service: &mut dyn Service,
    d: &Delivery,
    stats: &SinkStats,
    stop: &AtomicBool,
    grace_ms: &AtomicU64,
    name: &str,
) {
    let initial = Duration::from_millis(d.retry_initial_ms.max(1));
    let max = Duration::from_millis(d.retry_max_ms).max(initial);
    let mut backoff = initial;
    let mut next_try = Instant::now();
    let mut deadline: Option<Instant> = None;
    let mut rng = seed();
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if stopping && deadline.is_none() {
            deadline =
                Some(Instant::now() + Duration::from_millis(grace_ms.load(Ordering::Relaxed)));
        }
        let has_batch = match buffer.lock() {
            Ok(mut b) => {
                let sealed = if stopping { b.seal() } else { b.seal_if_due() };
                if let Err(e) = sealed {
                    tracing::error!(sink = name, "buffer: {e}");
                }
                if stopping && b.is_empty() {
                    return;
                }
                b.has_sealed()
            }
            Err(_) => return,
        };
        if deadline.is_some_and(|t| Instant::now() >= t) {
            tracing::warn!(sink = name, "stopping with records still buffered on disk");
            return;
        }
        if let Some(d) = dead.as_mut() {
            d.refresh();
        }
        if !has_batch || Instant::now() < next_try {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let batch = match buffer.lock().map(|mut b| b.next_batch()) {
            Ok(Ok(Some(b))) => b,
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => {
                tracing::error!(sink = name, "buffer read: {e}");
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            Err(_) => return,
        };
        let (seq, data, n) = batch;
        let outcome = service.send(&data, n);
        let Ok(mut b) = buffer.lock() else { return };
        match outcome {
            Outcome::Sent => {
                b.ack(seq);
                stats.sent.fetch_add(n, Ordering::Relaxed);
                stats
                    .last_success_secs
                    .store(super::unix_secs(), Ordering::Relaxed);
                backoff = initial;
            }
            Outcome::Rejected(why) => {
                let why: String = why.chars().take(200).collect();
                let kept = dead.as_mut().map(|d| d.put(&data, n));
                b.ack(seq);
                match kept {
                    Some(Ok(())) => tracing::error!(
                        sink = name,
                        records = n,
                        "store rejected a batch for good ({why}): kept in the dead-letter \
                         directory; fix the sink's configuration, then `rtcprobe resend`"
                    ),
                    Some(Err(e)) => {
                        stats.failed.fetch_add(n, Ordering::Relaxed);
                        tracing::error!(
                            sink = name,
                            records = n,
                            "store rejected a batch for good ({why}) and the dead-letter \
                             directory cannot take it ({e}): records lost"
                        );
                    }
                    None => {
                        stats.failed.fetch_add(n, Ordering::Relaxed);
                        tracing::error!(sink = name, records = n, "store rejected a batch: {why}");
                    }
                }
            }
            Outcome::Retry(why) => {
                b.release();
                stats.retried.fetch_add(n, Ordering::Relaxed);
                let wait = jitter(backoff, &mut rng);
                tracing::warn!(
                    sink = name,
                    records = n,
                    retry_in_ms = wait.as_millis() as u64,
                    "send failed: {why}"
                );
                next_try = Instant::now() + wait;
                backoff = (backoff * 2).min(max);
            }
        }
    }
}

fn seed() -> u64 {
    let t = super::unix_nanos();
    (t ^ u64::from(std::process::id()).rotate_left(32)) | 1
}

/// A uniformly random delay in [d/2, d] (xorshift64).
fn jitter(d: Duration, state: &mut u64) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    let half = d / 2;
    let span = u64::try_from(half.as_micros()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_micros(*state % span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_whole() {
        let mut s = 42;
        for _ in 0..1000 {
            let j = jitter(Duration::from_millis(800), &mut s);
            assert!(j >= Duration::from_millis(400) && j <= Duration::from_millis(800));
        }
    }
}
