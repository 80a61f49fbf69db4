//! Issue 12, the sinks: against a real ClickHouse (Debian `clickhouse-server`, on loopback in a
//! temp dir, killed on drop):
//!
//! 1. no log line of a replay whose sinks fail (closed port, wrong password, a bearer token)
//!    and no `validate` output contains a password or token;
//! 2. a sink answering 404 (a wrong table) loses nothing: the records land in its dead-letter
//!    directory, `/metrics` counts them, and `rtcprobe resend` delivers them once the table is
//!    fixed;
//! 3. `validate --connect` names the failing sink and the reason for a closed port, a wrong
//!    table, a wrong password and https to a plain-HTTP server; for remote write (a real
//!    VictoriaMetrics), a wrong path.
//!
//! Skips with `skipped: ...` when a server is not installed, except under CI=true.

mod common;

use common::{bin, free_port, have, http_get, wait_for, ClickHouse, Proc, TempDir, CLICKHOUSE};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample-sfu.pcap");

fn clickhouse_sink(name: &str, url: &str, table: &str) -> String {
    format!(
        "[[sinks]]\ntype = \"clickhouse\"\nname = \"{name}\"\nurl = \"{url}\"\ntable = \"{table}\"\n\
         [sinks.delivery]\nbatch_records = 16\nbatch_timeout_ms = 100\nretry_initial_ms = 100\n\
         retry_max_ms = 400\n"
    )
}

fn config(dir: &Path, file: &str, sinks: &str) -> std::path::PathBuf {
    let cfg = dir.join(file);
    std::fs::write(
        &cfg,
        format!(
            "[records]\nhost = \"probe-test\"\nstate_dir = \"{}/state\"\n{sinks}",
            dir.display()
        ),
    )
    .expect("config");
    cfg
}

/// Lines of every file in a dead-letter directory.
fn dead_letter_lines(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "ndjson"))
            .map(|e| {
                std::fs::read_to_string(e.path())
                    .unwrap_or_default()
                    .lines()
                    .count()
            })
            .sum()
    })
}

/// The value of the series `name{labels}` in a scrape, if present.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn passwords_never_appear_in_logs_or_validate_output() {
    if !have(CLICKHOUSE, "clickhouse-server") {
        return;
    }
    let tmp = TempDir::new("sinks-secrets");
    let dir = &tmp.0;
    let ch = ClickHouse::start(dir);
    ch.create_table();
    let closed = free_port();
    let secrets = [
        "Wr0ngPassw0rdXyz",
        "S3cretClosedQq",
        "BearerTok3nZz",
        "QueryPassQ7",
    ];
    let good_sinks = [
        clickhouse_sink(
            "wrongpw",
            &format!("http://rtcprobe:Wr0ngPassw0rdXyz@127.0.0.1:{}", ch.http),
            "rtcprobe_records",
        ),
        clickhouse_sink(
            "closed",
            &format!("http://rtcprobe:S3cretClosedQq@127.0.0.1:{closed}"),
            "rtcprobe_records",
        ),
        format!(
            "[[sinks]]\ntype = \"prometheus_remote_write\"\nname = \"rw\"\n\
             url = \"http://127.0.0.1:{closed}/api/v1/write?password=QueryPassQ7\"\n\
             [sinks.http]\nbearer_token = \"BearerTok3nZz\"\n\
             [sinks.delivery]\nretry_initial_ms = 100\nretry_max_ms = 400\n"
        ),
    ]
    .concat();
    // An invalid URL: validate quotes it.
    let sinks = good_sinks.clone()
        + "[[sinks]]\ntype = \"clickhouse\"\nname = \"bad\"\nurl = \"ftp://u:S3cretClosedQq@h\"\n";
    let bad = config(dir, "bad.toml", &sinks);
    let out = bin()
        .args(["validate", "--config"])
        .arg(&bad)
        .output()
        .expect("validate");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success() && text.contains("sinks[3].url = \"ftp://u:***@h\""),
        "{text}"
    );
    for s in secrets {
        assert!(!text.contains(s), "validate printed {s}: {text}");
    }
    // Without the invalid sink: a replay whose sinks fail, every log level on.
    let cfg = config(dir, "rtcprobe.toml", &good_sinks);
    let out = bin()
        .args(["validate", "--connect", "--config"])
        .arg(&cfg)
        .output()
        .expect("validate --connect");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("sink wrongpw (clickhouse): FAILED: authentication failed"),
        "{text}"
    );
    assert!(
        text.contains("sink closed (clickhouse): FAILED: port closed"),
        "{text}"
    );
    assert!(
        text.contains("sink rw (prometheus_remote_write): FAILED: port closed"),
        "{text}"
    );
    assert!(text.contains("rtcprobe:***@127.0.0.1"), "{text}");
    for s in secrets {
        assert!(!text.contains(s), "validate --connect printed {s}: {text}");
    }

    let log = dir.join("replay.log");
    let mut child = bin()
        .args(["replay", "--format", "json", "--config"])
        .arg(&cfg)
        .arg(FIXTURE)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("replay");
    // Retries of the closed sinks and the rejection by ClickHouse are logged, then stop.
    let t0 = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let done = text.contains("send failed") && text.contains("rejected a batch");
        if done
            || t0.elapsed() > Duration::from_secs(20)
            || child.try_wait().ok().flatten().is_some()
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    let text = text + &std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains("send failed"), "no retry logged: {text}");
    assert!(
        text.contains("rejected a batch"),
        "no rejection logged: {text}"
    );
    for s in secrets {
        let at = text
            .find(s)
            .map(|i| &text[i.saturating_sub(300)..(i + 100).min(text.len())]);
        assert!(at.is_none(), "the log holds {s}: {at:?}");
    }
    eprintln!(
        "replay log: {} lines, {} bytes, no secret in it",
        text.lines().count(),
        text.len()
    );
}

