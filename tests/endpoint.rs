//! The HTTP endpoint as a client on the network sees it (issue 12), against `rtcprobe replay
//! --realtime --listen --linger` on loopback: the malformed-request table and pipelining over
//! raw TCP (RFC 9110/9112), `/streams` privacy and `streams_endpoint = false`. The abuse tests
//! (slowloris, a connection flood, with a real Prometheus) are in `endpoint/abuse.rs`; TLS,
//! client certificates, basic auth and certificate reload with a real Prometheus in
//! `endpoint/tls.rs`.
//!
//! Tests that need `/usr/bin/prometheus` say `skipped: ...` without it, and fail under
//! CI=true. Every process started here is killed on drop; every wait is bounded.

#[path = "endpoint/abuse.rs"]
mod abuse;
#[path = "endpoint/calls.rs"]
mod calls;
#[path = "common/mod.rs"]
mod common;
#[path = "common/pki.rs"]
mod pki;
#[path = "endpoint/tls.rs"]
mod tls;

use common::{bin, free_port, wait_for, Proc, TempDir};
use rtcprobe::synth::frame::Encap;
use rtcprobe::synth::pcap::TsResolution;
use rtcprobe::synth::scenario::{RtcpSpec, Scenario, StreamSpec};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const PROMETHEUS: &str = "/usr/bin/prometheus";

/// The raw addresses and CNAMEs of [`capture`], which a private `/streams` must not show.
pub const RAW: &[&str] = &[
    "10.0.1.10",
    "192.0.2.20",
    "10.0.3.30",
    "10.0.4.40",
    "alice@synth",
    "bob@synth",
];

/// About `secs` seconds of two streams with RTCP and CNAMEs (capture time; `--realtime`
/// replays it at that pace).
pub fn capture(path: &Path, secs: u32) {
    let sa = |s: &str| s.parse::<SocketAddr>().expect("addr");
    let mut sc = Scenario::new(12);
    let mut a = StreamSpec::audio(sa("10.0.1.10:40000"), sa("192.0.2.20:50000"), 0x1111_0001);
    a.count = 50 * secs;
    a.encap = Encap::Ethernet;
    a.impair.loss = 0.02;
    a.rtcp = Some(RtcpSpec {
        interval_ns: 1_000_000_000,
        ..RtcpSpec::with_rtt(0x2222_0001, 40_000_000)
    });
    a.cname = Some("alice@synth".into());
    sc.add(a);
    let mut b = StreamSpec::audio(sa("10.0.3.30:40002"), sa("10.0.4.40:50002"), 0x3333_0001);
    b.count = 50 * secs;
    b.encap = Encap::Ethernet;
    b.rtcp = Some(RtcpSpec {
        interval_ns: 1_000_000_000,
        ..RtcpSpec::with_rtt(0x4444_0001, 70_000_000)
    });
    b.cname = Some("bob@synth".into());
    sc.add(b);
    let f = std::fs::File::create(path).expect("create capture");
    sc.build()
        .write_pcap(f, TsResolution::Nano, 65_535)
        .expect("write capture");
}

/// `rtcprobe replay --realtime --listen` of a `secs`-second capture, serving `linger` seconds
/// after its end, with `exporter` lines added to `[exporter]`; waits until `/healthz` answers.
pub fn serve(dir: &Path, exporter: &str, secs: u32, linger: u32) -> (Proc, SocketAddr) {
    let cap = dir.join("capture.pcap");
    capture(&cap, secs);
    serve_capture(dir, &cap, exporter, "", linger)
}

/// [`serve`] of the capture at `cap`, with `sections` (whole TOML tables) after `[exporter]`.
pub fn serve_capture(
    dir: &Path,
    cap: &Path,
    exporter: &str,
    sections: &str,
    linger: u32,
) -> (Proc, SocketAddr) {
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[pipeline]\nworkers = 2\nsnapshot_interval_ms = 200\n\
             [exporter]\nper_stream_series = true\n{exporter}\n{sections}\n"
        ),
    )
    .expect("config");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let p = Proc(
        bin()
            .args(["replay", "--realtime", "--format", "json"])
            .args(["--linger", &linger.to_string()])
            .arg("--config")
            .arg(&cfg)
            .args(["--listen", &addr.to_string()])
            .arg(cap)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("rtcprobe.log")).expect("log"))
            .spawn()
            .expect("start rtcprobe"),
    );
    wait_for("the endpoint", Duration::from_secs(30), || {
        TcpStream::connect(addr).ok()
    });
    (p, addr)
}

