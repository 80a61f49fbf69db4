//! `[records]` and `[[sinks]]`: what records are made and where they are forwarded.
//!
//! Each `[[sinks]]` table has a `type` (`file`, `clickhouse`, `prometheus_remote_write`, `hep`)
//! and that type's keys; unknown keys are errors like everywhere else. [`problems`] checks
//! values and names the key, the value and the fix. Delivery keys (batching, retry, buffer)
//! are shared by the network sinks and documented in config.example.toml.

use super::Problem;
use serde::{Deserialize, Serialize};

/// `[records]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordsConfig {
    /// Seconds of capture time between interval records of an active stream. Default 10.
    pub interval_secs: u64,
    /// Host name written in every record; empty = gethostname(2). Default empty.
    pub host: String,
    /// Directory of the sinks' disk buffers; empty = `$STATE_DIRECTORY` (set by systemd from
    /// the unit's `StateDirectory=`) or else `/var/lib/rtcprobe`. Default empty.
    pub state_dir: String,
    /// Also send a call record (docs/records.md, "Call records") for every SIP call, ICE
    /// session and TURN allocation that ends. Default false: a `clickhouse` sink needs its call
    /// table (sql/clickhouse/rtcprobe_calls.sql) first, or those batches are dead-lettered.
    pub calls: bool,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        RecordsConfig {
            interval_secs: 10,
            host: String::new(),
            state_dir: String::new(),
            calls: false,
        }
    }
}

impl RecordsConfig {
    /// The buffer directory this configuration means.
    pub fn state_dir(&self) -> std::path::PathBuf {
        if !self.state_dir.is_empty() {
            return self.state_dir.clone().into();
        }
        // systemd may list several directories separated by ':'; the first is ours.
        match std::env::var("STATE_DIRECTORY") {
            Ok(v) if !v.is_empty() => v.split(':').next().unwrap_or(&v).into(),
            _ => "/var/lib/rtcprobe".into(),
        }
    }
}

/// One `[[sinks]]` table. Its `Debug` masks credentials (src/config/redact.rs).
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// NDJSON file, rotated by size and age.
    File {
        /// Sink name (metrics label, buffer directory); default the type.
        #[serde(default)]
        name: Option<String>,
        path: String,
        /// Rotate when the file reaches this size, bytes. Default 100 MiB.
        #[serde(default = "default_rotate_bytes")]
        rotate_bytes: u64,
        /// Rotate when the file is this old, seconds; 0 = never. Default 86400.
        #[serde(default = "default_rotate_age")]
        rotate_age_secs: u64,
        /// Rotated files kept (`path.1` newest). Default 7.
        #[serde(default = "default_keep")]
        keep_files: u32,
    },
    /// ClickHouse HTTP interface: `INSERT INTO table FORMAT JSONEachRow`.
    Clickhouse {
        #[serde(default)]
        name: Option<String>,
        /// Base URL, e.g. `http://127.0.0.1:8123` or `https://ch.example:8443`.
        url: String,
        /// `database.table` or `table`. Default `rtcprobe_records`.
        #[serde(default = "default_table")]
        table: String,
        /// `[sinks.http]`: authentication and timeout.
        #[serde(default)]
        http: HttpConfig,
        /// `[sinks.delivery]`: batching, retry and disk buffer.
        #[serde(default)]
        delivery: Delivery,
    },
    /// Prometheus remote write 1.0 (protobuf + snappy).
    PrometheusRemoteWrite {
        #[serde(default)]
        name: Option<String>,
        /// Endpoint, e.g. `http://127.0.0.1:9090/api/v1/write`.
        url: String,
        /// Sample timestamps: `capture` (the record's `interval_end`, so replayed captures
        /// keep their own time) or `now` (the send time: for Prometheus, whose TSDB rejects
        /// samples older than its head block; only each series' latest sample of a batch is
        /// sent then). Default `capture`.
        #[serde(default = "default_timestamp")]
        timestamp: String,
        /// Label samples with the stream's `src` and `dst` (`ip:port`) besides `host`, `ssrc`
        /// and `payload_type`. Default true; false keeps fewer series per SSRC.
        #[serde(default = "yes")]
        address_labels: bool,
        #[serde(default)]
        http: HttpConfig,
        #[serde(default)]
        delivery: Delivery,
    },
    /// HEP v3 to Homer.
    Hep {
        #[serde(default)]
        name: Option<String>,
        /// `host:port` of the HEP collector.
        address: String,
        /// `udp` or `tcp`. Default `udp`.
        #[serde(default = "default_transport")]
        transport: String,
        /// HEP capture agent ID. Default 2001.
        #[serde(default = "default_agent")]
        agent_id: u32,
        /// Optional HEP authentication key chunk.
        #[serde(default)]
        password: Option<String>,
        /// Also send every RTCP datagram the probe sees, raw as captured, with its addresses,
        /// ports and capture time (HEP protocol type 5; `crate::forward::tap`). They share
        /// the sink's buffer and counters with the reports (counted as records). The HEP3
        /// list names type 5 "RTCP JSON" and Homer's heplify-server expects JSON there: raw
        /// bytes decode in Wireshark (tools/wireshark/hep3.lua) but may not show in Homer.
        /// Default false.
        #[serde(default)]
        rtcp: bool,
        #[serde(default)]
        delivery: Delivery,
    },
}

