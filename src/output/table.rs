//! The human-readable stream table: a summary of the capture, aligned columns with units in
//! the headers, and a footer that explains the abbreviations (`--legend` explains every column).
//!
//! Loss is shown as **missing packets** (sequence numbers never received), which is never
//! negative, with duplicates in their own column: RFC 3550 A.3's signed `lost` counts
//! duplicates as received, so `Lost 0` beside `Dup 10` reads like a bug to a person. The JSON
//! keeps `lost` unchanged and carries `missing` too (docs/output.md).

use super::select::{missing_ratio, shown_rtt, Selection};
use super::{codec, opt};
use crate::engine::record::StreamRecord;
use crate::replay::Summary;
use std::io::Write;

/// Cells of a row after the row number.
pub const CELLS: usize = HEADERS.len() - 1;

#[rustfmt::skip]
const HEADERS: [&str; 21] = [
    "#", "Source", "Destination", "At", "SSRC", "PT", "Codec", "Clock(Hz)", "Packets", "Missing",
    "Loss(%)", "Dup", "Reord", "Up/Down", "Jitter(ms)", "MaxJit(ms)", "MaxGap(ms)", "RTT(ms)",
    "MOS", "Ended", "Findings",
];

/// Left-aligned (text) columns; the others are numbers, right-aligned.
const TEXT_COLUMNS: [usize; 7] = [1, 2, 3, 5, 6, 19, 20];

/// The observation point column: printed only when the rows shown were seen at more than one
/// point ([`Widths::show_at`], docs/output.md).
const AT: usize = 3;

/// Always printed under the table: the abbreviations a first-time reader trips over.
pub const FOOTER: &str = "Missing = packets never received, Loss(%) = Missing/expected, Dup = \
duplicates; ~ = clock rate inferred; Up/Down = lost before/after the probe (from RTCP); RTT: \
cp capture point, e2e end to end, sr SR chain, stun ICE, xr RTCP XR; MOS = E-model estimate \
(voice codecs, docs/quality.md); Findings: the worst (C critical, W warning, I info) and +N \
more, sentences in JSON/CSV; --legend explains every column";

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
            e2e end to end (both legs), sr SR chain (the sender's own view), stun ICE checks,
            xr RTCP XR RRT/DLRR (RFC 3611, at the probe)
MOS         E-model (ITU-T G.107/G.107.1) estimate 1-4.5 from codec, loss, jitter and RTT; -
            for streams of no known voice codec (docs/quality.md)
Ended       why the stream ended: bye, idle, end_of_capture, evicted, shutdown
Findings    what is wrong (docs/quality.md, Findings): the most severe finding's code, marked
            C critical, W warning or I info, and +N for the others; - for none. The JSON and
            CSV outputs carry every finding with its side and sentence";

/// The lines above the table: the capture in one line, a note on a long span, the read error.
pub fn write_head(s: &Summary, out: &mut dyn Write) -> std::io::Result<()> {
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
    Ok(())
}

/// `showing N of M streams[, sorted by KEY, worst first]`, printed when a selection applies.
pub fn selection_line(sel: &Selection, shown: u64, streams: u64) -> String {
    let mut how = format!("showing {shown} of {}", plural(streams, "stream"));
    if let Some(k) = sel.sort {
        let key = format!("{k:?}").to_lowercase();
        how.push_str(&format!(", sorted by {key}, worst first"));
    }
    how
}

/// The cells of one row after `#` (the row number, known only when printing).
pub fn cells(r: &StreamRecord) -> [String; CELLS] {
    let rtt = shown_rtt(r).map_or_else(|| "-".into(), |(v, m)| format!("{v:.1} {}", short(m)));
    let pts: Vec<String> = r.payload_types.iter().map(u8::to_string).collect();
    [
        r.src.clone(),
        r.dst.clone(),
        r.observed_at.clone(),
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
        opt(r.quality.map(|q| q.mos), 2),
        r.ended_by.to_string(),
        findings_cell(&r.findings),
    ]
}

/// `W:loss_upstream+2`: the first (most severe) finding, its severity's initial, the others'
/// count; `-` for none.
fn findings_cell(f: &[crate::diagnose::Finding]) -> String {
    let Some(first) = f.first() else {
        return "-".into();
    };
    let mark = match first.severity {
        crate::diagnose::Severity::Critical => 'C',
        crate::diagnose::Severity::Warning => 'W',
        crate::diagnose::Severity::Info => 'I',
    };
    let more = if f.len() > 1 {
        format!("+{}", f.len() - 1)
    } else {
        String::new()
    };
    format!("{mark}:{}{more}", first.code.name())
}

/// Column widths: the headers', widened by the cells seen ([`Widths::fit`]); and whether the
/// observation point column is shown (rows seen at more than one point).
#[derive(Debug, Clone)]
pub struct Widths {
    widths: [usize; HEADERS.len()],
    /// The first point seen, and whether another one was seen too.
    first_point: Option<String>,
    several_points: bool,
}

impl Default for Widths {
    fn default() -> Self {
        Widths {
            widths: HEADERS.map(str::len),
            first_point: None,
            several_points: false,
        }
    }
}

impl Widths {
    /// Widen to fit a row's cells (`cells` without the row number) and a row count of `rows`.
    pub fn fit<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>, rows: u64) {
        let [num, rest @ ..] = &mut self.widths;
        *num = (*num).max(rows.to_string().len());
        for (i, (w, c)) in rest.iter_mut().zip(cells).enumerate() {
            *w = (*w).max(c.chars().count());
            if i + 1 == AT && !self.several_points {
                match &self.first_point {
                    None => self.first_point = Some(c.to_string()),
                    Some(p) => self.several_points = p != c,
                }
            }
        }
    }

    /// One aligned line: text columns left-aligned, numbers right-aligned, two spaces apart.
    pub fn line<'a>(&self, cells: impl IntoIterator<Item = &'a str>) -> String {
        cells
            .into_iter()
            .zip(self.widths)
            .enumerate()
            .filter(|&(i, _)| i != AT || self.several_points)
            .map(|(i, (c, w))| {
                if TEXT_COLUMNS.contains(&i) {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    }

    /// The header line.
    pub fn header(&self) -> String {
        self.line(HEADERS)
    }
}

/// What follows the rows: the "no streams" line when there are none, then the footer or the
/// full legend.
pub fn write_tail(
    out: &mut dyn Write,
    rows: u64,
    streams: u64,
    legend: bool,
) -> std::io::Result<()> {
    if rows == 0 {
        let none = if streams == 0 {
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
        "xr" => "xr",
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
