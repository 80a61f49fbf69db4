//! The call record of schema version 3 (docs/records.md, "Call records";
//! docs/records-call.schema.json): one ended call, whatever told the probe about it: a SIP
//! dialog (`call_kind = "sip"`, docs/calls.md), an ICE session (`ice`) or a TURN allocation
//! (`turn`, docs/ice-turn.md).
//!
//! Flat like the stream and hop records, so that every store takes it as it is: the keys of
//! the kinds that do not apply are null. `kind = "call"` tells it from stream records
//! (`interval`, `final`) and hop records (`hop_…`). It is made where the call ends, on the
//! capture thread (the daemon, and `replay` through the pipeline) or beside the engine in the
//! single-threaded replay, from the same record `replay --format json` prints, so replay and
//! live send the same records. SIP identities are keyed hashes unless `sip.keep_identities`
//! (as everywhere); addresses are as in stream records. The record ID is a hash of host, call
//! kind, call ID and start: the same capture replayed twice gives the same IDs.

use super::record::{RecordOptions, SCHEMA_VERSION};
use crate::correlate::calls::CallView;
use crate::sip::call::Worst;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// `kind` of a call record.
pub const CALL: &str = "call";

/// One forwarded call record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallRecordOut {
    pub schema_version: u32,
    pub record_id: String,
    pub host: String,
    /// Always [`CALL`].
    pub kind: String,
    /// `sip`, `ice` or `turn`.
    pub call_kind: String,
    /// The call's `id` in `replay --format json`.
    pub call_id: String,
    pub start: String,
    pub end: String,
    /// The outcome vocabulary of the call's kind (docs/calls.md, docs/ice-turn.md).
    pub outcome: String,
    /// ICE and TURN: `idle`, `evicted` or `end_of_capture`; null for SIP.
    pub ended_by: Option<String>,
    /// SIP: from the answer to the end (null when not answered); ICE and TURN: start to end.
    pub duration_secs: Option<f64>,
    /// Stream references of the call (SIP calls are tied to streams in replay only: 0 live).
    pub streams: u64,
    pub worst_mos_lq: Option<f64>,
    pub worst_loss_ratio: Option<f64>,
    pub worst_jitter_ms: Option<f64>,
    pub worst_finding: Option<String>,
    pub worst_finding_severity: Option<String>,
    pub sip_status: Option<u16>,
    pub setup_ringing_ms: Option<f64>,
    pub setup_answer_ms: Option<f64>,
    pub caller_uri: Option<String>,
    pub callee_uri: Option<String>,
    pub caller_ip: Option<String>,
    pub caller_port: Option<u16>,
    pub callee_ip: Option<String>,
    pub callee_port: Option<u16>,
    /// `name/rate` of every payload type offered or answered, comma-separated.
    pub codecs: Option<String>,
    pub sip_invites: Option<u32>,
    pub sip_reinvites: Option<u32>,
    pub ice_mode: Option<String>,
    pub ice_checks: Option<u64>,
    pub ice_answers: Option<u64>,
    pub ice_pairs: Option<u64>,
    /// The selected pair's ends and its mean check round trip.
    pub ice_selected_a: Option<String>,
    pub ice_selected_b: Option<String>,
    pub ice_rtt_ms: Option<f64>,
    pub turn_client_ip: Option<String>,
    pub turn_client_port: Option<u16>,
    pub turn_server_ip: Option<String>,
    pub turn_server_port: Option<u16>,
    pub turn_relayed_ip: Option<String>,
    pub turn_relayed_port: Option<u16>,
    pub turn_transport: Option<String>,
    pub turn_lifetime_secs: Option<u32>,
    pub turn_permissions: Option<u64>,
    pub turn_channels: Option<u64>,
    pub turn_client_packets: Option<u64>,
    pub turn_relayed_packets: Option<u64>,
    /// Error answers, `code:count` comma-separated in code order (401 included).
    pub turn_errors: Option<String>,
}

impl CallRecordOut {
    fn empty(opts: &RecordOptions, kind: &str, id: &str, start: &str, end: &str) -> Self {
        CallRecordOut {
            schema_version: SCHEMA_VERSION,
            record_id: record_id(&opts.host, kind, id, start),
            host: opts.host.clone(),
            kind: CALL.to_string(),
            call_kind: kind.to_string(),
            call_id: id.to_string(),
            start: start.to_string(),
            end: end.to_string(),
            outcome: String::new(),
            ended_by: None,
            duration_secs: None,
            streams: 0,
            worst_mos_lq: None,
            worst_loss_ratio: None,
            worst_jitter_ms: None,
            worst_finding: None,
            worst_finding_severity: None,
            sip_status: None,
            setup_ringing_ms: None,
            setup_answer_ms: None,
            caller_uri: None,
            callee_uri: None,
            caller_ip: None,
            caller_port: None,
            callee_ip: None,
            callee_port: None,
            codecs: None,
            sip_invites: None,
            sip_reinvites: None,
            ice_mode: None,
            ice_checks: None,
            ice_answers: None,
            ice_pairs: None,
            ice_selected_a: None,
            ice_selected_b: None,
            ice_rtt_ms: None,
            turn_client_ip: None,
            turn_client_port: None,
            turn_server_ip: None,
            turn_server_port: None,
            turn_relayed_ip: None,
            turn_relayed_port: None,
            turn_transport: None,
            turn_lifetime_secs: None,
            turn_permissions: None,
            turn_channels: None,
            turn_client_packets: None,
            turn_relayed_packets: None,
            turn_errors: None,
        }
    }

