//! The human-readable stream table: aligned columns, units in the headers, streams in order of
//! first appearance, and a one-line summary of the capture.

use super::opt;
use crate::replay::Report;
use std::io::Write;

/// `Up/Down` is where packets were lost: before the probe (missing on the wire) / after it
/// (what the receiver reported beyond that), from RTCP receiver reports.
#[rustfmt::skip]
const HEADERS: [&str; 17] = [
    "#", "Source", "Destination", "SSRC", "PT", "Clock(Hz)", "Packets", "Lost", "Loss(%)",
    "Up/Down", "Dup", "Reord", "Jitter(ms)", "MaxJit(ms)", "MaxGap(ms)", "RTT(ms)", "Ended",
];

/// Write the table and the summary line.
pub fn write_table(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let s = &report.summary;
    let c = &s.counters;
    writeln!(
        out,
        "{}: {} frames over {:.3} s; {} streams; {} RTP, {} RTCP ({} SRTCP), {} STUN, {} DTLS; {} frames not UDP or undecodable",
        s.file,
        s.frames,
        s.duration_secs,
        s.streams,
        c.rtp_packets,
        c.rtcp_packets,
        c.srtcp_packets,
        c.stun_messages,
        c.dtls_records,
        s.undecoded.values().sum::<u64>(),
    )?;
    if let Some(e) = &s.error {
        writeln!(out, "capture incomplete: {e}")?;
    }
    let rows: Vec<[String; 17]> = report
        .streams
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let loss_pct = if r.expected > 0 {
                Some(r.lost as f64 * 100.0 / r.expected as f64)
            } else {
                None
            };
            let rtt = ["capture_point", "end_to_end", "sr_chain", "stun"]
                .iter()
                .find_map(|m| {
                    r.rtt_ms
                        .get(m)
                        .map(|v| format!("{:.1} {}", v.last, short(m)))
                })
                .unwrap_or_else(|| "-".into());
            let pts: Vec<String> = r.payload_types.iter().map(u8::to_string).collect();
            [
                (i + 1).to_string(),
                r.src.clone(),
                r.dst.clone(),
                format!("0x{:08X}", r.ssrc),
                pts.join(","),
                r.clock_rate.map_or("-".into(), |c| {
                    let tag = if r.clock_rate_source == Some("inferred") {
                        "~"
                    } else {
                        ""
                    };
                    format!("{tag}{c}")
                }),
                r.packets.to_string(),
                r.lost.to_string(),
                opt(loss_pct, 2),
                match (r.loss_upstream, r.loss_downstream) {
                    (Some(u), Some(d)) => format!("{u}/{d}"),
                    (Some(u), None) => format!("{u}/-"),
                    _ => "-".into(),
                },
                r.duplicates.to_string(),
                r.reordered.to_string(),
                opt(r.jitter_ms, 3),
                opt(r.max_jitter_ms, 3),
                format!("{:.1}", r.max_gap_ms),
                rtt,
                r.ended_by.to_string(),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                // Text columns left-aligned, numbers right-aligned.
                if matches!(i, 1 | 2 | 4 | 16) {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(&HEADERS.map(String::from)))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    if rows.is_empty() {
        writeln!(out, "(no RTP streams)")?;
    }
    Ok(())
}

fn short(method: &str) -> &'static str {
    match method {
        "capture_point" => "cp",
        "end_to_end" => "e2e",
        "sr_chain" => "sr",
        _ => "stun",
    }
}
