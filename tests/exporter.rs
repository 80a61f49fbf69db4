//! The Prometheus endpoint end to end: a real Prometheus (Debian package `prometheus`)
//! scrapes `rtcprobe replay --realtime` on loopback and its HTTP API must give the values of
//! `replay --format json` for the same capture (and its `--records` file sink's counters);
//! every PromQL expression of
//! grafana/rtcprobe.json and prometheus/alerts.yml must be valid and return data; `promtool
//! check metrics` accepts a scrape with per-stream series and `promtool check rules` the
//! alert rules. The cardinality test (100,000 short streams) is in `exporter/cardinality.rs`.
//!
//! Without `/usr/bin/prometheus` these tests say `skipped: ...` and pass, except under
//! `CI=true`, where they fail. Every process started here is killed on drop and every wait is
//! bounded.

#[path = "exporter/cardinality.rs"]
mod cardinality;
#[path = "exporter/http.rs"]
mod http;

use http::{get, get_json, urlencode, Scratch};
use rtcprobe::synth::frame::Encap;
use rtcprobe::synth::pcap::TsResolution;
use rtcprobe::synth::scenario::{RtcpSpec, Scenario, StreamSpec};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";

/// Kills the child on drop (a failed assertion must not leave a server running).
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `Some(reason)` to skip: the tool is missing and this is not CI (under CI=true it panics).
fn missing(tool: &str) -> Option<String> {
    if Path::new(tool).exists() {
        return None;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{tool} is missing under CI=true: scripts/setup-test installs the prometheus package"
    );
    Some(format!(
        "skipped: {tool} not found (scripts/setup-test installs it)"
    ))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
}

/// About 4 s of two streams with RTCP every second (RTT 40 ms and 70 ms), 3 % loss, jitter,
/// NACK, PLI and FIR: every dashboard panel has something to show. Returns the aggregate lost
/// counter of the streams still live after the last frame: only the loss that can no longer be
/// filled in (docs/metrics.md), computed by the engine over the same frames.
fn short_capture(path: &Path) -> f64 {
    let sa = |s: &str| s.parse::<SocketAddr>().expect("addr");
    let mut sc = Scenario::new(7);
    let mut a = StreamSpec::audio(sa("10.0.1.10:40000"), sa("192.0.2.20:50000"), 0x1111_0001);
    a.count = 200;
    a.encap = Encap::Ethernet;
    a.impair.loss = 0.03;
    a.impair.jitter_ns = 8_000_000;
    a.rtcp = Some(RtcpSpec {
        interval_ns: 1_000_000_000,
        ..RtcpSpec::with_rtt(0x2222_0001, 40_000_000)
    });
    a.feedback.nack = true;
    a.cname = Some("alice@synth".into());
    sc.add(a);
    let mut v = StreamSpec::audio(sa("10.0.3.30:40002"), sa("10.0.4.40:50002"), 0x3333_0001);
    v.payload_type = 96;
    v.clock_rate = 90_000;
    v.ptime_ns = 33_333_333;
    v.count = 120;
    v.encap = Encap::Ethernet;
    v.impair.loss = 0.02;
    v.rtcp = Some(RtcpSpec {
        interval_ns: 1_000_000_000,
        ..RtcpSpec::with_rtt(0x4444_0001, 70_000_000)
    });
    v.feedback.nack = true;
    v.feedback.pli_interval_ns = Some(1_000_000_000);
    v.feedback.fir_interval_ns = Some(2_000_000_000);
    sc.add(v);
    let cap = sc.build();
    let f = std::fs::File::create(path).expect("create capture");
    cap.write_pcap(f, TsResolution::Nano, 65_535)
        .expect("write capture");
    let mut run = rtcprobe::replay::Run::new(rtcprobe::config::Resolved::default());
    for fr in &cap.frames {
        let link = i32::try_from(fr.linktype)
            .ok()
            .and_then(rtcprobe::wire::link::LinkType::from_dlt)
            .expect("link type");
        run.frame(link, fr.ts_ns, &fr.bytes);
    }
    run.live_records()
        .iter()
        .map(|(_, r)| r.lost_settled as f64)
        .sum()
}

