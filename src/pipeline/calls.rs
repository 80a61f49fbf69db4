//! What a capture thread shows of its calls on `/calls` (docs/calls.md, "On the endpoint"):
//! the SIP calls still going (most recently active first) and the last calls that ended, SIP
//! calls, ICE sessions and TURN allocations alike, newest first.
//!
//! Both are bounded: at most [`MAX_ONGOING`] calls in progress are rendered (the rest are
//! counted as omitted) and a ring keeps the last [`MAX_ENDED`] ended ones, so the endpoint
//! costs the same on a middlebox with ten thousand calls as on one with ten. The records are
//! those of `replay --format json` (`calls`, `ice_sessions`, `turn_allocations`), so one
//! reader handles both; the endpoint applies the address privacy form (`crate::export`).
//! The capture thread renders a new snapshot at most once per tick (a second of capture
//! time), never per packet.

pub use crate::correlate::calls::CallView;
use std::collections::VecDeque;
use std::sync::Arc;

/// Calls in progress rendered per snapshot and capture thread.
pub const MAX_ONGOING: usize = 64;
/// Ended calls kept per capture thread.
pub const MAX_ENDED: usize = 256;

/// A capture thread's calls at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallsSnapshot {
    /// Calls in progress, most recently active first.
    pub ongoing: Vec<CallView>,
    /// Calls in progress not rendered (past [`MAX_ONGOING`]).
    pub ongoing_omitted: u64,
    /// The last calls that ended, newest first (shared with the ring's last rendering).
    pub ended: Arc<Vec<CallView>>,
}

/// The ring of ended calls and the last snapshot rendered from it.
#[derive(Debug, Default)]
pub struct RecentCalls {
    ended: VecDeque<CallView>,
    /// Calls ever pushed (so a reader can tell how many fell off the ring).
    pushed: u64,
    /// The ring as last rendered, and `pushed` then: rendered again only after a push.
    rendered: Option<(u64, Arc<Vec<CallView>>)>,
}

impl RecentCalls {
    /// Keep `c`, forgetting the oldest past [`MAX_ENDED`].
    pub fn push(&mut self, c: CallView) {
        if self.ended.len() >= MAX_ENDED {
            self.ended.pop_front();
        }
        self.ended.push_back(c);
        self.pushed += 1;
    }

    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// A snapshot with `ongoing` (already capped by the caller) and the ring, newest first.
    pub fn snapshot(&mut self, ongoing: Vec<CallView>, ongoing_omitted: u64) -> Arc<CallsSnapshot> {
        let ended = match &self.rendered {
            Some((n, v)) if *n == self.pushed => Arc::clone(v),
            _ => {
                let v = Arc::new(self.ended.iter().rev().cloned().collect::<Vec<_>>());
                self.rendered = Some((self.pushed, Arc::clone(&v)));
                v
            }
        };
        Arc::new(CallsSnapshot {
            ongoing,
            ongoing_omitted,
            ended,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::turn::TurnAllocationRecord;

    fn turn(n: u64) -> CallView {
        CallView::Turn(TurnAllocationRecord {
            kind: "turn",
            id: format!("turn:{n}"),
            client: "10.0.0.1:1000".into(),
            server: "10.0.0.2:3478".into(),
            start: String::new(),
            end: String::new(),
            outcome: "relayed",
            ended_by: "idle",
            requested_transport: None,
            username: None,
            realm: None,
            relayed_address: None,
            lifetime_secs: None,
            errors: Default::default(),
            permissions: Vec::new(),
            channels: Vec::new(),
            client_packets: n,
            relayed_packets: 0,
            streams: Vec::new(),
            start_ns: 0,
            end_ns: 0,
        })
    }

    #[test]
    fn the_ring_keeps_the_newest_calls_newest_first() {
        let mut r = RecentCalls::default();
        for n in 0..(MAX_ENDED as u64 + 10) {
            r.push(turn(n));
        }
        assert_eq!(r.pushed(), MAX_ENDED as u64 + 10);
        let s = r.snapshot(Vec::new(), 3);
        assert!(
            Arc::ptr_eq(&s.ended, &r.snapshot(Vec::new(), 0).ended),
            "not re-rendered"
        );
        assert_eq!(s.ended.len(), MAX_ENDED);
        assert_eq!(s.ongoing_omitted, 3);
        let ids: Vec<_> = s
            .ended
            .iter()
            .map(|c| match c {
                CallView::Turn(a) => a.client_packets,
                _ => u64::MAX,
            })
            .collect();
        let newest = MAX_ENDED as u64 + 9;
        assert_eq!(ids.first(), Some(&newest));
        assert_eq!(ids.last(), Some(&10));
        assert!(ids.windows(2).all(|w| w[0] == w[1] + 1));
        assert_eq!(s.ended[0].kind(), "turn");
    }
}
