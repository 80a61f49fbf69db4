//! Rendering a [`crate::replay::Report`] for people (table) and tools (JSON, CSV).
//!
//! JSON is the documented, stable interface (docs/output.md). The table is for people and may
//! change. CSV flattens each stream to one row with the same names as the JSON keys
//! (`rtt_ms.capture_point.last` becomes `rtt_capture_point_last_ms`).

mod codec;
mod csv;
pub mod select;
mod table;

pub use self::csv::{write_csv, CSV_COLUMNS};
pub use select::{Filter, Selection, SortKey};
pub use table::{write_table, LEGEND};

use crate::replay::Report;
use std::io::Write;

/// Output formats of `rtcprobe replay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Write `report` in `format`, showing the streams `sel` selects (the summary is always the
/// whole capture's). `legend` prints the table's full legend instead of its one-line footer.
pub fn write(
    report: &Report,
    format: Format,
    sel: &Selection,
    legend: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Table => write_table(report, sel, legend, out),
        Format::Json => {
            if sel.is_all() {
                serde_json::to_writer_pretty(&mut *out, report)?;
            } else {
                let shown = Shown {
                    summary: &report.summary,
                    streams: sel.apply(report),
                    hops: &report.hops,
                };
                serde_json::to_writer_pretty(&mut *out, &shown)?;
            }
            writeln!(out)
        }
        Format::Csv => write_csv(&sel.apply(report), out),
    }
}

/// A report with only the selected streams, serialised like [`Report`].
#[derive(serde::Serialize)]
struct Shown<'a> {
    summary: &'a crate::replay::Summary,
    streams: Vec<&'a crate::engine::record::StreamRecord>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    hops: &'a [crate::correlate::hop::HopRecord],
}

/// A float with a fixed number of decimals, or `-` when absent.
fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}
