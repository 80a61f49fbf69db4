//! Which streams a report shows and in what order: `--filter`, `--sort`, `--top`.
//!
//! A capture of a busy trunk holds thousands of streams; an operator wants the bad ones first
//! and a few of them. The selection is applied to the table, JSON and CSV alike; the summary
//! still describes the whole capture (`summary.streams` counts every stream), so a reader can
//! tell how much was left out. Sorting is stable: equal streams keep their order of first
//! appearance.

use crate::engine::record::StreamRecord;
use crate::replay::Report;
use std::net::{IpAddr, SocketAddr};

/// What `--sort` orders by, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    /// Missing packets as a share of expected, highest first.
    Loss,
    /// Final interarrival jitter, highest first.
    Jitter,
    /// Round-trip time (the one the table shows), highest first.
    Rtt,
    /// E-model MOS estimate, lowest first (streams without one last).
    Mos,
    /// Packets received, most first.
    Packets,
}

/// One `--filter` value: an address, an address and port, or an SSRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Source or destination address, any port.
    Addr(IpAddr),
    /// Source or destination address and port.
    Socket(SocketAddr),
    Ssrc(u32),
}

impl std::str::FromStr for Filter {
    type Err = String;

    /// `0x1234abcd` or `305441741` (SSRC), `10.0.0.1` or `2001:db8::1` (address),
    /// `10.0.0.1:5004` or `[2001:db8::1]:5004` (address and port).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            return u32::from_str_radix(hex, 16)
                .map(Filter::Ssrc)
                .map_err(|_| format!("{s:?}: not a 32-bit hexadecimal SSRC"));
        }
        if let Ok(v) = s.parse::<u32>() {
            return Ok(Filter::Ssrc(v));
        }
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(Filter::Socket(a));
        }
        if let Ok(a) = s.parse::<IpAddr>() {
            return Ok(Filter::Addr(a));
        }
        Err(format!(
            "{s:?}: expected an address (10.0.0.1, 2001:db8::1), address:port \
             (10.0.0.1:5004, [2001:db8::1]:5004) or SSRC (0x1234ABCD or decimal)"
        ))
    }
}

impl Filter {
    /// Whether `r` is selected by this filter.
    pub fn matches(&self, r: &StreamRecord) -> bool {
        // The engine formats addresses with `SocketAddr`'s Display, so they parse back.
        let ends = || [&r.src, &r.dst].into_iter().filter_map(|a| a.parse().ok());
        match *self {
            Filter::Ssrc(v) => r.ssrc == v,
            Filter::Socket(want) => ends().any(|a: SocketAddr| a == want),
            Filter::Addr(want) => ends().any(|a: SocketAddr| a.ip() == want),
        }
    }
}

/// The selection asked for on the command line; the default shows everything in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    pub sort: Option<SortKey>,
    pub top: Option<usize>,
    /// A stream is shown when it matches any of these (all when empty).
    pub filters: Vec<Filter>,
}

impl Selection {
    /// The streams of `report` to show, in the order to show them.
    pub fn apply<'a>(&self, report: &'a Report) -> Vec<&'a StreamRecord> {
        let mut v: Vec<&StreamRecord> = report
            .streams
            .iter()
            .filter(|r| self.filters.is_empty() || self.filters.iter().any(|f| f.matches(r)))
            .collect();
        if let Some(key) = self.sort {
            // Worst first: sort by a score where higher is worse; streams without a value last.
            v.sort_by(|a, b| {
                let (a, b) = (score(key, a), score(key, b));
                b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal)
            });
        }
        if let Some(n) = self.top {
            v.truncate(n);
        }
        v
    }

    /// Whether anything is left out or reordered.
    pub fn is_all(&self) -> bool {
        *self == Selection::default()
    }
}

/// Missing packets as a share of expected, 0..=1; `None` when nothing was expected.
pub fn missing_ratio(r: &StreamRecord) -> Option<f64> {
    (r.expected > 0).then(|| r.missing as f64 / r.expected as f64)
}

/// The RTT the table shows: the first method present of capture point, end to end, SR chain,
/// STUN, XR, with the method.
pub fn shown_rtt(r: &StreamRecord) -> Option<(f64, &'static str)> {
    ["capture_point", "end_to_end", "sr_chain", "stun", "xr"]
        .iter()
        .find_map(|m| r.rtt_ms.get(m).map(|v| (v.last, *m)))
}

/// Higher is worse; `f64::NEG_INFINITY` (sorted last) when the stream has no value.
pub(super) fn score(key: SortKey, r: &StreamRecord) -> f64 {
    let none = f64::NEG_INFINITY;
    let v = match key {
        SortKey::Loss => missing_ratio(r),
        SortKey::Jitter => r.jitter_ms,
        SortKey::Rtt => shown_rtt(r).map(|(v, _)| v),
        SortKey::Mos => r.quality.map(|q| -q.mos),
        SortKey::Packets => Some(r.packets as f64),
    };
    v.filter(|v| !v.is_nan()).unwrap_or(none)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse() {
        assert_eq!("0x1A".parse(), Ok(Filter::Ssrc(26)));
        assert_eq!("26".parse(), Ok(Filter::Ssrc(26)));
        assert_eq!(
            "10.0.0.1".parse(),
            Ok(Filter::Addr("10.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            "[2001:db8::1]:5004".parse(),
            Ok(Filter::Socket("[2001:db8::1]:5004".parse().unwrap()))
        );
        assert!("0xnothex".parse::<Filter>().is_err());
        assert!("example.com".parse::<Filter>().is_err());
    }

    fn report(streams: Vec<StreamRecord>) -> Report {
        let summary = crate::replay::Run::new(Default::default())
            .finish(String::new(), 1, None)
            .summary;
        Report {
            summary,
            streams,
            calls: Vec::new(),
            hops: Vec::new(),
            ice_sessions: Vec::new(),
            turn_allocations: Vec::new(),
        }
    }

    #[test]
    fn worst_first_and_streams_without_a_value_last() {
        let rec = |ssrc: u32, pt: u8, missing: u64, jitter: Option<f64>| {
            let mut r = crate::export::test_record();
            r.ssrc = ssrc;
            r.payload_types = vec![pt];
            (r.expected, r.packets, r.missing, r.lost) =
                (100, 100 - missing, missing, missing as i64);
            r.jitter_ms = jitter;
            r.quality = r.estimate_quality();
            r
        };
        let rep = report(vec![
            rec(1, 0, 1, Some(5.0)),
            rec(2, 96, 9, None),
            rec(3, 8, 5, Some(20.0)),
        ]);
        let order =
            |sel: Selection| -> Vec<u32> { sel.apply(&rep).iter().map(|r| r.ssrc).collect() };
        let by = |k| Selection {
            sort: Some(k),
            ..Selection::default()
        };
        assert_eq!(order(by(SortKey::Loss)), [2, 3, 1]);
        assert_eq!(order(by(SortKey::Jitter)), [3, 1, 2]);
        // Lowest MOS first; PT 96 has no estimate and goes last.
        assert_eq!(order(by(SortKey::Mos)), [3, 1, 2]);
        assert_eq!(order(by(SortKey::Packets)), [1, 3, 2]);
        let sel = Selection {
            sort: Some(SortKey::Loss),
            top: Some(1),
            filters: vec![Filter::Ssrc(1), Filter::Ssrc(3)],
        };
        assert_eq!(order(sel), [3]);
        assert!(Selection::default().is_all());
    }
}
