//! A live flood of new SSRCs, in two network namespaces joined by a veth pair
//! (`live/netns.rs`): floods cost nothing but the flood (issue 11).
//!
//! `rtcprobe run` captures on the veth end in namespace b with a bounded stream table
//! ([`MAX_STREAMS`]), a short idle timeout and the exporter on b's loopback. From namespace a:
//!
//! 1. normal traffic, [`NORMAL_STREAMS`] RTP streams at [`NORMAL_PPS`] packets/s in all, runs
//!    from start to end (`tcpreplay --pps`);
//! 2. after [`BEFORE`], a burst of [`FLOOD_SSRCS`] distinct SSRCs, two packets each (RFC 3550
//!    A.1 probation needs two in sequence, so each one becomes a stream and the table evicts
//!    its least recently active stream for every new one), sent as fast as tcpreplay can
//!    (`--topspeed --preload-pcap`; with the file read into memory first tcpreplay reaches
//!    about 700k pps on the 2-core test VM, more than a sender that makes one `sendto` per
//!    packet, see docs/benchmarks.md "Live flood");
//! 3. normal traffic again, for [`SETTLE`] then a [`WINDOW`] in which no drop counter may move;
//! 4. a second burst, and SIGTERM once the probe has read [`TERM_AFTER_FRAMES`] of it (ring
//!    and queue full when the sender outruns the probe): the daemon drains and exits with
//!    status 0 within [`MAX_DRAIN`].
//!
//! Asserted from `/metrics` (the probe's own capture drop counters by reason, active streams,
//! evictions) and `/proc/<pid>/status`: no drop before the burst; none in the window that starts
//! [`SETTLE`] after the burst ends; at most [`MAX_STREAMS`] streams live at any scrape and,
//! once the flood's streams idled out, exactly the normal ones; the peak RSS (`VmHWM`) under
//! [`rss_bound`]; the drain within [`MAX_DRAIN`], with what the drain could not take counted in
//! the daemon's log (the `stopped:` line's drops by reason; frames left in the kernel ring in a
//! `were not read` line). The numbers measured (burst rate, drops during and after,
//! RSS peak, drain time) are printed with `flood:` for docs/benchmarks.md.
//!
//! Needs root, iproute2, tcpreplay and curl (the scrapes run inside namespace b); without them
//! the test prints `skipped: …` and passes, except under `CI=true`, where it fails. About 40 s.

#[allow(dead_code)] // the helpers live.rs uses and this test does not
#[path = "live/netns.rs"]
mod netns;
#[path = "flood/traffic.rs"]
mod traffic;

use netns::{prerequisites, Proc, Side, VethPair, DEV_A, DEV_B};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use traffic::{write_flood, write_normal};

/// The stream table bound of the probe under test (`engine.max_streams`).
const MAX_STREAMS: u64 = 10_000;
/// Distinct SSRCs in one burst.
const FLOOD_SSRCS: u32 = 1_000_000;
/// tcpreplays sending the burst side by side, each its share of the SSRCs: one sender leaves
/// the second core to the probe.
const SENDERS: u32 = 2;
/// The normal streams, and their packets per second in all.
const NORMAL_STREAMS: u32 = 8;
const NORMAL_PPS: u32 = 400;
/// `engine.idle_timeout_secs`: the flood's streams are gone before the window ends.
const IDLE_TIMEOUT_SECS: u64 = 3;
/// `capture.buffer_size_mib` (the default).
const BUFFER_MIB: u64 = 64;
/// Normal traffic alone before the burst.
const BEFORE: Duration = Duration::from_secs(3);
/// After the burst ends, the probe may still catch up (and drop) for this long…
const SETTLE: Duration = Duration::from_secs(5);
/// …and then not drop a single packet for this long.
const WINDOW: Duration = Duration::from_secs(6);
/// SIGTERM to exit, at most (systemd's stop timeout is 30 s; the issue asks for 10).
const MAX_DRAIN: Duration = Duration::from_secs(10);
/// How far the second burst gets (frames the probe read) before SIGTERM.
const TERM_AFTER_FRAMES: u64 = 100_000;
/// Bounds for the waits.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// A burst takes about 3-4 s at the 530k-700k pps tcpreplay reaches on a quiet 2-core VM,
/// 30-45 s when six Rust builds share it.
const BURST_TIMEOUT: Duration = Duration::from_secs(90);
/// How often /metrics and /proc are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// The peak RSS allowed, from the configuration: a constant for the binary, the allocator,
/// threads, queues and the exporter (measured idle with a 1 MiB ring: 9.3 MiB; allowed 64),
/// the capture ring (`buffer_size_mib`, mapped: counted from the start), and per table slot a
/// budget of 8 KiB: the engine's state (4.3 KiB per stream at the time of writing, issue 11
/// aims at 512 B) and its copy in the published snapshots (one `StreamRecord` per live
/// stream). Measured: 5-6 KiB per slot (docs/benchmarks.md, "Live flood"). An unbounded
/// table (1M streams) would need GiBs.
fn rss_bound() -> u64 {
    const CONSTANT: u64 = 64 << 20;
    const PER_STREAM: u64 = 8 << 10;
    CONSTANT + (BUFFER_MIB << 20) + MAX_STREAMS * PER_STREAM
}

