//! TLS and authentication of the HTTP sinks against real servers on loopback.
//!
//! A throwaway CA and a server certificate for 127.0.0.1 are made here (rcgen). VictoriaMetrics
//! serves HTTPS with basic authentication (`-tls`, `-httpAuth.*`); vmauth, VictoriaMetrics' auth
//! proxy from the same package, serves HTTPS in front of it and takes a bearer token (Prometheus
//! 2.42 and VictoriaMetrics 1.79 themselves only know basic authentication). A replay with
//! `ca_file` and the right credentials delivers, and the samples are read back over HTTPS; a
//! wrong password or token is rejected (counted failed, not retried, nothing stored); without
//! `ca_file` the store's certificate is unknown, so batches are retried and stay buffered, and
//! a restart with `ca_file` delivers them. ClickHouse takes basic authentication over HTTP.
//! Client certificates: tests/mtls.rs.
//! `rtcprobe validate` names an unusable `ca_file`. Skips with `skipped: ...` when a server is
//! not installed, except under CI=true.

mod common;
#[path = "common/pki.rs"]
mod pki;

use common::{
    bin, have, read_records, wait_for, ClickHouse, Proc, TempDir, CLICKHOUSE, CLICKHOUSE_USER,
};
use pki::{client, forward, pki, Pki};
use rtcprobe::config::HttpConfig;
use rtcprobe::forward::delivery::Outcome;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const VM: &str = "/usr/bin/victoria-metrics";
const VMAUTH: &str = "/usr/bin/vmauth";
const USER: &str = "rtcprobe";
const PASSWORD: &str = "s3cret";
/// `Basic` + base64("rtcprobe:s3cret") (RFC 7617).
const BASIC: &str = "Basic cnRjcHJvYmU6czNjcmV0";
const TOKEN: &str = "tok-7f3a9c";
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample-sfu.pcap");

fn get(agent: &ureq::Agent, url: &str, auth: Option<&str>) -> Result<String, String> {
    let mut req = agent.get(url);
    if let Some(a) = auth {
        req = req.set("Authorization", a);
    }
    req.call()
        .map_err(|e| e.to_string())?
        .into_string()
        .map_err(|e| e.to_string())
}

/// VictoriaMetrics on HTTPS with basic authentication, and vmauth on HTTPS in front of it
/// taking [`TOKEN`]; returns their ports.
fn start_vm(dir: &Path, p: &Pki) -> (Proc, Proc, u16, u16) {
    let (vm_port, auth_port) = (common::free_port(), common::free_port());
    let tls = [
        "-tls".to_string(),
        format!("-tlsCertFile={}", p.cert.display()),
        format!("-tlsKeyFile={}", p.key.display()),
    ];
    let vm = Proc::spawn(
        Command::new(VM)
            .args([
                format!("-storageDataPath={}/vm", dir.display()),
                format!("-httpListenAddr=127.0.0.1:{vm_port}"),
                "-retentionPeriod=100y".into(),
                format!("-httpAuth.username={USER}"),
                format!("-httpAuth.password={PASSWORD}"),
            ])
            .args(&tls),
    );
    // vmauth passes requests with the token on to VictoriaMetrics over HTTPS (Go trusts
    // SSL_CERT_FILE) with VictoriaMetrics' basic credentials.
    let auth_cfg = dir.join("vmauth.yml");
    std::fs::write(
        &auth_cfg,
        format!(
            "users:\n- bearer_token: \"{TOKEN}\"\n  url_prefix: \"https://127.0.0.1:{vm_port}\"\n  \
             headers:\n  - \"Authorization: {BASIC}\"\n"
        ),
    )
    .expect("vmauth.yml");
    let vmauth = Proc::spawn(
        Command::new(VMAUTH)
            .env("SSL_CERT_FILE", &p.ca)
            .args([
                format!("-auth.config={}", auth_cfg.display()),
                format!("-httpListenAddr=127.0.0.1:{auth_port}"),
            ])
            .args(&tls),
    );
    let agent = client(&p.ca);
    wait_for("victoria-metrics on https", Duration::from_secs(60), || {
        get(&agent, &format!("https://127.0.0.1:{vm_port}/health"), None).ok()
    });
    wait_for("vmauth on https", Duration::from_secs(60), || {
        get(
            &agent,
            &format!("https://127.0.0.1:{auth_port}/health"),
            Some(&format!("Bearer {TOKEN}")),
        )
        .ok()
    });
    (vm, vmauth, vm_port, auth_port)
}

