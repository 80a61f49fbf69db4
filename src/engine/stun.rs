//! STUN round trips: an ICE connectivity or consent check (RFC 8445 §7.2.5, RFC 7675) is a
//! Binding request answered by a success or error response with the same transaction ID on the
//! reversed 5-tuple. The capture-time difference is the RTT from the probe to the responder.
//! This works on encrypted WebRTC, where RTCP is SRTCP and unreadable.
//!
//! State is bounded: at most [`MAX_PENDING`] outstanding requests (unanswered ones expire after
//! [`PENDING_TIMEOUT_NS`]) and at most [`MAX_PAIRS`] 5-tuple pairs with statistics.
//!
//! Expiry costs O(expired × log [`MAX_PENDING`]), not a scan of every pending request: the
//! requests are also kept ordered by capture time (then arrival), and expiry takes from the
//! oldest while they are stale. Capture time may go backwards; the order is by time, so exactly
//! the requests older than the timeout go, as a full scan would find them.

use super::rtt::RttStats;
use crate::wire::stun::{Class, Message, BINDING};
use foldhash::HashMap;
use std::collections::BTreeMap;
use std::net::SocketAddr;

pub const MAX_PENDING: usize = 8192;
pub const MAX_PAIRS: usize = 65_536;
pub const PENDING_TIMEOUT_NS: i64 = 10_000_000_000;

#[derive(Default)]
pub struct StunRtt {
    /// Outstanding requests by transaction ID: 5-tuple, capture time, arrival number.
    pending: HashMap<[u8; 12], (SocketAddr, SocketAddr, i64, u64)>,
    /// The same requests by (capture time, arrival number), for expiry.
    by_time: BTreeMap<(i64, u64), [u8; 12]>,
    arrivals: u64,
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
                    let id = m.transaction_id();
                    self.arrivals += 1;
                    let n = self.arrivals;
                    if let Some((_, _, t, k)) = self.pending.insert(id, (src, dst, now, n)) {
                        // A retransmission: the later one is what a response answers.
                        self.by_time.remove(&(t, k));
                    }
                    self.by_time.insert((now, n), id);
                } else {
                    self.dropped += 1;
                }
                false
            }
            Class::SuccessResponse | Class::ErrorResponse => {
                let Some((qs, qd, t, n)) = self.pending.remove(&m.transaction_id()) else {
                    return false;
                };
                self.by_time.remove(&(t, n));
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

    /// Forget requests unanswered for longer than [`PENDING_TIMEOUT_NS`]: the oldest first,
    /// stopping at the first that is not (`now - t` only shrinks as `t` grows).
    pub fn expire(&mut self, now: i64) {
        while let Some(entry) = self.by_time.first_entry() {
            let (t, _) = *entry.key();
            if now.saturating_sub(t) <= PENDING_TIMEOUT_NS {
                break;
            }
            let id = entry.remove();
            self.pending.remove(&id);
        }
    }

    /// RTT statistics for the 5-tuple of a stream (either direction).
    pub fn stats(&self, a: SocketAddr, b: SocketAddr) -> Option<RttStats> {
        self.pairs
            .get(&pair(a, b))
            .copied()
            .filter(|s| s.samples > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Binding request (class 0) or success response (class 2) with transaction ID `id`.
    fn binding(response: bool, id: u8) -> Vec<u8> {
        let mut b = vec![0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        if response {
            b[0] = 0x01;
        }
        b.extend_from_slice(&[id; 12]);
        b
    }

    fn feed(s: &mut StunRtt, now: i64, response: bool, id: u8) -> bool {
        let (a, b): (SocketAddr, SocketAddr) =
            (([10, 0, 0, 1], 1000).into(), ([10, 0, 0, 2], 2000).into());
        let buf = binding(response, id);
        let m = Message::new_checked(&buf).expect("binding");
        if response {
            s.on_message(now, b, a, &m)
        } else {
            s.on_message(now, a, b, &m)
        }
    }

    #[test]
    fn expiry_takes_exactly_the_stale_requests_whatever_the_arrival_order() {
        let sec = 1_000_000_000;
        let mut s = StunRtt::default();
        // Capture time going backwards: arrival order is not time order.
        for (i, t) in [(1u8, 20 * sec), (2, 5 * sec), (3, 30 * sec), (4, 12 * sec)] {
            assert!(!feed(&mut s, t, false, i));
        }
        assert_eq!(s.pending.len(), 4);
        s.expire(5 * sec + PENDING_TIMEOUT_NS);
        assert_eq!(s.pending.len(), 4, "a request exactly at the timeout stays");
        s.expire(21 * sec + PENDING_TIMEOUT_NS);
        let mut left: Vec<u8> = s.pending.keys().map(|id| id[0]).collect();
        left.sort_unstable();
        assert_eq!(left, [3]);
        assert_eq!(s.by_time.len(), 1);
        // Answered ones and retransmissions leave no stale entry behind.
        assert!(feed(&mut s, 30 * sec + 1_000, true, 3));
        assert!(!feed(&mut s, 40 * sec, false, 5));
        assert!(!feed(&mut s, 41 * sec, false, 5), "a retransmission");
        assert_eq!((s.pending.len(), s.by_time.len()), (1, 1));
        assert!(feed(&mut s, 41 * sec + 2_000_000, true, 5));
        assert_eq!(
            s.stats(([10, 0, 0, 1], 1000).into(), ([10, 0, 0, 2], 2000).into())
                .map(|r| r.samples),
            Some(2)
        );
        assert!(s.pending.is_empty() && s.by_time.is_empty());
    }
}