// ---------------------------------------------------------------------------------------------
// What the test reads from the probe.

/// One reading of /metrics and /proc.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    /// Since the test started.
    at: Duration,
    frames: u64,
    kernel: u64,
    interface: u64,
    pipeline: u64,
    active: u64,
    evicted: u64,
    rss: u64,
}

impl Sample {
    fn drops(&self) -> u64 {
        self.kernel + self.interface + self.pipeline
    }
}

/// Sum of every sample of `family` (labels ignored) whose labels contain `with`.
fn metric(text: &str, family: &str, with: &str) -> Option<u64> {
    let mut found = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(family) else {
            continue;
        };
        if !(rest.starts_with(' ') || rest.starts_with('{')) || !rest.contains(with) {
            continue;
        }
        let v: f64 = rest.rsplit(' ').next()?.parse().ok()?;
        *found.get_or_insert(0) += v as u64;
    }
    found
}

/// A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`).
fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

struct Probe<'a> {
    pair: &'a VethPair,
    proc: Proc,
    pid: u32,
    port: u16,
    t0: Instant,
    samples: Vec<Sample>,
}

impl Probe<'_> {
    /// Scrape /metrics (curl inside namespace b) and read the RSS; panics when the daemon is
    /// not answering.
    fn sample(&mut self) -> Sample {
        let mut cmd = self.pair.command(Side::B, "curl");
        cmd.args(["-sf", "--max-time", "5"])
            .arg(format!("http://127.0.0.1:{}/metrics", self.port));
        let out = cmd.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "scrape failed ({}); rtcprobe stderr:\n{}",
            out.status,
            self.proc.stderr()
        );
        let m = |family: &str, with: &str| {
            metric(&text, family, with).unwrap_or_else(|| panic!("{family}{{{with}}} missing"))
        };
        let s = Sample {
            at: self.t0.elapsed(),
            frames: m("rtcprobe_capture_frames_total", ""),
            kernel: m(
                "rtcprobe_capture_dropped_packets_total",
                "reason=\"kernel\"",
            ),
            interface: m(
                "rtcprobe_capture_dropped_packets_total",
                "reason=\"interface\"",
            ),
            pipeline: m(
                "rtcprobe_capture_dropped_packets_total",
                "reason=\"pipeline\"",
            ),
            active: metric(&text, "rtcprobe_streams_active", "").unwrap_or(0),
            evicted: m("rtcprobe_engine_streams_evicted_total", ""),
            rss: proc_kib(self.pid, "VmRSS:").unwrap_or(0),
        };
        assert!(
            s.active <= MAX_STREAMS,
            "{} streams live, over max_streams {MAX_STREAMS}",
            s.active
        );
        self.samples.push(s);
        s
    }

    /// Sample every [`SAMPLE_EVERY`] for `d`; the last sample.
    fn sample_for(&mut self, d: Duration) -> Sample {
        let end = Instant::now() + d;
        loop {
            let s = self.sample();
            if Instant::now() >= end {
                return s;
            }
            std::thread::sleep(SAMPLE_EVERY.min(end.saturating_duration_since(Instant::now())));
        }
    }

    /// Sample until every one of `ps` has exited (at most `limit`); each must succeed.
    fn sample_while(&mut self, ps: &mut [Proc], limit: Duration, what: &str) {
        let end = Instant::now() + limit;
        loop {
            self.sample();
            let mut running = 0;
            for p in ps.iter_mut() {
                match p.try_status() {
                    Some(st) => assert!(st.success(), "{what}: {st}\n{}", p.stderr()),
                    None => running += 1,
                }
            }
            if running == 0 {
                return;
            }
            assert!(
                Instant::now() < end,
                "{what}: still running after {limit:?}: is the machine overloaded?"
            );
            std::thread::sleep(SAMPLE_EVERY);
        }
    }
}

/// Wait for `READY=1` on the sd_notify socket, failing early when the daemon exits.
fn wait_ready(sock: &UnixDatagram, probe: &mut Proc) {
    let deadline = Instant::now() + START_TIMEOUT;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            if String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "READY=1")
            {
                return;
            }
        }
        if let Some(st) = probe.try_status() {
            panic!(
                "rtcprobe run exited ({st}) before READY=1:\n{}",
                probe.stderr()
            );
        }
    }
    panic!(
        "rtcprobe run: no READY=1 within {START_TIMEOUT:?}:\n{}",
        probe.stderr()
    );
}