/// Delivery settings shared by the network sinks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Delivery {
    /// A batch is sent when it holds this many records. Default 1000.
    pub batch_records: usize,
    /// … or this many bytes. Default 1 MiB.
    pub batch_bytes: u64,
    /// … or is this old, ms. Default 1000.
    pub batch_timeout_ms: u64,
    /// First retry delay, ms; doubles up to `retry_max_ms`, with jitter. Default 500.
    pub retry_initial_ms: u64,
    pub retry_max_ms: u64,
    /// Disk buffer bound, bytes: past it the oldest batches are dropped (and counted).
    /// Default 256 MiB.
    pub buffer_max_bytes: u64,
    /// Bound of the dead-letter directory (batches the store rejected for good, HTTP 4xx
    /// other than 408/429, kept for `rtcprobe resend`), bytes: past it the oldest batches are
    /// dropped (and counted). Default 64 MiB.
    pub dead_letter_max_bytes: u64,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            batch_records: 1000,
            batch_bytes: 1 << 20,
            batch_timeout_ms: 1000,
            retry_initial_ms: 500,
            retry_max_ms: 30_000,
            buffer_max_bytes: 256 << 20,
            dead_letter_max_bytes: 64 << 20,
        }
    }
}

/// HTTP settings: timeout, authentication and TLS (`https://` URLs, rustls; the trust rules
/// are in src/forward/tls.rs).
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Basic authentication (RFC 7617).
    pub username: Option<String>,
    pub password: Option<String>,
    /// Bearer token (`Authorization: Bearer …`, RFC 6750); exclusive with basic.
    pub bearer_token: Option<String>,
    /// Per-request timeout, seconds. Default 10 (0 = 10).
    pub timeout_secs: u64,
    /// PEM file of the CA certificates that sign the store's certificate (a private CA). Set,
    /// they *replace* the built-in Mozilla roots. Default unset: the built-in roots.
    pub ca_file: Option<String>,
    /// PEM client certificate chain (mutual TLS), with `key_file`. Default unset.
    pub cert_file: Option<String>,
    /// PEM private key of `cert_file` (PKCS#8, PKCS#1 or SEC1). Default unset.
    pub key_file: Option<String>,
}

fn default_rotate_bytes() -> u64 {
    100 << 20
}
fn default_rotate_age() -> u64 {
    86_400
}
fn default_keep() -> u32 {
    7
}
fn default_table() -> String {
    "rtcprobe_records".into()
}
fn default_timestamp() -> String {
    "capture".into()
}
fn default_transport() -> String {
    "udp".into()
}
fn default_agent() -> u32 {
    2001
}
fn yes() -> bool {
    true
}

