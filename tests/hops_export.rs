//! Middlebox hops on the endpoint, end to end: each synthetic hop scenario (`synth::hop`) is
//! written to a pcap and replayed by `rtcprobe replay --workers 2 --listen … --linger`
//! (the live pipeline, its capture thread's hop stage and the real HTTP server, on loopback);
//! `/hops` must equal the hop matcher's report for the same frames (the `hops` of
//! `replay --format json`), field by field, and the scenario's truth; `/metrics` must carry
//! the same totals, and a forwarding delay histogram whose buckets hold exactly the true
//! delays. Every process is killed on drop and every wait is bounded.

#[allow(dead_code)]
#[path = "exporter/http.rs"]
mod http;

use http::{get, Scratch};
use rtcprobe::correlate::hop::{summarize, HopMatcher, HopRecord, Limits};
use rtcprobe::engine::ObservationPoint;
use rtcprobe::synth::hop::{named, HopsTruth, NAMES};
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
    m.report()
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
    std::fs::write(&cfg, "[exporter]\nper_stream_series = true\n").expect("config");
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
    for (got, want) in arr.iter().zip(reference) {
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
