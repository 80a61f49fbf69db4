//! The record of a TURN allocation ([`super`]): what `replay --format json` shows of it
//! (docs/ice-turn.md), and its outcome.

use super::{Alloc, Key};
use crate::correlate::calls::StreamRef;
use crate::engine::record::rfc3339_micros;
use crate::engine::PointNames;
use serde::Serialize;
use std::collections::BTreeMap;

/// One ended allocation, as `replay --format json` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TurnAllocationRecord {
    pub kind: &'static str,
    pub id: String,
    pub client: String,
    pub server: String,
    pub start: String,
    pub end: String,
    pub outcome: &'static str,
    pub ended_by: &'static str,
    /// REQUESTED-TRANSPORT of the relayed leg: `udp`, `tcp` or the protocol number.
    pub requested_transport: Option<String>,
    /// Hashed (`h:` + 16 hex digits) unless kept by configuration.
    pub username: Option<String>,
    pub realm: Option<String>,
    pub relayed_address: Option<String>,
    pub lifetime_secs: Option<u32>,
    /// Error answers by code (401 included).
    pub errors: BTreeMap<u16, u64>,
    pub permissions: Vec<String>,
    pub channels: Vec<ChannelRecord>,
    pub client_packets: u64,
    pub relayed_packets: u64,
    pub streams: Vec<StreamRef>,
    /// Capture times behind `start` and `end` (ns since the epoch).
    #[serde(skip)]
    pub start_ns: i64,
    #[serde(skip)]
    pub end_ns: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChannelRecord {
    pub channel: u16,
    pub peer: String,
}

fn outcome(a: &Alloc) -> &'static str {
    match (
        a.relayed.is_some() || a.lifetime_s.is_some(),
        a.error,
        a.challenged,
    ) {
        (true, _, _) if a.client_packets + a.relayed_packets > 0 => "relayed",
        (true, _, _) => "allocated",
        (false, Some(_), _) => "failed",
        (false, None, true) => "unauthenticated",
        (false, None, false) if a.answered => "failed",
        _ => "no_response",
    }
}

pub(super) fn record(
    key: Key,
    a: &Alloc,
    ended_by: &'static str,
    names: &PointNames,
) -> TurnAllocationRecord {
    TurnAllocationRecord {
        kind: "turn",
        id: format!("turn:{}-{}@{}", key.0, key.1, rfc3339_micros(a.first_ns)),
        client: key.0.to_string(),
        server: key.1.to_string(),
        start: rfc3339_micros(a.first_ns),
        end: rfc3339_micros(a.last_ns),
        outcome: outcome(a),
        ended_by,
        requested_transport: a.transport.map(|t| match t {
            17 => "udp".to_string(),
            6 => "tcp".to_string(),
            n => n.to_string(),
        }),
        username: a.username.clone(),
        realm: a.realm.clone(),
        relayed_address: a.relayed.map(|r| r.to_string()),
        lifetime_secs: a.lifetime_s,
        errors: a.errors.clone(),
        permissions: a.permissions.iter().map(ToString::to_string).collect(),
        channels: a
            .channels
            .iter()
            .map(|&(channel, peer)| ChannelRecord {
                channel,
                peer: peer.to_string(),
            })
            .collect(),
        client_packets: a.client_packets,
        relayed_packets: a.relayed_packets,
        streams: a.streams.iter().map(|r| r.render(names)).collect(),
        start_ns: a.first_ns,
        end_ns: a.last_ns,
    }
}
