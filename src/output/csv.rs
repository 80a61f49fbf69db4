//! One CSV row per stream with the same fields as the JSON, flattened: a nested key joins its
//! path with `_` (`remote.cumulative_lost` → `remote_cumulative_lost`), and RTT statistics put
//! the unit last (`rtt_ms.capture_point.last` → `rtt_capture_point_last_ms`). [`CSV_COLUMNS`] is
//! the one list of columns; docs/output.md documents it and a test holds the two equal. Values
//! containing a comma, quote or newline are quoted (RFC 4180); absent values are empty.

use crate::engine::record::StreamRecord;
use std::io::Write;

const METHODS: [&str; 4] = ["capture_point", "end_to_end", "sr_chain", "stun"];

/// Every CSV column, in order (docs/output.md, "CSV columns").
#[rustfmt::skip]
pub const CSV_COLUMNS: [&str; 150] = [
    "src", "dst", "ssrc", "payload_types", "clock_rate", "clock_rate_source", "packets", "bytes",
    "first_seen", "last_seen", "expected", "lost", "missing", "duplicates", "reordered",
    "seq_restarts", "max_gap_ms", "jitter_ms", "max_jitter_ms", "mean_jitter_ms",
    "rtt_capture_point_last_ms", "rtt_capture_point_min_ms", "rtt_capture_point_mean_ms",
    "rtt_capture_point_max_ms", "rtt_capture_point_samples",
    "rtt_end_to_end_last_ms", "rtt_end_to_end_min_ms", "rtt_end_to_end_mean_ms",
    "rtt_end_to_end_max_ms", "rtt_end_to_end_samples",
    "rtt_sr_chain_last_ms", "rtt_sr_chain_min_ms", "rtt_sr_chain_mean_ms",
    "rtt_sr_chain_max_ms", "rtt_sr_chain_samples",
    "rtt_stun_last_ms", "rtt_stun_min_ms", "rtt_stun_mean_ms", "rtt_stun_max_ms",
    "rtt_stun_samples",
    "remote_fraction_lost", "remote_cumulative_lost", "remote_ext_highest_seq",
    "remote_jitter_ms", "remote_reports", "loss_upstream", "loss_downstream",
    "sender_sender_reports", "sender_packet_count", "sender_octet_count",
    "feedback_nacks", "feedback_nack_packets", "feedback_plis", "feedback_firs",
    "feedback_remb_bps", "feedback_transport_cc", "cname", "ended_by", "srtcp", "probe_dropped",
    "probe_drop", "observed_at",
    // Audio (engine/audio), after observed_at so that earlier columns keep their positions.
    "burst_r", "burst_r_network", "loss_runs_1", "loss_runs_2", "loss_runs_3", "loss_runs_4-5",
    "loss_runs_6-10", "loss_runs_11-20", "loss_runs_21+", "burst_gap_burst_density",
    "burst_gap_gap_density", "burst_gap_burst_duration_ms", "burst_gap_gap_duration_ms",
    "burst_gap_network_burst_density", "burst_gap_network_gap_density",
    "burst_gap_network_burst_duration_ms", "burst_gap_network_gap_duration_ms",
    "jitter_buffer_fixed_ms", "jitter_buffer_fixed_late", "jitter_buffer_adaptive_late",
    "jitter_buffer_adaptive_mean_delay_ms", "jitter_buffer_adaptive_max_delay_ms",
    "effective_loss_ratio", "ptime_ms",
    "video_frames", "video_frame_rate", "video_frame_interval_mean_ms",
    "video_frame_interval_p95_ms", "video_freeze_count", "video_freeze_duration_ms",
    "video_pauses", "video_pause_duration_ms", "video_keyframes", "video_width", "video_height",
    "video_bitrate_bps", "video_keyframe_requests",
    "quality_codec", "quality_codec_source", "quality_scale", "quality_r_factor", "quality_mos",
    "quality_mos_lq", "quality_mos_cq", "quality_ppl", "quality_burst_r",
    "quality_one_way_delay_ms", "quality_rtt_half_ms", "quality_jitter_buffer_ms",
    "quality_codec_delay_ms", "quality_ptime_ms", "quality_ptime_source", "quality_ie",
    "quality_bpl", "quality_ie_eff", "quality_idd",
    "rtt_xr_last_ms", "rtt_xr_min_ms", "rtt_xr_mean_ms", "rtt_xr_max_ms", "rtt_xr_samples",
    "xr_voip_loss_rate",
    "xr_voip_discard_rate",
    "xr_voip_burst_density",
    "xr_voip_gap_density",
    "xr_voip_burst_duration_ms",
    "xr_voip_gap_duration_ms",
    "xr_voip_round_trip_delay_ms",
    "xr_voip_end_system_delay_ms",
    "xr_voip_signal_level_dbm",
    "xr_voip_noise_level_dbm",
    "xr_voip_rerl_db",
    "xr_voip_gmin",
    "xr_voip_r_factor",
    "xr_voip_ext_r_factor",
    "xr_voip_mos_lq",
    "xr_voip_mos_cq",
    "xr_voip_plc",
    "xr_voip_jitter_buffer",
    "xr_voip_jitter_buffer_rate",
    "xr_voip_jb_nominal_ms",
    "xr_voip_jb_max_ms",
    "xr_voip_jb_abs_max_ms",
    "xr_voip_reports",
    // Findings (crate::diagnose), most severe first, joined with `|`.
    "findings",
    "finding_severities",
    "finding_sides",
    "finding_messages",
];

