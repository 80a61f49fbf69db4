//! Middlebox hops on the endpoint, end to end: each synthetic hop scenario (`synth::hop`) is
//! written to a pcap and replayed by `rtcprobe replay --workers 2 --listen … --linger`
//! (the live pipeline, its capture thread's hop stage and the real HTTP server, on loopback);
//! `/hops` must equal the hop matcher's report for the same frames (the `hops` of
//! `replay --format json`), field by field, and the scenario's truth; `/metrics` must carry
//! the same totals, and a forwarding delay histogram whose buckets hold exactly the true
//! delays. A real Prometheus (Debian `prometheus`) scraping a realtime replay of a relay
//! must have data for every expression of the dashboard's "media server" row and of the
//! middlebox loss alert. Every process is killed on drop and every wait is bounded.

#[allow(dead_code)]
#[path = "exporter/http.rs"]
mod http;

use http::{get, get_json, urlencode, Scratch};
use rtcprobe::correlate::hop::{summarize, HopMatcher, HopRecord, Limits};
use rtcprobe::engine::ObservationPoint;
use rtcprobe::synth::hop::{egress_to, named, scenario, video_in, HopsTruth, NAMES};
use rtcprobe::synth::pcap::TsResolution;
use rtcprobe::wire::{decode_udp, LinkType};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child on drop (a failed assertion must not leave a server running).
struct Killer(Child);

impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// What `replay --format json` reports as `hops` for these frames: the matcher fed every
/// datagram in capture order, finished at the last frame.
fn reference(frames: &[rtcprobe::synth::Frame]) -> Vec<HopRecord> {
    let mut m = HopMatcher::new(Limits::default());
    let mut last = 0;
    for f in frames {
        let link = LinkType::from_dlt(f.linktype as i32).expect("link type");
        if let Ok(dg) = decode_udp(link, &f.bytes) {
            if let Some((k, p)) = summarize(&dg, ObservationPoint::CAPTURE) {
                m.on_rtp(f.ts_ns, &k, &p);
            }
        }
        last = f.ts_ns;
    }
    m.finish(last);
    // Hops are handed out as they end (the replay's order); every one ends at the finish.
    let mut hops: Vec<(u64, _)> = m
        .drain()
        .filter_map(|d| match d {
            rtcprobe::correlate::hop::Done::Hop { seq, hop, .. } => Some((seq, *hop)),
            _ => None,
        })
        .collect();
    hops.sort_by_key(|h| h.0);
    hops.into_iter().map(|h| h.1).collect()
}

/// `name{labels} value` lines of one family (exact name), as (labels, value).
fn samples<'a>(body: &'a str, name: &str) -> Vec<(&'a str, f64)> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let (n, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            Some((labels, v.parse().ok()?))
        })
        .collect()
}

fn total(body: &str, name: &str) -> f64 {
    samples(body, name).iter().map(|(_, v)| v).sum()
}

/// Serve one scenario's replay and return (`/hops`, `/metrics`) once the hops are final.
fn serve(dir: &Scratch, name: &str) -> (Value, String) {
    let pcap = dir.path(&format!("{name}.pcap"));
    let cfg = dir.path("rtcprobe.toml");
    std::fs::write(
        &cfg,
        "[engine]\nhops = true\n[exporter]\nper_stream_series = true\n",
    )
    .expect("config");
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args([
            "replay",
            "--workers",
            "2",
            "--linger",
            "20",
            "--format",
            "json",
        ])
        .arg("--config")
        .arg(&cfg)
        .args(["--listen", &listen, "--progress-every", "0"])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rtcprobe");
    let _k = Killer(child);
    let addr: SocketAddr = listen.parse().expect("addr");
    let t0 = Instant::now();
    loop {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{name}: no final /hops"
        );
        std::thread::sleep(Duration::from_millis(200));
        let Some((200, body)) = get(addr, "/hops") else {
            continue;
        };
        let hops: Value = serde_json::from_str(&body).expect("/hops is JSON");
        let arr = hops.as_array().expect("/hops is an array");
        // The end of file settles the hops: all stopped, the snapshot is final.
        if !arr.is_empty() && arr.iter().all(|h| h["active"] == false) {
            let (status, metrics) = get(addr, "/metrics").expect("/metrics");
            assert_eq!(status, 200);
            return (hops, metrics);
        }
    }
}

