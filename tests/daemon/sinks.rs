//! `rtcprobe run` with `[[sinks]]`: a file sink and a ClickHouse sink whose store is down (a
//! closed loopback port). While it runs, `/metrics` must show each sink's counters: the file
//! sink's sent records are the lines of its file, the dead sink retries, buffers and has never
//! succeeded. After SIGTERM the dead sink's records are all in its disk buffer, and capture
//! counted every packet: a store that is down does not slow capture or the other sink. And a
//! SIGHUP that changes `[[sinks]]` keeps the unchanged sink running and swaps the others.

use super::common::{bin, free_port, read_records, wait_for, Scratch};
use super::{can_capture, rtp, signal, wait_exit, wait_ready, Guard};
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

/// The value of `name{sink="<sink>",…}` in a Prometheus text scrape.
fn sample(body: &str, name: &str, sink: &str) -> Option<f64> {
    let prefix = format!("{name}{{sink=\"{sink}\",");
    body.lines()
        .find(|l| l.starts_with(&prefix))?
        .rsplit_once(' ')?
        .1
        .parse()
        .ok()
}

/// The `record_id`s of every record in a sink's disk buffer (its segment files), sorted.
fn buffered_ids(dir: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(dir).expect("buffer dir") {
        let p = e.expect("entry").path();
        if p.extension().and_then(|x| x.to_str()) == Some("ndjson") {
            ids.extend(
                read_records(&p)
                    .iter()
                    .map(|r| r["record_id"].as_str().expect("record_id").to_string()),
            );
        }
    }
    ids.sort();
    ids
}

/// `rtcprobe run` on `config` (written to `<dir>/rtcprobe.toml`), with `--summary
/// <dir>/summary.json` and its stderr in `<dir>/stderr`, once it has said READY=1.
fn start_run(dir: &Scratch, config: String) -> Guard {
    let path = dir.path("rtcprobe.toml");
    std::fs::write(&path, config).expect("config");
    let notify_path = dir.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("bind notify");
    let child = bin()
        .args(["run", "--config"])
        .arg(&path)
        .arg("--summary")
        .arg(dir.path("summary.json"))
        .env("NOTIFY_SOCKET", &notify_path)
        .env_remove("RUST_LOG")
        .stderr(std::fs::File::create(dir.path("stderr")).expect("stderr file"))
        .spawn()
        .expect("spawn");
    let mut g = Guard(child);
    wait_ready(&notify, &mut g);
    g
}