/// Send `req` as is on a new connection and read until the server closes (5 s at most).
pub fn raw(addr: SocketAddr, req: &[u8]) -> String {
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    c.write_all(req).expect("send");
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The status codes of the responses in `text`, in order.
pub fn statuses(text: &str) -> Vec<u16> {
    text.match_indices("HTTP/1.")
        .filter_map(|(i, _)| {
            let line = text.get(i..)?.lines().next()?;
            let mut w = line.split_whitespace();
            let v = w.next()?;
            (v == "HTTP/1.1" || v == "HTTP/1.0")
                .then(|| w.next()?.parse().ok())
                .flatten()
        })
        .collect()
}

/// The value of header `name` of the first response in `text`.
pub fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let head = text.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// A Prometheus on loopback with `scrape` as its one scrape config (YAML under
/// `scrape_configs:`, indented by 2), every second; waits until it is ready.
pub fn prometheus(dir: &Path, scrape: &str) -> (Proc, SocketAddr) {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n{scrape}"
        ),
    )
    .expect("prometheus.yml");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let p = Proc(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log"))
            .spawn()
            .expect("start prometheus"),
    );
    wait_for("prometheus ready", Duration::from_secs(30), || {
        common::http_get(&format!("http://{addr}/-/ready")).ok()
    });
    (p, addr)
}

/// An instant PromQL query: the first sample's value, if any.
pub fn query(prom: SocketAddr, expr: &str) -> Option<f64> {
    let url = format!(
        "http://{prom}/api/v1/query?query={}",
        expr.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    );
    let v: Value = serde_json::from_str(&common::http_get(&url).ok()?).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

pub fn scratch(tag: &str) -> TempDir {
    TempDir::new(&format!("endpoint-{tag}"))
}

#[test]
fn malformed_requests_get_the_rfc_9110_status() {
    let dir = scratch("malformed");
    let (_p, addr) = serve(&dir.0, "", 1, 30);
    let big = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    let table: &[(&[u8], u16)] = &[
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
        (b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n", 400),
        (
            b"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
            400,
        ),
        (
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            405,
        ),
        (
            b"DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            405,
        ),
        (big.as_bytes(), 431),
        (b"GET /healthz HTTP/1.0\r\n\r\n", 200),
        (
            b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            404,
        ),
    ];
    for (req, want) in table {
        let resp = raw(addr, req);
        let shown = String::from_utf8_lossy(req.get(..40.min(req.len())).unwrap_or(&[]));
        assert_eq!(statuses(&resp).first(), Some(want), "{shown:?} → {resp:?}");
        if *want == 405 {
            assert_eq!(header(&resp, "Allow"), Some("GET, HEAD"), "{resp}");
        }
    }
}

#[test]
fn head_works_and_pipelined_requests_are_all_answered() {
    let dir = scratch("pipeline");
    let (_p, addr) = serve(&dir.0, "", 1, 30);
    let get = raw(
        addr,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let head = raw(
        addr,
        b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(statuses(&head), vec![200]);
    let len: usize = header(&head, "Content-Length")
        .and_then(|v| v.parse().ok())
        .expect("HEAD has Content-Length");
    assert!(len > 1000, "{head}");
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head:?}");
    assert!(get.contains("rtcprobe_export_scrapes_total"));

    let resp = raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n\
          HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /streams HTTP/1.1\r\nHost: x\r\n\
          Connection: close\r\n\r\n",
    );
    assert_eq!(statuses(&resp), vec![200, 200, 200, 200], "{resp:.300}");
    // A request with an unsupported version behind a good one: the good one is answered first.
    let resp = raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/2.0\r\nHost: x\r\n\r\n",
    );
    assert_eq!(statuses(&resp), vec![200, 505], "{resp}");
    // The same, with the bad request line trickling in across reads.
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    for part in [
        &b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET / HT"[..],
        b"TP/9",
        b".9\r\nHost: x\r\n\r\n",
    ] {
        c.write_all(part).expect("send");
        std::thread::sleep(Duration::from_millis(300));
    }
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    let resp = String::from_utf8_lossy(&buf);
    assert_eq!(statuses(&resp), vec![200, 505], "{resp}");
}

/// Every string anywhere in `v`.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(m) => m.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings(v, out)
        }),
        _ => {}
    }
}

/// `/streams` once both streams have been replayed to the end (`secs` of 50 packets a
/// second, 2 % loss at most) and RTCP with SDES has been seen for both.
fn streams(addr: SocketAddr, secs: u32) -> Vec<Value> {
    wait_for("two complete streams", Duration::from_secs(30), || {
        let resp = raw(addr, b"GET /streams HTTP/1.0\r\n\r\n");
        let body = resp.split_once("\r\n\r\n")?.1;
        let v: Vec<Value> = serde_json::from_str(body).ok()?;
        let done = |s: &Value| {
            s["packets"].as_u64().unwrap_or(0) >= u64::from(secs) * 49
                && s["rtt_ms"].as_object().is_some_and(|m| !m.is_empty())
        };
        (v.len() == 2 && v.iter().all(done)).then_some(v)
    })
}

