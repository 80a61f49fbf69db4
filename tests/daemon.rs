//! The daemon's command line: `validate`, SIGTERM draining (of `replay --realtime` and of
//! `rtcprobe run` on loopback), SIGHUP reload, readiness over sd_notify, and `run` with
//! sinks (`daemon/sinks.rs`).
//!
//! The `run` tests capture live, which needs root (CAP_NET_RAW): elsewhere they print why they
//! skip, except under `CI=true`, where they must run. Traffic goes to 127.0.0.1 only, on ports
//! chosen by the test, with a filter on those ports.

use rtcprobe::synth::frame::Encap;
use rtcprobe::synth::pcap::TsResolution;
use rtcprobe::synth::scenarios::impaired_mix_on;
use std::io::Read;
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{bin, read_records, Scratch};

#[path = "daemon/sinks.rs"]
mod sinks;

/// Kills the child if the test fails before it exits.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: i32) {
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// Wait for exit with a deadline; returns the status and how long it took.
fn wait_exit(g: &mut Guard, limit: Duration) -> (std::process::ExitStatus, Duration) {
    let t0 = Instant::now();
    loop {
        if let Some(st) = g.0.try_wait().expect("wait") {
            return (st, t0.elapsed());
        }
        assert!(t0.elapsed() < limit, "no exit within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr_of(g: &mut Guard) -> String {
    let mut s = String::new();
    if let Some(e) = g.0.stderr.as_mut() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

#[test]
fn validate_accepts_the_example_and_names_every_bad_key() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let out = bin()
        .args(["validate", "--config"])
        .arg(&example)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = Scratch::new("validate");
    let bad = dir.path("bad.toml");
    std::fs::write(
        &bad,
        "[capture]\ninterfaces = [\"this-name-is-far-too-long\"]\nfilter = \"udp port\"\n\
         buffer_size_mib = 0\n[pipeline]\nworkers = 100\n[log]\nlevel = \"chatty!\"\n\
         [engine]\nidle_timeout_secs = 0\n",
    )
    .expect("write");
    let out = bin()
        .args(["validate", "--config"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "capture.interfaces[0] = \"this-name-is-far-too-long\"",
        "capture.filter = \"udp port\"",
        "capture.buffer_size_mib = 0",
        "pipeline.workers = 100",
        "log.level = \"chatty!\"",
        "engine.idle_timeout_secs = 0",
    ] {
        assert!(err.contains(key), "missing {key:?} in:\n{err}");
    }
    assert!(err.contains("6 problems:"), "{err}");
    assert!(
        !err.contains("warning"),
        "an invalid name is an error, not also a warning: {err}"
    );

    std::fs::write(&bad, "[capture]\ninterface = [\"eth0\"]\n").expect("write");
    let out = bin()
        .args(["validate", "--config"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `interface`"), "{err}");
}

#[test]
fn sigterm_stops_a_realtime_replay_and_reports_what_was_read() {
    let dir = Scratch::new("realtime");
    let pcap = dir.path("mix.pcap");
    // About 40 s of capture time: SIGTERM comes long before the end.
    let cap = impaired_mix_on(5, Some(Encap::Ethernet)).build();
    cap.write_pcap(
        std::fs::File::create(&pcap).expect("create"),
        TsResolution::Nano,
        65_535,
    )
    .expect("write");
    let child = bin()
        .args(["replay", "--realtime", "--workers", "2", "--format", "json"])
        .arg(&pcap)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut g = Guard(child);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&g.0, libc::SIGTERM);
    let (st, took) = wait_exit(&mut g, Duration::from_secs(10));
    assert!(st.success(), "{st:?}: {}", stderr_of(&mut g));
    assert!(took < Duration::from_secs(2), "drain took {took:?}");
    let mut out = String::new();
    g.0.stdout
        .as_mut()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json report");
    let frames = report["summary"]["frames"].as_u64().expect("frames");
    // Paced: about 1.5 s worth of a 40 s capture was read, not all of it.
    assert!(
        frames > 0 && frames < cap.frames.len() as u64 / 4,
        "{frames}"
    );
    let streams = report["streams"].as_array().expect("streams");
    assert!(!streams.is_empty());
    assert!(streams.iter().all(|s| s["packets"].as_u64() > Some(0)));
}

/// Root (CAP_NET_RAW) or skip, except under CI.
fn can_capture() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "live capture tests must run under CI: run them as root"
        );
        eprintln!("skipped: live capture needs root (CAP_NET_RAW)");
    }
    root
}

/// One RTP packet: PCMU, given sequence number and timestamp.
fn rtp(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xff; 160]);
    p
}

