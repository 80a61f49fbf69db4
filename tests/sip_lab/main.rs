//! The SIP lab (docs/lab.md, "SIP lab"; issue 13, item 4(a)): real SIP software placing calls
//! in two throwaway network namespaces, the capture of the link replayed by `rtcprobe replay
//! --format json`, and the probe's `calls` held against what the software says it did (SIPp's
//! message traces) and what the capture shows (TShark).
//!
//! ```text
//!  caller 10.78.0.1 [veth0] ───veth─── [veth1] 10.78.0.2 callee
//!  SIPp UACs / baresip     tcpdump             SIPp UASs: 5060 answers (and echoes RTP),
//!                                              5062 busy (486), 5064 rings (487) / baresip
//! ```
//!
//! Two scenarios, each in namespaces of its own:
//!
//! * `sipp`: three overlapping answered calls (100 ms apart), each playing 50 PCMA packets
//!   (1.5 s, a cut of Debian's `g711a.pcap`) that the callee echoes back from its one media
//!   port, hung up with a BYE; then one call refused with 486 Busy Here and one cancelled
//!   while ringing. About 4 s.
//! * `baresip` (baresip.rs): one 3 s PCMU call between two baresip user agents. About 4 s.
//!
//! Own `main` (`harness = false`) like the media lab: positional arguments filter scenarios,
//! `--list` lists them. Needs root, iproute2, tcpdump, TShark, SIPp (Debian `sip-tester`, for
//! its g711a.pcap too) and editcap, baresip (scripts/setup-test); without them it prints
//! `skipped: …` and passes, except under `CI=true`, where it fails.

mod baresip;
#[allow(dead_code)]
#[path = "../live/netns.rs"]
mod netns;
mod trace;

use netns::{Proc, Side, VethPair, DEV_A, DEV_B};
use rtcprobe::engine::record::rfc3339_micros;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use trace::Msg;

/// The lab's own subnet (the media lab uses 10.77, others 10.79).
const CALLER_IP: &str = "10.78.0.1";
const CALLEE_IP: &str = "10.78.0.2";
/// Where Debian's sip-tester installs the RTP capture its `uac_pcap` scenario plays.
const G711A: &str = "/usr/share/sip-tester/g711a.pcap";
/// Packets of it played per call (30 ms each: 1.5 s).
const RTP_PACKETS: u64 = 50;
/// Answered calls (overlapping), and how long each lasts from the ACK to the BYE.
const CALLS: usize = 3;
const HOLD_MS: u64 = 1700;
/// The callee's pause between 180 and 200 (uas_media.xml).
const UAS_ANSWER_DELAY_MS: f64 = 200.0;
/// The callee's media port (its answers' `m=audio`), and the first of the caller's.
const UAS_MEDIA_PORT: u16 = 16000;
const UAC_MEDIA_PORT: u16 = 17000;
/// SIPp's timestamps against the capture's: both the host's clock, apart by the scheduling
/// latency between the socket call and the log line.
const SIPP_SLACK_MS: f64 = 25.0;
const START_TIMEOUT: Duration = Duration::from_secs(10);
const RUN_TIMEOUT: Duration = Duration::from_secs(25);
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

const UAC_MEDIA: &str = include_str!("uac_media.xml");
const UAS_MEDIA: &str = include_str!("uas_media.xml");
const UAC_BUSY: &str = include_str!("uac_busy.xml");
const UAS_BUSY: &str = include_str!("uas_busy.xml");
const UAC_CANCEL: &str = include_str!("uac_cancel.xml");
const UAS_CANCEL: &str = include_str!("uas_cancel.xml");

