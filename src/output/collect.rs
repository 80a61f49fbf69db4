//! The streams of a replay rendered as they end, and printed in order at the end: what keeps
//! `replay` memory bounded by the live stream table rather than by the file.
//!
//! Each ended stream that passes `--filter` is rendered at once in the output format (a JSON
//! array element, a CSV row, or the table's cells) and kept as a [`Entry`] whose key is
//! the printing order: worst first by the `--sort` measure when asked, then order of first
//! appearance (the capture's frame number of the stream's first packet), then source,
//! destination and SSRC. The [`Sorter`] holds a bounded amount of them in memory and
//! spills the rest to a temporary file. At the end the summary is printed first and then the
//! entries in key order, up to `--top`: the same bytes as rendering the whole report at once
//! (docs/output.md, "Order and memory"), whatever the order streams ended in and however many
//! pipeline workers ended them.
//!
//! Middlebox hops (`crate::correlate::hop`) are rendered the same way when they end, into a
//! second sorter keyed by the order hops ended in, and printed after the streams (JSON only:
//! `hops`, absent when there are none).

use super::spill::{Entry, Sorted, Sorter};
use super::table::{self, Widths};
use super::{select, Format, Selection};
use crate::correlate::hop::HopRecord;
use crate::engine::record::StreamRecord;
use crate::replay::{Ended, Summary};
use std::io::{self, Write};

/// Separates the table cells of an entry (no cell holds control characters).
const CELL_SEP: &str = "\u{1f}";

/// Renders ended streams for `replay` output and prints them in order ([`Collector::write`]).
#[derive(Debug)]
pub struct Collector {
    format: Format,
    sel: Selection,
    legend: bool,
    sorter: Sorter,
    /// Rendered hops, keyed by the order they ended in.
    hops: Sorter,
    /// Rendered ICE sessions and TURN allocations, keyed by the order they ended in, and how
    /// many of each so far.
    ice: Sorter,
    turn: Sorter,
    ended_calls: [u64; 2],
    /// Table column widths over every selected row, when all of them are shown (no `--top`).
    widths: Widths,
    /// The first error of the spill file, returned by [`Collector::write`].
    error: Option<io::Error>,
    /// SIP calls and the streams they may own (JSON only: `calls`, absent when none).
    calls: crate::sip::call::CallMatcher,
}

impl Collector {
    /// A collector holding about [`super::spill::DEFAULT_BUDGET`] bytes of rendered streams in memory.
    pub fn new(format: Format, sel: Selection, legend: bool) -> Self {
        Collector::with_sorter(format, sel, legend, Sorter::default())
    }

    /// [`Collector::new`] with a sorter of another budget (tests).
    pub fn with_sorter(format: Format, sel: Selection, legend: bool, sorter: Sorter) -> Self {
        Collector {
            format,
            sel,
            legend,
            sorter,
            hops: Sorter::new(super::spill::DEFAULT_BUDGET / 4, super::spill::FAN_IN),
            ice: Sorter::new(super::spill::DEFAULT_BUDGET / 8, super::spill::FAN_IN),
            turn: Sorter::new(super::spill::DEFAULT_BUDGET / 8, super::spill::FAN_IN),
            ended_calls: [0; 2],
            widths: Widths::default(),
            error: None,
            calls: Default::default(),
        }
    }

    /// Hold rendered hops in `sorter` (tests: a small budget).
    pub fn with_hop_sorter(mut self, sorter: Sorter) -> Self {
        self.hops = sorter;
        self
    }

    /// The most rendered hops held in memory at once.
    pub fn peak_hops_in_memory(&self) -> usize {
        self.hops.peak_entries()
    }

    /// Render hop `h` (the `seq`-th to end) and keep it for printing (JSON only).
    pub fn push_hop(&mut self, seq: u64, h: &HopRecord) {
        if self.error.is_some() || self.format != Format::Json {
            return;
        }
        let text = serde_json::to_string_pretty(h).unwrap_or_else(|e| {
            // Hops hold only strings and numbers: this cannot fail.
            tracing::error!("cannot render a hop as JSON: {e}");
            "null".into()
        });
        let entry = Entry {
            key: seq.to_be_bytes().to_vec(),
            payload: indent(&text, "    ").into_bytes(),
        };
        if let Err(e) = self.hops.push(entry) {
            self.error = Some(e);
        }
    }

