//! `rtcprobe replay FILE --report report.html`: one self-contained HTML page about a capture.
//!
//! The page is built from the **forwarded records** (docs/records.md), the very lines that
//! `--records` writes: [`Collector`] reads them from a [`crate::forward::Forwarder::tap`], one
//! record at a time, and keeps per stream the latest cumulative figures plus a bounded time
//! series ([`series`]). Nothing here recomputes statistics; it only ranks, words and draws
//! what the engine already measured. [`verdict`] grades each stream against documented
//! thresholds and writes the plain-words summary; [`html`] and [`svg`] render the page.
//!
//! The page never fetches anything: CSS is inline, the plots are inline SVG written here, there
//! is no script, and a Content-Security-Policy meta forbids any load (`default-src 'none'`).
//! For large captures the worst [`PLOTTED`] streams are plotted, the table lists up to
//! [`TABLE_ROWS`]; the collector keeps at most [`MAX_STREAMS`] streams (counting the rest), so
//! memory and file size are bounded. What it does not do yet: calls, hops and findings (a
//! marked place in the page waits for them); streams are grouped by address pair.

pub mod html;
pub mod series;
pub mod svg;
pub mod verdict;

use crate::forward::record::{parse_rfc3339, Record};
use series::{Point, Series};
use std::collections::HashMap;

/// Streams plotted (the worst first).
pub const PLOTTED: usize = 50;
/// Rows of the stream table.
pub const TABLE_ROWS: usize = 10_000;
/// Streams the collector follows; later ones are counted in [`Collector::untracked`].
pub const MAX_STREAMS: usize = 50_000;

/// What identifies a stream's records: src, dst, SSRC and first packet time.
/// 5-tuple, SSRC, first packet time and observation point (records of older probes: none).
type Key = (String, u16, String, u16, u32, String, Option<String>);

/// What the report knows about one stream, from its latest record.
#[derive(Debug, Clone, Default)]
pub struct StreamView {
    pub src_ip: String,
    pub src_port: u16,
    pub dst_ip: String,
    pub dst_port: u16,
    pub ssrc: u32,
    pub payload_type: Option<u8>,
    pub first_ns: i64,
    pub last_ns: i64,
    /// Cumulative, as in the latest record.
    pub packets: u64,
    pub bytes: u64,
    pub expected: u64,
    pub lost: i64,
    pub duplicates: u64,
    pub loss_upstream: Option<i64>,
    pub loss_downstream: Option<i64>,
    /// Highest jitter of any record, the probe's or the receiver's, ms.
    pub jitter_peak_ms: Option<f64>,
    /// Latest and highest RTT (end-to-end, else SR chain, STUN, capture point), ms.
    pub rtt_ms: Option<f64>,
    pub rtt_peak_ms: Option<f64>,
    /// The final record's E-model estimate (the whole stream), else the latest interval's.
    pub mos: Option<f64>,
    pub r_factor: Option<f64>,
    /// Lowest interval MOS.
    pub mos_low: Option<f64>,
    pub ended_by: Option<String>,
    pub probe_drop: bool,
    pub series: Series,
}

impl StreamView {
    /// `addr:port` of the sender (IPv6 in brackets).
    pub fn src(&self) -> String {
        endpoint(&self.src_ip, self.src_port)
    }

    pub fn dst(&self) -> String {
        endpoint(&self.dst_ip, self.dst_port)
    }

    /// Lost packets of the whole stream as the listener saw them: the receiver's count
    /// (`loss_upstream + loss_downstream`) when it has reported, else the probe's `lost`.
    pub fn lost_total(&self) -> i64 {
        match (self.loss_upstream, self.loss_downstream) {
            (Some(u), Some(d)) => u.saturating_add(d),
            _ => self.lost,
        }
        .max(0)
    }

    /// [`Self::lost_total`] in percent of the expected packets.
    pub fn loss_pct(&self) -> Option<f64> {
        (self.expected > 0).then(|| self.lost_total() as f64 * 100.0 / self.expected as f64)
    }

