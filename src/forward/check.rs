//! `rtcprobe validate --connect`: try every sink once, with bounded timeouts, and say per sink
//! what is wrong, so that a typo shows before the daemon runs rather than as records in a
//! dead-letter directory.
//!
//! | sink | checks, in order |
//! |------|------------------|
//! | `file` | the file's directory exists and a file can be created in it |
//! | `clickhouse` | TCP connect (closed port, unreachable), TLS handshake for `https://` (a plain-HTTP server answers garbage), authentication (HTTP 401/403, ClickHouse's "Wrong password"/"Unknown user"), `EXISTS TABLE` (the table and its database exist) |
//! | `prometheus_remote_write` | TCP connect, TLS handshake, an empty remote-write request (no series: stores accept it and store nothing) whose status says whether the path exists (404/405) and the credentials are accepted (401/403) |
//! | `hep` | TCP: connect; UDP: cannot be checked (no handshake), said so |
//!
//! Every message goes through the sink's redaction (src/config/redact.rs). What it does not do:
//! write records (the remote-write request carries no series; ClickHouse only answers a query).

use super::http::{Client, Reply};
use crate::config::redact::{SafeUrl, Secrets};
use crate::config::{HttpConfig, SinkConfig};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Longest wait for one TCP connect or one HTTP request of a check.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// What one sink's check found: `Ok(what was checked)` or `Err(what is wrong)`.
pub type Verdict = Result<String, String>;

/// Check every sink, print one line per sink (stdout when it passed, stderr when not) and
/// return whether all passed.
pub fn report(sinks: &[SinkConfig]) -> bool {
    let mut ok = true;
    for cfg in sinks {
        let (name, kind, at) = (cfg.name(), cfg.kind(), target(cfg));
        match check(cfg) {
            Ok(what) => println!("sink {name} ({kind}): ok: {what} [{at}]"),
            Err(why) => {
                ok = false;
                eprintln!("sink {name} ({kind}): FAILED: {why} [{at}]");
            }
        }
    }
    ok
}

/// Where a sink sends, for people: its URL (redacted), address or file.
pub fn target(cfg: &SinkConfig) -> String {
    match cfg {
        SinkConfig::File { path, .. } => path.clone(),
        SinkConfig::Clickhouse { url, .. } | SinkConfig::PrometheusRemoteWrite { url, .. } => {
            SafeUrl(url).to_string()
        }
        SinkConfig::Hep {
            address, transport, ..
        } => format!("{transport} {address}"),
    }
}

/// Check one sink (module doc).
pub fn check(cfg: &SinkConfig) -> Verdict {
    let secrets = Secrets::of(cfg);
    let verdict = match cfg {
        SinkConfig::File { path, .. } => file(std::path::Path::new(path)),
        SinkConfig::Clickhouse {
            url, table, http, ..
        } => clickhouse(url, table, http),
        SinkConfig::PrometheusRemoteWrite { url, http, .. } => remote_write(url, http),
        SinkConfig::Hep {
            address, transport, ..
        } => hep(address, transport),
    };
    // The backstop: no secret leaves, whatever a message quoted.
    verdict
        .map(|s| secrets.scrub(&s))
        .map_err(|s| secrets.scrub(&s))
}

fn file(path: &std::path::Path) -> Verdict {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(format!("directory {} does not exist", dir.display()));
    }
    let probe = dir.join(format!(".rtcprobe-validate-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(format!("directory {} is writable", dir.display()))
        }
        Err(e) => Err(format!("directory {} is not writable: {e}", dir.display())),
    }
}

/// `host:port` of an `http(s)://` URL (default ports 80 and 443), without its userinfo.
fn authority(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let auth = rest.split(['/', '?', '#']).next()?;
    let host_port = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    if let Some(v6) = host_port.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((host.to_string(), port));
    }
    match host_port.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((host_port.to_string(), default)),
    }
}

/// TCP connect to `host:port`, every address it resolves to, [`TIMEOUT`] each.
fn connect(host: &str, port: u16) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("{host} resolves to no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, TIMEOUT) {
            Ok(_) => return Ok(a),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = format!("port closed: connection refused by {a}");
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!(
                    "unreachable: no answer from {a} within {}s",
                    TIMEOUT.as_secs()
                );
            }
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    Err(last)
}

/// The sink's HTTP client and the URL to request, its timeout bounded by [`TIMEOUT`].
fn client(url: &str, h: &HttpConfig) -> Result<(Client, String), String> {
    let secs = match h.timeout_secs {
        0 => TIMEOUT.as_secs(),
        s => s.min(TIMEOUT.as_secs()),
    };
    let h = HttpConfig {
        timeout_secs: secs,
        ..h.clone()
    };
    Client::for_url(&h, url).map_err(|e| format!("http.{e}"))
}

/// TCP, then the client; what both HTTP sinks start with.
fn reach(url: &str, h: &HttpConfig) -> Result<(SocketAddr, Client, String), String> {
    let (host, port) =
        authority(url).ok_or_else(|| format!("cannot read the URL {}", SafeUrl(url)))?;
    let addr = connect(&host, port)?;
    let (c, bare) = client(url, h)?;
    Ok((addr, c, bare))
}

