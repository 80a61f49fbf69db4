//! "Must be shown" 1: records of a replayed fixture arrive in a real ClickHouse server
//! (Debian `clickhouse-server`, started here on loopback in a temp dir, killed on drop) and,
//! queried back, equal the file sink's output record for record; the "20 worst streams" query of
//! docs/central-store.md runs on them and sums loss as the records do.
//!
//! Skips with `skipped: ...` when the server is not installed, except under CI=true.

mod common;

use common::{have, read_records, ClickHouse, TempDir, CLICKHOUSE};
use std::process::Command;

#[test]
fn replayed_records_in_clickhouse_equal_the_file_sink() {
    if !have(CLICKHOUSE, "clickhouse-server") {
        return;
    }
    let tmp = TempDir::new("ch");
    let dir = &tmp.0;
    let ch = ClickHouse::start(dir);
    ch.create_table();
    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[records]\nhost = \"probe-test\"\nstate_dir = \"{}/state\"\ncalls = true\n\
             [[sinks]]\ntype = \"clickhouse\"\nurl = \"http://127.0.0.1:{}\"\n\
             [sinks.delivery]\nbatch_records = 16\nbatch_timeout_ms = 100\n\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            dir.display(),
            ch.http,
            file.display()
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args([
            "replay",
            concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample-sfu.pcap"),
            "--format",
            "json",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .expect("rtcprobe replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The single-threaded replay makes hop records too (the SFU's hops): they go to the hop
    // table, the stream records to this one.
    let (call_lines, rest): (Vec<_>, Vec<_>) = read_records(&file)
        .into_iter()
        .partition(|r| r["kind"] == "call");
    let (hop_lines, from_file): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|r| r["kind"].as_str().is_some_and(|k| k.starts_with("hop_")));
    assert!(from_file.len() > 20, "{} records", from_file.len());
    let hop_rows = ch
        .query("SELECT count() FROM rtcprobe_hops FINAL FORMAT TSV")
        .expect("count hops");
    assert_eq!(hop_rows.trim(), hop_lines.len().to_string());
    let rows = ch
        .query("SELECT * FROM rtcprobe_records FINAL ORDER BY record_id FORMAT JSONEachRow")
        .expect("select");
    let rows: std::collections::BTreeMap<String, serde_json::Value> = rows
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("row");
            (v["record_id"].as_str().unwrap_or_default().to_string(), v)
        })
        .collect();
    assert_eq!(rows.len(), from_file.len());
    for rec in &from_file {
        row_equals_file("record", rec, &rows[rec["record_id"].as_str().expect("id")]);
    }
    // Call records (schema version 3: sample-sfu's ICE session) go to the call table
    // (sql/clickhouse/rtcprobe_calls.sql), equal to the file's.
    assert_eq!(call_lines.len(), 1, "{call_lines:#?}");
    let rows = ch
        .query("SELECT * FROM rtcprobe_calls FINAL FORMAT JSONEachRow")
        .expect("select calls");
    let rows: Vec<serde_json::Value> = rows
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    assert_eq!(rows.len(), call_lines.len(), "{rows:#?}");
    for rec in &call_lines {
        let row = rows
            .iter()
            .find(|r| r["record_id"] == rec["record_id"])
            .expect("call row");
        assert_eq!(row["call_kind"], "ice", "{row}");
        row_equals_file("call record", rec, row);
    }

    // docs/central-store.md's "20 worst streams of the last hour", over all time (the fixture
    // is from 2023): one row per stream (at most 20), loss summed as the file's records say.
    let doc = include_str!("../docs/central-store.md");
    let sql = doc
        .split("<!-- worst-streams -->")
        .nth(1)
        .and_then(|rest| rest.split("```sql").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("the worst-streams query in docs/central-store.md");
    let sql = sql.replace("now() - INTERVAL 1 HOUR", "toDateTime(0)");
    let worst = ch
        .query(&format!("{sql} FORMAT JSONEachRow"))
        .expect("worst-streams query");
    let mut lost: std::collections::BTreeMap<(String, u64), i64> = Default::default();
    for r in &from_file {
        let key = (
            format!(
                "{}:{}>{}:{}",
                r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]
            ),
            r["ssrc"].as_u64().expect("ssrc"),
        );
        *lost.entry(key).or_default() += r["interval_lost"].as_i64().expect("interval_lost");
    }
    let worst: Vec<serde_json::Value> = worst
        .lines()
        .map(|l| serde_json::from_str(l).expect("row"))
        .collect();
    assert_eq!(worst.len(), lost.len().min(20));
    let mut prev = f64::INFINITY;
    for w in &worst {
        let key = (
            format!(
                "{}:{}>{}:{}",
                w["src_ip"], w["src_port"], w["dst_ip"], w["dst_port"]
            ),
            w["ssrc"].as_u64().expect("ssrc"),
        );
        let got: i64 = w["lost_packets"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| w["lost_packets"].as_i64())
            .expect("lost_packets");
        assert_eq!(Some(&got), lost.get(&key), "{w}");
        let ratio = w["loss_ratio"].as_f64().expect("loss_ratio");
        assert!(ratio <= prev, "not sorted by loss_ratio: {w}");
        prev = ratio;
    }
    eprintln!(
        "worst-streams query: {} rows, top loss ratio {}",
        worst.len(),
        worst
            .first()
            .map_or(serde_json::Value::Null, |w| w["loss_ratio"].clone())
    );
}