#[test]
fn a_404_loses_nothing_dead_letter_then_resend() {
    if !have(CLICKHOUSE, "clickhouse-server") {
        return;
    }
    let tmp = TempDir::new("sinks-dead-letter");
    let dir = &tmp.0;
    let ch = ClickHouse::start(dir);
    ch.create_table();
    let url = format!("http://127.0.0.1:{}", ch.http);
    let file = dir.join("records.ndjson");
    let file_sink = format!(
        "[[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
        file.display()
    );
    let wrong = config(
        dir,
        "wrong.toml",
        &(clickhouse_sink("ch", &url, "no_such_table") + &file_sink),
    );
    let port = free_port();
    let mut child = bin()
        .args([
            "replay",
            "--format",
            "json",
            "--workers",
            "1",
            "--linger",
            "6",
        ])
        .args(["--listen", &format!("127.0.0.1:{port}"), "--config"])
        .arg(&wrong)
        .arg(FIXTURE)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("replay");
    let dead = dir.join("state/ch.dead-letter");
    // While the endpoint lingers, the counter equals the records in the dead-letter directory.
    let series = "rtcprobe_forward_records_dead_lettered_total{sink=\"ch\",type=\"clickhouse\"}";
    let counted = wait_for(
        "dead-lettered records counted",
        Duration::from_secs(30),
        || {
            let scrape = http_get(&format!("http://127.0.0.1:{port}/metrics")).ok()?;
            let n = sample(&scrape, series)?;
            let bytes = sample(
                &scrape,
                "rtcprobe_forward_dead_letter_bytes{sink=\"ch\",type=\"clickhouse\"}",
            )?;
            (n > 0.0 && bytes > 0.0 && n as usize == dead_letter_lines(&dead)).then_some(n)
        },
    );
    let status = child.wait().expect("replay ends");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("HTTP 404"),
        "the rejection names the status: {stderr}"
    );
    let records = std::fs::read_to_string(&file)
        .expect("file sink")
        .lines()
        .count();
    assert!(records > 20, "{records} records");
    assert_eq!(
        dead_letter_lines(&dead),
        records,
        "every record is in the dead letters"
    );
    assert!(
        stderr.contains(&format!("{records} dead-lettered")),
        "the summary counts them: {stderr}"
    );
    // Resending with the table still wrong fails and keeps every file.
    let out = bin()
        .args(["resend", "--sink", "ch", "--config"])
        .arg(&wrong)
        .output()
        .expect("resend");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 404"));
    assert_eq!(dead_letter_lines(&dead), records);
    // Fixed: every record arrives, the directory is empty.
    let fixed = config(
        dir,
        "fixed.toml",
        &(clickhouse_sink("ch", &url, "rtcprobe_records") + &file_sink),
    );
    let out = bin()
        .args(["resend", "--sink", "ch", "--config"])
        .arg(&fixed)
        .output()
        .expect("resend");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("resent {records} records")),
        "{said}"
    );
    assert_eq!(dead_letter_lines(&dead), 0);
    // Stream records in their table, hop records (schema v2) in the hop table.
    let rows = ch
        .query(
            "SELECT (SELECT uniqExact(record_id) FROM rtcprobe_records) \
             + (SELECT uniqExact(record_id) FROM rtcprobe_hops)",
        )
        .expect("count");
    assert_eq!(rows.trim().parse::<usize>().ok(), Some(records));
    eprintln!("{counted} records counted while lingering, {records} resent and stored");
}

