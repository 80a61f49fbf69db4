//! The `prometheus_remote_write` sink: a buffered batch of records becomes one remote-write 1.0
//! request (<https://prometheus.io/docs/specs/remote_write_spec/>) of per-stream samples, for
//! Prometheus (`--web.enable-remote-write-receiver`), VictoriaMetrics, Mimir, Thanos Receive or
//! Cortex.
//!
//! Each record gives one sample per metric below, timestamped with its `interval_end` (or the
//! send time, `timestamp = "now"`). Labels are bounded to what names a stream: `host`, `ssrc`,
//! `payload_type`, and `src`/`dst` (`ip:port`) unless `address_labels = false`; never the record
//! ID or the record kind, so an interval record and the final record of one stream land in the
//! same series. Metric names follow STYLE.md rule 8 in base units (seconds, ratios):
//!
//! | metric                                          | record field            |
//! |-------------------------------------------------|-------------------------|
//! | `rtcprobe_stream_packets_total`                 | `packets`               |
//! | `rtcprobe_stream_bytes_total`                   | `bytes`                 |
//! | `rtcprobe_stream_expected_packets_total`        | `expected`              |
//! | `rtcprobe_stream_lost_packets`                  | `lost` (may go negative with duplicates, RFC 3550 §6.4.1: not a counter) |
//! | `rtcprobe_stream_jitter_seconds`                | `jitter_ms` / 1000      |
//! | `rtcprobe_stream_remote_fraction_lost_ratio`    | `remote_fraction_lost`  |
//! | `rtcprobe_stream_rtt_seconds{method}`           | `rtt_<method>_ms` / 1000|
//! | `rtcprobe_stream_r_factor`                      | `r_factor` (G.107 estimate) |
//! | `rtcprobe_stream_mos`                           | `mos`                   |
//!
//! Absent (null) fields give no sample. With `timestamp = "now"` every sample of a batch has
//! the same time, so only the latest record of each series in the batch is sent (two samples
//! with one timestamp and different values are rejected by Prometheus), and the time is kept
//! strictly increasing from batch to batch.

use super::delivery::{Outcome, Service};
use super::http::Client;
use super::prompb::{self, Label, Sample, Series};
use super::record::Record;
use crate::config::HttpConfig;
use std::collections::BTreeMap;

/// Sample timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// The record's `interval_end` (capture time).
    Capture,
    /// The send time.
    Now,
}

pub struct RemoteWrite {
    client: Client,
    url: String,
    stamp: Stamp,
    address_labels: bool,
    last_now_ms: i64,
}

impl RemoteWrite {
    pub fn new(
        url: &str,
        stamp: Stamp,
        address_labels: bool,
        h: &HttpConfig,
    ) -> Result<RemoteWrite, super::tls::TlsError> {
        let (client, url) = Client::for_url(h, url)?;
        Ok(RemoteWrite {
            client,
            url,
            stamp,
            address_labels,
            last_now_ms: 0,
        })
    }
}