    fn update(&mut self, r: &Record) {
        self.payload_type = r.payload_type;
        self.last_ns = parse_rfc3339(&r.last_seen).unwrap_or(self.last_ns);
        self.packets = r.packets;
        self.bytes = r.bytes;
        self.expected = r.expected;
        self.lost = r.lost;
        self.duplicates = r.duplicates;
        self.loss_upstream = r.loss_upstream;
        self.loss_downstream = r.loss_downstream;
        let jitter = max_opt(r.jitter_ms, r.remote_jitter_ms);
        self.jitter_peak_ms = max_opt(self.jitter_peak_ms, jitter);
        let rtt = r
            .rtt_end_to_end_ms
            .or(r.rtt_sr_chain_ms)
            .or(r.rtt_stun_ms)
            .or(r.rtt_capture_point_ms);
        self.rtt_ms = rtt.or(self.rtt_ms);
        self.rtt_peak_ms = max_opt(self.rtt_peak_ms, rtt);
        if r.mos.is_some() {
            self.mos = r.mos;
            self.r_factor = r.r_factor;
        }
        if r.kind == "final" {
            self.ended_by = r.ended_by.clone();
        } else if let Some(m) = r.mos {
            self.mos_low = Some(self.mos_low.map_or(m, |l| l.min(m)));
        }
        self.probe_drop |= r.probe_drop;
        let start = parse_rfc3339(&r.interval_start).unwrap_or(0);
        let end = parse_rfc3339(&r.interval_end).unwrap_or(start);
        if r.interval_expected == 0 && r.interval_packets == 0 && r.kind == "final" {
            return; // the stream's last boundary was its last packet: nothing to plot
        }
        let f = |v: Option<f64>| v.map_or(f32::NAN, |v| v as f32);
        self.series.push(Point {
            end_ns: end,
            dur_ms: u32::try_from(end.saturating_sub(start).max(0) / 1_000_000).unwrap_or(u32::MAX),
            lost: i32::try_from(r.interval_lost).unwrap_or(if r.interval_lost < 0 {
                i32::MIN
            } else {
                i32::MAX
            }),
            expected: u32::try_from(r.interval_expected).unwrap_or(u32::MAX),
            bytes: u32::try_from(r.interval_bytes).unwrap_or(u32::MAX),
            jitter_ms: f(jitter),
            rtt_ms: f(rtt),
            mos: f(r.mos),
        });
    }
}

fn endpoint(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Reads records (one JSON line each, as the sinks get them) into per-stream views.
#[derive(Debug, Default)]
pub struct Collector {
    streams: HashMap<Key, StreamView>,
    /// Records of streams past [`MAX_STREAMS`].
    pub untracked: u64,
    /// Lines that were not a record (cannot happen with the tap; counted rather than trusted).
    pub unreadable: u64,
}

impl Collector {
    /// Take one record line.
    pub fn line(&mut self, line: &[u8]) {
        match serde_json::from_slice::<Record>(line) {
            Ok(r) => self.record(&r),
            Err(_) => self.unreadable += 1,
        }
    }

    /// Take one record.
    pub fn record(&mut self, r: &Record) {
        let key: Key = (
            r.src_ip.clone(),
            r.src_port,
            r.dst_ip.clone(),
            r.dst_port,
            r.ssrc,
            r.first_seen.clone(),
            r.observed_at.clone(),
        );
        let full = self.streams.len() >= MAX_STREAMS;
        let view = match self.streams.get_mut(&key) {
            Some(v) => v,
            None if full => {
                self.untracked += 1;
                return;
            }
            None => self.streams.entry(key).or_insert_with(|| StreamView {
                src_ip: r.src_ip.clone(),
                src_port: r.src_port,
                dst_ip: r.dst_ip.clone(),
                dst_port: r.dst_port,
                ssrc: r.ssrc,
                first_ns: parse_rfc3339(&r.first_seen).unwrap_or(0),
                ..StreamView::default()
            }),
        };
        view.update(r);
    }

    /// Every stream, in no particular order.
    pub fn into_streams(self) -> Vec<StreamView> {
        self.streams.into_values().collect()
    }
}

/// Read record lines from a [`crate::forward::Forwarder::tap`] on a thread of its own until
/// the forwarder finishes; the collected streams are what the thread returns.
pub fn spawn_collector(
    rx: crossbeam_channel::Receiver<crate::forward::Line>,
) -> std::io::Result<std::thread::JoinHandle<Collector>> {
    std::thread::Builder::new()
        .name("rtcprobe-report".into())
        .spawn(move || {
            let mut c = Collector::default();
            while let Ok(line) = rx.recv() {
                c.line(&line);
            }
            c
        })
}

/// Render the page and write it to `path` (through a temporary file beside it, renamed at the
/// end, so that a reader never sees half a report).
pub fn write(
    path: &std::path::Path,
    summary: &crate::replay::Summary,
    c: Collector,
    info: &html::PageInfo,
) -> std::io::Result<()> {
    let page = html::render(summary, c, info);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, page)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests;
