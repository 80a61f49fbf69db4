//! The findings of a forwarded record (docs/records.md, "Findings"): a final record carries
//! the stream record's, an interval record those of its own period ([`crate::diagnose::of_period`]),
//! flattened into four parallel arrays so that the record stays flat (ClickHouse columns).

use super::record::{Record, RecordOptions};
use crate::diagnose::{of_period, Period};
use crate::engine::record::StreamRecord;

/// Fill `r`'s `finding_*` arrays. `fixed_late_before` is the fixed buffer's late count at the
/// previous record of the stream (for the period's late discards).
pub(super) fn set(
    r: &mut Record,
    s: &StreamRecord,
    whole: bool,
    fixed_late_before: u64,
    opts: &RecordOptions,
) {
    let findings = if whole {
        s.findings.clone()
    } else {
        let late = s.audio_counters.map_or(0, |a| a.fixed_late);
        let period = Period {
            expected: r.interval_expected,
            missing: r.interval_lost.max(0) as u64,
            late: late.saturating_sub(fixed_late_before),
            burst_r: r.burst_r,
            effective_loss_ratio: r.effective_loss_ratio,
            freezes: r.video_freeze_count.unwrap_or(0),
            freeze_ms: r.video_freeze_duration_ms.unwrap_or(0),
        };
        of_period(s, &period, &opts.diagnostics)
    };
    for f in findings {
        r.finding_codes.push(f.code.name().to_string());
        r.finding_severities.push(f.severity.name().to_string());
        r.finding_sides.push(f.side.name().to_string());
        r.finding_messages.push(f.message);
    }
}
