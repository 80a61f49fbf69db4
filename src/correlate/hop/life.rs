//! How streams and hops of [`HopMatcher`] end: eviction, idle expiry, end of capture, a hop
//! detached or left by its egress stream. Each ending settles what is in flight at once and
//! hands out a [`Done`]: nothing waits for the end of the capture (the parent module's docs).

use super::{
    DelaySummary, Done, Entry, HopCounters, HopMatcher, HopRecord, Sref, StreamRef,
    FORWARD_TIMEOUT_NS, FREE, MAX_DONE, NONE,
};

impl HopMatcher {
    /// Make room: the first stream idle for a second under the CLOCK hand (bounded look),
    /// else the one under the hand.
    pub(super) fn evict(&mut self, now: i64) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        let mut victim = None;
        for k in 0..64.min(n) {
            let i = (self.hand + k) % n;
            if let Some(st) = self
                .slots
                .get(i)
                .filter(|s| s.live)
                .and_then(|s| s.state.as_ref())
            {
                victim.get_or_insert(i);
                if now.saturating_sub(st.last_seen) > FORWARD_TIMEOUT_NS {
                    victim = Some(i);
                    break;
                }
            }
        }
        let i = victim.unwrap_or(self.hand % n);
        self.hand = (i + 1) % n;
        self.counters.streams_evicted += 1;
        self.close(i as u32, now, false);
    }

    /// End the streams without an RTP packet for more than `idle_ns` (the engine's idle
    /// timeout: a stream's RTP stops no later than the stream, so its split is handed out
    /// before the engine ends it at the same tick). Call it about once a second of capture
    /// time, before the engine's own expiry; O(streams).
    pub fn expire(&mut self, now: i64, idle_ns: i64) {
        for i in 0..self.slots.len() {
            let idle = self
                .slots
                .get(i)
                .filter(|s| s.live)
                .and_then(|s| s.state.as_ref())
                .is_some_and(|st| now.saturating_sub(st.last_seen) > idle_ns);
            if idle {
                self.close(i as u32, now, true);
            }
        }
    }

    /// End every stream and hop: call once when the capture is over, before the engine ends
    /// its streams.
    pub fn finish(&mut self, now: i64) {
        for i in 0..self.slots.len() {
            self.close(i as u32, now, true);
        }
    }

    /// Retire a stream's in-flight packets, end the hop it is the egress of, hand out its
    /// split, and forget it (its slot keeps the ring for reuse). `at_end`: no copy can come
    /// any more (idle, end of capture), so an unforwarded packet is lost, not undecided.
    pub(super) fn close(&mut self, slot: u32, now: i64, at_end: bool) {
        let Some(s) = self.slots.get(slot as usize).filter(|s| s.live) else {
            return;
        };
        let r = Sref { slot, gen: s.gen };
        let Some(st) = s.state.as_ref() else { return };
        let (key, in_hop, ring_len) = (st.key, st.in_hop, st.ring.len());
        for i in 0..ring_len {
            let e = self.state(r).and_then(|s| s.ring.get(i).copied());
            if let Some(e) = e.filter(|e| e.ext != NONE) {
                self.retire(r, &e, now, at_end);
            }
        }
        if let Some(h) = in_hop {
            self.end_hop(h, now, at_end);
        }
        if let Some((upstream, inside)) = self.state(r).and_then(|s| s.split) {
            self.push_done(Done::Split {
                key,
                upstream,
                inside,
            });
        }
        self.unmap(&key, slot);
        if let Some(s) = self.slots.get_mut(slot as usize) {
            // Keep the state (its ring) for reuse; a new generation invalidates references.
            s.gen = s.gen.wrapping_add(1);
            s.live = false;
        }
        self.free.push(slot);
    }

    /// An in-flight packet leaves stream `r`'s ring: settle it for every hop it feeds.
    pub(super) fn retire(&mut self, r: Sref, e: &Entry, now: i64, at_end: bool) {
        let Some(st) = self.state(r) else { return };
        let out = st.out;
        for (b, &h) in out.iter().enumerate() {
            if h == FREE {
                continue;
            }
            let Some(hop) = self.hops.get_mut(h as usize).filter(|h| h.live) else {
                continue;
            };
            if hop.packets_out == 0 || e.ext < hop.first_fwd || e.ext > hop.max_fwd {
                continue;
            }
            hop.packets_in += 1;
            if e.fwd & (1 << b) == 0 {
                if at_end || now.saturating_sub(e.t) >= FORWARD_TIMEOUT_NS {
                    hop.lost_inside += 1;
                } else {
                    hop.evicted += 1;
                    self.counters.inflight_evicted += 1;
                }
            }
        }
    }

    /// End hop `h` (its egress stream ended or left it): settle the ingress packets of its
    /// range still in flight, free its bit in the ingress stream, add its loss to the egress
    /// stream's split, hand out its record, and free its slot.
    pub(super) fn end_hop(&mut self, h: u32, now: i64, at_end: bool) {
        let Some(hop) = self.hops.get(h as usize).filter(|h| h.live) else {
            return;
        };
        let (ing, eg, bit) = (hop.ingress, hop.egress, hop.bit);
        let (first, max, forwarded) = (hop.first_fwd, hop.max_fwd, hop.packets_out > 0);
        let mask = 1u8 << bit;
        let (mut arrived, mut lost, mut undecided) = (0u64, 0u64, 0u64);
        if let Some(is) = self.state_mut(ing) {
            for e in is.ring.iter_mut().filter(|e| e.ext != NONE) {
                if forwarded && e.ext >= first && e.ext <= max {
                    arrived += 1;
                    if e.fwd & mask == 0 {
                        if at_end || now.saturating_sub(e.t) >= FORWARD_TIMEOUT_NS {
                            lost += 1;
                        } else {
                            undecided += 1;
                        }
                    }
                }
                e.fwd &= !mask;
            }
            if let Some(o) = is.out.get_mut(usize::from(bit)).filter(|o| **o == h) {
                *o = FREE;
            }
        }
        self.counters.inflight_evicted += undecided;
        let Some(hop) = self.hops.get_mut(h as usize) else {
            return;
        };
        hop.packets_in += arrived;
        hop.lost_inside += lost;
        hop.evicted += undecided;
        hop.live = false;
        hop.gen = hop.gen.wrapping_add(1);
        self.open_hops = self.open_hops.saturating_sub(1);
        self.free_hops.push(h);
        let rec = forwarded.then(|| (self.record(h), self.delays(h)));
        if let Some(es) = self.state_mut(eg) {
            if es.in_hop == Some(h) {
                es.in_hop = None;
            }
            if let Some((r, _)) = &rec {
                let s = es.split.get_or_insert((0, 0));
                s.0 += r.lost_upstream;
                s.1 += r.lost_inside;
            }
        }
        if let Some((r, delays)) = rec {
            let seq = self.ended_hops;
            self.ended_hops += 1;
            self.push_done(Done::Hop {
                seq,
                hop: Box::new(r),
                delays,
            });
        }
    }

    fn push_done(&mut self, d: Done) {
        if self.done.len() >= MAX_DONE {
            self.counters.done_dropped += 1;
            return;
        }
        self.done.push_back(d);
    }

    /// A copy of hop `h`'s delay histogram (one allocation per ended hop, none per packet).
    fn delays(&self, h: u32) -> super::DelayHist {
        self.hops
            .get(h as usize)
            .map(|h| h.delays.clone())
            .unwrap_or_default()
    }

    /// Hop `h` as reported (open or just ended).
    pub(super) fn record(&self, h: u32) -> HopRecord {
        let s = |ns: Option<i64>| ns.unwrap_or(0) as f64 / 1e9;
        let Some(h) = self.hops.get(h as usize) else {
            // Callers pass a hop they just read; an empty record rather than a panic.
            return HopRecord::empty();
        };
        // An open hop's ingress packets still in flight arrived too (only their fate is
        // undecided): without them they would show as lost upstream.
        let in_flight = match self
            .state(h.ingress)
            .filter(|_| h.live && h.packets_out > 0)
        {
            Some(is) => is
                .ring
                .iter()
                .filter(|e| e.ext != NONE && e.ext >= h.first_fwd && e.ext <= h.max_fwd)
                .count() as u64,
            None => 0,
        };
        let packets_in = h.packets_in + in_flight;
        HopRecord {
            ingress: StreamRef::of(&h.ingress_key, &self.names),
            egress: StreamRef::of(&h.egress_key, &self.names),
            matched_by: h.matched_by,
            confidence: (h.confidence * 1000.0).round() / 1000.0,
            packets_in,
            packets_out: h.packets_out,
            lost_inside: h.lost_inside,
            lost_upstream: (h.max_fwd - h.first_fwd + 1).saturating_sub(packets_in),
            evicted: h.evicted,
            late: h.late,
            duplicates_out: h.duplicates_out,
            rtx_packets: h.rtx_packets,
            forwarding_delay: (h.delays.count() > 0).then(|| DelaySummary {
                min: s(h.delays.min_ns()),
                p50: s(h.delays.quantile_ns(0.5)),
                p95: s(h.delays.quantile_ns(0.95)),
                p99: s(h.delays.quantile_ns(0.99)),
                max: s(h.delays.max_ns()),
            }),
            jitter_added: h.jitter_ns / 1e9,
            ingress_key: h.ingress_key,
            egress_key: h.egress_key,
            ingress_pt: h.pt,
            paired_ns: h.paired_ns,
        }
    }

    /// The open hops that forwarded something, in slot order: a live view (`/hops`). Ended
    /// hops are handed out by [`HopMatcher::drain`] and not kept.
    pub fn report(&self) -> Vec<HopRecord> {
        (0..self.hops.len() as u32)
            .filter(|&h| {
                self.hops
                    .get(h as usize)
                    .is_some_and(|x| x.live && x.packets_out > 0)
            })
            .map(|h| self.record(h))
            .collect()
    }

    /// Open hops now (≤ `max_hops`).
    pub fn open_hop_count(&self) -> usize {
        self.open_hops
    }

    /// What the matcher counted about itself.
    pub fn counters(&self) -> &HopCounters {
        &self.counters
    }
}
