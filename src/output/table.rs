//! The human-readable stream table: a summary of the capture, aligned columns with units in
//! the headers, and a footer that explains the abbreviations (`--legend` explains every column).
//!
//! Loss is shown as **missing packets** (sequence numbers never received), which is never
//! negative, with duplicates in their own column: RFC 3550 A.3's signed `lost` counts
//! duplicates as received, so `Lost 0` beside `Dup 10` reads like a bug to a person. The JSON
//! keeps `lost` unchanged and carries `missing` too (docs/output.md).

use super::select::{missing_ratio, shown_rtt, Selection};
use super::{codec, opt};
use crate::replay::Report;
use std::io::Write;

#[rustfmt::skip]
const HEADERS: [&str; 19] = [
    "#", "Source", "Destination", "SSRC", "PT", "Codec", "Clock(Hz)", "Packets", "Missing",
    "Loss(%)", "Dup", "Reord", "Up/Down", "Jitter(ms)", "MaxJit(ms)", "MaxGap(ms)", "RTT(ms)",
    "MOS", "Ended",
];

/// Left-aligned (text) columns; the others are numbers, right-aligned.
const TEXT_COLUMNS: [usize; 5] = [1, 2, 4, 5, 18];

/// Always printed under the table: the abbreviations a first-time reader trips over.
pub const FOOTER: &str = "Missing = packets never received, Loss(%) = Missing/expected, Dup = \
duplicates; ~ = clock rate inferred; Up/Down = lost before/after the probe (from RTCP); RTT: \
cp capture point, e2e end to end, sr SR chain, stun ICE; MOS = E-model estimate (G.711/G.729/\
G.723 only); --legend explains every column";

/// `--legend`: every column of the table, one line each.
pub const LEGEND: &str = "\
#           row number (with --sort: rank, worst first)
Source      RTP sender, address:port
Destination RTP receiver, address:port
At          where the stream was seen (observation point: interface, if<N>, :in/:out); shown
            only when the streams were seen at more than one point
SSRC        RTP synchronisation source, hexadecimal (--filter accepts 0x… or decimal)
PT          RTP payload types seen, in order of first appearance
Codec       RFC 3551 name of each static payload type; dyn/RATE for a dynamic one (96-127)
            with the clock rate used, dyn when that rate is unknown
Clock(Hz)   RTP clock rate used for jitter; ~ = inferred from the timestamps (no static
            payload type and none in [payload_types])
Packets     RTP packets received, duplicates included
Missing     sequence numbers never received (JSON `missing`); never negative
Loss(%)     Missing as a share of the packets expected (RFC 3550 A.3 extended range)
Dup         packets received more than once (JSON `duplicates`); RFC 3550's `lost` counts them
            as received, so `lost` = Missing - Dup and can be negative
Reord       packets that arrived after a later one
Up/Down     from the receiver's RTCP reports: packets lost before the probe (upstream) /
            after it (downstream); - without receiver reports
