//! What a shard remembers about SSRCs it does not own, so that the two RTTs pairing a stream
//! with a stream of *another* SSRC come out the same as with a single engine.
//!
//! A shard receives every RTCP compound that mentions one of its SSRCs ([`super::shard`]). In
//! a call between A (sending SSRC a) and B (sending b), A's compounds carry an SR of a with a
//! report block about b, and B's an SR of b with a block about a: both reach the owners of a
//! and of b. So the owner of a sees everything both pairings need, even when b lives in
//! another shard:
//!
//! * `sr_chain` for a needs b's SR that a's report block answers (LSR): kept here as b's SR
//!   history, keyed by its exact RTCP 5-tuple;
//! * `end_to_end` needs the latest `capture_point` RTT of the opposite direction of a leg (the
//!   stream flowing B → A): computed here from A's report block about b and b's SR, keyed by
//!   the stream's (source, destination) addresses.
//!
//! Both are kept per observation point ([`super::obs`]): a host forwarding a call sees every
//! SR and report twice, on the interface facing its sender and, the host's delay later, on the
//! one facing its receiver. A `capture_point` RTT pairs an SR and a report seen at one point,
//! and `end_to_end` adds the opposite direction's as measured at the same point: at either
//! interface the two add up to the whole round trip, once (docs/output.md, "Round trips
//! through a middlebox"). Mixing points would count the host's delay twice or not at all. Only
//! a direction whose SRs are never seen at a point (a tap delivering each direction on its own
//! interface) is read from wherever it was measured last.
//!
//! The second table holds the latest `capture_point` of *every* direction this engine sees,
//! its own streams' included ([`Foreign::on_capture_point`]), so that `end_to_end` reads one
//! table, updated in capture order, whatever the shard count. With one shard the SR table
//! stays empty. Both are bounded: past [`MAX_ENTRIES`] (the `capture_point` table: the
//! probe's `max_streams`, if more), entries not updated for [`STALE_NS`] are forgotten, and if
//! none is stale a new entry is not kept.

use super::obs::ObservationPoint;
use super::rtt::{RttStats, SrEntry, SrHistory};
use foldhash::HashMap;
use std::net::{IpAddr, SocketAddr};

pub const MAX_ENTRIES: usize = 16_384;
pub const STALE_NS: i64 = 60_000_000_000;

#[derive(Default)]
pub struct Foreign {
    /// Entries kept in the `capture_point` table: at least [`MAX_ENTRIES`], and one per stream
    /// the probe may hold (`max_streams`), since every direction of every stream may need one.
    paths_limit: usize,
    /// SRs of SSRCs owned elsewhere, by (point, SSRC, RTCP source, RTCP destination).
    srs: HashMap<(ObservationPoint, u32, SocketAddr, SocketAddr), (i64, SrHistory)>,
    /// The point each of those SRs was last seen at, for reports seen at another point.
    sr_points: HashMap<(u32, SocketAddr, SocketAddr), (i64, ObservationPoint)>,
    /// Latest `capture_point` RTT of streams (owned here or elsewhere), by (point, source IP,
    /// destination IP); an entry without samples says SRs of that direction pass that point.
    capture_point: HashMap<(ObservationPoint, IpAddr, IpAddr), (i64, RttStats)>,
    /// The same, whatever the point.
    capture_point_any: HashMap<(IpAddr, IpAddr), (i64, RttStats)>,
}

/// Insert into a bounded map, forgetting stale entries when it is full.
fn bounded<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, (i64, V)>,
    limit: usize,
    now: i64,
    key: K,
    update: impl FnOnce(&mut V),
    new: impl FnOnce() -> V,
) {
    if let Some((at, v)) = map.get_mut(&key) {
        *at = now;
        update(v);
        return;
    }
    if map.len() >= limit {
        map.retain(|_, (at, _)| now.saturating_sub(*at) <= STALE_NS);
    }
    if map.len() < limit {
        let mut v = new();
        update(&mut v);
        map.insert(key, (now, v));
    }
}

