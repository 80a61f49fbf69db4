//! The ICE/TURN stage's metrics ([`crate::correlate::calls`]): sessions and allocations ended
//! by outcome, the tables' sizes, and their evictions and expiries, summed over the capture
//! threads. Outcome label values are the fixed vocabularies of docs/ice-turn.md.

use super::metrics::Out;
use super::names;
use crate::pipeline::snapshot::Totals;

/// Write the ICE/TURN families from the pipeline totals.
pub(super) fn write(o: &mut Out, t: &Totals) {
    let (ice, turn) = (&t.ice_turn.ice, &t.ice_turn.turn);
    let outcomes: [(&names::Metric, Vec<(&str, u64)>); 2] = [
        (&names::ICE_SESSIONS, ice.outcomes().to_vec()),
        (&names::TURN_ALLOCATIONS, turn.outcomes().to_vec()),
    ];
    for (m, values) in outcomes {
        o.family(m);
        for (v, n) in values {
            o.sample(m.name, "", &format!("outcome=\"{v}\""), n);
        }
    }
    let plain = [
        (&names::ICE_SESSIONS_ACTIVE, t.ice_sessions_active),
        (&names::TURN_ALLOCATIONS_ACTIVE, t.turn_allocations_active),
        (&names::ICE_CHECKS, ice.checks),
        (&names::ICE_ANSWERS, ice.answers),
    ];
    for (m, v) in plain {
        o.family(m);
        o.sample(m.name, "", "", v);
    }
    let ended: [(&names::Metric, [(&str, u64); 2]); 2] = [
        (
            &names::ICE_SESSIONS_REMOVED,
            [
                ("evicted", ice.evicted_table_full),
                ("idle", ice.expired_idle),
            ],
        ),
        (
            &names::TURN_ALLOCATIONS_REMOVED,
            [
                ("evicted", turn.evicted_table_full),
                ("idle", turn.expired_idle),
            ],
        ),
    ];
    for (m, values) in ended {
        o.family(m);
        for (v, n) in values {
            o.sample(m.name, "", &format!("reason=\"{v}\""), n);
        }
    }
    let m = &names::TURN_ERRORS;
    o.family(m);
    o.sample(m.name, "", "kind=\"challenge\"", turn.challenges);
    o.sample(m.name, "", "kind=\"error\"", turn.errors);
}
