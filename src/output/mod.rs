//! Rendering a [`crate::replay::Report`] for people (table) and tools (JSON, CSV).
//!
//! JSON is the documented, stable interface (docs/output.md). The table is for people and may
//! change. CSV flattens each stream to one row with the same names as the JSON keys
//! (`rtt_ms.capture_point.last` becomes `rtt_capture_point_last_ms`).

mod csv;
mod table;

pub use self::csv::write_csv;
pub use table::write_table;

use crate::replay::Report;
use std::io::Write;

/// Output formats of `rtcprobe replay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Write `report` in `format`.
pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    match format {
        Format::Table => write_table(report, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::Csv => write_csv(report, out),
    }
}

/// A float with a fixed number of decimals, or `-` when absent.
fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}
