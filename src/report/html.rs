//! The report page: summary, streams table, plots of the worst streams, grading rules.
//!
//! Everything that came from the capture is HTML-escaped ([`esc`]); the page has no script
//! and its Content-Security-Policy (`default-src 'none'`) lets the browser load nothing, so a
//! report can be mailed or archived and opened offline without leaking where it is read.

use super::series::Point;
use super::svg::{chart, Chart};
use super::verdict::{self, plural, Assessment, Grade};
use super::{Collector, StreamView, PLOTTED, TABLE_ROWS};
use crate::replay::Summary;
use std::collections::HashMap;
use std::fmt::Write;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                   base-uri 'none'; form-action 'none'";

const STYLE: &str = include_str!("report.css");

/// What the page says about how it was made.
pub struct PageInfo<'a> {
    /// `records.interval_secs` of the replay: one point per interval in the plots.
    pub interval_secs: u64,
    pub version: &'a str,
}

/// The whole page.
pub fn render(summary: &Summary, c: Collector, info: &PageInfo) -> String {
    let (untracked, unreadable) = (c.untracked, c.unreadable);
    let ranked = verdict::rank(c.into_streams());
    let t0 = ranked.iter().map(|(s, _)| s.first_ns).min().unwrap_or(0);
    let t1 = ranked
        .iter()
        .map(|(s, _)| s.last_ns)
        .max()
        .unwrap_or(t0)
        .max(t0);
    let mut h = String::with_capacity(64 * 1024 + ranked.len() * 320);
    let title = format!("rtcprobe report: {}", esc(&file_name(&summary.file)));
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n"
    );
    header(&mut h, summary, info);
    summary_section(&mut h, summary, &ranked, info);
    let _ = writeln!(
        h,
        "<section id=\"calls\" class=\"slim\"><h2>Calls, hops and findings</h2> \
         <span class=\"muted\">not analysed by this version: calls (SIP/SDP, ICE), hops across \
         a middlebox and diagnostic findings will appear here. Meanwhile the streams below are \
         grouped by address pair.</span></section>"
    );
    table(&mut h, &ranked, untracked);
    plots(&mut h, &ranked, t0, t1);
    rules(&mut h);
    if unreadable > 0 {
        let _ = write!(
            h,
            "<p class=\"warn\">{unreadable} record lines could not be read.</p>"
        );
    }
    let _ = writeln!(
        h,
        "<footer>rtcprobe {} · data: the forwarded records of the capture (docs/records.md), \
         one every {} of capture time · grading rules above</footer></body></html>",
        esc(info.version),
        plural(
            usize::try_from(info.interval_secs).unwrap_or(0),
            "second",
            "seconds"
        )
    );
    h
}

fn header(h: &mut String, s: &Summary, info: &PageInfo) {
    let span = match (&s.first_packet, &s.last_packet) {
        (Some(a), Some(b)) => format!("{} – {}", esc(a), esc(b)),
        _ => "no packets".into(),
    };
    let name = file_name(&s.file);
    let path = if name == s.file {
        String::new()
    } else {
        format!("{} · ", esc(&s.file))
    };
    let _ = writeln!(
        h,
        "<header><h1>rtcprobe report <span class=\"file\">{}</span></h1>\
         <p class=\"sub\">{path}{span} · rtcprobe {}</p></header>",
        esc(&name),
        esc(info.version)
    );
}

fn summary_section(h: &mut String, s: &Summary, ranked: &[(StreamView, Assessment)], _: &PageInfo) {
    let count = |g: Grade| ranked.iter().filter(|(_, a)| a.grade == g).count();
    h.push_str("<section id=\"summary\"><h2>Summary</h2><ul class=\"verdict\">");
    for line in verdict::summary(ranked) {
        let _ = write!(h, "<li>{}</li>", esc(&line));
    }
    if let Some(e) = &s.error {
        let _ = write!(
            h,
            "<li class=\"warn\">The capture is incomplete: {}. Everything before it is \
             reported.</li>",
            esc(e)
        );
    }
    h.push_str("</ul><div class=\"cards\">");
    let undecoded: u64 = s.undecoded.values().sum();
    let cards = [
        ("streams", ranked.len().to_string(), ""),
        ("poor", count(Grade::Poor).to_string(), "poor"),
        ("fair", count(Grade::Fair).to_string(), "fair"),
        ("good", count(Grade::Good).to_string(), "good"),
        ("capture", format!("{:.1} s", s.duration_secs), ""),
        ("RTP packets", thousands(s.counters.rtp_packets), ""),
        ("RTCP packets", thousands(s.counters.rtcp_packets), ""),
        ("frames", thousands(s.frames), ""),
        ("not UDP / undecoded", thousands(undecoded), ""),
    ];
    for (name, value, class) in cards {
        let _ = write!(
            h,
            "<div class=\"card {class}\"><b>{}</b><span>{name}</span></div>",
            esc(&value)
        );
    }
    h.push_str("</div></section>\n");
}

