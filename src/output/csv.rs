//! One CSV row per stream, columns named after the JSON keys. Values containing a comma, quote
//! or newline are quoted (RFC 4180).

use crate::engine::record::StreamRecord;
use crate::replay::Report;
use std::io::Write;

const METHODS: [&str; 4] = ["capture_point", "end_to_end", "sr_chain", "stun"];

/// Write the header row and one row per stream.
pub fn write_csv(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let mut header: Vec<String> = [
        "src",
        "dst",
        "ssrc",
        "payload_types",
        "clock_rate",
        "clock_rate_source",
        "packets",
        "bytes",
        "first_seen",
        "last_seen",
        "expected",
        "lost",
        "duplicates",
        "reordered",
        "seq_restarts",
        "max_gap_ms",
        "jitter_ms",
        "max_jitter_ms",
        "mean_jitter_ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for m in METHODS {
        for f in ["last", "min", "mean", "max", "samples"] {
            header.push(if f == "samples" {
                format!("rtt_{m}_samples")
            } else {
                format!("rtt_{m}_{f}_ms")
            });
        }
    }
    header.extend(
        [
            "remote_fraction_lost",
            "remote_cumulative_lost",
            "remote_ext_highest_seq",
            "remote_jitter_ms",
            "remote_reports",
            "loss_upstream",
            "loss_downstream",
            "cname",
            "ended_by",
            "srtcp",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    writeln!(out, "{}", header.join(","))?;
    for r in &report.streams {
        writeln!(out, "{}", row(r).join(","))?;
    }
    Ok(())
}

fn row(r: &StreamRecord) -> Vec<String> {
    fn o<T: ToString>(v: Option<T>) -> String {
        v.map_or(String::new(), |v| v.to_string())
    }
    let pts: Vec<String> = r.payload_types.iter().map(u8::to_string).collect();
    let mut v = vec![
        quote(&r.src),
        quote(&r.dst),
        r.ssrc.to_string(),
        quote(&pts.join(" ")),
        o(r.clock_rate),
        o(r.clock_rate_source),
        r.packets.to_string(),
        r.bytes.to_string(),
        r.first_seen.clone(),
        r.last_seen.clone(),
        r.expected.to_string(),
        r.lost.to_string(),
        r.duplicates.to_string(),
        r.reordered.to_string(),
        r.seq_restarts.to_string(),
        r.max_gap_ms.to_string(),
        o(r.jitter_ms),
        o(r.max_jitter_ms),
        o(r.mean_jitter_ms),
    ];
    for m in METHODS {
        let s = r.rtt_ms.get(m);
        v.push(o(s.map(|s| s.last)));
        v.push(o(s.map(|s| s.min)));
        v.push(o(s.map(|s| s.mean)));
        v.push(o(s.map(|s| s.max)));
        v.push(o(s.map(|s| s.samples)));
    }
    let rem = r.remote.as_ref();
    v.extend([
        o(rem.map(|x| x.fraction_lost)),
        o(rem.map(|x| x.cumulative_lost)),
        o(rem.map(|x| x.ext_highest_seq)),
        o(rem.and_then(|x| x.jitter_ms)),
        o(rem.map(|x| x.reports)),
        o(r.loss_upstream),
        o(r.loss_downstream),
        quote(r.cname.as_deref().unwrap_or("")),
        r.ended_by.to_string(),
        r.srtcp.to_string(),
    ]);
    v
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
