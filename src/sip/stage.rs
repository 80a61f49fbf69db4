//! The signalling stage of a capture thread: SIP messages (UDP datagrams on the SIP ports or
//! sniffed by their start line, TCP frames from `crate::tcp`) into a bounded dialog table,
//! session descriptions into [`SdpPt`] mappings for the engine, ended dialogs into
//! [`SipCall`]s.
//!
//! Where it runs: on the capture thread, before sharding, like the TCP stage. Its state
//! depends only on the messages in capture order and their capture times.
//!
//! Bounds (`[sip]`): at most `max_dialogs` dialogs (the least recently active is evicted,
//! counted, and still reported, with outcome `timeout`); a dialog in setup without a message
//! for `setup_timeout_secs`, or established for `established_timeout_secs`, ends as
//! `timeout`; an ended dialog (BYE, failure, cancel) lingers `linger_secs` for retransmissions
//! and ACKs before it is reported. Ended calls wait in a queue of at most `max_dialogs` for
//! the caller to drain them ([`SipStage::drain_ended`]); past it they are dropped and counted.

use super::call::{Identity, SipCall};
use super::dialog::Dialog;
use super::{message, sdp};
use crate::engine::emodel::codec_by_name;
use crate::engine::sdp::SdpPt;
use crate::tcp::table::Lru;
use serde::Serialize;
use std::hash::BuildHasher;
use std::net::SocketAddr;

/// The stage's limits and options (`[sip]` in the config). `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq)]
pub struct SipLimits {
    /// 0 turns SIP off.
    pub max_dialogs: usize,
    pub setup_timeout_ns: i64,
    pub established_timeout_ns: i64,
    pub linger_ns: i64,
    /// UDP ports whose datagrams are taken as SIP (besides sniffing).
    pub ports: Vec<u16>,
    /// Keep URIs, display names and Call-IDs as they are (else keyed hashes).
    pub keep_identities: bool,
    /// Key of the hashes (empty: a random one per process).
    pub hash_key: String,
}

impl std::fmt::Debug for SipLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipLimits")
            .field("max_dialogs", &self.max_dialogs)
            .field("setup_timeout_ns", &self.setup_timeout_ns)
            .field("established_timeout_ns", &self.established_timeout_ns)
            .field("linger_ns", &self.linger_ns)
            .field("ports", &self.ports)
            .field("keep_identities", &self.keep_identities)
            .field("hash_key", &"<redacted>")
            .finish()
    }
}

impl Default for SipLimits {
    fn default() -> Self {
        SipLimits {
            max_dialogs: 10_000,
            setup_timeout_ns: 180_000_000_000,
            established_timeout_ns: 3_600_000_000_000,
            linger_ns: 32_000_000_000,
            ports: vec![5060],
            keep_identities: false,
            hash_key: String::new(),
        }
    }
}

/// What the stage counted, cumulative.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SipCounters {
    pub messages: u64,
    pub requests: u64,
    pub responses: u64,
    /// Messages that did not parse.
    pub malformed: u64,
    /// Messages of no followed dialog (REGISTER, OPTIONS, or a dialog begun before the
    /// capture).
    pub outside_dialogs: u64,
    pub sdp_bodies: u64,
    pub dialogs_created: u64,
    pub dialogs_ended: u64,
    pub evicted: u64,
    pub expired: u64,
    /// Ended calls dropped because nobody drained them.
    pub calls_dropped: u64,
    /// Calls ended, by outcome (`rtcprobe_calls_total{kind="sip",outcome}`).
    pub outcomes: Outcomes,
    /// Dialogs followed now (a gauge; set by [`SipStage::counters`]).
    pub active_dialogs: u64,
}

/// Calls by outcome (docs/calls.md).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    pub answered: u64,
    pub bye: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub timeout: u64,
    pub setup: u64,
}

impl Outcomes {
    /// (outcome, count) pairs, for metrics.
    pub fn pairs(&self) -> [(&'static str, u64); 6] {
        [
            ("answered", self.answered),
            ("bye", self.bye),
            ("failed", self.failed),
            ("cancelled", self.cancelled),
            ("timeout", self.timeout),
            ("setup", self.setup),
        ]
    }

    fn count(&mut self, outcome: &str) {
        let c = match outcome {
            "answered" => &mut self.answered,
            "bye" => &mut self.bye,
            "failed" => &mut self.failed,
            "cancelled" => &mut self.cancelled,
            "timeout" => &mut self.timeout,
            _ => &mut self.setup,
        };
        *c += 1;
    }
}

impl SipCounters {
    pub fn is_zero(&self) -> bool {
        *self == SipCounters::default()
    }

