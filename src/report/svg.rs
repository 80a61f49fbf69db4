//! Small inline SVG line charts for the report: one metric of one stream over the capture.
//!
//! Written by hand (no library, no script): a frame, two y labels (0 and the top of the
//! range), the capture's start and end on the x axis, an optional dashed threshold line, and
//! the series as polylines broken where a value is unknown. Every chart carries
//! `data-metric` and `data-points` (the values drawn) so that tests can check it in a browser.

use std::fmt::Write;

const W: f64 = 300.0;
const H: f64 = 120.0;
const LEFT: f64 = 42.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 18.0;
/// Below this many values each one also gets a dot.
const DOTS_UP_TO: usize = 40;

/// One chart to draw.
pub struct Chart<'a> {
    /// Short machine name (`loss`, `jitter`, `rtt`, `bitrate`, `mos`).
    pub metric: &'a str,
    pub title: &'a str,
    pub unit: &'a str,
    /// (capture time ns, value) in time order; `None` breaks the line.
    pub values: Vec<(i64, Option<f64>)>,
    /// The capture's span, shared by all charts so they line up.
    pub t0: i64,
    pub t1: i64,
    /// The y range: at least `0..=min_top`, or exactly `fixed` when given.
    pub min_top: f64,
    pub fixed: Option<(f64, f64)>,
    /// A dashed line at the "fair" threshold.
    pub threshold: Option<f64>,
}

/// The chart as an `<svg>` element.
pub fn chart(c: &Chart) -> String {
    let known: Vec<(i64, f64)> = c
        .values
        .iter()
        .filter_map(|(t, v)| v.filter(|v| v.is_finite()).map(|v| (*t, v)))
        .collect();
    let (lo, hi) = c.fixed.unwrap_or_else(|| {
        let top = known.iter().map(|(_, v)| *v).fold(c.min_top, f64::max);
        (0.0, nice(top * 1.1))
    });
    let span_t = (c.t1.saturating_sub(c.t0)).max(1) as f64;
    let x = |t: i64| LEFT + (t.saturating_sub(c.t0)) as f64 / span_t * (W - LEFT - RIGHT);
    let y = |v: f64| {
        let f = ((v - lo) / (hi - lo).max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
        H - BOTTOM - f * (H - TOP - BOTTOM)
    };
    let mut s = String::with_capacity(512 + known.len() * 16);
    let _ = write!(
        s,
        r#"<svg class="chart" data-metric="{}" data-points="{}" viewBox="0 0 {W} {H}" role="img" aria-label="{} over time">"#,
        c.metric,
        known.len(),
        c.title
    );
    let _ = write!(
        s,
        r#"<text class="ct" x="{LEFT}" y="13">{} <tspan class="cu">{}</tspan></text>"#,
        c.title, c.unit
    );
    let _ = write!(
        s,
        r#"<rect class="frame" x="{LEFT}" y="{TOP}" width="{:.1}" height="{:.1}"/>"#,
        W - LEFT - RIGHT,
        H - TOP - BOTTOM
    );
    for v in [lo, hi] {
        let _ = write!(
            s,
            r#"<text class="yl" x="{:.1}" y="{:.1}">{}</text>"#,
            LEFT - 4.0,
            y(v) + 3.5,
            label(v)
        );
    }
    let secs = span_t / 1e9;
    let _ = write!(
        s,
        r#"<text class="xl" x="{LEFT}" y="{:.1}">0 s</text><text class="xl end" x="{:.1}" y="{:.1}">{} s</text>"#,
        H - 4.0,
        W - RIGHT,
        H - 4.0,
        label(secs)
    );
    if let Some(th) = c.threshold.filter(|t| *t > lo && *t < hi) {
        let _ = write!(
            s,
            r#"<line class="th" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/>"#,
            W - RIGHT,
            y(th),
            y(th)
        );
    }
    for run in c.values.split(|(_, v)| !v.is_some_and(f64::is_finite)) {
        let pts: Vec<String> = run
            .iter()
            .filter_map(|(t, v)| v.map(|v| format!("{:.1},{:.1}", x(*t), y(v))))
            .collect();
        match pts.len() {
            0 => {}
            1 => {}
            _ => {
                let _ = write!(s, r#"<polyline points="{}"/>"#, pts.join(" "));
            }
        }
    }
    let lonely = |i: usize| {
        let gap = |j: Option<usize>| {
            j.and_then(|j| c.values.get(j))
                .map_or(true, |(_, v)| !v.is_some_and(f64::is_finite))
        };
        gap(i.checked_sub(1)) && gap(i.checked_add(1))
    };
    for (i, (t, v)) in c.values.iter().enumerate() {
        let Some(v) = v.filter(|v| v.is_finite()) else {
            continue;
        };
        if known.len() <= DOTS_UP_TO || lonely(i) {
            let _ = write!(s, r#"<circle cx="{:.1}" cy="{:.1}" r="2.2"/>"#, x(*t), y(v));
        }
    }
    if known.is_empty() {
        let _ = write!(
            s,
            r#"<text class="none" x="{:.1}" y="{:.1}">no data</text>"#,
            (LEFT + W - RIGHT) / 2.0,
            (TOP + H - BOTTOM) / 2.0 + 4.0
        );
    }
    s.push_str("</svg>");
    s
}

/// A round number at or above `v` (1, 2, 2.5, 5 × 10^k) for the top of an axis.
fn nice(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let e = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * e)
        .find(|n| *n >= v)
        .unwrap_or(10.0 * e)
}

/// A short axis label.
fn label(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo(values: Vec<(i64, Option<f64>)>) -> String {
        chart(&Chart {
            metric: "loss",
            title: "Loss",
            unit: "%",
            values,
            t0: 0,
            t1: 10_000_000_000,
            min_top: 1.0,
            fixed: None,
            threshold: Some(1.0),
        })
    }

    #[test]
    fn draws_a_polyline_per_run_and_dots_for_lonely_values() {
        let s = demo(vec![
            (1_000_000_000, Some(0.5)),
            (2_000_000_000, Some(3.0)),
            (3_000_000_000, None),
            (4_000_000_000, Some(1.0)),
        ]);
        assert_eq!(s.matches("<polyline").count(), 1);
        assert!(s.contains(r#"data-points="3""#));
        // Few values: every known value has a dot.
        assert_eq!(s.matches("<circle").count(), 3);
        // The x axis spans the capture: the first value sits at 10 % of the plot width.
        assert!(s.contains(&format!("{:.1},", LEFT + 0.1 * (W - LEFT - RIGHT))));
    }

    #[test]
    fn empty_series_says_so() {
        let s = demo(vec![(0, None)]);
        assert!(s.contains("no data") && s.contains(r#"data-points="0""#));
        assert!(!s.contains("<polyline"));
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice(3.3), 5.0);
        assert_eq!(nice(0.07), 0.1);
        assert_eq!(nice(120.0), 200.0);
        assert_eq!(nice(f64::NAN), 1.0);
        assert_eq!(label(2.5), "2.5");
        assert_eq!(label(250.0), "250");
    }
}
