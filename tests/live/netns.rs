//! Two throwaway network namespaces joined by a veth pair, for tests that capture live.
//!
//! [`VethPair::new`] creates namespaces `rp-<tag>-<pid>-<n>a` and `…b` and a veth pair between
//! them: [`DEV_A`] in a, [`DEV_B`] in b, both up, MTU 9000 (no fixture frame is cut), IPv6
//! disabled on both ends and no addresses. So the kernel sends nothing of its own on the link
//! (no router solicitations, MLD reports or ARP), and b's stack drops what it receives without
//! answering: every frame on the wire is one the test put there. Commands run inside with
//! `ip netns exec` ([`VethPair::command`]); [`VethPair::spawn`] starts a background process
//! whose output goes to files. On drop every process still inside either namespace is killed
//! and both namespaces are deleted, which removes the veth pair. Every wait is bounded.
//!
//! What it deliberately does not do: routing, addresses, or anything outside the two
//! namespaces. It needs root (`CAP_SYS_ADMIN` and `CAP_NET_ADMIN`) and iproute2.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The veth end in namespace a (the sender's side).
pub const DEV_A: &str = "veth0";
/// The veth end in namespace b (the capturing side).
pub const DEV_B: &str = "veth1";

/// Which namespace of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// Two namespaces and the veth pair between them; deleted on drop.
pub struct VethPair {
    a: String,
    b: String,
}

impl VethPair {
    /// Create the namespaces and the link. `tag` makes the names readable in `ip netns`.
    pub fn new(tag: &str) -> Result<Self, String> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let base = format!("rp-{tag}-{}-{n}", std::process::id());
        let pair = VethPair {
            a: format!("{base}a"),
            b: format!("{base}b"),
        };
        // Any failure below drops `pair`, which deletes whatever was created so far.
        for ns in [&pair.a, &pair.b] {
            ip(&["netns", "add", ns])?;
        }
        ip(&[
            "-n", &pair.a, "link", "add", DEV_A, "mtu", "9000", "type", "veth", "peer", "name",
            DEV_B, "netns", &pair.b, "mtu", "9000",
        ])?;
        for (side, dev) in [(Side::A, DEV_A), (Side::B, DEV_B)] {
            let key = format!("net.ipv6.conf.{dev}.disable_ipv6=1");
            run(pair.command(side, "sysctl").args(["-qw", &key]))?;
            ip(&["-n", pair.name(side), "link", "set", dev, "up"])?;
        }
        Ok(pair)
    }

    /// The namespace's name, for `ip -n NAME …`.
    pub fn name(&self, side: Side) -> &str {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// `program` run inside the namespace (`ip netns exec NAME program`). `ip` execs the
    /// program in place, so the child's pid is the program's and signals reach it directly.
    pub fn command(&self, side: Side, program: impl AsRef<Path>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.name(side)])
            .arg(program.as_ref());
        cmd
    }

    /// Start `cmd` (from [`VethPair::command`]) in the background, stdout and stderr going to
    /// `<log>.out` and `<log>.err`.
    pub fn spawn(&self, cmd: Command, log: &Path) -> Result<Proc, String> {
        spawn(cmd, log)
    }

    /// Run `cmd` to completion within `timeout`, killing it past that.
    pub fn output(&self, cmd: Command, log: &Path, timeout: Duration) -> Result<Output, String> {
        let mut p = self.spawn(cmd, log)?;
        let status = p.wait(timeout)?;
        Ok(Output {
            status,
            stdout: std::fs::read(&p.out).unwrap_or_default(),
            stderr: std::fs::read(&p.err).unwrap_or_default(),
        })
    }
}

/// Start `cmd` in the background, stdout and stderr going to `<log>.out` and `<log>.err`
/// (the media lab's namespaces use it too: tests/lab/topo.rs).
pub fn spawn(mut cmd: Command, log: &Path) -> Result<Proc, String> {
    let out = log.with_extension("out");
    let err = log.with_extension("err");
    let file = |p: &Path| std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file(&out)?)
        .stderr(file(&err)?)
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    Ok(Proc {
        what: format!("{:?}", cmd.get_args().skip(3).collect::<Vec<_>>()),
        child,
        out,
        err,
    })
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            // Only processes inside our own, uniquely named namespace: the ones this test
            // started (and their children, if any).
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A background process in one of the namespaces; killed (and reaped) on drop.
pub struct Proc {
    what: String,
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    /// Whether it has exited, and how.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Send `signal` (a name for kill(1): `TERM`, `INT`, `KILL`).
    pub fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Wait for the process to exit, at most `timeout`; past that kill it and fail.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_status() {
                return Ok(st);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "{} did not exit within {timeout:?}; killed. stderr:\n{}",
                    self.what,
                    self.stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `signal`, then [`Proc::wait`].
    pub fn stop(&mut self, signal: &str, timeout: Duration) -> Result<ExitStatus, String> {
        self.signal(signal);
        self.wait(timeout)
    }

    /// Wait until its stderr contains `text` (e.g. tcpdump's `listening on`), at most
    /// `timeout`; fails early when the process exits.
    pub fn wait_for_stderr(&mut self, text: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.stderr().contains(text) {
                return Ok(());
            }
            if let Some(st) = self.try_status() {
                return Err(format!("{} exited ({st}):\n{}", self.what, self.stderr()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!(
            "{}: no {text:?} on stderr within {timeout:?}",
            self.what
        ))
    }

    /// What it wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether live tests can run here: root, and every tool in `tools` on PATH. When they
/// cannot, print `skipped: …` and return false, unless `CI=true`, where that is a failure.
pub fn prerequisites(test: &str, tools: &[&str]) -> bool {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root".to_owned());
    }
    for tool in tools {
        // Spawning is the test; the version flags' exit codes differ between tools.
        if Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            missing.push(format!("{tool} (Debian: scripts/setup-test)"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: needs {} but CI=true",
        missing.join(", ")
    );
    eprintln!("{test}: skipped: needs {}", missing.join(", "));
    false
}

/// Effective uid 0, from /proc (no libc in the test dependencies).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let uids = s.lines().find(|l| l.starts_with("Uid:"))?.to_owned();
            Some(uids.split_whitespace().nth(2)? == "0")
        })
        .unwrap_or(false)
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
