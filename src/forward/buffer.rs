//! A bounded on-disk buffer of records for one sink: NDJSON segment files in the sink's own
//! directory (`<state_dir>/<sink name>/00000000000000000001.ndjson`, …).
//!
//! Records are appended to the open segment; a segment is sealed when it holds a batch
//! (`batch_records`, `batch_bytes`) or is `batch_timeout_ms` old, and a sealed segment is exactly
//! one request to the store. It is deleted only after the store accepted it (at-least-once),
//! so records survive a store outage and a daemon restart: at start every segment found is
//! sealed, a torn last line (the daemon was killed mid-write) is cut off. Past
//! `buffer_max_bytes` the oldest sealed segment that is not being sent is deleted and its
//! records are counted as dropped: never silently. Not thread-safe by itself: the sink holds it
//! in a mutex shared by its intake and its sender.

use super::stats::SinkStats;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Limits of one buffer.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub batch_records: usize,
    pub batch_bytes: u64,
    pub batch_timeout: Duration,
    pub max_bytes: u64,
}

#[derive(Debug, Clone, Copy)]
struct Sealed {
    seq: u64,
    bytes: u64,
    records: u64,
}

struct Open {
    seq: u64,
    file: File,
    bytes: u64,
    records: u64,
    since: Instant,
}

/// One sink's segments.
pub struct Buffer {
    dir: PathBuf,
    limits: Limits,
    sealed: VecDeque<Sealed>,
    open: Option<Open>,
    next_seq: u64,
    in_flight: Option<u64>,
    stats: Arc<SinkStats>,
}

impl Buffer {
    /// Open (creating) `dir` and take over every segment left there.
    pub fn open(dir: &Path, limits: Limits, stats: Arc<SinkStats>) -> io::Result<Buffer> {
        fs::create_dir_all(dir)?;
        let mut found = Vec::new();
        for e in fs::read_dir(dir)? {
            let p = e?.path();
            let seq = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".ndjson"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(seq) = seq {
                found.push(seq);
            }
        }
        found.sort_unstable();
        let mut b = Buffer {
            dir: dir.to_path_buf(),
            limits,
            sealed: VecDeque::new(),
            open: None,
            next_seq: found.last().map_or(1, |s| s + 1),
            in_flight: None,
            stats,
        };
        for seq in found {
            let path = b.path(seq);
            let mut data = fs::read(&path)?;
            // Cut a torn last line.
            let keep = data.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
            if keep < data.len() {
                data.truncate(keep);
                fs::write(&path, &data)?;
            }
            if data.is_empty() {
                fs::remove_file(&path)?;
                continue;
            }
            let records = data.iter().filter(|&&c| c == b'\n').count() as u64;
            b.sealed.push_back(Sealed {
                seq,
                bytes: data.len() as u64,
                records,
            });
        }
        b.publish();
        Ok(b)
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.ndjson"))
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.sealed.iter().map(|s| s.bytes).sum::<u64>() + self.open.as_ref().map_or(0, |o| o.bytes)
    }

    /// Records on disk.
    pub fn records(&self) -> u64 {
        self.sealed.iter().map(|s| s.records).sum::<u64>()
            + self.open.as_ref().map_or(0, |o| o.records)
    }

    fn publish(&self) {
        self.stats
            .buffered_bytes
            .store(self.bytes(), Ordering::Relaxed);
    }

    /// Append one NDJSON line (without its newline).
    pub fn push(&mut self, line: &[u8]) -> io::Result<()> {
        if self.open.is_none() {
            let seq = self.next_seq;
            self.next_seq += 1;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(seq))?;
            self.open = Some(Open {
                seq,
                file,
                bytes: 0,
                records: 0,
                since: Instant::now(),
            });
        }
        if let Some(o) = &mut self.open {
            let mut buf = Vec::with_capacity(line.len() + 1);
            buf.extend_from_slice(line);
            buf.push(b'\n');
            o.file.write_all(&buf)?;
            o.bytes += buf.len() as u64;
            o.records += 1;
            if o.records >= self.limits.batch_records as u64 || o.bytes >= self.limits.batch_bytes {
                self.seal()?;
            }
        }
        self.enforce();
        self.publish();
        Ok(())
    }

    /// Seal the open segment if it is older than the batch timeout.
    pub fn seal_if_due(&mut self) -> io::Result<()> {
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.since.elapsed() >= self.limits.batch_timeout)
        {
            self.seal()?;
        }
        Ok(())
    }

    /// Seal the open segment now (shutdown, batch full).
    pub fn seal(&mut self) -> io::Result<()> {
        if let Some(o) = self.open.take() {
            o.file.sync_data()?;
            self.sealed.push_back(Sealed {
                seq: o.seq,
                bytes: o.bytes,
                records: o.records,
            });
        }
        Ok(())
    }

    /// Drop the oldest sealed segments not being sent until the buffer fits its bound.
    fn enforce(&mut self) {
        while self.bytes() > self.limits.max_bytes {
            let pos = self
                .sealed
                .iter()
                .position(|s| Some(s.seq) != self.in_flight);
            let Some(victim) = pos.and_then(|i| self.sealed.remove(i)) else {
                return;
            };
            let _ = fs::remove_file(self.path(victim.seq));
            self.stats
                .dropped
                .fetch_add(victim.records, Ordering::Relaxed);
            tracing::warn!(
                records = victim.records,
                "sink buffer full: dropped its oldest batch"
            );
        }
    }

    /// The oldest sealed batch, read from disk and marked in flight: `(seq, bytes, records)`.
    pub fn next_batch(&mut self) -> io::Result<Option<(u64, Vec<u8>, u64)>> {
        let Some(s) = self.sealed.front().copied() else {
            return Ok(None);
        };
        self.in_flight = Some(s.seq);
        Ok(Some((s.seq, fs::read(self.path(s.seq))?, s.records)))
    }

    /// The store accepted batch `seq` (or it is given up on): delete it.
    pub fn ack(&mut self, seq: u64) {
        self.in_flight = None;
        if let Some(i) = self.sealed.iter().position(|s| s.seq == seq) {
            self.sealed.remove(i);
            let _ = fs::remove_file(self.path(seq));
        }
        self.publish();
    }

    /// Sending batch `seq` failed; it stays, and may be dropped again if the buffer overflows.
    pub fn release(&mut self) {
        self.in_flight = None;
        self.enforce();
        self.publish();
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.open.is_none()
    }

    /// Whether a sealed batch is waiting.
    pub fn has_sealed(&self) -> bool {
        !self.sealed.is_empty()
    }
}

#[cfg(test)]
#[path = "buffer_tests.rs"]
mod tests;