#[test]
fn run_exports_sink_counters_and_a_dead_store_neither_loses_records_nor_slows_capture() {
    if !can_capture() {
        return;
    }
    let dir = Scratch::new("run-sinks");
    let port = 41_000 + (std::process::id() % 10_000) as u16 * 2;
    let (metrics, dead) = (free_port(), free_port());
    let (local, state) = (dir.path("local.ndjson"), dir.path("state"));
    let mut g = start_run(
        &dir,
        format!(
            "[capture]\ninterfaces = [\"lo\"]\nfilter = \"udp port {port}\"\n\
             [pipeline]\nworkers = 2\n[log]\nlevel = \"error\"\n\
             [exporter]\nlisten = \"127.0.0.1:{metrics}\"\n\
             [records]\ninterval_secs = 1\nhost = \"sinks-test\"\nstate_dir = \"{}\"\n\
             [[sinks]]\ntype = \"file\"\nname = \"local\"\npath = \"{}\"\n\
             [[sinks]]\ntype = \"clickhouse\"\nname = \"dead\"\nurl = \"http://127.0.0.1:{dead}\"\n\
             [sinks.delivery]\nbatch_timeout_ms = 200\nretry_initial_ms = 100\nretry_max_ms = 400\n",
            state.display(),
            local.display()
        ),
    );
    let summary = dir.path("summary.json");

    // Two streams, 150 packets each every 20 ms: 3 s of capture time, so interval records
    // (every second) reach the sinks while the daemon runs.
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let ssrcs = [0x51CC_0001u32, 0x51CC_0002];
    for i in 0..150u16 {
        for ssrc in ssrcs {
            tx.send_to(&rtp(i, 160 * u32::from(i), ssrc), ("127.0.0.1", port))
                .expect("send");
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let url = format!("http://127.0.0.1:{metrics}/metrics");
    let body = wait_for("sink counters in /metrics", Duration::from_secs(15), || {
        let body = super::common::http_get(&url).ok()?;
        let lines = std::fs::read_to_string(&local).ok()?.lines().count() as f64;
        let sent = sample(&body, "rtcprobe_forward_records_sent_total", "local")?;
        let retried = sample(&body, "rtcprobe_forward_records_retried_total", "dead")?;
        let buffered = sample(&body, "rtcprobe_forward_buffered_bytes", "dead")?;
        (lines >= 2.0 && sent == lines && retried > 0.0 && buffered > 0.0).then_some(body)
    });
    let v = |name: &str, sink: &str| {
        sample(&body, name, sink).unwrap_or_else(|| panic!("no {name} of {sink}:\n{body}"))
    };
    eprintln!(
        "during the run: local sent {}, dead retried {} and buffered {} bytes",
        v("rtcprobe_forward_records_sent_total", "local"),
        v("rtcprobe_forward_records_retried_total", "dead"),
        v("rtcprobe_forward_buffered_bytes", "dead")
    );
    assert!(
        body.contains("rtcprobe_forward_records_sent_total{sink=\"dead\",type=\"clickhouse\"} 0")
    );
    assert!(body.contains("rtcprobe_forward_records_sent_total{sink=\"local\",type=\"file\"} "));
    assert_eq!(
        v("rtcprobe_forward_last_success_timestamp_seconds", "dead"),
        0.0
    );
    assert!(v("rtcprobe_forward_last_success_timestamp_seconds", "local") > 1.7e9);
    for sink in ["local", "dead"] {
        assert_eq!(
            v("rtcprobe_forward_records_dropped_total", sink),
            0.0,
            "{sink}"
        );
        assert_eq!(
            v("rtcprobe_forward_records_failed_total", sink),
            0.0,
            "{sink}"
        );
    }
    assert_eq!(v("rtcprobe_forward_buffered_bytes", "local"), 0.0);
    assert_eq!(v("rtcprobe_forward_records_retried_total", "local"), 0.0);

    signal(&g.0, libc::SIGTERM);
    // The dead sink keeps retrying for the stop grace (10 s) before it leaves its records.
    let (st, took) = wait_exit(&mut g, Duration::from_secs(25));
    let log = std::fs::read_to_string(dir.path("stderr")).unwrap_or_default();
    assert!(st.success(), "{st:?}\n{log}");
    assert!(took < Duration::from_secs(15), "stop took {took:?}");

    let written = read_records(&local);
    for ssrc in ssrcs {
        let fin = written
            .iter()
            .find(|r| r["ssrc"] == ssrc && r["kind"] == "final")
            .unwrap_or_else(|| panic!("no final record of {ssrc:#x}"));
        assert_eq!(fin["packets"], 150, "{fin}");
        assert_eq!(fin["ended_by"], "shutdown");
        assert_eq!(fin["probe_drop"], false);
    }
    let intervals = written.iter().filter(|r| r["kind"] == "interval").count();
    assert!(intervals >= 2 * ssrcs.len(), "{intervals} interval records");
    // Every record the file got waits in the dead sink's buffer for the next start.
    let mut ids: Vec<String> = written
        .iter()
        .map(|r| r["record_id"].as_str().expect("record_id").to_string())
        .collect();
    ids.sort();
    assert_eq!(buffered_ids(&state.join("dead")), ids);
    eprintln!(
        "after SIGTERM ({took:?}): {} records ({intervals} interval) in the file and the buffer",
        ids.len()
    );

    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    assert_eq!(s["frames"], 300, "{s}");
    assert_eq!(s["counters"]["rtp_packets"], 300, "{s}");
    assert_eq!(s["kernel_dropped"], 0);
    assert_eq!(s["pipeline_dropped"], 0);
}

/// The `[[sinks]]` tables of the reload test: file sinks by name, and a ClickHouse sink named
/// `dead` whose store is a closed port.
fn sink_tables(dir: &Scratch, files: &[&str], dead: Option<u16>) -> String {
    let mut t = String::new();
    for f in files {
        let path = dir.path(&format!("{f}.ndjson"));
        t.push_str(&format!(
            "[[sinks]]\ntype = \"file\"\nname = \"{f}\"\npath = \"{}\"\n",
            path.display()
        ));
    }
    if let Some(port) = dead {
        t.push_str(&format!(
            "[[sinks]]\ntype = \"clickhouse\"\nname = \"dead\"\nurl = \"http://127.0.0.1:{port}\"\n\
             [sinks.delivery]\nbatch_timeout_ms = 200\nretry_initial_ms = 100\nretry_max_ms = 400\n"
        ));
    }
    t
}

fn ids(records: &[serde_json::Value]) -> std::collections::BTreeSet<String> {
    records
        .iter()
        .map(|r| r["record_id"].as_str().expect("record_id").to_string())
        .collect()
}

#[test]
fn sighup_changes_the_sinks_and_keeps_the_unchanged_one_running() {
    if !can_capture() {
        return;
    }
    let dir = Scratch::new("run-sink-reload");
    let port = 42_000 + (std::process::id() % 10_000) as u16 * 2;
    let (metrics, dead) = (free_port(), free_port());
    let state = dir.path("state");
    let config = dir.path("rtcprobe.toml");
    let head = format!(
        "[capture]\ninterfaces = [\"lo\"]\nfilter = \"udp port {port}\"\n\
         [pipeline]\nworkers = 2\n[log]\nlevel = \"info\"\n\
         [exporter]\nlisten = \"127.0.0.1:{metrics}\"\n\
         [records]\ninterval_secs = 1\nhost = \"reload-test\"\nstate_dir = \"{}\"\n",
        state.display()
    );
    let before = format!("{head}{}", sink_tables(&dir, &["keep", "gone"], Some(dead)));
    let mut g = start_run(&dir, before);
    let summary = dir.path("summary.json");
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let ssrc = 0x5E10_AD01u32;
    let send = |from: u16, n: u16| {
        for i in from..from + n {
            tx.send_to(&rtp(i, 160 * u32::from(i), ssrc), ("127.0.0.1", port))
                .expect("send");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let url = format!("http://127.0.0.1:{metrics}/metrics");
    let scrape = || super::common::http_get(&url).unwrap_or_default();

    send(0, 125);
    let body = wait_for("records before the reload", Duration::from_secs(10), || {
        let b = scrape();
        let sent = sample(&b, "rtcprobe_forward_records_sent_total", "keep")?;
        let retried = sample(&b, "rtcprobe_forward_records_retried_total", "dead")?;
        (sent >= 2.0 && retried > 0.0).then_some(b)
    });
    let sent_before = sample(&body, "rtcprobe_forward_records_sent_total", "keep").unwrap_or(0.0);

    // Reload: `keep` unchanged, `gone` and `dead` removed, `new` added.
    let after = format!("{head}{}", sink_tables(&dir, &["keep", "new"], None));
    std::fs::write(&config, after).expect("config");
    signal(&g.0, libc::SIGHUP);
    let body = wait_for("the new sinks in /metrics", Duration::from_secs(10), || {
        let b = scrape();
        (b.contains("sink=\"new\"") && !b.contains("sink=\"gone\"")).then_some(b)
    });
    assert!(!body.contains("sink=\"dead\""), "{body}");
    // The same `keep` sink: its counter went on, it was not restarted from 0.
    let sent_reload = sample(&body, "rtcprobe_forward_records_sent_total", "keep").expect("keep");
    assert!(sent_reload >= sent_before, "{sent_reload} < {sent_before}");
    // The removed network sink left what it held in its disk buffer.
    let dead_ids = buffered_ids(&state.join("dead"));
    assert!(
        !dead_ids.is_empty(),
        "nothing left in the dead sink's buffer"
    );

    send(125, 125);
    std::thread::sleep(Duration::from_millis(300));
    signal(&g.0, libc::SIGTERM);
    let (st, _) = wait_exit(&mut g, Duration::from_secs(15));
    let log = std::fs::read_to_string(dir.path("stderr")).unwrap_or_default();
    assert!(st.success(), "{st:?}\n{log}");
    assert!(
        log.contains("reload: sinks applied") && !log.contains("sink not started"),
        "{log}"
    );

    let (keep, gone, new) = (
        read_records(&dir.path("keep.ndjson")),
        read_records(&dir.path("gone.ndjson")),
        read_records(&dir.path("new.ndjson")),
    );
    let fin = |v: &[serde_json::Value]| {
        v.iter()
            .find(|r| r["kind"] == "final")
            .map(|r| r["packets"].clone())
    };
    // `keep` ran throughout: every record, the final one with all 250 packets.
    assert_eq!(fin(&keep), Some(250.into()), "keep");
    assert_eq!(fin(&new), Some(250.into()), "new");
    assert_eq!(fin(&gone), None, "gone stopped before the stream ended");
    let all = ids(&keep);
    for (name, v) in [("gone", ids(&gone)), ("new", ids(&new))] {
        assert!(!v.is_empty() && v.is_subset(&all), "{name}");
    }
    assert!(ids(&gone).is_disjoint(&ids(&new)));
    assert!(dead_ids.iter().all(|i| all.contains(i)));
    eprintln!(
        "keep {} records, gone {}, new {}, dead buffered {}; keep sent {sent_before} before \
         the reload, {sent_reload} after",
        keep.len(),
        gone.len(),
        new.len(),
        dead_ids.len()
    );

    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    assert_eq!(s["frames"], 250, "{s}");
    assert_eq!(s["pipeline_dropped"], 0);
}

/// A daemon configured without any sink writes its records to `<state_dir>/records.ndjson`
/// (the `file` sink is the default when nothing else is configured); `sinks = []` writes none;
/// a default file that cannot be written is a warning, not a daemon that does not start.
#[test]
fn without_sinks_the_daemon_writes_records_to_its_state_directory_unless_told_not_to() {
    if !can_capture() {
        return;
    }
    for (i, case) in ["default", "off", "unwritable"].into_iter().enumerate() {
        let dir = Scratch::new(&format!("run-records-{case}"));
        let port = 43_000 + (std::process::id() % 3_000) as u16 * 2 + i as u16 * 6_000;
        let state = match case {
            "unwritable" => std::path::PathBuf::from("/proc/rtcprobe-no-such-dir"),
            _ => dir.path("state"),
        };
        let mut g = start_run(
            &dir,
            format!(
                "{}[capture]\ninterfaces = [\"lo\"]\nfilter = \"udp port {port}\"\n\
                 [log]\nlevel = \"info\"\n[exporter]\nlisten = \"\"\n\
                 [records]\nhost = \"default-test\"\nstate_dir = \"{}\"\n",
                if case == "off" { "sinks = []\n" } else { "" },
                state.display()
            ),
        );
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        for n in 0..50u16 {
            tx.send_to(
                &rtp(n, 160 * u32::from(n), 0xDEF0_0001),
                ("127.0.0.1", port),
            )
            .expect("send");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(300));
        signal(&g.0, libc::SIGTERM);
        let (st, _) = wait_exit(&mut g, Duration::from_secs(25));
        let log = std::fs::read_to_string(dir.path("stderr")).unwrap_or_default();
        assert!(st.success(), "{case}: {st:?}\n{log}");
        let file = state.join("records.ndjson");
        match case {
            "off" => {
                assert!(!file.exists(), "sinks = [] wrote {}", file.display());
                assert!(!log.contains("records:"), "{log}");
            }
            "unwritable" => {
                assert!(log.contains("running without records"), "{log}");
                assert!(log.contains("frames=50"), "{log}");
            }
            _ => {
                assert!(log.contains("writing them to"), "{log}");
                let written = read_records(&file);
                let fin = written
                    .iter()
                    .find(|r| r["kind"] == "final")
                    .unwrap_or_else(|| panic!("no final record in {}", file.display()));
                assert_eq!(fin["ssrc"], 0xDEF0_0001u32);
                assert_eq!(fin["packets"], 50, "{fin}");
                assert_eq!(fin["host"], "default-test");
                assert_eq!(fin["schema_version"], 3);
            }
        }
    }
}