/// A transport error after the TCP connect succeeded: for `https://`, the TLS handshake.
fn transport(url: &str, addr: SocketAddr, why: &str) -> String {
    if url.starts_with("https://") {
        format!(
            "TLS handshake with {addr} failed ({why}): is the server speaking plain HTTP on \
             this port (use http://), or is its certificate not trusted (http.ca_file)?"
        )
    } else {
        format!("no HTTP answer from {addr}: {why}")
    }
}

/// Whether a status and body say the credentials were refused (ClickHouse 18 answers 403
/// "Wrong password"/"Unknown user", newer ones 516 "Authentication failed").
fn auth_refused(code: u16, body: &str) -> bool {
    code == 401
        || code == 403
        || code == 516
        || [
            "Wrong password",
            "Unknown user",
            "Authentication failed",
            "REQUIRED_PASSWORD",
        ]
        .iter()
        .any(|w| body.contains(w))
}

fn clickhouse(url: &str, table: &str, h: &HttpConfig) -> Verdict {
    let (addr, c, bare) = reach(url, h)?;
    let q = format!("EXISTS TABLE {table}");
    let endpoint =
        super::clickhouse::with_params(&bare, &format!("query={}", q.replace(' ', "%20")));
    match c.request("POST", &endpoint, &[], &[]) {
        Reply::Ok(answer) if answer == "1" => {
            Ok(format!("reachable, authenticated, table {table} exists"))
        }
        Reply::Ok(answer) if answer == "0" => Err(format!(
            "table {table} does not exist (create it: sql/clickhouse/rtcprobe_records.sql), \
             or fix `table`"
        )),
        Reply::Ok(answer) => Err(format!("`{q}` answered {answer:?}, not 0 or 1")),
        Reply::Status(code, body) if auth_refused(code, &body) => Err(format!(
            "authentication failed (HTTP {code}: {body}): check the user and password \
             (http.username/http.password or the URL)"
        )),
        // UNKNOWN_DATABASE (81): the table's database is missing.
        Reply::Status(code, body) if body.contains("Code: 81") => Err(format!(
            "table {table}: its database does not exist (HTTP {code}: {body})"
        )),
        Reply::Status(code, body) => Err(format!("`{q}` failed: HTTP {code}: {body}")),
        Reply::Transport(_, why) => Err(transport(url, addr, &why)),
    }
}

fn remote_write(url: &str, h: &HttpConfig) -> Verdict {
    let (addr, c, bare) = reach(url, h)?;
    // An empty WriteRequest (no series), snappy-compressed: accepted and stores nothing.
    let body = super::prompb::compressed(&[]).map_err(|e| format!("snappy: {e}"))?;
    let headers = [
        ("Content-Encoding", "snappy"),
        ("Content-Type", "application/x-protobuf"),
        ("X-Prometheus-Remote-Write-Version", "0.1.0"),
    ];
    match c.request("POST", &bare, &headers, &body) {
        Reply::Ok(_) => Ok("reachable, authenticated, accepts remote write".to_string()),
        Reply::Status(code, body) if code == 401 || code == 403 => Err(format!(
            "authentication failed (HTTP {code}: {body}): check http.username/http.password \
             or http.bearer_token"
        )),
        Reply::Status(code, body)
            if code == 404 || code == 405 || body.contains("unsupported path") =>
        {
            Err(format!(
                "the path of {} is not a remote-write endpoint (HTTP {code}: {body}): \
                 Prometheus and VictoriaMetrics take /api/v1/write, Mimir and Cortex \
                 /api/v1/push",
                SafeUrl(url)
            ))
        }
        Reply::Status(code, body) => Err(format!("HTTP {code}: {body}")),
        Reply::Transport(_, why) => Err(transport(url, addr, &why)),
    }
}

fn hep(address: &str, transport: &str) -> Verdict {
    let addr: SocketAddr = address
        .parse()
        .map_err(|e| format!("address {address:?}: {e}"))?;
    if transport == "tcp" {
        let a = connect(&addr.ip().to_string(), addr.port())?;
        Ok(format!("TCP connect to {a} succeeded"))
    } else {
        Ok(format!(
            "UDP to {addr} cannot be checked (no handshake, no answer): make sure the collector \
             listens there"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_of_urls() {
        assert_eq!(
            authority("http://u:p@127.0.0.1:8123/x"),
            Some(("127.0.0.1".into(), 8123))
        );
        assert_eq!(authority("https://h/x"), Some(("h".into(), 443)));
        assert_eq!(authority("http://[::1]:9/"), Some(("::1".into(), 9)));
        assert_eq!(authority("http://[::1]"), Some(("::1".into(), 80)));
        assert_eq!(authority("nope"), None);
    }

    #[test]
    fn a_closed_port_and_a_udp_hep_are_named() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let cfg: SinkConfig = toml::from_str(&format!(
            "type = \"clickhouse\"\nurl = \"http://u:pw123@127.0.0.1:{port}\"\n"
        ))
        .unwrap();
        let e = check(&cfg).unwrap_err();
        assert!(e.contains("port closed"), "{e}");
        assert!(!e.contains("pw123"), "{e}");
        let cfg: SinkConfig =
            toml::from_str("type = \"hep\"\naddress = \"127.0.0.1:9060\"\n").unwrap();
        assert!(check(&cfg).unwrap().contains("cannot be checked"));
    }
}
