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

/// Streams without `ended_by`, sorted by (src, dst, ssrc).
pub fn streams(mut v: Vec<Value>) -> Vec<Value> {
    for s in &mut v {
        s.as_object_mut().expect("stream object").remove("ended_by");
    }
    v.sort_by_key(|s| {
        (
            s["src"].to_string(),
            s["dst"].to_string(),
            s["ssrc"].as_u64(),
        )
    });
    v
}

pub fn key(s: &Value) -> String {
    format!("{} → {} ssrc {}", s["src"], s["dst"], s["ssrc"])
}

/// What the live run wrote.
pub struct Live {
    pub records: Vec<Value>,
    pub summary: Value,
}

/// (a): the live records are exactly `rtcprobe replay` of tcpdump's capture beside it.
pub fn check_against_beside(live: &Live, beside: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let (l, r) = (
        streams(live.records.clone()),
        streams(beside["streams"].as_array().expect("streams").clone()),
    );
    if l.len() != r.len() {
        problems.push(format!("{} live streams, {} beside", l.len(), r.len()));
    }
    for (a, b) in l.iter().zip(&r) {
        if a != b {
            problems.push(format!("{}:\n    live   {a}\n    beside {b}", key(a)));
        }
    }
    let s = &beside["summary"];
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
    "src",
    "dst",
    "ssrc",
    "payload_types",
    "clock_rate",
    "clock_rate_source",
    "packets",
    "bytes",
    "expected",
    "lost",
    "duplicates",
    "reordered",
    "seq_restarts",
    "remote",
    "loss_upstream",
    "loss_downstream",
    "sender",
    "feedback",
    "cname",
    "srtcp",
];

/// Time differences in ms, compared within `2E`.
const INTERVAL_FIELDS: &[&str] = &["max_gap_ms", "jitter_ms", "max_jitter_ms", "mean_jitter_ms"];

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

/// (b): the live records against `rtcprobe replay` of the original file. `pacing` is
/// tcpreplay's measured pacing, `None` when the file was sent faster than recorded (counts
/// only then).
pub fn check_against_original(
    live: &Live,
    beside: &Value,
    orig: &Value,
    pacing: Option<&Pacing>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let (l, o) = (
        streams(live.records.clone()),
        streams(orig["streams"].as_array().expect("streams").clone()),
    );
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
            let (x, y) = (micros(&a[f]) - start(beside), micros(&b[f]) - start(orig));
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
        let gap_ns = b["max_gap_ms"].as_f64().unwrap_or(0.0) * 1e6;
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
        let (ra, rb) = (
            a["rtt_ms"].as_object().expect("rtt_ms"),
            b["rtt_ms"].as_object().expect("rtt_ms"),
        );
        if ra.keys().ne(rb.keys()) {
            problems.push(format!(
                "{} rtt_ms methods: live {ra:?} file {rb:?}",
                key(a)
            ));
            continue;
        }
        for (m, x) in ra {
            let y = &rb[m];
            // sr_chain is computed from the sender's NTP timestamps only: exact.
            let ok = x["samples"] == y["samples"]
                && ["last", "min", "mean", "max"].iter().all(|k| {
                    if m == "sr_chain" {
                        x[k] == y[k]
                    } else {
                        close(&x[k], &y[k], rtt_ms)
                    }
                });
            if !ok {
                problems.push(format!("{} rtt_ms.{m}: live {x} file {y}", key(a)));
            }
        }
    }
    problems
}
