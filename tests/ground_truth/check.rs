//! Report ↔ truth comparison shared by the ground-truth tests. Mismatches are collected, not
//! raised one by one, so a failure lists everything that differs.

use rtcprobe::config::Resolved;
use rtcprobe::engine::record::{RttSummary, StreamRecord};
use rtcprobe::replay::{Report, Run};
use rtcprobe::synth::{Capture, StreamTruth, Truth};
use rtcprobe::wire::LinkType;
use std::fmt::Debug;

/// RTT tolerance: 0.1 ms.
pub const RTT_TOL_MS: f64 = 0.1;
/// Jitter tolerance: 0.1 % of the truth.
pub const JITTER_REL: f64 = 1e-3;

/// Feed every frame of `c` straight into the decode-and-track loop, each with its own link type.
pub fn run_frames(c: &Capture, cfg: Resolved) -> Report {
    let mut run = Run::new(cfg);
    for f in &c.frames {
        let link = LinkType::from_dlt(f.linktype as i32)
            .unwrap_or_else(|| panic!("synth wrote unsupported link type {}", f.linktype));
        run.frame(link, f.ts_ns, &f.bytes);
    }
    let lt = c.frames.first().map_or(1, |f| f.linktype as i32);
    run.finish("synthetic".into(), lt, None)
}

/// The report's streams for a truth stream, by (src, dst, ssrc).
pub fn records<'a>(r: &'a Report, t: &StreamTruth) -> Vec<&'a StreamRecord> {
    let (src, dst) = (t.src.to_string(), t.dst.to_string());
    r.streams
        .iter()
        .filter(|s| s.src == src && s.dst == dst && s.ssrc == t.ssrc)
        .collect()
}

/// Collected mismatches.
#[derive(Default)]
pub struct Diffs(pub Vec<String>);

impl Diffs {
    pub fn eq<T: PartialEq + Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            self.0.push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }

    pub fn close(&mut self, what: &str, got: f64, want: f64, tol: f64) {
        // Written so that NaN fails.
        let within = (got - want).abs() <= tol;
        if !within {
            self.0
                .push(format!("{what}: got {got}, want {want} (± {tol})"));
        }
    }

    /// Jitter within 0.1 % of the truth, or within `abs_ms` when the capture clock is coarser
    /// than a nanosecond (see `files.rs`).
    pub fn jitter(&mut self, what: &str, got: Option<f64>, want_ms: f64, abs_ms: f64) {
        match got {
            Some(g) => self.close(what, g, want_ms, (want_ms * JITTER_REL).max(abs_ms)),
            None => self.0.push(format!("{what}: not reported")),
        }
    }

    /// One RTT method: reported iff the truth has it; last, min and max within 0.1 ms (every
    /// synthetic exchange of one method on one stream has the same RTT).
    pub fn rtt(&mut self, what: &str, got: Option<&RttSummary>, want_ns: Option<i64>) {
        match (got, want_ns) {
            (None, None) => {}
            (Some(g), Some(w)) => {
                let w = w as f64 / 1e6;
                self.close(&format!("{what}.last"), g.last, w, RTT_TOL_MS);
                self.close(&format!("{what}.min"), g.min, w, RTT_TOL_MS);
                self.close(&format!("{what}.max"), g.max, w, RTT_TOL_MS);
            }
            (g, w) => self
                .0
                .push(format!("{what}: reported {g:?}, truth {w:?} ns")),
        }
    }

    /// Panic listing every mismatch, if any.
    pub fn assert_none(self, context: &str) {
        assert!(
            self.0.is_empty(),
            "{context}: {} mismatches:\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
    }
}

/// Every per-stream value against the truth; the stream ended by BYE if the truth sent one,
/// else at the end of the capture.
pub fn stream(d: &mut Diffs, rec: &StreamRecord, t: &StreamTruth, jitter_abs_ms: f64) {
    let ended_by = if t.bye { "bye" } else { "end_of_capture" };
    stream_ended(d, rec, t, jitter_abs_ms, ended_by);
}

