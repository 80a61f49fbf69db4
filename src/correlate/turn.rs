//! TURN allocations, passively (RFC 8656): which client allocated which relayed address, with
//! which lifetime, which peers it permitted and which channels it bound, and which streams went
//! through it on either side of the relay.
//!
//! An allocation is keyed by the client's 5-tuple (client address, server address; RFC 8656
//! §2.2): requests go client → server, answers come back on the reversed 5-tuple, so an answer
//! finds its allocation without its transaction ID; the ID only pairs it with the request it
//! answers (a CreatePermission's peers, a ChannelBind's channel, a Refresh's lifetime).
//!
//! * Allocate: a success gives XOR-RELAYED-ADDRESS and LIFETIME; an error its code. 401
//!   (Unauthorized, the authentication challenge of RFC 8656 §7.2) and 438 (Stale Nonce) are
//!   the normal first answers, counted but not failures.
//! * Refresh: a new LIFETIME; LIFETIME 0 answered with success deletes the allocation (§7.4).
//! * CreatePermission: the peer addresses permitted (§9), ChannelBind: channel ↔ peer (§12).
//! * Send/Data indications and ChannelData: the client leg of relayed data, with its peer.
//! * Datagrams from or to the relayed address: the relayed leg (the server ↔ peer side).
//!
//! Every stream seen on either leg is kept as a reference with its leg and peer, so a stream
//! through the relay is tied to its other side: the same peer (and, as TURN does not touch RTP,
//! the same SSRC).
//!
//! Outcome: `relayed` (allocated and carried data), `allocated` (allocated, no data seen),
//! `failed` (the last answer an error other than 401/438), `unauthenticated` (only the
//! challenge: the client never answered it, or its retry went unseen), `no_response`. Ended by
//! `deleted`, `lifetime` (not refreshed in time), `idle`, `evicted` or `end_of_capture`.
//!
//! USERNAME and REALM may name a user: they are hashed with the exporter's `hash_key` (a keyed
//! SipHash, as address labels are) unless `ice_turn.keep_turn_usernames` is set. Nothing else of
//! the authentication (MESSAGE-INTEGRITY, NONCE) is ever read.
//!
//! Bounds: `max_allocations` (least recently active evicted, counted), [`MAX_PEERS`]
//! permissions, [`MAX_CHANNELS`] channels, [`MAX_PENDING`] unanswered requests and
//! [`MAX_STREAMS`] stream references per allocation, error codes 300..=699 only.

use super::calls::{Leg, MediaRef};
use crate::engine::PointNames;
use crate::tcp::table::Lru;
use crate::wire::demux::Turn;
use crate::wire::stun::{self, Class, Message};
use crate::wire::Datagram;
use foldhash::HashMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub const MAX_PEERS: usize = 16;
pub const MAX_CHANNELS: usize = 16;
pub const MAX_PENDING: usize = 8;
pub const MAX_STREAMS: usize = 16;
/// Bytes of a kept USERNAME or REALM.
pub const MAX_NAME: usize = 128;

/// The table's limits (`[ice_turn]` in the config). `Debug` leaves the hash key out.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnLimits {
    pub max_allocations: usize,
    pub idle_timeout_ns: i64,
    /// Keep TURN USERNAME/REALM as they are instead of hashing them.
    pub keep_usernames: bool,
    /// The key of the hash (the exporter's `hash_key`).
    pub hash_key: String,
}

impl Default for TurnLimits {
    fn default() -> Self {
        TurnLimits {
            max_allocations: 10_000,
            idle_timeout_ns: 120_000_000_000,
            keep_usernames: false,
            hash_key: String::new(),
        }
    }
}

impl std::fmt::Debug for TurnLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnLimits")
            .field("max_allocations", &self.max_allocations)
            .field("idle_timeout_ns", &self.idle_timeout_ns)
            .field("keep_usernames", &self.keep_usernames)
            .field("hash_key", &"<redacted>")
            .finish()
    }
}

