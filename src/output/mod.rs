//! Rendering a [`crate::replay::Report`] for people (table) and tools (JSON, CSV).
//!
//! JSON is the documented, stable interface (docs/output.md). The table is for people and may
//! change. CSV flattens each stream to one row with the same names as the JSON keys
//! (`rtt_ms.capture_point.last` becomes `rtt_capture_point_last_ms`).
//!
//! A replay renders each stream when it ends ([`Collector`]) and prints them in order at the
//! end through a bounded external sort ([`spill`]): output memory does not grow with the file
//! (docs/output.md, "Order and memory").

mod codec;
pub mod collect;
mod csv;
pub mod select;
pub mod spill;
mod table;

pub use self::csv::{write_csv, CSV_COLUMNS};
pub use collect::Collector;
pub use select::{Filter, Selection, SortKey};
pub use table::LEGEND;

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
///
/// The same path as a bounded replay ([`Collector`]), fed the report's streams.
pub fn write(
    report: &Report,
    format: Format,
    sel: &Selection,
    legend: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut c = Collector::new(format, sel.clone(), legend);
    for (i, r) in report.streams.iter().enumerate() {
        // The report's streams are in order of first appearance already.
        c.push(i as u64, r);
    }
    for (i, h) in report.hops.iter().enumerate() {
        c.push_hop(i as u64, h);
    }
    c.write(&report.summary, out)
}

/// A float with a fixed number of decimals, or `-` when absent.
fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}
