//! The comparisons of `tests/live.rs`: (a) the daemon's records against `rtcprobe replay` of
//! tcpdump's capture beside it, exactly; (b) against `rtcprobe replay` of the original file,
//! counts exactly and times within tolerances derived from tcpreplay's measured pacing.

use serde_json::Value;
use std::path::Path;

/// A capture file's frames: (timestamp in ns since the epoch, bytes).
pub fn frames(path: &Path) -> Vec<(i64, Vec<u8>)> {
    let mut cap = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v = Vec::new();
    while let Ok(p) = cap.next_packet() {
        let ts = p.header.ts;
        v.push((ts.tv_sec * 1_000_000_000 + ts.tv_usec, p.data.to_vec()));
    }
    v
}

/// tcpreplay's pacing error on one run: for every frame, its time after the first frame as
/// recorded and the error of the same as captured. tcpreplay sleeps from packet to packet, so
/// the error of one interval is small (tens of µs idle, a few ms on a loaded 2-core machine)
/// while a lag, once taken, is never made up: over a whole file it adds up to tens of ms.
pub struct Pacing(Vec<(i64, i64)>);

impl Pacing {
    /// Compare the frames sent and captured (same bytes, same order) and keep the errors.
    pub fn measure(original: &Path, captured: &Path) -> Pacing {
        let (o, c) = (frames(original), frames(captured));
        assert_eq!(
            o.len(),
            c.len(),
            "{}: frames sent vs captured",
            original.display()
        );
        let mut v = Vec::with_capacity(o.len());
        for (i, (a, b)) in o.iter().zip(&c).enumerate() {
            assert!(
                a.1 == b.1,
                "{}: frame {} differs",
                original.display(),
                i + 1
            );
            v.push((a.0 - o[0].0, (b.0 - c[0].0) - (a.0 - o[0].0)));
        }
        Pacing(v)
    }

    /// The worst error of a time difference between two frames at most `window_ns` apart
    /// (as recorded): the tolerance of every value computed from such differences.
    pub fn within(&self, window_ns: i64) -> i64 {
        let mut worst = 0;
        for (i, &(t, e)) in self.0.iter().enumerate() {
            for &(u, f) in self.0[i + 1..]
                .iter()
                .take_while(|(u, _)| u - t <= window_ns)
            {
                debug_assert!(u >= t);
                worst = worst.max((f - e).abs());
            }
        }
        worst
    }

    /// The worst error of a frame's time after the first.
    pub fn offset(&self) -> i64 {
        self.0.iter().map(|(_, e)| e.abs()).max().unwrap_or(0)
    }
}

/// Records without `ended_by`, sorted by stream, kind and interval.
pub fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    for s in &mut v {
        s.as_object_mut().expect("record object").remove("ended_by");
    }
    v.sort_by_key(|s| (key(s), s["kind"].to_string(), s["interval_end"].to_string()));
    v
}

pub fn key(s: &Value) -> String {
    // A stream is also where it was seen (observation points, issue 10), when records say so.
    let at = s["observed_at"]
        .as_str()
        .map(|p| format!(" at {p}"))
        .unwrap_or_default();
    format!(
        "{}:{} → {}:{} ssrc {}{at}",
        s["src_ip"], s["src_port"], s["dst_ip"], s["dst_port"], s["ssrc"]
    )
}

/// What the live run wrote: its records (`--records`, schema v1) and summary.
pub struct Live {
    pub records: Vec<Value>,
    pub summary: Value,
}

/// What `rtcprobe replay --format json --records` gave: the report and the records.
pub type Replayed = (Value, Vec<Value>);

/// Fields that say how the probe itself fared: only a live probe drops packets.
const PROBE_HEALTH: &[&str] = &["probe_drop", "probe_dropped"];

/// Keys of a final record that depend on how its stream's records were cut into periods.
const PERIOD_FIELDS: &[&str] = &[
    "ended_by",
    "record_id",
    "interval_start",
    "interval_packets",
    "interval_bytes",
    "interval_expected",
    "interval_lost",
];

