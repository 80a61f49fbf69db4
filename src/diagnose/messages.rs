//! The rules behind each finding code and its sentence (docs/quality.md, "Findings" has the
//! same table in words). Grouped by what they read: loss, timing, the media, visibility.

use super::{grade, Code, Facts, Finding, Severity, Side, Thresholds};

fn push(out: &mut Vec<Finding>, code: Code, severity: Severity, side: Side, message: String) {
    out.push(Finding {
        code,
        severity,
        side,
        message,
    });
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Loss before the probe (or before the media server), inside the media server, after the
/// probe, late discards, burstiness.
pub(super) fn loss(f: &Facts, t: &Thresholds, out: &mut Vec<Finding>) {
    if f.expected < t.min_expected_packets.max(1) {
        return;
    }
    let (warn, crit) = (t.loss_warning_percent, t.loss_critical_percent);
    let e = f.expected;
    match f.hop_split {
        Some((up, inside)) => {
            let p = percent(up, e);
            if let Some(s) = grade(p, warn, crit) {
                push(out, Code::LossUpstream, s, Side::Upstream, format!(
                    "{p:.1} % loss between the sender and the media server ({up} of {e} packets): the sender's network"));
            }
            let p = percent(inside, e);
            if let Some(s) = grade(p, warn, crit) {
                push(out, Code::LossInside, s, Side::Inside, format!(
                    "{p:.1} % of the packets that reached the media server were not forwarded ({inside} of {e}): inside the media server"));
            }
        }
        None => {
            let (m, p) = (f.missing, percent(f.missing, e));
            if let Some(s) = grade(p, warn, crit) {
                push(out, Code::LossUpstream, s, Side::Upstream, format!(
                    "{p:.1} % loss between the sender and this probe ({m} of {e} packets): the sender's network"));
            }
        }
    }
    if let Some(d) = f.loss_downstream.filter(|d| *d > 0) {
        let p = percent(d as u64, e);
        if let Some(s) = grade(p, warn, crit) {
            push(out, Code::LossDownstream, s, Side::Downstream, format!(
                "{p:.1} % loss between this probe and the receiver ({d} packets, from the receiver's RTCP reports): the receiver's network"));
        }
    }
    if f.video {
        return;
    }
    let (late, p) = (f.late, percent(f.late, e));
    if let Some(s) = grade(p, warn, crit) {
        let ms = f.buffer_ms;
        push(out, Code::LateLoss, s, Side::Upstream, format!(
            "{p:.1} % of packets ({late}) arrive too late for a {ms:.0} ms jitter buffer and would be discarded: jitter before the probe"));
    }
    if let (Some(b), Some(r)) = (f.burst_r, f.effective_loss_ratio) {
        let p = r * 100.0;
        if b >= t.burst_r_warning && p >= warn {
            push(out, Code::BurstyLoss, Severity::Warning, Side::Upstream, format!(
                "Loss comes in bursts (BurstR {b:.1} over {p:.1} % effective loss): it sounds worse than the same random loss; look for congestion or route flaps before the probe"));
        }
    }
}

/// Jitter, round trip, stalls, clock drift.
pub(super) fn timing(f: &Facts, t: &Thresholds, out: &mut Vec<Finding>) {
    if !f.video {
        let (w, c) = (t.jitter_warning_ms, t.jitter_critical_ms);
        let local = f.jitter_ms.and_then(|j| Some((j, grade(j, w, c)?)));
        let remote = f.remote_jitter_ms.and_then(|j| Some((j, grade(j, w, c)?)));
        match (local, remote) {
            (Some((j, s)), _) => push(out, Code::HighJitter, s, Side::Upstream, format!(
                "{j:.0} ms interarrival jitter at the probe (limit {w:.0} ms): the sender's network")),
            (None, Some((j, s))) => push(out, Code::HighJitter, s, Side::Downstream, format!(
                "The receiver reports {j:.0} ms jitter while the probe measures {:.0} ms (limit {w:.0} ms): the network after the probe",
                f.jitter_ms.unwrap_or(0.0))),
            (None, None) => {}
        }
    }
    if let Some((method, rtt)) = f.rtt {
        let owd = rtt / 2.0;
        let (w, c) = (t.one_way_delay_warning_ms, t.one_way_delay_critical_ms);
        if let Some(s) = grade(owd, w, c) {
            let side = if method == "capture_point" {
                Side::Downstream
            } else {
                Side::Unknown
            };
            push(out, Code::HighRtt, s, side, format!(
                "{owd:.0} ms one-way delay (round trip {rtt:.0} ms by {method}, halved) is over ITU-T G.114's {w:.0} ms: talkers will interrupt each other"));
        }
    }
    // A sender with comfort noise (RFC 3389) stops sending in silence: its gaps are judged
    // against four times the limit.
    let stall_ms = if f.comfort_noise {
        4.0 * t.stall_ms
    } else {
        t.stall_ms
    };
    if f.max_gap_ms >= stall_ms {
        let secs = f.max_gap_ms / 1e3;
        push(out, Code::MediaStalled, Severity::Warning, Side::Unknown, format!(
            "Media stopped for {secs:.1} s at once (limit {:.1} s): the sender paused or the path was down", stall_ms / 1e3));
    }
    if let Some(ppm) = f
        .clock_drift_ppm
        .filter(|p| p.abs() >= t.clock_drift_warning_ppm)
    {
        let way = if ppm > 0.0 { "fast" } else { "slow" };
        push(out, Code::ClockDrift, Severity::Warning, Side::Endpoint, format!(
            "The sender's RTP clock runs {:.0} ppm {way} against its own wall clock (its sender reports' timestamps): the receiver's jitter buffer must stretch or drop audio",
            ppm.abs()));
    }
}

/// Freezes, one-way media, restarts and collisions, payload changes.
pub(super) fn media(f: &Facts, t: &Thresholds, out: &mut Vec<Finding>) {
    if f.video && f.freezes >= t.freeze_warning_count.max(1) {
        let (n, ms) = (f.freezes, f.freeze_ms);
        push(out, Code::VideoFreeze, Severity::Warning, Side::Upstream, format!(
            "{n} video freeze(s), {:.1} s in all: frames arrived late or not at all before the probe", ms as f64 / 1e3));
    }
    // Without the receiver's reports passing the probe, the capture may simply not see the
    // way back (one direction mirrored, asymmetric routing): then it is only a note.
    if f.reverse_seen == Some(false) && f.duration_secs >= t.one_way_after_secs {
        let secs = f.duration_secs;
        if f.reports_seen {
            push(out, Code::OneWayMedia, Severity::Warning, Side::Endpoint, format!(
                "The receiver's RTCP reports come back past the probe but no media does, for {secs:.0} s: one-way audio or video (a muted or send-only endpoint, NAT or firewall)"));
        } else {
            push(out, Code::OneWayMedia, Severity::Info, Side::Unknown, format!(
                "No media seen in the opposite direction between these two hosts in {secs:.0} s: one-way media, or the capture sees one direction only"));
        }
    }
    if f.seq_restarts > 0 {
        let n = f.seq_restarts;
        push(out, Code::SsrcRestart, Severity::Warning, Side::Endpoint, format!(
            "The sequence numbers of SSRC {:#010x} restarted {n} time(s): the sender restarted its stream (RFC 3550 A.1)", f.ssrc));
    }
    if f.colliding {
        push(out, Code::SsrcCollision, Severity::Warning, Side::Endpoint, format!(
            "SSRC {:#010x} reaches this receiver from another sender too: an SSRC collision (RFC 3550 §8.2)", f.ssrc));
    }
    let main = several_media_payload_types(&f.payload_types);
    if main.len() > 1 {
        let list: Vec<String> = main.iter().map(u8::to_string).collect();
        push(
            out,
            Code::PayloadChange,
            Severity::Info,
            Side::Endpoint,
            format!(
                "The payload type changed during the stream ({}): a codec change",
                list.join(" → ")
            ),
        );
    }
}

/// Payload types that carry the media itself: comfort noise (13, 19) is left out, and when
/// the first type is a static audio one, dynamic types too (telephone events, RFC 4733, and
/// comfort noise ride on dynamic types beside a static codec).
fn media_payload_types(pts: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let static_audio = pts.first().is_some_and(|p| *p < 24);
    pts.iter()
        .copied()
        .filter(|p| *p != 13 && *p != 19)
        .filter(move |p| !(static_audio && *p >= 96))
}

/// The media payload types of `pts` if there are at least two, else an empty (unallocated)
/// list: records are built for every stream, most with one codec.
pub(super) fn several_media_payload_types(pts: &[u8]) -> Vec<u8> {
    if media_payload_types(pts).nth(1).is_some() {
        media_payload_types(pts).collect()
    } else {
        Vec::new()
    }
}

/// The probe's own limits: its drops, encrypted RTCP, no RTCP at all.
pub(super) fn visibility(f: &Facts, t: &Thresholds, out: &mut Vec<Finding>) {
    if f.probe_dropped > 0 || f.probe_drop {
        let what = if f.probe_dropped > 0 {
            format!("{} packets of this stream", f.probe_dropped)
        } else {
            "packets (kernel or interface drops) while this stream was active".to_string()
        };
        push(out, Code::ProbeOverload, Severity::Warning, Side::Probe, format!(
            "The probe itself dropped {what}: not the network's loss, but loss figures may be short"));
    }
    if f.srtcp {
        push(out, Code::LimitedVisibility, Severity::Info, Side::Probe,
            "RTCP is encrypted (SRTCP): receiver reports, downstream loss and round trips are not visible".to_string());
    } else if !f.rtcp_seen && f.duration_secs >= t.no_rtcp_after_secs {
        push(out, Code::NoRtcp, Severity::Info, Side::Endpoint, format!(
            "No RTCP about this stream in {:.0} s: no receiver reports, so no downstream loss or round trip", f.duration_secs));
    }
}