fn write_config(dir: &Scratch) -> PathBuf {
    let p = dir.path("rtcprobe.toml");
    std::fs::write(
        &p,
        "[pipeline]\nworkers = 2\nsnapshot_interval_ms = 200\n\
         [exporter]\nper_stream_series = true\ncname_label = true\n\
         [exporter.peer_groups]\n\"10.0.0.0/8\" = \"internal\"\n\"192.0.2.0/24\" = \"carrier\"\n\
         [records]\ninterval_secs = 1\n",
    )
    .expect("config");
    p
}

/// Start Prometheus scraping `target` every second; waits until it is ready.
fn start_prometheus(dir: &Scratch, target: &str) -> (Killer, SocketAddr) {
    let port = free_port();
    let cfg = dir.path("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: rtcprobe\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("prometheus.yml");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path("tsdb").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path("prometheus.log")).expect("log"))
        .spawn()
        .expect("start prometheus");
    let k = Killer(child);
    let t0 = Instant::now();
    while get(addr, "/-/ready").map(|(s, _)| s) != Some(200) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "prometheus not ready in 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    (k, addr)
}

/// An instant query at `time` (unix seconds): the result vector.
fn query(prom: SocketAddr, expr: &str, time: f64) -> Result<Vec<Value>, String> {
    let path = format!("/api/v1/query?query={}&time={time:.3}", urlencode(expr));
    let v = get_json(prom, &path).ok_or_else(|| format!("no answer for {expr}"))?;
    if v["status"] != "success" {
        return Err(format!("{expr}: {}", v["error"]));
    }
    Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
}

fn scalar(prom: SocketAddr, expr: &str, time: f64) -> f64 {
    let r = query(prom, expr, time).expect("query");
    let v = r.first().unwrap_or_else(|| panic!("{expr}: no data"));
    v["value"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("number")
}

/// Every `expr` of the dashboard, variables substituted as Grafana would with "All".
fn dashboard_exprs() -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(e)) = m.get("expr") {
                    out.push(e.clone());
                }
                m.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana/rtcprobe.json"),
    )
    .expect("dashboard");
    let d: Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let mut out = Vec::new();
    walk(&d["panels"], &mut out);
    out.iter()
        .map(|e| {
            e.replace("$__rate_interval", "1m")
                .replace("$peer_group", ".*")
                .replace("$instance", ".*")
        })
        .collect()
}

/// Every `expr: |` block of the alert rules.
fn alert_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("prometheus/alerts.yml"),
    )
    .expect("alerts");
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        if l.trim() == "expr: |" {
            let indent = l.len() - l.trim_start().len();
            let mut e = String::new();
            while let Some(n) = lines.peek() {
                if n.len() - n.trim_start().len() <= indent {
                    break;
                }
                e.push_str(n.trim());
                e.push(' ');
                lines.next();
            }
            out.push(e);
        }
    }
    out
}