#[test]
fn validate_connect_names_each_failing_sink_and_why() {
    if !have(CLICKHOUSE, "clickhouse-server") {
        return;
    }
    let tmp = TempDir::new("sinks-connect");
    let dir = &tmp.0;
    let ch = ClickHouse::start(dir);
    ch.create_table();
    let (user, password) = common::CLICKHOUSE_USER;
    let http = ch.http;
    let sinks = [
        clickhouse_sink(
            "good",
            &format!("http://{user}:{password}@127.0.0.1:{http}"),
            "rtcprobe_records",
        ),
        clickhouse_sink(
            "closed",
            &format!("http://127.0.0.1:{}", free_port()),
            "rtcprobe_records",
        ),
        clickhouse_sink(
            "table",
            &format!("http://127.0.0.1:{http}"),
            "no_such_table",
        ),
        clickhouse_sink(
            "password",
            &format!("http://{user}:Not{password}@127.0.0.1:{http}"),
            "rtcprobe_records",
        ),
        clickhouse_sink(
            "tls",
            &format!("https://127.0.0.1:{http}"),
            "rtcprobe_records",
        ),
        format!(
            "[[sinks]]\ntype = \"file\"\nname = \"file\"\npath = \"{}/out.ndjson\"\n",
            dir.display()
        ),
    ]
    .concat();
    let cfg = config(dir, "rtcprobe.toml", &sinks);
    // Offline validate passes: the configuration itself is valid.
    let out = bin()
        .args(["validate", "--config"])
        .arg(&cfg)
        .output()
        .expect("validate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args(["validate", "--connect", "--config"])
        .arg(&cfg)
        .output()
        .expect("validate --connect");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "bounded: {:?}",
        t0.elapsed()
    );
    for (line, out) in [
        ("sink good (clickhouse): ok: ", &stdout),
        ("sink file (file): ok: ", &stdout),
        ("sink closed (clickhouse): FAILED: port closed", &stderr),
        (
            "sink table (clickhouse): FAILED: table no_such_table does not exist",
            &stderr,
        ),
        (
            "sink password (clickhouse): FAILED: authentication failed",
            &stderr,
        ),
        ("sink tls (clickhouse): FAILED: TLS handshake", &stderr),
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{stdout}{stderr}");
    }
    assert!(!format!("{stdout}{stderr}").contains(password));
    eprintln!("{stdout}{stderr}");
}

#[test]
fn validate_connect_names_a_wrong_remote_write_path() {
    const VM: &str = "/usr/bin/victoria-metrics";
    if !have(VM, "victoria-metrics") {
        return;
    }
    let tmp = TempDir::new("sinks-connect-rw");
    let dir = &tmp.0;
    let port = free_port();
    let _vm = Proc::spawn(Command::new(VM).args([
        &format!("-storageDataPath={}/vm", dir.display()),
        &format!("-httpListenAddr=127.0.0.1:{port}"),
    ]));
    wait_for("victoria-metrics ready", Duration::from_secs(60), || {
        http_get(&format!("http://127.0.0.1:{port}/health")).ok()
    });
    let sink = |name: &str, url: &str| {
        format!(
            "[[sinks]]\ntype = \"prometheus_remote_write\"\nname = \"{name}\"\nurl = \"{url}\"\n"
        )
    };
    let cfg = config(
        dir,
        "rtcprobe.toml",
        &[
            sink("good", &format!("http://127.0.0.1:{port}/api/v1/write")),
            sink("path", &format!("http://127.0.0.1:{port}/api/v1/wrte")),
            sink("tls", &format!("https://127.0.0.1:{port}/api/v1/write")),
        ]
        .concat(),
    );
    let out = bin()
        .args(["validate", "--connect", "--config"])
        .arg(&cfg)
        .output()
        .expect("validate --connect");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("sink good (prometheus_remote_write): ok: "),
        "{stdout}"
    );
    assert!(
        stderr.contains("sink path (prometheus_remote_write): FAILED: the path of"),
        "{stderr}"
    );
    assert!(
        stderr.contains("sink tls (prometheus_remote_write): FAILED: TLS handshake"),
        "{stderr}"
    );
}
