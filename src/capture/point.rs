//! Naming where each frame was seen: from a source and a frame to an [`ObservationPoint`].
//!
//! One resolver per capture thread (or file). What names a point, most specific first
//! (docs/output.md, "observed_at"):
//!
//! 1. a Linux cooked v2 frame (SLL2, `any`): its interface index, named by the kernel
//!    (`if_indextoname(3)`) in a live capture and `if<N>` in a replay (the index means nothing
//!    on another host);
//! 2. a Linux cooked v1 frame (SLL, no index): the source's name plus the direction,
//!    `<source>:in` or `<source>:out`;
//! 3. otherwise the source itself: the live interface, the pcapng interface (its `if_name`, or
//!    `interface<id>`), or [`CAPTURE_NAME`] for a classic pcap file.
//!
//! Interning goes through the run's bounded [`PointNames`]; this resolver caches what it found
//! (bounded as well), so the common frame costs a short scan and no lock.

use crate::engine::obs::{PointNames, CAPTURE_NAME, MAX_POINTS};
use crate::engine::ObservationPoint;
use crate::wire::link::{origin, Origin};
use crate::wire::LinkType;
use std::sync::Arc;

/// Distinct interface indexes (or pcapng interfaces) one resolver remembers; past it every
/// new one is [`ObservationPoint::OTHER`] (the names table is full long before).
const MAX_CACHED: usize = 2 * MAX_POINTS;

/// Turns frames of one source into observation points.
#[derive(Debug)]
pub struct PointResolver {
    names: Arc<PointNames>,
    /// The source's own name: the interface, or [`CAPTURE_NAME`] for a file.
    source: String,
    /// Name interface indexes with the kernel's names (live capture on this host).
    live: bool,
    /// The point of each pcapng interface id seen (and of id 0 for a single-interface source).
    by_iface: Vec<(u32, ObservationPoint, [Option<ObservationPoint>; 2])>,
    /// SLL2 interface index → point.
    by_ifindex: Vec<(u32, ObservationPoint)>,
    /// pcapng interface names (`if_name`), by interface id, when the reader knows them.
    iface_names: Vec<Option<String>>,
}

impl PointResolver {
    /// A resolver for a live capture on `interface` (`any` included).
    pub fn live(names: Arc<PointNames>, interface: &str) -> Self {
        PointResolver::new(names, interface.to_owned(), true)
    }

    /// A resolver for a capture file.
    pub fn file(names: Arc<PointNames>) -> Self {
        PointResolver::new(names, CAPTURE_NAME.to_owned(), false)
    }

    fn new(names: Arc<PointNames>, source: String, live: bool) -> Self {
        PointResolver {
            names,
            source,
            live,
            by_iface: Vec::new(),
            by_ifindex: Vec::new(),
            iface_names: Vec::new(),
        }
    }

    /// The names of a pcapng file's interfaces (`if_name`, by interface id), when known.
    pub fn set_interface_names(&mut self, names: Vec<Option<String>>) {
        self.iface_names = names;
        self.by_iface.clear();
    }

    /// The table this resolver interns into.
    pub fn names(&self) -> &Arc<PointNames> {
        &self.names
    }

    /// Where `frame`, captured on interface `iface` (pcapng interface id; 0 for other sources)
    /// with link type `link`, was seen.
    pub fn point(&mut self, link: LinkType, iface: u32, frame: &[u8]) -> ObservationPoint {
        match origin(link, frame) {
            Origin::Interface(i) => self.ifindex(i),
            Origin::Incoming => self.iface(iface, Some(0)),
            Origin::Outgoing => self.iface(iface, Some(1)),
            Origin::Unknown => self.iface(iface, None),
        }
    }

    fn ifindex(&mut self, index: u32) -> ObservationPoint {
        if let Some(&(_, p)) = self.by_ifindex.iter().find(|(i, _)| *i == index) {
            return p;
        }
        if self.by_ifindex.len() >= MAX_CACHED {
            return ObservationPoint::OTHER;
        }
        let given = self.names.interface_name(index).map(str::to_owned);
        let name = given
            .or_else(|| self.live.then(|| kernel_name(index)).flatten())
            .unwrap_or_else(|| format!("if{index}"));
        let p = self.names.intern(&name);
        if self.live {
            // What a replay of a `tcpdump -i any` capture needs to name it alike.
            tracing::info!(point = %name, index, "observation point: interface index {index} \
                (replay --point-name {index}={name})");
        }
        self.by_ifindex.push((index, p));
        p
    }

    fn iface(&mut self, id: u32, direction: Option<usize>) -> ObservationPoint {
        let slot = match self.by_iface.iter().position(|(i, _, _)| *i == id) {
            Some(s) => s,
            None if self.by_iface.len() >= MAX_CACHED => return ObservationPoint::OTHER,
            None => {
                let p = self.names.intern(&self.iface_name(id));
                self.by_iface.push((id, p, [None, None]));
                self.by_iface.len() - 1
            }
        };
        let Some(entry) = self.by_iface.get_mut(slot) else {
            return ObservationPoint::OTHER;
        };
        let Some(d) = direction else {
            return entry.1;
        };
        if let Some(p) = entry.2.get(d).copied().flatten() {
            return p;
        }
        let base = self.names.name(entry.1);
        let name = format!("{base}:{}", if d == 0 { "in" } else { "out" });
        let p = self.names.intern(&name);
        if let Some(e) = self.by_iface.get_mut(slot).and_then(|e| e.2.get_mut(d)) {
            *e = Some(p);
        }
        p
    }

