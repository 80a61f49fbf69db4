//! The `file` sink: records as NDJSON lines appended to a local file, rotated by size and age
//! (`path` → `path.1` → … → `path.<keep_files>`, the oldest deleted).
//!
//! The local disk is the buffer here, so there is no second one; a write error is logged and
//! the records counted as failed. The file is flushed whenever its queue runs empty.

use super::stats::SinkStats;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A rotating NDJSON writer.
pub struct FileSink {
    path: PathBuf,
    rotate_bytes: u64,
    rotate_age: Option<Duration>,
    keep: u32,
    out: Option<(BufWriter<File>, u64, Instant)>,
    stats: Arc<SinkStats>,
}

impl FileSink {
    pub fn new(
        path: PathBuf,
        rotate_bytes: u64,
        rotate_age_secs: u64,
        keep: u32,
        stats: Arc<SinkStats>,
    ) -> io::Result<FileSink> {
        let mut s = FileSink {
            path,
            rotate_bytes: rotate_bytes.max(1),
            rotate_age: (rotate_age_secs > 0).then(|| Duration::from_secs(rotate_age_secs)),
            keep,
            out: None,
            stats,
        };
        s.reopen()?;
        Ok(s)
    }

    fn reopen(&mut self) -> io::Result<()> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        let len = f.metadata()?.len();
        self.out = Some((BufWriter::new(f), len, Instant::now()));
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Some((mut w, _, _)) = self.out.take() {
            w.flush()?;
        }
        let name = |i: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        if self.keep == 0 {
            let _ = fs::remove_file(&self.path);
        } else {
            let _ = fs::remove_file(name(self.keep));
            for i in (1..self.keep).rev() {
                let _ = fs::rename(name(i), name(i + 1));
            }
            fs::rename(&self.path, name(1))?;
        }
        self.reopen()
    }

    /// Append one line (without its newline).
    pub fn write(&mut self, line: &[u8]) {
        if let Err(e) = self.try_write(line) {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(path = %self.path.display(), "file sink: {e}");
        } else {
            self.stats.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn try_write(&mut self, line: &[u8]) -> io::Result<()> {
        let due = self.out.as_ref().map_or(true, |(_, len, since)| {
            *len >= self.rotate_bytes || self.rotate_age.is_some_and(|a| since.elapsed() >= a)
        });
        if due && self.out.as_ref().is_some_and(|(_, len, _)| *len > 0) {
            self.rotate()?;
        } else if self.out.is_none() {
            self.reopen()?;
        }
        let Some((w, len, _)) = &mut self.out else {
            return Err(io::Error::other("file not open"));
        };
        w.write_all(line)?;
        w.write_all(b"\n")?;
        *len += line.len() as u64 + 1;
        Ok(())
    }

    pub fn flush(&mut self) {
        if let Some((w, _, _)) = &mut self.out {
            if let Err(e) = w.flush() {
                tracing::error!(path = %self.path.display(), "file sink: {e}");
            } else {
                let now = super::unix_secs();
                self.stats.last_success_secs.store(now, Ordering::Relaxed);
            }
        }
    }
}