/// What the TURN table counted, cumulative.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TurnCounters {
    pub allocations: u64,
    pub allocate_requests: u64,
    pub allocate_successes: u64,
    /// 401 and 438 answers: the challenge, not a failure.
    pub challenges: u64,
    /// Error answers other than 401 and 438, any method.
    pub errors: u64,
    pub refreshes: u64,
    pub deletes: u64,
    pub permissions: u64,
    pub channel_binds: u64,
    pub send_indications: u64,
    pub data_indications: u64,
    pub channel_data: u64,
    pub expired_idle: u64,
    pub expired_lifetime: u64,
    pub evicted_table_full: u64,
    /// Peers, channels, pending requests or stream references past their per-allocation caps.
    pub dropped_entries: u64,
    /// Allocations ended, by outcome.
    pub relayed: u64,
    pub allocated: u64,
    pub failed: u64,
    pub unauthenticated: u64,
    pub no_response: u64,
}

impl TurnCounters {
    /// Allocations ended with each outcome (`rtcprobe_turn_allocations_total{outcome}`).
    pub fn outcomes(&self) -> [(&'static str, u64); 5] {
        [
            ("relayed", self.relayed),
            ("allocated", self.allocated),
            ("failed", self.failed),
            ("unauthenticated", self.unauthenticated),
            ("no_response", self.no_response),
        ]
    }

    /// Add `o` (several capture threads).
    pub fn add(&mut self, o: &TurnCounters) {
        let f = [
            (&mut self.allocations, o.allocations),
            (&mut self.allocate_requests, o.allocate_requests),
            (&mut self.allocate_successes, o.allocate_successes),
            (&mut self.challenges, o.challenges),
            (&mut self.errors, o.errors),
            (&mut self.refreshes, o.refreshes),
            (&mut self.deletes, o.deletes),
            (&mut self.permissions, o.permissions),
            (&mut self.channel_binds, o.channel_binds),
            (&mut self.send_indications, o.send_indications),
            (&mut self.data_indications, o.data_indications),
            (&mut self.channel_data, o.channel_data),
            (&mut self.expired_idle, o.expired_idle),
            (&mut self.expired_lifetime, o.expired_lifetime),
            (&mut self.evicted_table_full, o.evicted_table_full),
            (&mut self.dropped_entries, o.dropped_entries),
            (&mut self.relayed, o.relayed),
            (&mut self.allocated, o.allocated),
            (&mut self.failed, o.failed),
            (&mut self.unauthenticated, o.unauthenticated),
            (&mut self.no_response, o.no_response),
        ];
        for (a, b) in f {
            *a += b;
        }
    }
}

type Key = (SocketAddr, SocketAddr);

#[derive(Debug, Clone, Copy)]
enum Op {
    Allocate,
    Refresh(u32),
    Permission([Option<IpAddr>; 4]),
    Bind(u16, SocketAddr),
}

#[derive(Debug)]
struct Alloc {
    first_ns: i64,
    last_ns: i64,
    transport: Option<u8>,
    username: Option<String>,
    realm: Option<String>,
    relayed: Option<SocketAddr>,
    lifetime_s: Option<u32>,
    /// Capture time the lifetime runs out.
    expires_ns: Option<i64>,
    answered: bool,
    /// The last non-challenge error.
    error: Option<u16>,
    challenged: bool,
    errors: BTreeMap<u16, u64>,
    permissions: Vec<IpAddr>,
    channels: Vec<(u16, SocketAddr)>,
    pending: Vec<([u8; 12], Op)>,
    deleted: bool,
    client_packets: u64,
    relayed_packets: u64,
    streams: Vec<MediaRef>,
}

/// The TURN allocation table (see the module docs).
#[derive(Debug)]
pub struct TurnTable {
    limits: TurnLimits,
    allocs: Lru<Key, Alloc>,
    /// Relayed address → allocation.
    by_relayed: HashMap<SocketAddr, Key>,
    counters: TurnCounters,
    /// Error answers by code, all allocations.
    error_codes: BTreeMap<u16, u64>,
    done: Vec<TurnAllocationRecord>,
    names: Arc<PointNames>,
}

impl TurnTable {
    pub fn new(limits: TurnLimits, names: Arc<PointNames>) -> Self {
        TurnTable {
            limits,
            allocs: Lru::new(),
            by_relayed: HashMap::default(),
            counters: TurnCounters::default(),
            error_codes: BTreeMap::new(),
            done: Vec::new(),
            names,
        }
    }

