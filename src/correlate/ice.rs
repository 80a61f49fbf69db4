//! ICE sessions, passively (RFC 8445, RFC 7675): which candidate pairs one session checked,
//! which answered, which was nominated and selected, whether media followed, and whether
//! consent checks continued.
//!
//! A connectivity check is a Binding request whose USERNAME is `remote:local` (RFC 8445
//! §7.2.2): the requester's ufrag second. Both agents' checks of one session carry the same
//! two ufrags in opposite orders, so the session's key is the pair in a canonical order, and
//! every 5-tuple a check of the session travels on is one of its candidate pairs. A success
//! response carries no USERNAME: it is matched to its request by transaction ID on the
//! reversed 5-tuple. USE-CANDIDATE nominates (regular or aggressive nomination alike); a
//! nominated pair whose check was answered is selected. Checks on the selected pair after it
//! was selected are consent freshness (RFC 7675). An agent that answers checks but never sends
//! one is an ICE-lite agent (RFC 8445 §2.5).
//!
//! Outcome, when a session ends (idle, evicted, or the end of the capture):
//!
//! * `connected`: an answered check and media (RTP/RTCP, also inside TURN ChannelData) on
//!   one of its pairs;
//! * `no_media`: checks were answered, but no media followed on any of its pairs;
//! * `failed`: checks were sent and none was answered;
//! * `ongoing`: (snapshots only) the session is still active.
//!
//! Bounds: at most `max_sessions` sessions (least recently active evicted, counted),
//! [`MAX_PAIRS`] pairs per session (more counted, not kept), [`MAX_PENDING`] unanswered
//! checks (older than [`PENDING_TIMEOUT_NS`] forgotten), [`MAX_STREAMS`] stream references per
//! session, and ufrags cut to [`MAX_UFRAG`] bytes. Nothing reads a clock.

use super::calls::MediaRef;
use crate::engine::PointNames;
use crate::tcp::table::Lru;
use crate::wire::stun::{Class, IceRole, Message, BINDING};
use foldhash::HashMap;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// Candidate pairs kept per session (a session rarely checks more than a dozen).
pub const MAX_PAIRS: usize = 32;
/// Unanswered checks remembered, over all sessions.
pub const MAX_PENDING: usize = 16_384;
/// A check unanswered this long is forgotten (RFC 8445 §14.3 retransmits for ~8 s).
pub const PENDING_TIMEOUT_NS: i64 = 10_000_000_000;
/// Stream references kept per session.
pub const MAX_STREAMS: usize = 16;
/// Bytes of a ufrag kept (RFC 8445 §5.3: 4 to 256 characters; browsers use 4 to 32).
pub const MAX_UFRAG: usize = 64;

/// The table's limits (`[ice_turn]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceLimits {
    pub max_sessions: usize,
    pub idle_timeout_ns: i64,
}

impl Default for IceLimits {
    fn default() -> Self {
        IceLimits {
            max_sessions: 10_000,
            idle_timeout_ns: 30_000_000_000,
        }
    }
}

/// What the ICE table counted, cumulative.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IceCounters {
    pub checks: u64,
    pub answers: u64,
    pub error_answers: u64,
    /// Answers whose request was never seen (or forgotten).
    pub unmatched_answers: u64,
    pub sessions: u64,
    pub expired_idle: u64,
    pub evicted_table_full: u64,
    /// Pairs past [`MAX_PAIRS`], and checks not remembered past [`MAX_PENDING`].
    pub pairs_dropped: u64,
    pub pending_dropped: u64,
    /// Sessions ended, by outcome.
    pub connected: u64,
    pub failed: u64,
    pub no_media: u64,
}