/// tcpreplay's achieved rate ("Rated: … N pps") and packet count ("Actual: N packets").
fn tcpreplay_rate(out: &str) -> (f64, u64) {
    let pps = out
        .lines()
        .find(|l| l.trim_start().starts_with("Rated:"))
        .and_then(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let i = w.iter().position(|x| x.starts_with("pps"))?;
            w.get(i.checked_sub(1)?)?.parse().ok()
        })
        .unwrap_or(0.0);
    let sent = out
        .lines()
        .find(|l| l.trim_start().starts_with("Actual:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    (pps, sent)
}

/// A scratch directory under the target dir, removed on drop unless the test failed.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("flood-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // The pcaps are large: removed even when the test failed (logs are kept then).
        for i in 0..SENDERS {
            let _ = std::fs::remove_file(self.path(&format!("flood{i}.pcap")));
        }
        let _ = std::fs::remove_file(self.path("normal.pcap"));
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn flood_costs_nothing_but_the_flood() {
    let test = "flood_costs_nothing_but_the_flood";
    if !prerequisites(test, &["ip", "tcpreplay", "curl"]) {
        return;
    }
    let dir = Scratch::new("run");
    let normal = dir.path("normal.pcap");
    let floods: Vec<PathBuf> = (0..SENDERS)
        .map(|i| {
            let f = dir.path(&format!("flood{i}.pcap"));
            write_flood(&f, i);
            f
        })
        .collect();
    // Enough for the whole run at NORMAL_PPS even with the slowest bursts allowed: 150 s.
    write_normal(&normal, 150 * NORMAL_PPS / NORMAL_STREAMS);

    let pair = VethPair::new("flood").unwrap_or_else(|e| panic!("{e}"));
    let lo = std::process::Command::new("ip")
        .args(["-n", pair.name(Side::B), "link", "set", "lo", "up"])
        .status()
        .expect("ip");
    assert!(lo.success(), "ip link set lo up");
    let port = 10_533;
    let config = dir.path("probe.toml");
    std::fs::write(
        &config,
        format!(
            "sinks = []\n\n[engine]\nmax_streams = {MAX_STREAMS}\n\
             idle_timeout_secs = {IDLE_TIMEOUT_SECS}\n\n\
             [capture]\ninterfaces = [\"{DEV_B}\"]\nbuffer_size_mib = {BUFFER_MIB}\n\n\
             [exporter]\nlisten = \"127.0.0.1:{port}\"\n\n[log]\nlevel = \"info\"\n"
        ),
    )
    .expect("config");
    let sock_path = dir.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind NOTIFY_SOCKET");
    let mut cmd = pair.command(Side::B, env!("CARGO_BIN_EXE_rtcprobe"));
    cmd.arg("run")
        .arg("--config")
        .arg(&config)
        .env("NOTIFY_SOCKET", &sock_path);
    let mut proc = pair
        .spawn(cmd, &dir.path("rtcprobe"))
        .unwrap_or_else(|e| panic!("{e}"));
    wait_ready(&sock, &mut proc);
    let pid = proc_pid(&pair);
    let mut probe = Probe {
        pair: &pair,
        proc,
        pid,
        port,
        t0: Instant::now(),
        samples: Vec::new(),
    };
    let idle_rss = proc_kib(pid, "VmRSS:").unwrap_or(0);

    // 1. Normal traffic alone: nothing dropped.
    let mut normal_tx = pair
        .spawn(
            {
                let mut c = pair.command(Side::A, "tcpreplay");
                c.args(["-i", DEV_A, "-q", &format!("--pps={NORMAL_PPS}")])
                    .arg(&normal);
                c
            },
            &dir.path("normal"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let before = probe.sample_for(BEFORE);
    assert!(
        before.frames > 0,
        "no normal traffic reached the probe: {before:?}"
    );
    assert_eq!(before.drops(), 0, "drops before the burst: {before:?}");

    // 2. The burst.
    let mut burst = flood(&pair, &dir, &floods, "burst");
    let burst_start = probe.t0.elapsed();
    probe.sample_while(&mut burst, BURST_TIMEOUT, "tcpreplay (burst)");
    let burst_end = probe.t0.elapsed();
    let (mut pps, mut sent) = (0.0, 0);
    for i in 0..SENDERS {
        let log = dir.path(&format!("burst{i}.out"));
        let (p, n) = tcpreplay_rate(&std::fs::read_to_string(log).unwrap_or_default());
        pps += p;
        sent += n;
    }
    assert_eq!(sent, 2 * u64::from(FLOOD_SSRCS), "tcpreplay sent the burst");
    let wall_pps = sent as f64 / (burst_end - burst_start).as_secs_f64();

    // 3. Normal traffic again: the probe catches up within SETTLE, then drops nothing.
    let settled = probe.sample_for(SETTLE);
    let end = probe.sample_for(WINDOW);
    let during = settled.drops() - before.drops();
    let after = end.drops() - settled.drops();
    let recovered = probe
        .samples
        .windows(2)
        .filter(|w| w[1].drops() != w[0].drops())
        .map(|w| w[1].at.saturating_sub(burst_end))
        .max()
        .unwrap_or_default();
    let hwm = proc_kib(pid, "VmHWM:").unwrap_or(0);
    assert!(normal_tx.try_status().is_none(), "normal traffic ran out");

    // 4. A second burst, and SIGTERM in the middle of it.
    let mut burst2 = flood(&pair, &dir, &floods, "again");
    let base = end.frames;
    let t = Instant::now();
    while probe.sample().frames < base + TERM_AFTER_FRAMES {
        assert!(
            t.elapsed() < BURST_TIMEOUT,
            "the second burst did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let term = Instant::now();
    let status = probe.proc.stop("TERM", MAX_DRAIN + Duration::from_secs(5));
    let drain = term.elapsed();
    for p in burst2.iter_mut().chain([&mut normal_tx]) {
        p.signal("INT");
        let _ = p.wait(Duration::from_secs(5));
    }
    let stderr = probe.proc.stderr();
    let stopped = stderr
        .lines()
        .filter(|l| l.contains("stopped:") || l.contains("were not read"))
        .collect::<Vec<_>>()
        .join("\n  ");

    let peak_rss = probe
        .samples
        .iter()
        .map(|s| s.rss)
        .max()
        .unwrap_or(0)
        .max(hwm);
    eprintln!(
        "flood: burst of {FLOOD_SSRCS} SSRCs × 2 packets at {pps:.0} pps ({SENDERS} tcpreplay \
         --topspeed; {wall_pps:.0} pps over the burst's wall time), \
         {:.1} s from {:.1} s; drops during (kernel+interface+pipeline, to {} s after): {during}; \
         drops in the {} s window from {} s after: {after}; drops last moved {:.1} s after the \
         burst; {} evictions; streams live at the end {}; RSS idle {} MiB, peak {} MiB \
         (bound {} MiB); SIGTERM during a second burst: exit in {} ms\n  {stopped}",
        (burst_end - burst_start).as_secs_f64(),
        burst_start.as_secs_f64(),
        SETTLE.as_secs(),
        WINDOW.as_secs(),
        SETTLE.as_secs(),
        recovered.as_secs_f64(),
        end.evicted,
        end.active,
        idle_rss >> 20,
        peak_rss >> 20,
        rss_bound() >> 20,
        drain.as_millis(),
    );
    for s in &probe.samples {
        eprintln!("flood: sample {s:?}");
    }

    let status = status.unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "rtcprobe run: {status}\n{stderr}");
    assert!(stopped.contains("stopped:"), "no stopped: line\n{stderr}");
    assert!(drain < MAX_DRAIN, "drain took {drain:?}\n{stopped}");
    assert_eq!(
        after,
        0,
        "drops {}-{} s after the burst: {settled:?} → {end:?}",
        SETTLE.as_secs(),
        (SETTLE + WINDOW).as_secs()
    );
    assert!(
        end.frames - settled.frames >= u64::from(NORMAL_PPS) * WINDOW.as_secs() / 2,
        "normal traffic did not reach the probe in the window: {settled:?} → {end:?}"
    );
    assert!(end.evicted > 0, "the table never filled: {end:?}");
    assert_eq!(
        end.active,
        u64::from(NORMAL_STREAMS),
        "after the flood's streams idled out only the normal ones are live: {end:?}"
    );
    assert!(
        peak_rss < rss_bound(),
        "peak RSS {peak_rss} B over the bound {} B",
        rss_bound()
    );
}

/// One tcpreplay per burst file from namespace a, side by side, each as fast as it can; logs
/// in `<tag><i>.out`.
fn flood(pair: &VethPair, dir: &Scratch, files: &[PathBuf], tag: &str) -> Vec<Proc> {
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut c = pair.command(Side::A, "tcpreplay");
            c.args([
                "-i",
                DEV_A,
                "--topspeed",
                "--preload-pcap",
                "--no-flow-stats",
            ])
            .arg(f);
            pair.spawn(c, &dir.path(&format!("{tag}{i}")))
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// The daemon's pid: the only process in namespace b (curl runs only while sampling).
fn proc_pid(pair: &VethPair) -> u32 {
    let out = std::process::Command::new("ip")
        .args(["netns", "pids", pair.name(Side::B)])
        .output()
        .expect("ip netns pids");
    let pids: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(pids.len(), 1, "processes in namespace b: {pids:?}");
    pids[0]
}
