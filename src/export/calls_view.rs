//! The body of `/calls` (docs/calls.md, "On the endpoint"): every capture thread's calls in
//! progress and last ended calls ([`crate::pipeline::calls`]), as one JSON object:
//!
//! ```text
//! { "ongoing": [ <sip call>, … ], "ongoing_omitted": N, "ended": [ <sip|ice|turn>, … ] }
//! ```
//!
//! Each entry is the record `replay --format json` prints (`calls`, `ice_sessions`,
//! `turn_allocations`; its `kind` says which), with every address in the `address_labels`
//! form, as `/streams` and `/hops` show them. SIP identities (Call-ID, URIs, display names)
//! are already keyed hashes unless `sip.keep_identities`; CNAMEs are never kept in calls.
//! Ended calls are newest first across threads (by `end`).

use super::labels::Labeller;
use crate::pipeline::calls::CallView;
use crate::pipeline::snapshot::Board;
use serde_json::{Map, Value};

/// Fields of the call records whose string values are `addr:port`s.
const ADDRESS_KEYS: &[&str] = &[
    "addr",
    "rtcp",
    "src",
    "dst",
    "a",
    "b",
    "peer",
    "client",
    "server",
    "relayed_address",
];
/// Fields whose values are arrays of `addr:port`s.
const ADDRESS_LISTS: &[&str] = &["permissions"];

/// The body of `/calls`.
pub fn body(board: &Board, l: &Labeller) -> Vec<u8> {
    let snaps: Vec<_> = board
        .captures
        .iter()
        .filter_map(|c| c.load().calls.clone())
        .collect();
    let ongoing: Vec<Value> = snaps
        .iter()
        .flat_map(|s| s.ongoing.iter())
        .map(|c| private(l, c))
        .collect();
    let mut ended: Vec<&CallView> = snaps.iter().flat_map(|s| s.ended.iter()).collect();
    ended.sort_by(|a, b| end_of(b).cmp(end_of(a)));
    let ended: Vec<Value> = ended.into_iter().map(|c| private(l, c)).collect();
    let omitted: u64 = snaps.iter().map(|s| s.ongoing_omitted).sum();
    let mut out = Map::new();
    out.insert("ongoing".into(), Value::Array(ongoing));
    out.insert("ongoing_omitted".into(), omitted.into());
    out.insert("ended".into(), Value::Array(ended));
    serde_json::to_vec(&Value::Object(out)).unwrap_or_default()
}

fn end_of(c: &CallView) -> &str {
    match c {
        CallView::Sip(c) => &c.end,
        CallView::Ice(s) => &s.end,
        CallView::Turn(a) => &a.end,
    }
}

/// `c` as JSON with its addresses in the configured form.
fn private(l: &Labeller, c: &CallView) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    hide(l, &mut v);
    if let (CallView::Turn(a), Value::Object(o)) = (c, &mut v) {
        // The allocation's id names its client and server: rebuilt from their private forms.
        let id = format!(
            "turn:{}-{}@{}",
            l.address(&a.client),
            l.address(&a.server),
            a.start
        );
        o.insert("id".into(), Value::String(id));
    }
    v
}

fn hide(l: &Labeller, v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match x {
                    Value::String(s) if ADDRESS_KEYS.contains(&k.as_str()) => *s = l.address(s),
                    Value::Array(items) if ADDRESS_LISTS.contains(&k.as_str()) => {
                        for i in items {
                            if let Value::String(s) = i {
                                *s = l.address(s);
                            }
                        }
                    }
                    _ => hide(l, x),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| hide(l, i)),
        _ => {}
    }
}

#[cfg(test)]
#[path = "calls_view_tests.rs"]
mod tests;
