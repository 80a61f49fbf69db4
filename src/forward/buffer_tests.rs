//! Disk buffer tests: batching, survival across reopen, torn lines, drop-oldest with counting.

use super::*;

fn limits(max_bytes: u64) -> Limits {
    Limits {
        batch_records: 2,
        batch_bytes: 1 << 20,
        batch_timeout: Duration::from_secs(3600),
        max_bytes,
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rtcprobe-buf-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

#[test]
fn batches_survive_reopen_and_torn_lines_are_cut() {
    let dir = tmp("reopen");
    let stats = Arc::new(SinkStats::default());
    let mut b = Buffer::open(&dir, limits(1 << 20), Arc::clone(&stats)).unwrap();
    for i in 0..5 {
        b.push(format!("{{\"n\":{i}}}").as_bytes()).unwrap();
    }
    assert_eq!(b.records(), 5);
    drop(b);
    // A torn line in the open segment (killed mid-write).
    let open = dir.join(format!("{:020}.ndjson", 3));
    let mut f = OpenOptions::new().append(true).open(&open).unwrap();
    f.write_all(b"{\"n\":").unwrap();
    let mut b = Buffer::open(&dir, limits(1 << 20), stats).unwrap();
    assert_eq!(b.records(), 5);
    let (seq, data, n) = b.next_batch().unwrap().unwrap();
    assert_eq!(
        (n, data.as_slice()),
        (2, b"{\"n\":0}\n{\"n\":1}\n".as_slice())
    );
    b.ack(seq);
    let (seq, _, _) = b.next_batch().unwrap().unwrap();
    b.ack(seq);
    let (seq, data, n) = b.next_batch().unwrap().unwrap();
    assert_eq!((n, data.as_slice()), (1, b"{\"n\":4}\n".as_slice()));
    b.ack(seq);
    assert!(b.is_empty());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn full_buffer_drops_oldest_batches_and_counts_them() {
    let dir = tmp("full");
    let stats = Arc::new(SinkStats::default());
    // Each line is 8 bytes, a batch 16: room for three batches.
    let mut b = Buffer::open(&dir, limits(48), Arc::clone(&stats)).unwrap();
    for i in 0..10 {
        b.push(format!("{{\"n\":{i}}}").as_bytes()).unwrap();
    }
    assert_eq!(stats.dropped.load(Ordering::Relaxed), 4);
    assert_eq!(b.records(), 6);
    let (_, data, _) = b.next_batch().unwrap().unwrap();
    assert!(
        data.starts_with(b"{\"n\":4}"),
        "{}",
        String::from_utf8_lossy(&data)
    );
    // The batch in flight is never the one dropped.
    for i in 0..4 {
        // Same 8-byte size as before.
        b.push(format!("{{\"m\":{i}}}").as_bytes()).unwrap();
    }
    assert_eq!(stats.dropped.load(Ordering::Relaxed), 8);
    let (_, again, _) = b.next_batch().unwrap().unwrap();
    assert_eq!(again, data);
    assert_eq!(stats.buffered_bytes.load(Ordering::Relaxed), b.bytes());
    let _ = fs::remove_dir_all(&dir);
}