/// (a): the live records against `rtcprobe replay --records` of tcpdump's capture beside it.
/// Final records are equal but for [`PERIOD_FIELDS`]. Interval records are cut by the engine
/// on packet timestamps (docs/records.md), so live and replay give the same ones, field by
/// field except [`PROBE_HEALTH`], none more, none fewer; and the live periods must add up to
/// each final record, as docs/records.md promises.
pub fn check_against_beside(live: &Live, beside: &Replayed) -> Vec<String> {
    let mut problems = Vec::new();
    let strip = |v: Vec<Value>| -> Vec<Value> {
        v.into_iter()
            .map(|mut r| {
                let o = r.as_object_mut().expect("record object");
                for f in PERIOD_FIELDS {
                    o.remove(*f);
                }
                r
            })
            .collect()
    };
    let (l, r) = (strip(finals(&live.records)), strip(finals(&beside.1)));
    if l.len() != r.len() {
        problems.push(format!("{} live streams, {} beside", l.len(), r.len()));
    }
    for (a, b) in l.iter().zip(&r) {
        if a != b {
            problems.push(format!("{}:\n    live   {a}\n    beside {b}", key(a)));
        }
    }
    // Interval records: equal field by field but for the probe-health fields.
    let intervals = |v: &[Value]| -> Vec<Value> {
        let mut out: Vec<Value> = v
            .iter()
            .filter(|r| r["kind"] == "interval")
            .cloned()
            .map(|mut r| {
                let o = r.as_object_mut().expect("record object");
                for f in PROBE_HEALTH {
                    o.remove(*f);
                }
                r
            })
            .collect();
        out.sort_by_key(|r| (key(r), r["interval_end"].to_string()));
        out
    };
    let (li, bi) = (intervals(&live.records), intervals(&beside.1));
    if li.len() != bi.len() {
        problems.push(format!(
            "{} interval records live, {} beside",
            li.len(),
            bi.len()
        ));
    }
    for b in &bi {
        let at = (key(b), b["interval_end"].to_string());
        match li
            .iter()
            .find(|l| (key(l), l["interval_end"].to_string()) == at)
        {
            Some(l) if l == b => {}
            Some(l) => problems.push(format!(
                "interval record {at:?}:\n    live   {l}\n    beside {b}"
            )),
            None => problems.push(format!("interval record {at:?} beside, not live")),
        }
    }
    for l in &li {
        let at = (key(l), l["interval_end"].to_string());
        if !bi
            .iter()
            .any(|b| (key(b), b["interval_end"].to_string()) == at)
        {
            problems.push(format!("interval record {at:?} live, not beside"));
        }
    }
    for f in finals(&live.records) {
        let periods = live.records.iter().filter(|r| key(r) == key(&f));
        let (mut packets, mut bytes, mut lost) = (0, 0, 0);
        for r in periods {
            packets += r["interval_packets"].as_i64().unwrap_or(0);
            bytes += r["interval_bytes"].as_i64().unwrap_or(0);
            lost += r["interval_lost"].as_i64().unwrap_or(0);
        }
        if (packets, bytes, lost)
            != (
                f["packets"].as_i64().unwrap_or(-1),
                f["bytes"].as_i64().unwrap_or(-1),
                f["lost"].as_i64().unwrap_or(-1),
            )
        {
            problems.push(format!(
                "{}: periods add up to {packets} packets, {bytes} bytes, {lost} lost; final {f}",
                key(&f)
            ));
        }
    }
    let s = &beside.0["summary"];
    for k in ["frames", "counters", "undecoded"] {
        if live.summary[k] != s[k] {
            problems.push(format!(
                "summary.{k}: live {} beside {}",
                live.summary[k], s[k]
            ));
        }
    }
    for k in ["kernel_dropped", "if_dropped", "pipeline_dropped"] {
        if live.summary[k] != 0 {
            problems.push(format!("summary.{k} = {}", live.summary[k]));
        }
    }
    problems
}

/// Fields that do not depend on timing: equal to the original file's whatever the pacing.
const COUNT_FIELDS: &[&str] = &[
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "ssrc",
    "payload_type",
    "clock_rate",
    "cname",
    "packets",
    "bytes",
    "expected",
    "lost",
    "duplicates",
    "reordered",
    "loss_upstream",
    "loss_downstream",
    "remote_fraction_lost",
    "remote_jitter_ms",
    "probe_dropped",
];

/// Time differences in ms, compared within `2E`.
const INTERVAL_FIELDS: &[&str] = &["jitter_ms", "max_jitter_ms"];

