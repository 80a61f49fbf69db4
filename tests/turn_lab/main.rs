//! The TURN lab (docs/lab.md "TURN lab"): Debian's coturn as the TURN server on a middlebox
//! between a client namespace and a peer namespace, real TURN clients relaying through it, a
//! tcpdump capture on the middlebox and `rtcprobe replay --format json` of it. The probe's
//! `turn_allocations` and `summary.ice_turn.turn` must equal what coturn and the clients logged
//! (truth.rs). Three scenarios, one after the other against the same coturn, each with its own
//! capture:
//!
//! * `uclient_udp`: coturn's own `turnutils_uclient` over UDP, two clients, ChannelData to
//!   `turnutils_peer` (a UDP echo) and back;
//! * `uclient_tcp`: the same over TCP to the server (TURN-TCP framing through the probe's TCP
//!   reassembler; the relayed leg is still UDP);
//! * `baresip_udp`: a SIP call between two baresip user agents, the caller's media through a
//!   TURN allocation (`medianat=turn`), PCMU RTP both ways: each relayed stream tied to its
//!   client-leg twin and its peer.
//!
//! ```text
//!  client ns                     middlebox ns (coturn, tcpdump -i any)              peer ns
//!  10.79.1.2 v0 ──veth── v1 10.79.1.1:3478 (listening)   10.79.2.1 (relay) v2 ──veth── v0 10.79.2.2
//! ```
//!
//! Needs root, iproute2, tcpdump, coturn (turnserver, turnutils_uclient, turnutils_peer) and
//! baresip; without them it prints `skipped: …` and passes, except under `CI=true`, where it
//! fails. Each scenario takes a few seconds; every process and namespace goes on drop.

#[allow(dead_code)]
#[path = "../live/netns.rs"]
mod netns;
mod truth;

use netns::Proc;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const CLIENT_IP: &str = "10.79.1.2";
/// coturn's listening address (the client's side of the middlebox).
pub const SERVER_IP: &str = "10.79.1.1";
/// coturn's relay address (the peer's side).
pub const RELAY_IP: &str = "10.79.2.1";
pub const PEER_IP: &str = "10.79.2.2";
/// `turnutils_peer`'s port (turnutils_uclient's default `-r`).
pub const PEER_PORT: u16 = 3480;
const USER: &str = "alice";
const PASSWORD: &str = "lab-secret";
const REALM: &str = "lab.test";
/// Messages each turnutils_uclient client sends (and gets echoed back).
pub const UCLIENT_MESSAGES: u64 = 10;
/// How long the baresip callee runs (it answers, then hangs up by quitting).
const CALL_SECS: u64 = 4;
const START_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// A client run, at most (a stuck client fails the scenario instead of hanging the test).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

const TOOLS: [&str; 6] = [
    "ip",
    "tcpdump",
    "turnserver",
    "turnutils_uclient",
    "turnutils_peer",
    "baresip",
];

