//! The media lab (docs/lab.md): real media software in three network namespaces, caller –
//! middlebox – callee (topo.rs), with userspace impairment that logs every packet's fate
//! (impair.rs) and `rtcprobe run` on the middlebox. Three scenarios, one 20 s call each:
//!
//! * `relay`: Debian's `rtpengine` (userspace forwarding, `--table=-1`) between the ends,
//!   driven by our own ng client (ng.rs);
//! * `forwarding`: the middlebox routes, the probe captures on `any` (sees each packet twice);
//! * `sfu_janus`: Debian's `janus` VideoRoom, an SFU that rewrites SSRC and sequence numbers,
//!   between a GStreamer `webrtcbin` publisher and two subscribers (sfu.rs, janus_peer.py);
//!   its assertions are sfu_truth.rs.
//!
//! In the first two, each end is GStreamer `rtpbin` sending and receiving PCMU audio and VP8
//! video with RTCP (gst.rs). The assertions (truth.rs) hold the probe's numbers against the
//! impairment logs.
//!
//! This binary has its own `main` (`harness = false`) so that it is also the impairment helper:
//! `lab --impair …` runs impair.rs inside a namespace. Needs root, iproute2, iptables, tcpdump,
//! GStreamer and rtpengine (scripts/setup-test); without them it prints `skipped: …` and
//! passes, except under `CI=true`, where it fails.

#[allow(dead_code)]
#[path = "../live/compare.rs"]
mod compare;
mod gst;
mod hop_truth;
mod impair;
#[allow(dead_code)]
#[path = "../live/netns.rs"]
mod netns;
mod ng;
mod rtpengine_truth;
mod sfu;
mod sfu_truth;
mod topo;
mod truth;

use netns::Proc;
use serde_json::Value;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use topo::{Lab, MbHook, Node, CALLEE_IP, CALLER_IP, MB_IP};

/// How long the media flows.
const CALL: Duration = Duration::from_secs(20);
const START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// After the ends stop: held packets leave the queues and reach the probe.
const SETTLE: Duration = Duration::from_millis(700);

/// The engine settings of both the live probe and the replay of its capture (hops on: the
/// probe watches the middlebox; 111: the `sfu_janus` scenario's Opus).
const ENGINE_TOML: &str =
    "[engine]\nhops = true\n\n[records]\ninterval_secs = 5\nhost = \"lab\"\n\n\
                           [payload_types]\n\"96\" = 90000\n\"111\" = 48000\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Relay,
    Forwarding,
    /// An SSRC-rewriting SFU: Janus's VideoRoom with WebRTC ends (sfu.rs).
    Sfu,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Relay => "relay",
            Scenario::Forwarding => "forwarding",
            Scenario::Sfu => "sfu_janus",
        }
    }
}

