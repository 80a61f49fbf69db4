//! Interval cuts: the engine's part of interval records (docs/records.md, "Where an interval
//! ends").
//!
//! An interval record must hold exactly the packets captured in [start, end). Only the engine
//! sees events in capture order, so it closes an interval itself: every handler first checks
//! whether its event's capture time reached the next boundary (one comparison), and the first
//! event that did takes a snapshot of the live streams before it is handled ([`Cut`]). A
//! boundary is a multiple of the interval, the same in every shard and in a replay. The
//! records themselves are made from the cuts by `crate::forward::record::Intervals`.

use super::record::StreamRecord;
use super::Engine;

/// The live streams as they stood at an interval boundary: every packet captured before
/// `end_ns` counted, none at or after it (docs/records.md).
#[derive(Debug, Clone)]
pub struct Cut {
    pub end_ns: i64,
    pub streams: Vec<(u64, StreamRecord)>,
}

impl Engine {
    /// Cut interval records every `interval_ns` of capture time, on boundaries that are
    /// multiples of it (0: never). Call before the first event.
    pub fn set_interval(&mut self, interval_ns: i64) {
        self.interval_ns = interval_ns.max(0);
        self.next_cut = if interval_ns > 0 { i64::MIN } else { i64::MAX };
    }

    /// Close the current interval if `now` has reached its boundary: called first by every
    /// handler, so the snapshot holds exactly the events before the boundary. O(1) unless a
    /// boundary is crossed, which happens once per interval.
    #[inline]
    pub(super) fn cut(&mut self, now: i64) {
        if now >= self.next_cut {
            self.close_interval(now);
        }
    }

    #[cold]
    fn close_interval(&mut self, now: i64) {
        let every = self.interval_ns.max(1);
        let after_now = now
            .div_euclid(every)
            .saturating_mul(every)
            .saturating_add(every);
        if self.next_cut != i64::MIN {
            self.push_cut(self.next_cut);
        }
        // A gap of several intervals closes the first only: the state at every later boundary
        // of the gap is the same, and streams without packets in an interval emit no record.
        self.next_cut = after_now;
    }

    fn push_cut(&mut self, end_ns: i64) {
        let streams = self.active_records();
        if !streams.is_empty() {
            self.cuts.push(Cut { end_ns, streams });
        }
    }

    /// The end of the capture: the interval in progress is closed at its boundary (it holds
    /// every packet it will ever hold), and no other is.
    pub(super) fn close_open_interval(&mut self) {
        if self.next_cut != i64::MIN && self.next_cut != i64::MAX {
            self.push_cut(self.next_cut);
            self.next_cut = i64::MAX;
        }
    }

    /// Intervals closed since the last call, oldest first. At most one per handled event, so
    /// a caller that drains after each batch holds a bounded number.
    pub fn drain_cuts(&mut self) -> Vec<Cut> {
        std::mem::take(&mut self.cuts)
    }
}
