//! An external sort of rendered output entries, so that `replay` output costs bounded memory
//! whatever the number of streams in the file.
//!
//! A replay ends streams in the order they go idle or are evicted, but prints them in order of
//! first appearance (or worst first with `--sort`). Keeping every ended stream's record until
//! the end grows with the file (about 1 KB a stream, 1.3 GB for a million). Instead each ended
//! stream is rendered at once into an [`Entry`]: a sort key and the bytes to print. Entries
//! collect in memory up to a byte budget; past it they are sorted and written as one *run* to
//! an unlinked temporary file (`$TMPDIR`, else `/tmp`; gone when the process ends, even on a
//! crash). At the end the runs are merged, at most [`FAN_IN`] at a time (more runs are first
//! merged into longer runs in the same file). Runs are Snappy-compressed (rendered JSON shrinks
//! several times). Memory: the budget plus read buffers per merged run (about 200 KiB each);
//! disk: the compressed output, twice that past [`FAN_IN`] runs. A file whose output fits the
//! budget never touches the disk.
//!
//! The order is total and deterministic: by key, and entries with equal keys in the order they
//! were pushed (a stable sort within a run, runs merged in the order they were written).

use snap::read::FrameDecoder;
use snap::write::FrameEncoder;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::os::unix::fs::FileExt;

/// Bytes of rendered entries held in memory before they are spilled (`replay`'s default).
pub const DEFAULT_BUDGET: usize = 16 << 20;
/// Runs merged at once: one open read buffer each.
pub const FAN_IN: usize = 64;
/// Read buffer per run during a merge.
const READ_BUF: usize = 64 << 10;
/// Bookkeeping bytes counted per entry on top of its key and payload (two `Vec` headers).
const ENTRY_OVERHEAD: usize = 48;
/// Longest key or payload read back: a damaged spill file is an error, not a huge allocation.
const MAX_FIELD: usize = 64 << 20;

/// One output entry: sorted by `key` (bytewise), printed as `payload`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Entry {
    fn cost(&self) -> usize {
        self.key.len() + self.payload.len() + ENTRY_OVERHEAD
    }
}

/// Collects entries in any order; [`Sorter::finish`] gives them back sorted.
#[derive(Debug)]
pub struct Sorter {
    mem: Vec<Entry>,
    mem_bytes: usize,
    budget: usize,
    fan_in: usize,
    spill: Option<Spill>,
    len: u64,
    peak_entries: usize,
}

/// The temporary file and the runs in it, as (offset, length).
#[derive(Debug)]
struct Spill {
    file: File,
    end: u64,
    runs: Vec<(u64, u64)>,
}

impl Default for Sorter {
    fn default() -> Self {
        Sorter::new(DEFAULT_BUDGET, FAN_IN)
    }
}

impl Sorter {
    /// Hold at most about `budget` bytes of entries in memory; merge `fan_in` runs at once
    /// (at least 2).
    pub fn new(budget: usize, fan_in: usize) -> Self {
        Sorter {
            mem: Vec::new(),
            mem_bytes: 0,
            budget,
            fan_in: fan_in.max(2),
            spill: None,
            len: 0,
            peak_entries: 0,
        }
    }

    /// Add an entry; spills the entries in memory when they pass the budget.
    pub fn push(&mut self, e: Entry) -> io::Result<()> {
        self.mem_bytes += e.cost();
        self.mem.push(e);
        self.len += 1;
        self.peak_entries = self.peak_entries.max(self.mem.len());
        if self.mem_bytes > self.budget {
            self.spill_mem()?;
        }
        Ok(())
    }

    /// Entries pushed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most entries held in memory at once (what the budget bounds).
    pub fn peak_entries(&self) -> usize {
        self.peak_entries
    }

    /// Whether entries went to the temporary file.
    pub fn spilled(&self) -> bool {
        self.spill.is_some()
    }

    fn spill_mem(&mut self) -> io::Result<()> {
        let mut mem = std::mem::take(&mut self.mem);
        self.mem_bytes = 0;
        mem.sort_by(|a, b| a.key.cmp(&b.key));
        let spill = match &mut self.spill {
            Some(s) => s,
            None => self.spill.insert(Spill {
                file: tempfile()?,
                end: 0,
                runs: Vec::new(),
            }),
        };
        let start = spill.end;
        let mut w = run_writer(&spill.file);
        for e in &mem {
            write_entry(&mut w, e)?;
        }
        w.flush()?;
        drop(w);
        spill.end = (&spill.file).stream_position()?;
        spill.runs.push((start, spill.end - start));
        Ok(())
    }

