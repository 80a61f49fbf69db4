//! Live capture end to end: two network namespaces joined by a veth pair (`live/netns.rs`), a
//! committed capture replayed with tcpreplay into one end, and on the other end `rtcprobe run`
//! with `tcpdump` capturing beside it. Two comparisons per capture:
//!
//! * **(a) exact**: rtcprobe's final records (`run --records`, docs/records.md) equal those of
//!   `rtcprobe replay --records` of what tcpdump wrote next to it, field by field (only
//!   `ended_by` and the last period differ, see [`compare::check_against_beside`]), and its
//!   interval records equal the replay's field by field but for the probe-health fields
//!   (`probe_drop`, `probe_dropped`), none more, none fewer, and add up to the final counts.
//!   Both read the same frames with
//!   the same kernel timestamp: a TPACKET ring reports the skb's receive timestamp when the skb
//!   has one and reads the clock itself, per socket, only when it has none; the skb gets one
//!   (once, in `netif_rx`) as soon as any socket on the host has asked for software timestamps,
//!   and libpcap asks (`SO_TIMESTAMPNS`) for every capture opened with nanosecond precision,
//!   such as the tcpdump beside the probe. `same_frames_same_timestamps` checks it with two
//!   tcpdumps. The summary counters must agree too.
//! * **(b) against the original file**: the final records (interval boundaries are capture
//!   times, which differ from the file's) against `replay --records` of the file: every count exact; times (first/last seen, gaps,
//!   jitter, RTTs) within tolerances computed from tcpreplay's pacing on the same run, which
//!   the test measures (tcpdump's timestamps against the file's, frame by frame; [`Pacing`]):
//!   a gap or A.8's `D` is a difference of two packets at most the stream's longest gap apart,
//!   so it is off by at most the worst error of such an interval, and the jitter estimates,
//!   averages of `|D|`, by no more; an RTT may span the file, so it gets the worst error of
//!   any interval; first/last seen get the worst offset from the first frame. `sr_chain` RTTs
//!   come from NTP timestamps in the packets only and must be exact. Captures replayed faster
//!   than recorded (`--multiplier`) keep only the counts: their timing is meant to differ.
//!   `captured_replay_equals_original` checks this chain with tcpdump alone.
//!
//! Needs root, iproute2, tcpreplay and tcpdump; without them each test prints `skipped: …`
//! and passes, except under `CI=true`, where it fails.

#[path = "live/compare.rs"]
mod compare;
#[path = "live/netns.rs"]
mod netns;