/// A `prometheus_remote_write` sink; `auth` is the `[sinks.http]` body.
fn rw_sink(name: &str, url: &str, http: &str) -> String {
    format!(
        "[[sinks]]\ntype = \"prometheus_remote_write\"\nname = \"{name}\"\nurl = \"{url}\"\n\
         [sinks.http]\n{http}[sinks.delivery]\nbatch_records = 16\nbatch_timeout_ms = 100\n\
         retry_initial_ms = 100\nretry_max_ms = 400\n"
    )
}

/// The `rtcprobe: sink NAME: …` report of a replay as (sent, failed, retried, dropped).
fn report(stderr: &str, name: &str) -> Option<(u64, u64, u64, u64, u64)> {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix(&format!("rtcprobe: sink {name}: ")))?;
    let n = |what: &str| -> Option<u64> {
        line.split(", ")
            .find_map(|p| p.strip_suffix(what))
            .and_then(|n| n.trim().parse().ok())
    };
    Some((
        n(" sent")?,
        n(" failed")?,
        n(" retried")?,
        n(" dropped")?,
        n(" dead-lettered")?,
    ))
}

/// (ssrc, interval_end ms, packets) of every record: what `rtcprobe_stream_packets_total`
/// must hold.
fn expected_packets(records: &[Value]) -> BTreeSet<(u64, i64, u64)> {
    records
        .iter()
        .map(|r| {
            let end = r["interval_end"].as_str().expect("interval_end");
            let ns = rtcprobe::forward::record::parse_rfc3339(end).expect("rfc3339");
            let pk = r["packets"].as_u64().expect("packets");
            (r["ssrc"].as_u64().expect("ssrc"), ns / 1_000_000, pk)
        })
        .collect()
}

