//! Bounded labels for a stream: media kind, direction relative to this host, peer group, and
//! the address form used in per-stream series.
//!
//! Built once from `[exporter]` and shared (read-only) by the shard workers, which label each
//! stream when they fold it into the aggregates, and by the exporter for per-stream series.
//! Every label value comes from a fixed set or from the configuration, so the number of
//! aggregate series is bounded whatever the traffic: kinds × payload types × directions ×
//! peer groups.

use crate::config::exporter::parse_cidr;
use crate::config::ExporterConfig;
use crate::engine::record::StreamRecord;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

/// Media kind, from the payload type and clock rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Audio,
    Video,
    Unknown,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Audio => "audio",
            Kind::Video => "video",
            Kind::Unknown => "unknown",
        }
    }

    /// RFC 3551 §6 Tables 4 and 5 for the static payload types (0–34); for the others the
    /// clock rate: 90000 Hz is video (RFC 3551 §5: every video encoding uses it), 8000,
    /// 16000, 32000, 44100 and 48000 Hz are audio, anything else unknown.
    pub fn of(pt: Option<u8>, clock_rate: Option<u32>) -> Kind {
        match pt {
            Some(0..=23) => Kind::Audio,
            Some(24..=34) => Kind::Video,
            _ => match clock_rate {
                Some(90_000) => Kind::Video,
                Some(8_000 | 16_000 | 32_000 | 44_100 | 48_000) => Kind::Audio,
                _ => Kind::Unknown,
            },
        }
    }
}

/// Where a stream goes relative to this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Inbound,
    Outbound,
    Transit,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
            Direction::Transit => "transit",
        }
    }
}

/// How addresses appear in per-stream labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressForm {
    Keep,
    Prefix { v4: u8, v6: u8 },
    Hash { key: String },
}

/// Labels of one stream in the aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AggKey {
    pub kind: Kind,
    /// The stream's first payload type (128 when none was seen).
    pub pt: u8,
    pub direction: Direction,
    /// Index into [`Labeller::group_names`].
    pub group: u16,
}

/// The label mapping, resolved from `[exporter]`.
#[derive(Debug, Clone)]
pub struct Labeller {
    /// (network, prefix length, group index), longest prefix first.
    groups: Vec<(IpAddr, u8, u16)>,
    /// Group names; index 0 is `unknown`.
    names: Vec<String>,
    local: Vec<IpAddr>,
    pub address_form: AddressForm,
    pub cname_label: bool,
}

impl Labeller {
    /// From a validated `[exporter]` section; `local` is used when it lists no address.
    pub fn new(cfg: &ExporterConfig, local: Vec<IpAddr>) -> Labeller {
        let mut names = vec!["unknown".to_string()];
        let mut groups = Vec::new();
        for (cidr, name) in &cfg.peer_groups {
            let Some((net, len)) = parse_cidr(cidr) else {
                continue;
            };
            let idx = match names.iter().position(|n| n == name) {
                Some(i) => i,
                None => {
                    names.push(name.clone());
                    names.len() - 1
                }
            };
            groups.push((net, len, u16::try_from(idx).unwrap_or(0)));
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g.1));
        let configured: Vec<IpAddr> = cfg
            .local_addresses
            .iter()
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        Labeller {
            groups,
            names,
            local: if configured.is_empty() {
                local
            } else {
                configured
            },
            address_form: match cfg.address_labels.as_str() {
                "prefix" => AddressForm::Prefix {
                    v4: cfg.address_prefix_v4,
                    v6: cfg.address_prefix_v6,
                },
                "hash" => AddressForm::Hash {
                    key: cfg.hash_key.clone(),
                },
                _ => AddressForm::Keep,
            },
            cname_label: cfg.cname_label,
        }
    }

    /// Peer group names, index 0 `unknown`.
    pub fn group_names(&self) -> &[String] {
        &self.names
    }

    pub fn group_name(&self, i: u16) -> &str {
        self.names
            .get(usize::from(i))
            .map_or("unknown", String::as_str)
    }

    fn group_of(&self, ip: IpAddr) -> u16 {
        self.groups
            .iter()
            .find(|(net, len, _)| same_prefix(*net, ip, *len))
            .map_or(0, |g| g.2)
    }

    /// The aggregate labels of a stream record (addresses as the record prints them).
    pub fn key(&self, r: &StreamRecord) -> AggKey {
        let pt = r.payload_types.first().copied();
        let src = r.src.parse::<SocketAddr>().ok().map(|a| a.ip());
        let dst = r.dst.parse::<SocketAddr>().ok().map(|a| a.ip());
        let is_local = |a: Option<IpAddr>| a.is_some_and(|a| self.local.contains(&a));
        let direction = if is_local(dst) {
            Direction::Inbound
        } else if is_local(src) {
            Direction::Outbound
        } else {
            Direction::Transit
        };
        let peer = if direction == Direction::Inbound {
            src
        } else {
            dst
        };
        AggKey {
            kind: Kind::of(pt, r.clock_rate),
            pt: pt.unwrap_or(128),
            direction,
            group: peer.map_or(0, |p| self.group_of(p)),
        }
    }

    /// An `addr:port` from a record as a per-stream label value, in the configured form.
    pub fn address(&self, addr: &str) -> String {
        match &self.address_form {
            AddressForm::Keep => addr.to_string(),
            AddressForm::Prefix { v4, v6 } => match addr.parse::<SocketAddr>() {
                Ok(a) => {
                    let len = if a.is_ipv4() { *v4 } else { *v6 };
                    format!("{}/{len}", mask(a.ip(), len))
                }
                Err(_) => "invalid".into(),
            },
            AddressForm::Hash { key } => {
                // SipHash-1-3 (std's DefaultHasher) over the secret key then the address: a
                // keyed pseudonym, stable across scrapes and restarts with the same key.
                let mut h = std::collections::hash_map::DefaultHasher::new();
                key.hash(&mut h);
                addr.hash(&mut h);
                format!("{:016x}", h.finish())
            }
        }
    }
}

