//! Observation points: where a frame was seen.
//!
//! A host that forwards media (a router, a NAT, a bridge in front of a containerised SFU, or
//! simply capture on Linux `any`) sees each packet twice: once arriving on one interface, once
//! leaving on another. Counted in one stream, every packet would look duplicated and loss would
//! go negative. So a stream is (observation point, 5-tuple, SSRC): the copy seen arriving and
//! the copy seen leaving are two streams, each counted once, and comparing them is the hop
//! (ingress ↔ egress) view of the middlebox.
//!
//! An [`ObservationPoint`] is a small interned id, cheap to copy into every event; its name
//! lives in a bounded [`PointNames`] table shared by the capture threads (which intern) and the
//! engines (which name records). What a name looks like depends on the source (see
//! docs/output.md, "observed_at"): the live interface (`eth0`), the Linux cooked v2 interface
//! index on `any` (its name live, `if<N>` in a replay), the Linux cooked v1 direction
//! (`in`/`out`), or the pcapng interface. The table holds at most [`MAX_POINTS`] names; later
//! ones share [`ObservationPoint::OTHER`] and are counted, so a capture with a thousand
//! interfaces cannot grow memory or metric labels without bound.
//!
//! This module does no IO: resolving an interface index to a name is the capture's job.

use std::sync::{Arc, RwLock};

/// Most observation points one run names; the rest share [`ObservationPoint::OTHER`].
pub const MAX_POINTS: usize = 64;

/// Where a frame was seen, as an index into the run's [`PointNames`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ObservationPoint(u16);

impl ObservationPoint {
    /// The point of a capture that tells interfaces apart no further (one interface, a plain
    /// pcap file): the first name of the table.
    pub const CAPTURE: ObservationPoint = ObservationPoint(0);
    /// Every point past [`MAX_POINTS`]: named [`OTHER_NAME`].
    pub const OTHER: ObservationPoint = ObservationPoint(MAX_POINTS as u16);

    /// The index (for metric labels and tests; names come from [`PointNames::name`]).
    pub fn index(self) -> u16 {
        self.0
    }
}

/// Name of [`ObservationPoint::OTHER`].
pub const OTHER_NAME: &str = "other";
/// Name of [`ObservationPoint::CAPTURE`] unless the capture names it.
pub const CAPTURE_NAME: &str = "capture";

/// The run's observation point names: append-only, at most [`MAX_POINTS`], shared.
///
/// Interning takes a write lock only for a name not seen before (a capture thread keeps its own
/// cache of the points it found, so this is once per point and thread); naming a point (once per
/// record) takes a read lock.
#[derive(Debug)]
pub struct PointNames {
    inner: RwLock<Inner>,
    /// Names given to Linux cooked v2 interface indexes ([`PointNames::with_interface_names`]).
    interface_names: Vec<(u32, Arc<str>)>,
}

#[derive(Debug)]
struct Inner {
    names: Vec<Arc<str>>,
    /// Interning requests refused because the table was full.
    overflow: u64,
}

impl Default for PointNames {
    fn default() -> Self {
        PointNames::new(CAPTURE_NAME)
    }
}

impl PointNames {
    /// A table whose [`ObservationPoint::CAPTURE`] is called `capture_name`.
    pub fn new(capture_name: &str) -> Self {
        PointNames {
            inner: RwLock::new(Inner {
                names: vec![Arc::from(capture_name)],
                overflow: 0,
            }),
            interface_names: Vec::new(),
        }
    }

    /// [`PointNames::default`] that names interface index `N` as given (a replay of a
    /// `tcpdump -i any` capture, whose frames carry only the index, named as live).
    pub fn with_interface_names(names: &[(u32, String)]) -> Self {
        PointNames {
            interface_names: names
                .iter()
                .map(|(i, n)| (*i, Arc::from(n.as_str())))
                .collect(),
            ..PointNames::default()
        }
    }

    /// The name given to interface index `index`, if any.
    pub fn interface_name(&self, index: u32) -> Option<&str> {
        self.interface_names
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, n)| &**n)
    }

    /// A shared table, for handing to capture threads and engines.
    pub fn shared(capture_name: &str) -> Arc<Self> {
        Arc::new(PointNames::new(capture_name))
    }

    /// The point called `name`, added if new; [`ObservationPoint::OTHER`] (counted) once the
    /// table is full.
    pub fn intern(&self, name: &str) -> ObservationPoint {
        if let Some(p) = self.find(name) {
            return p;
        }
        let Ok(mut t) = self.inner.write() else {
            return ObservationPoint::OTHER;
        };
        if let Some(i) = t.names.iter().position(|n| &**n == name) {
            return point_at(i);
        }
        if t.names.len() >= MAX_POINTS {
            t.overflow += 1;
            return ObservationPoint::OTHER;
        }
        t.names.push(Arc::from(name));
        point_at(t.names.len() - 1)
    }

    fn find(&self, name: &str) -> Option<ObservationPoint> {
        let t = self.inner.read().ok()?;
        t.names.iter().position(|n| &**n == name).map(point_at)
    }

    /// The name of `p` ([`OTHER_NAME`] for [`ObservationPoint::OTHER`] or an unknown index).
    pub fn name(&self, p: ObservationPoint) -> Arc<str> {
        self.inner
            .read()
            .ok()
            .and_then(|t| t.names.get(usize::from(p.0)).cloned())
            .unwrap_or_else(|| Arc::from(OTHER_NAME))
    }

    /// Number of named points.
    pub fn len(&self) -> usize {
        self.inner.read().map_or(0, |t| t.names.len())
    }

    /// Always false: [`ObservationPoint::CAPTURE`] is always named.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Names refused because the table was full (their frames went to
    /// [`ObservationPoint::OTHER`]).
    pub fn overflow(&self) -> u64 {
        self.inner.read().map_or(0, |t| t.overflow)
    }
}

