//! The dead-letter directory of a sink: batches its store rejected for good, kept instead of
//! dropped, until an operator fixed the configuration and resends them
//! (`rtcprobe resend --config FILE --sink NAME`, docs/central-store.md).
//!
//! A store answers a permanent error (HTTP 4xx other than 408 and 429: a wrong table or path,
//! a wrong password, a request it cannot parse) to a request that would fail again however
//! often it is retried; retrying would block every later record of the sink, and dropping
//! would lose them over a typo. So the batch moves here: `<state_dir>/<sink name>.dead-letter/`,
//! beside the sink's disk buffer (`<state_dir>/<sink name>/`), one NDJSON file per rejected
//! batch, exactly as buffered (`00000000000000000001.ndjson`, …; written to a temporary name
//! and renamed, so a file is always whole). The directory is bounded by
//! `delivery.dead_letter_max_bytes`: past it the oldest files are deleted and their records
//! counted as dropped (the newest batch is always kept, so the bound may be passed by one
//! batch).
//!
//! [`resend`] feeds the files, oldest first, through a sink's [`Service`] and deletes each one
//! the store accepted; it stops at the first one that still fails, so nothing is lost either
//! way. The daemon may keep running meanwhile: it only adds new files.

use super::delivery::{Outcome, Service};
use super::stats::SinkStats;
use std::collections::VecDeque;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The dead-letter directory of sink `name`.
pub fn dir_for(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(format!("{name}.dead-letter"))
}

#[derive(Debug, Clone, Copy)]
struct File {
    seq: u64,
    bytes: u64,
    records: u64,
}

/// A sink's dead-letter directory, as its sender thread writes it.
pub struct DeadLetter {
    dir: PathBuf,
    max_bytes: u64,
    files: VecDeque<File>,
    next_seq: u64,
    stats: Arc<SinkStats>,
    /// When [`DeadLetter::refresh`] last looked at the directory.
    checked: Instant,
}

/// How often a running sink notices files a `resend` took away (for its bytes gauge).
const REFRESH: Duration = Duration::from_secs(5);

impl DeadLetter {
    /// Open (creating) `dir` and account for the files already there.
    pub fn open(dir: &Path, max_bytes: u64, stats: Arc<SinkStats>) -> io::Result<DeadLetter> {
        fs::create_dir_all(dir)?;
        let mut files = Vec::new();
        for (seq, path) in segments(dir)? {
            let data = fs::read(&path)?;
            files.push(File {
                seq,
                bytes: data.len() as u64,
                records: lines(&data),
            });
        }
        let d = DeadLetter {
            dir: dir.to_path_buf(),
            max_bytes,
            next_seq: files.last().map_or(1, |f| f.seq + 1),
            files: files.into(),
            stats,
            checked: Instant::now(),
        };
        d.publish();
        Ok(d)
    }

    /// Bytes in the directory (as this sink knows it: a `resend` running beside the daemon
    /// deletes files, which the next [`DeadLetter::put`] notices).
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    fn publish(&self) {
        self.stats
            .dead_letter_bytes
            .store(self.bytes(), Ordering::Relaxed);
    }

    /// Forget the files a `resend` has taken away meanwhile (at most every few seconds; the
    /// sender calls it in its loop), so that the bytes gauge falls back to 0 after a resend.
    pub fn refresh(&mut self) {
        if self.files.is_empty() || self.checked.elapsed() < REFRESH {
            return;
        }
        self.checked = Instant::now();
        self.files.retain(|f| self.dir.join(name(f.seq)).exists());
        self.publish();
    }

    /// Keep a rejected batch of `records` records, then enforce the bound.
    pub fn put(&mut self, batch: &[u8], records: u64) -> io::Result<()> {
        // Forget files a resend has taken away meanwhile.
        self.files.retain(|f| self.dir.join(name(f.seq)).exists());
        let seq = self.next_seq;
        let tmp = self.dir.join(format!(".{}.tmp", name(seq)));
        fs::write(&tmp, batch)?;
        fs::rename(&tmp, self.dir.join(name(seq)))?;
        self.next_seq += 1;
        self.files.push_back(File {
            seq,
            bytes: batch.len() as u64,
            records,
        });
        self.stats
            .dead_lettered
            .fetch_add(records, Ordering::Relaxed);
        while self.bytes() > self.max_bytes && self.files.len() > 1 {
            let Some(old) = self.files.pop_front() else {
                break;
            };
            let _ = fs::remove_file(self.dir.join(name(old.seq)));
            self.stats.dropped.fetch_add(old.records, Ordering::Relaxed);
            tracing::warn!(
                records = old.records,
                "dead-letter directory full: dropped its oldest batch"
            );
        }
        self.publish();
        Ok(())
    }
}

fn name(seq: u64) -> String {
    format!("{seq:020}.ndjson")
}

fn lines(data: &[u8]) -> u64 {
    data.iter().filter(|&&c| c == b'\n').count() as u64
}