/// A scenario and how it went.
type Outcome = (Scenario, Result<(), String>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    UclientUdp,
    UclientTcp,
    BaresipUdp,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::UclientUdp => "uclient_udp",
            Scenario::UclientTcp => "uclient_tcp",
            Scenario::BaresipUdp => "baresip_udp",
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let all = [
        Scenario::UclientUdp,
        Scenario::UclientTcp,
        Scenario::BaresipUdp,
    ];
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
    let started = Instant::now();
    if !netns::prerequisites("turn_lab", &TOOLS) {
        summary(0, 0, chosen.len(), started);
        return;
    }
    let mut dir = Scratch::new();
    let mut failed = Vec::new();
    let r = std::panic::catch_unwind(|| -> Result<Vec<Outcome>, String> {
        let lab = Lab::new(&dir.0)?;
        Ok(chosen
            .iter()
            .map(|&s| {
                let t0 = Instant::now();
                let r = lab.scenario(s, &dir.0.join(s.name()));
                eprintln!(
                    "test {} ... {} ({:.1} s)",
                    s.name(),
                    if r.is_ok() { "ok" } else { "FAILED" },
                    t0.elapsed().as_secs_f64()
                );
                (s, r)
            })
            .collect())
        // `lab` drops here: coturn and the peer are killed, the namespaces deleted.
    });
    match r {
        Ok(Ok(results)) => {
            for (s, r) in results {
                if let Err(e) = r {
                    eprintln!("turn_lab {}: {e}", s.name());
                    failed.push(s.name());
                }
            }
        }
        Ok(Err(e)) => {
            eprintln!("turn_lab: {e}");
            failed.extend(chosen.iter().map(|s| s.name()));
        }
        Err(_) => failed.extend(chosen.iter().map(|s| s.name())),
    }
    summary(chosen.len() - failed.len(), failed.len(), 0, started);
    if failed.is_empty() {
        dir.1 = true;
    } else {
        eprintln!(
            "turn_lab: failed: {} (files kept in {})",
            failed.join(", "),
            dir.0.display()
        );
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

/// A scratch directory under the target dir; kept when a scenario fails or `LAB_KEEP` is set.
struct Scratch(PathBuf, bool);

impl Scratch {
    fn new() -> Self {
        let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("turn-lab-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p, false)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.1 && std::env::var_os("LAB_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Client,
    Middlebox,
    Peer,
}

/// The three namespaces, coturn and the echo peer; everything inside is killed on drop.
struct Lab {
    names: [String; 3],
    coturn: Option<Proc>,
    coturn_log: PathBuf,
    _peer: Option<Proc>,
}

impl Lab {
    fn new(dir: &Path) -> Result<Lab, String> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        // Our own prefix and subnet (10.79/16): no clash with the media lab's (rl-, 10.77).
        let base = format!("rp-turn-{}-{n}", std::process::id());
        let mut lab = Lab {
            names: [format!("{base}c"), format!("{base}m"), format!("{base}p")],
            coturn: None,
            coturn_log: dir.join("coturn.out"),
            _peer: None,
        };
        // Any failure below drops `lab`, which deletes what was created so far.
        for ns in &lab.names {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        let m = lab.names[1].clone();
        for (end, dev, end_ip, mb_ip) in [
            (lab.names[0].clone(), "v1", CLIENT_IP, SERVER_IP),
            (lab.names[2].clone(), "v2", PEER_IP, RELAY_IP),
        ] {
            ip(&[
                "-n", &end, "link", "add", "v0", "type", "veth", "peer", "name", dev, "netns", &m,
            ])?;
            for (ns, d) in [(&end, "v0"), (&m, dev)] {
                let key = format!("net.ipv6.conf.{d}.disable_ipv6=1");
                run(Command::new("ip")
                    .args(["netns", "exec", ns, "sysctl", "-qw"])
                    .arg(&key))?;
                ip(&["-n", ns, "link", "set", d, "up"])?;
            }
            ip(&[
                "-n",
                &end,
                "addr",
                "add",
                &format!("{end_ip}/24"),
                "dev",
                "v0",
            ])?;
            ip(&["-n", &m, "addr", "add", &format!("{mb_ip}/24"), "dev", dev])?;
            ip(&["-n", &end, "route", "add", "default", "via", mb_ip])?;
        }
        // Routing only for baresip's SIP between the ends: their media goes through the relay
        // (the caller offers its relayed address, and its turn module sends through it).
        run(lab
            .command(Node::Middlebox, "sysctl")
            .args(["-qw", "net.ipv4.ip_forward=1"]))?;

        let mut cmd = lab.command(Node::Middlebox, "turnserver");
        cmd.args(["-n", "--no-tls", "--no-dtls", "--no-cli", "--lt-cred-mech"])
            .arg(format!("--listening-ip={SERVER_IP}"))
            .arg(format!("--relay-ip={RELAY_IP}"))
            .arg(format!("--user={USER}:{PASSWORD}"))
            .arg(format!("--realm={REALM}"))
            .args(["--min-port=49152", "--max-port=49999", "--log-file=stdout"])
            .args(["--simple-log", "-v"])
            // One thread: a session's `Local relay addr` line (which names no session) is then
            // always followed by its own `session … new` line; with a thread per core two
            // concurrent allocations (baresip's RTP and RTCP) interleave them.
            .arg("--relay-threads=0")
            .arg(format!(
                "--pidfile={}",
                dir.join("turnserver.pid").display()
            ))
            // Its default database (/var/lib/turn) is not ours to write.
            .arg(format!("--db={}", dir.join("turndb").display()));
        let mut coturn = netns::spawn(cmd, &dir.join("coturn"))?;
        let deadline = Instant::now() + START_TIMEOUT;
        while !read(&lab.coturn_log).contains("TCP listener opened on : 10.79.1.1:3478") {
            if let Some(st) = coturn.try_status() {
                return Err(format!(
                    "turnserver exited ({st}):\n{}",
                    read(&lab.coturn_log)
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "turnserver not listening:\n{}",
                    read(&lab.coturn_log)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        lab.coturn = Some(coturn);
        let mut cmd = lab.command(Node::Peer, "turnutils_peer");
        cmd.args(["-L", PEER_IP, "-p", &PEER_PORT.to_string()]);
        lab._peer = Some(netns::spawn(cmd, &dir.join("turnutils_peer"))?);
        Ok(lab)
    }

    fn command(&self, node: Node, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.names[node as usize], program]);
        cmd
    }

    fn ifindex(&self, dev: &str) -> Result<u32, String> {
        let out = Command::new("ip")
            .args(["-n", &self.names[1], "-o", "link", "show", dev])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.split(':')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("ip link show {dev}: {text}"))
    }

    /// One scenario: capture, run the client(s), stop the capture, replay it, check.
    fn scenario(&self, s: Scenario, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let log_from = read(&self.coturn_log).len();
        let cap = dir.join("cap.pcap");
        let mut cmd = self.command(Node::Middlebox, "tcpdump");
        cmd.args(["-i", "any", "-n", "-p", "--immediate-mode", "-s", "65535"])
            .args(["-B", "8192", "-w"])
            .arg(&cap)
            .arg("udp or tcp");
        let mut dump = netns::spawn(cmd, &dir.join("tcpdump"))?;
        dump.wait_for_stderr("listening on", START_TIMEOUT)?;

        let clients = match s {
            Scenario::UclientUdp => vec![self.uclient(dir, false)?],
            Scenario::UclientTcp => vec![self.uclient(dir, true)?],
            Scenario::BaresipUdp => self.baresip_call(dir)?,
        };
        // coturn logs a session's usage a moment after its deletion: wait for every deleted
        // session's `closed` line (and let the last packets reach tcpdump).
        let deadline = Instant::now() + STOP_TIMEOUT;
        let coturn = loop {
            let log = read(&self.coturn_log);
            let c = truth::Coturn::parse(log.get(log_from..).unwrap_or(""));
            if c.all_closed() || Instant::now() > deadline {
                break c;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(200));
        dump.stop("INT", STOP_TIMEOUT)?;
        if !dump
            .stderr()
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel")
        {
            return Err(format!("tcpdump dropped packets:\n{}", dump.stderr()));
        }
        let mut points = Vec::new();
        for dev in ["v1", "v2"] {
            points.push((dev, self.ifindex(dev)?));
        }
        let report = replay(&cap, &points, &dir.join("replay.json"))?;
        let problems = match s {
            Scenario::BaresipUdp => truth::check_baresip(&report, &coturn, &clients),
            _ => truth::check_uclient(&report, &coturn, &clients[0], s == Scenario::UclientTcp),
        };
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} problem(s):\n  {}",
                problems.len(),
                problems.join("\n  ")
            ))
        }
    }

    /// `turnutils_uclient` with two clients (`-m 2`), channels (the default; `-c`: no RTCP
    /// allocation pair), verbose: its stdout names each allocation's client address, relayed
    /// address and channels. Returns its output.
    fn uclient(&self, dir: &Path, tcp: bool) -> Result<String, String> {
        let mut cmd = self.command(Node::Client, "turnutils_uclient");
        if tcp {
            cmd.arg("-t");
        }
        cmd.args(["-v", "-c", "-m", "2", "-n", &UCLIENT_MESSAGES.to_string()])
            .args(["-u", USER, "-w", PASSWORD, "-e", PEER_IP])
            .args(["-r", &PEER_PORT.to_string(), "-X", SERVER_IP]);
        let mut p = netns::spawn(cmd, &dir.join("uclient"))?;
        let st = p.wait(CLIENT_TIMEOUT)?;
        let out = read(&dir.join("uclient.out"));
        if !st.success() {
            return Err(format!("turnutils_uclient: {st}\n{out}\n{}", p.stderr()));
        }
        Ok(out)
    }

    /// A baresip call from the client namespace (media through coturn) to a baresip in the
    /// peer namespace that answers by itself. Returns the caller's and the callee's logs.
    fn baresip_call(&self, dir: &Path) -> Result<Vec<String>, String> {
        let conf = |name: &str, account: &str| -> Result<PathBuf, String> {
            let d = dir.join(name);
            std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
            std::fs::write(d.join("config"), BARESIP_CONFIG).map_err(|e| e.to_string())?;
            std::fs::write(d.join("accounts"), account).map_err(|e| e.to_string())?;
            Ok(d)
        };
        let caller = conf(
            "caller",
            &format!(
                "<sip:alice@{CLIENT_IP}>;regint=0;medianat=turn;\
                 stunserver=turn:{SERVER_IP}:3478;stunuser={USER};stunpass={PASSWORD};\
                 audio_codecs=PCMU\n"
            ),
        )?;
        let callee = conf(
            "callee",
            &format!("<sip:bob@{PEER_IP}>;regint=0;answermode=auto;audio_codecs=PCMU\n"),
        )?;
        // The callee hangs up (`-t`: it quits, which ends its calls) and the caller, which quits
        // later, then deletes its allocations: so the callee's last RTP reaches the relay
        // before the delete. The other way round coturn still relays packets that arrive
        // between the delete and its session's close, which the probe no longer attributes.
        let mut cmd = self.command(Node::Peer, "baresip");
        cmd.arg("-f")
            .arg(&callee)
            .args(["-t", &CALL_SECS.to_string()]);
        let mut bob = netns::spawn(cmd, &dir.join("callee"))?;
        let deadline = Instant::now() + START_TIMEOUT;
        while !read(&dir.join("callee.out")).contains("baresip is ready") {
            if let Some(st) = bob.try_status() {
                return Err(format!("callee baresip exited ({st})"));
            }
            if Instant::now() > deadline {
                return Err("callee baresip not ready".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut cmd = self.command(Node::Client, "baresip");
        cmd.arg("-f")
            .arg(&caller)
            .args(["-t", &(CALL_SECS + 2).to_string()])
            .args(["-e", &format!("/dial sip:bob@{PEER_IP}")]);
        let mut alice = netns::spawn(cmd, &dir.join("caller"))?;
        let st = alice.wait(CLIENT_TIMEOUT)?;
        if !st.success() {
            return Err(format!("caller baresip: {st}"));
        }
        bob.wait(CLIENT_TIMEOUT)?;
        Ok(vec![
            read(&dir.join("caller.out")),
            read(&dir.join("callee.out")),
        ])
    }
}

/// Both user agents: no audio device (a 440 Hz sine in, the bridge to nowhere out), PCMU,
/// RTCP on its own port (so the caller makes two allocations, RTP and RTCP), SIP over UDP.
const BARESIP_CONFIG: &str = "poll_method epoll\nsip_listen 0.0.0.0:5060\nsip_transports udp\n\
    audio_player aubridge,nil\naudio_source ausine,440\naudio_alert aubridge,nil\n\
    ausrc_srate 48000\nauplay_srate 48000\nausrc_channels 2\nauplay_channels 1\n\
    rtcp_mux no\njitter_buffer_delay 1-5\nmodule_path /usr/lib/baresip/modules\n\
    module g711.so\nmodule ausine.so\nmodule aubridge.so\nmodule turn.so\n\
    module_app account.so\nmodule_app menu.so\n";

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut c) = self.coturn.take() {
            let _ = c.stop("TERM", STOP_TIMEOUT);
        }
        for ns in &self.names {
            // Only processes inside our own, uniquely named namespaces.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// `rtcprobe replay --format json` of the capture, the middlebox's interface indexes named.
fn replay(cap: &Path, points: &[(&str, u32)], out_path: &Path) -> Result<Value, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtcprobe"));
    cmd.arg("replay").arg(cap).args(["--format", "json"]);
    for (dev, index) in points {
        cmd.arg("--point-name").arg(format!("{index}={dev}"));
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("replay: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let _ = std::fs::write(out_path, &out.stdout);
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn ip(args: &[&str]) -> Result<(), String> {
    run(Command::new("ip").args(args))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