/// [`stream`] with the expected `ended_by`.
pub fn stream_ended(
    d: &mut Diffs,
    rec: &StreamRecord,
    t: &StreamTruth,
    jitter_abs_ms: f64,
    ended_by: &str,
) {
    let id = format!("{} -> {} ssrc {:#x}", t.src, t.dst, t.ssrc);
    let at = |k: &str| format!("{id}: {k}");
    d.eq(&at("packets"), rec.packets, t.packets);
    d.eq(&at("expected"), rec.expected, t.expected);
    d.eq(&at("lost"), rec.lost, t.lost);
    d.eq(&at("duplicates"), rec.duplicates, t.duplicates);
    d.eq(&at("reordered"), rec.reordered, t.reordered);
    d.eq(
        &at("seq_restarts"),
        rec.seq_restarts,
        u64::from(t.seq_restarts),
    );
    d.eq(&at("clock_rate"), rec.clock_rate, Some(t.clock_rate));
    d.eq(
        &at("payload_types"),
        rec.payload_types.clone(),
        vec![t.payload_type],
    );
    d.jitter(&at("jitter_ms"), rec.jitter_ms, t.jitter_ms, jitter_abs_ms);
    let m = |k: &str| rec.rtt_ms.get(k);
    d.rtt(
        &at("rtt capture_point"),
        m("capture_point"),
        t.rtt_capture_point_ns,
    );
    d.rtt(&at("rtt end_to_end"), m("end_to_end"), t.rtt_end_to_end_ns);
    d.rtt(&at("rtt sr_chain"), m("sr_chain"), t.rtt_sr_chain_ns);
    d.rtt(&at("rtt stun"), m("stun"), t.rtt_stun_ns);
    d.rtt(&at("rtt xr"), m("xr"), t.rtt_xr_ns);
    match (&rec.remote, &t.remote) {
        (None, None) => {}
        (Some(g), Some(w)) => {
            d.eq(
                &at("remote.fraction_lost"),
                g.fraction_lost,
                f64::from(w.fraction_lost) / 256.0,
            );
            d.eq(
                &at("remote.cumulative_lost"),
                g.cumulative_lost,
                i64::from(w.cumulative_lost),
            );
            d.eq(
                &at("remote.ext_highest_seq"),
                g.ext_highest_seq,
                w.ext_highest_seq,
            );
            let want = f64::from(w.jitter) * 1e3 / f64::from(t.clock_rate);
            d.close(
                &at("remote.jitter_ms"),
                g.jitter_ms.unwrap_or(f64::NAN),
                want,
                1e-9,
            );
        }
        (g, w) => {
            d.0.push(format!("{id}: remote reported {g:?}, truth {w:?}"))
        }
    }
    // Loss split at the probe. The synthetic receiver sees exactly what the probe saw, so the
    // truth is: upstream = sequence numbers never captured, downstream = 0 (duplicates lower
    // the receiver's cumulative_lost, RFC 3550 A.3, and the probe subtracts them too). Left out
    // on purpose: after a restart the probe counts missing numbers of the current segment only
    // (an RFC 3550 A.1 receiver re-initialises there too), while the synthetic receiver's
    // cumulative_lost spans both segments.
    if t.remote.is_some() && t.seq_restarts == 0 {
        let missing = t.lost + t.duplicates as i64;
        d.eq(&at("loss_upstream"), rec.loss_upstream, Some(missing));
        d.eq(&at("loss_downstream"), rec.loss_downstream, Some(0));
    }
    let (f, w) = (&rec.feedback, &t.feedback);
    d.eq(&at("feedback.nacks"), f.nacks, w.nacks);
    d.eq(&at("feedback.nack_packets"), f.nack_packets, w.nack_packets);
    d.eq(&at("feedback.plis"), f.plis, w.plis);
    d.eq(&at("feedback.firs"), f.firs, w.firs);
    d.eq(&at("feedback.remb_bps"), f.remb_bps, w.remb_bps);
    d.eq(&at("feedback.transport_cc"), f.transport_cc, w.transport_cc);
    d.eq(&at("cname"), rec.cname.clone(), t.cname.clone());
    d.eq(&at("ended_by"), rec.ended_by, ended_by);
    d.eq(&at("srtcp"), rec.srtcp, false);
}

