//! Every metric rtcprobe exports, defined here and nowhere else: name, type and help text.
//!
//! Names follow the Prometheus naming conventions (prometheus.io/docs/practices/naming) and
//! node_exporter's habits: `rtcprobe_<subsystem>_<name>_<unit>`, base units (seconds, bytes,
//! ratios), counters end in `_total` and nothing else does. docs/metrics.md documents each
//! one with its labels; the test below keeps the rules.

/// Metric type, as in the exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
}

impl Type {
    pub fn as_str(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        }
    }
}

/// One metric family.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Full name as in the Prometheus text format (counters with `_total`).
    pub name: &'static str,
    pub kind: Type,
    pub help: &'static str,
}

macro_rules! metrics {
    ($($id:ident = $name:literal, $kind:ident, $help:literal;)*) => {
        $(pub const $id: Metric = Metric { name: $name, kind: Type::$kind, help: $help };)*
        /// Every metric, in the order the exporter writes them.
        pub const ALL: &[Metric] = &[$($id),*];
    };
}

metrics! {
    BUILD_INFO = "rtcprobe_build_info", Gauge,
        "Always 1; the version and the Rust target in labels.";
    RTP_PACKETS = "rtcprobe_rtp_packets_total", Counter,
        "RTP packets received, duplicates included.";
    RTP_BYTES = "rtcprobe_rtp_bytes_total", Counter,
        "UDP payload bytes of RTP packets received.";
    RTP_LOST = "rtcprobe_rtp_lost_packets_total", Counter,
        "RTP sequence numbers missing at the probe that can no longer arrive (duplicates not subtracted).";
    RTP_LOST_UPSTREAM = "rtcprobe_rtp_lost_upstream_packets_total", Counter,
        "RTP packets lost before the probe, of streams with receiver reports.";
    RTP_LOST_DOWNSTREAM = "rtcprobe_rtp_lost_downstream_packets_total", Counter,
        "RTP packets lost after the probe: receiver-reported loss (RFC 3550 6.4.1) minus loss seen at the probe.";
    RTP_DUPLICATES = "rtcprobe_rtp_duplicate_packets_total", Counter,
        "RTP packets whose sequence number had already been received.";
    RTP_REORDERED = "rtcprobe_rtp_reordered_packets_total", Counter,
        "RTP packets that arrived after a packet with a higher sequence number.";
    RTP_JITTER_BUFFER_LATE = "rtcprobe_rtp_jitter_buffer_late_packets_total", Counter,
        "Audio RTP packets an emulated fixed jitter buffer (engine.jitter_buffer_ms) would discard as late.";
    RTP_PROBE_DROPPED = "rtcprobe_rtp_probe_dropped_packets_total", Counter,
        "RTP packets of known streams that the probe itself dropped (full pipeline queue); not in the loss counters.";
    VIDEO_FRAMES = "rtcprobe_video_frames_total", Counter,
        "Video streams: frames seen (distinct RTP timestamps); its rate is the frame rate.";
    VIDEO_FREEZES = "rtcprobe_video_freezes_total", Counter,
        "Video streams: freezes (W3C webrtc-stats freezeCount, libwebrtc's rule, on frame arrivals).";
    VIDEO_FREEZE_DURATION = "rtcprobe_video_freeze_duration_seconds_total", Counter,
        "Video streams: total duration of the freezes (webrtc-stats totalFreezesDuration).";
    VIDEO_PAUSES = "rtcprobe_video_pauses_total", Counter,
        "Video streams: pauses, no frame for more than 5 s (webrtc-stats pauseCount).";
    RTCP_FEEDBACK = "rtcprobe_rtcp_feedback_messages_total", Counter,
        "RTCP feedback received about the streams: generic NACK (RFC 4585), PLI (RFC 4585), FIR (RFC 5104).";
    RTCP_PACKETS = "rtcprobe_rtcp_packets_total", Counter,
        "RTCP datagrams by form: plain, srtcp (RFC 3711, not decrypted) or malformed.";
    RTCP_MESSAGES = "rtcprobe_rtcp_messages_total", Counter,
        "RTCP packets inside plain compounds by type: sr, rr, sdes, bye, app (RFC 3550), xr (RFC 3611), rtpfb, psfb (RFC 4585), other.";
    STREAMS_ACTIVE = "rtcprobe_streams_active", Gauge,
        "RTP streams live at the latest worker snapshot.";
    STREAMS_ENDED = "rtcprobe_streams_ended_total", Counter,
        "RTP streams that ended (BYE, idle, evicted, end of capture, shutdown).";
    JITTER = "rtcprobe_rtp_jitter_seconds", Histogram,
        "RFC 3550 A.8 interarrival jitter of each live stream, observed at each worker snapshot.";
    INTERVAL_LOSS = "rtcprobe_rtp_interval_loss_ratio", Histogram,
        "Loss ratio of each live stream over one snapshot interval (lost / expected, RFC 3550 A.3 deltas).";
    MOS = "rtcprobe_quality_mos_lq_score", Histogram,
        "E-model MOS-LQ (ITU-T G.107/G.107.1, 1 to 4.5) of each live stream with a known voice codec, observed at each worker snapshot.";
    FINDINGS = "rtcprobe_diagnostics_findings_total", Counter,
        "Findings (docs/quality.md) of the streams that ended, one per stream and code, by code and severity.";
    RTT = "rtcprobe_rtt_seconds", Histogram,
        "Latest round-trip time of each stream and method with new samples in a snapshot interval.";
    STREAM_PACKETS = "rtcprobe_stream_packets_total", Counter,
        "Per stream: RTP packets received.";
    STREAM_BYTES = "rtcprobe_stream_bytes_total", Counter,
        "Per stream: UDP payload bytes of RTP packets received.";
    STREAM_LOST = "rtcprobe_stream_lost_packets", Gauge,
        "Per stream: RFC 3550 A.3 cumulative lost (negative when duplicates outnumber losses).";
    STREAM_LOST_UPSTREAM = "rtcprobe_stream_lost_upstream_packets", Gauge,
        "Per stream: packets lost before the probe (streams with receiver reports).";
    STREAM_LOST_DOWNSTREAM = "rtcprobe_stream_lost_downstream_packets", Gauge,
        "Per stream: packets lost after the probe (streams with receiver reports).";
    STREAM_JITTER = "rtcprobe_stream_jitter_seconds", Gauge,
        "Per stream: current RFC 3550 A.8 interarrival jitter.";
    STREAM_RTT = "rtcprobe_stream_rtt_seconds", Gauge,
        "Per stream: latest round-trip time of each method.";
    CAPTURE_FRAMES = "rtcprobe_capture_frames_total", Counter,
        "Frames read by each capture thread.";
    CAPTURE_DROPPED = "rtcprobe_capture_dropped_packets_total", Counter,
        "Packets the probe did not analyse: kernel (buffer full), interface (driver) or pipeline (full worker queue).";
    CAPTURE_UNNAMED_POINT = "rtcprobe_capture_unnamed_point_frames_total", Counter,
        "Frames seen at an observation point past the 64 named per run (their streams are observed_at=other).";
    DECODE_ERRORS = "rtcprobe_decode_errors_total", Counter,
        "Frames or datagrams that did not decode, by bounded reason.";
    DATAGRAMS = "rtcprobe_engine_datagrams_total", Counter,
        "UDP datagrams by what the engine recognised them as.";
    STREAMS_EVICTED = "rtcprobe_engine_streams_evicted_total", Counter,
        "Streams evicted because the stream table was full (engine.max_streams).";
    RECORDS_DROPPED = "rtcprobe_pipeline_records_dropped_total", Counter,
        "Records of ended streams dropped because the records queue was full.";
    TCP_SEGMENTS = "rtcprobe_tcp_segments_total", Counter,
        "TCP segments seen by the reassembler (media over TCP).";
    TCP_CONNECTIONS = "rtcprobe_tcp_connections_total", Counter,
        "TCP connection directions by the framing recognised from their first bytes (rfc4571, turn, tls, other).";
    TCP_FRAMES = "rtcprobe_tcp_frames_total", Counter,
        "Frames taken out of TCP byte streams and analysed like UDP datagrams, by kind.";
    TCP_RETRANSMITTED = "rtcprobe_tcp_retransmitted_bytes_total", Counter,
        "TCP payload bytes already delivered (retransmissions, overlaps), dropped.";
    TCP_OUT_OF_ORDER = "rtcprobe_tcp_out_of_order_segments_total", Counter,
        "TCP segments held because they arrived ahead of a hole.";
    TCP_DROPPED = "rtcprobe_tcp_dropped_segments_total", Counter,
        "TCP segments not held: too far ahead of the stream, or larger than the per-connection cap.";
    TCP_GAPS = "rtcprobe_tcp_gaps_total", Counter,
        "Holes in TCP byte streams skipped (not filled within tcp.gap_timeout_ms or the buffer cap, or cut by the snap length).";
    TCP_GAP_BYTES = "rtcprobe_tcp_gap_bytes_total", Counter,
        "Bytes of the skipped holes.";
    TCP_RESYNC_SKIPPED = "rtcprobe_tcp_resync_skipped_bytes_total", Counter,
        "Bytes dropped while looking for the next frame boundary after a hole.";
    TCP_ENDED = "rtcprobe_tcp_ended_total", Counter,
        "TCP connection directions ended, by reason (fin, rst, idle).";
    TCP_EVICTIONS = "rtcprobe_tcp_evictions_total", Counter,
        "TCP connection directions evicted, by reason (table_full: tcp.max_connections; memory: tcp.max_buffer_bytes_total).";
    ICE_SESSIONS = "rtcprobe_ice_sessions_total", Counter,
        "ICE sessions ended, by outcome (connected, failed, no_media).";
    ICE_SESSIONS_ACTIVE = "rtcprobe_ice_sessions_active", Gauge,
        "ICE sessions tracked now (ice_turn.max_ice_sessions bounds them).";
    ICE_SESSIONS_REMOVED = "rtcprobe_ice_sessions_removed_total", Counter,
        "ICE sessions ended by the table, by reason (evicted: table full; idle).";
    ICE_CHECKS = "rtcprobe_ice_checks_total", Counter,
        "ICE connectivity checks seen (Binding requests with USERNAME).";
    ICE_ANSWERS = "rtcprobe_ice_check_answers_total", Counter,
        "ICE connectivity checks answered with a success response.";
    TURN_ALLOCATIONS = "rtcprobe_turn_allocations_total", Counter,
        "TURN allocations ended, by outcome (relayed, allocated, failed, unauthenticated, no_response).";
    TURN_ALLOCATIONS_ACTIVE = "rtcprobe_turn_allocations_active", Gauge,
        "TURN allocations tracked now (ice_turn.max_turn_allocations bounds them).";
    TURN_ALLOCATIONS_REMOVED = "rtcprobe_turn_allocations_removed_total", Counter,
        "TURN allocations ended by the table, by reason (evicted: table full; idle).";
    TURN_ERRORS = "rtcprobe_turn_error_responses_total", Counter,
        "TURN error responses, by kind (challenge: 401/438, the normal authentication round; error: any other code).";
    CALLS = "rtcprobe_calls_total", Counter,
        "Calls ended, by kind (sip) and outcome (answered, bye, failed, cancelled, timeout, setup).";
    SIP_MESSAGES = "rtcprobe_sip_messages_total", Counter,
        "SIP messages parsed, by kind (request, response).";
    SIP_MALFORMED = "rtcprobe_sip_malformed_messages_total", Counter,
        "SIP messages that did not parse (or had no Call-ID).";
    SIP_OUTSIDE_DIALOGS = "rtcprobe_sip_outside_dialog_messages_total", Counter,
        "SIP messages of no followed dialog (REGISTER, OPTIONS, dialogs begun before the capture).";
    SIP_DIALOGS = "rtcprobe_sip_dialogs", Gauge,
        "SIP dialogs followed now (at most sip.max_dialogs per capture thread).";
    SIP_DIALOG_EVICTIONS = "rtcprobe_sip_dialog_evictions_total", Counter,
        "SIP dialogs evicted because the dialog table was full (sip.max_dialogs); reported with outcome timeout.";
    HOP_FORWARDING_DELAY = "rtcprobe_hop_forwarding_delay_seconds", Histogram,
        "Middlebox hops: forwarding delay of each forwarded packet (egress minus ingress capture time).";
    HOP_PACKETS_IN = "rtcprobe_hop_packets_in_total", Counter,
        "Middlebox hops: ingress packets in the forwarded range, settled (forwarded, lost inside or evicted).";
    HOP_PACKETS_OUT = "rtcprobe_hop_packets_out_total", Counter,
        "Middlebox hops: egress packets that are copies of ingress packets.";
    HOP_LOST_INSIDE = "rtcprobe_hop_packets_lost_inside_total", Counter,
        "Middlebox hops: packets that arrived at the middlebox and were never forwarded (within 1 s).";
    HOP_LOST_UPSTREAM = "rtcprobe_hop_packets_lost_upstream_total", Counter,
        "Middlebox hops: sequence numbers of the forwarded range that never reached the middlebox.";
    HOP_LATE = "rtcprobe_hop_packets_late_total", Counter,
        "Middlebox hops: copies forwarded more than 1 s after their original (the original counts as lost inside).";
    HOP_RTX = "rtcprobe_hop_rtx_packets_total", Counter,
        "Middlebox hops: RTX repairs (RFC 4588) sent on the egress side; neither packets out nor loss.";
    HOPS_ACTIVE = "rtcprobe_hops_active", Gauge,
        "Middlebox hops still forwarding at the latest hop snapshot.";
    HOP_MATCHER_EVICTIONS = "rtcprobe_hop_matcher_evictions_total", Counter,
        "Hop matcher bounds that bit: streams evicted (table full) or in-flight packets pushed out unforwarded.";
    HOP_MATCHER_REFUSED = "rtcprobe_hop_matcher_refused_hops_total", Counter,
        "Hop pairings refused because the matcher's hop caps were reached.";
    HOP_MATCHER_INDEX_RESETS = "rtcprobe_hop_matcher_index_resets_total", Counter,
        "Times the hop matcher's SSRC index was cleared at its cap.";
    HOP_PAIR_PACKETS_OUT = "rtcprobe_hop_pair_packets_out_total", Counter,
        "Per hop: egress packets that are copies of ingress packets.";
    HOP_PAIR_LOST_INSIDE = "rtcprobe_hop_pair_packets_lost_inside_total", Counter,
        "Per hop: packets that arrived at the middlebox and were never forwarded.";
    HOP_PAIR_DELAY = "rtcprobe_hop_pair_forwarding_delay_seconds", Gauge,
        "Per hop: forwarding delay percentile (stat p50, p99) since the hop was paired.";
    HOP_JITTER_ADDED = "rtcprobe_hop_jitter_added_seconds", Gauge,
        "Per hop: jitter the middlebox added (RFC 3550 6.4.1 smoothing of forwarding delay changes).";
    HOPS_OMITTED = "rtcprobe_export_hops_omitted", Gauge,
        "Hops left out of per-hop series and /hops at this scrape (over exporter.max_stream_series).";
    FORWARD_SENT = "rtcprobe_forward_records_sent_total", Counter,
        "Records a sink delivered: accepted by the store, or written to the file of a file sink.";
    FORWARD_FAILED = "rtcprobe_forward_records_failed_total", Counter,
        "Records a sink lost: not written to the file, or rejected (4xx) and not kept in its dead-letter directory.";
    FORWARD_RETRIED = "rtcprobe_forward_records_retried_total", Counter,
        "Records in delivery attempts that failed and will be retried (once per failed attempt).";
    FORWARD_DROPPED = "rtcprobe_forward_records_dropped_total", Counter,
        "Records a sink dropped: its queue was full, or its disk buffer was full (the oldest go).";
    FORWARD_BUFFERED = "rtcprobe_forward_buffered_bytes", Gauge,
        "Bytes of records waiting in a sink's disk buffer (0 for file sinks).";
    FORWARD_LAST_SUCCESS = "rtcprobe_forward_last_success_timestamp_seconds", Gauge,
        "Unix time of a sink's last successful delivery (file sink: flush); 0 = none since start.";
    FORWARD_DEAD_LETTERED = "rtcprobe_forward_records_dead_lettered_total", Counter,
        "Records the store rejected for good (4xx), kept in the sink's dead-letter directory for rtcprobe resend.";
    FORWARD_DEAD_LETTER_BYTES = "rtcprobe_forward_dead_letter_bytes", Gauge,
        "Bytes of rejected batches waiting in a sink's dead-letter directory.";
    STREAMS_OMITTED = "rtcprobe_export_streams_omitted", Gauge,
        "Live streams left out of per-stream series at this scrape (over exporter.max_stream_series).";
    OMITTED_STREAM_SCRAPES = "rtcprobe_export_omitted_stream_scrapes_total", Counter,
        "Sum over scrapes of the streams left out of per-stream series.";
    SCRAPE_DURATION = "rtcprobe_export_scrape_duration_seconds", Gauge,
        "Time the previous scrape took to encode.";
    SCRAPES = "rtcprobe_export_scrapes_total", Counter,
        "Scrapes of /metrics served.";
    HEALTHY = "rtcprobe_daemon_healthy", Gauge,
        "1 while /healthz answers 200 (capture and workers running), else 0.";
    HTTP_CONNECTIONS = "rtcprobe_export_http_connections", Gauge,
        "Open connections to the endpoint (at most exporter.max_connections).";
    HTTP_CONNECTIONS_CLOSED = "rtcprobe_export_http_connections_closed_total", Counter,
        "Connections the endpoint closed or refused itself, by reason (evicted, refused, head_timeout, idle_timeout).";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions() {
        let mut seen = std::collections::BTreeSet::new();
        for m in ALL {
            assert!(m.name.starts_with("rtcprobe_"), "{}", m.name);
            assert!(
                m.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                m.name
            );
            assert_eq!(
                m.kind == Type::Counter,
                m.name.ends_with("_total"),
                "{}",
                m.name
            );
            // The OpenMetrics family name (counters without `_total`) must be unique too.
            let family = m.name.trim_end_matches("_total");
            assert!(seen.insert(family), "{} collides", m.name);
            assert!(!m.help.is_empty());
            for bad in ["_ms", "_milliseconds", "_percent", "_kbytes"] {
                assert!(!m.name.contains(bad), "{} is not in base units", m.name);
            }
        }
    }
}