    /// Render an ended ICE session (`turn` false) or TURN allocation and keep it for printing
    /// in the order they ended (JSON only).
    fn push_call(&mut self, turn: bool, value: &impl serde::Serialize) {
        if self.error.is_some() || self.format != Format::Json {
            return;
        }
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|e| {
            // Strings, numbers and maps with number keys only: this cannot fail.
            tracing::error!("cannot render an ICE session or TURN allocation as JSON: {e}");
            "null".into()
        });
        let n = &mut self.ended_calls[usize::from(turn)];
        let entry = Entry {
            key: n.to_be_bytes().to_vec(),
            payload: indent(&text, "    ").into_bytes(),
        };
        *n += 1;
        let sorter = if turn { &mut self.turn } else { &mut self.ice };
        if let Err(e) = sorter.push(entry) {
            self.error = Some(e);
        }
    }

    /// The most rendered streams held in memory at once.
    pub fn peak_in_memory(&self) -> usize {
        self.sorter.peak_entries()
    }

    /// Whether rendered streams went to the temporary file.
    pub fn spilled(&self) -> bool {
        self.sorter.spilled()
    }

    /// Render `r` (which appeared first at `order`) and keep it for printing, if selected.
    pub fn push(&mut self, order: u64, r: &StreamRecord) {
        if self.error.is_some() {
            return;
        }
        if !self.sel.filters.is_empty() && !self.sel.filters.iter().any(|f| f.matches(r)) {
            return;
        }
        let payload = match self.format {
            Format::Json => json_element(r),
            Format::Csv => super::csv::row(r).join(",").into_bytes(),
            Format::Table => {
                let cells = table::cells(r);
                if self.sel.top.is_none() {
                    self.widths.fit(cells.iter().map(String::as_str), 0);
                }
                cells.join(CELL_SEP).into_bytes()
            }
        };
        let entry = Entry {
            key: self.key(order, r),
            payload,
        };
        if let Err(e) = self.sorter.push(entry) {
            self.error = Some(e);
        }
    }

    /// The printing order: `--sort` score (worst first, streams without a value last), order
    /// of first appearance, then the stream's key.
    fn key(&self, order: u64, r: &StreamRecord) -> Vec<u8> {
        let mut k = Vec::with_capacity(8 + 8 + r.src.len() + r.dst.len() + 2 + 4);
        if let Some(s) = self.sel.sort {
            k.extend_from_slice(&worst_first(select::score(s, r)).to_be_bytes());
        }
        k.extend_from_slice(&order.to_be_bytes());
        k.extend_from_slice(r.src.as_bytes());
        k.push(0);
        k.extend_from_slice(r.dst.as_bytes());
        k.push(0);
        k.extend_from_slice(&r.ssrc.to_be_bytes());
        k
    }

    /// Print the summary of the whole capture and the selected streams in order.
    pub fn write(self, summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let sorted = self.sorter.finish()?;
        let hops = self.hops.finish()?;
        let ice = self.ice.finish()?;
        let turn = self.turn.finish()?;
        let calls = self.calls.finish();
        let shown = self
            .sel
            .top
            .map_or(sorted.len(), |n| sorted.len().min(n as u64));
        match self.format {
            Format::Json => {
                let extra = [
                    ("hops", &hops),
                    ("ice_sessions", &ice),
                    ("turn_allocations", &turn),
                ];
                write_json(summary, &sorted, shown, &calls, &extra, out)
            }
            Format::Csv => {
                writeln!(out, "{}", super::CSV_COLUMNS.join(","))?;
                each(&sorted, shown, &mut |p| {
                    out.write_all(p)?;
                    out.write_all(b"\n")
                })
            }
            Format::Table => {
                table::write_head(summary, out)?;
                if !self.sel.is_all() {
                    let line = table::selection_line(&self.sel, shown, summary.streams as u64);
                    writeln!(out, "{line}")?;
                }
                let mut widths = self.widths.clone();
                if self.sel.top.is_some() {
                    // Only the rows shown set the widths: a first pass over them.
                    each(&sorted, shown, &mut |p| {
                        widths.fit(split_cells(p), 0);
                        Ok(())
                    })?;
                }
                widths.fit(std::iter::empty(), shown);
                writeln!(out, "{}", widths.header())?;
                let mut i = 0u64;
                each(&sorted, shown, &mut |p| {
                    i += 1;
                    let num = i.to_string();
                    let line = widths.line(std::iter::once(num.as_str()).chain(split_cells(p)));
                    writeln!(out, "{line}")
                })?;
                table::write_tail(out, shown, summary.streams as u64, self.legend)
            }
        }
    }
}