/// Every truth stream reported exactly once, nothing else reported, every stream value and the
/// capture-wide counters equal to the truth.
pub fn report(d: &mut Diffs, r: &Report, truth: &Truth, jitter_abs_ms: f64) {
    for t in &truth.streams {
        match records(r, t)[..] {
            [rec] => stream(d, rec, t, jitter_abs_ms),
            ref v => d.0.push(format!(
                "{} -> {} ssrc {:#x}: {} records",
                t.src,
                t.dst,
                t.ssrc,
                v.len()
            )),
        }
    }
    let s = &r.summary;
    let c = &s.counters;
    d.eq("streams", s.streams, truth.streams.len());
    d.eq(
        "streams_created",
        c.streams_created,
        truth.streams.len() as u64,
    );
    d.eq("frames", s.frames, truth.frames);
    d.eq(
        "turn_channel_data",
        c.turn_channel_data,
        truth.turn_channel_data,
    );
    d.eq(
        "turn_indications",
        c.turn_indications,
        truth.turn_indications,
    );
    d.eq(
        "stun_messages",
        c.stun_messages,
        truth.stun_requests + truth.stun_responses,
    );
    d.eq("stun_rtt_samples", c.stun_rtt_samples, truth.stun_responses);
    d.eq("srtcp_packets", c.srtcp_packets, truth.noise.srtcp);
    d.eq("other_udp", c.other_udp, truth.noise.udp);
    let undecoded = |k: &str| s.undecoded.get(k).copied().unwrap_or(0);
    d.eq(
        "undecoded.ip_fragment",
        undecoded("ip_fragment"),
        truth.noise.ip_fragments,
    );
    // TCP is decoded (media over TCP, `rtcprobe::tcp`): the noise segments reach the
    // reassembler, which frames nothing out of them.
    d.eq("undecoded.not_udp", undecoded("not_udp"), 0);
    d.eq("tcp.segments", s.tcp.segments, truth.noise.tcp);
    d.eq(
        "tcp frames",
        s.tcp.rfc4571_frames + s.tcp.turn_channel_data + s.tcp.turn_stun,
        0,
    );
    d.eq(
        "undecoded total",
        s.undecoded.values().sum::<u64>(),
        truth.noise.ip_fragments,
    );
    // The first packet after a restart is an A.1 `bad_seq`: seen, but counted apart.
    let held: u64 = truth.streams.iter().map(|t| t.restart_dropped).sum();
    let rtp: u64 = truth.streams.iter().map(|t| t.packets).sum();
    d.eq("rtp_packets", c.rtp_packets, rtp + held);
    d.eq("rtp_unvalidated", c.rtp_unvalidated, held);
    for (k, v) in [
        ("rtp_invalid", c.rtp_invalid),
        ("rtcp_malformed", c.rtcp_malformed),
        ("rtcp_unmatched", c.rtcp_unmatched),
        ("streams_evicted", c.streams_evicted),
        ("candidates_dropped", c.candidates_dropped),
        ("port_filtered", c.port_filtered),
    ] {
        d.eq(k, v, 0);
    }
    // Feedback totals by kind: nothing attributed to the wrong stream or lost.
    let sum = |f: &dyn Fn(&StreamRecord) -> u64| r.streams.iter().map(f).sum::<u64>();
    let kind = |k: &str| truth.rtcp.get(k).copied().unwrap_or(0);
    d.eq("nacks", sum(&|s| s.feedback.nacks), kind("nack"));
    d.eq("plis", sum(&|s| s.feedback.plis), kind("pli"));
    d.eq("firs", sum(&|s| s.feedback.firs), kind("fir"));
    d.eq(
        "transport_cc",
        sum(&|s| s.feedback.transport_cc),
        kind("twcc"),
    );
}