/// Write the header row and one row per stream.
pub fn write_csv(streams: &[&StreamRecord], out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "{}", CSV_COLUMNS.join(","))?;
    for r in streams {
        writeln!(out, "{}", row(r).join(","))?;
    }
    Ok(())
}

pub(super) fn row(r: &StreamRecord) -> Vec<String> {
    fn o<T: ToString>(v: Option<T>) -> String {
        v.map_or(String::new(), |v| v.to_string())
    }
    let pts: Vec<String> = r.payload_types.iter().map(u8::to_string).collect();
    let mut v = vec![
        quote(&r.src),
        quote(&r.dst),
        r.ssrc.to_string(),
        quote(&pts.join(" ")),
        o(r.clock_rate),
        o(r.clock_rate_source),
        r.packets.to_string(),
        r.bytes.to_string(),
        r.first_seen.clone(),
        r.last_seen.clone(),
        r.expected.to_string(),
        r.lost.to_string(),
        r.missing.to_string(),
        r.duplicates.to_string(),
        r.reordered.to_string(),
        r.seq_restarts.to_string(),
        r.max_gap_ms.to_string(),
        o(r.jitter_ms),
        o(r.max_jitter_ms),
        o(r.mean_jitter_ms),
    ];
    for m in METHODS {
        let s = r.rtt_ms.get(m);
        v.push(o(s.map(|s| s.last)));
        v.push(o(s.map(|s| s.min)));
        v.push(o(s.map(|s| s.mean)));
        v.push(o(s.map(|s| s.max)));
        v.push(o(s.map(|s| s.samples)));
    }
    let rem = r.remote.as_ref();
    let snd = r.sender.as_ref();
    let fb = &r.feedback;
    v.extend([
        o(rem.map(|x| x.fraction_lost)),
        o(rem.map(|x| x.cumulative_lost)),
        o(rem.map(|x| x.ext_highest_seq)),
        o(rem.and_then(|x| x.jitter_ms)),
        o(rem.map(|x| x.reports)),
        o(r.loss_upstream),
        o(r.loss_downstream),
        o(snd.map(|x| x.sender_reports)),
        o(snd.map(|x| x.packet_count)),
        o(snd.map(|x| x.octet_count)),
        fb.nacks.to_string(),
        fb.nack_packets.to_string(),
        fb.plis.to_string(),
        fb.firs.to_string(),
        o(fb.remb_bps),
        fb.transport_cc.to_string(),
        quote(r.cname.as_deref().unwrap_or("")),
        r.ended_by.to_string(),
        r.srtcp.to_string(),
        r.probe_dropped.to_string(),
        r.probe_drop.to_string(),
        quote(&r.observed_at),
    ]);
    audio_cells(r, &mut v);
    let vid = r.video.as_ref();
    v.extend([
        o(vid.map(|x| x.frames)),
        o(vid.and_then(|x| x.frame_rate)),
        o(vid.and_then(|x| x.frame_interval_mean_ms)),
        o(vid.and_then(|x| x.frame_interval_p95_ms)),
        o(vid.map(|x| x.freeze_count)),
        o(vid.map(|x| x.freeze_duration_ms)),
        o(vid.map(|x| x.pauses)),
        o(vid.map(|x| x.pause_duration_ms)),
        o(vid.and_then(|x| x.keyframes)),
        o(vid.and_then(|x| x.width)),
        o(vid.and_then(|x| x.height)),
        o(vid.and_then(|x| x.bitrate_bps)),
        o(vid.map(|x| x.keyframe_requests)),
    ]);
    let q = r.quality.as_ref();
    v.extend([
        o(q.map(|q| q.codec)),
        o(q.map(|q| q.codec_source)),
        o(q.map(|q| q.scale)),
        o(q.map(|q| q.r_factor)),
        o(q.map(|q| q.mos)),
        o(q.map(|q| q.mos_lq)),
        o(q.and_then(|q| q.mos_cq)),
        o(q.map(|q| q.ppl)),
        o(q.map(|q| q.burst_r)),
        o(q.and_then(|q| q.one_way_delay_ms)),
        o(q.and_then(|q| q.rtt_half_ms)),
        o(q.and_then(|q| q.jitter_buffer_ms)),
        o(q.map(|q| q.codec_delay_ms)),
        o(q.map(|q| q.ptime_ms)),
        o(q.map(|q| q.ptime_source)),
        o(q.map(|q| q.ie)),
        o(q.map(|q| q.bpl)),
        o(q.map(|q| q.ie_eff)),
        o(q.map(|q| q.idd)),
    ]);
    let s = r.rtt_ms.get("xr");
    v.extend([
        o(s.map(|s| s.last)),
        o(s.map(|s| s.min)),
        o(s.map(|s| s.mean)),
        o(s.map(|s| s.max)),
        o(s.map(|s| s.samples)),
    ]);
    let x = r.xr_voip.as_ref();
    v.extend([
        o(x.map(|x| x.loss_rate)),
        o(x.map(|x| x.discard_rate)),
        o(x.map(|x| x.burst_density)),
        o(x.map(|x| x.gap_density)),
        o(x.map(|x| x.burst_duration_ms)),
        o(x.map(|x| x.gap_duration_ms)),
        o(x.map(|x| x.round_trip_delay_ms)),
        o(x.map(|x| x.end_system_delay_ms)),
        o(x.and_then(|x| x.signal_level_dbm)),
        o(x.and_then(|x| x.noise_level_dbm)),
        o(x.and_then(|x| x.rerl_db)),
        o(x.map(|x| x.gmin)),
        o(x.and_then(|x| x.r_factor)),
        o(x.and_then(|x| x.ext_r_factor)),
        o(x.and_then(|x| x.mos_lq)),
        o(x.and_then(|x| x.mos_cq)),
        o(x.map(|x| x.plc)),
        o(x.map(|x| x.jitter_buffer)),
        o(x.map(|x| x.jitter_buffer_rate)),
        o(x.map(|x| x.jb_nominal_ms)),
        o(x.map(|x| x.jb_max_ms)),
        o(x.map(|x| x.jb_abs_max_ms)),
        o(x.map(|x| x.reports)),
    ]);
    let join = |f: &dyn Fn(&crate::diagnose::Finding) -> &str| {
        r.findings.iter().map(f).collect::<Vec<_>>().join("|")
    };
    v.extend([
        join(&|f| f.code.name()),
        join(&|f| f.severity.name()),
        join(&|f| f.side.name()),
        join(&|f| &f.message),
    ]);
    v
}