fn wait_ready(sock: &UnixDatagram, g: &mut Guard) {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let t0 = Instant::now();
    let mut buf = [0u8; 512];
    loop {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if msg.contains("READY=1") {
                return;
            }
        }
        if let Some(st) = g.0.try_wait().expect("wait") {
            panic!("exited before READY: {st:?}\n{}", stderr_of(g));
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no READY=1 within 10 s"
        );
    }
}

#[test]
fn run_captures_on_loopback_reloads_on_sighup_and_drains_on_sigterm() {
    if !can_capture() {
        return;
    }
    let dir = Scratch::new("run");
    let port = 40_000 + (std::process::id() % 10_000) as u16 * 2;
    let config = dir.path("rtcprobe.toml");
    let write_config = |filter: &str, buffer: u32| {
        std::fs::write(
            &config,
            format!(
                "[capture]\ninterfaces = [\"lo\"]\nfilter = \"{filter}\"\nbuffer_size_mib = {buffer}\n\
                 [pipeline]\nworkers = 2\n[log]\nlevel = \"info\"\nhealth_interval_secs = 1\n\
                 [exporter]\nlisten = \"127.0.0.1:0\"\n"
            ),
        )
        .expect("config");
    };
    write_config(&format!("udp port {port}"), 8);
    let notify_path = dir.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("bind notify");
    let (records, summary) = (dir.path("records.ndjson"), dir.path("summary.json"));
    let child = bin()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--records")
        .arg(&records)
        .arg("--summary")
        .arg(&summary)
        .env("NOTIFY_SOCKET", &notify_path)
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut g = Guard(child);
    wait_ready(&notify, &mut g);

    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let ssrc = 0x5EED_0001;
    for i in 0..300u16 {
        tx.send_to(
            &rtp(1000 + i, 160 * u32::from(i), ssrc),
            ("127.0.0.1", port),
        )
        .expect("send");
        std::thread::sleep(Duration::from_micros(500));
    }
    // Reload: a reloadable key and one that needs a restart.
    write_config(&format!("udp port {port} or udp port {}", port + 1), 16);
    signal(&g.0, libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(1500));
    // Traffic on the port the new filter added is now captured: a second stream.
    for i in 0..100u16 {
        tx.send_to(
            &rtp(i, 160 * u32::from(i), ssrc + 1),
            ("127.0.0.1", port + 1),
        )
        .expect("send");
        std::thread::sleep(Duration::from_micros(500));
    }
    std::thread::sleep(Duration::from_millis(500));
    signal(&g.0, libc::SIGTERM);
    let (st, took) = wait_exit(&mut g, Duration::from_secs(10));
    let log = stderr_of(&mut g);
    assert!(st.success(), "{st:?}\n{log}");
    assert!(took < Duration::from_secs(3), "drain took {took:?}");
    assert!(
        !log.contains('\x1b'),
        "no ANSI colours when stderr is not a terminal"
    );
    assert!(
        log.contains("health"),
        "a health line at info level:\n{log}"
    );
    // The first health line: a real rate (measured from the start) and consistent counters.
    let first_health = log
        .lines()
        .find(|l| l.contains("health") && l.contains("frames="))
        .unwrap_or_else(|| panic!("no health line with counters:\n{log}"));
    let field = |name: &str| -> u64 {
        first_health
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {first_health}"))
    };
    let (frames, rate, rtp) = (
        field("frames"),
        field("packets_per_sec"),
        field("rtp_packets"),
    );
    // Only RTP passes the filter: both counts come from one capture snapshot.
    assert_eq!(frames, rtp, "{first_health}");
    // (A rate below 0.5/s rounds to 0: only a handful of frames a second after start.)
    assert!(frames < 3 || rate > 0, "{first_health}");
    assert!(
        log.contains("capture.filter") && log.contains("reload: applied"),
        "{log}"
    );
    assert!(
        log.contains("capture.buffer_size_mib") && log.contains("needs a restart"),
        "{log}"
    );
    assert!(
        log.contains("stopped: 400 frames, 2 streams, 0 dropped by the probe"),
        "a summary at info level at exit:\n{log}"
    );

    // `--records`: the forwarded records (schema v1, docs/records.md), final ones at SIGTERM.
    let recs = read_records(&records);
    let find = |ssrc: u32| {
        recs.iter()
            .find(|r| r["ssrc"] == ssrc && r["kind"] == "final")
            .unwrap_or_else(|| panic!("no final record for {ssrc:#x} in {recs:#?}"))
    };
    assert!(recs.iter().all(|r| r["schema_version"] == 3), "{recs:#?}");
    let first = find(ssrc);
    assert_eq!(first["packets"], 300);
    assert_eq!(first["lost"], 0);
    assert_eq!(first["ended_by"], "shutdown");
    assert_eq!(first["dst_ip"], "127.0.0.1");
    assert_eq!(first["dst_port"], port);
    assert_eq!(first["probe_drop"], false);
    assert_eq!(find(ssrc + 1)["packets"], 100);

    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    assert_eq!(s["frames"], 400);
    assert_eq!(s["kernel_dropped"], 0);
    assert_eq!(s["pipeline_dropped"], 0);
    assert_eq!(s["counters"]["rtp_packets"], 400);
}