fn main() {
    trace::self_check();
    let args: Vec<String> = std::env::args().collect();
    let all = ["sipp", "baresip"];
    if args.iter().any(|a| a == "--list") {
        for s in all {
            println!("{s}: test");
        }
        return;
    }
    // libtest's conventions: positional arguments are name filters; `--ignored` runs none.
    if args.iter().any(|a| a == "--ignored") {
        return;
    }
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
    let chosen: Vec<&str> = all
        .into_iter()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.contains(f.as_str())))
        .collect();
    if chosen.is_empty() {
        return;
    }
    let started = Instant::now();
    let mut tools = vec!["ip", "ss", "tcpdump", "tshark"];
    let mut files = Vec::new();
    if chosen.contains(&"sipp") {
        tools.extend(["sipp", "editcap"]);
        files.push(G711A.to_owned());
    }
    if chosen.contains(&"baresip") {
        tools.push("baresip");
        files.extend(
            baresip::MODULES
                .iter()
                .map(|m| format!("/usr/lib/baresip/modules/{m}.so")),
        );
    }
    if !netns::prerequisites("sip_lab", &tools) || !files.iter().all(|f| have_file(f)) {
        summary(0, 0, chosen.len(), started);
        return;
    }
    let mut failed = Vec::new();
    for &s in &chosen {
        let t0 = Instant::now();
        let r = std::panic::catch_unwind(|| match s {
            "sipp" => sipp_calls(),
            _ => baresip::call(),
        });
        let ok = r.as_ref().is_ok_and(|r| r.is_ok());
        if let Ok(Err(e)) = &r {
            eprintln!("sip_lab {s}: {e}");
        }
        eprintln!(
            "test {s} ... {} ({:.1} s)",
            if ok { "ok" } else { "FAILED" },
            t0.elapsed().as_secs_f64()
        );
        if !ok {
            failed.push(s);
        }
    }
    summary(chosen.len() - failed.len(), failed.len(), 0, started);
    if !failed.is_empty() {
        eprintln!("sip_lab: failed: {}", failed.join(", "));
        std::process::exit(1);
    }
}

fn have_file(path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "sip_lab: {path} missing but CI=true (scripts/setup-test installs sip-tester, baresip)"
    );
    eprintln!("sip_lab: skipped: needs {path} (Debian sip-tester, baresip: scripts/setup-test)");
    false
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
pub struct Scratch(PathBuf, bool);