/// The dead-letter files of `dir`, oldest first (a missing directory has none).
pub fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in rd {
        let p = e?.path();
        let seq = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ndjson"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(seq) = seq {
            out.push((seq, p));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// What [`resend`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resent {
    /// Files and records the store accepted (their files are deleted).
    pub files: u64,
    pub records: u64,
    /// Files still in the directory.
    pub left: u64,
    /// Why the first file that failed did (redacted by the sink's client), if one did.
    pub error: Option<String>,
}

/// Send every dead-letter file of `dir` through `service`, oldest first, deleting each one
/// accepted; stop at the first failure (module doc).
pub fn resend(service: &mut dyn Service, dir: &Path) -> io::Result<Resent> {
    let files = segments(dir)?;
    let mut out = Resent::default();
    for (i, (_, path)) in files.iter().enumerate() {
        let data = fs::read(path)?;
        let n = lines(&data);
        match service.send(&data, n) {
            Outcome::Sent => {
                fs::remove_file(path)?;
                out.files += 1;
                out.records += n;
            }
            Outcome::Rejected(why) | Outcome::Retry(why) => {
                out.left = (files.len() - i) as u64;
                out.error = Some(why);
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// `rtcprobe resend --config FILE --sink NAME`: resend sink `name`'s dead-letter files
/// through the sink as `sinks` now configure it. `Ok`: a line saying what was resent; `Err`:
/// why not, or which file still fails (its text is redacted).
pub fn resend_sink(
    sinks: &[crate::config::SinkConfig],
    state_dir: &Path,
    name: &str,
) -> Result<String, String> {
    let Some(cfg) = sinks.iter().find(|s| s.name() == name) else {
        let names: Vec<String> = sinks.iter().map(|s| s.name()).collect();
        return Err(format!(
            "no sink named {name:?} in the configuration (sinks: {})",
            names.join(", ")
        ));
    };
    let dir = dir_for(state_dir, name);
    let (mut service, _) = super::service(cfg, name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("sink {name} is a file sink: it has no dead-letter directory"))?;
    let r = resend(service.as_mut(), &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let done = format!(
        "sink {name}: resent {} records in {} batches from {}",
        r.records,
        r.files,
        dir.display()
    );
    match r.error {
        None => Ok(done),
        Some(why) => Err(format!(
            "{done}; {} batches left, the next one failed: {why}",
            r.left
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Store(Vec<Outcome>, Vec<Vec<u8>>);

    impl Service for Store {
        fn send(&mut self, batch: &[u8], _records: u64) -> Outcome {
            self.1.push(batch.to_vec());
            if self.0.is_empty() {
                Outcome::Sent
            } else {
                self.0.remove(0)
            }
        }
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rtcprobe-dl-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn bounded_oldest_dropped_and_counted_newest_kept() {
        let d = tmp("bound");
        let stats = Arc::new(SinkStats::default());
        let mut dl = DeadLetter::open(&d, 20, Arc::clone(&stats)).unwrap();
        dl.put(b"a1\na2\n", 2).unwrap(); // 6 bytes
        dl.put(b"b1\nb2\nb3\n", 3).unwrap(); // 15
        dl.put(b"c1\nc2\n", 2).unwrap(); // 21 > 20: a goes
        assert_eq!(stats.dead_lettered.load(Ordering::Relaxed), 7);
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(stats.dead_letter_bytes.load(Ordering::Relaxed), 15);
        // One batch larger than the bound is kept alone.
        dl.put(&[b'x'; 30], 0).unwrap();
        assert_eq!(segments(&d).unwrap().len(), 1);
        // Reopened, the directory is accounted for and numbering continues.
        let stats = Arc::new(SinkStats::default());
        let mut dl = DeadLetter::open(&d, 20, Arc::clone(&stats)).unwrap();
        assert_eq!((dl.bytes(), dl.next_seq), (30, 5));
        // A resend took the file away: the gauge follows at the next refresh.
        for (_, p) in segments(&d).unwrap() {
            fs::remove_file(p).unwrap();
        }
        dl.checked -= REFRESH;
        dl.refresh();
        assert_eq!(stats.dead_letter_bytes.load(Ordering::Relaxed), 0);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn resend_sends_oldest_first_and_stops_at_the_first_failure() {
        let d = tmp("resend");
        let mut dl = DeadLetter::open(&d, 1 << 20, Arc::new(SinkStats::default())).unwrap();
        for b in [&b"1\n"[..], b"2\n2\n", b"3\n"] {
            dl.put(b, lines(b)).unwrap();
        }
        let mut store = Store(
            vec![Outcome::Sent, Outcome::Rejected("HTTP 404: no".into())],
            vec![],
        );
        let r = resend(&mut store, &d).unwrap();
        assert_eq!((r.files, r.records, r.left), (1, 1, 2));
        assert_eq!(r.error.as_deref(), Some("HTTP 404: no"));
        let mut store = Store(vec![], vec![]);
        let r = resend(&mut store, &d).unwrap();
        assert_eq!((r.files, r.records, r.left, r.error), (2, 3, 0, None));
        assert_eq!(store.1, [b"2\n2\n".to_vec(), b"3\n".to_vec()]);
        assert!(segments(&d).unwrap().is_empty());
        let _ = fs::remove_dir_all(&d);
    }
}