/// Pair numbers in order of each pair's worst stream; rows grouped by pair.
fn grouped(ranked: &[(StreamView, Assessment)]) -> Vec<(usize, usize)> {
    let mut pairs: HashMap<(String, String), usize> = HashMap::new();
    let mut rows: Vec<(usize, usize)> = ranked
        .iter()
        .enumerate()
        .map(|(i, (s, _))| {
            let next = pairs.len() + 1;
            (*pairs.entry(verdict::pair_key(s)).or_insert(next), i)
        })
        .collect();
    rows.sort_by_key(|(pair, i)| (*pair, *i));
    rows
}

fn table(h: &mut String, ranked: &[(StreamView, Assessment)], untracked: u64) {
    let _ = write!(
        h,
        "<section id=\"streams\"><h2>Streams, worst first</h2><p class=\"muted\">Grouped by \
         address pair; rank 1 is the worst stream. Loss is the receiver's count when it sent \
         reports, else the probe's; <i>before / after</i> splits it at the probe. The worst \
         {PLOTTED} have plots below (linked).</p><div class=\"scroll\"><table><thead><tr>\
         <th>rank</th><th>grade</th><th>pair</th><th>source → destination</th><th>SSRC</th>\
         <th>PT</th><th class=\"n\">packets</th><th class=\"n\">loss %</th>\
         <th class=\"n\">lost before / after</th><th class=\"n\">peak jitter ms</th>\
         <th class=\"n\">RTT ms</th><th class=\"n\">MOS</th><th>ended</th></tr></thead><tbody>"
    );
    for (pair, i) in grouped(ranked).into_iter().take(TABLE_ROWS) {
        let Some((s, a)) = ranked.get(i) else {
            continue;
        };
        let g = a.grade.as_str();
        let who = format!("{} → {}", esc(&s.src()), esc(&s.dst()));
        let who = if i < PLOTTED {
            format!("<a href=\"#s{}\">{who}</a>", i + 1)
        } else {
            who
        };
        let split = match (s.loss_upstream, s.loss_downstream) {
            (Some(u), Some(d)) => format!("{u} / {d}"),
            _ => format!("{} / –", s.lost.max(0)),
        };
        let _ = write!(
            h,
            "<tr class=\"{g}\"><td>{}</td><td><span class=\"badge {g}\">{g}</span></td>\
             <td>P{pair}</td><td>{who}</td><td>0x{:08x}</td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{split}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            i + 1,
            s.ssrc,
            s.payload_type.map_or("–".into(), |p| p.to_string()),
            thousands(s.packets),
            num(s.loss_pct(), 2),
            num(s.jitter_peak_ms, 1),
            num(s.rtt_ms, 0),
            num(s.mos, 2),
            esc(&s.ended_by.as_deref().unwrap_or("–").replace('_', " ")),
        );
    }
    h.push_str("</tbody></table></div>");
    if ranked.len() > TABLE_ROWS {
        let _ = write!(
            h,
            "<p class=\"muted\">{} more streams are not listed (the best ones): \
             <code>rtcprobe replay --format json</code> has them all.</p>",
            ranked.len() - TABLE_ROWS
        );
    }
    if untracked > 0 {
        let _ = write!(
            h,
            "<p class=\"warn\">{untracked} records of streams past the report's limit of {} \
             streams were not included.</p>",
            super::MAX_STREAMS
        );
    }
    h.push_str("</section>\n");
}