impl Scratch {
    fn new(tag: &str) -> Self {
        let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("sip-lab-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p, false)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn write(&self, name: &str, text: &str) -> Result<PathBuf, String> {
        let p = self.path(name);
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.1 && std::env::var_os("LAB_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            eprintln!("sip_lab: files kept in {}", self.0.display());
        }
    }
}

/// What the run left: the capture, the replay's JSON, SIPp's traces.
struct Run {
    cap: PathBuf,
    report: Value,
    /// The callers' traces: answered calls, the busy one, the cancelled one.
    media: Vec<Msg>,
    busy: Vec<Msg>,
    cancel: Vec<Msg>,
}

fn sipp_calls() -> Result<(), String> {
    let mut dir = Scratch::new("sipp");
    let run = {
        let pair = VethPair::new("sip")?;
        let r = run_calls(&pair, &dir)?;
        // `pair` drops here: every process left in the namespaces is killed, both deleted.
        r
    };
    check(&run);
    dir.1 = true;
    Ok(())
}

fn run_calls(pair: &VethPair, dir: &Scratch) -> Result<Run, String> {
    addresses(pair)?;
    // The first RTP_PACKETS packets of Debian's capture: what each answered call plays.
    let rtp = dir.path("g711a-cut.pcap");
    run(Command::new("editcap")
        .args(["-r", G711A])
        .arg(&rtp)
        .arg(format!("1-{RTP_PACKETS}")))?;
    let rtp_str = rtp.to_str().ok_or("scratch path not UTF-8")?;
    let uac_media = dir.write(
        "uac_media.xml",
        &UAC_MEDIA
            .replace("RTP_PCAP", rtp_str)
            .replace("PAUSE_MS", &HOLD_MS.to_string()),
    )?;
    let uas_media = dir.write("uas_media.xml", UAS_MEDIA)?;
    let uac_busy = dir.write("uac_busy.xml", UAC_BUSY)?;
    let uas_busy = dir.write("uas_busy.xml", UAS_BUSY)?;
    let uac_cancel = dir.write("uac_cancel.xml", UAC_CANCEL)?;
    let uas_cancel = dir.write("uas_cancel.xml", UAS_CANCEL)?;

    let (cap, dump) = start_dump(pair, dir)?;

    // The callees, each exiting after its calls.
    let mut uases: Vec<Proc> = Vec::new();
    for (name, xml, port, calls, media) in [
        ("uas_media", &uas_media, 5060, CALLS, true),
        ("uas_busy", &uas_busy, 5062, 1, false),
        ("uas_cancel", &uas_cancel, 5064, 1, false),
    ] {
        let mut cmd = sipp(pair, Side::B, xml, CALLEE_IP, port, calls, dir, name);
        if media {
            cmd.args(["-mi", CALLEE_IP, "-mp", &UAS_MEDIA_PORT.to_string()])
                .arg("-rtp_echo");
        }
        uases.push(pair.spawn(cmd, &dir.path(name))?);
    }
    for port in [5060, 5062, 5064] {
        wait_bound(pair, port, &mut uases)?;
    }

    // The callers, one after the other; SIPp exits 0 when every call went as its scenario says.
    for (name, xml, port, calls, media_port) in [
        ("uac_media", &uac_media, 5060, CALLS, UAC_MEDIA_PORT),
        ("uac_busy", &uac_busy, 5062, 1, 18000),
        ("uac_cancel", &uac_cancel, 5064, 1, 18100),
    ] {
        let mut cmd = sipp(pair, Side::A, xml, CALLER_IP, 5060, calls, dir, name);
        cmd.args(["-mi", CALLER_IP, "-mp", &media_port.to_string()])
            // A call every 100 ms, all at once (each lasts about 1.9 s): every call's media
            // starts after the later calls began, all answered from the callee's one media
            // port, so only the caller's port tells them apart.
            .args(["-l", &calls.to_string(), "-r", "10", "-timeout", "20"])
            .arg(format!("{CALLEE_IP}:{port}"));
        let out = pair.output(cmd, &dir.path(name), RUN_TIMEOUT)?;
        if !out.status.success() {
            return Err(format!(
                "{name}: SIPp {}:\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    for mut u in uases {
        let st = u.wait(STOP_TIMEOUT)?;
        if !st.success() {
            return Err(format!("a SIPp UAS: {st}\n{}", u.stderr()));
        }
    }
    // The last 200 OK has been received by the caller, hence captured.
    stop_dump(dump)?;
    let report = replay(&cap, dir)?;
    Ok(Run {
        cap,
        report,
        media: trace::read(&dir.path("uac_media.msg"))?,
        busy: trace::read(&dir.path("uac_busy.msg"))?,
        cancel: trace::read(&dir.path("uac_cancel.msg"))?,
    })
}

/// The lab's addresses on the veth pair.
pub fn addresses(pair: &VethPair) -> Result<(), String> {
    for (side, dev, addr) in [(Side::A, DEV_A, CALLER_IP), (Side::B, DEV_B, CALLEE_IP)] {
        run(Command::new("ip").args([
            "-n",
            pair.name(side),
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            dev,
        ]))?;
    }
    Ok(())
}

/// tcpdump on the caller's end of the link, into `cap.pcap`; returns once it listens.
pub fn start_dump(pair: &VethPair, dir: &Scratch) -> Result<(PathBuf, Proc), String> {
    let cap = dir.path("cap.pcap");
    let mut cmd = pair.command(Side::A, "tcpdump");
    cmd.args([
        "-i",
        DEV_A,
        "-n",
        "-p",
        "--immediate-mode",
        "-U",
        "-s",
        "65535",
    ])
    .arg("-w")
    .arg(&cap)
    .arg("udp");
    let mut dump = pair.spawn(cmd, &dir.path("tcpdump"))?;
    dump.wait_for_stderr("listening on", START_TIMEOUT)?;
    Ok((cap, dump))
}

/// Stop tcpdump (immediate mode: it has every packet sent so far); no kernel drops allowed.
pub fn stop_dump(mut dump: Proc) -> Result<(), String> {
    std::thread::sleep(Duration::from_millis(200));
    dump.stop("INT", STOP_TIMEOUT)?;
    if !dump
        .stderr()
        .lines()
        .any(|l| l.trim() == "0 packets dropped by kernel")
    {
        return Err(format!("tcpdump dropped packets:\n{}", dump.stderr()));
    }
    Ok(())
}

/// `rtcprobe replay --format json` of the capture, identities kept; also in `replay.json`.
pub fn replay(cap: &Path, dir: &Scratch) -> Result<Value, String> {
    let config = dir.write("sip.toml", "[sip]\nkeep_identities = true\n")?;
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .arg("replay")
        .arg(cap)
        .args(["--format", "json", "--config"])
        .arg(&config)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("replay: {}", String::from_utf8_lossy(&out.stderr)));
    }
    std::fs::write(dir.path("replay.json"), &out.stdout).map_err(|e| e.to_string())?;
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    Ok(report)
}

/// SIPp in the namespace, `calls` calls of scenario `xml`, its message trace in `<name>.msg`,
/// timestamps in UTC.
#[allow(clippy::too_many_arguments)]
fn sipp(
    pair: &VethPair,
    side: Side,
    xml: &Path,
    ip: &str,
    port: u16,
    calls: usize,
    dir: &Scratch,
    name: &str,
) -> Command {
    let mut cmd = pair.command(side, "sipp");
    cmd.env("TZ", "UTC")
        .current_dir(&dir.0)
        .arg("-sf")
        .arg(xml)
        .args(["-i", ip, "-p", &port.to_string(), "-m", &calls.to_string()])
        .args(["-nostdin", "-trace_msg", "-message_file"])
        .arg(dir.path(&format!("{name}.msg")));
    cmd
}

/// Wait until a UDP socket is bound to `port` in the callee's namespace (a UAS is up), so
/// that no INVITE is lost and retransmitted.
pub fn wait_bound(pair: &VethPair, port: u16, procs: &mut [Proc]) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let want = format!("{CALLEE_IP}:{port}");
    while Instant::now() < deadline {
        let out = pair
            .command(Side::B, "ss")
            .args(["-Hunl"])
            .output()
            .map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .any(|w| w == want)
        {
            return Ok(());
        }
        for p in procs.iter_mut() {
            if let Some(st) = p.try_status() {
                return Err(format!("a SIPp UAS exited ({st}):\n{}", p.stderr()));
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("no UAS bound to {want} within {START_TIMEOUT:?}"))
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

/// One SIP message as the capture has it.
#[derive(Debug)]
pub struct Wire {
    pub at_ns: i64,
    pub method: String,
    pub status: Option<u16>,
    pub cseq_method: String,
}

impl Wire {
    fn is(&self, what: &str) -> bool {
        self.method == what || self.status.map(|s| s.to_string()).as_deref() == Some(what)
    }
}

/// The first message of `call` that is `what` (a method, or a status code of an INVITE).
pub fn first<'a>(msgs: &'a [Wire], what: &str) -> &'a Wire {
    msgs.iter()
        .find(|m| m.is(what) && (m.status.is_none() || m.cseq_method == "INVITE"))
        .unwrap_or_else(|| panic!("no {what} in the capture: {msgs:?}"))
}

/// The first message of the SIPp trace that is `what` for `call`.
fn sipp_at(trace: &[Msg], call: &str, what: &str) -> i64 {
    trace
        .iter()
        .find(|m| m.call_id == call && m.what == what)
        .unwrap_or_else(|| panic!("{call}: no {what} in SIPp's trace"))
        .at_ns
}

pub fn ms(from: i64, to: i64) -> f64 {
    (to - from) as f64 / 1e6
}

pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

/// The assertions: the probe's calls against SIPp's traces and the capture.
fn check(run: &Run) {
    let r = &run.report;
    let calls = r["calls"].as_array().expect("calls in the replay");
    let by_id: BTreeMap<&str, &Value> = calls
        .iter()
        .map(|c| (c["id"].as_str().expect("id"), c))
        .collect();

    // The calls SIPp placed: the Call-IDs of the INVITEs it sent.
    let invites = |t: &[Msg]| -> Vec<String> {
        let mut ids: Vec<String> = t
            .iter()
            .filter(|m| m.sent && m.what == "INVITE")
            .map(|m| m.call_id.clone())
            .collect();
        ids.dedup();
        ids
    };
    let (media, busy, cancel) = (
        invites(&run.media),
        invites(&run.busy),
        invites(&run.cancel),
    );
    assert_eq!(media.len(), CALLS, "SIPp's answered calls: {media:?}");
    assert_eq!((busy.len(), cancel.len()), (1, 1));
    let sipp_ids: BTreeSet<&str> = media
        .iter()
        .chain(&busy)
        .chain(&cancel)
        .map(String::as_str)
        .collect();
    assert_eq!(
        by_id.keys().copied().collect::<BTreeSet<_>>(),
        sipp_ids,
        "the probe's Call-IDs are SIPp's"
    );
    assert_eq!(calls.len(), 2 + CALLS, "one call per Call-ID");

    let wire = wire_sip(&run.cap);
    assert_eq!(
        wire.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        sipp_ids,
        "the capture's Call-IDs are SIPp's"
    );

    let streams = wire_rtp(&run.cap);
    assert_eq!(
        streams.len(),
        2 * CALLS,
        "the capture's streams: {streams:?}"
    );

    // The answered calls overlap: each began before the first one's BYE.
    let first_bye = media
        .iter()
        .map(|id| first(&wire[id], "BYE").at_ns)
        .min()
        .expect("BYEs");
    for id in &media {
        assert!(
            first(&wire[id], "INVITE").at_ns < first_bye,
            "{id}: no overlap"
        );
    }
    let mut summary = Vec::new();
    for (id, c) in &by_id {
        let w = &wire[*id];
        let invite = first(w, "INVITE").at_ns;
        let outcome = c["outcome"].as_str().expect("outcome");
        assert_eq!(
            c["start"].as_str(),
            Some(rfc3339_micros(invite).as_str()),
            "{id}: start is the INVITE's capture time"
        );
        let setup = &c["setup_time_ms"];
        let ringing = setup["ringing"].as_f64();
        let answer = setup["answer"].as_f64();
        let trace = if media.iter().any(|m| m == id) {
            &run.media
        } else if busy.iter().any(|m| m == id) {
            &run.busy
        } else {
            &run.cancel
        };
        let sipp_invite = sipp_at(trace, id, "INVITE");
        if media.iter().any(|m| m == id) {
            assert_eq!(outcome, "bye", "{id}");
            assert_eq!(c["sip"]["status"].as_u64(), Some(200), "{id}");
            // Setup times: exactly the capture's, and SIPp's own within scheduling slack.
            let (t180, t200, bye) = (
                first(w, "180").at_ns,
                first(w, "200").at_ns,
                first(w, "BYE").at_ns,
            );
            let (ringing, answer) = (ringing.expect("ringing"), answer.expect("answer"));
            assert!(close(ringing, ms(invite, t180), 1e-6), "{id}: {ringing}");
            assert!(close(answer, ms(invite, t200), 1e-6), "{id}: {answer}");
            let sipp_answer = ms(sipp_invite, sipp_at(trace, id, "200"));
            assert!(
                close(answer, sipp_answer, SIPP_SLACK_MS),
                "{id}: answer {answer} ms, SIPp's {sipp_answer} ms"
            );
            assert!(
                close(
                    ringing,
                    ms(sipp_invite, sipp_at(trace, id, "180")),
                    SIPP_SLACK_MS
                ),
                "{id}: ringing {ringing} ms"
            );
            assert!(answer >= UAS_ANSWER_DELAY_MS, "{id}: answer {answer} ms");
            assert_eq!(
                c["end"].as_str(),
                Some(rfc3339_micros(bye).as_str()),
                "{id}"
            );
            let dur = c["duration_s"].as_f64().expect("duration");
            assert!(close(dur, ms(t200, bye) / 1e3, 1e-9), "{id}: {dur}");
            let sipp_dur = ms(sipp_at(trace, id, "200"), sipp_at(trace, id, "BYE")) / 1e3;
            assert!(
                close(dur, sipp_dur, SIPP_SLACK_MS / 1e3) && dur * 1e3 >= HOLD_MS as f64,
                "{id}: duration {dur} s, SIPp's {sipp_dur} s"
            );
            assert_eq!(c["codecs"], serde_json::json!(["PCMA/8000"]), "{id}");
            // Its media: the caller's port from its INVITE's SDP, both directions, each
            // stream as the capture has it and SIPp played it.
            let port = trace
                .iter()
                .find(|m| m.call_id == *id && m.what == "INVITE")
                .and_then(|m| m.audio_port)
                .expect("the INVITE's m=audio");
            let uac = format!("{CALLER_IP}:{port}");
            let uas = format!("{CALLEE_IP}:{UAS_MEDIA_PORT}");
            let refs = c["streams"].as_array().expect("streams");
            let mut dirs: Vec<(String, String)> = refs
                .iter()
                .map(|s| (str_of(&s["src"]), str_of(&s["dst"])))
                .collect();
            dirs.sort();
            let mut want = vec![(uac.clone(), uas.clone()), (uas.clone(), uac.clone())];
            want.sort();
            assert_eq!(dirs, want, "{id}: the call's streams");
            for s in refs {
                let rec = record(r, s);
                let key = (
                    str_of(&rec["src"]),
                    str_of(&rec["dst"]),
                    rec["ssrc"].as_u64().expect("ssrc") as u32,
                );
                let (packets, pts) = &streams[&key];
                assert_eq!(rec["packets"].as_u64(), Some(*packets), "{key:?}: packets");
                assert_eq!(*packets, RTP_PACKETS, "{key:?}: what SIPp played");
                assert_eq!(pts.iter().copied().collect::<Vec<_>>(), [8]);
                assert_eq!(rec["payload_types"], serde_json::json!([8]), "{key:?}");
                assert_eq!(rec["clock_rate"].as_u64(), Some(8000), "{key:?}");
                assert_eq!(rec["clock_rate_source"].as_str(), Some("sdp"), "{key:?}");
                assert_eq!(rec["lost"].as_i64(), Some(0), "{key:?}");
                assert_eq!(rec["expected"].as_u64(), Some(RTP_PACKETS), "{key:?}");
            }
            let worst = &c["worst"];
            assert_eq!(worst["loss_ratio"].as_f64(), Some(0.0), "{id}: {worst}");
            summary.push(format!(
                "{id}: bye, ringing {ringing:.3} ms, answer {answer:.3} ms (SIPp {sipp_answer:.3}), \
                 {dur:.3} s, 2 streams x {RTP_PACKETS} PCMA packets, MOS-LQ {}",
                worst["mos_lq"]
            ));
        } else if busy.iter().any(|m| m == id) {
            assert_eq!(outcome, "failed", "{id}");
            assert_eq!(c["sip"]["status"].as_u64(), Some(486), "{id}");
            assert_eq!((ringing, answer), (None, None), "{id}");
            assert_eq!(
                c["end"].as_str(),
                Some(rfc3339_micros(first(w, "486").at_ns).as_str())
            );
            assert!(c["streams"].as_array().map_or(true, Vec::is_empty), "{id}");
            summary.push(format!("{id}: failed 486"));
        } else {
            assert_eq!(outcome, "cancelled", "{id}");
            assert_eq!(c["sip"]["status"].as_u64(), Some(487), "{id}");
            let ringing = ringing.expect("ringing");
            assert!(
                close(ringing, ms(invite, first(w, "180").at_ns), 1e-6),
                "{id}"
            );
            assert!(close(
                ringing,
                ms(sipp_invite, sipp_at(trace, id, "180")),
                SIPP_SLACK_MS
            ));
            assert_eq!(answer, None, "{id}");
            assert!(c["streams"].as_array().map_or(true, Vec::is_empty), "{id}");
            summary.push(format!("{id}: cancelled 487, ringing {ringing:.3} ms"));
        }
    }
    let outcomes = &r["summary"]["sip"]["outcomes"];
    assert_eq!(outcomes["bye"].as_u64(), Some(CALLS as u64), "{outcomes}");
    assert_eq!(outcomes["failed"].as_u64(), Some(1), "{outcomes}");
    assert_eq!(outcomes["cancelled"].as_u64(), Some(1), "{outcomes}");
    // Every RTP stream of the capture is one of the probe's, with TShark's packet count.
    let ours = probe_streams(r);
    let theirs: BTreeMap<_, u64> = streams.iter().map(|(k, v)| (k.clone(), v.0)).collect();
    assert_eq!(ours, theirs, "streams and packet counts against TShark");
    assert_eq!(stream_timing_agrees(r, &run.cap), 2 * CALLS);
    for line in summary {
        eprintln!("  {line}");
    }
}

pub fn str_of(v: &Value) -> String {
    v.as_str().expect("a string").to_owned()
}

/// The capture's SIP messages by Call-ID (TShark).
pub fn wire_sip(cap: &Path) -> BTreeMap<String, Vec<Wire>> {
    let rows = trace::tshark(
        cap,
        "sip",
        &[
            "frame.time_epoch",
            "sip.Call-ID",
            "sip.Method",
            "sip.Status-Code",
            "sip.CSeq.method",
        ],
    )
    .expect("tshark sip");
    let mut wire: BTreeMap<String, Vec<Wire>> = BTreeMap::new();
    for row in rows {
        let [t, id, method, status, cseq] = &row[..] else {
            panic!("tshark row {row:?}");
        };
        wire.entry(id.clone()).or_default().push(Wire {
            at_ns: trace::epoch_ns(t).expect("frame time"),
            method: method.clone(),
            status: status.parse().ok(),
            cseq_method: cseq.clone(),
        });
    }
    wire
}

/// The capture's RTP streams (TShark, which follows the SDP): (src, dst, ssrc) → (packets,
/// payload types).
pub type WireStreams = BTreeMap<(String, String, u32), (u64, BTreeSet<u8>)>;

pub fn wire_rtp(cap: &Path) -> WireStreams {
    let rtp = trace::tshark(
        cap,
        "rtp",
        &[
            "ip.src",
            "udp.srcport",
            "ip.dst",
            "udp.dstport",
            "rtp.ssrc",
            "rtp.p_type",
        ],
    )
    .expect("tshark rtp");
    let mut streams = WireStreams::new();
    for row in &rtp {
        let [s, sp, d, dp, ssrc, pt] = &row[..] else {
            panic!("tshark row {row:?}");
        };
        let ssrc = u32::from_str_radix(ssrc.trim_start_matches("0x"), 16).expect("ssrc");
        let e = streams
            .entry((format!("{s}:{sp}"), format!("{d}:{dp}"), ssrc))
            .or_default();
        e.0 += 1;
        e.1.insert(pt.parse().expect("pt"));
    }
    streams
}

/// The probe's streams: (src, dst, ssrc) → packets.
pub fn probe_streams(report: &Value) -> BTreeMap<(String, String, u32), u64> {
    report["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| {
            (
                (
                    str_of(&s["src"]),
                    str_of(&s["dst"]),
                    s["ssrc"].as_u64().expect("ssrc") as u32,
                ),
                s["packets"].as_u64().expect("packets"),
            )
        })
        .collect()
}

/// The record in `streams` that a call's stream reference points to.
pub fn record<'a>(report: &'a Value, s: &Value) -> &'a Value {
    report["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|x| {
            x["src"] == s["src"]
                && x["dst"] == s["dst"]
                && x["ssrc"] == s["ssrc"]
                && x["observed_at"] == s["observed_at"]
        })
        .expect("the call's stream is in streams")
}