    pub fn counters(&self) -> &TurnCounters {
        &self.counters
    }

    /// Error answers by code (300..=699), all allocations.
    pub fn error_codes(&self) -> &BTreeMap<u16, u64> {
        &self.error_codes
    }

    pub fn len(&self) -> usize {
        self.allocs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.allocs.is_empty()
    }

    /// A private string in the configured form.
    fn private(&self, b: &[u8]) -> String {
        if self.limits.keep_usernames {
            // Cut: a hostile USERNAME may be as long as the message (RFC 8489 allows 509).
            return String::from_utf8_lossy(b.get(..MAX_NAME).unwrap_or(b)).into_owned();
        }
        // SipHash-1-3 over the key then the value, as the exporter hashes addresses.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.limits.hash_key.hash(&mut h);
        b.hash(&mut h);
        format!("h:{:016x}", h.finish())
    }

    /// A STUN message (not an indication wrapping data) at `now`.
    pub fn on_stun(&mut self, now: i64, src: SocketAddr, dst: SocketAddr, m: &Message<'_>) {
        let method = m.method();
        if !matches!(
            method,
            stun::ALLOCATE | stun::REFRESH | stun::CREATE_PERMISSION | stun::CHANNEL_BIND
        ) {
            return;
        }
        match m.class() {
            Class::Request => self.on_request(now, (src, dst), m),
            Class::SuccessResponse | Class::ErrorResponse => self.on_answer(now, (dst, src), m),
            Class::Indication => {}
        }
    }

    fn on_request(&mut self, now: i64, key: Key, m: &Message<'_>) {
        let op = match m.method() {
            stun::ALLOCATE => {
                self.counters.allocate_requests += 1;
                Op::Allocate
            }
            stun::REFRESH => Op::Refresh(m.lifetime().unwrap_or(600)),
            stun::CREATE_PERMISSION => {
                let mut peers = [None; 4];
                for (slot, p) in peers.iter_mut().zip(m.xor_peer_addresses()) {
                    *slot = Some(p.ip());
                }
                Op::Permission(peers)
            }
            _ => match (m.channel_number(), m.xor_peer_address()) {
                // RFC 5766's range (RFC 8656 narrowed it to 0x4FFF): coturn binds up to 0x7FFF.
                (Some(c @ 0x4000..=0x7FFF), Some(p)) => Op::Bind(c, p),
                _ => return,
            },
        };
        if self.allocs.touch(&key).is_none() {
            // A Refresh, CreatePermission or ChannelBind of an allocation made before the
            // capture began starts one too.
            self.make_room();
            self.counters.allocations += 1;
            self.allocs.insert(
                key,
                Alloc {
                    first_ns: now,
                    last_ns: now,
                    transport: None,
                    username: None,
                    realm: None,
                    relayed: None,
                    lifetime_s: None,
                    expires_ns: None,
                    answered: false,
                    error: None,
                    challenged: false,
                    errors: BTreeMap::new(),
                    permissions: Vec::new(),
                    channels: Vec::new(),
                    pending: Vec::new(),
                    deleted: false,
                    client_packets: 0,
                    relayed_packets: 0,
                    streams: Vec::new(),
                },
            );
        }
        let user = m.username().map(|u| self.private(u));
        let realm = m.realm().map(|r| self.private(r));
        let Some(a) = self.allocs.peek_mut(&key) else {
            return;
        };
        a.last_ns = now;
        if let Some(t) = m.requested_transport() {
            a.transport = Some(t);
        }
        if user.is_some() {
            a.username = user;
        }
        if realm.is_some() {
            a.realm = realm;
        }
        let id = m.transaction_id();
        if let Some(p) = a.pending.iter_mut().find(|(t, _)| *t == id) {
            p.1 = op; // a retransmission
        } else if a.pending.len() < MAX_PENDING {
            a.pending.push((id, op));
        } else {
            // The oldest unanswered request gives way.
            a.pending.remove(0);
            a.pending.push((id, op));
            self.counters.dropped_entries += 1;
        }
    }