    /// A pcapng interface's name: its `if_name`, made unique with `#<id>` if an earlier
    /// interface has it; `interface<id>` without one; the source's name for a source without
    /// interface ids.
    fn iface_name(&self, id: u32) -> String {
        if self.iface_names.is_empty() {
            return self.source.clone();
        }
        let own = |i: u32| {
            self.iface_names
                .get(i as usize)
                .and_then(|n| n.as_deref())
                .filter(|n| !n.is_empty())
        };
        match own(id) {
            Some(n) if (0..id).any(|j| own(j) == Some(n)) => format!("{n}#{id}"),
            Some(n) => n.to_owned(),
            None => format!("interface{id}"),
        }
    }
}

/// The kernel's name of interface `index` (`if_indextoname(3)`), if it exists.
fn kernel_name(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE bytes if_indextoname writes at most (NUL included);
    // on success it returns `buf`, NUL-terminated, and on failure NULL.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success `buf` holds a NUL-terminated string (see above).
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sll2(ifindex: u32) -> Vec<u8> {
        let mut f = vec![0x08, 0x00, 0, 0];
        f.extend_from_slice(&ifindex.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
        f
    }

    #[test]
    fn replayed_cooked_frames_name_their_interface_or_direction() {
        let names = Arc::new(PointNames::default());
        let mut r = PointResolver::file(Arc::clone(&names));
        let a = r.point(LinkType::LinuxSll2, 0, &sll2(2));
        let b = r.point(LinkType::LinuxSll2, 0, &sll2(3));
        assert_ne!(a, b);
        assert_eq!(r.point(LinkType::LinuxSll2, 0, &sll2(2)), a);
        assert_eq!((&*names.name(a), &*names.name(b)), ("if2", "if3"));
        let inc = r.point(LinkType::LinuxSll, 0, &[0, 3]);
        let out = r.point(LinkType::LinuxSll, 0, &[0, 4]);
        assert_eq!(&*names.name(inc), "capture:in");
        assert_eq!(&*names.name(out), "capture:out");
        assert_eq!(
            r.point(LinkType::Ethernet, 0, &[0; 14]),
            ObservationPoint::CAPTURE
        );
    }

    #[test]
    fn a_replay_names_interface_indexes_as_told() {
        // `replay --point-name 2=v1`: the live probe's names for a `tcpdump -i any` capture.
        let names = Arc::new(PointNames::with_interface_names(&[(2, "v1".into())]));
        let mut r = PointResolver::file(Arc::clone(&names));
        let a = r.point(LinkType::LinuxSll2, 0, &sll2(2));
        let b = r.point(LinkType::LinuxSll2, 0, &sll2(3));
        assert_eq!((&*names.name(a), &*names.name(b)), ("v1", "if3"));
        // Live too: given names come before the kernel's.
        let names = Arc::new(PointNames::with_interface_names(&[(1, "uplink".into())]));
        let mut r = PointResolver::live(Arc::clone(&names), "any");
        let p = r.point(LinkType::LinuxSll2, 0, &sll2(1));
        assert_eq!(&*names.name(p), "uplink");
    }

    #[test]
    fn pcapng_interfaces_are_named_uniquely() {
        let names = Arc::new(PointNames::default());
        let mut r = PointResolver::file(Arc::clone(&names));
        r.set_interface_names(vec![Some("eth0".into()), None, Some("eth0".into())]);
        let n = |r: &mut PointResolver, id| names.name(r.point(LinkType::Ethernet, id, &[]));
        assert_eq!(&*n(&mut r, 0), "eth0");
        assert_eq!(&*n(&mut r, 1), "interface1");
        assert_eq!(&*n(&mut r, 2), "eth0#2");
        assert_eq!(&*n(&mut r, 7), "interface7");
    }

    #[test]
    fn a_flood_of_interface_indexes_stays_bounded() {
        let names = Arc::new(PointNames::default());
        let mut r = PointResolver::file(Arc::clone(&names));
        for i in 0..10_000 {
            r.point(LinkType::LinuxSll2, 0, &sll2(i));
        }
        assert_eq!(names.len(), MAX_POINTS);
        assert!(r.by_ifindex.len() <= MAX_CACHED);
        assert_eq!(
            r.point(LinkType::LinuxSll2, 0, &sll2(9_999)),
            ObservationPoint::OTHER
        );
    }

    #[test]
    fn live_indexes_take_the_kernel_name() {
        // Index 1 is the loopback interface on Linux.
        let names = Arc::new(PointNames::default());
        let mut r = PointResolver::live(Arc::clone(&names), "any");
        let p = r.point(LinkType::LinuxSll2, 0, &sll2(1));
        assert_eq!(Some(names.name(p).to_string()), kernel_name(1));
        assert_eq!(kernel_name(u32::MAX), None);
    }
}