/// The audio columns (docs/output.md, "Audio").
fn audio_cells(r: &StreamRecord, v: &mut Vec<String>) {
    fn o<T: ToString>(v: Option<T>) -> String {
        v.map_or(String::new(), |v| v.to_string())
    }
    v.push(o(r.burst_r));
    v.push(o(r.burst_r_network));
    let runs = r.loss_runs.map(|l| {
        [
            l.one,
            l.two,
            l.three,
            l.four_five,
            l.six_ten,
            l.eleven_twenty,
            l.more,
        ]
    });
    for i in 0..7 {
        v.push(o(runs.and_then(|b| b.get(i).copied())));
    }
    for bg in [r.burst_gap, r.burst_gap_network] {
        v.push(o(bg.map(|b| b.burst_density)));
        v.push(o(bg.map(|b| b.gap_density)));
        v.push(o(bg.and_then(|b| b.burst_duration_ms)));
        v.push(o(bg.and_then(|b| b.gap_duration_ms)));
    }
    let jb = r.jitter_buffer;
    v.push(o(jb.map(|j| j.fixed_ms)));
    v.push(o(jb.map(|j| j.fixed_late)));
    v.push(o(jb.map(|j| j.adaptive_late)));
    v.push(o(jb.and_then(|j| j.adaptive_mean_delay_ms)));
    v.push(o(jb.and_then(|j| j.adaptive_max_delay_ms)));
    v.push(o(r.effective_loss_ratio));
    v.push(o(r.ptime_ms));
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_every_column() {
        let r = crate::export::test_record();
        assert_eq!(row(&r).len(), CSV_COLUMNS.len());
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quote("plain"), "plain");
    }
}
