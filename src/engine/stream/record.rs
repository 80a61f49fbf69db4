//! The record of a stream ([`Stream::record`]): what replay, `/streams` and the sinks report,
//! built from the stream's state when asked (never on the packet path).

use super::super::jitter::Jitter;
use super::super::record::{rfc3339_micros, RemoteReport, RttSummary, StreamRecord};
use super::super::rtt::{RttMethod, RttStats};
use super::super::EndReason;
use super::{CaptureDrops, ClockSource, Cold, Stream, VIDEO_RATE};
use std::collections::BTreeMap;

impl Stream {
    /// The stream's record, as it stands now. `stun` replaces the stream's own STUN RTT slot
    /// (STUN round trips are tracked per 5-tuple pair, outside the stream); `drops` are the
    /// engine's capture drops.
    pub fn record(
        &self,
        ended_by: EndReason,
        stun: Option<&RttStats>,
        drops: CaptureDrops,
    ) -> StreamRecord {
        let (rate, source, jitter) = self.clock();
        let no_cold = Cold::default();
        let cold = self.cold().unwrap_or(&no_cold);
        let probe_drop_at = self.probe_drop_at(drops);
        // Jitter needs a rate and two packets; an inferred rate that is not a common one has no
        // estimator (it is reported, the jitter is null).
        let jitter = jitter.filter(|j| j.samples() > 0);
        let jit = |f: &dyn Fn(&Jitter, u32) -> f64| jitter.zip(rate).map(|(j, r)| f(j, r) * 1e3);
        let mut rtt_ms = BTreeMap::new();
        for m in RttMethod::ALL {
            let stats = match (m, stun) {
                (RttMethod::Stun, Some(s)) => Some(s),
                _ => m.stream_slot().and_then(|i| cold.rtt.get(i)),
            };
            if let Some(s) = stats.filter(|s| s.samples > 0) {
                rtt_ms.insert(
                    m.name(),
                    RttSummary {
                        last: s.last_ns as f64 / 1e6,
                        min: s.min_ns as f64 / 1e6,
                        mean: s.mean_ns().unwrap_or(0.0) / 1e6,
                        max: s.max_ns as f64 / 1e6,
                        samples: s.samples,
                    },
                );
            }
        }
        // Packets the probe dropped itself are missing at the probe but were not lost in the
        // network: they come off every loss figure (and are reported as `probe_dropped`).
        // Drops after the highest sequence number received (the stream's tail) were never
        // counted as missing, so at most the counted loss is taken back.
        let probe_dropped = i64::try_from(cold.probe_dropped)
            .unwrap_or(i64::MAX)
            .min(self.seq.lost().max(0));
        let upstream = self
            .seq
            .missing_upto(self.seq.highest_ext_seq())
            .map_or(self.seq.lost().max(0), |m| m as i64)
            - probe_dropped;
        let lost = self.seq.lost() - probe_dropped;
        let missing = u64::try_from(
            lost.saturating_add(i64::try_from(self.seq.duplicates()).unwrap_or(i64::MAX)),
        )
        .unwrap_or(0);
        // A dynamic payload type whose inferred rate turned out to be 90 kHz is video: no audio.
        let audio = self
            .audio_record(
                !matches!(ended_by, EndReason::Active),
                self.seq.expected(),
                missing,
            )
            .filter(|_| rate != Some(90_000));
        StreamRecord {
            src: addr(&self.key.src),
            dst: addr(&self.key.dst),
            ssrc: self.key.ssrc,
            // Named by the engine, which holds the names (Engine::record_of).
            observed_at: String::new(),
            payload_types: self.pts.iter().take(self.n_pts.into()).copied().collect(),
            clock_rate: rate,
            clock_rate_source: source.map(ClockSource::name),
            packets: self.packets,
            bytes: self.bytes,
            first_seen: rfc3339_micros(self.first_seen),
            last_seen: rfc3339_micros(self.latest_seen()),
            expected: self.seq.expected(),
            lost,
            missing,
            // Live: only what can no longer arrive; ended: everything. Less every packet the
            // probe dropped (live, some may not be settled yet): never above the final value.
            lost_settled: match ended_by {
                EndReason::Active => self.seq.lost_settled(),
                _ => self.seq.lost_final(),
            }
            .saturating_sub(cold.probe_dropped),
            duplicates: self.seq.duplicates(),
            reordered: self.seq.reordered(),
            seq_restarts: self.seq.restarts(),
            max_gap_ms: self.max_gap_ns as f64 / 1e6,
            jitter_ms: jit(&|j, r| j.jitter_secs(r)),
            max_jitter_ms: jit(&|j, r| j.max_secs(r)),
            mean_jitter_ms: jit(&|j, r| j.mean_secs(r)),
            rtt_ms,
            remote: cold.remote.map(|r| RemoteReport {
                fraction_lost: f64::from(r.fraction_lost) / 256.0,
                cumulative_lost: i64::from(r.cumulative_lost),
                ext_highest_seq: r.ext_highest_seq,
                jitter_ms: rate.map(|rate| f64::from(r.jitter) * 1e3 / f64::from(rate)),
                reports: r.reports,
            }),
            loss_upstream: cold.remote.map(|_| upstream),
            loss_downstream: cold
                .remote
                .and_then(|r| r.downstream)
                .map(|d| d + probe_dropped),
            sender: cold.sender,
            feedback: cold.feedback,
            cname: cold.cname.clone(),
            ended_by: ended_by.name(),
            srtcp: cold.srtcp,
            probe_dropped: cold.probe_dropped,
            probe_drop: probe_drop_at.is_some(),
            loss_split: None,
            burst_r: audio.and_then(|a| a.burst_r),
            burst_r_network: audio.and_then(|a| a.burst_r_network),
            loss_runs: audio.map(|a| a.loss_runs),
            burst_gap: audio.and_then(|a| a.burst_gap),
            burst_gap_network: audio.and_then(|a| a.burst_gap_network),
            jitter_buffer: audio.and_then(|a| a.jitter_buffer),
            effective_loss_ratio: audio.and_then(|a| a.effective_loss_ratio),
            ptime_ms: audio.and_then(|a| a.ptime_ms),
            audio_counters: audio.map(|a| a.counters),
            video: self.video().filter(|_| rate == Some(VIDEO_RATE)).map(|v| {
                let span = self.latest_seen().saturating_sub(self.first_seen);
                v.record(self.bytes, span, cold.feedback.plis + cold.feedback.firs)
            }),
            quality: None,
            findings: Vec::new(),
            xr_voip: cold.xr_voip.as_deref().copied(),
            configured_codec: None,
            signalled_codec: None,
            first_seen_ns: self.first_seen,
            last_seen_ns: self.latest_seen(),
            probe_drop_at_ns: probe_drop_at,
        }
    }
}

/// `addr:port`, IPv6 as `[addr]:port` (the std `SocketAddr` display does exactly this).
fn addr(a: &std::net::SocketAddr) -> String {
    a.to_string()
}
