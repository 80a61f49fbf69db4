//! Read-only views of the hops that [`HopMatcher::report`] does not carry, for the live
//! exporter (`/metrics`, `crate::pipeline::hops`): whether a hop is still forwarding or its
//! numbers are final, the
//! payload type of its ingress stream (the `kind` label) and its forwarding delay histogram
//! (the `rtcprobe_hop_forwarding_delay_seconds` buckets).
//!
//! Kept apart from the matcher's files so that their rework does not collide with it: it only
//! reads the hop list, in the order and with the filter of [`HopMatcher::report`].

use super::{DelayHist, HopMatcher};
use crate::engine::StreamKey;

/// One reported hop, seen from outside the report.
#[derive(Clone, Copy)]
pub struct HopView<'a> {
    pub ingress_key: StreamKey,
    pub egress_key: StreamKey,
    /// Still forwarding: neither end closed nor the egress detached (a layer switch).
    pub active: bool,
    /// Stopped, and its numbers final: every ingress packet of its range has left the
    /// ingress ring: the ingress stream is closed, or two [`super::RING`]s past the range (a
    /// slot is reused by the next packet with its sequence number modulo the ring; two rounds
    /// leave a packet unsettled only if both of its successors were lost upstream).
    pub settled: bool,
    /// Payload type of the ingress stream while the matcher still tracks it.
    pub pt: Option<u8>,
    pub delays: &'a DelayHist,
}

impl HopMatcher {
    /// The hops of [`HopMatcher::report`], in the same order, one view each.
    pub fn views(&self) -> impl Iterator<Item = HopView<'_>> {
        self.hops
            .iter()
            .filter(|h| h.packets_out > 0)
            .map(|h| HopView {
                ingress_key: h.ingress_key,
                egress_key: h.egress_key,
                active: h.active,
                settled: !h.active
                    && self.state(h.ingress).map_or(true, |s| {
                        s.max_ext >= h.max_fwd.saturating_add(2 * super::RING as u64)
                    }),
                pt: self.state(h.ingress).map(|s| s.pt),
                delays: &h.delays,
            })
    }
}