use compare::{check_against_beside, check_against_original, frames, key, Live, Pacing};
use netns::{prerequisites, Proc, Side, VethPair, DEV_A, DEV_B};
use serde_json::Value;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The worst tcpreplay pacing error accepted on intervals of up to 1 s (the interval between
/// two frames as captured against the same as recorded). Measured with tcpreplay 4.4.3 on a
/// shared 2-core VM, one test at a time: 8–120 ms, from single stalls of 40–65 ms (tcpreplay
/// spins between packets and is preempted; the VM itself pauses), while the lag behind the
/// file's clock reached 30–250 ms over 7 s (tcpreplay never makes up a lag). Neither a
/// real-time priority (a spinning SCHED_FIFO task is throttled 50 ms every second) nor
/// `nice -15` helped. The tolerances are computed from each run's own measurement, so on such
/// a machine the timing comparison with the original file is loose; the exact one is (a).
/// This bound only rejects a run too disturbed to mean anything.
const MAX_INTERVAL_ERROR_NS: i64 = 250_000_000;

/// Bounds for every wait.
const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// After tcpreplay returns: the last frames travel the veth and reach both sockets.
const SETTLE: Duration = Duration::from_millis(500);

/// The capture filter of both capturers. Not the daemon's default `udp`: libpcap compiles
/// `udp` for IPv6 as "next header is UDP", which misses UDP behind IPv6 extension headers
/// (and IPv6 fragments) that the decoder handles; `sample-sfu.pcap` has such a stream.
const FILTER: &str = "udp or ip6";

/// The kernel buffer of both capturers (KiB), as rtcprobe's default `buffer_size_mib`.
const BUFFER_KIB: u32 = 65_536;

/// The tests run one at a time: several tcpreplays pacing at once on a 2-core machine disturb
/// each other's timing (first measurement: up to 98 ms on a 1 s interval with five in
/// parallel, 8–15 ms one at a time).
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// A scratch directory under the target dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("live-{tag}-{}", std::process::id()));
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
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// How fast tcpreplay sends the file.
#[derive(Debug, Clone, Copy)]
enum Speed {
    /// As recorded: times are compared with a tolerance.
    Recorded,
    /// `--multiplier` this much faster: counts only.
    Faster(u32),
}

impl Speed {
    fn args(self) -> Vec<String> {
        match self {
            Speed::Recorded => Vec::new(),
            Speed::Faster(m) => vec![format!("--multiplier={m}")],
        }
    }
}

/// tcpdump on the capturing end: nanosecond timestamps, the whole frame, the same kernel
/// buffer as rtcprobe, and immediate mode so nothing is left in an unfinished ring block
/// when it is stopped.
fn tcpdump(pair: &VethPair, out: &Path, filter: &str) -> Command {
    let mut cmd = pair.command(Side::B, "tcpdump");
    cmd.args(["-i", DEV_B, "-n", "-p", "--immediate-mode"])
        .args(["--time-stamp-precision=nano", "-s", "65535"])
        .args(["-B", &BUFFER_KIB.to_string(), "-w"])
        .arg(out);
    if !filter.is_empty() {
        cmd.arg(filter);
    }
    cmd
}

/// tcpreplay `file` from namespace a, waiting for it to finish.
fn tcpreplay(pair: &VethPair, dir: &Scratch, file: &Path, speed: Speed) {
    let secs = duration_secs(file);
    let timeout = Duration::from_secs_f64(
        secs / match speed {
            Speed::Recorded => 1.0,
            Speed::Faster(m) => f64::from(m),
        },
    ) + Duration::from_secs(30);
    let mut cmd = pair.command(Side::A, "tcpreplay");
    cmd.args(["-i", DEV_A]).args(speed.args()).arg(file);
    let out = pair
        .output(cmd, &dir.path("tcpreplay"), timeout)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "tcpreplay {}: {}\n{}{}",
        file.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn duration_secs(path: &Path) -> f64 {
    let f = frames(path);
    match (f.first(), f.last()) {
        (Some(a), Some(b)) => (b.0 - a.0) as f64 / 1e9,
        _ => 0.0,
    }
}

/// Measure the pacing of a run sent as recorded, print it, and check it is sane.
fn measure_pacing(test: &str, original: &Path, captured: &Path) -> Pacing {
    let p = Pacing::measure(original, captured);
    let (second, offset) = (p.within(1_000_000_000), p.offset());
    eprintln!(
        "{test}: tcpreplay pacing error: {second} ns on intervals up to 1 s, {offset} ns on \
         offsets from the first frame"
    );
    assert!(
        second <= MAX_INTERVAL_ERROR_NS,
        "tcpreplay's pacing error {second} ns on intervals up to 1 s exceeds \
         {MAX_INTERVAL_ERROR_NS} ns: is the machine overloaded?"
    );
    p
}

// ---------------------------------------------------------------------------------------------
// The harness alone (tcpreplay → veth → tcpdump), independent of rtcprobe.

/// What tcpreplay sends from a is exactly what a capture in b sees: the same frames, in order,
/// nothing added by the kernel, nothing lost; and two sockets on the same device stamp each
/// frame with the same nanosecond.
#[test]
fn same_frames_same_timestamps() {
    if !prerequisites(
        "same_frames_same_timestamps",
        &["ip", "tcpreplay", "tcpdump"],
    ) {
        return;
    }
    let _serial = serial();
    let dir = Scratch::new("frames");
    let pair = VethPair::new("frames").unwrap_or_else(|e| panic!("{e}"));
    let file = fixture("sipp-g711a.pcap");
    let (c1, c2) = (dir.path("c1.pcap"), dir.path("c2.pcap"));
    let mut d1 = pair
        .spawn(tcpdump(&pair, &c1, ""), &dir.path("tcpdump1"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut d2 = pair
        .spawn(tcpdump(&pair, &c2, ""), &dir.path("tcpdump2"))
        .unwrap_or_else(|e| panic!("{e}"));
    for d in [&mut d1, &mut d2] {
        d.wait_for_stderr("listening on", START_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    tcpreplay(&pair, &dir, &file, Speed::Faster(20));
    std::thread::sleep(SETTLE);
    for d in [&mut d1, &mut d2] {
        stop_tcpdump(d);
    }
    Pacing::measure(&file, &c1);
    let (f1, f2) = (frames(&c1), frames(&c2));
    assert_eq!(f1, f2, "two sockets on {DEV_B} disagree");
}

/// SIGINT tcpdump and check it saw every frame (none dropped by the kernel).
fn stop_tcpdump(d: &mut Proc) {
    let st = d
        .stop("INT", STOP_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let err = d.stderr();
    assert!(st.success(), "tcpdump: {st}\n{err}");
    assert!(
        err.lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "tcpdump dropped packets:\n{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// rtcprobe run against rtcprobe replay.

/// Replay and live runs use the same engine settings. The dynamic payload types of
/// `sample-sfu.pcap` get their clock rates from here, since a rate inferred from arrival times
/// would change with `--multiplier`.
/// Records every 2 s of capture time, with one host name, so that record IDs agree.
const ENGINE_TOML: &str =
    "[engine]\nhops = true\n[records]\ninterval_secs = 2\nhost = \"live-test\"\n\n\
                           [payload_types]\n\"96\" = 90000\n\"111\" = 48000\n";

/// The daemon's configuration: capture on the veth end with the same filter, kernel buffer and
/// snap length as the tcpdump beside it, immediate mode so that nothing waits in a ring block
/// when it is stopped.
fn probe_toml() -> String {
    format!(
        "[capture]\ninterfaces = [\"{DEV_B}\"]\nfilter = \"{FILTER}\"\nsnaplen_bytes = 65535\n\
         buffer_size_mib = {}\nimmediate_mode = true\ntimeout_ms = 100\npromiscuous = false\n\n\
         [log]\nlevel = \"info\"\n\n{ENGINE_TOML}",
        BUFFER_KIB / 1024
    )
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

/// `rtcprobe replay --format json --records`: the report and the records.
fn replay_json(file: &Path, config: &Path, records: &Path) -> (Value, Vec<Value>) {
    let _ = std::fs::remove_file(records);
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .arg("replay")
        .arg(file)
        .args(["--format", "json", "--config"])
        .arg(config)
        .arg("--records")
        .arg(records)
        .output()
        .expect("run rtcprobe replay");
    assert!(
        out.status.success(),
        "replay {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = serde_json::from_slice(&out.stdout).expect("replay JSON");
    (report, read_records(records))
}

/// One JSON value per line.
fn read_records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("record {l}: {e}")))
        .collect()
}

/// Start tcpdump and `rtcprobe run` in b, send `file` from a, stop both; returns the records
/// and the summary, and leaves tcpdump's capture in `cap.pcap`.
fn live_run(pair: &VethPair, dir: &Scratch, file: &Path, speed: Speed) -> Live {
    let config = dir.path("probe.toml");
    std::fs::write(&config, probe_toml()).expect("write config");
    let sock_path = dir.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind NOTIFY_SOCKET");
    let mut dump = pair
        .spawn(
            tcpdump(pair, &dir.path("cap.pcap"), FILTER),
            &dir.path("tcpdump"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    dump.wait_for_stderr("listening on", START_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let (records, summary) = (dir.path("records.ndjson"), dir.path("summary.json"));
    let mut cmd = pair.command(Side::B, env!("CARGO_BIN_EXE_rtcprobe"));
    cmd.arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--records")
        .arg(&records)
        .arg("--summary")
        .arg(&summary)
        .env("NOTIFY_SOCKET", &sock_path);
    let mut probe = pair
        .spawn(cmd, &dir.path("rtcprobe"))
        .unwrap_or_else(|e| panic!("{e}"));
    wait_ready(&sock, &mut probe);

    tcpreplay(pair, dir, file, speed);
    std::thread::sleep(SETTLE);
    let st = probe
        .stop("TERM", STOP_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(st.success(), "rtcprobe run: {st}\n{}", probe.stderr());
    stop_tcpdump(&mut dump);

    let records = read_records(&records);
    for r in &records {
        let fin = r["kind"] == "final";
        assert_eq!(r["ended_by"].is_string(), fin, "{}: ended_by", key(r));
    }
    let summary: Value =
        serde_json::from_slice(&std::fs::read(&summary).expect("summary file")).expect("JSON");
    Live { records, summary }
}

/// One capture through the whole setup; both comparisons.
fn live_equals_replay(test: &str, name: &str, speed: Speed) {
    if !prerequisites(test, &["ip", "tcpreplay", "tcpdump"]) {
        return;
    }
    let _serial = serial();
    let dir = Scratch::new(test);
    let pair = VethPair::new("run").unwrap_or_else(|e| panic!("{e}"));
    let file = fixture(name);
    let live = live_run(&pair, &dir, &file, speed);
    drop(pair);

    let engine = dir.path("engine.toml");
    std::fs::write(&engine, ENGINE_TOML).expect("write config");
    let cap = dir.path("cap.pcap");
    let beside = replay_json(&cap, &engine, &dir.path("beside.ndjson"));
    let orig = replay_json(&file, &engine, &dir.path("orig.ndjson"));
    let pacing = match speed {
        Speed::Recorded => Some(measure_pacing(test, &file, &cap)),
        Speed::Faster(_) => None,
    };
    let mut problems = check_against_beside(&live, &beside);
    problems.extend(check_against_original(
        &live,
        &beside,
        &orig,
        pacing.as_ref(),
    ));
    assert!(
        problems.is_empty(),
        "{name}: live run vs replay:\n  {}\n(files kept in {})",
        problems.join("\n  "),
        dir.0.display()
    );
}

/// The quick-start sample (9 streams, TURN, IPv6, fragments, RTCP of every kind), 40 s sent
/// in 5: counts only.
#[test]
fn live_sample_sfu() {
    live_equals_replay("live_sample_sfu", "sample-sfu.pcap", Speed::Faster(8));
}

/// A clean G.711A call, as recorded (7 s).
#[test]
fn live_sipp_g711a() {
    live_equals_replay("live_sipp_g711a", "sipp-g711a.pcap", Speed::Recorded);
}

/// G.729 with 57 % loss, as recorded (5.6 s).
#[test]
fn live_rtpproxy_lost() {
    live_equals_replay("live_rtpproxy_lost", "rtpproxy-lost.pcap", Speed::Recorded);
}

/// G.711A with an RTCP SR and SDES (sender info, CNAME), as recorded (6.9 s).
#[test]
fn live_rtpproxy_rtcp_sr() {
    live_equals_replay(
        "live_rtpproxy_rtcp_sr",
        "rtpproxy-rtcp-sr.pcap",
        Speed::Recorded,
    );
}

/// The measuring chain without the daemon: `rtcprobe replay` of what tcpdump captured in b
/// agrees with the original file under the same rules as the live run, so a failure of the
/// tests above is about `rtcprobe run`, not about tcpreplay, the veth pair or the tolerances.
#[test]
fn captured_replay_equals_original() {
    let test = "captured_replay_equals_original";
    if !prerequisites(test, &["ip", "tcpreplay", "tcpdump"]) {
        return;
    }
    let _serial = serial();
    let dir = Scratch::new(test);
    let pair = VethPair::new("cap").unwrap_or_else(|e| panic!("{e}"));
    let file = fixture("rtpproxy-rtcp-sr.pcap");
    let cap = dir.path("cap.pcap");
    let mut dump = pair
        .spawn(tcpdump(&pair, &cap, FILTER), &dir.path("tcpdump"))
        .unwrap_or_else(|e| panic!("{e}"));
    dump.wait_for_stderr("listening on", START_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    tcpreplay(&pair, &dir, &file, Speed::Recorded);
    std::thread::sleep(SETTLE);
    stop_tcpdump(&mut dump);
    drop(pair);

    let engine = dir.path("engine.toml");
    std::fs::write(&engine, ENGINE_TOML).expect("write config");
    let beside = replay_json(&cap, &engine, &dir.path("beside.ndjson"));
    let orig = replay_json(&file, &engine, &dir.path("orig.ndjson"));
    let pacing = measure_pacing(test, &file, &cap);
    let as_live = Live {
        records: beside.1.clone(),
        summary: Value::Null,
    };
    let problems = check_against_original(&as_live, &beside, &orig, Some(&pacing));
    assert!(problems.is_empty(), "{}", problems.join("\n  "));
}

/// Hops live (records schema v2): a synthetic relay (one stream in, two copies out, one of
/// them losing 5 % inside the middlebox and delayed 4 ms) sent through the veth as recorded;
/// `rtcprobe run`'s hop records equal, field by field, those of `rtcprobe replay` (through the
/// pipeline, where hop records are made) of what tcpdump captured beside it, and their counts
/// equal the scenario's truth.
#[test]
fn live_hops_equal_replay_hops() {
    let test = "live_hops_equal_replay_hops";
    if !prerequisites(test, &["ip", "tcpreplay", "tcpdump"]) {
        return;
    }
    let _serial = serial();
    let dir = Scratch::new(test);
    use rtcprobe::synth::hop::{egress_to, scenario, video_in};
    let mut lossy = egress_to(2, 0);
    lossy.inside_loss = 0.05;
    lossy.delay_ns = 4_000_000;
    let s = scenario(
        21,
        vec![video_in(1, 0x4242)],
        vec![lossy, egress_to(3, 0)],
        500,
    );
    let (cap, truth) = s.build();
    let file = dir.path("relay.pcap");
    cap.write_pcap(
        std::fs::File::create(&file).expect("pcap"),
        rtcprobe::synth::pcap::TsResolution::Nano,
        65535,
    )
    .expect("write");
    let pair = VethPair::new("hops").unwrap_or_else(|e| panic!("{e}"));
    let live = live_run(&pair, &dir, &file, Speed::Recorded);
    drop(pair);
    let engine = dir.path("engine.toml");
    std::fs::write(&engine, ENGINE_TOML).expect("write config");
    let records = dir.path("beside.ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args([
            "replay",
            "--workers",
            "2",
            "--linger",
            "0.01",
            "--format",
            "json",
        ])
        .arg("--config")
        .arg(&engine)
        .arg("--records")
        .arg(&records)
        .arg(dir.path("cap.pcap"))
        .output()
        .expect("rtcprobe replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hops = |rs: &[Value]| -> Vec<Value> {
        let mut v: Vec<Value> = rs
            .iter()
            .filter(|r| r["kind"].as_str().is_some_and(|k| k.starts_with("hop_")))
            .cloned()
            .collect();
        v.sort_by_key(|r| r["record_id"].to_string());
        v
    };
    let (live_hops, beside) = (hops(&live.records), hops(&read_records(&records)));
    let finals: Vec<&Value> = live_hops
        .iter()
        .filter(|r| r["kind"] == "hop_final")
        .collect();
    assert_eq!(finals.len(), 2, "{live_hops:#?}");
    assert!(
        live_hops.len() > finals.len(),
        "no hop_interval record: {live_hops:#?}"
    );
    assert_eq!(
        live_hops,
        beside,
        "live vs replay hop records (files in {})",
        dir.0.display()
    );
    for t in &truth.hops {
        let to = s.egress[t.egress].dst;
        let r = finals
            .iter()
            .find(|r| {
                r["egress_dst_ip"] == to.ip().to_string() && r["egress_dst_port"] == to.port()
            })
            .unwrap_or_else(|| panic!("no hop to {to}: {finals:#?}"));
        assert_eq!(r["packets_out"], t.packets_out, "{r}");
        assert_eq!(r["lost_inside"], t.lost_inside, "{r}");
        assert_eq!(r["packets_in"], t.packets_in, "{r}");
    }
}