/// The impairment of each queue: (node, queue, loss, fixed delay ms, jitter ms). The jitter on
/// the senders' side (8–10 ms) reorders video packets, which leave in bursts.
pub const IMPAIR: [(Node, u16, f64, f64, f64); 5] = [
    (Node::Caller, 1, 0.03, 10.0, 8.0),
    (Node::Caller, 2, 0.02, 6.0, 3.0),
    (Node::Middlebox, 3, 0.02, 4.0, 2.0),
    (Node::Callee, 1, 0.03, 15.0, 10.0),
    (Node::Callee, 2, 0.02, 7.0, 3.0),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--impair") {
        let result = impair::Params::parse(&args[2..]).and_then(|p| impair::run(&p));
        if let Err(e) = result {
            eprintln!("impair: {e}");
            std::process::exit(1);
        }
        return;
    }
    let all = [Scenario::Relay, Scenario::Forwarding, Scenario::Sfu];
    if args.iter().any(|a| a == "--list") {
        for s in all {
            println!("{}: test", s.name());
        }
        return;
    }
    // libtest's conventions: positional arguments are name filters; `--ignored` runs none.
    if args.iter().any(|a| a == "--ignored") {
        return;
    }
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
    let chosen: Vec<Scenario> = all
        .into_iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.name().contains(f.as_str())))
        .collect();
    if chosen.is_empty() {
        return;
    }
    let mut tools = vec!["ip", "iptables", "tcpdump", "gst-launch-1.0", "chrt"];
    if chosen.contains(&Scenario::Relay) {
        tools.push("rtpengine");
    }
    if chosen.contains(&Scenario::Sfu) {
        tools.extend(sfu::TOOLS);
    }
    let started = Instant::now();
    if !netns::prerequisites("lab", &tools)
        || !gst::elements_present()
        || (chosen.contains(&Scenario::Sfu) && !sfu::elements_present())
    {
        summary(0, 0, chosen.len(), started);
        return;
    }
    let mut failed = Vec::new();
    for &s in &chosen {
        let t0 = Instant::now();
        let r = std::panic::catch_unwind(|| scenario(s));
        let ok = r.as_ref().is_ok_and(|r| r.is_ok());
        if let Ok(Err(e)) = &r {
            eprintln!("lab {}: {e}", s.name());
        }
        eprintln!(
            "test {} ... {} ({:.1} s)",
            s.name(),
            if ok { "ok" } else { "FAILED" },
            t0.elapsed().as_secs_f64()
        );
        if !ok {
            failed.push(s.name());
        }
    }
    summary(chosen.len() - failed.len(), failed.len(), 0, started);
    if !failed.is_empty() {
        eprintln!("lab: failed: {}", failed.join(", "));
        std::process::exit(1);
    }
}

