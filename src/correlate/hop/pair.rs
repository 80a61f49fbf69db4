//! Pairing (by SSRC, by fingerprint, RTX) and per-packet forwarding accounting of
//! [`HopMatcher`]; the rules are in the parent module's docs.

use super::hist::DelayHist;
use super::{
    Entry, Hop, HopMatcher, Href, MatchedBy, Sref, DETACH_MISSES, FORWARD_TIMEOUT_NS, FREE, MAPPED,
    MARKER, MAX_ATTEMPTS, MIN_CONFIDENCE, MIN_MATCH, NONE, SIG_LEN, WINDOW,
};

/// The best pairing candidate so far: (rank: not by SSRC, first seen), stream, its packet
/// matching the egress packet, how, confidence.
type Best = ((bool, i64), Sref, u64, MatchedBy, f64);

/// Pairing looks of an unpaired stream at every packet, then at every [`LATER_EVERY`]-th.
const EAGER_TRIES: u32 = 64;
const LATER_EVERY: u32 = 16;

/// Packets of a new stream checked for being an RTX stream.
const RTX_LOOK: u32 = 16;

/// Same media under a (timestamp) offset: equal size and marker, timestamp shifted by `ts_off`,
/// the original no later than the copy.
fn same(orig: &Entry, copy: &Entry, ts_off: u32) -> bool {
    orig.ts.wrapping_add(ts_off) == copy.ts
        && orig.size == copy.size
        && orig.flags & MARKER == copy.flags & MARKER
        && orig.t <= copy.t
}

impl HopMatcher {
    /// Map egress packet `copy` of stream `e` to its original on hop `h` and account it.
    /// `scan`: when the sequence offset does not hold (an SFU renumbering), look through the
    /// ingress ring for the nearest unforwarded packet of the same shape. `stored`: `copy` is
    /// in `e`'s ring (marked as mapped there). False: no original.
    pub(super) fn forward(
        &mut self,
        h: u32,
        e: Sref,
        copy: Entry,
        scan: bool,
        stored: bool,
    ) -> bool {
        let Some(hop) = self.hops.get(h as usize).filter(|h| h.live) else {
            return false;
        };
        let (ing, bit, seq_off, ts_off) = (hop.ingress, hop.bit, hop.seq_off, hop.ts_off);
        let ext = copy.ext;
        let Some(is) = self.state(ing) else {
            return false;
        };
        let pred = ext as i64 - seq_off;
        let mut found = usize::try_from(pred)
            .ok()
            .and_then(|p| is.at(p as u64))
            .filter(|x| x.ext as i64 == pred && same(x, &copy, ts_off))
            .copied();
        if found.is_none() && scan {
            found = is
                .ring
                .iter()
                .filter(|x| {
                    x.ext != NONE
                        && x.fwd & (1 << bit) == 0
                        && same(x, &copy, ts_off)
                        && copy.t.saturating_sub(x.t) <= FORWARD_TIMEOUT_NS
                })
                .min_by_key(|x| (x.ext as i64).abs_diff(pred))
                .copied();
        }
        let Some(orig) = found else {
            return false;
        };
        let dup = orig.fwd & (1 << bit) != 0;
        let delay = copy.t.saturating_sub(orig.t);
        let late = delay > FORWARD_TIMEOUT_NS;
        if !dup && !late {
            if let Some(x) = self.state_mut(ing).and_then(|s| s.at_mut(orig.ext)) {
                x.fwd |= 1 << bit;
            }
        }
        // Only a stored copy is marked (a paired stream's copies are not stored).
        if stored {
            if let Some(c) = self
                .state_mut(e)
                .and_then(|s| s.at_mut(ext))
                .filter(|c| c.ext == ext)
            {
                c.flags |= MAPPED;
            }
        }
        let Some(hop) = self.hops.get_mut(h as usize) else {
            return true;
        };
        hop.misses = 0;
        hop.seq_off = ext as i64 - orig.ext as i64;
        if dup {
            hop.duplicates_out += 1;
        } else if late {
            hop.late += 1;
        } else {
            if hop.packets_out == 0 {
                hop.first_fwd = orig.ext;
                hop.max_fwd = orig.ext;
            }
            hop.first_fwd = hop.first_fwd.min(orig.ext);
            hop.max_fwd = hop.max_fwd.max(orig.ext);
            hop.packets_out += 1;
            hop.delays.add(delay);
            if let Some(prev) = hop.last_delay {
                let d = delay.abs_diff(prev) as f64;
                hop.jitter_ns += (d - hop.jitter_ns) / 16.0;
            }
            hop.last_delay = Some(delay);
        }
        true
    }

