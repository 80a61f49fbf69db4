//! Round-trip time bookkeeping: NTP helpers, per-method statistics, recent sender reports.
//!
//! Every RTT the probe reports is labelled with how it was obtained, and none uses a clock the
//! probe does not own except the endpoints' own NTP clocks in `sr_chain`:
//!
//! * `capture_point` (RFC 3550 §6.4.1 applied at the probe): capture time of a report block minus
//!   the capture time of the SR whose middle 32 NTP bits equal the block's LSR, minus DLSR. It is
//!   the round trip from the capture point to the receiver of the stream and back.
//! * `end_to_end`: the round trip between the endpoints, as two leg round trips (a stream's
//!   `capture_point` plus that of the opposite direction), one per RTCP session: a relay that
//!   forwards RTCP unchanged is one session seen on two legs (docs/output.md, `Engine::end_to_end`).
//! * `sr_chain`: the RTT an endpoint would compute itself, from its SR, the peer's SR that reports
//!   on it (LSR/DLSR) and its own next SR that reports on the peer: `T3 − DLSR_a − T1 − DLSR_b`,
//!   all in the endpoint's NTP clock.
//! * `stun`: capture time of an ICE binding success response minus that of its request
//!   (RFC 8445 §7.2.5, matched by transaction ID on the reversed 5-tuple).
//! * `xr`: RFC 3611 §4.4/§4.5 applied at the probe, the SR/RR arithmetic for receivers that
//!   send no SR: capture time of a DLRR sub-block minus the capture time of the receiver
//!   reference time (RRT) block whose middle 32 NTP bits equal its LRR, minus DLRR. It is the
//!   round trip from the capture point to the DLRR's writer (the media sender) and back, and is
//!   kept on that sender's stream ([`super::xr`]).

/// RTT samples above this are rejected as mismatched reports (RFC 3550 gives no bound; ten
/// seconds is far beyond any real media path).
pub const MAX_RTT_NS: i64 = 10_000_000_000;
/// Samples down to this much below zero are kept as 0: on a sub-millisecond hop the receiver's
/// own DLSR measurement (its clock granularity and processing) can exceed the delay the probe saw.
/// Anything more negative is a mismatched report and is rejected.
pub const MIN_RTT_NS: i64 = -1_000_000;

/// The measurement methods, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RttMethod {
    CapturePoint = 0,
    EndToEnd = 1,
    SrChain = 2,
    Stun = 3,
    Xr = 4,
}

impl RttMethod {
    pub const ALL: [RttMethod; 5] = [
        RttMethod::CapturePoint,
        RttMethod::EndToEnd,
        RttMethod::SrChain,
        RttMethod::Stun,
        RttMethod::Xr,
    ];

    /// The JSON key / metric label of this method.
    pub fn name(self) -> &'static str {
        match self {
            RttMethod::CapturePoint => "capture_point",
            RttMethod::EndToEnd => "end_to_end",
            RttMethod::SrChain => "sr_chain",
            RttMethod::Stun => "stun",
            RttMethod::Xr => "xr",
        }
    }

    /// The slot of this method among a stream's own statistics ([`super::stream::Cold`]):
    /// every method but `stun`, which is kept per 5-tuple pair by the engine.
    pub fn stream_slot(self) -> Option<usize> {
        match self {
            RttMethod::CapturePoint => Some(0),
            RttMethod::EndToEnd => Some(1),
            RttMethod::SrChain => Some(2),
            RttMethod::Xr => Some(3),
            RttMethod::Stun => None,
        }
    }
}

/// The middle 32 bits of a 64-bit NTP timestamp: the "compact" form used by LSR (RFC 3550 §6.4.1).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// A duration in the NTP short format (1/65536 s units, as DLSR) to nanoseconds.
pub fn short_to_ns(units: u32) -> i64 {
    ((u64::from(units) * 1_000_000_000 + (1 << 15)) >> 16) as i64
}

/// A signed difference in NTP short format units to nanoseconds.
pub fn short_diff_to_ns(units: i64) -> i64 {
    units.saturating_mul(1_000_000_000) / 65_536
}

/// Running statistics of one RTT method.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RttStats {
    pub samples: u64,
    pub last_ns: i64,
    pub min_ns: i64,
    pub max_ns: i64,
    sum_ns: i128,
}

impl RttStats {
    /// Add a sample if it is plausible ([`MIN_RTT_NS`] ≤ rtt ≤ [`MAX_RTT_NS`], negative values
    /// counted as 0); returns whether it was kept.
    pub fn add(&mut self, rtt_ns: i64) -> bool {
        if !(MIN_RTT_NS..=MAX_RTT_NS).contains(&rtt_ns) {
            return false;
        }
        let rtt_ns = rtt_ns.max(0);
        if self.samples == 0 {
            self.min_ns = rtt_ns;
            self.max_ns = rtt_ns;
        } else {
            self.min_ns = self.min_ns.min(rtt_ns);
            self.max_ns = self.max_ns.max(rtt_ns);
        }
        self.samples += 1;
        self.last_ns = rtt_ns;
        self.sum_ns += i128::from(rtt_ns);
        true
    }

    pub fn mean_ns(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.sum_ns as f64 / self.samples as f64)
    }
}