impl Ended for Collector {
    fn ended(&mut self, order: u64, record: StreamRecord) {
        self.calls.stream(&record);
        self.push(order, &record);
    }
    fn call(&mut self, call: crate::sip::SipCall) {
        self.calls.call(call);
    }
    fn hop(&mut self, seq: u64, hop: HopRecord) {
        self.push_hop(seq, &hop);
    }
    fn ice(&mut self, session: crate::correlate::ice::IceSessionRecord) {
        self.push_call(false, &session);
    }
    fn turn(&mut self, allocation: crate::correlate::turn::TurnAllocationRecord) {
        self.push_call(true, &allocation);
    }
}

/// The first `n` payloads of `sorted`, in order.
fn each(sorted: &Sorted, n: u64, f: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
    let mut left = n;
    sorted.each(&mut |e| {
        if left == 0 {
            return Ok(false);
        }
        left -= 1;
        f(&e.payload)?;
        Ok(left > 0)
    })
}

fn split_cells(p: &[u8]) -> impl Iterator<Item = &str> {
    p.split(|b| *b == 0x1f)
        .map(|c| std::str::from_utf8(c).unwrap_or("?"))
}

/// A score where higher is worse as a key that sorts worst first: the IEEE 754 order made
/// bytewise, then reversed. `-inf` (no value) sorts last; -0 is taken as 0 (equal scores keep
/// the order of first appearance, as a stable sort does).
fn worst_first(score: f64) -> u64 {
    let v = if score == 0.0 { 0.0 } else { score };
    let bits = v.to_bits();
    let ascending = if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    };
    !ascending
}

/// `serde_json::to_writer_pretty` of a record as an element of the top level's `streams`
/// array: indented by two levels.
fn json_element(r: &StreamRecord) -> Vec<u8> {
    let text = serde_json::to_string_pretty(r).unwrap_or_else(|e| {
        // Records hold only strings, numbers and maps with string keys: this cannot fail.
        tracing::error!("cannot render a stream as JSON: {e}");
        "null".into()
    });
    indent(&text, "    ").into_bytes()
}

/// Prefix every line of `text` (JSON strings escape their line breaks) with `pad`.
fn indent(text: &str, pad: &str) -> String {
    let mut s = String::with_capacity(text.len() + text.len() / 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            s.push('\n');
        }
        s.push_str(pad);
        s.push_str(line);
    }
    s
}

/// `{ "summary": …, "streams": [ … ], "calls": [ … ], "hops": [ … ], "ice_sessions": [ … ],
/// "turn_allocations": [ … ] }` exactly as `serde_json::to_writer_pretty` writes a
/// [`crate::replay::Report`] (the arrays after `streams` absent when empty).
fn write_json(
    summary: &Summary,
    sorted: &Sorted,
    shown: u64,
    calls: &[crate::sip::SipCall],
    extra: &[(&str, &Sorted)],
    out: &mut dyn Write,
) -> io::Result<()> {
    let s = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
    let s = indent(&s, "  ");
    write!(
        out,
        "{{\n  \"summary\": {},\n  \"streams\": [",
        s.trim_start()
    )?;
    if shown == 0 {
        out.write_all(b"]")?;
    } else {
        let mut first = true;
        each(sorted, shown, &mut |p| {
            out.write_all(if first { b"\n" } else { b",\n" })?;
            first = false;
            out.write_all(p)
        })?;
        out.write_all(b"\n  ]")?;
    }
    if !calls.is_empty() {
        out.write_all(b",\n  \"calls\": [")?;
        for (i, c) in calls.iter().enumerate() {
            let text = serde_json::to_string_pretty(c).map_err(io::Error::other)?;
            out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
            out.write_all(indent(&text, "    ").as_bytes())?;
        }
        out.write_all(b"\n  ]")?;
    }
    for &(name, list) in extra.iter().filter(|(_, l)| !l.is_empty()) {
        write!(out, ",\n  \"{name}\": [")?;
        let mut first = true;
        each(list, list.len(), &mut |p| {
            out.write_all(if first { b"\n" } else { b",\n" })?;
            first = false;
            out.write_all(p)
        })?;
        out.write_all(b"\n  ]")?;
    }
    out.write_all(b"\n}\n")
}

#[cfg(test)]
#[path = "collect_tests.rs"]
mod tests;
