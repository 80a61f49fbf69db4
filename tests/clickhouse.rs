//! "Must be shown" 1: records of a replayed fixture arrive in a real ClickHouse server
//! (Debian `clickhouse-server`, started here on loopback in a temp dir, killed on drop) and,
//! queried back, equal the file sink's output record for record.
//!
//! Skips with `skipped: ...` when the server is not installed, except under CI=true.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = "/usr/sbin/clickhouse-server";

struct Server {
    child: Child,
    dir: PathBuf,
    http: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start(dir: &Path) -> Server {
    let (http, tcp) = (free_port(), free_port());
    let d = dir.display();
    std::fs::write(
        dir.join("config.xml"),
        format!(
            "<?xml version=\"1.0\"?><yandex><logger><level>warning</level><console>1</console></logger>\
             <http_port>{http}</http_port><tcp_port>{tcp}</tcp_port><listen_host>127.0.0.1</listen_host>\
             <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><users_config>{d}/users.xml</users_config>\
             <default_profile>default</default_profile><default_database>default</default_database>\
             <mark_cache_size>5368709</mark_cache_size></yandex>"
        ),
    )
    .expect("config.xml");
    std::fs::write(
        dir.join("users.xml"),
        "<?xml version=\"1.0\"?><yandex><profiles><default></default></profiles><users><default>\
         <password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile>\
         <quota>default</quota></default></users><quotas><default></default></quotas></yandex>",
    )
    .expect("users.xml");
    let child = Command::new(SERVER)
        .arg(format!("--config-file={d}/config.xml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start clickhouse-server");
    let s = Server {
        child,
        dir: dir.to_path_buf(),
        http,
    };
    let t0 = Instant::now();
    while query(&s, "SELECT 1").is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "clickhouse did not start in 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    s
}

fn query(s: &Server, q: &str) -> Result<String, String> {
    ureq::post(&format!("http://127.0.0.1:{}/", s.http))
        .timeout(Duration::from_secs(10))
        .send_string(q)
        .map_err(|e| e.to_string())?
        .into_string()
        .map_err(|e| e.to_string())
}

#[test]
fn replayed_records_in_clickhouse_equal_the_file_sink() {
    if !Path::new(SERVER).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{SERVER} missing under CI"
        );
        eprintln!("skipped: {SERVER} not installed (scripts/setup installs it)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("rtcprobe-ch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ch = start(&dir);
    let version = query(&ch, "SELECT version()").expect("version");
    let ddl = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sql/clickhouse/rtcprobe_records.sql"
    ))
    .expect("DDL");
    // TTL needs ClickHouse >= 19.6 (the DDL says so).
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
    query(&ch, &ddl).expect("create table");
    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[records]\nhost = \"probe-test\"\nstate_dir = \"{}/state\"\n\
             [[sinks]]\ntype = \"clickhouse\"\nurl = \"http://127.0.0.1:{}\"\n\
             [sinks.delivery]\nbatch_records = 16\nbatch_timeout_ms = 100\n\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            dir.display(),
            ch.http,
            file.display()
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args([
            "replay",
            concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample-sfu.pcap"),
            "--format",
            "json",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .expect("rtcprobe replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_file: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .expect("file sink output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(from_file.len() > 20, "{} records", from_file.len());
    let rows = query(
        &ch,
        "SELECT * FROM rtcprobe_records FINAL ORDER BY record_id FORMAT JSONEachRow",
    )
    .expect("select");
    let rows: std::collections::BTreeMap<String, serde_json::Value> = rows
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("row");
            (v["record_id"].as_str().unwrap_or_default().to_string(), v)
        })
        .collect();
    assert_eq!(rows.len(), from_file.len());
    for rec in &from_file {
        let row = &rows[rec["record_id"].as_str().expect("id")];
        for (k, want) in rec.as_object().expect("object") {
            let got = &row[k];
            let same = match (want, got) {
                // DateTime columns: seconds, "YYYY-MM-DD hh:mm:ss" in UTC.
                (serde_json::Value::String(w), serde_json::Value::String(g))
                    if w.ends_with('Z') && w.len() == 27 =>
                {
                    w[..19].replace('T', " ") == *g
                }
                // JSONEachRow quotes 64-bit integers.
                (serde_json::Value::Number(w), serde_json::Value::String(g)) => w.to_string() == *g,
                (serde_json::Value::Bool(w), serde_json::Value::Number(g)) => {
                    u64::from(*w) == g.as_u64().unwrap_or(9)
                }
                (serde_json::Value::Number(w), serde_json::Value::Number(g)) => {
                    (w.as_f64().unwrap_or(0.0) - g.as_f64().unwrap_or(1.0)).abs() < 1e-9
                }
                (w, g) => w == g,
            };
            assert!(
                same,
                "record {} key {k}: file {want} vs clickhouse {got}",
                rec["record_id"]
            );
        }
    }
}