/// What an SR carried that later RTT computations need.
#[derive(Debug, Clone, Copy, Default)]
pub struct SrEntry {
    /// Full 64-bit NTP timestamp of the SR.
    pub ntp: u64,
    /// Capture time of the SR at the probe.
    pub capture_ns: i64,
    /// Up to [`SR_BLOCKS`] report blocks of this SR: (reportee SSRC, LSR, DLSR), for `sr_chain`.
    pub blocks: [(u32, u32, u32); SR_BLOCKS],
    pub n_blocks: u8,
    /// The SR's RTP timestamp: the same instant as `ntp` on the media clock (RFC 3550 §6.4.1),
    /// for the sender's clock drift ([`crate::diagnose`]).
    pub rtp_ts: u32,
}

/// Report blocks remembered per SR (an endpoint in a call reports on one or a few sources).
pub const SR_BLOCKS: usize = 4;
/// SRs remembered per stream: receivers may answer an older SR than the latest one (RR interval
/// longer than SR interval, or loss of the newest SR).
pub const SR_HISTORY: usize = 8;

/// A ring of the most recent SRs of one sender, grown one entry at a time up to
/// [`SR_HISTORY`]: a sender with few SRs costs only those.
#[derive(Debug, Clone, Default)]
pub struct SrHistory {
    /// Oldest first until full; then `next` is the entry the next SR replaces.
    entries: Vec<SrEntry>,
    next: usize,
}

impl SrHistory {
    pub fn push(&mut self, e: SrEntry) {
        if self.entries.len() < SR_HISTORY {
            self.entries.reserve_exact(1);
            self.entries.push(e);
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = e;
        }
        self.next = (self.next + 1) % SR_HISTORY;
    }

    /// Entries from the most recent back.
    fn recent_first(&self) -> impl Iterator<Item = &SrEntry> {
        let len = self.entries.len();
        (1..=len).filter_map(move |back| self.entries.get((self.next + 2 * len - back) % len))
    }

    /// The most recent SR whose NTP middle 32 bits equal `lsr`.
    pub fn find(&self, lsr: u32) -> Option<&SrEntry> {
        self.recent_first().find(|e| ntp_middle(e.ntp) == lsr)
    }

    pub fn latest(&self) -> Option<&SrEntry> {
        self.recent_first().next()
    }
}

/// SRs kept while their sender's stream is still in RFC 3550 A.1 probation.
pub const PENDING_SRS: usize = 64;

/// An SR that arrived before its stream was validated.
#[derive(Debug, Clone, Copy)]
pub struct PendingSr {
    /// Where the SR was seen: it belongs to a stream seen at the same point.
    pub point: super::ObservationPoint,
    pub src: std::net::SocketAddr,
    pub dst: std::net::SocketAddr,
    pub ssrc: u32,
    pub entry: SrEntry,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// A bounded FIFO of [`PendingSr`]s; the oldest is forgotten when full.
#[derive(Debug, Default)]
pub struct PendingSrs {
    entries: std::collections::VecDeque<PendingSr>,
}

impl PendingSrs {
    pub fn push(&mut self, sr: PendingSr) {
        if self.entries.len() >= PENDING_SRS {
            self.entries.pop_front();
        }
        self.entries.push_back(sr);
    }

    /// Remove and return, oldest first, the SRs `belongs` accepts.
    pub fn take(&mut self, belongs: impl Fn(&PendingSr) -> bool) -> Vec<PendingSr> {
        let mut taken = Vec::new();
        self.entries.retain(|p| {
            let hit = belongs(p);
            if hit {
                taken.push(*p);
            }
            !hit
        });
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_reject_implausible() {
        let mut s = RttStats::default();
        assert!(!s.add(MIN_RTT_NS - 1));
        assert!(!s.add(MAX_RTT_NS + 1));
        assert_eq!(s.samples, 0);
        assert!(s.add(30_000_000));
        assert!(s.add(10_000_000));
        assert_eq!(
            (s.samples, s.min_ns, s.max_ns, s.last_ns),
            (2, 10_000_000, 30_000_000, 10_000_000)
        );
        assert_eq!(s.mean_ns(), Some(20_000_000.0));
        assert!(s.add(-400_000));
        assert_eq!((s.samples, s.min_ns, s.last_ns), (3, 0, 0));
    }

    #[test]
    fn ntp_conversions() {
        assert_eq!(ntp_middle(0x1234_5678_9abc_def0), 0x5678_9abc);
        assert_eq!(short_to_ns(65_536), 1_000_000_000);
        assert_eq!(short_to_ns(32_768), 500_000_000);
        assert_eq!(short_diff_to_ns(-65_536), -1_000_000_000);
    }

    #[test]
    fn history_finds_older_srs_and_forgets_oldest() {
        let mut h = SrHistory::default();
        for i in 0..(SR_HISTORY as u64 + 2) {
            h.push(SrEntry {
                ntp: i << 32,
                capture_ns: i as i64,
                ..SrEntry::default()
            });
        }
        assert_eq!(
            h.latest().map(|e| e.capture_ns),
            Some(SR_HISTORY as i64 + 1)
        );
        assert_eq!(h.find(ntp_middle(5 << 32)).map(|e| e.capture_ns), Some(5));
        assert!(h.find(ntp_middle(1 << 32)).is_none());
    }
}