    fn worst(&mut self, w: Option<&Worst>) {
        let Some(w) = w else { return };
        self.worst_mos_lq = w.mos_lq;
        self.worst_loss_ratio = w.loss_ratio;
        self.worst_jitter_ms = w.jitter_ms;
        if let Some(f) = w.finding {
            self.worst_finding = name(&f.code);
            self.worst_finding_severity = name(&f.severity);
        }
    }
}

/// The record of ended call `c`.
pub fn call_record(opts: &RecordOptions, c: &CallView) -> CallRecordOut {
    match c {
        CallView::Sip(c) => {
            let mut r = CallRecordOut::empty(opts, c.kind, &c.id, &c.start, &c.end);
            r.outcome = c.outcome.to_string();
            r.duration_secs = c.duration_s;
            r.streams = c.streams.len() as u64;
            r.worst(c.worst.as_ref());
            r.sip_status = c.sip.status;
            r.setup_ringing_ms = c.setup_time_ms.ringing;
            r.setup_answer_ms = c.setup_time_ms.answer;
            for p in &c.participants {
                let (ip, port) = split(&p.addr);
                if p.role == "caller" {
                    (r.caller_uri, r.caller_ip, r.caller_port) = (Some(p.uri.clone()), ip, port);
                } else {
                    (r.callee_uri, r.callee_ip, r.callee_port) = (Some(p.uri.clone()), ip, port);
                }
            }
            r.codecs = Some(c.codecs.join(","));
            r.sip_invites = Some(c.sip.invites);
            r.sip_reinvites = Some(c.sip.reinvites);
            r
        }
        CallView::Ice(s) => {
            let mut r = CallRecordOut::empty(opts, s.kind, &s.id, &s.start, &s.end);
            r.outcome = s.outcome.to_string();
            r.ended_by = Some(s.ended_by.to_string());
            r.duration_secs = span_secs(s.start_ns, s.end_ns);
            r.streams = s.streams.len() as u64 + s.streams_omitted;
            r.ice_mode = Some(s.mode.to_string());
            r.ice_checks = Some(s.checks);
            r.ice_answers = Some(s.answers);
            r.ice_pairs = Some(s.pairs.len() as u64);
            if let Some(p) = s.selected_pair.and_then(|i| s.pairs.get(i)) {
                r.ice_selected_a = Some(p.a.clone());
                r.ice_selected_b = Some(p.b.clone());
                r.ice_rtt_ms = p.rtt_ms_mean;
            }
            r
        }
        CallView::Turn(a) => {
            let mut r = CallRecordOut::empty(opts, a.kind, &a.id, &a.start, &a.end);
            r.outcome = a.outcome.to_string();
            r.ended_by = Some(a.ended_by.to_string());
            r.duration_secs = span_secs(a.start_ns, a.end_ns);
            r.streams = a.streams.len() as u64;
            (r.turn_client_ip, r.turn_client_port) = split(&a.client);
            (r.turn_server_ip, r.turn_server_port) = split(&a.server);
            if let Some(relayed) = &a.relayed_address {
                (r.turn_relayed_ip, r.turn_relayed_port) = split(relayed);
            }
            r.turn_transport = a.requested_transport.clone();
            r.turn_lifetime_secs = a.lifetime_secs;
            r.turn_permissions = Some(a.permissions.len() as u64);
            r.turn_channels = Some(a.channels.len() as u64);
            r.turn_client_packets = Some(a.client_packets);
            r.turn_relayed_packets = Some(a.relayed_packets);
            r.turn_errors = (!a.errors.is_empty()).then(|| {
                let parts: Vec<String> = a.errors.iter().map(|(c, n)| format!("{c}:{n}")).collect();
                parts.join(",")
            });
            r
        }
    }
}

/// Seconds from `start` to `end` (capture times, ns).
fn span_secs(start: i64, end: i64) -> Option<f64> {
    Some(end.saturating_sub(start).max(0) as f64 / 1e9)
}

/// The serialised name of a unit variant (a finding's code or severity).
fn name<T: Serialize>(v: &T) -> Option<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

/// `"addr:port"` to its parts; nulls if it does not parse.
fn split(a: &str) -> (Option<String>, Option<u16>) {
    match a.parse::<SocketAddr>() {
        Ok(sa) => (Some(sa.ip().to_string()), Some(sa.port())),
        Err(_) => (None, None),
    }
}

/// 32 hex digits of two FNV-1a 64 hashes (as the other records' IDs) over host, call kind,
/// call ID and start.
fn record_id(host: &str, kind: &str, id: &str, start: &str) -> String {
    let text = format!("{host}\u{1f}{kind}\u{1f}{id}\u{1f}{start}\u{1f}{CALL}");
    let fnv = |basis: u64| {
        text.bytes().fold(basis, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

#[cfg(test)]
#[path = "call_record_tests.rs"]
mod tests;