/// The point at table index `i` (`i` < [`MAX_POINTS`], which fits in u16).
fn point_at(i: usize) -> ObservationPoint {
    ObservationPoint(u16::try_from(i).unwrap_or(ObservationPoint::OTHER.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_interned_once_and_bounded() {
        let t = PointNames::new("eth0");
        assert_eq!(t.intern("eth0"), ObservationPoint::CAPTURE);
        let a = t.intern("eth1");
        assert_eq!(t.intern("eth1"), a);
        assert_ne!(a, ObservationPoint::CAPTURE);
        assert_eq!(&*t.name(a), "eth1");
        for i in 0..200 {
            t.intern(&format!("veth{i}"));
        }
        assert_eq!(t.len(), MAX_POINTS);
        assert_eq!(t.intern("late"), ObservationPoint::OTHER);
        assert_eq!(&*t.name(ObservationPoint::OTHER), OTHER_NAME);
        // 200 + 2 names asked for, 64 fit, the "late" one was refused too.
        assert_eq!(t.overflow(), 200 + 2 - MAX_POINTS as u64 + 1);
        // Points named before the table filled keep their names.
        assert_eq!(t.intern("eth1"), a);
    }

    /// A forwarding host sees every packet arriving on `a` and leaving on `b` 1 ms later: two
    /// streams, each counted once, with the loss each point saw (5 lost before the host, one
    /// more lost inside it), and each copy of the sender's SR attached to its own stream.
    #[test]
    fn a_forwarded_flow_is_two_streams_never_counted_twice() {
        use crate::config::Resolved;
        use crate::engine::{Engine, RtpMeta};
        use crate::synth::rtcp::{sr, SenderInfo};
        const MS: i64 = 1_000_000;
        let names = PointNames::shared("any");
        let (a, b) = (names.intern("eth0"), names.intern("eth1"));
        let mut e = Engine::new(Resolved::default());
        e.set_point_names(Arc::clone(&names));
        let (src, dst) = (
            "10.0.0.1:5004".parse().unwrap(),
            "10.0.1.2:6004".parse().unwrap(),
        );
        let t0 = 1_700_000_000_000_000_000i64;
        let meta = |seq: u16, point| RtpMeta {
            src,
            dst,
            ssrc: 0xabc,
            seq,
            pt: 0,
            ts: u32::from(seq) * 160,
            wire_len: 172,
            point,
            marker: false,
            hint: Default::default(),
        };
        for seq in 1..=100u16 {
            if seq % 10 == 0 && seq <= 50 {
                continue; // lost before the host: missing at both points
            }
            let t = t0 + i64::from(seq) * 20 * MS;
            e.on_rtp_meta(t, &meta(seq, a));
            if seq != 77 {
                e.on_rtp_meta(t + MS, &meta(seq, b)); // 77: lost inside the host
            }
            if seq == 60 {
                let info = SenderInfo {
                    ntp: 1,
                    rtp_ts: 9600,
                    packet_count: 55,
                    octet_count: 55 * 172,
                };
                let rtcp = sr(0xabc, &info, &[]);
                let (rs, rd) = (
                    "10.0.0.1:5005".parse().unwrap(),
                    "10.0.1.2:6005".parse().unwrap(),
                );
                for (dt, p) in [(2 * MS, a), (3 * MS, b)] {
                    e.set_point(p);
                    e.on_rtcp(t + dt, rs, rd, &rtcp, true);
                }
            }
        }
        e.finish_all();
        let recs: Vec<_> = e.drain_finished().into_iter().map(|(_, r)| r).collect();
        assert_eq!(recs.len(), 2, "{recs:#?}");
        let got: Vec<_> = recs
            .iter()
            .map(|r| {
                (
                    r.packets,
                    r.expected,
                    r.lost,
                    r.duplicates,
                    r.sender.map(|s| s.sender_reports),
                )
            })
            .collect();
        assert_eq!(got, [(95, 100, 5, 0, Some(1)), (94, 100, 6, 0, Some(1))]);
    }

    #[test]
    fn a_point_is_small() {
        assert_eq!(std::mem::size_of::<ObservationPoint>(), 2);
    }
}
