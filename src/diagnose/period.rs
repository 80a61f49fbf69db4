//! Findings of one interval record (docs/records.md, "Findings"): the interval's own loss,
//! late discards, burstiness and freezes; the rest as the stream stands at the interval's end.

use super::{diagnose, Code, Facts, Finding, Thresholds};
use crate::engine::record::StreamRecord;

/// The figures of one interval that replace the whole stream's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Period {
    pub expected: u64,
    pub missing: u64,
    pub late: u64,
    pub burst_r: Option<f64>,
    pub effective_loss_ratio: Option<f64>,
    pub freezes: u64,
    pub freeze_ms: u64,
}

/// The findings of the interval `p` of the stream `s` (its record at the interval's end, whose
/// `findings` the engine set): what the table told the engine about the stream (one-way
/// media, collisions) is taken from them; loss after the probe and a hop's split are
/// cumulative, so they are left to the stream's final record.
pub fn of_period(s: &StreamRecord, p: &Period, t: &Thresholds) -> Vec<Finding> {
    let mut f = Facts::of_record(s);
    let had = |c: Code| s.findings.iter().any(|x| x.code == c);
    f.reverse_seen = had(Code::OneWayMedia).then_some(false);
    f.colliding = had(Code::SsrcCollision);
    f.expected = p.expected;
    f.missing = p.missing;
    f.hop_split = None;
    f.loss_downstream = None;
    f.late = p.late;
    f.burst_r = p.burst_r;
    f.effective_loss_ratio = p.effective_loss_ratio;
    f.freezes = p.freezes;
    f.freeze_ms = p.freeze_ms;
    diagnose(&f, t)
}