impl Foreign {
    /// Tables for a probe holding up to `max_streams` streams in all.
    pub fn new(max_streams: usize) -> Self {
        Foreign {
            paths_limit: max_streams.max(MAX_ENTRIES),
            ..Foreign::default()
        }
    }

    /// An SR of `ssrc` (owned by another shard) sent `src` → `dst`, seen at `point`.
    pub fn on_sr(
        &mut self,
        now: i64,
        point: ObservationPoint,
        ssrc: u32,
        src: SocketAddr,
        dst: SocketAddr,
        e: &SrEntry,
    ) {
        bounded(
            &mut self.srs,
            MAX_ENTRIES,
            now,
            (point, ssrc, src, dst),
            |h| h.push(*e),
            SrHistory::default,
        );
        // As for `capture_point_any`: a single-point capture never looks elsewhere.
        if point == ObservationPoint::CAPTURE {
            return;
        }
        bounded(
            &mut self.sr_points,
            MAX_ENTRIES,
            now,
            (ssrc, src, dst),
            |p| *p = point,
            || point,
        );
    }

    /// The SR of `ssrc` sent `src` → `dst` whose NTP middle bits are `lsr`, as seen at `point`
    /// or, if it never passed there, where it was seen last.
    pub fn sr(
        &self,
        point: ObservationPoint,
        ssrc: u32,
        src: SocketAddr,
        dst: SocketAddr,
        lsr: u32,
    ) -> Option<&SrEntry> {
        let at = match self.srs.get(&(point, ssrc, src, dst)) {
            Some(h) => h,
            None => {
                let &(_, seen) = self.sr_points.get(&(ssrc, src, dst))?;
                self.srs.get(&(seen, ssrc, src, dst))?
            }
        };
        at.1.find(lsr)
    }

    /// An SR (of any SSRC) sent `src_ip` → `dst_ip` was seen at `point`: that direction's
    /// `capture_point` is measured there ([`Foreign::capture_point`]).
    pub fn on_sr_seen(
        &mut self,
        now: i64,
        point: ObservationPoint,
        src_ip: IpAddr,
        dst_ip: IpAddr,
    ) {
        // It only decides whether to fall back to another point: a single-point capture has
        // none to fall back to.
        if point == ObservationPoint::CAPTURE {
            return;
        }
        bounded(
            &mut self.capture_point,
            self.paths_limit.max(MAX_ENTRIES),
            now,
            (point, src_ip, dst_ip),
            |_| {},
            RttStats::default,
        );
    }

    /// A report block sent `src` → `dst` about `ssrc` (owned elsewhere), flowing `dst` → `src`:
    /// derive that stream's `capture_point` RTT as its owner does (RFC 3550 §6.4.1).
    pub fn on_report(
        &mut self,
        now: i64,
        point: ObservationPoint,
        (src, dst): (SocketAddr, SocketAddr),
        ssrc: u32,
        lsr: u32,
        dlsr_ns: i64,
    ) {
        if lsr == 0 {
            return;
        }
        let Some(sr) = self.sr(point, ssrc, dst, src, lsr).copied() else {
            return;
        };
        let rtt = now.saturating_sub(sr.capture_ns).saturating_sub(dlsr_ns);
        self.on_capture_point(now, point, dst.ip(), src.ip(), rtt);
    }

    /// A `capture_point` sample, measured at `point`, of a stream flowing `src_ip` → `dst_ip`
    /// (owned here or not).
    pub fn on_capture_point(
        &mut self,
        now: i64,
        point: ObservationPoint,
        src_ip: IpAddr,
        dst_ip: IpAddr,
        rtt: i64,
    ) {
        let limit = self.paths_limit.max(MAX_ENTRIES);
        let add = |s: &mut RttStats| {
            s.add(rtt);
        };
        let key = (point, src_ip, dst_ip);
        bounded(
            &mut self.capture_point,
            limit,
            now,
            key,
            add,
            RttStats::default,
        );
        // Single-point captures (nearly all) need no fallback table: every lookup is at the
        // one point, so the copy would only double the memory of this table.
        if point == ObservationPoint::CAPTURE {
            return;
        }
        let key = (src_ip, dst_ip);
        bounded(
            &mut self.capture_point_any,
            limit,
            now,
            key,
            add,
            RttStats::default,
        );
    }