    fn on_answer(&mut self, now: i64, key: Key, m: &Message<'_>) {
        let Some(a) = self.allocs.touch(&key) else {
            return;
        };
        a.last_ns = now;
        let id = m.transaction_id();
        let op = match a.pending.iter().position(|(t, _)| *t == id) {
            Some(i) => a.pending.remove(i).1,
            None => return,
        };
        a.answered = true;
        let c = &mut self.counters;
        if m.class() == Class::ErrorResponse {
            let code = m.error_code().unwrap_or(0);
            if (300..=699).contains(&code) {
                *a.errors.entry(code).or_default() += 1;
                *self.error_codes.entry(code).or_default() += 1;
            }
            if matches!(code, 401 | 438) {
                c.challenges += 1;
                a.challenged = true;
            } else {
                c.errors += 1;
                if matches!(op, Op::Allocate) && a.relayed.is_none() {
                    a.error = Some(code);
                }
            }
            return;
        }
        match op {
            Op::Allocate => {
                c.allocate_successes += 1;
                a.error = None;
                if let Some(r) = m.xor_relayed_address() {
                    a.relayed = Some(r);
                    self.by_relayed.insert(r, key);
                }
                let life = m.lifetime().unwrap_or(600);
                a.lifetime_s = Some(life);
                a.expires_ns = Some(now.saturating_add(i64::from(life) * 1_000_000_000));
            }
            Op::Refresh(asked) => {
                c.refreshes += 1;
                let life = m.lifetime().unwrap_or(asked);
                if life == 0 {
                    c.deletes += 1;
                    a.deleted = true;
                    a.expires_ns = Some(now);
                } else {
                    a.lifetime_s = Some(life);
                    a.expires_ns = Some(now.saturating_add(i64::from(life) * 1_000_000_000));
                }
            }
            Op::Permission(peers) => {
                c.permissions += 1;
                for ip in peers.into_iter().flatten() {
                    if a.permissions.contains(&ip) {
                        continue;
                    }
                    if a.permissions.len() < MAX_PEERS {
                        a.permissions.push(ip);
                    } else {
                        c.dropped_entries += 1;
                    }
                }
            }
            Op::Bind(ch, peer) => {
                c.channel_binds += 1;
                if let Some(e) = a.channels.iter_mut().find(|(n, _)| *n == ch) {
                    e.1 = peer;
                } else if a.channels.len() < MAX_CHANNELS {
                    a.channels.push((ch, peer));
                } else {
                    c.dropped_entries += 1;
                }
                // A channel binding also installs a permission (RFC 8656 §12.2).
                if !a.permissions.contains(&peer.ip()) && a.permissions.len() < MAX_PEERS {
                    a.permissions.push(peer.ip());
                }
            }
        }
        if a.deleted {
            self.end(key, "deleted");
        }
    }

    /// Data wrapped by the relay (ChannelData, Send or Data indication) on the client leg at
    /// `now`: counted, and its peer returned when known.
    pub fn on_wrapped(&mut self, now: i64, dg: &Datagram<'_>, turn: Turn) -> Option<SocketAddr> {
        let c = &mut self.counters;
        let (key, peer) = match turn {
            Turn::ChannelData { channel } => {
                c.channel_data += 1;
                let key = self.client_key(dg.src, dg.dst)?;
                let a = self.allocs.peek_mut(&key)?;
                let peer = a.channels.iter().find(|(n, _)| *n == channel).map(|e| e.1);
                (key, peer)
            }
            Turn::SendIndication | Turn::DataIndication => {
                if turn == Turn::SendIndication {
                    c.send_indications += 1;
                } else {
                    c.data_indications += 1;
                }
                let m = Message::new_checked(dg.payload).ok()?;
                (self.client_key(dg.src, dg.dst)?, m.xor_peer_address())
            }
        };
        let a = self.allocs.touch(&key)?;
        a.last_ns = now;
        a.client_packets += 1;
        peer
    }

