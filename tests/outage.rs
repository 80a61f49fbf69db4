//! "Must be shown" 4: at-least-once delivery through a store outage and a probe restart.
//!
//! A real clickhouse-server (tests/common) takes records from `rtcprobe replay --realtime`
//! with a file sink beside it. Mid-run the server is killed (SIGKILL); during the outage the
//! probe is stopped (SIGTERM: it leaves the undelivered records in its disk buffer) and started
//! again with the same state dir on a second capture; the server comes back while that run
//! captures; the run drains its buffer before it exits.
//!
//! Between the probe and the server sits [`LossyProxy`]: every third request goes through to
//! ClickHouse, which commits the insert and answers, but the answer is thrown away and the
//! probe's connection closed (the "committed, response lost" failure). The probe cannot tell
//! this from a failed insert, retries, and the table really holds duplicates: a plain
//! MergeTree fed by a materialized view counts every row inserted, and it must hold more rows
//! than record IDs. Then docs/central-store.md's deduplication query (`FINAL`: the
//! ReplacingMergeTree keeps one row per `record_id`) must list every record ID the file sink
//! wrote exactly once, and no other ID. Skips with `skipped: ...` without the server, except
//! CI=true.
//!
//! Second test (no server needed): a store that refuses every connection and a 4 KiB buffer;
//! the oldest records are dropped and counted, the newest stay on disk (end to end; the
//! segment-level rules are in src/forward/buffer_tests.rs). It takes the replay's 30 s
//! delivery grace.

mod common;

use common::{have, read_records, wait_for, ClickHouse, TempDir, CLICKHOUSE};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// An HTTP proxy on loopback in front of `127.0.0.1:upstream` that loses the response of every
/// `every`-th request after the upstream has answered it. One request per connection: it adds
/// `Connection: close` upstream and closes the client side after each exchange.
struct LossyProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    lost: Arc<AtomicU64>,
}