    /// Latest `capture_point` RTT of a stream flowing `src_ip` → `dst_ip`, ns, as measured at
    /// `point`; if that direction's SRs never pass `point`, as measured last anywhere (module
    /// docs). None while the point's own measurement is still missing.
    pub fn capture_point(
        &self,
        point: ObservationPoint,
        src_ip: IpAddr,
        dst_ip: IpAddr,
    ) -> Option<i64> {
        self.capture_point
            .get(&(point, src_ip, dst_ip))
            .or_else(|| self.capture_point_any.get(&(src_ip, dst_ip)))
            .map(|(_, s)| s)
            .filter(|s| s.samples > 0)
            .map(|s| s.last_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: ObservationPoint = ObservationPoint::CAPTURE;

    fn addr(i: u32) -> SocketAddr {
        SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 5004))
    }

    #[test]
    fn tables_stay_bounded_and_forget_stale_entries_first() {
        let mut f = Foreign::default();
        let e = SrEntry::default();
        for i in 0..MAX_ENTRIES as u32 + 100 {
            f.on_sr(0, P, i, addr(i), addr(0), &e);
        }
        assert_eq!(f.srs.len(), MAX_ENTRIES, "full: new entries are not kept");
        // Later, once the old ones are stale, new ones replace them.
        f.on_sr(STALE_NS + 1, P, 7, addr(1), addr(2), &e);
        assert_eq!(f.srs.len(), 1);
    }

    #[test]
    fn a_direction_is_read_at_the_point_it_passes_else_where_it_was_measured() {
        let names = crate::engine::obs::PointNames::new("capture");
        let (v1, v2, v3) = (names.intern("v1"), names.intern("v2"), names.intern("v3"));
        let mut f = Foreign::default();
        let (a, b) = (addr(1).ip(), addr(2).ip());
        f.on_sr_seen(0, v1, b, a);
        f.on_sr_seen(0, v2, b, a);
        f.on_capture_point(1, v2, b, a, 30);
        // v1 sees that direction's SRs: its own measurement only, none yet.
        assert_eq!(f.capture_point(v1, b, a), None);
        assert_eq!(f.capture_point(v2, b, a), Some(30));
        f.on_capture_point(2, v1, b, a, 21);
        assert_eq!(f.capture_point(v1, b, a), Some(21));
        assert_eq!(f.capture_point(v2, b, a), Some(30));
        // v3 never sees them (one direction per interface): the latest measurement anywhere.
        assert_eq!(f.capture_point(v3, b, a), Some(21));
    }

    #[test]
    fn a_report_answering_a_remembered_sr_gives_the_streams_capture_point_rtt() {
        let mut f = Foreign::default();
        let (a, b) = (addr(1), addr(2));
        let sr = SrEntry {
            ntp: 0x0000_1234_5678_0000,
            capture_ns: 1_000_000_000,
            ..SrEntry::default()
        };
        // SR of SSRC 9 sent b → a; a's report about 9 comes back a → b 50 ms later, having
        // held it 20 ms (DLSR).
        f.on_sr(sr.capture_ns, P, 9, b, a, &sr);
        f.on_report(1_050_000_000, P, (a, b), 9, 0x1234_5678, 20_000_000);
        assert_eq!(f.capture_point(P, b.ip(), a.ip()), Some(30_000_000));
        assert_eq!(f.capture_point(P, a.ip(), b.ip()), None);
        // An LSR we never saw gives nothing.
        f.on_report(2_000_000_000, P, (a, b), 9, 0x1111_1111, 0);
        assert_eq!(f.capture_point(P, b.ip(), a.ip()), Some(30_000_000));
    }
}