/// `ip` with all but the first `len` bits cleared.
fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4((a.to_bits() & m).into())
        }
        IpAddr::V6(a) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((a.to_bits() & m).into())
        }
    }
}

fn same_prefix(net: IpAddr, ip: IpAddr, len: u8) -> bool {
    net.is_ipv4() == ip.is_ipv4() && mask(net, len) == mask(ip, len)
}

/// The addresses of this host's interfaces (getifaddrs(3)); empty if the call fails.
pub fn host_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we only read and then free once.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says its real type.
            let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            if family == libc::AF_INET {
                // SAFETY: family AF_INET means a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::V4(u32::from_be(sin.sin_addr.s_addr).into()));
            } else if family == libc::AF_INET6 {
                // SAFETY: family AF_INET6 means a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::V6(sin6.sin6_addr.s6_addr.into()));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(src: &str, dst: &str, pt: u8, rate: Option<u32>) -> StreamRecord {
        let mut r = crate::export::test_record();
        r.src = src.into();
        r.dst = dst.into();
        r.payload_types = vec![pt];
        r.clock_rate = rate;
        r
    }

    #[test]
    fn kind_from_static_types_and_rates() {
        assert_eq!(Kind::of(Some(0), None), Kind::Audio); // PCMU
        assert_eq!(Kind::of(Some(8), Some(8000)), Kind::Audio); // PCMA
        assert_eq!(Kind::of(Some(34), None), Kind::Video); // H263
        assert_eq!(Kind::of(Some(96), Some(90_000)), Kind::Video);
        assert_eq!(Kind::of(Some(111), Some(48_000)), Kind::Audio);
        assert_eq!(Kind::of(Some(100), None), Kind::Unknown);
    }

    #[test]
    fn direction_and_longest_prefix_group() {
        let mut cfg = ExporterConfig::default();
        cfg.peer_groups
            .insert("10.0.0.0/8".into(), "internal".into());
        cfg.peer_groups.insert("10.9.0.0/16".into(), "lab".into());
        cfg.local_addresses = vec!["192.0.2.1".into()];
        let l = Labeller::new(&cfg, vec![]);
        let k = l.key(&rec("10.9.1.1:4000", "192.0.2.1:5000", 0, Some(8000)));
        assert_eq!(k.direction, Direction::Inbound);
        assert_eq!(l.group_name(k.group), "lab");
        let k = l.key(&rec("192.0.2.1:5000", "10.1.1.1:4000", 96, Some(90_000)));
        assert_eq!((k.direction, k.kind), (Direction::Outbound, Kind::Video));
        assert_eq!(l.group_name(k.group), "internal");
        let k = l.key(&rec("[2001:db8::1]:1", "[2001:db8::2]:2", 0, None));
        assert_eq!(k.direction, Direction::Transit);
        assert_eq!(l.group_name(k.group), "unknown");
    }

    #[test]
    fn address_forms() {
        let mut cfg = ExporterConfig {
            address_labels: "prefix".into(),
            ..Default::default()
        };
        let l = Labeller::new(&cfg, vec![]);
        assert_eq!(l.address("10.1.2.3:5004"), "10.1.2.0/24");
        assert_eq!(l.address("[2001:db8:1:2::5]:5004"), "2001:db8:1::/48");
        cfg.address_labels = "hash".into();
        cfg.hash_key = "0123456789abcdef".into();
        let a = Labeller::new(&cfg, vec![]).address("10.1.2.3:5004");
        assert_eq!(a.len(), 16);
        assert_ne!(a, Labeller::new(&cfg, vec![]).address("10.1.2.4:5004"));
        cfg.hash_key = "another key, 16+".into();
        assert_ne!(a, Labeller::new(&cfg, vec![]).address("10.1.2.3:5004"));
    }

    #[test]
    fn host_addresses_include_loopback() {
        assert!(host_addresses().contains(&IpAddr::V4([127, 0, 0, 1].into())));
    }
}
