//! The `[exporter]` section: the Prometheus endpoint and how streams are labelled.
//!
//! Kept apart from `config.rs` because it is only about naming and bounding metric labels
//! (peer groups, address privacy, per-stream series); the statistics engine never sees it.
//! Validation follows the rest of the file: every problem names its key, the value and the fix.

use super::Problem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The default listen port. The Prometheus project's "Default port allocations" wiki page has
/// handed out every port of 9100–9999; new exporters take ports above 10000. 10533 is not in
/// the allocations we found; register it there before a release.
pub const DEFAULT_PORT: u16 = 10533;

/// The Prometheus endpoint (`/metrics`, `/healthz`, `/streams`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExporterConfig {
    /// `address:port` to serve HTTP on, or `""` for no endpoint. Default `"127.0.0.1:10533"`
    /// ([`DEFAULT_PORT`]): loopback, because the labels identify callers; use `"0.0.0.0:10533"`
    /// to let a remote Prometheus scrape.
    pub listen: String,
    /// Publish one set of series per live stream (labels ssrc, src, dst, payload_type).
    /// Default false: only the aggregates, whose labels are bounded.
    pub per_stream_series: bool,
    /// At most this many streams get per-stream series; the others count only in the
    /// aggregates, and `rtcprobe_export_streams_omitted` says how many. Default 10000.
    pub max_stream_series: usize,
    /// Seconds an ended stream's per-stream series stay, with the stream's final values,
    /// after it ended (BYE, idle, end of capture): so that the next scrape sees how it
    /// finished rather than values up to a snapshot interval old. Set it to at least the
    /// scrape interval; 0 drops them at once. Default 15.
    pub ended_series_linger_secs: u64,
    /// How addresses appear in per-stream labels: `"keep"` (as is), `"prefix"` (the network
    /// prefix of `address_prefix_v4`/`_v6` bits, no port) or `"hash"` (a keyed hash of the
    /// address and port, 16 hex digits). Default `"keep"`.
    pub address_labels: String,
    /// Prefix length kept of IPv4 addresses with `address_labels = "prefix"`. Default 24.
    pub address_prefix_v4: u8,
    /// Prefix length kept of IPv6 addresses with `address_labels = "prefix"`. Default 48.
    pub address_prefix_v6: u8,
    /// Key of the address hash (`address_labels = "hash"`); at least 16 characters. Without a
    /// secret key a hash of an IPv4 address is reversed by trying all 2^32 of them.
    pub hash_key: String,
    /// Peer groups: CIDR → name, e.g. `"10.0.0.0/8" = "internal"`. A stream's peer (its
    /// remote end: the source of an inbound stream, else the destination) is put in the
    /// group of the longest matching prefix, else `"unknown"`. Names: 1–32 of `[a-z0-9_-]`.
    pub peer_groups: BTreeMap<String, String>,
    /// Also label per-stream series with the SDES CNAME (RFC 3550 §6.5.1), which often names
    /// a user. Default false.
    pub cname_label: bool,
    /// Addresses of this host, for the `direction` label (a stream to one of them is
    /// `inbound`, from one `outbound`, else `transit`). Default empty: the addresses of the
    /// host's interfaces at start-up (getifaddrs(3)).
    pub local_addresses: Vec<String>,
    /// A Prometheus exporter-toolkit web configuration file (node_exporter's
    /// `--web.config.file`: TLS, client certificates, basic auth, extra headers), or `""` for
    /// plain HTTP without authentication. See docs/security.md.
    pub web_config_file: String,
    /// Serve `/streams` (the live streams as JSON, with the `address_labels` and
    /// `cname_label` rules applied), `/hops` (the middlebox hops) and `/calls` (calls in
    /// progress and the last ended ones), addresses as `address_labels` says. Default true;
    /// false answers 404 to all three.
    pub streams_endpoint: bool,
    /// Open connections to the endpoint at most. Over it, a new connection evicts the one
    /// that has waited longest for its request (docs/security.md). Default 128.
    pub max_connections: usize,
    /// Open connections from one client address at most (evicting like `max_connections`).
    /// Default 32.
    pub max_connections_per_address: usize,
    /// A request head (and, for a new connection, its TLS handshake) must be complete this
    /// long after its first byte, however slowly it trickles in. Default 10.
    pub request_head_timeout_secs: u64,
    /// A keep-alive connection without a request is closed after this long. Default 120 (above
    /// common scrape intervals, so a scraper keeps its connection).
    pub idle_timeout_secs: u64,
}