    /// An egress packet did not map: after [`DETACH_MISSES`] in a row, the hop ends and the
    /// stream looks for its new source (a simulcast layer switch). The detached hop ends:
    /// it forwards nothing more.
    pub(super) fn miss(&mut self, now: i64, h: u32, e: Sref) {
        let Some(hop) = self.hops.get_mut(h as usize).filter(|h| h.live) else {
            return;
        };
        hop.misses += 1;
        if hop.misses >= DETACH_MISSES {
            if let Some(s) = self.state_mut(e) {
                s.in_hop = None;
                s.attempts = 0;
                s.tries = 0;
            }
            self.end_hop(h, now, true);
        }
    }

    /// The signature of stream `r`'s last [`SIG_LEN`] arrivals: (timestamp delta, size,
    /// marker) of each, hashed. `None` when incomplete or when every size is equal (no
    /// fingerprint in it).
    fn signature(&self, r: Sref) -> Option<u64> {
        let st = self.state(r)?;
        // The first arrival has no delta: SIG_LEN + 1 arrivals make a signature.
        if st.packets <= SIG_LEN as u64 {
            return None;
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let size = |v: u64| (v >> 32) & 0xffff;
        let first = size(st.sig_vals[0]);
        let mut varied = false;
        for &v in &st.sig_vals {
            h = (h ^ v).wrapping_mul(0x0100_0000_01b3).rotate_left(29);
            varied |= size(v) != first;
        }
        varied.then_some(h)
    }

    /// Index stream `r`'s latest signature (ending at its packet `ext`).
    pub(super) fn index(&mut self, r: Sref, ext: u64) {
        let Some(sig) = self.signature(r) else {
            return;
        };
        let n = self.sigs.len();
        let Some(list) = self.sigs.get_mut(sig as usize % n.max(1)) else {
            return;
        };
        if let Some(same) = list
            .iter_mut()
            .flatten()
            .find(|(g, s, _)| *g == sig && *s == r)
        {
            same.2 = ext;
        } else {
            list.rotate_right(1);
            list[0] = Some((sig, r, ext));
        }
    }

    /// Look for the ingress stream that egress stream `e` (unpaired, newest packet `ext`)
    /// copies; pair them if one verifies.
    pub(super) fn try_pair(&mut self, e: Sref, ext: u64, packets: u64) {
        let Some(st) = self.state_mut(e).filter(|s| s.attempts < MAX_ATTEMPTS) else {
            return;
        };
        // A stream unpaired after [`EAGER_TRIES`] looks (most are no middlebox's copy: the
        // senders, and everything on a probe beside no middlebox) looks at every
        // [`LATER_EVERY`]-th packet only: still found, a little later, at a fraction of the cost.
        st.tries = st.tries.saturating_add(1);
        if st.tries > EAGER_TRIES && st.tries % LATER_EVERY != 0 {
            return;
        }
        // RTX streams are recognised on their first packets (an RTX packet is rare but, once
        // seen, decisive); looking longer would cost every unpaired stream a scan of the hops.
        if packets <= u64::from(RTX_LOOK) && self.try_rtx(e, ext) {
            return;
        }
        if packets < u64::from(MIN_MATCH) {
            return;
        }
        let Some(es) = self.state(e) else {
            return;
        };
        // The capture time of `e`'s newest packet.
        let now = es.last_seen;
        let (first_seen, ssrc, edst) = (es.first_seen, es.key.ssrc, es.key.dst);
        let seq = ext as u16;
        // (candidate, its packet matching `ext`, how)
        let mut cands: [Option<(Sref, u64, MatchedBy)>; 8] = [None; 8];
        let mut n = 0;
        let ssrc_list = self.by_ssrc.get(&ssrc).copied().unwrap_or([None; 4]);
        // Other streams with this SSRC: seen later, they copy `e` (an original, never an
        // egress by fingerprint); seen earlier, `e` copies one of them (pair by SSRC only).
        let mut by_ssrc_only = false;
        for r in ssrc_list.into_iter().flatten() {
            let Some(is) = self.state(r).filter(|_| r != e) else {
                continue;
            };
            by_ssrc_only = true;
            if is.first_seen <= first_seen {
                if let Some(h) = is.in_hop {
                    // An original taken as the egress of another stream by fingerprint before
                    // its copy appeared: that hop was wrong, undo it (nothing reported).
                    self.unpair_fingerprint(h, now);
                }
            }
            let Some(is) = self.state(r) else { continue };
            let anchor = is
                .at(u64::from(seq))
                .filter(|x| x.ext != NONE && x.ext as u16 == seq);
            if let (Some(a), Some(slot)) = (anchor, cands.get_mut(n)) {
                *slot = Some((r, a.ext, MatchedBy::Ssrc));
                n += 1;
            }
        }
        let sig = self.signature(e).filter(|_| !by_ssrc_only);
        let n_buckets = self.sigs.len().max(1);
        if let Some((sig, list)) =
            sig.and_then(|g| Some((g, self.sigs.get(g as usize % n_buckets)?)))
        {
            for (_, r, iext) in list.iter().flatten().filter(|x| x.0 == sig) {
                // A box never sends to its own receiving address: a fingerprint egress goes
                // to another IP than its ingress (IPs, not ports: senders change ports).
                let same_dst = self
                    .state(*r)
                    .is_some_and(|is| is.key.dst.ip() == edst.ip());
                if *r != e && !same_dst && !cands.iter().flatten().any(|c| c.0 == *r) {
                    if let Some(slot) = cands.get_mut(n) {
                        *slot = Some((*r, *iext, MatchedBy::Fingerprint));
                        n += 1;
                    }
                }
            }
        }
        // A candidate with the egress's SSRC first, then the earliest seen that verifies: a
        // copy of a copy (another egress of the same ingress) is seen later than the original.
        // Never one the egress goes back toward (its sender is the egress's destination).
        let mut best: Option<Best> = None;
        for (r, iext, by) in cands.into_iter().flatten() {
            let Some(is) = self.state(r) else { continue };
            let seen = is.first_seen;
            if seen > first_seen || is.in_hop.is_some() || is.rtx_of.is_some() {
                continue;
            }
            if is.key.src == edst {
                self.counters.reverse_refused += 1;
                continue;
            }
            let rank = (by != MatchedBy::Ssrc, seen);
            if best.is_some_and(|b| b.0 <= rank) {
                continue;
            }
            self.counters.pairing_attempts += 1;
            if let Some(conf) = self.verify(e, ext, r, iext, by) {
                best = Some((rank, r, iext, by, conf));
            }
        }
        let Some((_, r, iext, by, conf)) = best else {
            if n > 0 {
                if let Some(s) = self.state_mut(e) {
                    s.attempts += 1;
                }
            }
            return;
        };
        self.pair(e, ext, r, iext, by, conf);
    }

    /// Undo hop `h` if it was paired by fingerprint: its egress turned out to be an original
    /// (another stream copies it by SSRC). Ended as if it had forwarded nothing: no record, no
    /// split, its ingress packets released for the ingress's other hops.
    fn unpair_fingerprint(&mut self, h: u32, now: i64) {
        let Some(hop) = self
            .hops
            .get_mut(h as usize)
            .filter(|x| x.live && x.matched_by == MatchedBy::Fingerprint)
        else {
            return;
        };
        hop.packets_out = 0;
        let e = hop.egress;
        self.counters.fingerprint_undone += 1;
        self.end_hop(h, now, false);
        // Its copies were accounted on that hop, not stored: forget the older packets too, so
        // that its SSRC copy pairs with it on packets stored from now on (one hop, not one
        // cut short by the gap and another after it).
        if let Some(s) = self.state_mut(e).filter(|s| s.n_out == 0) {
            s.ring.fill(super::EMPTY);
        }
    }

    /// Check that egress `e`'s unmapped window packets are copies of `i`'s under the offsets
    /// that `ext` ↔ `iext` give; the confidence if enough are.
    fn verify(&self, e: Sref, ext: u64, i: Sref, iext: u64, by: MatchedBy) -> Option<f64> {
        let (es, is) = (self.state(e)?, self.state(i)?);
        let copy = es.at(ext).filter(|x| x.ext == ext)?;
        let orig = is.at(iext).filter(|x| x.ext == iext)?;
        let seq_off = ext as i64 - iext as i64;
        let ts_off = copy.ts.wrapping_sub(orig.ts);
        let (mut matched, mut checked) = (0u32, 0u32);
        let mut sizes = [None::<u16>; 3];
        for &x in &es.hist {
            let Some(c) = es
                .at(x)
                .filter(|c| c.ext == x && x != NONE && c.flags & MAPPED == 0)
            else {
                continue;
            };
            checked += 1;
            let p = x as i64 - seq_off;
            let ok = usize::try_from(p)
                .ok()
                .and_then(|p| is.at(p as u64))
                .is_some_and(|o| {
                    o.ext as i64 == p
                        && same(o, c, ts_off)
                        && c.t.saturating_sub(o.t) <= FORWARD_TIMEOUT_NS
                });
            if ok {
                matched += 1;
                if !sizes.contains(&Some(c.size)) {
                    if let Some(s) = sizes.iter_mut().find(|s| s.is_none()) {
                        *s = Some(c.size);
                    }
                }
            }
        }
        let conf = f64::from(matched) / f64::from(checked.max(1));
        // A fingerprint needs variety: three sizes at least (constant-size audio has none).
        let varied = by == MatchedBy::Ssrc || sizes.iter().all(Option::is_some);
        (matched >= MIN_MATCH && conf >= MIN_CONFIDENCE && varied).then_some(conf)
    }

    /// Create the hop `i` → `e` and account `e`'s window packets on it.
    #[allow(clippy::too_many_arguments)]
    fn pair(&mut self, e: Sref, ext: u64, i: Sref, iext: u64, by: MatchedBy, conf: f64) {
        let (Some(es), Some(is)) = (self.state(e), self.state(i)) else {
            return;
        };
        let free_bit = is.out.iter().position(|&o| o == FREE);
        let Some(bit) = free_bit.filter(|_| self.open_hops < self.limits.max_hops) else {
            self.counters.hops_refused += 1;
            if let Some(s) = self.state_mut(e) {
                s.attempts = MAX_ATTEMPTS;
            }
            return;
        };
        // Paired at the capture time of the egress packet that verified.
        let (ts_off, now) = match (es.at(ext), is.at(iext)) {
            (Some(c), Some(o)) => (c.ts.wrapping_sub(o.ts), c.t),
            _ => return,
        };
        let (ekey, ikey, pt) = (es.key, is.key, is.pt);
        let hist = es.hist;
        let pos = es.hist_pos;
        let (max_ext, ring_len) = (es.max_ext, es.ring.len() as u64);
        // A free slot (its histogram cleared and reused), else a new one.
        let (h, gen, delays) = match self.free_hops.pop() {
            Some(h) => match self.hops.get_mut(h as usize) {
                Some(old) => {
                    let mut d = std::mem::take(&mut old.delays);
                    d.clear();
                    (h, old.gen, d)
                }
                None => return,
            },
            None => (self.hops.len() as u32, 0, DelayHist::default()),
        };
        let hop = Hop {
            gen,
            live: true,
            ingress: i,
            egress: e,
            ingress_key: ikey,
            egress_key: ekey,
            bit: bit as u8,
            pt,
            paired_ns: now,
            matched_by: by,
            confidence: conf,
            seq_off: ext as i64 - iext as i64,
            ts_off,
            misses: 0,
            first_fwd: 0,
            max_fwd: 0,
            packets_in: 0,
            packets_out: 0,
            lost_inside: 0,
            evicted: 0,
            late: 0,
            duplicates_out: 0,
            rtx_packets: 0,
            delays,
            jitter_ns: 0.0,
            last_delay: None,
        };
        match self.hops.get_mut(h as usize) {
            Some(slot) => *slot = hop,
            None => self.hops.push(hop),
        }
        self.open_hops += 1;
        if let Some(s) = self.state_mut(i) {
            if let Some(o) = s.out.get_mut(bit) {
                *o = h;
            }
            s.n_out += 1;
        }
        if let Some(s) = self.state_mut(e) {
            s.in_hop = Some(h);
        }
        let _ = gen;
        // Copies that arrived before the window (a pairing found late: a fingerprint spoilt by
        // loss inside the box, verifications that failed) are the hop's too: its range and
        // both counts start at its first copy. They arrived before every window packet; in
        // sequence order among themselves. One pass over the ring, once per hop.
        for x in max_ext.saturating_sub(ring_len.saturating_sub(1))..=max_ext {
            if !hist.contains(&x) {
                self.account_stored(h, e, x);
            }
        }
        // The window in arrival order, oldest first.
        for k in 0..WINDOW {
            self.account_stored(h, e, hist[(pos + k) % WINDOW]);
        }
    }

    /// Account egress `e`'s stored packet `x`, if there and not yet mapped, on new hop `h`.
    fn account_stored(&mut self, h: u32, e: Sref, x: u64) {
        let unmapped = self
            .state(e)
            .and_then(|s| s.at(x))
            .copied()
            .filter(|c| c.ext == x && x != NONE && c.flags & MAPPED == 0);
        if let Some(c) = unmapped {
            self.forward(h, e, c, false, true);
        }
    }

    /// Is stream `e` the RTX stream (RFC 4588) of an egress stream on its 5-tuple? Its packet
    /// `ext` must be an ingress packet of that hop, two bytes longer, with the hop's timestamp
    /// offset. Counts the packet if so.
    fn try_rtx(&mut self, e: Sref, ext: u64) -> bool {
        let Some(es) = self.state(e) else {
            return false;
        };
        let (key, pt) = (es.key, es.pt);
        let mut hit = None;
        for (h, hop) in self.hops.iter().enumerate().filter(|(_, h)| h.live) {
            let k = &hop.egress_key;
            // RFC 4588 §8.6: the RTX stream has its own SSRC and payload type.
            let other_pt = self.state(hop.egress).is_some_and(|s| s.pt != pt);
            if k.src == key.src && k.dst == key.dst && k.ssrc != key.ssrc && other_pt {
                hit = Some(h as u32);
                if self.rtx_match(h as u32, e, ext).is_some() {
                    break;
                }
                hit = None;
            }
        }
        let Some(h) = hit else {
            return false;
        };
        let gen = self.hops.get(h as usize).map_or(0, |x| x.gen);
        if let Some(s) = self.state_mut(e) {
            s.rtx_of = Some(Href { id: h, gen });
        }
        self.rtx(h, e, ext);
        true
    }

    /// The ingress slot of the packet that RTX packet `ext` of `e` repeats on hop `h`.
    fn rtx_match(&self, h: u32, e: Sref, ext: u64) -> Option<usize> {
        let hop = self.hops.get(h as usize)?;
        let c = self.state(e)?.at(ext).filter(|c| c.ext == ext)?;
        let is = self.state(hop.ingress)?;
        is.ring.iter().position(|o| {
            o.ext != NONE
                && o.size.checked_add(2) == Some(c.size)
                && o.ts.wrapping_add(hop.ts_off) == c.ts
                && o.t <= c.t
        })
    }

    /// Account RTX packet `ext` of `e` on hop `h`: a repair. An original never forwarded counts
    /// as forwarded (without a delay sample); it is never a new packet.
    pub(super) fn rtx(&mut self, h: u32, e: Sref, ext: u64) {
        let Some(idx) = self.rtx_match(h, e, ext) else {
            return;
        };
        let Some(hop) = self.hops.get(h as usize) else {
            return;
        };
        let (ing, bit) = (hop.ingress, hop.bit);
        let mut repaired = None;
        if let Some(o) = self.state_mut(ing).and_then(|s| s.ring.get_mut(idx)) {
            if o.fwd & (1 << bit) == 0 {
                o.fwd |= 1 << bit;
                repaired = Some(o.ext);
            }
        }
        if let Some(hop) = self.hops.get_mut(h as usize) {
            hop.rtx_packets += 1;
            if let Some(x) = repaired {
                if hop.packets_out == 0 {
                    hop.first_fwd = x;
                    hop.max_fwd = x;
                }
                hop.first_fwd = hop.first_fwd.min(x);
                hop.max_fwd = hop.max_fwd.max(x);
                hop.packets_out += 1;
            }
        }
    }
}