/// libtest's closing line, which scripts/test counts.
fn summary(passed: usize, failed: usize, ignored: usize, started: Instant) {
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; {ignored} ignored; 0 measured; \
         0 filtered out; finished in {:.2}s\n",
        if failed == 0 { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
}

/// A scratch directory under the target dir; kept when the scenario fails or `LAB_KEEP` is set.
struct Scratch(PathBuf, bool);

impl Scratch {
    fn new(tag: &str) -> Self {
        let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("lab-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p, false)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.1 && std::env::var_os("LAB_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// What a scenario produced: the probe's records, the replay of its capture, the logs.
pub struct Outcome {
    pub live: compare::Live,
    pub replay: compare::Replayed,
    pub fates: Vec<truth::Fate>,
    /// The middlebox's interfaces: name and kernel index (what an `any` capture records),
    /// given to the replay as `--point-name index=name`.
    pub points: Vec<(String, u32)>,
    /// `relay`: rtpengine's own per-SSRC figures at the end of the call (ng `query`).
    pub rtpengine: Option<Value>,
}

fn scenario(s: Scenario) -> Result<(), String> {
    let mut dir = Scratch::new(s.name());
    let outcome = {
        let hook = match s {
            Scenario::Relay | Scenario::Sfu => MbHook::Input,
            Scenario::Forwarding => MbHook::Forward,
        };
        let lab = Lab::new(s.name(), hook)?;
        call(&lab, &dir, s)?
        // `lab` drops here: every process in the namespaces is killed, the namespaces deleted.
    };
    let mut problems = match s {
        Scenario::Sfu => sfu_truth::check(&outcome, &dir.0),
        _ => truth::check(s, &outcome),
    };
    if let Some(q) = &outcome.rtpengine {
        problems.extend(rtpengine_truth::check(&outcome, q));
    }
    if problems.is_empty() {
        dir.1 = true;
        Ok(())
    } else {
        Err(format!(
            "{} problem(s):\n  {}\n(files kept in {})",
            problems.len(),
            problems.join("\n  "),
            dir.0.display()
        ))
    }
}

/// Set up impairment, capture and probe, run the call, stop everything, replay the capture.
fn call(lab: &Lab, dir: &Scratch, s: Scenario) -> Result<Outcome, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut impairs = Vec::new();
    for (i, &(node, queue, loss, delay_ms, jitter_ms)) in IMPAIR.iter().enumerate() {
        let p = impair::Params {
            queue,
            seed: 0x1ab0 + i as u64,
            loss,
            delay_ms,
            jitter_ms,
            log: dir.path(&format!("fates-{node:?}-{queue}.ndjson")),
        };
        // Real-time priority: the truth is the time the helper takes a packet and gives its
        // verdict, which must not include its own wake-up latency on a loaded machine.
        let mut cmd = lab.command(node, "chrt");
        cmd.args(["-f", "10"])
            .arg(&me)
            .arg("--impair")
            .args(p.args());
        let mut proc = netns::spawn(cmd, &dir.path(&format!("impair-{node:?}-{queue}")))?;
        proc.wait_for_stderr("bound", START_TIMEOUT)?;
        impairs.push((proc, p.log, node));
    }

    let cap = dir.path("cap.pcap");
    let mut cmd = lab.command(Node::Middlebox, "tcpdump");
    cmd.args(["-i", "any", "-n", "-p", "--immediate-mode"])
        .args([
            "--time-stamp-precision=nano",
            "-s",
            "65535",
            "-B",
            "65536",
            "-w",
        ])
        .arg(&cap)
        .arg("udp");
    let mut dump = netns::spawn(cmd, &dir.path("tcpdump"))?;
    dump.wait_for_stderr("listening on", START_TIMEOUT)?;

    let (records, summary) = (dir.path("records.ndjson"), dir.path("summary.json"));
    let mut probe = start_probe(lab, dir, &records, &summary)?;

    let mut relay = None;
    let mut ends = Vec::new();
    let (to_callee, to_caller) = match s {
        Scenario::Forwarding => ((CALLEE_IP, 5000, 5002), (CALLER_IP, 5000, 5002)),
        Scenario::Sfu => {
            // The ends stop by themselves after a minute more than the call, should the test
            // die without cleaning up.
            let (janus, peers) = sfu::start(lab, &dir.0, CALL + Duration::from_secs(60))?;
            relay = Some(janus);
            ends = peers;
            ((CALLEE_IP, 0, 0), (CALLER_IP, 0, 0))
        }
        Scenario::Relay => {
            // Real-time priority too: its scheduling latency on a loaded CI machine is not in
            // the logs, yet would count in the probe's round trips.
            let mut cmd = lab.command(Node::Middlebox, "chrt");
            cmd.args([
                "-f",
                "10",
                "rtpengine",
                "--config-file=none",
                "--table=-1",
                "--foreground",
                "--log-stderr",
            ])
            .arg(format!("--interface={MB_IP}"))
            .args([
                "--listen-ng=127.0.0.1:2223",
                "--port-min=30000",
                "--port-max=30099",
            ]);
            relay = Some(netns::spawn(cmd, &dir.path("rtpengine"))?);
            // The offer's reply is what the callee sends to, the answer's what the caller does.
            let (for_callee, for_caller) = gst::signal(lab)?;
            (
                (MB_IP, for_caller.0, for_caller.1),
                (MB_IP, for_callee.0, for_callee.1),
            )
        }
    };
    let gst_ends = if s == Scenario::Sfu {
        Vec::new()
    } else {
        vec![(Node::Caller, to_callee), (Node::Callee, to_caller)]
    };
    for (node, peer) in gst_ends {
        for media in [gst::Media::Audio, gst::Media::Video] {
            let cmd = gst::command(lab, node, media, peer);
            let log = dir.path(&format!("gst-{node:?}-{media:?}"));
            ends.push(netns::spawn(cmd, &log)?);
        }
    }
    std::thread::sleep(CALL);
    for e in &mut ends {
        if let Some(st) = e.try_status() {
            return Err(format!("an end exited early ({st}):\n{}", e.stderr()));
        }
        e.stop("TERM", STOP_TIMEOUT)?;
    }
    if s == Scenario::Sfu {
        // janus sends RTCP and ICE consent checks of its own until it stops: between the
        // probe's end and tcpdump's, they would be in the capture only.
        if let Some(mut r) = relay.take() {
            r.stop("TERM", STOP_TIMEOUT)?;
        }
    }
    std::thread::sleep(SETTLE);
    let st = probe.stop("TERM", STOP_TIMEOUT)?;
    if !st.success() {
        return Err(format!("rtcprobe run: {st}\n{}", probe.stderr()));
    }
    dump.stop("INT", STOP_TIMEOUT)?;
    if !dump
        .stderr()
        .lines()
        .any(|l| l.trim() == "0 packets dropped by kernel")
    {
        return Err(format!("tcpdump dropped packets:\n{}", dump.stderr()));
    }
    // rtpengine keeps the call until told or timed out: ask for its view after the ends' last
    // RTCP (their BYE) has passed it, as the probe has.
    let rtpengine = match s {
        Scenario::Relay => {
            let q = gst::query(lab)?;
            let text = serde_json::to_string_pretty(&q).map_err(|e| e.to_string())?;
            std::fs::write(dir.path("rtpengine-query.json"), text).map_err(|e| e.to_string())?;
            Some(q)
        }
        _ => None,
    };
    if let Some(r) = &mut relay {
        r.stop("TERM", STOP_TIMEOUT)?;
    }
    let mut fates = Vec::new();
    for (mut proc, log, node) in impairs {
        let st = proc.stop("TERM", STOP_TIMEOUT)?;
        if !st.success() {
            return Err(format!("impair: {st}\n{}", proc.stderr()));
        }
        fates.extend(truth::read_fates(&log, node)?);
    }

    let engine = dir.path("engine.toml");
    std::fs::write(&engine, ENGINE_TOML).map_err(|e| e.to_string())?;
    // tcpdump -i any records interface indexes only: the replay names them as the live probe
    // did (`replay --point-name`, docs/output.md "observed_at").
    let mut points = Vec::new();
    for dev in ["v1", "v2"] {
        points.push((dev.to_owned(), lab.ifindex(Node::Middlebox, dev)?));
    }
    let replay = replay_json(&cap, &engine, &dir.path("replay.ndjson"), &points)?;
    let live = compare::Live {
        records: read_lines(&records)?,
        summary: serde_json::from_slice(&std::fs::read(&summary).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?,
    };
    Ok(Outcome {
        live,
        replay,
        fates,
        points,
        rtpengine,
    })
}

/// `rtcprobe run` on the middlebox, capturing on `any`; returns once it says READY=1.
fn start_probe(lab: &Lab, dir: &Scratch, records: &Path, summary: &Path) -> Result<Proc, String> {
    let config = dir.path("probe.toml");
    let toml = format!(
        "[capture]\ninterfaces = [\"any\"]\nfilter = \"udp\"\nsnaplen_bytes = 65535\n\
         buffer_size_mib = 64\nimmediate_mode = true\ntimeout_ms = 100\npromiscuous = false\n\n\
         {ENGINE_TOML}"
    );
    std::fs::write(&config, toml).map_err(|e| e.to_string())?;
    let sock_path = dir.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).map_err(|e| e.to_string())?;
    let mut cmd = lab.command(Node::Middlebox, env!("CARGO_BIN_EXE_rtcprobe"));
    cmd.arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--records")
        .arg(records)
        .arg("--summary")
        .arg(summary)
        .env("NOTIFY_SOCKET", &sock_path);
    let mut probe = netns::spawn(cmd, &dir.path("rtcprobe"))?;
    let deadline = Instant::now() + START_TIMEOUT;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            if String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "READY=1")
            {
                return Ok(probe);
            }
        }
        if let Some(st) = probe.try_status() {
            return Err(format!("rtcprobe run exited ({st}):\n{}", probe.stderr()));
        }
    }
    Err(format!("rtcprobe run: no READY=1:\n{}", probe.stderr()))
}

/// `rtcprobe replay --format json --records` of the capture taken beside the probe, naming
/// each interface index as `points` says.
fn replay_json(
    file: &Path,
    config: &Path,
    records: &Path,
    points: &[(String, u32)],
) -> Result<compare::Replayed, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtcprobe"));
    cmd.arg("replay")
        .arg(file)
        .args(["--format", "json", "--config"])
        .arg(config)
        .arg("--records")
        .arg(records);
    for (dev, index) in points {
        cmd.arg("--point-name").arg(format!("{index}={dev}"));
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("replay: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok((report, read_lines(records)?))
}

fn read_lines(path: &Path) -> Result<Vec<Value>, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}