/// Each stream's timing figures against TShark's RTP statistics (`-z rtp,streams`, printed
/// to 3 decimals) on the same capture: the longest gap between packets ("Max Delta") and the
/// RFC 3550 A.8 jitter's mean and maximum over the stream. Returns how many were compared.
pub fn stream_timing_agrees(report: &Value, cap: &Path) -> usize {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(cap)
        .args(["-q", "-z", "rtp,streams"])
        .output()
        .expect("tshark -z rtp,streams");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut theirs: BTreeMap<(String, String, u32), [f64; 3]> = BTreeMap::new();
    for line in text.lines() {
        // start end src sport dst dport ssrc payload packets lost (ratio) min-Δ mean-Δ max-Δ
        // min-jitter mean-jitter max-jitter [problems]
        let t: Vec<&str> = line.split_whitespace().collect();
        let Some(ssrc) = t.get(6).and_then(|x| x.strip_prefix("0x")) else {
            continue;
        };
        let f = |i: usize| t[i].parse::<f64>().expect("a number in -z rtp,streams");
        theirs.insert(
            (
                format!("{}:{}", t[2], t[3]),
                format!("{}:{}", t[4], t[5]),
                u32::from_str_radix(ssrc, 16).expect("ssrc"),
            ),
            [f(13), f(15), f(16)],
        );
    }
    let streams = report["streams"].as_array().expect("streams");
    assert_eq!(streams.len(), theirs.len(), "TShark's streams: {text}");
    for s in streams {
        let key = (
            str_of(&s["src"]),
            str_of(&s["dst"]),
            s["ssrc"].as_u64().expect("ssrc") as u32,
        );
        let t = theirs
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} not in {text}"));
        let ours = ["max_gap_ms", "mean_jitter_ms", "max_jitter_ms"]
            .map(|k| s[k].as_f64().unwrap_or_else(|| panic!("{key:?}: {k}")));
        for (i, name) in ["max gap", "mean jitter", "max jitter"].iter().enumerate() {
            assert!(
                close(ours[i], t[i], 0.0006),
                "{key:?}: {name} {} ms, TShark {} ms",
                ours[i],
                t[i]
            );
        }
    }
    streams.len()
}