    /// Add `o` (the totals of several capture threads).
    pub fn add(&mut self, o: &SipCounters) {
        let fields = [
            (&mut self.messages, o.messages),
            (&mut self.requests, o.requests),
            (&mut self.responses, o.responses),
            (&mut self.malformed, o.malformed),
            (&mut self.outside_dialogs, o.outside_dialogs),
            (&mut self.sdp_bodies, o.sdp_bodies),
            (&mut self.dialogs_created, o.dialogs_created),
            (&mut self.dialogs_ended, o.dialogs_ended),
            (&mut self.evicted, o.evicted),
            (&mut self.expired, o.expired),
            (&mut self.calls_dropped, o.calls_dropped),
            (&mut self.active_dialogs, o.active_dialogs),
            (&mut self.outcomes.answered, o.outcomes.answered),
            (&mut self.outcomes.bye, o.outcomes.bye),
            (&mut self.outcomes.failed, o.outcomes.failed),
            (&mut self.outcomes.cancelled, o.outcomes.cancelled),
            (&mut self.outcomes.timeout, o.outcomes.timeout),
            (&mut self.outcomes.setup, o.outcomes.setup),
        ];
        for (a, b) in fields {
            *a += b;
        }
    }
}

/// The SIP stage (see the module docs).
pub struct SipStage {
    limits: SipLimits,
    /// Dialogs by a keyed hash of their Call-ID (the entry keeps the Call-ID; a collision is
    /// a different dialog and counted as outside).
    table: Lru<u64, Dialog>,
    hasher: foldhash::quality::RandomState,
    identity: Identity,
    counters: SipCounters,
    ended: Vec<SipCall>,
}

impl std::fmt::Debug for SipStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipStage")
            .field("dialogs", &self.table.len())
            .field("counters", &self.counters)
            .finish()
    }
}

impl SipStage {
    pub fn new(limits: SipLimits) -> Self {
        let identity = Identity::new(limits.keep_identities, &limits.hash_key);
        SipStage {
            limits,
            table: Lru::new(),
            hasher: foldhash::quality::RandomState::default(),
            identity,
            counters: SipCounters::default(),
            ended: Vec::new(),
        }
    }

    pub fn counters(&self) -> SipCounters {
        SipCounters {
            active_dialogs: self.table.len() as u64,
            ..self.counters
        }
    }

    /// Dialogs followed now.
    pub fn dialogs(&self) -> usize {
        self.table.len()
    }

    pub fn enabled(&self) -> bool {
        self.limits.max_dialogs > 0
    }

    /// Whether a UDP datagram between these ports with this payload is SIP: a SIP port, or a
    /// start line (RTP, RTCP, STUN and DTLS never begin with an upper-case letter).
    #[inline]
    pub fn is_sip(&self, src_port: u16, dst_port: u16, payload: &[u8]) -> bool {
        self.enabled()
            && match payload.first() {
                Some(b'A'..=b'Z') => {
                    self.limits.ports.contains(&dst_port)
                        || self.limits.ports.contains(&src_port)
                        || message::looks_like_sip(payload)
                }
                _ => false,
            }
    }

    /// One SIP message (a UDP datagram, or a TCP frame the reassembler cut at its
    /// Content-Length, so that both parse alike) from `src` to `dst` at `now`; the payload
    /// types of its session description, if any, go to `sdp_out`.
    pub fn on_message(
        &mut self,
        now: i64,
        src: SocketAddr,
        dst: SocketAddr,
        bytes: &[u8],
        sdp_out: &mut impl FnMut(SdpPt),
    ) {
        if !self.enabled() {
            return;
        }
        self.counters.messages += 1;
        let m = match message::parse(bytes, false) {
            Ok(m) => m,
            Err(_) => {
                self.counters.malformed += 1;
                return;
            }
        };
        if m.status().is_some() {
            self.counters.responses += 1;
        } else {
            self.counters.requests += 1;
        }
        // Every session description maps payload types, in a followed dialog or not (a
        // capture that starts after the INVITE still sees the answer's description).
        let session = m.has_sdp().then(|| sdp::parse(m.body));
        if let Some(s) = &session {
            self.counters.sdp_bodies += 1;
            for md in &s.media {
                let (Some(ip), true) = (md.addr, md.port != 0) else {
                    continue;
                };
                let addr = SocketAddr::new(ip, md.port);
                for r in md.formats.iter().filter_map(|&pt| md.rtpmap(pt)) {
                    sdp_out(SdpPt {
                        addr,
                        pt: r.pt,
                        clock_rate: r.clock_rate,
                        codec: codec_by_name(r.name, r.clock_rate, r.channels),
                    });
                }
            }
        }
        let Some(call_id) = m.call_id else {
            self.counters.malformed += 1;
            return;
        };
        let key = self.hasher.hash_one(call_id);
        let initial_invite = m.method() == Some("INVITE")
            && m.status().is_none()
            && m.to.and_then(message::tag).is_none();
        let known = match self.table.touch(&key) {
            Some(d) if d.call_id == super::dialog::cut_str(call_id) => true,
            Some(_) => {
                self.counters.outside_dialogs += 1;
                return;
            }
            None => false,
        };
        if !known {
            if !initial_invite {
                self.counters.outside_dialogs += 1;
                return;
            }
            self.make_room(now);
            self.counters.dialogs_created += 1;
            self.table
                .insert(key, Dialog::new(now, src, dst, call_id, &m));
        }
        let Some(d) = self.table.peek_mut(&key) else {
            return;
        };
        d.on_message(now, &m);
        if let Some(s) = &session {
            d.on_sdp(src, s);
        }
    }