/// Packets sent just before SIGTERM are counted: with a 1 s block timeout the kernel still holds
/// them in a block it has not handed over when the signal comes, and the capture thread's final
/// drain reads them (without it, all 40 were lost).
#[test]
fn sigterm_right_after_traffic_still_counts_every_captured_packet() {
    if !can_capture() {
        return;
    }
    let dir = Scratch::new("run-drain");
    let port = 44_000 + (std::process::id() % 10_000) as u16 * 2;
    let config = dir.path("rtcprobe.toml");
    std::fs::write(
        &config,
        format!(
            "[capture]\ninterfaces = [\"lo\"]\nfilter = \"udp port {port}\"\ntimeout_ms = 1000\n\
             [log]\nlevel = \"warn\"\n[exporter]\nlisten = \"127.0.0.1:0\"\n"
        ),
    )
    .expect("config");
    let notify_path = dir.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("bind notify");
    let summary = dir.path("summary.json");
    let child = bin()
        .args(["run", "--config"])
        .arg(&config)
        .arg("--summary")
        .arg(&summary)
        .env("NOTIFY_SOCKET", &notify_path)
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut g = Guard(child);
    wait_ready(&notify, &mut g);
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for i in 0..40u16 {
        tx.send_to(
            &rtp(i, 160 * u32::from(i), 0xD4A1_0001),
            ("127.0.0.1", port),
        )
        .expect("send");
    }
    signal(&g.0, libc::SIGTERM);
    let (st, took) = wait_exit(&mut g, Duration::from_secs(10));
    let log = stderr_of(&mut g);
    assert!(st.success(), "{st:?}\n{log}");
    assert!(took < Duration::from_secs(4), "drain took {took:?}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    assert_eq!(s["frames"], 40, "{s}\n{log}");
    assert_eq!(s["counters"]["rtp_packets"], 40, "{s}");
}
