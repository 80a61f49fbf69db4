//! The open hops with what [`HopMatcher::report`] does not carry: the forwarding delay
//! histogram, for the live exporter (`crate::pipeline::hops`: the
//! `rtcprobe_hop_forwarding_delay_seconds` buckets). Ended hops hand theirs out with
//! [`super::Done::Hop`].

use super::{DelayHist, HopMatcher, HopRecord};

/// One open hop: its report and its delay histogram.
pub struct OpenHop<'a> {
    pub record: HopRecord,
    pub delays: &'a DelayHist,
}

impl HopMatcher {
    /// The hops of [`HopMatcher::report`], in the same order, each with its histogram.
    pub fn open_hops(&self) -> impl Iterator<Item = OpenHop<'_>> {
        self.hops
            .iter()
            .enumerate()
            .filter(|(_, h)| h.live && h.packets_out > 0)
            .map(|(i, h)| OpenHop {
                record: self.record(i as u32),
                delays: &h.delays,
            })
    }
}