    /// Sort what is left and get everything back in key order.
    pub fn finish(mut self) -> io::Result<Sorted> {
        if self.spill.is_none() {
            self.mem.sort_by(|a, b| a.key.cmp(&b.key));
            return Ok(Sorted {
                inner: Inner::Memory(self.mem),
                len: self.len,
            });
        }
        if !self.mem.is_empty() {
            self.spill_mem()?;
        }
        let Some(mut spill) = self.spill.take() else {
            return Err(io::Error::other("spill file lost"));
        };
        // Merge the oldest runs into one until FAN_IN are left: the merged run goes after the
        // others, so runs stay in the order they were written (ties stay in push order).
        while spill.runs.len() > self.fan_in {
            let take: Vec<(u64, u64)> = spill.runs.drain(..self.fan_in).collect();
            let start = spill.end;
            let mut w = run_writer(&spill.file);
            merge(&spill.file, &take, &mut |e| {
                write_entry(&mut w, &e)?;
                Ok(true)
            })?;
            w.flush()?;
            drop(w);
            spill.end = (&spill.file).stream_position()?;
            spill.runs.insert(0, (start, spill.end - start));
        }
        Ok(Sorted {
            inner: Inner::File(spill),
            len: self.len,
        })
    }
}

/// Entries in key order, readable more than once.
#[derive(Debug)]
pub struct Sorted {
    inner: Inner,
    len: u64,
}

#[derive(Debug)]
enum Inner {
    Memory(Vec<Entry>),
    File(Spill),
}

impl Sorted {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Call `f` with each entry in order until it returns `false`.
    pub fn each(&self, f: &mut dyn FnMut(Entry) -> io::Result<bool>) -> io::Result<()> {
        match &self.inner {
            Inner::Memory(v) => {
                for e in v {
                    if !f(e.clone())? {
                        break;
                    }
                }
                Ok(())
            }
            Inner::File(s) => merge(&s.file, &s.runs, f),
        }
    }
}

/// K-way merge of `runs` of `file`; equal keys come from the earlier run first.
fn merge(
    file: &File,
    runs: &[(u64, u64)],
    f: &mut dyn FnMut(Entry) -> io::Result<bool>,
) -> io::Result<()> {
    let mut readers: Vec<FrameDecoder<BufReader<Range<'_>>>> = runs
        .iter()
        .map(|&(pos, len)| {
            FrameDecoder::new(BufReader::with_capacity(
                READ_BUF,
                Range {
                    file,
                    pos,
                    end: pos + len,
                },
            ))
        })
        .collect();
    let mut payloads: Vec<Vec<u8>> = vec![Vec::new(); readers.len()];
    let mut heap = BinaryHeap::with_capacity(readers.len());
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(e) = read_entry(r)? {
            heap.push(Reverse((e.key, i)));
            if let Some(p) = payloads.get_mut(i) {
                *p = e.payload;
            }
        }
    }
    while let Some(Reverse((key, i))) = heap.pop() {
        let payload = payloads.get_mut(i).map(std::mem::take).unwrap_or_default();
        if let Some(next) = readers.get_mut(i).map(read_entry).transpose()?.flatten() {
            heap.push(Reverse((next.key, i)));
            if let Some(p) = payloads.get_mut(i) {
                *p = next.payload;
            }
        }
        if !f(Entry { key, payload })? {
            break;
        }
    }
    Ok(())
}

/// A run is written at the end of the file (its cursor: reads never move it), compressed.
fn run_writer(file: &File) -> FrameEncoder<BufWriter<&File>> {
    FrameEncoder::new(BufWriter::with_capacity(READ_BUF, file))
}

/// A run of the spill file, read with positioned reads (runs are read side by side).
struct Range<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Range<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        let got = self.file.read_at(&mut buf[..n], self.pos)?;
        if got == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.pos += got as u64;
        Ok(got)
    }
}

