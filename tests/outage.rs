//! "Must be shown" 4: at-least-once delivery through a store outage and a probe restart.
//!
//! A real clickhouse-server (tests/common) takes records from `rtcprobe replay --realtime`
//! with a file sink beside it. Mid-run the server is killed (SIGKILL); during the outage the
//! probe is stopped (SIGTERM: it leaves the undelivered records in its disk buffer) and started
//! again with the same state dir on a second capture; the server comes back while that run
//! captures; the run drains its buffer before it exits. Then, after `OPTIMIZE TABLE … FINAL`
//! (ReplacingMergeTree deduplication by `record_id`), every record ID the file sink wrote is in
//! the table exactly once, and no other ID is. Skips with `skipped: ...` without the server,
//! except CI=true.
//!
//! Second test (no server needed): a store that refuses every connection and a 4 KiB buffer;
//! the oldest records are dropped and counted, the newest stay on disk (end to end; the
//! segment-level rules are in src/forward/buffer_tests.rs). It takes the replay's 30 s
//! delivery grace.

mod common;

use common::{have, read_records, wait_for, ClickHouse, TempDir, CLICKHOUSE};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[records]\nhost = \"probe-outage\"\ninterval_secs = 1\nstate_dir = \"{d}/state\"\n\
             [[sinks]]\ntype = \"clickhouse\"\nname = \"ch\"\nurl = \"http://127.0.0.1:{}\"\n\
             [sinks.delivery]\nbatch_records = 8\nbatch_timeout_ms = 200\n\
             retry_initial_ms = 100\nretry_max_ms = 1000\n\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            ch.http,
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

    let from_file = read_records(&file);
    let raw = rows(&ch);
    ch.query("OPTIMIZE TABLE rtcprobe_records FINAL")
        .expect("optimize");
    let counts: BTreeMap<String, u64> = ch
        .query("SELECT record_id, count() FROM rtcprobe_records GROUP BY record_id FORMAT TSV")
        .expect("select")
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
            Some(n) => panic!("record {id} is in clickhouse {n} times after OPTIMIZE FINAL"),
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
         {in_file_at_outage} records written by then, {left} buffer segments left after run 1, \
         {raw} rows before dedup, {} unique IDs after OPTIMIZE FINAL, none missing",
        from_file.len(),
        counts.len()
    );
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