fn check(name: &str, truth: &HopsTruth, reference: &[HopRecord], hops: &Value, metrics: &str) {
    let arr = hops.as_array().expect("array");
    assert_eq!(arr.len(), reference.len(), "{name}: {hops:#}");
    // Stopped hops are listed the last to end first; the reference in the order they ended.
    for (got, want) in arr.iter().rev().zip(reference) {
        let mut got = got.clone();
        let obj = got.as_object_mut().expect("object");
        assert_eq!(obj.remove("ingress_observed_at"), Some("capture".into()));
        assert_eq!(obj.remove("egress_observed_at"), Some("capture".into()));
        assert_eq!(obj.remove("active"), Some(false.into()));
        // Through text both ways: the same JSON parses to the same floats.
        let want: Value =
            serde_json::from_str(&serde_json::to_string(want).expect("json")).expect("json");
        assert_eq!(got, want, "{name}");
    }
    // The reference is the truth (tests/hops.rs checks the matcher; here the plumbing).
    let sum = |f: fn(&HopRecord) -> u64| reference.iter().map(f).sum::<u64>() as f64;
    let tsum = |f: fn(&rtcprobe::synth::hop::HopTruth) -> u64| {
        truth.hops.iter().map(f).sum::<u64>() as f64
    };
    assert_eq!(sum(|h| h.packets_out), tsum(|h| h.packets_out), "{name}");
    assert_eq!(sum(|h| h.lost_inside), tsum(|h| h.lost_inside), "{name}");
    for (family, want) in [
        ("rtcprobe_hop_packets_in_total", sum(|h| h.packets_in)),
        ("rtcprobe_hop_packets_out_total", sum(|h| h.packets_out)),
        (
            "rtcprobe_hop_packets_lost_inside_total",
            sum(|h| h.lost_inside),
        ),
        (
            "rtcprobe_hop_packets_lost_upstream_total",
            sum(|h| h.lost_upstream),
        ),
        ("rtcprobe_hop_rtx_packets_total", sum(|h| h.rtx_packets)),
        (
            "rtcprobe_hop_pair_packets_out_total",
            sum(|h| h.packets_out),
        ),
        (
            "rtcprobe_hop_pair_packets_lost_inside_total",
            sum(|h| h.lost_inside),
        ),
        ("rtcprobe_hops_active", 0.0),
    ] {
        assert_eq!(total(metrics, family), want, "{name}: {family}");
    }
    // Every true delay in its bucket: `le` counts the delays whose whole microseconds are
    // below the bound (the matcher keeps µs; the bounds are whole µs).
    let delays: Vec<i64> = truth
        .hops
        .iter()
        .flat_map(|h| h.delays_ns.clone())
        .collect();
    let mut buckets: BTreeMap<String, f64> = BTreeMap::new();
    for (labels, v) in samples(metrics, "rtcprobe_hop_forwarding_delay_seconds_bucket") {
        let le = labels
            .split(',')
            .find_map(|kv| kv.strip_prefix("le=\""))
            .expect("le")
            .trim_end_matches('"');
        *buckets.entry(le.to_string()).or_default() += v;
    }
    assert_eq!(buckets.len(), 16, "{name}: {buckets:?}");
    for (le, got) in &buckets {
        let want = match le.as_str() {
            "+Inf" => delays.len(),
            b => {
                let us = (b.parse::<f64>().expect("bound") * 1e6).round() as i64;
                delays.iter().filter(|&&d| d / 1000 < us).count()
            }
        };
        assert_eq!(*got, want as f64, "{name}: le={le}");
    }
    let count = total(metrics, "rtcprobe_hop_forwarding_delay_seconds_count");
    assert_eq!(count, delays.len() as f64, "{name}");
    let exact: f64 = delays.iter().map(|&d| d as f64 / 1e9).sum();
    let sum = total(metrics, "rtcprobe_hop_forwarding_delay_seconds_sum");
    assert!(
        (sum - exact).abs() <= exact / 32.0,
        "{name}: sum {sum} vs {exact}"
    );
    // Per-hop delay quantiles are the report's.
    let p50: Vec<f64> = samples(metrics, "rtcprobe_hop_pair_forwarding_delay_seconds")
        .into_iter()
        .filter(|(l, _)| l.contains("stat=\"p50\""))
        .map(|(_, v)| v)
        .collect();
    let mut want: Vec<f64> = reference
        .iter()
        .filter_map(|h| h.forwarding_delay.map(|d| d.p50))
        .collect();
    let mut got = p50;
    got.sort_by(f64::total_cmp);
    want.sort_by(f64::total_cmp);
    assert_eq!(got, want, "{name}");
}

