//! `rtcprobe top` in a real terminal: tmux runs it against `rtcprobe run`, which captures in a
//! network namespace what tcpreplay sends from another (live/netns.rs). The test reads the
//! screen with `tmux capture-pane`, finds every stream of the daemon's `/streams` with its
//! packet count and jitter as `/streams` gives them, presses keys to change the sort and sees
//! the order change, then quits with `q` and checks that top exited.
//!
//! The daemon's endpoint listens on the loopback of its own namespace; top runs there too
//! (`ip netns exec`), and the test reads `/streams` from a thread that joins the namespace
//! (setns(2)). tmux runs on a private socket (`-L`), killed at the end. Needs root, iproute2,
//! tcpreplay and tmux: skips without them, fails under CI=true.

#[allow(dead_code)] // the live tests use the rest of it
#[path = "live/netns.rs"]
mod netns;

use netns::{prerequisites, Side, VethPair, DEV_A, DEV_B};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PORT: u16 = 10533;
const WAIT: Duration = Duration::from_secs(30);

/// A tmux server of our own; killed on drop.
struct Tmux(String);

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.0]);
        c
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "top"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, k: &str) {
        assert!(self
            .cmd()
            .args(["send-keys", "-t", "top", k])
            .status()
            .unwrap()
            .success());
    }

    fn alive(&self) -> bool {
        self.cmd()
            .args(["has-session", "-t", "top"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Wait until the screen satisfies `ok`, returning it; panics past [`WAIT`].
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "screen never showed {what}:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// GET `path` from the daemon's endpoint, inside namespace `ns`.
fn get_in(ns: &str, path: &str) -> Option<String> {
    let (ns, path) = (ns.to_string(), path.to_string());
    std::thread::spawn(move || {
        let f = std::fs::File::open(format!("/var/run/netns/{ns}")).ok()?;
        // SAFETY: a valid fd of a network namespace; only this thread changes namespace.
        let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
        if rc != 0 {
            return None;
        }
        let mut s = std::net::TcpStream::connect(("127.0.0.1", PORT)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut body = Vec::new();
        s.read_to_end(&mut body).ok()?;
        let text = String::from_utf8(body).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200").then(|| body.to_string())
    })
    .join()
    .ok()
    .flatten()
}

fn streams(ns: &str) -> Vec<Value> {
    let body = get_in(ns, "/streams").expect("GET /streams");
    serde_json::from_str::<Vec<Value>>(&body).expect("/streams JSON")
}

/// The first data line of the table (the line after the header).
fn first_row(screen: &str) -> String {
    let mut lines = screen.lines().skip_while(|l| !l.starts_with("SOURCE"));
    lines.next();
    lines.next().unwrap_or_default().to_string()
}

#[test]
fn top_shows_the_daemons_streams_and_sorts_them() {
    if !prerequisites(
        "top_shows_the_daemons_streams",
        &["ip", "tcpreplay", "tmux"],
    ) {
        return;
    }
    let dir = std::env::temp_dir().join(format!("rtcprobe-top-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _clean = Cleanup(dir.clone());
    let pair = VethPair::new("top").unwrap_or_else(|e| panic!("{e}"));
    let b = pair.name(Side::B).to_string();
    assert!(Command::new("ip")
        .args(["-n", &b, "link", "set", "lo", "up"])
        .status()
        .unwrap()
        .success());
    let config = dir.join("probe.toml");
    std::fs::write(
        &config,
        format!(
            "[engine]\nidle_timeout_secs = 600\n\n[capture]\ninterfaces = [\"{DEV_B}\"]\n\
             immediate_mode = true\n\n[exporter]\nlisten = \"127.0.0.1:{PORT}\"\n\n\
             [payload_types]\n\"96\" = 90000\n\"111\" = 48000\n\n[records]\ninterval_secs = 60\n"
        ),
    )
    .unwrap();
    let mut cmd = pair.command(Side::B, env!("CARGO_BIN_EXE_rtcprobe"));
    cmd.arg("run")
        .arg("--config")
        .arg(&config)
        .arg("--records")
        .arg(dir.join("records.ndjson"));
    let mut daemon = pair
        .spawn(cmd, &dir.join("rtcprobe"))
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + WAIT;
    while get_in(&b, "/healthz").is_none() {
        assert!(
            daemon.try_status().is_none(),
            "daemon exited:\n{}",
            daemon.stderr()
        );
        assert!(
            Instant::now() < deadline,
            "daemon not serving:\n{}",
            daemon.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let tmux = Tmux(format!("rtcprobe-top-{}", std::process::id()));
    let top = format!(
        "ip netns exec {b} {} top --url http://127.0.0.1:{PORT} --interval 0.5",
        env!("CARGO_BIN_EXE_rtcprobe")
    );
    assert!(tmux
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "top",
            "-x",
            "200",
            "-y",
            "40",
            &top
        ])
        .status()
        .unwrap()
        .success());
    tmux.cmd()
        .args(["set-option", "-t", "top", "remain-on-exit", "off"])
        .status()
        .unwrap();
    tmux.wait_for("an empty table", |s| {
        s.contains("0 streams") && s.contains("q quit")
    });

    // sample-sfu.pcap: 9 streams over 40 s, sent 8 times faster.
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample-sfu.pcap");
    let mut send = pair.command(Side::A, "tcpreplay");
    send.args(["-q", "-i", DEV_A, "--multiplier", "8"])
        .arg(&fixture);
    let out = pair
        .output(send, &dir.join("tcpreplay"), WAIT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "tcpreplay: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Wait until the daemon's view is settled, then until top shows it.
    let mut last = Vec::new();
    let deadline = Instant::now() + WAIT;
    let want = loop {
        std::thread::sleep(Duration::from_millis(1500));
        let now = streams(&b);
        if !now.is_empty() && now == last {
            break now;
        }
        assert!(Instant::now() < deadline, "/streams never settled");
        last = now;
    };
    // Nine streams, one of which ends with an RTCP BYE and leaves /streams.
    assert!(
        want.len() >= 8,
        "{} streams of sample-sfu.pcap live",
        want.len()
    );
    let count = format!("{} streams", want.len());
    let screen = tmux.wait_for("the streams, settled", |s| {
        s.contains(&count) && s.contains("updated") && check(s, &want).is_empty()
    });
    assert!(
        check(&screen, &want).is_empty(),
        "{:?}\n{screen}",
        check(&screen, &want)
    );
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let text: Vec<&str> = screen
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect();
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/report/top.txt");
        std::fs::write(docs, text.join("\n") + "\n").unwrap();
    }

    // Sort by jitter, then by RTT: the first row is the stream /streams says is worst.
    let worst = |f: &dyn Fn(&Value) -> f64| {
        let s = want.iter().max_by(|a, b| f(a).total_cmp(&f(b))).unwrap();
        format!("{:08x}", s["ssrc"].as_u64().unwrap())
    };
    let jitter = worst(&|s| s["jitter_ms"].as_f64().unwrap_or(-1.0));
    let rtt = worst(&|s| {
        let m = &s["rtt_ms"];
        ["end_to_end", "sr_chain", "stun", "capture_point"]
            .iter()
            .find_map(|k| m[*k]["last"].as_f64())
            .unwrap_or(-1.0)
    });
    assert_ne!(
        jitter, rtt,
        "the two orders must differ for the test to mean anything"
    );
    tmux.keys("j");
    let s = tmux.wait_for("sorted by jitter", |s| s.contains("sorted by jitter"));
    assert!(first_row(&s).contains(&jitter), "jitter order:\n{s}");
    tmux.keys("r");
    let s = tmux.wait_for("sorted by rtt", |s| s.contains("sorted by rtt"));
    assert!(first_row(&s).contains(&rtt), "rtt order:\n{s}");

    tmux.keys("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.alive() {
        assert!(
            Instant::now() < deadline,
            "top did not quit on q:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let st = daemon
        .stop("TERM", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(st.success(), "daemon: {st}\n{}", daemon.stderr());
}

/// Every stream of `/streams` on the screen with its packets and jitter; the problems found.
fn check(screen: &str, want: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for s in want {
        let (src, dst) = (s["src"].as_str().unwrap(), s["dst"].as_str().unwrap());
        let ssrc = format!("{:08x}", s["ssrc"].as_u64().unwrap());
        let Some(line) = screen
            .lines()
            .find(|l| l.starts_with(&format!("{src} → {dst} ")) && l.contains(&ssrc))
        else {
            problems.push(format!("{src} → {dst} {ssrc}: not on screen"));
            continue;
        };
        let cells: Vec<&str> = line.split_whitespace().collect();
        let packets = s["packets"].as_u64().unwrap().to_string();
        let jitter = s["jitter_ms"]
            .as_f64()
            .map_or("–".into(), |j| format!("{j:.1}"));
        // SOURCE → DESTINATION SSRC PT PKT/S KBIT/S PACKETS LOSS%NOW LOSS% JITTER RTT MOS
        if cells.get(7) != Some(&packets.as_str()) || cells.get(10) != Some(&jitter.as_str()) {
            problems.push(format!("{line}: want packets {packets}, jitter {jitter}"));
        }
    }
    problems
}

/// Removes the scratch directory on drop.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(Path::new(&self.0));
    }
}
