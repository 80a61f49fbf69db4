//! STUN round trips: an ICE connectivity or consent check (RFC 8445 §7.2.5, RFC 7675) is a
//! Binding request answered by a success or error response with the same transaction ID on the
//! reversed 5-tuple. The capture-time difference is the RTT from the probe to the responder.
//! This works on encrypted WebRTC, where RTCP is SRTCP and unreadable.
//!
//! State is bounded: at most [`MAX_PENDING`] outstanding requests (unanswered ones expire after
//! [`PENDING_TIMEOUT_NS`]) and at most [`MAX_PAIRS`] 5-tuple pairs with statistics.

use super::rtt::RttStats;
use crate::wire::stun::{Class, Message, BINDING};
use foldhash::HashMap;
use std::net::SocketAddr;

pub const MAX_PENDING: usize = 8192;
pub const MAX_PAIRS: usize = 65_536;
pub const PENDING_TIMEOUT_NS: i64 = 10_000_000_000;

#[derive(Default)]
pub struct StunRtt {
    pending: HashMap<[u8; 12], (SocketAddr, SocketAddr, i64)>,
    pairs: HashMap<(SocketAddr, SocketAddr), RttStats>,
    pub dropped: u64,
}

/// The pair in a canonical order, so both directions share one entry.
fn pair(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

impl StunRtt {
    /// Handle a STUN message; returns true when it completed an RTT sample.
    pub fn on_message(
        &mut self,
        now: i64,
        src: SocketAddr,
        dst: SocketAddr,
        m: &Message<'_>,
    ) -> bool {
        if m.method() != BINDING {
            return false;
        }
        match m.class() {
            Class::Request => {
                if self.pending.len() >= MAX_PENDING {
                    self.expire(now);
                }
                if self.pending.len() < MAX_PENDING {
                    self.pending.insert(m.transaction_id(), (src, dst, now));
                } else {
                    self.dropped += 1;
                }
                false
            }
            Class::SuccessResponse | Class::ErrorResponse => {
                let Some((qs, qd, t)) = self.pending.remove(&m.transaction_id()) else {
                    return false;
                };
                if qs != dst || qd != src {
                    return false;
                }
                let p = pair(src, dst);
                if !self.pairs.contains_key(&p) && self.pairs.len() >= MAX_PAIRS {
                    self.dropped += 1;
                    return false;
                }
                // Capture times are any i64 and may go backwards; add refuses what is out of range.
                self.pairs.entry(p).or_default().add(now.saturating_sub(t))
            }
            Class::Indication => false,
        }
    }

    pub fn expire(&mut self, now: i64) {
        self.pending
            .retain(|_, &mut (_, _, t)| now.saturating_sub(t) <= PENDING_TIMEOUT_NS);
    }

    /// RTT statistics for the 5-tuple of a stream (either direction).
    pub fn stats(&self, a: SocketAddr, b: SocketAddr) -> Option<RttStats> {
        self.pairs
            .get(&pair(a, b))
            .copied()
            .filter(|s| s.samples > 0)
    }
}