/// `promtool check metrics` accepts the scrape (skipped without promtool, except under CI).
fn promtool(dir: &Scratch, name: &str, metrics: &str) {
    const PROMTOOL: &str = "/usr/bin/promtool";
    if !std::path::Path::new(PROMTOOL).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{PROMTOOL} missing under CI=true: scripts/setup-test installs prometheus"
        );
        eprintln!("skipped promtool: {PROMTOOL} not found (scripts/setup-test installs it)");
        return;
    }
    let scrape = dir.path("scrape.txt");
    std::fs::write(&scrape, metrics).expect("scrape");
    let out = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&scrape).expect("scrape"))
        .output()
        .expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "{name}: promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hops_endpoint_and_metrics_equal_the_replay_hops_and_the_truth_on_every_scenario() {
    let dir = Scratch::new("hops");
    for name in NAMES {
        let s = named(name).expect("scenario");
        let (cap, truth) = s.build();
        let f = std::fs::File::create(dir.path(&format!("{name}.pcap"))).expect("pcap");
        cap.write_pcap(f, TsResolution::Nano, 65535).expect("write");
        let reference = reference(&cap.frames);
        assert_eq!(reference.len(), truth.hops.len(), "{name}");
        let (hops, metrics) = serve(&dir, name);
        check(name, &truth, &reference, &hops, &metrics);
        promtool(&dir, name, &metrics);
    }
}

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Every `expr` about hops of the dashboard and the alert rules (variables as Grafana's
/// "All"; alert comparisons cut off, as tests/exporter.rs does: a healthy hop must not fire).
fn hop_exprs() -> Vec<String> {
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
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let d: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("grafana/rtcprobe.json")).expect("dashboard"),
    )
    .expect("dashboard is JSON");
    let mut out = Vec::new();
    walk(&d["panels"], &mut out);
    let alerts = std::fs::read_to_string(root.join("prometheus/alerts.yml")).expect("alerts");
    let mut lines = alerts.lines().peekable();
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
            out.push(e.rsplit_once('>').map_or(e.clone(), |(m, _)| m.to_string()));
        }
    }
    out.into_iter()
        .filter(|e| e.contains("rtcprobe_hop"))
        .map(|e| {
            e.replace("$__rate_interval", "1m")
                .replace("$peer_group", ".*")
                .replace("$instance", ".*")
        })
        .collect()
}

fn query(prom: SocketAddr, expr: &str, time: f64) -> Result<Vec<Value>, String> {
    let path = format!("/api/v1/query?query={}&time={time:.3}", urlencode(expr));
    let v = get_json(prom, &path).ok_or_else(|| format!("no answer for {expr}"))?;
    if v["status"] != "success" {
        return Err(format!("{expr}: {}", v["error"]));
    }
    Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
}

fn scalar(prom: SocketAddr, expr: &str, time: f64) -> Option<f64> {
    query(prom, expr, time)
        .ok()?
        .first()?
        .get("value")?
        .get(1)?
        .as_str()?
        .parse()
        .ok()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[test]
fn prometheus_has_data_for_the_media_server_row_and_the_middlebox_alert() {
    if !std::path::Path::new(PROMETHEUS).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{PROMETHEUS} missing under CI=true: scripts/setup-test installs prometheus"
        );
        eprintln!("skipped: {PROMETHEUS} not found (scripts/setup-test installs it)");
        return;
    }
    let dir = Scratch::new("hops-prom");
    // A relay fanning one video stream out to two receivers, losing 5 % inside: 6 s.
    let mut a = egress_to(2, 0);
    a.inside_loss = 0.05;
    a.delay_ns = 4_000_000;
    let b = egress_to(3, 0);
    let s = scenario(11, vec![video_in(1, 0x5151)], vec![a, b], 600);
    let (cap, _) = s.build();
    let pcap = dir.path("relay.pcap");
    cap.write_pcap(
        std::fs::File::create(&pcap).expect("pcap"),
        TsResolution::Nano,
        65535,
    )
    .expect("write");
    let want = reference(&cap.frames);
    let lost_inside: u64 = want.iter().map(|h| h.lost_inside).sum();
    assert!(lost_inside > 0);
    let target = format!("127.0.0.1:{}", free_port());
    let prom_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let cfg = dir.path("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: rtcprobe\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("prometheus.yml");
    let _prom = Killer(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path("tsdb").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus"),
    );
    let t0 = Instant::now();
    while get(prom_addr, "/-/ready").map(|(s, _)| s) != Some(200) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "prometheus not ready"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let rtcprobe = dir.path("rtcprobe.toml");
    std::fs::write(
        &rtcprobe,
        "[engine]\nhops = true\n[exporter]\nper_stream_series = true\n",
    )
    .expect("config");
    let _probe = Killer(
        Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
            .args(["replay", "--realtime", "--linger", "10", "--format", "json"])
            .arg("--config")
            .arg(&rtcprobe)
            .args(["--listen", &target, "--progress-every", "0"])
            .arg(&pcap)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rtcprobe"),
    );
    // Wait until Prometheus has the final hop totals (the end of file settles them).
    let t0 = Instant::now();
    let at = loop {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no final hop scrape"
        );
        std::thread::sleep(Duration::from_millis(500));
        let now = unix_now();
        let got = scalar(
            prom_addr,
            "sum(rtcprobe_hop_packets_lost_inside_total)",
            now,
        );
        if got == Some(lost_inside as f64) {
            std::thread::sleep(Duration::from_secs(2));
            break unix_now();
        }
    };
    let out: u64 = want.iter().map(|h| h.packets_out).sum();
    assert_eq!(
        scalar(prom_addr, "sum(rtcprobe_hop_packets_out_total)", at),
        Some(out as f64)
    );
    let mut empty = Vec::new();
    let exprs = hop_exprs();
    assert!(exprs.len() >= 8, "{exprs:#?}");
    for e in exprs {
        match query(prom_addr, &e, at) {
            Err(err) => panic!("invalid: {err}"),
            Ok(r) if r.is_empty() => empty.push(e),
            Ok(_) => {}
        }
    }
    assert!(empty.is_empty(), "queries without data: {empty:#?}");
}