impl Default for ExporterConfig {
    fn default() -> Self {
        ExporterConfig {
            listen: format!("127.0.0.1:{DEFAULT_PORT}"),
            per_stream_series: false,
            max_stream_series: 10_000,
            ended_series_linger_secs: 15,
            address_labels: "keep".into(),
            address_prefix_v4: 24,
            address_prefix_v6: 48,
            hash_key: String::new(),
            peer_groups: BTreeMap::new(),
            cname_label: false,
            local_addresses: Vec::new(),
            web_config_file: String::new(),
            streams_endpoint: true,
            max_connections: 128,
            max_connections_per_address: 32,
            request_head_timeout_secs: 10,
            idle_timeout_secs: 120,
        }
    }
}

/// Parse `"addr/len"`; `None` unless the length fits the family.
pub fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (a, l) = s.trim().split_once('/')?;
    let addr: std::net::IpAddr = a.trim().parse().ok()?;
    let len: u8 = l.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((addr, len))
}

/// Problems of `[exporter]`.
pub fn problems(e: &ExporterConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut check = |ok: bool, key: &str, value: String, fix: &str| {
        if !ok {
            out.push(Problem {
                key: key.into(),
                value,
                fix: fix.into(),
            });
        }
    };
    check(
        e.listen.is_empty() || e.listen.parse::<std::net::SocketAddr>().is_ok(),
        "exporter.listen",
        format!("{:?}", e.listen),
        "write address:port (\"127.0.0.1:10533\", \"[::]:10533\"), or \"\" for no endpoint",
    );
    check(
        (1..=1_000_000).contains(&e.max_stream_series),
        "exporter.max_stream_series",
        e.max_stream_series.to_string(),
        "use 1 to 1000000 streams",
    );
    check(
        e.ended_series_linger_secs <= 3600,
        "exporter.ended_series_linger_secs",
        e.ended_series_linger_secs.to_string(),
        "use 0 to 3600 seconds (at least the scrape interval)",
    );
    check(
        ["keep", "prefix", "hash"].contains(&e.address_labels.as_str()),
        "exporter.address_labels",
        format!("{:?}", e.address_labels),
        "use \"keep\", \"prefix\" or \"hash\"",
    );
    check(
        e.address_prefix_v4 <= 32,
        "exporter.address_prefix_v4",
        e.address_prefix_v4.to_string(),
        "use 0 to 32 bits",
    );
    check(
        e.address_prefix_v6 <= 128,
        "exporter.address_prefix_v6",
        e.address_prefix_v6.to_string(),
        "use 0 to 128 bits",
    );
    check(
        e.address_labels != "hash" || e.hash_key.len() >= 16,
        "exporter.hash_key",
        format!("({} characters)", e.hash_key.len()),
        "with address_labels = \"hash\", set a secret of at least 16 characters",
    );
    for (cidr, name) in &e.peer_groups {
        check(
            parse_cidr(cidr).is_some(),
            &format!("exporter.peer_groups.{cidr:?}"),
            format!("{name:?}"),
            "the key must be a CIDR prefix such as \"10.0.0.0/8\" or \"2001:db8::/32\"",
        );
        let name_ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        check(
            name_ok,
            &format!("exporter.peer_groups.{cidr:?}"),
            format!("{name:?}"),
            "name the group with 1 to 32 characters of a-z, 0-9, _ and -",
        );
    }
    check(
        (1..=65_536).contains(&e.max_connections),
        "exporter.max_connections",
        e.max_connections.to_string(),
        "use 1 to 65536 connections",
    );
    check(
        (1..=e.max_connections.max(1)).contains(&e.max_connections_per_address),
        "exporter.max_connections_per_address",
        e.max_connections_per_address.to_string(),
        "use 1 to exporter.max_connections",
    );
    check(
        (1..=300).contains(&e.request_head_timeout_secs),
        "exporter.request_head_timeout_secs",
        e.request_head_timeout_secs.to_string(),
        "use 1 to 300 seconds",
    );
    check(
        (1..=3600).contains(&e.idle_timeout_secs),
        "exporter.idle_timeout_secs",
        e.idle_timeout_secs.to_string(),
        "use 1 to 3600 seconds",
    );
    for (i, a) in e.local_addresses.iter().enumerate() {
        check(
            a.trim().parse::<std::net::IpAddr>().is_ok(),
            &format!("exporter.local_addresses[{i}]"),
            format!("{a:?}"),
            "write an IPv4 or IPv6 address of this host",
        );
    }
    if !e.web_config_file.is_empty() {
        let path = std::path::Path::new(&e.web_config_file);
        for p in crate::export::web_config::problems(path) {
            let key = if p.key == "exporter.web_config_file" {
                p.key
            } else {
                format!("exporter.web_config_file: {}", p.key)
            };
            out.push(Problem {
                key,
                value: format!("{:?}", e.web_config_file),
                fix: p.fix,
            });
        }
    }
    out
}