fn plots(h: &mut String, ranked: &[(StreamView, Assessment)], t0: i64, t1: i64) {
    let n = ranked.len().min(PLOTTED);
    if n == 0 {
        h.push_str("<section id=\"plots\"><h2>Streams over time</h2><p class=\"muted\">No stream to plot.</p></section>\n");
        return;
    }
    let title = match n {
        1 => "The stream over time".to_string(),
        n if n == ranked.len() => format!("All {n} streams over time, worst first"),
        n => format!("The worst {n} streams over time"),
    };
    let _ = write!(
        h,
        "<section id=\"plots\"><h2>{title}</h2><p class=\"muted\">One point \
         per record interval; a merged point shows the interval's total loss and bitrate and \
         its highest jitter and RTT, lowest MOS. Dashed: the <i>fair</i> threshold.</p>"
    );
    for (i, (s, a)) in ranked.iter().take(PLOTTED).enumerate() {
        let g = a.grade.as_str();
        let why = if a.reasons.is_empty() {
            "no figure past a threshold".to_string()
        } else {
            a.reasons.join(", ")
        };
        let _ = write!(
            h,
            "<article class=\"stream {g}\" id=\"s{}\"><h3><span class=\"badge {g}\">{g}</span> \
             #{} {} → {} <span class=\"muted\">SSRC 0x{:08x}{}</span></h3><p>{}</p>\
             <div class=\"charts\">",
            i + 1,
            i + 1,
            esc(&s.src()),
            esc(&s.dst()),
            s.ssrc,
            s.payload_type
                .map_or(String::new(), |p| format!(", PT {p}")),
            esc(&why)
        );
        let pts = s.series.points();
        let series = |f: fn(&Point) -> Option<f64>| -> Vec<(i64, Option<f64>)> {
            pts.iter().map(|p| (p.end_ns, f(p))).collect()
        };
        let opt = |v: f32| (!v.is_nan()).then_some(f64::from(v));
        let charts = [
            Chart {
                metric: "loss",
                title: "Loss",
                unit: "%",
                values: series(Point::loss_pct),
                t0,
                t1,
                min_top: 1.0,
                fixed: None,
                threshold: Some(verdict::LOSS_FAIR_PCT),
            },
            Chart {
                metric: "jitter",
                title: "Jitter",
                unit: "ms",
                values: pts.iter().map(|p| (p.end_ns, opt(p.jitter_ms))).collect(),
                t0,
                t1,
                min_top: 10.0,
                fixed: None,
                threshold: Some(verdict::JITTER_FAIR_MS),
            },
            Chart {
                metric: "rtt",
                title: "RTT",
                unit: "ms",
                values: pts.iter().map(|p| (p.end_ns, opt(p.rtt_ms))).collect(),
                t0,
                t1,
                min_top: 50.0,
                fixed: None,
                threshold: Some(verdict::RTT_FAIR_MS),
            },
            Chart {
                metric: "bitrate",
                title: "Bitrate",
                unit: "kbit/s",
                values: series(Point::kbps),
                t0,
                t1,
                min_top: 10.0,
                fixed: None,
                threshold: None,
            },
            Chart {
                metric: "mos",
                title: "Quality",
                unit: "MOS (E-model)",
                values: pts.iter().map(|p| (p.end_ns, opt(p.mos))).collect(),
                t0,
                t1,
                min_top: 4.5,
                fixed: Some((1.0, 4.5)),
                threshold: Some(verdict::MOS_FAIR),
            },
        ];
        for c in &charts {
            h.push_str(&chart(c));
        }
        h.push_str("</div></article>\n");
    }
    h.push_str("</section>\n");
}

fn rules(h: &mut String) {
    use verdict::*;
    let _ = writeln!(
        h,
        "<section id=\"rules\"><h2>How streams are graded</h2><table class=\"rules\"><thead>\
         <tr><th>figure</th><th>fair from</th><th>poor from</th><th>why</th></tr></thead><tbody>\
         <tr><td>loss (receiver's count, else the probe's)</td><td>{LOSS_FAIR_PCT} %</td>\
         <td>{LOSS_POOR_PCT} %</td><td>G.113: G.711 with concealment loses about an R point \
         per 0.4 % of loss</td></tr>\
         <tr><td>peak jitter (probe's or receiver's)</td><td>{JITTER_FAIR_MS} ms</td>\
         <td>{JITTER_POOR_MS} ms</td><td>a typical 60 ms jitter buffer starts discarding</td></tr>\
         <tr><td>round-trip time</td><td>{RTT_FAIR_MS} ms</td><td>{RTT_POOR_MS} ms</td>\
         <td>G.114: one-way delay under 150 ms is fine, over 400 ms unacceptable</td></tr>\
         <tr><td>E-model MOS (G.107, whole stream)</td><td>below {MOS_FAIR}</td>\
         <td>below {MOS_POOR}</td><td>R 70 / R 60: some / many users dissatisfied</td></tr>\
         </tbody></table><p class=\"muted\">A stream takes the grade of its worst figure. \
         Loss <i>before the probe</i> is between the sender and the probe (sequence numbers \
         missing where the probe listens); <i>after the probe</i> is what the receiver \
         reported beyond that. MOS is an estimate (docs/records.md, \"Quality estimate\").</p>\
         </section>"
    );
}

/// HTML-escape text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or(path.to_string(), |f| f.to_string_lossy().into_owned())
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.filter(|v| v.is_finite())
        .map_or("–".into(), |v| format!("{v:.decimals$}"))
}

/// `12345678` → `12 345 678` (thin spaces: no locale to guess).
fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut o = String::with_capacity(d.len() + d.len() / 3 * 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i) % 3 == 0 {
            o.push('\u{2009}');
        }
        o.push(c);
    }
    o
}