/// The same triples as VictoriaMetrics exports them for `auth="<via>"`, over HTTPS.
fn stored_packets(agent: &ureq::Agent, vm_port: u16, via: &str) -> BTreeSet<(u64, i64, u64)> {
    let _ = get(
        agent,
        &format!("https://127.0.0.1:{vm_port}/internal/force_flush"),
        Some(BASIC),
    );
    let url = format!(
        "https://127.0.0.1:{vm_port}/api/v1/export?match[]=rtcprobe_stream_packets_total%7Bauth%3D%22{via}%22%7D"
    );
    let body = get(agent, &url, Some(BASIC)).unwrap_or_default();
    let mut out = BTreeSet::new();
    for l in body.lines() {
        let v: Value = serde_json::from_str(l).expect("export line");
        let ssrc: u64 = v["metric"]["ssrc"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("ssrc label");
        let ts = v["timestamps"].as_array().expect("timestamps");
        let vals = v["values"].as_array().expect("values");
        for (t, x) in ts.iter().zip(vals) {
            out.insert((ssrc, t.as_i64().expect("ts"), x.as_f64().expect("v") as u64));
        }
    }
    out
}

#[test]
fn remote_write_over_tls_with_basic_and_bearer_auth() {
    if !have(VM, "victoria-metrics") || !have(VMAUTH, "victoria-metrics") {
        return;
    }
    let tmp = TempDir::new("tls-rw");
    let dir = &tmp.0;
    let p = pki(dir);
    let (_vm, _vmauth, vm_port, auth_port) = start_vm(dir, &p);
    let ca = format!("ca_file = \"{}\"\n", p.ca.display());
    // VictoriaMetrics adds `extra_label` to every sample: which sink delivered it.
    let vm_url =
        |via: &str| format!("https://127.0.0.1:{vm_port}/api/v1/write?extra_label=auth={via}");
    let auth_url =
        |via: &str| format!("https://127.0.0.1:{auth_port}/api/v1/write?extra_label=auth={via}");
    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[records]\nhost = \"probe-tls\"\nstate_dir = \"{}/state\"\n{}{}{}{}\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            dir.display(),
            rw_sink(
                "basic",
                &vm_url("basic"),
                &format!("username = \"{USER}\"\npassword = \"{PASSWORD}\"\n{ca}")
            ),
            rw_sink(
                "bearer",
                &auth_url("bearer"),
                &format!("bearer_token = \"{TOKEN}\"\n{ca}")
            ),
            rw_sink(
                "wrong_password",
                &vm_url("wrong_password"),
                &format!("username = \"{USER}\"\npassword = \"wrong\"\n{ca}")
            ),
            rw_sink(
                "wrong_token",
                &auth_url("wrong_token"),
                &format!("bearer_token = \"not-{TOKEN}\"\n{ca}")
            ),
            file.display()
        ),
    )
    .expect("config");
    let out = bin()
        .args(["replay", FIXTURE, "--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .expect("rtcprobe replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let records = read_records(&file);
    let n = records.len() as u64;
    assert!(n > 20, "{n} records");

    // Good credentials: delivered, nothing reported (the report lists only troubled sinks).
    for name in ["basic", "bearer"] {
        assert_eq!(report(&stderr, name), None, "{stderr}");
    }
    // Bad credentials: every record rejected and kept in the dead-letter directory (none
    // lost), none retried (a 401 or 400 is not transient) and none left buffered.
    for name in ["wrong_password", "wrong_token"] {
        let (sent, failed, retried, dropped, dead) =
            report(&stderr, name).unwrap_or_else(|| panic!("no report of {name}: {stderr}"));
        assert_eq!(
            (sent, failed, retried, dropped, dead),
            (0, 0, 0, 0, n),
            "{name}"
        );
        assert!(
            stderr.contains(&format!("rtcprobe: sink {name}: 0 sent, 0 failed, 0 retried, 0 dropped, {n} dead-lettered, 0 bytes left buffered")),
            "{stderr}"
        );
    }

    // Read back over HTTPS: both authenticated sinks stored every record's packet count.
    let agent = client(&p.ca);
    let want = expected_packets(&records);
    for via in ["basic", "bearer"] {
        let got = wait_for(
            &format!("samples via {via}"),
            Duration::from_secs(30),
            || {
                let got = stored_packets(&agent, vm_port, via);
                (got.len() >= want.len()).then_some(got)
            },
        );
        assert_eq!(got, want, "{via}");
        eprintln!(
            "tls {via}: {n} records, {} packet samples read back over https equal the file's",
            got.len()
        );
    }
    for via in ["wrong_password", "wrong_token"] {
        assert!(stored_packets(&agent, vm_port, via).is_empty(), "{via}");
    }
    // VictoriaMetrics does require the password: without it the export is refused.
    let url = format!("https://127.0.0.1:{vm_port}/api/v1/export?match[]=up");
    let e = get(&agent, &url, None).expect_err("unauthenticated export");
    assert!(e.contains("401"), "{e}");
}

#[test]
fn an_unknown_store_certificate_is_retried_and_stays_buffered() {
    if !have(VM, "victoria-metrics") || !have(VMAUTH, "victoria-metrics") {
        return;
    }
    let tmp = TempDir::new("tls-unknown-ca");
    let dir = &tmp.0;
    let p = pki(dir);
    let (_vm, _vmauth, vm_port, _) = start_vm(dir, &p);
    let file = dir.join("records.ndjson");
    let out = bin()
        .args(["replay", FIXTURE, "--format", "json", "--records"])
        .arg(&file)
        .output()
        .expect("rtcprobe replay");
    assert!(out.status.success());
    let records = pki::records(&file);
    let n = records.len() as u64;
    let sink = |ca: &str| {
        rw_sink(
            "vm",
            &format!("https://127.0.0.1:{vm_port}/api/v1/write?extra_label=auth=ca"),
            &format!("username = \"{USER}\"\npassword = \"{PASSWORD}\"\n{ca}"),
        )
    };
    let state = dir.join("state");

    // No ca_file: the built-in roots do not know the test CA, the handshake fails, and that
    // is a transient outcome.
    let plain = rtcprobe::forward::http::Client::new(&HttpConfig::default()).expect("client");
    let outcome = plain.post(
        &format!("https://127.0.0.1:{vm_port}/api/v1/write"),
        &[],
        b"",
    );
    match &outcome {
        Outcome::Retry(why) => assert!(why.contains("UnknownIssuer"), "{why}"),
        other => panic!("{other:?}"),
    }
    let s = forward(&sink(""), &state, &records, Duration::from_secs(2));
    assert_eq!((s.sent, s.failed, s.dropped), (0, 0, 0), "{s:?}");
    assert!(s.retried >= n, "{s:?}");
    assert!(s.buffered_bytes > 0, "{s:?}");
    let agent = client(&p.ca);
    assert!(stored_packets(&agent, vm_port, "ca").is_empty());
    eprintln!(
        "unknown CA ({outcome:?}): {n} records, {} retried, {} bytes left buffered",
        s.retried, s.buffered_bytes
    );

    // The same state dir with ca_file: the buffered records are delivered, and nothing new.
    let ca = format!("ca_file = \"{}\"\n", p.ca.display());
    let s = forward(&sink(&ca), &state, &[], Duration::from_secs(20));
    assert_eq!((s.sent, s.failed, s.buffered_bytes), (n, 0, 0), "{s:?}");
    let want = expected_packets(&read_records(&file));
    let got = wait_for("buffered samples", Duration::from_secs(30), || {
        let got = stored_packets(&agent, vm_port, "ca");
        (got.len() >= want.len()).then_some(got)
    });
    assert_eq!(got, want);
}

#[test]
fn clickhouse_over_https_takes_basic_authentication() {
    if !have(CLICKHOUSE, "clickhouse-server") {
        return;
    }
    let tmp = TempDir::new("ch-auth");
    let dir = &tmp.0;
    let pki = pki(dir);
    let ch = ClickHouse::start_tls(dir, &pki.cert, &pki.key);
    ch.create_table();
    let https = ch.https.expect("https port");
    // The good sink over HTTPS with the test CA; the wrong password over plain HTTP.
    let sink = |name: &str, url: &str, password: &str, ca: Option<&Path>| {
        format!(
            "[[sinks]]\ntype = \"clickhouse\"\nname = \"{name}\"\nurl = \"{url}\"\n\
             [sinks.http]\nusername = \"{}\"\npassword = \"{password}\"\n{}\
             [sinks.delivery]\nbatch_records = 16\nbatch_timeout_ms = 100\n",
            CLICKHOUSE_USER.0,
            ca.map(|c| format!("ca_file = \"{}\"\n", c.display()))
                .unwrap_or_default()
        )
    };
    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[records]\nstate_dir = \"{}/state\"\n{}{}[[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            dir.display(),
            sink(
                "ch",
                &format!("https://127.0.0.1:{https}"),
                CLICKHOUSE_USER.1,
                Some(&pki.ca)
            ),
            sink(
                "ch_wrong",
                &format!("http://127.0.0.1:{}", ch.http),
                "wrong",
                None
            ),
            file.display()
        ),
    )
    .expect("config");
    let out = bin()
        .args(["replay", FIXTURE, "--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .expect("rtcprobe replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let n = read_records(&file).len() as u64;
    assert_eq!(report(&stderr, "ch"), None, "{stderr}");
    assert_eq!(
        report(&stderr, "ch_wrong"),
        Some((0, 0, 0, 0, n)),
        "{stderr}"
    );
    let rows: u64 = ch
        .query("SELECT uniqExact(record_id) FROM rtcprobe_records")
        .expect("count")
        .trim()
        .parse()
        .expect("number");
    assert_eq!(rows, n);
    eprintln!(
        "clickhouse over HTTPS with basic auth: {n} records stored; wrong password: {n} rejected"
    );
}

#[test]
fn validate_names_an_unusable_ca_file() {
    let tmp = TempDir::new("tls-validate");
    let dir = &tmp.0;
    let cfg = dir.join("rtcprobe.toml");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not PEM\n").expect("junk");
    let sink = |url: &str, ca: &Path| {
        format!(
            "[[sinks]]\ntype = \"clickhouse\"\nname = \"c{}\"\nurl = \"{url}\"\n[sinks.http]\nca_file = \"{}\"\n",
            url.len(),
            ca.display()
        )
    };
    std::fs::write(
        &cfg,
        format!(
            "{}{}{}",
            sink("https://ch.example:8443", &dir.join("missing.pem")),
            sink("https://ch.example.org:8443", &junk),
            sink("http://ch.example:8123", &junk)
        ),
    )
    .expect("config");
    let out = bin()
        .args(["validate", "--config"])
        .arg(&cfg)
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "sinks[0].http.ca_file",
        "missing.pem",
        "cannot read it",
        "sinks[1].http.ca_file",
        "no PEM CERTIFICATE",
        "sinks[2].http.ca_file",
        "need an https:// url",
    ] {
        assert!(err.contains(want), "{want} not in: {err}");
    }
}