impl LossyProxy {
    fn start(upstream: u16, every: u64) -> LossyProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("proxy addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let lost = Arc::new(AtomicU64::new(0));
        let (st, rq, ls) = (stop.clone(), requests.clone(), lost.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (rq, ls) = (rq.clone(), ls.clone());
                        std::thread::spawn(move || {
                            let _ = exchange(client, upstream, every, &rq, &ls);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        LossyProxy {
            port,
            stop,
            requests,
            lost,
        }
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One request: read it whole, send it upstream, read the whole response (the insert is
/// committed before ClickHouse answers), then relay it or, every `every`-th time, drop it.
fn exchange(
    mut client: TcpStream,
    upstream: u16,
    every: u64,
    requests: &AtomicU64,
    lost: &AtomicU64,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = Vec::new();
    let mut buf = [0u8; 16384];
    let head_end = loop {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        req.extend_from_slice(&buf[..n]);
        if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&req[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while req.len() < head_end + length {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        req.extend_from_slice(&buf[..n]);
    }
    // Down upstream: close, as a refused connection would end the request.
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.set_read_timeout(Some(Duration::from_secs(30)))?;
    up.write_all(&req[..head_end - 2])?;
    up.write_all(b"Connection: close\r\n\r\n")?;
    up.write_all(&req[head_end..])?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    if resp.is_empty() {
        return Ok(());
    }
    if requests.fetch_add(1, Ordering::Relaxed) % every == every - 1 {
        lost.fetch_add(1, Ordering::Relaxed);
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    client.write_all(&resp)?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

fn replay(cfg: &Path, fixture: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args(["replay", "--realtime", "--format", "json", "--config"])
        .arg(cfg)
        .arg(format!("{}/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR")))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rtcprobe replay")
}

/// A child killed on drop, should an assertion fail before it exits.
struct Guard(Option<Child>);

impl Guard {
    /// Wait (at most `limit`) and return the exit success and stderr.
    fn finish(&mut self, limit: Duration) -> (bool, String) {
        let Some(mut c) = self.0.take() else {
            return (false, String::new());
        };
        let status = wait_for("rtcprobe exits", limit, || c.try_wait().ok().flatten());
        let mut err = String::new();
        if let Some(mut e) = c.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        (status.success(), err)
    }

    fn sigterm(&self) {
        if let Some(c) = &self.0 {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn rows(ch: &ClickHouse) -> u64 {
    ch.query("SELECT count() FROM rtcprobe_records")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn buffered_segments(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[test]
fn every_record_survives_a_store_outage_and_a_probe_restart_exactly_once() {
    if !have(CLICKHOUSE, "clickhouse-server") {
        return;
    }
    let tmp = TempDir::new("outage");
    let dir = &tmp.0;
    let mut ch = ClickHouse::start(dir);
    ch.create_table();
    // Every row inserted, duplicates included: a plain MergeTree never merges rows away.
    ch.query(
        "CREATE MATERIALIZED VIEW rtcprobe_inserts ENGINE = MergeTree() ORDER BY record_id \
         AS SELECT record_id FROM rtcprobe_records",
    )
    .expect("inserts view");
    let proxy = LossyProxy::start(ch.http, 3);
    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[engine]\nhops = true\n[records]\nhost = \"probe-outage\"\ninterval_secs = 1\nstate_dir = \"{d}/state\"\n\
             [[sinks]]\ntype = \"clickhouse\"\nname = \"ch\"\nurl = \"http://127.0.0.1:{}\"\n\
             [sinks.delivery]\nbatch_records = 8\nbatch_timeout_ms = 200\n\
             retry_initial_ms = 100\nretry_max_ms = 1000\n\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            proxy.port,
            file.display(),
            d = dir.display(),
        ),
    )
    .expect("config");
    let buffer = dir.join("state/ch");

    // Run 1: 40 s of capture at its own pace; the store dies once it has taken some records.
    let mut run1 = Guard(Some(replay(&cfg, "sample-sfu.pcap")));
    let before = wait_for("first rows in clickhouse", Duration::from_secs(30), || {
        let n = rows(&ch);
        (n >= 16).then_some(n)
    });
    ch.stop();
    let in_file_at_outage = read_records(&file).len();
    // Let records pile up in the buffer while the store is down, then stop the probe.
    wait_for(
        "records written during the outage",
        Duration::from_secs(30),
        || (read_records(&file).len() >= in_file_at_outage + 20).then_some(()),
    );
    run1.sigterm();
    // Replay gives its sinks 30 s to deliver before it leaves the rest on disk.
    let (ok, err1) = run1.finish(Duration::from_secs(60));
    assert!(ok, "run 1: {err1}");
    assert!(err1.contains("bytes left buffered"), "run 1: {err1}");
    let left = buffered_segments(&buffer);
    assert!(left > 0, "nothing buffered on disk after run 1");

    // Run 2 on a second capture, same state dir; the store comes back while it captures.
    let mut run2 = Guard(Some(replay(&cfg, "sipp-g711a.pcap")));
    std::thread::sleep(Duration::from_secs(2));
    ch.restart();
    let (ok, err2) = run2.finish(Duration::from_secs(90));
    assert!(ok, "run 2: {err2}");
    assert!(!err2.contains("left buffered"), "run 2: {err2}");
    assert_eq!(buffered_segments(&buffer), 0, "buffer not drained");

    // Hop records (schema v2, sample-sfu.pcap has hops) go to the hop table: each once there.
    let (hops, from_file): (Vec<_>, Vec<_>) = read_records(&file)
        .into_iter()
        .partition(|r| r["kind"].as_str().is_some_and(|k| k.starts_with("hop_")));
    assert!(!hops.is_empty(), "no hop records from sample-sfu.pcap");
    let hop_ids = ch
        .query("SELECT record_id FROM rtcprobe_hops FINAL FORMAT TSV")
        .expect("hop rows");
    let mut hop_ids: Vec<&str> = hop_ids.lines().collect();
    hop_ids.sort_unstable();
    let mut want: Vec<&str> = hops
        .iter()
        .filter_map(|r| r["record_id"].as_str())
        .collect();
    want.sort_unstable();
    assert_eq!(hop_ids, want, "hop records in clickhouse");
    let inserted = count(&ch, "SELECT count() FROM rtcprobe_inserts");
    let unique = count(&ch, "SELECT uniqExact(record_id) FROM rtcprobe_inserts");
    let lost = proxy.lost.load(Ordering::Relaxed);
    assert!(lost > 0, "the proxy lost no response");
    assert!(
        inserted > unique,
        "no duplicates: {inserted} rows inserted, {unique} record IDs ({lost} responses lost)"
    );

    // docs/central-store.md's deduplication query, for this probe's host.
    let doc = include_str!("../docs/central-store.md");
    let sql = doc
        .split("<!-- dedup -->")
        .nth(1)
        .and_then(|rest| rest.split("```sql").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the deduplication query in docs/central-store.md");
    assert!(sql.contains("'probe-fra-1'"), "{sql}");
    let sql = sql.replace("'probe-fra-1'", "'probe-outage'");
    let counts: BTreeMap<String, u64> = ch
        .query(&format!("{} FORMAT TSV", sql.trim()))
        .expect("dedup query")
        .lines()
        .filter_map(|l| {
            let (id, n) = l.split_once('\t')?;
            Some((id.to_string(), n.parse().ok()?))
        })
        .collect();
    let mut missing = 0;
    for r in &from_file {
        let id = r["record_id"].as_str().expect("record_id");
        match counts.get(id) {
            Some(1) => {}
            Some(n) => panic!("record {id} is there {n} times after deduplication"),
            None => missing += 1,
        }
    }
    assert_eq!(
        missing,
        0,
        "{missing} of {} records missing",
        from_file.len()
    );
    assert_eq!(
        counts.len(),
        from_file.len(),
        "clickhouse has IDs the file sink did not write"
    );
    eprintln!(
        "outage: {} records in the file sink; clickhouse had {before} rows at the outage, \
         {in_file_at_outage} records written by then, {left} buffer segments left after run 1; \
         {} requests answered by clickhouse, {lost} responses lost by the proxy, {inserted} rows \
         inserted for {unique} record IDs ({} duplicates); after deduplication {} IDs, each once, \
         none missing",
        from_file.len(),
        proxy.requests.load(Ordering::Relaxed),
        inserted - unique,
        counts.len()
    );
}

fn count(ch: &ClickHouse, q: &str) -> u64 {
    ch.query(q)
        .expect("count")
        .trim()
        .parse()
        .expect("a number")
}

/// A store that never answers and a buffer of a few records: the oldest records are dropped,
/// the count says how many, and what stays on disk is the newest.
#[test]
fn a_full_buffer_drops_the_oldest_records_and_counts_them() {
    let tmp = TempDir::new("full-buffer");
    let dir = &tmp.0;
    // Nothing listens there: every send is refused and retried.
    let dead = common::free_port();
    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[records]\nhost = \"probe-full\"\nstate_dir = \"{d}/state\"\n\
             [[sinks]]\ntype = \"clickhouse\"\nname = \"ch\"\nurl = \"http://127.0.0.1:{dead}\"\n\
             [sinks.delivery]\nbatch_records = 1\nbatch_bytes = 1024\nbuffer_max_bytes = 4096\n\
             retry_initial_ms = 1000\nretry_max_ms = 5000\n\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            file.display(),
            d = dir.display(),
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args(["replay", "--format", "json", "--config"])
        .arg(&cfg)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/sample-sfu.pcap"
        ))
        .output()
        .expect("rtcprobe replay");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let written = read_records(&file);
    // "rtcprobe: sink ch: 0 sent, 0 failed, N dropped, B bytes left buffered"
    let line = err
        .lines()
        .find(|l| l.starts_with("rtcprobe: sink ch:"))
        .unwrap_or_else(|| panic!("no sink report: {err}"));
    let num = |what: &str| -> u64 {
        line.split(", ")
            .find_map(|p| {
                p.trim_start_matches("rtcprobe: sink ch: ")
                    .strip_suffix(what)
            })
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{what} in {line}"))
    };
    let dropped = num(" dropped");
    assert_eq!(num(" sent"), 0, "{line}");
    let mut kept = Vec::new();
    for e in std::fs::read_dir(dir.join("state/ch")).expect("buffer dir") {
        let text = std::fs::read_to_string(e.expect("entry").path()).expect("segment");
        kept.extend(text.lines().map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["record_id"].as_str().expect("id").to_string()
        }));
    }
    assert!(dropped > 0, "{line}");
    assert_eq!(dropped as usize + kept.len(), written.len(), "{line}");
    // What is kept is the newest records, but for at most one older batch that was being sent
    // when its turn to be dropped came (the batch in flight is never dropped).
    let newest: Vec<&str> = written[written.len() - kept.len()..]
        .iter()
        .map(|r| r["record_id"].as_str().expect("id"))
        .collect();
    let older = kept
        .iter()
        .filter(|id| !newest.contains(&id.as_str()))
        .count();
    assert!(older <= 1, "kept {kept:?}, newest {newest:?}");
    assert!(kept
        .iter()
        .any(|id| Some(id.as_str()) == newest.last().copied()));
    eprintln!(
        "full buffer: {} records written, {dropped} dropped and counted, {} kept on disk ({older} older than the newest)",
        written.len(),
        kept.len()
    );
}