impl IceCounters {
    /// Sessions ended with each outcome (`rtcprobe_ice_sessions_total{outcome}`).
    pub fn outcomes(&self) -> [(&'static str, u64); 3] {
        [
            ("connected", self.connected),
            ("failed", self.failed),
            ("no_media", self.no_media),
        ]
    }

    /// Add `o` (several capture threads).
    pub fn add(&mut self, o: &IceCounters) {
        let f = [
            (&mut self.checks, o.checks),
            (&mut self.answers, o.answers),
            (&mut self.error_answers, o.error_answers),
            (&mut self.unmatched_answers, o.unmatched_answers),
            (&mut self.sessions, o.sessions),
            (&mut self.expired_idle, o.expired_idle),
            (&mut self.evicted_table_full, o.evicted_table_full),
            (&mut self.pairs_dropped, o.pairs_dropped),
            (&mut self.pending_dropped, o.pending_dropped),
            (&mut self.connected, o.connected),
            (&mut self.failed, o.failed),
            (&mut self.no_media, o.no_media),
        ];
        for (a, b) in f {
            *a += b;
        }
    }
}

/// Canonical session key: the two ufrags, the smaller first.
type Key = (Box<[u8]>, Box<[u8]>);
/// A compact id for the LRU (the map from key to id is beside it).
type Id = u64;

#[derive(Debug, Clone)]
struct Pair {
    /// The 5-tuple in a canonical order (smaller address first).
    a: SocketAddr,
    b: SocketAddr,
    checks: u64,
    answers: u64,
    errors: u64,
    rtt_sum_ns: i64,
    rtt_min_ns: i64,
    rtt_max_ns: i64,
    nominated: bool,
    /// Capture time the pair became selected (nominated and answered).
    selected_ns: Option<i64>,
    /// Checks after selection (consent freshness), and their answers.
    consent_checks: u64,
    consent_answers: u64,
    media_packets: u64,
}

#[derive(Debug)]
struct Session {
    key: Key,
    first_ns: i64,
    last_ns: i64,
    pairs: Vec<Pair>,
    /// Checks sent by the agent whose ufrag is key.0, key.1.
    sent: [u64; 2],
    /// Answers sent by each side.
    answered: [u64; 2],
    /// Which side announced ICE-CONTROLLING (0, 1), if seen.
    controlling: Option<usize>,
    streams: Vec<MediaRef>,
    streams_dropped: u64,
    selected: Option<usize>,
}

/// An unanswered check.
#[derive(Debug, Clone, Copy)]
struct Pending {
    session: Id,
    pair: usize,
    src: SocketAddr,
    dst: SocketAddr,
    at: i64,
    use_candidate: bool,
    /// The check was sent after its pair was selected.
    consent: bool,
    /// The requester's side (0 or 1, its ufrag's place in the key).
    side: usize,
}

/// The ICE session table (see the module docs).
#[derive(Debug)]
pub struct IceTable {
    limits: IceLimits,
    ids: HashMap<Key, Id>,
    sessions: Lru<Id, Session>,
    next_id: Id,
    /// Candidate pair (canonical 5-tuple) → session.
    by_pair: HashMap<(SocketAddr, SocketAddr), Id>,
    /// By transaction ID and canonical 5-tuple: equal IDs on different pairs do not collide.
    pending: HashMap<([u8; 12], (SocketAddr, SocketAddr)), Pending>,
    counters: IceCounters,
    /// Sessions that ended, waiting for [`IceTable::drain`].
    done: Vec<IceSessionRecord>,
    names: Arc<PointNames>,
}

fn canon(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn cut(b: &[u8]) -> Box<[u8]> {
    b.get(..MAX_UFRAG).unwrap_or(b).into()
}

impl IceTable {
    pub fn new(limits: IceLimits, names: Arc<PointNames>) -> Self {
        IceTable {
            names,
            limits,
            ids: HashMap::default(),
            sessions: Lru::new(),
            next_id: 0,
            by_pair: HashMap::default(),
            pending: HashMap::default(),
            counters: IceCounters::default(),
            done: Vec::new(),
        }
    }

    pub fn counters(&self) -> &IceCounters {
        &self.counters
    }

    /// Sessions tracked now.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Checks waiting for an answer now.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// True when `(src, dst)` is a candidate pair of a tracked session (cheap: one lookup, none
    /// when no session is tracked).
    #[inline]
    pub fn is_pair(&self, src: SocketAddr, dst: SocketAddr) -> bool {
        !self.by_pair.is_empty() && self.by_pair.contains_key(&canon(src, dst))
    }

    /// A Binding message (request, success or error response) at `now`.
    pub fn on_stun(&mut self, now: i64, src: SocketAddr, dst: SocketAddr, m: &Message<'_>) {
        if m.method() != BINDING {
            return;
        }
        match m.class() {
            Class::Request => self.on_request(now, src, dst, m),
            Class::SuccessResponse | Class::ErrorResponse => self.on_answer(now, src, dst, m),
            Class::Indication => {}
        }
    }

    fn on_request(&mut self, now: i64, src: SocketAddr, dst: SocketAddr, m: &Message<'_>) {
        // USERNAME "remote:local" (RFC 8445 §7.2.2); a Binding request without it is a plain
        // STUN query (a server-reflexive lookup), not a check.
        let Some(user) = m.username() else { return };
        let Some(colon) = user.iter().position(|&c| c == b':') else {
            return;
        };
        let (remote, local) = (user.get(..colon), user.get(colon + 1..));
        let (Some(remote), Some(local)) = (remote, local) else {
            return;
        };
        if remote.is_empty() || local.is_empty() {
            return;
        }
        self.counters.checks += 1;
        let (remote, local) = (cut(remote), cut(local));
        // The requester is side 1 when its ufrag sorts second.
        let (key, side) = if local <= remote {
            ((local, remote), 0)
        } else {
            ((remote, local), 1)
        };
        let id = self.session(now, key);
        let tuple = canon(src, dst);
        let Some(s) = self.sessions.touch(&id) else {
            return;
        };
        s.last_ns = now;
        s.sent[side] += 1;
        if matches!(m.ice_role(), Some(IceRole::Controlling(_))) {
            s.controlling = Some(side);
        }
        let pair = match s.pairs.iter().position(|p| (p.a, p.b) == tuple) {
            Some(i) => Some(i),
            None if s.pairs.len() < MAX_PAIRS => {
                s.pairs.push(Pair {
                    a: tuple.0,
                    b: tuple.1,
                    checks: 0,
                    answers: 0,
                    errors: 0,
                    rtt_sum_ns: 0,
                    rtt_min_ns: i64::MAX,
                    rtt_max_ns: i64::MIN,
                    nominated: false,
                    selected_ns: None,
                    consent_checks: 0,
                    consent_answers: 0,
                    media_packets: 0,
                });
                self.by_pair.insert(tuple, id);
                Some(s.pairs.len() - 1)
            }
            None => None,
        };
        let Some(i) = pair else {
            self.counters.pairs_dropped += 1;
            return;
        };
        let Some(p) = s.pairs.get_mut(i) else { return };
        p.checks += 1;
        let use_candidate = m.use_candidate();
        if use_candidate {
            p.nominated = true;
        }
        let consent = p.selected_ns.is_some();
        if consent {
            p.consent_checks += 1;
        }
        if self.pending.len() >= MAX_PENDING {
            self.expire_pending(now);
        }
        if self.pending.len() < MAX_PENDING {
            let pending = Pending {
                session: id,
                pair: i,
                src,
                dst,
                at: now,
                use_candidate,
                consent,
                side,
            };
            self.pending.insert((m.transaction_id(), tuple), pending);
        } else {
            self.counters.pending_dropped += 1;
        }
    }

    fn on_answer(&mut self, now: i64, src: SocketAddr, dst: SocketAddr, m: &Message<'_>) {
        let Some(q) = self.pending.remove(&(m.transaction_id(), canon(src, dst))) else {
            self.counters.unmatched_answers += 1;
            return;
        };
        if (q.src, q.dst) != (dst, src) {
            self.counters.unmatched_answers += 1;
            return;
        }
        let Some(s) = self.sessions.touch(&q.session) else {
            return;
        };
        s.last_ns = now;
        let Some(p) = s.pairs.get_mut(q.pair) else {
            return;
        };
        if m.class() == Class::ErrorResponse {
            // 487 Role Conflict and the like: an answer, not a success (RFC 8445 §7.3.1.1).
            p.errors += 1;
            self.counters.error_answers += 1;
            return;
        }
        self.counters.answers += 1;
        p.answers += 1;
        let rtt = now.saturating_sub(q.at).max(0);
        p.rtt_sum_ns = p.rtt_sum_ns.saturating_add(rtt);
        p.rtt_min_ns = p.rtt_min_ns.min(rtt);
        p.rtt_max_ns = p.rtt_max_ns.max(rtt);
        if q.consent {
            p.consent_answers += 1;
        }
        if (q.use_candidate || p.nominated) && p.selected_ns.is_none() {
            p.selected_ns = Some(now);
            s.selected = Some(q.pair);
        }
        // The answer comes from the side that did not send the check.
        s.answered[1 - q.side] += 1;
    }

    /// The session of `key`, made if new (evicting the least recently active when full).
    fn session(&mut self, now: i64, key: Key) -> Id {
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        while self.sessions.len() >= self.limits.max_sessions.max(1) {
            let Some((&old, _)) = self.sessions.lru() else {
                break;
            };
            self.end(old, "evicted");
            self.counters.evicted_table_full += 1;
        }
        self.counters.sessions += 1;
        let id = self.next_id;
        self.next_id += 1;
        self.ids.insert(key.clone(), id);
        self.sessions.insert(
            id,
            Session {
                key,
                first_ns: now,
                last_ns: now,
                pairs: Vec::new(),
                sent: [0; 2],
                answered: [0; 2],
                controlling: None,
                streams: Vec::new(),
                streams_dropped: 0,
                selected: None,
            },
        );
        id
    }

    /// Media (an RTP packet, or RTCP with its sender SSRC) at `now`; true when its 5-tuple is
    /// a candidate pair of a session.
    pub fn on_media(&mut self, now: i64, r: &MediaRef) -> bool {
        let (src, dst) = (r.src, r.dst);
        if self.by_pair.is_empty() {
            return false;
        }
        let tuple = canon(src, dst);
        let Some(&id) = self.by_pair.get(&tuple) else {
            return false;
        };
        let Some(s) = self.sessions.touch(&id) else {
            return false;
        };
        s.last_ns = now;
        if let Some(p) = s.pairs.iter_mut().find(|p| (p.a, p.b) == tuple) {
            p.media_packets += 1;
        }
        if !s.streams.contains(r) {
            if s.streams.len() < MAX_STREAMS {
                s.streams.push(*r);
            } else {
                s.streams_dropped += 1;
            }
        }
        true
    }

    fn expire_pending(&mut self, now: i64) {
        self.pending
            .retain(|_, q| now.saturating_sub(q.at) <= PENDING_TIMEOUT_NS);
    }

    /// End sessions idle for `idle_timeout` at capture time `now`; call about once a second.
    pub fn expire(&mut self, now: i64) {
        self.expire_pending(now);
        while let Some((&id, s)) = self.sessions.lru() {
            if now.saturating_sub(s.last_ns) < self.limits.idle_timeout_ns {
                break;
            }
            self.end(id, "idle");
            self.counters.expired_idle += 1;
        }
    }

    /// End every session (the end of the capture).
    pub fn finish(&mut self) {
        while let Some((&id, _)) = self.sessions.lru() {
            self.end(id, "end_of_capture");
        }
        self.pending.clear();
    }

    /// The sessions ended since the last call.
    pub fn drain(&mut self) -> Vec<IceSessionRecord> {
        std::mem::take(&mut self.done)
    }

    /// Records of the sessions still tracked (outcome `ongoing`), for snapshots.
    pub fn active(&self) -> Vec<IceSessionRecord> {
        self.sessions
            .iter()
            .map(|(_, s)| record(s, "active", true, &self.names))
            .collect()
    }

    fn end(&mut self, id: Id, ended_by: &'static str) {
        let Some(s) = self.sessions.remove(&id) else {
            return;
        };
        self.ids.remove(&s.key);
        for p in &s.pairs {
            if self.by_pair.get(&(p.a, p.b)) == Some(&id) {
                self.by_pair.remove(&(p.a, p.b));
            }
        }
        let r = record(&s, ended_by, false, &self.names);
        let c = &mut self.counters;
        match r.outcome {
            "connected" => c.connected += 1,
            "failed" => c.failed += 1,
            _ => c.no_media += 1,
        }
        self.done.push(r);
    }
}

#[path = "ice_record.rs"]
mod record;
use record::record;
pub use record::{IcePairRecord, IceSessionRecord};

#[cfg(test)]
#[path = "ice_tests.rs"]
pub(crate) mod tests;