/// Records schema v2: the hop records of a synthetic 1→3 fan-out replayed through the
/// pipeline go to the hop table (sql/clickhouse/rtcprobe_hops.sql) and, queried back, equal the
/// file sink's hop records; the stream records still go to the records table, and no hop
/// record lands there.
#[test]
fn hop_records_go_to_the_hop_table_and_equal_the_file_sink() {
    if !have(CLICKHOUSE, "clickhouse-server") {
        return;
    }
    let tmp = TempDir::new("ch-hops");
    let dir = &tmp.0;
    let ch = ClickHouse::start(dir);
    // Both tables, as docs/central-store.md says.
    ch.create_table();
    let s = rtcprobe::synth::hop::named("fanout").expect("scenario");
    let (cap, _) = s.build();
    let pcap = dir.join("fanout.pcap");
    cap.write_pcap(
        std::fs::File::create(&pcap).expect("pcap"),
        rtcprobe::synth::pcap::TsResolution::Nano,
        65535,
    )
    .expect("write");
    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[engine]\nhops = true\n[records]\nhost = \"probe-test\"\ninterval_secs = 5\nstate_dir = \"{}/state\"\n\
             [[sinks]]\ntype = \"clickhouse\"\nurl = \"http://127.0.0.1:{}\"\n\
             [sinks.delivery]\nbatch_records = 16\nbatch_timeout_ms = 100\n\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            dir.display(),
            ch.http,
            file.display()
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args([
            "replay",
            "--workers",
            "2",
            "--linger",
            "0.01",
            "--format",
            "json",
        ])
        .arg("--config")
        .arg(&cfg)
        .arg(&pcap)
        .output()
        .expect("rtcprobe replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = read_records(&file);
    let hops: Vec<&serde_json::Value> = all
        .iter()
        .filter(|r| r["kind"].as_str().is_some_and(|k| k.starts_with("hop_")))
        .collect();
    let finals = hops.iter().filter(|r| r["kind"] == "hop_final").count();
    assert_eq!(finals, 3, "a 1→3 fan-out is three hops: {hops:#?}");
    let rows = ch
        .query("SELECT * FROM rtcprobe_hops FINAL FORMAT JSONEachRow")
        .expect("select hops");
    let rows: std::collections::BTreeMap<String, serde_json::Value> = rows
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("row");
            (v["record_id"].as_str().unwrap_or_default().to_string(), v)
        })
        .collect();
    assert_eq!(rows.len(), hops.len());
    for rec in &hops {
        row_equals_file(
            "hop record",
            rec,
            &rows[rec["record_id"].as_str().expect("id")],
        );
    }
    let streams = all.len() - hops.len();
    let count = |q: &str| {
        ch.query(q)
            .expect("count")
            .trim()
            .parse::<usize>()
            .expect("number")
    };
    assert_eq!(count("SELECT count() FROM rtcprobe_records FINAL"), streams);
    assert_eq!(
        count("SELECT count() FROM rtcprobe_records WHERE kind LIKE 'hop_%'"),
        0
    );
}

/// Every key of file record `rec` has the same value in ClickHouse row `row`.
fn row_equals_file(what: &str, rec: &serde_json::Value, row: &serde_json::Value) {
    for (k, want) in rec.as_object().expect("object") {
        let got = &row[k];
        let same = match (want, got) {
            // DateTime columns: seconds, "YYYY-MM-DD hh:mm:ss" in UTC.
            (serde_json::Value::String(w), serde_json::Value::String(g))
                if w.ends_with('Z') && w.len() == 27 =>
            {
                w[..19].replace('T', " ") == *g
            }
            // JSONEachRow quotes 64-bit integers.
            (serde_json::Value::Number(w), serde_json::Value::String(g)) => w.to_string() == *g,
            (serde_json::Value::Bool(w), serde_json::Value::Number(g)) => {
                u64::from(*w) == g.as_u64().unwrap_or(9)
            }
            (serde_json::Value::Number(w), serde_json::Value::Number(g)) => {
                (w.as_f64().unwrap_or(0.0) - g.as_f64().unwrap_or(1.0)).abs() < 1e-9
            }
            (w, g) => w == g,
        };
        assert!(
            same,
            "{what} {} key {k}: file {want} vs clickhouse {got}",
            rec["record_id"]
        );
    }
}