impl SinkConfig {
    /// The `--records FILE` shortcut: a file sink with default rotation, named `records`.
    pub fn file_at(path: &std::path::Path) -> SinkConfig {
        SinkConfig::File {
            name: Some("records".into()),
            path: path.display().to_string(),
            rotate_bytes: default_rotate_bytes(),
            rotate_age_secs: default_rotate_age(),
            keep_files: default_keep(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::File { .. } => "file",
            SinkConfig::Clickhouse { .. } => "clickhouse",
            SinkConfig::PrometheusRemoteWrite { .. } => "prometheus_remote_write",
            SinkConfig::Hep { .. } => "hep",
        }
    }

    /// The sink's name: `name`, else its type (metrics label and buffer directory).
    pub fn name(&self) -> String {
        let n = match self {
            SinkConfig::File { name, .. }
            | SinkConfig::Clickhouse { name, .. }
            | SinkConfig::PrometheusRemoteWrite { name, .. }
            | SinkConfig::Hep { name, .. } => name,
        };
        n.clone().unwrap_or_else(|| self.kind().to_string())
    }
}

/// Problems of `[records]` and `[[sinks]]`.
pub fn problems(records: &RecordsConfig, sinks: &[SinkConfig]) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut bad = |key: String, value: String, fix: &str| {
        out.push(Problem {
            key,
            value,
            fix: fix.into(),
        })
    };
    if !(1..=3600).contains(&records.interval_secs) {
        bad(
            "records.interval_secs".into(),
            records.interval_secs.to_string(),
            "use 1 to 3600 seconds",
        );
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, s) in sinks.iter().enumerate() {
        let k = |f: &str| format!("sinks[{i}].{f}");
        let name = s.name();
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !name_ok {
            bad(
                k("name"),
                format!("{name:?}"),
                "use letters, digits, '_' and '-'",
            );
        }
        if !names.insert(name.clone()) {
            bad(
                k("name"),
                format!("{name:?}"),
                "two sinks have this name: give each sink of the same type its own `name`",
            );
        }
        let delivery = match s {
            SinkConfig::File { path, .. } => {
                if path.is_empty() {
                    bad(k("path"), "\"\"".into(), "give the NDJSON file's path");
                }
                None
            }
            SinkConfig::Clickhouse {
                url,
                http,
                table,
                delivery,
                ..
            } => {
                url_check(url, &k("url"), &mut bad);
                if table.is_empty()
                    || !table
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    bad(
                        k("table"),
                        format!("{table:?}"),
                        "use `table` or `database.table`",
                    );
                }
                http_check(http, url, &k, &mut bad);
                Some(delivery)
            }
            SinkConfig::PrometheusRemoteWrite {
                url,
                timestamp,
                http,
                delivery,
                ..
            } => {
                url_check(url, &k("url"), &mut bad);
                if timestamp != "capture" && timestamp != "now" {
                    bad(
                        k("timestamp"),
                        format!("{timestamp:?}"),
                        "use \"capture\" or \"now\"",
                    );
                }
                http_check(http, url, &k, &mut bad);
                Some(delivery)
            }
            SinkConfig::Hep {
                address,
                transport,
                delivery,
                ..
            } => {
                if address.parse::<std::net::SocketAddr>().is_err() {
                    bad(
                        k("address"),
                        format!("{address:?}"),
                        "write ip:port, e.g. \"127.0.0.1:9060\"",
                    );
                }
                if transport != "udp" && transport != "tcp" {
                    bad(
                        k("transport"),
                        format!("{transport:?}"),
                        "use \"udp\" or \"tcp\"",
                    );
                }
                Some(delivery)
            }
        };
        if let Some(d) = delivery {
            if !(1..=1_000_000).contains(&d.batch_records) {
                bad(
                    k("batch_records"),
                    d.batch_records.to_string(),
                    "use 1 to 1000000",
                );
            }
            if !(1024..=(64 << 20)).contains(&d.batch_bytes) {
                bad(
                    k("batch_bytes"),
                    d.batch_bytes.to_string(),
                    "use 1024 to 67108864 bytes",
                );
            }
            if d.buffer_max_bytes < d.batch_bytes.saturating_mul(4) {
                bad(
                    k("delivery.buffer_max_bytes"),
                    d.buffer_max_bytes.to_string(),
                    "use at least four times batch_bytes",
                );
            }
            if d.dead_letter_max_bytes < d.batch_bytes {
                bad(
                    k("delivery.dead_letter_max_bytes"),
                    d.dead_letter_max_bytes.to_string(),
                    "use at least batch_bytes",
                );
            }
            if d.retry_initial_ms == 0 || d.retry_max_ms < d.retry_initial_ms {
                bad(
                    k("delivery.retry_max_ms"),
                    d.retry_max_ms.to_string(),
                    "use retry_initial_ms >= 1 and retry_max_ms >= retry_initial_ms",
                );
            }
        }
    }
    out
}

fn url_check(url: &str, key: &str, bad: &mut impl FnMut(String, String, &str)) {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        bad(
            key.into(),
            format!("\"{}\"", super::redact::SafeUrl(url)),
            "write an http:// or https:// URL",
        );
    }
}

/// `[sinks.http]`: one kind of authentication, and TLS files that exist, parse and are only
/// given for `https://` URLs (the files are read, as the sink will read them at start).
fn http_check(
    h: &HttpConfig,
    url: &str,
    k: &dyn Fn(&str) -> String,
    bad: &mut impl FnMut(String, String, &str),
) {
    if h.bearer_token.is_some() && (h.username.is_some() || h.password.is_some()) {
        bad(
            k("http.bearer_token"),
            "(set)".into(),
            "use either bearer_token or username/password, not both",
        );
    }
    if h.password.is_some() && h.username.is_none() {
        bad(
            k("http.username"),
            "(unset)".into(),
            "basic authentication needs a username",
        );
    }
    if h.cert_file.is_some() != h.key_file.is_some() {
        let (key, value) = match &h.cert_file {
            Some(c) => ("http.key_file", format!("(unset, cert_file = {c:?})")),
            None => ("http.cert_file", "(unset, key_file set)".to_string()),
        };
        bad(
            k(key),
            value,
            "a client certificate needs both cert_file and key_file",
        );
    }
    let tls_files = [&h.ca_file, &h.cert_file, &h.key_file];
    if !url.starts_with("https://") {
        for (key, file) in ["ca_file", "cert_file", "key_file"].iter().zip(tls_files) {
            if let Some(f) = file {
                bad(
                    k(&format!("http.{key}")),
                    format!("{f:?}"),
                    "TLS files need an https:// url: use https:// or remove the key",
                );
            }
        }
    } else if let Some(e) = crate::forward::tls::check(h) {
        bad(
            k(&format!("http.{}", e.key)),
            format!("{:?}", e.path),
            &format!("{}: give a PEM file rtcprobe can read and use", e.why),
        );
    }
}