impl Service for RemoteWrite {
    fn send(&mut self, batch: &[u8], _records: u64) -> Outcome {
        let records: Vec<Record> = batch
            .split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect();
        let now = match self.stamp {
            Stamp::Capture => None,
            Stamp::Now => {
                let ms = i64::try_from(super::unix_nanos() / 1_000_000).unwrap_or(i64::MAX);
                self.last_now_ms = ms.max(self.last_now_ms.saturating_add(1));
                Some(self.last_now_ms)
            }
        };
        let series = to_series(&records, now, self.address_labels);
        if series.is_empty() {
            return Outcome::Sent;
        }
        let body = match prompb::compressed(&series) {
            Ok(b) => b,
            Err(e) => return Outcome::Rejected(format!("snappy: {e}")),
        };
        self.client.post(
            &self.url,
            &[
                ("Content-Encoding", "snappy"),
                ("Content-Type", "application/x-protobuf"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                (
                    "User-Agent",
                    concat!("rtcprobe/", env!("CARGO_PKG_VERSION")),
                ),
            ],
            &body,
        )
    }
}

/// The samples of `records`, grouped into series. `now`: stamp every sample with this time
/// (ms) and keep only each series' latest record.
pub fn to_series(records: &[Record], now: Option<i64>, address_labels: bool) -> Vec<Series> {
    let mut by: BTreeMap<Vec<Label>, Vec<(i64, f64)>> = BTreeMap::new();
    for r in records {
        let t = r.interval_end_ns().div_euclid(1_000_000);
        for (labels, value) in samples(r, address_labels) {
            by.entry(labels).or_default().push((t, value));
        }
    }
    by.into_iter()
        .map(|(labels, mut points)| {
            // Stable: of two records ending at the same time, the later one wins.
            points.sort_by_key(|p| p.0);
            let samples = match now {
                Some(ms) => points
                    .last()
                    .map(|p| Sample {
                        value: p.1,
                        timestamp_ms: ms,
                    })
                    .into_iter()
                    .collect(),
                None => points
                    .iter()
                    .map(|p| Sample {
                        value: p.1,
                        timestamp_ms: p.0,
                    })
                    .collect(),
            };
            Series::new(labels, samples)
        })
        .collect()
}

/// A metric name, an extra label pair and the record's value, if any.
type Metric<'a> = (&'a str, Option<(&'a str, &'a str)>, Option<f64>);

/// `(labels, value)` of every metric a record has a value for.
fn samples(r: &Record, address_labels: bool) -> Vec<(Vec<Label>, f64)> {
    let l = |n: &str, v: String| Label {
        name: n.to_string(),
        value: v,
    };
    let mut base = vec![l("host", r.host.clone()), l("ssrc", r.ssrc.to_string())];
    if let Some(pt) = r.payload_type {
        base.push(l("payload_type", pt.to_string()));
    }
    if address_labels {
        base.push(l("src", join(&r.src_ip, r.src_port)));
        base.push(l("dst", join(&r.dst_ip, r.dst_port)));
    }
    let ms = |v: Option<f64>| v.map(|x| x / 1000.0);
    let mut out: Vec<Metric> = vec![
        (
            "rtcprobe_stream_packets_total",
            None,
            Some(r.packets as f64),
        ),
        ("rtcprobe_stream_bytes_total", None, Some(r.bytes as f64)),
        (
            "rtcprobe_stream_expected_packets_total",
            None,
            Some(r.expected as f64),
        ),
        ("rtcprobe_stream_lost_packets", None, Some(r.lost as f64)),
        ("rtcprobe_stream_jitter_seconds", None, ms(r.jitter_ms)),
        (
            "rtcprobe_stream_remote_fraction_lost_ratio",
            None,
            r.remote_fraction_lost,
        ),
        ("rtcprobe_stream_r_factor", None, r.r_factor),
        ("rtcprobe_stream_mos", None, r.mos),
    ];
    for (method, v) in [
        ("capture_point", r.rtt_capture_point_ms),
        ("end_to_end", r.rtt_end_to_end_ms),
        ("sr_chain", r.rtt_sr_chain_ms),
        ("stun", r.rtt_stun_ms),
    ] {
        out.push((
            "rtcprobe_stream_rtt_seconds",
            Some(("method", method)),
            ms(v),
        ));
    }
    out.into_iter()
        .filter_map(|(name, extra, v)| {
            let v = v.filter(|v| v.is_finite())?;
            let mut labels = base.clone();
            labels.push(l("__name__", name.to_string()));
            if let Some((k, val)) = extra {
                labels.push(l(k, val.to_string()));
            }
            labels.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
            Some((labels, v))
        })
        .collect()
}

/// `ip:port`, IPv6 in brackets.
fn join(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

#[cfg(test)]
#[path = "remote_write_tests.rs"]
mod tests;