#[test]
fn streams_shows_no_raw_address_or_cname_with_hashed_labels() {
    let dir = scratch("privacy");
    let (_p, addr) = serve(
        &dir.0,
        "address_labels = \"hash\"\nhash_key = \"0123456789abcdef-test\"\ncname_label = false",
        3,
        30,
    );
    let all = streams(addr, 3);
    for s in &all {
        let mut text = Vec::new();
        strings(s, &mut text);
        for t in &text {
            for raw in RAW {
                assert!(!t.contains(raw), "{raw} in /streams field value {t:?}: {s}");
            }
        }
        for f in ["src", "dst"] {
            let v = s[f].as_str().expect(f);
            assert!(
                v.len() == 16 && v.bytes().all(|b| b.is_ascii_hexdigit()),
                "{f} = {v:?} is not a hashed address"
            );
        }
        assert!(s["cname"].is_null(), "cname shown: {s}");
    }
    // The same replay with the defaults shows them (the assertion above can fail).
    let dir2 = scratch("privacy-keep");
    let (_p2, addr2) = serve(&dir2.0, "cname_label = true", 3, 30);
    let shown = serde_json::to_string(&streams(addr2, 3)).expect("json");
    assert!(
        shown.contains("10.0.1.10:40000") && shown.contains("alice@synth"),
        "{shown}"
    );
}

#[test]
fn streams_endpoint_false_gives_404() {
    let dir = scratch("nostreams");
    let (_p, addr) = serve(&dir.0, "streams_endpoint = false", 1, 30);
    let resp = raw(addr, b"GET /streams HTTP/1.0\r\n\r\n");
    assert_eq!(statuses(&resp), vec![404], "{resp}");
    // `/hops` follows the same switch.
    let resp = raw(addr, b"GET /hops HTTP/1.0\r\n\r\n");
    assert_eq!(statuses(&resp), vec![404], "{resp}");
    // And `/calls`.
    let resp = raw(addr, b"GET /calls HTTP/1.0\r\n\r\n");
    assert_eq!(statuses(&resp), vec![404], "{resp}");
    let resp = raw(addr, b"GET /metrics HTTP/1.0\r\n\r\n");
    assert_eq!(statuses(&resp), vec![200]);
}

/// Skip (or fail under CI=true) without Prometheus.
pub fn have_prometheus() -> bool {
    common::have(PROMETHEUS, "prometheus")
}

#[test]
fn validate_checks_the_web_config_file_without_printing_secrets() {
    let dir = scratch("validate");
    let d = &dir.0;
    let key =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n";
    std::fs::write(d.join("server.key"), key).expect("key");
    std::fs::write(
        d.join("web.yml"),
        "tls_server_config:\n  cert_file: nowhere.pem\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n\
         basic_auth_users:\n  prometheus: hunter2-not-a-hash\n\
         http_server_config:\n  headers:\n    Server: rtcprobe\n",
    )
    .expect("web.yml");
    let cfg = d.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[exporter]\nweb_config_file = \"{}\"\nmax_connections = 0\n",
            d.join("web.yml").display()
        ),
    )
    .expect("config");
    let out = bin()
        .args(["validate", "--config"])
        .arg(&cfg)
        .output()
        .expect("validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    for want in [
        "exporter.max_connections",
        "basic_auth_users.prometheus",
        "bcrypt",
        "http_server_config.headers.Server",
        "tls_server_config.cert_file",
        "nowhere.pem",
    ] {
        assert!(text.contains(want), "{want} not in: {text}");
    }
    for secret in ["hunter2", "c2VjcmV0", "PRIVATE KEY"] {
        assert!(!text.contains(secret), "{secret} printed: {text}");
    }
}

#[test]
fn dashboard_tables_hide_name_and_job_and_import_in_grafana_9() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana/rtcprobe.json"),
    )
    .expect("dashboard");
    let d: Value = serde_json::from_str(&text).expect("JSON");
    assert!(d["schemaVersion"].as_u64().expect("schemaVersion") <= 36);
    let tables: Vec<&Value> = d["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter(|p| p["type"] == "table")
        .collect();
    assert!(!tables.is_empty());
    for t in tables {
        let hidden = t["transformations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["id"] == "organize")
            .map(|x| &x["options"]["excludeByName"])
            .next()
            .unwrap_or_else(|| panic!("{}: no organize transformation", t["title"]));
        for col in ["__name__", "job", "Time"] {
            assert_eq!(hidden[col], true, "{}: {col} shown", t["title"]);
        }
    }
}
