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
//! The second table holds the latest `capture_point` of *every* direction this engine sees,
//! its own streams' included ([`Foreign::on_capture_point`]), so that `end_to_end` reads one
//! table, updated in capture order, whatever the shard count. With one shard the SR table
//! stays empty. Both are bounded: past [`MAX_ENTRIES`] (the `capture_point` table: the
//! probe's `max_streams`, if more), entries not updated for [`STALE_NS`] are forgotten, and if
//! none is stale a new entry is not kept.

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
    /// SRs of SSRCs owned elsewhere, by (SSRC, RTCP source, RTCP destination).
    srs: HashMap<(u32, SocketAddr, SocketAddr), (i64, SrHistory)>,
    /// Latest `capture_point` RTT of streams (owned here or elsewhere), by (source IP,
    /// destination IP).
    capture_point: HashMap<(IpAddr, IpAddr), (i64, RttStats)>,
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

    /// An SR of `ssrc` (owned by another shard) sent `src` → `dst`.
    pub fn on_sr(&mut self, now: i64, ssrc: u32, src: SocketAddr, dst: SocketAddr, e: &SrEntry) {
        bounded(
            &mut self.srs,
            MAX_ENTRIES,
            now,
            (ssrc, src, dst),
            |h| h.push(*e),
            SrHistory::default,
        );
    }

    /// The SR of `ssrc` sent `src` → `dst` whose NTP middle bits are `lsr`.
    pub fn sr(&self, ssrc: u32, src: SocketAddr, dst: SocketAddr, lsr: u32) -> Option<&SrEntry> {
        self.srs.get(&(ssrc, src, dst))?.1.find(lsr)
    }

    /// A report block sent `src` → `dst` about `ssrc` (owned elsewhere), flowing `dst` → `src`:
    /// derive that stream's `capture_point` RTT as its owner does (RFC 3550 §6.4.1).
    pub fn on_report(
        &mut self,
        now: i64,
        src: SocketAddr,
        dst: SocketAddr,
        ssrc: u32,
        lsr: u32,
        dlsr_ns: i64,
    ) {
        if lsr == 0 {
            return;
        }
        let Some(sr) = self.sr(ssrc, dst, src, lsr).copied() else {
            return;
        };
        let rtt = now.saturating_sub(sr.capture_ns).saturating_sub(dlsr_ns);
        self.on_capture_point(now, dst.ip(), src.ip(), rtt);
    }

    /// A `capture_point` sample of a stream flowing `src_ip` → `dst_ip` (owned here or not).
    pub fn on_capture_point(&mut self, now: i64, src_ip: IpAddr, dst_ip: IpAddr, rtt: i64) {
        bounded(
            &mut self.capture_point,
            self.paths_limit.max(MAX_ENTRIES),
            now,
            (src_ip, dst_ip),
            |s| {
                s.add(rtt);
            },
            RttStats::default,
        );
    }

    /// Latest `capture_point` RTT of any stream flowing `src_ip` → `dst_ip`, ns.
    pub fn capture_point(&self, src_ip: IpAddr, dst_ip: IpAddr) -> Option<i64> {
        self.capture_point
            .get(&(src_ip, dst_ip))
            .map(|(_, s)| s)
            .filter(|s| s.samples > 0)
            .map(|s| s.last_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u32) -> SocketAddr {
        SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 5004))
    }

    #[test]
    fn tables_stay_bounded_and_forget_stale_entries_first() {
        let mut f = Foreign::default();
        let e = SrEntry::default();
        for i in 0..MAX_ENTRIES as u32 + 100 {
            f.on_sr(0, i, addr(i), addr(0), &e);
        }
        assert_eq!(f.srs.len(), MAX_ENTRIES, "full: new entries are not kept");
        // Later, once the old ones are stale, new ones replace them.
        f.on_sr(STALE_NS + 1, 7, addr(1), addr(2), &e);
        assert_eq!(f.srs.len(), 1);
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
        f.on_sr(sr.capture_ns, 9, b, a, &sr);
        f.on_report(1_050_000_000, a, b, 9, 0x1234_5678, 20_000_000);
        assert_eq!(f.capture_point(b.ip(), a.ip()), Some(30_000_000));
        assert_eq!(f.capture_point(a.ip(), b.ip()), None);
        // An LSR we never saw gives nothing.
        f.on_report(2_000_000_000, a, b, 9, 0x1111_1111, 0);
        assert_eq!(f.capture_point(b.ip(), a.ip()), Some(30_000_000));
    }
}
