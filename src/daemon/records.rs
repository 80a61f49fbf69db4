//! The `--records FILE` writer: one JSON object per line (NDJSON) for every stream that ends,
//! in the `streams[]` schema of `rtcprobe replay --format json` (docs/output.md).
//!
//! It runs on its own thread behind a bounded queue, so a slow disk never stalls a worker
//! (workers drop and count records when the queue is full). The file is appended to, and
//! flushed whenever the queue runs empty.

use crate::pipeline::worker::Ordered;
use crossbeam_channel::Receiver;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

/// Open `path` for appending (created if missing).
pub fn open(path: &Path) -> std::io::Result<BufWriter<File>> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    Ok(BufWriter::new(f))
}

/// Write records until every sender is gone; returns how many were written.
pub fn write_all(rx: &Receiver<Ordered>, out: &mut impl Write) -> std::io::Result<u64> {
    let mut n = 0;
    while let Ok((_, rec)) = rx.recv() {
        serde_json::to_writer(&mut *out, &rec)?;
        out.write_all(b"\n")?;
        n += 1;
        if rx.is_empty() {
            out.flush()?;
        }
    }
    out.flush()?;
    Ok(n)
}