/// `key length (u32 LE) · payload length (u32 LE) · key · payload` (a run is a Snappy frame
/// stream of these).
fn write_entry(w: &mut impl Write, e: &Entry) -> io::Result<()> {
    let too_long = || io::Error::new(io::ErrorKind::InvalidInput, "output entry over 4 GiB");
    let k = u32::try_from(e.key.len()).map_err(|_| too_long())?;
    let p = u32::try_from(e.payload.len()).map_err(|_| too_long())?;
    w.write_all(&k.to_le_bytes())?;
    w.write_all(&p.to_le_bytes())?;
    w.write_all(&e.key)?;
    w.write_all(&e.payload)
}

/// The next entry of a run, `None` at its end.
fn read_entry(r: &mut impl Read) -> io::Result<Option<Entry>> {
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    let [k0, k1, k2, k3, p0, p1, p2, p3] = head;
    let k = u32::from_le_bytes([k0, k1, k2, k3]) as usize;
    let p = u32::from_le_bytes([p0, p1, p2, p3]) as usize;
    if k > MAX_FIELD || p > MAX_FIELD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "damaged spill file: entry too long",
        ));
    }
    let mut key = vec![0; k];
    r.read_exact(&mut key)?;
    let mut payload = vec![0; p];
    r.read_exact(&mut payload)?;
    Ok(Some(Entry { key, payload }))
}

/// A temporary file that is already unlinked: it disappears with the process.
fn tempfile() -> io::Result<File> {
    let dir = std::env::temp_dir();
    for attempt in 0..16u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(
            ".rtcprobe-replay-{}-{nanos:x}-{attempt}",
            std::process::id()
        ));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                std::fs::remove_file(&path)?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("creating a spill file in {}: {e}", dir.display()),
                ))
            }
        }
    }
    Err(io::Error::other(format!(
        "cannot create a spill file in {}",
        dir.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(k: u32, tag: u32) -> Entry {
        Entry {
            key: k.to_be_bytes().to_vec(),
            payload: format!("{k}/{tag}").into_bytes(),
        }
    }

    fn all(s: &Sorted) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        s.each(&mut |e| {
            v.push(e.payload);
            Ok(true)
        })
        .unwrap();
        v
    }

    /// Keys from a fixed permutation, with duplicates, pushed into sorters of several budgets
    /// and fan-ins: the output is the same stable sort, in memory or spilled and merged in
    /// several passes.
    #[test]
    fn spilled_and_merged_equals_a_stable_sort_in_memory() {
        let input: Vec<Entry> = (0..5_000u32)
            .map(|i| entry(i.wrapping_mul(2_654_435_761) % 1_000, i))
            .collect();
        let mut reference = input.clone();
        reference.sort_by(|a, b| a.key.cmp(&b.key));
        let want: Vec<Vec<u8>> = reference.into_iter().map(|e| e.payload).collect();
        for (budget, fan_in, spills) in [(usize::MAX, 64, false), (2_000, 64, true), (500, 3, true)]
        {
            let mut s = Sorter::new(budget, fan_in);
            for e in &input {
                s.push(e.clone()).unwrap();
            }
            assert_eq!(s.spilled(), spills);
            if spills {
                assert!(s.peak_entries() < 100, "{}", s.peak_entries());
            }
            let sorted = s.finish().unwrap();
            assert_eq!(sorted.len(), 5_000);
            // Readable twice, and stoppable.
            assert_eq!(all(&sorted), want, "budget {budget}, fan-in {fan_in}");
            assert_eq!(all(&sorted), want);
            let mut n = 0;
            sorted
                .each(&mut |_| {
                    n += 1;
                    Ok(n < 10)
                })
                .unwrap();
            assert_eq!(n, 10);
        }
    }

    #[test]
    fn nothing_pushed_gives_nothing() {
        let s = Sorter::new(10, 2).finish().unwrap();
        assert!(s.is_empty());
        assert!(all(&s).is_empty());
    }

    #[test]
    fn a_truncated_run_is_an_error_not_a_panic() {
        let mut buf = Vec::new();
        write_entry(&mut buf, &entry(1, 1)).unwrap();
        buf.truncate(buf.len() - 1);
        assert!(read_entry(&mut buf.as_slice()).is_err());
        assert!(read_entry(&mut &buf[..3]).is_err());
        assert_eq!(read_entry(&mut &buf[..0]).unwrap(), None);
    }
}
