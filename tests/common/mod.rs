//! Harness shared by the tests that start real stores on loopback (tests/clickhouse.rs,
//! tests/outage.rs, tests/remote_write.rs): free ports, a temp dir per test, a child process
//! killed and its directory removed on drop, the skip rule (skip with `skipped: ...` when a
//! package is missing, fail under CI=true), waiting with a deadline, and a ClickHouse server.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CLICKHOUSE: &str = "/usr/sbin/clickhouse-server";

/// A second ClickHouse user, with a password (basic authentication over HTTP); `default` has
/// none and is what [`ClickHouse::query`] uses.
pub const CLICKHOUSE_USER: (&str, &str) = ("rtcprobe", "s3cret");

/// `true` when `bin` exists; otherwise prints `skipped: ...` and returns `false`, or panics
/// under CI=true (CI must run every test).
pub fn have(bin: &str, package: &str) -> bool {
    if Path::new(bin).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{bin} missing under CI (scripts/setup-test installs {package})"
    );
    eprintln!("skipped: {bin} not installed (scripts/setup-test installs {package})");
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A fresh directory under the temp dir, removed by [`TempDir`]'s drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("rtcprobe-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (and reaped) on drop.
pub struct Proc(pub Child);

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Proc {
        Proc(
            cmd.stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn"),
        )
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Poll `f` every 200 ms until it gives `Some`, failing after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn http_get(url: &str) -> Result<String, String> {
    ureq::get(url)
        .timeout(Duration::from_secs(10))
        .call()
        .map_err(|e| e.to_string())?
        .into_string()
        .map_err(|e| e.to_string())
}

/// A clickhouse-server on loopback with its data in `dir`; [`ClickHouse::stop`] and
/// [`ClickHouse::restart`] keep the data (the outage test).
pub struct ClickHouse {
    proc: Option<Proc>,
    dir: PathBuf,
    pub http: u16,
    /// The HTTPS port, when started with [`ClickHouse::start_tls`].
    pub https: Option<u16>,
}

impl ClickHouse {
    pub fn start(dir: &Path) -> ClickHouse {
        ClickHouse::start_with(dir, None)
    }

    /// Also serve HTTPS (`https_port`, OpenSSL server) with this PEM certificate and key.
    pub fn start_tls(dir: &Path, cert: &Path, key: &Path) -> ClickHouse {
        ClickHouse::start_with(dir, Some((cert, key)))
    }

    fn start_with(dir: &Path, tls: Option<(&Path, &Path)>) -> ClickHouse {
        let (http, tcp) = (free_port(), free_port());
        let https = tls.map(|_| free_port());
        let d = dir.display();
        let tls_xml = match (tls, https) {
            (Some((cert, key)), Some(port)) => format!(
                "<https_port>{port}</https_port><openSSL><server>\
                 <certificateFile>{}</certificateFile><privateKeyFile>{}</privateKeyFile>\
                 <verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile>\
                 <disableProtocols>sslv2,sslv3</disableProtocols></server></openSSL>",
                cert.display(),
                key.display()
            ),
            _ => String::new(),
        };
        std::fs::write(
            dir.join("config.xml"),
            format!(
                "<?xml version=\"1.0\"?><yandex><logger><level>warning</level><console>1</console></logger>\
                 <http_port>{http}</http_port><tcp_port>{tcp}</tcp_port><listen_host>127.0.0.1</listen_host>\
                 {tls_xml}\
                 <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><users_config>{d}/users.xml</users_config>\
                 <default_profile>default</default_profile><default_database>default</default_database>\
                 <mark_cache_size>5368709</mark_cache_size></yandex>"
            ),
        )
        .expect("config.xml");
        let user = |name: &str, password: &str| {
            format!(
                "<{name}><password>{password}</password><networks><ip>127.0.0.1</ip></networks>\
                 <profile>default</profile><quota>default</quota></{name}>"
            )
        };
        std::fs::write(
            dir.join("users.xml"),
            format!(
                "<?xml version=\"1.0\"?><yandex><profiles><default></default></profiles><users>{}{}\
                 </users><quotas><default></default></quotas></yandex>",
                user("default", ""),
                user(CLICKHOUSE_USER.0, CLICKHOUSE_USER.1)
            ),
        )
        .expect("users.xml");
        let mut ch = ClickHouse {
            proc: None,
            dir: dir.to_path_buf(),
            http,
            https,
        };
        ch.restart();
        ch
    }

    /// Kill the server (SIGKILL: an outage, not a clean stop).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// Start the server again on the same ports and data; waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        self.proc = Some(Proc::spawn(
            Command::new(CLICKHOUSE)
                .arg(format!("--config-file={}/config.xml", self.dir.display())),
        ));
        wait_for("clickhouse answers", Duration::from_secs(60), || {
            self.query("SELECT 1").ok()
        });
    }

    pub fn query(&self, q: &str) -> Result<String, String> {
        ureq::post(&format!("http://127.0.0.1:{}/", self.http))
            .timeout(Duration::from_secs(10))
            .send_string(q)
            .map_err(|e| e.to_string())?
            .into_string()
            .map_err(|e| e.to_string())
    }

    /// Create the records, hop and call tables from sql/clickhouse/rtcprobe_records.sql,
    /// rtcprobe_hops.sql and rtcprobe_calls.sql (docs/central-store.md), without their TTL lines on servers older
    /// than 19.6 (the DDL says so).
    pub fn create_table(&self) {
        for ddl in [
            include_str!("../../sql/clickhouse/rtcprobe_records.sql"),
            include_str!("../../sql/clickhouse/rtcprobe_hops.sql"),
            include_str!("../../sql/clickhouse/rtcprobe_calls.sql"),
        ] {
            self.create_from(ddl);
        }
    }

    fn create_from(&self, ddl: &str) {
        let version = self.query("SELECT version()").expect("version");
        let ddl = ddl.to_string();
        let mut parts = version
            .trim()
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        let ddl: String = if (major, minor) < (19, 6) {
            ddl.lines()
                .filter(|l| !l.starts_with("TTL"))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            ddl
        };
        self.query(&ddl).expect("create table");
    }
}

/// The records a file sink wrote, one JSON value per line.
pub fn read_records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("file sink output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
}

/// A scratch directory, unique to the test process and tag, removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("rtcprobe-test-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("scratch dir");
        Scratch(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `rtcprobe replay --format json --config CFG EXTRA… FIXTURE`, which must succeed; the report.
pub fn replay_report(cfg: &Path, extra: &[&str], fixture: &Path) -> serde_json::Value {
    let out = bin()
        .args(["replay", "--format", "json", "--config"])
        .arg(cfg)
        .args(extra)
        .arg(fixture)
        .output()
        .expect("rtcprobe replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report")
}