Jitter(ms)  final RFC 3550 A.8 interarrival jitter, as a receiver at the probe would report it
MaxJit(ms)  highest value of the running jitter estimate
MaxGap(ms)  longest interval between two consecutive packets
RTT(ms)     last round-trip time and its method: cp capture point (RFC 3550 6.4.1 at the probe),
            e2e end to end (both legs), sr SR chain (the sender's own view), stun ICE checks
MOS         E-model (ITU-T G.107) estimate 1-4.5 from codec, loss, jitter and RTT; - for codecs
            without G.113 values (only G.711, G.729, G.723.1 have them)
Ended       why the stream ended: bye, idle, end_of_capture, evicted, shutdown";

/// Write the summary, the selected streams and the footer (or the full legend).
pub fn write_table(
    report: &Report,
    sel: &Selection,
    legend: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let s = &report.summary;
    let c = &s.counters;
    writeln!(
        out,
        "{}: {} over {}; {}; {} RTP, {} RTCP ({} SRTCP), {} STUN, {} DTLS; {} not UDP or undecodable",
        s.file,
        plural(s.frames, "frame"),
        duration(s.duration_secs),
        plural(s.streams as u64, "stream"),
        c.rtp_packets,
        c.rtcp_packets,
        c.srtcp_packets,
        c.stun_messages,
        c.dtls_records,
        plural(s.undecoded.values().sum::<u64>(), "frame"),
    )?;
    if s.duration_secs >= 86_400.0 {
        if let (Some(a), Some(b)) = (&s.first_packet, &s.last_packet) {
            writeln!(
                out,
                "note: packets from {a} to {b}: probably captures made at different times \
                 merged into one file, or a clock that jumped"
            )?;
        }
    }
    if let Some(e) = &s.error {
        writeln!(out, "capture incomplete: {e}")?;
    }
    let shown = sel.apply(report);
    if !sel.is_all() {
        let mut how = format!(
            "showing {} of {}",
            shown.len(),
            plural(s.streams as u64, "stream")
        );
        if let Some(k) = sel.sort {
            let key = format!("{k:?}").to_lowercase();
            how.push_str(&format!(", sorted by {key}, worst first"));
        }
        writeln!(out, "{how}")?;
    }
    let rows: Vec<Vec<String>> = shown
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let rtt =
                shown_rtt(r).map_or_else(|| "-".into(), |(v, m)| format!("{v:.1} {}", short(m)));
            let pts: Vec<String> = r.payload_types.iter().map(u8::to_string).collect();
            [
                (i + 1).to_string(),
                r.src.clone(),
                r.dst.clone(),
                format!("0x{:08X}", r.ssrc),
                pts.join(","),
                codec::names(&r.payload_types, r.clock_rate),
                r.clock_rate.map_or("-".into(), |c| {
                    let tag = if r.clock_rate_source == Some("inferred") {
                        "~"
                    } else {
                        ""
                    };
                    format!("{tag}{c}")
                }),
                r.packets.to_string(),
                r.missing.to_string(),
                opt(missing_ratio(r).map(|v| v * 100.0), 2),
                r.duplicates.to_string(),
                r.reordered.to_string(),
                match (r.loss_upstream, r.loss_downstream) {
                    (Some(u), Some(d)) => format!("{}/{}", u.max(0), d.max(0)),
                    (Some(u), None) => format!("{}/-", u.max(0)),
                    _ => "-".into(),
                },
                opt(r.jitter_ms, 3),
                opt(r.max_jitter_ms, 3),
                format!("{:.1}", r.max_gap_ms),
                rtt,
                opt(r.quality().map(|q| q.mos), 2),
                r.ended_by.to_string(),
            ]
            .into()
        })
        .collect();
    // The observation point column, only when it tells streams apart (docs/output.md).
    let points = shown.iter().map(|r| &r.observed_at);
    let several = points
        .clone()
        .any(|p| Some(p) != shown.first().map(|r| &r.observed_at));
    let mut headers: Vec<String> = HEADERS.map(String::from).into();
    let mut text: Vec<usize> = TEXT_COLUMNS.into();
    let mut rows = rows;
    if several {
        const AT: usize = 3;
        headers.insert(AT, "At".into());
        for (row, p) in rows.iter_mut().zip(points) {
            row.insert(AT, p.clone());
        }
        text = text
            .iter()
            .map(|&i| if i >= AT { i + 1 } else { i })
            .collect();
        text.push(AT);
    }
    let mut widths: Vec<usize> = headers.iter().map(String::len).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, &w))| {
                if text.contains(&i) {
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
    writeln!(out, "{}", line(&headers))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    if rows.is_empty() {
        let none = if report.streams.is_empty() {
            "(no RTP streams)"
        } else {
            "(no stream matches --filter)"
        };
        writeln!(out, "{none}")?;
    }
    if legend {
        writeln!(out, "\n{LEGEND}")
    } else {
        writeln!(out, "{FOOTER}")
    }
}

/// `1 stream`, `2 streams`, `0 streams`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A duration for people: `59.983 s`, `12 min 3.5 s`, `5 h 2 min`, `3 d 4 h`, `9.9 years`.
/// Negative or non-finite values (which a summary never holds) print as `0 s`.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs <= 0.0 {
        return "0 s".into();
    }
    let whole = secs as u64;
    match whole {
        0..=59 => format!("{secs:.3} s"),
        60..=3_599 => format!(
            "{} min {:.1} s",
            whole / 60,
            secs - (whole / 60 * 60) as f64
        ),
        3_600..=86_399 => format!("{} h {} min", whole / 3_600, whole % 3_600 / 60),
        86_400..=31_557_599 => format!("{} d {} h", whole / 86_400, whole % 86_400 / 3_600),
        _ => format!("{:.1} years", secs / 31_557_600.0),
    }
}

fn short(method: &str) -> &'static str {
    match method {
        "capture_point" => "cp",
        "end_to_end" => "e2e",
        "sr_chain" => "sr",
        _ => "stun",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(plural(0, "stream"), "0 streams");
        assert_eq!(plural(1, "stream"), "1 stream");
        assert_eq!(plural(2, "frame"), "2 frames");
    }

    #[test]
    fn durations() {
        assert_eq!(duration(-1.0), "0 s");
        assert_eq!(duration(f64::NAN), "0 s");
        assert_eq!(duration(59.9834), "59.983 s");
        assert_eq!(duration(723.5), "12 min 3.5 s");
        assert_eq!(duration(18_120.0), "5 h 2 min");
        assert_eq!(duration(273_600.0), "3 d 4 h");
        assert_eq!(duration(310_962_689.66), "9.9 years");
    }
}