    /// The allocation key of a client-leg datagram in either direction.
    fn client_key(&self, src: SocketAddr, dst: SocketAddr) -> Option<Key> {
        [(src, dst), (dst, src)]
            .into_iter()
            .find(|k| self.allocs.contains(k))
    }

    /// RTP inside the client leg (after [`TurnTable::on_wrapped`]).
    pub fn on_client_media(&mut self, now: i64, r: &MediaRef) {
        if let Some(key) = self.client_key(r.src, r.dst) {
            self.add_stream(now, key, r);
        }
    }

    /// A plain RTP datagram: the relayed leg when it is from or to a relayed address.
    pub fn on_relayed_media(&mut self, now: i64, r: &MediaRef) {
        if self.by_relayed.is_empty() {
            return;
        }
        let hit = [(r.src, r.dst), (r.dst, r.src)]
            .into_iter()
            .find_map(|(relay, peer)| Some((*self.by_relayed.get(&relay)?, peer)));
        let Some((key, peer)) = hit else { return };
        let r = MediaRef {
            leg: Leg::Relayed,
            peer: Some(peer),
            ..*r
        };
        if let Some(a) = self.allocs.peek_mut(&key) {
            a.relayed_packets += 1;
        }
        self.add_stream(now, key, &r);
    }

    fn add_stream(&mut self, now: i64, key: Key, r: &MediaRef) {
        let Some(a) = self.allocs.touch(&key) else {
            return;
        };
        a.last_ns = now;
        if !a.streams.contains(r) {
            if a.streams.len() < MAX_STREAMS {
                a.streams.push(*r);
            } else {
                self.counters.dropped_entries += 1;
            }
        }
    }

    fn make_room(&mut self) {
        while self.allocs.len() >= self.limits.max_allocations.max(1) {
            let Some((&k, _)) = self.allocs.lru() else {
                break;
            };
            self.end(k, "evicted");
            self.counters.evicted_table_full += 1;
        }
    }

    /// End allocations idle for `idle_timeout`, and those whose lifetime ran out, at capture
    /// time `now`; call about once a second.
    pub fn expire(&mut self, now: i64) {
        while let Some((&k, a)) = self.allocs.lru() {
            if now.saturating_sub(a.last_ns) < self.limits.idle_timeout_ns {
                break;
            }
            self.end(k, "idle");
            self.counters.expired_idle += 1;
        }
        // Lifetimes: a scan, but only of allocations with one (bounded by the table), and
        // only once a second.
        let over: Vec<Key> = self
            .allocs
            .iter()
            .filter(|(_, a)| a.expires_ns.is_some_and(|e| e < now))
            .map(|(k, _)| *k)
            .collect();
        for k in over {
            self.end(k, "lifetime");
            self.counters.expired_lifetime += 1;
        }
    }

    /// End every allocation (the end of the capture).
    pub fn finish(&mut self) {
        while let Some((&k, _)) = self.allocs.lru() {
            self.end(k, "end_of_capture");
        }
    }

    pub fn drain(&mut self) -> Vec<TurnAllocationRecord> {
        std::mem::take(&mut self.done)
    }

    fn end(&mut self, key: Key, ended_by: &'static str) {
        let Some(a) = self.allocs.remove(&key) else {
            return;
        };
        if let Some(r) = a.relayed {
            if self.by_relayed.get(&r) == Some(&key) {
                self.by_relayed.remove(&r);
            }
        }
        let r = record(key, &a, ended_by, &self.names);
        let c = &mut self.counters;
        match r.outcome {
            "relayed" => c.relayed += 1,
            "allocated" => c.allocated += 1,
            "failed" => c.failed += 1,
            "unauthenticated" => c.unauthenticated += 1,
            _ => c.no_response += 1,
        }
        self.done.push(r);
    }
}

#[path = "turn_record.rs"]
mod record;
use record::record;
pub use record::{ChannelRecord, TurnAllocationRecord};

#[cfg(test)]
#[path = "turn_tests.rs"]
mod tests;
