//! "Must be shown" 2: remote-write samples of a replayed fixture arrive in a real
//! VictoriaMetrics and a real Prometheus (`--web.enable-remote-write-receiver`), both started
//! here on loopback in temp dirs and killed on drop, and queried back they carry the values and
//! labels of the file sink's records.
//!
//! VictoriaMetrics gets capture timestamps (`timestamp = "capture"`, the fixture is from 2023,
//! inside `-retentionPeriod=100y`) and every sample is compared through `/api/v1/export`.
//! Prometheus' TSDB rejects samples that old (older than its head block), so its sink uses
//! `timestamp = "now"`: one sample per series and batch, the stream's latest record, compared
//! through an instant `/api/v1/query`. Skips with `skipped: ...` when a server is not installed,
//! except under CI=true.

mod common;

use common::{free_port, have, http_get, read_records, wait_for, Proc, TempDir};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

const VM: &str = "/usr/bin/victoria-metrics";
const PROM: &str = "/usr/bin/prometheus";

type Labels = BTreeMap<String, String>;

/// The labels the sink gives a record's samples of metric `name`.
fn labels(r: &Value, name: &str) -> Labels {
    let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
    let n = |k: &str| r[k].as_u64().map(|v| v.to_string()).unwrap_or_default();
    let mut l: Labels = [
        ("__name__", name.to_string()),
        ("host", s("host")),
        ("ssrc", n("ssrc")),
        ("src", addr(&s("src_ip"), &n("src_port"))),
        ("dst", addr(&s("dst_ip"), &n("dst_port"))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if r["payload_type"].is_u64() {
        l.insert("payload_type".into(), n("payload_type"));
    }
    l
}

/// `ip:port`, IPv6 in brackets (as `SocketAddr` displays).
fn addr(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Capture time of a record's `interval_end`, ms.
fn end_ms(r: &Value) -> i64 {
    let t = r["interval_end"].as_str().expect("interval_end");
    rtcprobe::forward::record::parse_rfc3339(t).expect("rfc3339") / 1_000_000
}

/// Per series of `name`: the (timestamp ms, value) samples the file sink's records imply.
fn expected(
    records: &[Value],
    name: &str,
    field: &str,
    scale: f64,
) -> BTreeMap<Labels, Vec<(i64, f64)>> {
    let mut out: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for r in records {
        if let Some(v) = r[field].as_f64() {
            out.entry(labels(r, name))
                .or_default()
                .push((end_ms(r), v * scale));
        }
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-9)
}

#[test]
fn remote_write_samples_arrive_in_victoriametrics_and_prometheus() {
    if !have(VM, "victoria-metrics") || !have(PROM, "prometheus") {
        return;
    }
    let tmp = TempDir::new("remote-write");
    let dir = &tmp.0;
    let (vm_port, prom_port) = (free_port(), free_port());
    let _vm = Proc::spawn(Command::new(VM).args([
        &format!("-storageDataPath={}/vm", dir.display()),
        &format!("-httpListenAddr=127.0.0.1:{vm_port}"),
        "-retentionPeriod=100y",
    ]));
    std::fs::write(dir.join("prometheus.yml"), "scrape_configs: []\n").expect("prom config");
    let _prom = Proc::spawn(Command::new(PROM).args([
        &format!("--config.file={}/prometheus.yml", dir.display()),
        &format!("--storage.tsdb.path={}/prom", dir.display()),
        &format!("--web.listen-address=127.0.0.1:{prom_port}"),
        "--web.enable-remote-write-receiver",
    ]));
    let vm = format!("http://127.0.0.1:{vm_port}");
    let prom = format!("http://127.0.0.1:{prom_port}");
    wait_for("victoria-metrics ready", Duration::from_secs(60), || {
        http_get(&format!("{vm}/health")).ok()
    });
    wait_for("prometheus ready", Duration::from_secs(60), || {
        http_get(&format!("{prom}/-/ready")).ok()
    });

    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    let sink = |name: &str, url: &str, stamp: &str| {
        format!(
            "[[sinks]]\ntype = \"prometheus_remote_write\"\nname = \"{name}\"\nurl = \"{url}/api/v1/write\"\n\
             timestamp = \"{stamp}\"\n[sinks.delivery]\nbatch_records = 16\nbatch_timeout_ms = 100\n"
        )
    };
    std::fs::write(
        &cfg,
        format!(
            "[records]\nhost = \"probe-test\"\nstate_dir = \"{}/state\"\n{}{}\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            dir.display(),
            sink("vm", &vm, "capture"),
            sink("prom", &prom, "now"),
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The replay reports a sink only when something failed, was dropped or is left buffered.
    assert!(!stderr.contains("rtcprobe: sink"), "{stderr}");
    let records = read_records(&file);
    assert!(records.len() > 20, "{} records", records.len());

    // VictoriaMetrics: every sample, capture time.
    for (name, field, scale) in [
        ("rtcprobe_stream_packets_total", "packets", 1.0),
        ("rtcprobe_stream_lost_packets", "lost", 1.0),
        ("rtcprobe_stream_jitter_seconds", "jitter_ms", 1e-3),
    ] {
        let want = expected(&records, name, field, scale);
        assert!(!want.is_empty(), "{name}: no records with {field}");
        let got = wait_for(
            &format!("{name} in victoria-metrics"),
            Duration::from_secs(30),
            || {
                let _ = http_get(&format!("{vm}/internal/force_flush"));
                let body = http_get(&format!("{vm}/api/v1/export?match[]={name}")).ok()?;
                let got: BTreeMap<Labels, Vec<(i64, f64)>> = body
                    .lines()
                    .map(|l| {
                        let v: Value = serde_json::from_str(l).expect("export line");
                        let labels: Labels =
                            serde_json::from_value(v["metric"].clone()).expect("labels");
                        let ts = v["timestamps"].as_array().expect("timestamps");
                        let vals = v["values"].as_array().expect("values");
                        let pts = ts
                            .iter()
                            .zip(vals)
                            .map(|(t, x)| (t.as_i64().expect("ts"), x.as_f64().expect("value")))
                            .collect();
                        (labels, pts)
                    })
                    .collect();
                let n: usize = got.values().map(Vec::len).sum();
                (got.len() == want.len() && n >= want.values().map(|w| dedup(w).len()).sum())
                    .then_some(got)
            },
        );
        for (labels, w) in &want {
            let g = got
                .get(labels)
                .unwrap_or_else(|| panic!("{name}: no series {labels:?}"));
            let (w, g) = (dedup(w), dedup(g));
            assert_eq!(w.len(), g.len(), "{name} {labels:?}: {w:?} vs {g:?}");
            for ((wt, wv), (gt, gv)) in w.iter().zip(&g) {
                assert!(
                    wt == gt && close(*wv, *gv),
                    "{name} {labels:?}: file ({wt}, {wv}) vs vm ({gt}, {gv})"
                );
            }
        }
        eprintln!(
            "victoria-metrics {name}: {} series, {} samples equal to the file sink's",
            want.len(),
            want.values().map(|w| dedup(w).len()).sum::<usize>()
        );
    }

    // Prometheus: send-time stamps, each series' latest record.
    for (name, field, scale) in [
        ("rtcprobe_stream_packets_total", "packets", 1.0),
        ("rtcprobe_stream_jitter_seconds", "jitter_ms", 1e-3),
    ] {
        let want: BTreeMap<Labels, f64> = expected(&records, name, field, scale)
            .into_iter()
            .filter_map(|(l, pts)| pts.last().map(|p| (l, p.1)))
            .collect();
        let got = wait_for(
            &format!("{name} in prometheus"),
            Duration::from_secs(30),
            || {
                let body = http_get(&format!("{prom}/api/v1/query?query={name}")).ok()?;
                let v: Value = serde_json::from_str(&body).ok()?;
                let got: BTreeMap<Labels, f64> = v["data"]["result"]
                    .as_array()?
                    .iter()
                    .map(|s| {
                        let labels: Labels =
                            serde_json::from_value(s["metric"].clone()).expect("labels");
                        let val = s["value"][1]
                            .as_str()
                            .and_then(|x| x.parse().ok())
                            .expect("value");
                        (labels, val)
                    })
                    .collect();
                (got.len() == want.len()).then_some(got)
            },
        );
        for (labels, w) in &want {
            let g = got
                .get(labels)
                .unwrap_or_else(|| panic!("{name}: no series {labels:?}"));
            assert!(
                close(*w, *g),
                "{name} {labels:?}: file {w} vs prometheus {g}"
            );
        }
        eprintln!(
            "prometheus {name}: {} series equal to the streams' latest records",
            want.len()
        );
    }
}

/// Samples as a set: two records ending at the same millisecond (an interval and the final
/// record) may both be stored.
fn dedup(pts: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let set: BTreeSet<(i64, u64)> = pts.iter().map(|(t, v)| (*t, v.to_bits())).collect();
    set.into_iter()
        .map(|(t, v)| (t, f64::from_bits(v)))
        .collect()
}