/// Latest RTT per method, ms: `sr_chain` exact, the others within the worst pacing error.
const RTT_FIELDS: &[&str] = &[
    "rtt_capture_point_ms",
    "rtt_end_to_end_ms",
    "rtt_sr_chain_ms",
    "rtt_stun_ms",
];

/// The final records, sorted as [`sorted`].
fn finals(v: &[Value]) -> Vec<Value> {
    sorted(v.iter().filter(|r| r["kind"] == "final").cloned().collect())
}

/// A stream's longest gap (ms) in a replay report, found by the record's 5-tuple and SSRC.
fn max_gap_ms(report: &Value, r: &Value) -> f64 {
    let addr = |s: &Value| {
        s.as_str()
            .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            .map(|a| (a.ip().to_string(), a.port()))
    };
    let want = |ip: &str, port: &str| {
        Some((
            r[ip].as_str()?.to_string(),
            u16::try_from(r[port].as_u64()?).ok()?,
        ))
    };
    report["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|s| {
            s["ssrc"] == r["ssrc"]
                && addr(&s["src"]) == want("src_ip", "src_port")
                && addr(&s["dst"]) == want("dst_ip", "dst_port")
        })
        .and_then(|s| s["max_gap_ms"].as_f64())
        .unwrap_or_else(|| panic!("{}: not in the replay report", key(r)))
}

/// RFC 3339 UTC with microseconds (`2023-11-14T22:13:20.008450Z`) → µs since the epoch.
fn micros(t: &Value) -> i64 {
    let t = t.as_str().unwrap_or_else(|| panic!("time {t}"));
    let n = |r: std::ops::Range<usize>| -> i64 { t[r].parse().unwrap_or_else(|_| panic!("{t}")) };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    secs * 1_000_000 + n(20..26)
}

/// (b): the live final records against `rtcprobe replay --records` of the original file.
/// `pacing` is tcpreplay's measured pacing, `None` when the file was sent faster than
/// recorded (counts only then).
pub fn check_against_original(
    live: &Live,
    beside: &Replayed,
    orig: &Replayed,
    pacing: Option<&Pacing>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let (l, o) = (finals(&live.records), finals(&orig.1));
    if l.len() != o.len() {
        problems.push(format!("{} live streams, {} in the file", l.len(), o.len()));
    }
    for (a, b) in l.iter().zip(&o) {
        for f in COUNT_FIELDS {
            if a[f] != b[f] {
                problems.push(format!("{} {f}: live {} file {}", key(a), a[f], b[f]));
            }
        }
        let Some(pacing) = pacing else { continue };
        // First and last seen: a frame's offset from the first frame, printed in µs.
        let point_us = pacing.offset() / 1000 + 1;
        let start = |v: &Value| micros(&v["summary"]["first_packet"]);
        for f in ["first_seen", "last_seen"] {
            let (x, y) = (
                micros(&a[f]) - start(&beside.0),
                micros(&b[f]) - start(&orig.0),
            );
            if (x - y).abs() > point_us {
                problems.push(format!(
                    "{} {f}: live +{x} µs, file +{y} µs (tolerance {point_us} µs)",
                    key(a)
                ));
            }
        }
        // Gaps and A.8's D are differences of two consecutive packets of the stream, at most
        // its longest gap apart; the jitter estimates are averages of |D|, so they are off by
        // no more than one D.
        let gap_ns = max_gap_ms(&orig.0, b) * 1e6;
        let interval_ms = pacing.within(gap_ns.ceil() as i64 + 1) as f64 / 1e6 + 1e-6;
        // An RTT is the difference of two frames anywhere in the file.
        let rtt_ms = pacing.within(i64::MAX) as f64 / 1e6 + 1e-6;
        let close = |x: &Value, y: &Value, tol: f64| match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= tol,
            _ => x == y,
        };
        for f in INTERVAL_FIELDS {
            if !close(&a[f], &b[f], interval_ms) {
                problems.push(format!(
                    "{} {f}: live {} file {} (tolerance {interval_ms:.6} ms)",
                    key(a),
                    a[f],
                    b[f]
                ));
            }
        }
        for f in RTT_FIELDS {
            // sr_chain is computed from the sender's NTP timestamps only: exact.
            let tol = if *f == "rtt_sr_chain_ms" { 0.0 } else { rtt_ms };
            if !close(&a[f], &b[f], tol) {
                problems.push(format!("{} {f}: live {} file {}", key(a), a[f], b[f]));
            }
        }
    }
    problems
}