    /// Evict the least recently active dialogs until a new one fits (reported as `timeout`).
    fn make_room(&mut self, now: i64) {
        while self.table.len() >= self.limits.max_dialogs {
            let Some((&k, _)) = self.table.lru() else {
                break;
            };
            if let Some(d) = self.table.remove(&k) {
                self.counters.evicted += 1;
                self.end(d, true, now);
            }
        }
    }

    fn end(&mut self, d: Dialog, timed_out: bool, now: i64) {
        self.counters.dialogs_ended += 1;
        self.counters.outcomes.count(d.outcome(timed_out));
        if self.ended.len() >= self.limits.max_dialogs.max(1) {
            self.counters.calls_dropped += 1;
            return;
        }
        self.ended
            .push(SipCall::of(&d, timed_out, now, &self.identity));
    }

    /// The idle time after which `d` ends.
    fn limit(&self, d: &Dialog) -> i64 {
        if d.is_over() {
            self.limits.linger_ns
        } else if d.answer.is_some() {
            self.limits.established_timeout_ns
        } else {
            self.limits.setup_timeout_ns
        }
    }

    /// End dialogs whose time is up at capture time `now`. Call about once a second: a walk
    /// over the table (bounded by `max_dialogs`), since the limits differ by state and
    /// activity order alone does not tell which is due.
    pub fn expire(&mut self, now: i64) {
        let due: Vec<u64> = self
            .table
            .iter()
            .filter(|(_, d)| now.saturating_sub(d.last_seen) >= self.limit(d))
            .map(|(k, _)| *k)
            .collect();
        for k in due {
            if let Some(d) = self.table.remove(&k) {
                let over = d.is_over();
                if !over {
                    self.counters.expired += 1;
                }
                self.end(d, !over, now);
            }
        }
    }

    /// The end of the capture at `now`: every dialog ends as it stands.
    pub fn finish(&mut self, now: i64) {
        while let Some((&k, _)) = self.table.lru() {
            if let Some(d) = self.table.remove(&k) {
                self.counters.dialogs_ended += 1;
                self.counters.outcomes.count(d.outcome(false));
                self.ended.push(SipCall::of(&d, false, now, &self.identity));
            }
        }
    }

    /// The records of at most `cap` dialogs in progress at `now`, most recently active first
    /// (outcome `setup` or `answered`, `end` = `now`), and how many more there are: what
    /// `/calls` shows (`crate::pipeline::calls`). O(dialogs) per call; the capture thread
    /// calls it once per tick.
    pub fn ongoing(&self, now: i64, cap: usize) -> (Vec<SipCall>, u64) {
        let mut all: Vec<&Dialog> = self.table.iter().map(|(_, d)| d).collect();
        let omitted = all.len().saturating_sub(cap) as u64;
        let newest_first = |a: &&Dialog, b: &&Dialog| b.last_seen.cmp(&a.last_seen);
        if all.len() > cap && cap > 0 {
            all.select_nth_unstable_by(cap - 1, newest_first);
        }
        all.truncate(cap);
        all.sort_by(newest_first);
        let calls = all
            .into_iter()
            .map(|d| SipCall::of(d, false, now, &self.identity))
            .collect();
        (calls, omitted)
    }

    /// Calls that ended since the last call.
    pub fn drain_ended(&mut self) -> Vec<SipCall> {
        std::mem::take(&mut self.ended)
    }
}

#[cfg(test)]
#[path = "stage_tests.rs"]
mod tests;
