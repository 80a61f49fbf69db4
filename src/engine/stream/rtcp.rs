//! What RTCP and the capture tell a stream about itself ([`Stream::on_report`],
//! [`Stream::on_sr`], RTT samples, probe drops): the stream's side of the engine's RTCP
//! handling, off the packet path.

use super::super::record::SenderInfo;
use super::super::rtt::{self, RttMethod, RttStats, SrEntry};
use super::{CaptureDrops, Remote, Stream, RECENT_DUPS};

impl Stream {
    /// Record a report block about this stream (RFC 3550 §6.4.1) and compute loss after the probe.
    pub fn on_report(
        &mut self,
        fraction_lost: u8,
        cumulative_lost: i32,
        ext_highest_seq: u32,
        jitter: u32,
    ) {
        let ext = self.seq.ext_from_report(ext_highest_seq);
        let downstream = self
            .seq
            .missing_upto(ext)
            .map(|missing| i64::from(cumulative_lost) - self.lost_upto(ext, missing));
        let c = self.cold_mut();
        let reports = c.remote.map_or(0, |r| r.reports) + 1;
        c.remote = Some(Remote {
            fraction_lost,
            cumulative_lost,
            ext_highest_seq,
            jitter,
            reports,
            downstream: downstream.or(c.remote.and_then(|r| r.downstream)),
        });
    }

    /// The probe's own RFC 3550 A.3 loss up to `ext`: sequence numbers missing minus duplicates
    /// (a receiver counts duplicates as received, so its cumulative lost is lowered by every
    /// duplicate made before the probe too). Duplicates above `ext` are known for the most
    /// recent [`RECENT_DUPS`]; older ones are taken to be below it.
    fn lost_upto(&self, ext: u64, missing: u64) -> i64 {
        let total = self.seq.duplicates();
        let recent = total.min(RECENT_DUPS as u64) as usize;
        let above = self
            .cold()
            .and_then(|c| c.recent_dups.as_deref())
            .map_or(0, |d| d.iter().take(recent).filter(|&&d| d > ext).count())
            as u64;
        missing as i64 - (total - above) as i64
    }

    /// Add an RTT sample of `method` (not `stun`: see [`super::Cold::rtt`]); returns whether it was kept.
    pub fn add_rtt(&mut self, method: RttMethod, rtt_ns: i64) -> bool {
        let Some(slot) = method.stream_slot() else {
            return false;
        };
        self.cold_mut()
            .rtt
            .get_mut(slot)
            .is_some_and(|s| s.add(rtt_ns))
    }

    /// The statistics of `method` (not `stun`), if any sample came.
    pub fn rtt(&self, method: RttMethod) -> Option<&RttStats> {
        self.cold()?
            .rtt
            .get(method.stream_slot()?)
            .filter(|r| r.samples > 0)
    }

    /// SSRC that wrote the report of the latest `capture_point` sample ([`super::Cold::cp_reporter`]).
    pub fn cp_reporter(&self) -> Option<u32> {
        self.cold()?.cp_reporter
    }

    /// The most recent SR of this stream's sender whose NTP middle bits are `lsr`.
    pub fn sr(&self, lsr: u32) -> Option<&SrEntry> {
        self.cold()?.srs.find(lsr)
    }

    /// An SR of this stream's sender (RFC 3550 §6.4.1): remembered for RTTs, counters kept.
    pub fn on_sr(&mut self, entry: SrEntry, packet_count: u32, octet_count: u32) {
        let c = self.cold_mut();
        if c.first_sr[0] == 0 {
            c.first_sr = [rtt::ntp_middle(entry.ntp), entry.rtp_ts];
        }
        c.srs.push(entry);
        let n = c.sender.map_or(0, |i| i.sender_reports) + 1;
        c.sender = Some(SenderInfo {
            sender_reports: n,
            packet_count,
            octet_count,
        });
    }

    /// The probe dropped `packets` of this stream itself (0: an unknown number, from kernel or
    /// interface drop statistics). `drops_seen` is the engine's count of capture drops so far
    /// (see [`Stream::record`]).
    pub fn on_probe_drop(&mut self, now: i64, packets: u64, drops_seen: u64) {
        let c = self.cold_mut();
        c.probe_dropped += packets;
        c.probe_drop_at = Some((now, drops_seen));
    }

    /// The stream became live when the engine had counted `drops` capture drops (kernel or
    /// interface, [`CaptureDrops`]): later ones flag it.
    pub fn set_capture_drops_seen(&mut self, drops: u64) {
        // Wrapping: only whether the count moved matters (2^32 drops in one stream's life
        // are out of reach).
        self.capture_drops_seen = drops as u32;
    }

    /// Capture time of the latest probe drop that may have hit this stream: its own (pipeline)
    /// or a capture drop while it was live, whichever came last.
    pub(super) fn probe_drop_at(&self, drops: CaptureDrops) -> Option<i64> {
        let flagged = (drops.count as u32 != self.capture_drops_seen).then_some(drops.last_at);
        match self.cold().and_then(|c| c.probe_drop_at) {
            Some((at, seen)) if flagged.is_none() || seen == drops.count => Some(at),
            _ => flagged,
        }
    }
}