#[test]
fn prometheus_scrapes_a_realtime_replay_and_every_query_has_data() {
    if let Some(why) = missing(PROMETHEUS) {
        eprintln!("{why}");
        return;
    }
    let dir = Scratch::new("prom");
    let cap = dir.path("short.pcap");
    let settled_lost = short_capture(&cap);
    let cfg = write_config(&dir);
    let port = free_port();
    let target = format!("127.0.0.1:{port}");
    let (_prom_guard, prom) = start_prometheus(&dir, &target);
    let child = bin()
        .args(["replay", "--realtime", "--format", "json", "--linger", "8"])
        .arg("--config")
        .arg(&cfg)
        .args(["--listen", &target])
        .arg("--records")
        .arg(dir.path("records.ndjson"))
        .arg(&cap)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rtcprobe");
    let mut probe = Killer(child);
    // Wait until Prometheus has scraped the last frame, then two more scrapes (the streams
    // are still live: --linger), and query at that time.
    let t0 = Instant::now();
    let mut last = -1.0;
    let at = loop {
        assert!(t0.elapsed() < Duration::from_secs(30), "no final scrape");
        std::thread::sleep(Duration::from_millis(500));
        let now = unix_now();
        let Ok(r) = query(prom, "sum(rtcprobe_capture_frames_total)", now) else {
            continue;
        };
        let Some(v) = r
            .first()
            .and_then(|v| v["value"][1].as_str()?.parse::<f64>().ok())
        else {
            continue;
        };
        if v > 0.0 && v == last {
            std::thread::sleep(Duration::from_secs(2));
            break unix_now();
        }
        last = v;
    };
    let out = probe.0.stdout.take().expect("stdout");
    let report: Value = serde_json::from_reader(out).expect("replay JSON");
    let status = probe.0.wait().expect("rtcprobe exits");
    assert!(status.success(), "rtcprobe replay failed: {status}");
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), 2);
    let final_lost = streams
        .iter()
        .map(|s| s["lost"].as_i64().unwrap_or(0) + s["duplicates"].as_i64().unwrap_or(0))
        .sum::<i64>() as f64;
    assert!(
        settled_lost > 0.0 && settled_lost <= final_lost,
        "settled {settled_lost}, final {final_lost}"
    );
    let total = |f: &dyn Fn(&Value) -> i64| streams.iter().map(f).sum::<i64>() as f64;
    let pos = |v: &Value| v.as_i64().unwrap_or(0).max(0);
    for (expr, want) in [
        (
            "sum(rtcprobe_rtp_packets_total)",
            total(&|s| pos(&s["packets"])),
        ),
        (
            "sum(rtcprobe_rtp_bytes_total)",
            total(&|s| pos(&s["bytes"])),
        ),
        // The streams are still live (--linger): only the loss that can no longer be filled
        // in is counted, which is at most the final loss (docs/metrics.md).
        ("sum(rtcprobe_rtp_lost_packets_total)", settled_lost),
        (
            "sum(rtcprobe_rtp_lost_upstream_packets_total)",
            total(&|s| pos(&s["loss_upstream"])),
        ),
        (
            "sum(rtcprobe_rtp_lost_downstream_packets_total)",
            total(&|s| pos(&s["loss_downstream"])),
        ),
        (
            "sum(rtcprobe_rtcp_feedback_messages_total{type=\"nack\"})",
            total(&|s| pos(&s["feedback"]["nacks"])),
        ),
        (
            "sum(rtcprobe_rtcp_feedback_messages_total{type=\"pli\"})",
            total(&|s| pos(&s["feedback"]["plis"])),
        ),
        ("sum(rtcprobe_streams_active)", 2.0),
        (
            "sum(rtcprobe_capture_frames_total)",
            report["summary"]["frames"].as_f64().expect("frames"),
        ),
    ] {
        assert_eq!(scalar(prom, expr, at), want, "{expr}");
    }
    for s in streams {
        let ssrc = s["ssrc"].as_u64().expect("ssrc");
        let sel = format!("{{ssrc=\"{ssrc}\"}}");
        let got = scalar(prom, &format!("rtcprobe_stream_packets_total{sel}"), at);
        assert_eq!(got, s["packets"].as_f64().expect("packets"), "{ssrc}");
        let got = scalar(prom, &format!("rtcprobe_stream_lost_packets{sel}"), at);
        assert_eq!(got, s["lost"].as_f64().expect("lost"), "{ssrc}");
        let jitter = scalar(prom, &format!("rtcprobe_stream_jitter_seconds{sel}"), at);
        let want = s["jitter_ms"].as_f64().expect("jitter") / 1e3;
        assert!((jitter - want).abs() < 1e-9, "{ssrc}: {jitter} vs {want}");
        let rtt = &s["rtt_ms"]["capture_point"];
        let sel = format!("{{ssrc=\"{ssrc}\",method=\"capture_point\"}}");
        let got = scalar(prom, &format!("rtcprobe_stream_rtt_seconds{sel}"), at);
        assert!((got - rtt["last"].as_f64().expect("rtt") / 1e3).abs() < 1e-9);
    }
    // `--records` is a file sink: by then it had written the interval records of the intervals
    // the packets closed (every second of capture time); the interval still open at the last
    // packet is closed at the end of the capture, after the linger, with the final records.
    let sent = "rtcprobe_forward_records_sent_total{sink=\"records\",type=\"file\"}";
    let last = report["summary"]["last_packet"]
        .as_str()
        .expect("last packet");
    let intervals = std::fs::read_to_string(dir.path("records.ndjson"))
        .expect("records file")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("record"))
        .filter(|r| r["kind"] == "interval")
        .filter(|r| r["interval_end"].as_str().is_some_and(|e| e <= last))
        .count();
    assert!(intervals > 0);
    assert_eq!(scalar(prom, sent, at), intervals as f64, "{sent}");
    assert_eq!(
        scalar(
            prom,
            "rtcprobe_forward_buffered_bytes{sink=\"records\"}",
            at
        ),
        0.0
    );
    // Peer groups: the audio stream goes to 192.0.2.0/24, the other stays in 10/8.
    let carrier = "sum(rtcprobe_rtp_packets_total{peer_group=\"carrier\",kind=\"audio\"})";
    let audio = streams
        .iter()
        .find(|s| s["ssrc"].as_u64() == Some(0x1111_0001))
        .expect("audio stream");
    assert_eq!(
        scalar(prom, carrier, at),
        audio["packets"].as_f64().expect("n")
    );

    // Every dashboard and alert expression is valid and has data. Alert expressions compare
    // against thresholds; each is checked without its comparison (the `> x` tail), since a
    // healthy capture must not fire them: the measured part must have data.
    // The media server row and alert need hops: tests/hops_export.rs checks them on a relay.
    let mut empty = Vec::new();
    for e in dashboard_exprs()
        .into_iter()
        .filter(|e| !e.contains("rtcprobe_hop"))
    {
        match query(prom, &e, at) {
            Err(err) => panic!("dashboard query invalid: {err}"),
            Ok(r) if r.is_empty() => empty.push(e),
            Ok(_) => {}
        }
    }
    for e in alert_exprs()
        .into_iter()
        .filter(|e| !e.contains("rtcprobe_hop"))
    {
        query(prom, &e, at).unwrap_or_else(|err| panic!("alert invalid: {err}"));
        let measured = e.rsplit_once('>').map_or(e.as_str(), |(m, _)| m);
        match query(prom, measured, at) {
            Err(err) => panic!("alert measure invalid: {err}"),
            Ok(r) if r.is_empty() => empty.push(measured.to_string()),
            Ok(_) => {}
        }
    }
    // Legitimately empty: the probe dropped nothing, so `rate(...dropped...) > 0` has no
    // series above the threshold, yet its measured part (checked above) has data.
    assert!(empty.is_empty(), "queries without data: {empty:#?}");
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[test]
fn promtool_accepts_a_scrape_with_per_stream_series_and_the_rules() {
    if let Some(why) = missing(PROMTOOL) {
        eprintln!("{why}");
        return;
    }
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("prometheus/alerts.yml");
    let out = Command::new(PROMTOOL)
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let dir = Scratch::new("promtool");
    let cfg = write_config(&dir);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for fixture in [
        "sample-sfu.pcap",
        "jitsi-chrome-vp8-flexfec-loss.pcap",
        "sipp-g711a.pcap",
    ] {
        let child = bin()
            .args([
                "replay",
                "--workers",
                "2",
                "--format",
                "json",
                "--linger",
                "5",
            ])
            .arg("--config")
            .arg(&cfg)
            .args(["--listen", &listen])
            .arg("--records")
            .arg(dir.path("records.ndjson"))
            .arg(fixtures.join(fixture))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rtcprobe");
        let _k = Killer(child);
        let addr: SocketAddr = listen.parse().expect("addr");
        let t0 = Instant::now();
        // Lingering: the streams are live, so the scrape has per-stream series.
        let body = loop {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "{fixture}: no scrape"
            );
            std::thread::sleep(Duration::from_millis(300));
            if let Some((200, b)) = get(addr, "/metrics") {
                if b.contains("rtcprobe_stream_packets_total{") {
                    break b;
                }
            }
        };
        let scrape = dir.path("scrape.txt");
        std::fs::write(&scrape, &body).expect("scrape");
        let out = Command::new(PROMTOOL)
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(&scrape).expect("scrape"))
            .output()
            .expect("promtool");
        assert!(
            out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
            "{fixture}: promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
