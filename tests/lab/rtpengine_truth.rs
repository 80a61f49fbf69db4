//! The `relay` scenario against rtpengine's own figures (issue 14, "against real software").
//!
//! rtpengine (10.5, Debian) keeps, per SSRC, what the RTCP receiver reports it relays say
//! (daemon/ssrc.c `ssrc_receiver_report`): each RR block from reporter X about a stream becomes a
//! "stats block" filed under **X** (the reporter's SSRC, as rtpbin reports from the SSRC it sends
//! in that session): the block's fraction lost in %, its jitter in ms (RTP units over the
//! payload type's clock rate), the end-to-end RTT (this leg's RFC 3550 RTT at rtpengine plus the
//! other leg's last one) and a MOS (`mos_calc`, transcribed below). `query` returns, per
//! reporter SSRC, the last block's cumulative loss and the average, lowest and highest blocks.
//! The probe sees the same reports on the same wire (the leg between rtpengine and the
//! reporter), so:
//!
//! * **cumulative loss** is not only the reports' figure: rtpengine files the last RR block's
//!   cumulative lost from X under X, and then its own RTP loss tracker for the SSRC X *sends*
//!   (daemon/codec.c, a 32-packet window) *adds* each loss it sees to the same field. So the
//!   value is the last report of X about the stream it receives (the probe's
//!   `remote.cumulative_lost` on that stream, the same RR on the same wire) plus the losses of
//!   X's own RTP that rtpengine saw after that report: between 0 and all the losses of X's
//!   stream as it left the middlebox (its egress `lost` at the probe). The lab saw 66 + 5 = 71
//!   and 9 + 4 = 13 for the caller's streams (the caller's last RR came before its last RTP),
//!   exactly the RR for the callee's;
//! * rtpengine's **MOS formula** is checked on its own lowest and highest blocks (their inputs
//!   and MOS are both in the reply), so the transcription is exact;
//! * **jitter** is printed, not compared: rtpengine averages each retained block's jitter
//!   truncated to whole ms (2–4 ms here), the probe keeps the last report's (2.8–4.2 ms);
//! * **our MOS against theirs**: rtpengine's is the PingPlotter approximation (effective latency
//!   = RTT + 2 × jitter + 10 ms; R = 93.2 − latency/40; R −= 2.5 × loss %), averaged over
//!   reports; ours is the G.107 E-model with G.711's Bpl 25.1 (Appendix I PLC), BurstR from the
//!   loss runs, and the delay of a jitter buffer. For G.711 at the lab's 5–7 % loss and ~48 ms
//!   RTT both put the call at 3.7–3.8 (rtpengine 3.7 and 3.8, the probe 3.74 and 3.81); they differ by design at high loss (the E-model's
//!   Ie,eff saturates, theirs is linear). The test asserts the two agree within
//!   [`MOS_TOLERANCE`] for the audio streams, and prints both.
//!
//! Video streams: rtpengine computes the same MOS for VP8 (it does not know it is video); the
//! probe gives none (no E-model for video). Only loss and jitter are compared for them.

use crate::topo::{CALLEE_IP, CALLER_IP, MB_IP};
use crate::truth::ip_of;
use crate::Outcome;
use serde_json::Value;

/// Largest difference allowed between our MOS-CQ and rtpengine's average MOS on an audio
/// stream (see the module comment for why they differ at all): rtpengine's average is truncated
/// to 0.1 and taken over reports at least a second apart, ours over the whole call.
pub const MOS_TOLERANCE: f64 = 0.4;

/// rtpengine's `mos_calc` (daemon/ssrc.c, MOS-CQ, the default): inputs as in its stats block
/// (RTT in µs, jitter in ms, loss in %), result × 10 truncated; 0 when R is out of range.
pub fn rtpengine_mos(rtt_us: i64, jitter_ms: i64, loss_pct: i64) -> i64 {
    let eff_rtt = rtt_us / 1000 + jitter_ms * 2 + 10;
    let mut r = if eff_rtt < 160 {
        93.2 - eff_rtt as f64 / 40.0
    } else {
        93.2 - (eff_rtt - 120) as f64 / 10.0
    };
    r -= loss_pct as f64 * 2.5;
    let intmos = if r < 0.0 {
        10
    } else {
        let mos = 1.0 + 0.035 * r + 0.000007 * r * (r - 60.0) * (100.0 - r);
        (mos * 10.0) as i64
    };
    if intmos < 10 {
        0
    } else {
        intmos
    }
}

pub fn check(o: &Outcome, query: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let streams = o.replay.0["streams"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(ssrcs) = query["SSRC"].as_object().filter(|m| !m.is_empty()) else {
        return vec![format!("rtpengine's query has no SSRC figures: {query}")];
    };
    let mut audio_compared = 0;
    for (key, ent) in ssrcs {
        let Ok(reporter) = key.parse::<u64>() else {
            problems.push(format!("rtpengine SSRC key {key:?} is not a number"));
            continue;
        };
        // The reporter's own stream as it enters the middlebox tells its end and media.
        let Some(own) = streams
            .iter()
            .find(|s| s["ssrc"].as_u64() == Some(reporter) && ip_of(&s["dst"]) == MB_IP)
        else {
            problems.push(format!(
                "reporter {reporter:#x}: no stream of it at the probe"
            ));
            continue;
        };
        let reporter_ip = ip_of(&own["src"]).to_owned();
        let sender_ip = if reporter_ip == CALLER_IP {
            CALLEE_IP
        } else {
            CALLER_IP
        };
        let rate = own["clock_rate"].as_u64();
        // The stream the reporter receives: from the middlebox to it, of the other end's SSRC
        // with the same clock rate (one stream per media and direction in this lab).
        let egress: Vec<&Value> = streams
            .iter()
            .filter(|s| {
                ip_of(&s["src"]) == MB_IP
                    && ip_of(&s["dst"]) == reporter_ip
                    && s["clock_rate"].as_u64() == rate
                    && s["ssrc"].as_u64() != Some(reporter)
            })
            .collect();
        let [egress] = egress.as_slice() else {
            problems.push(format!(
                "reporter {reporter:#x}: {} streams it receives at rate {rate:?}, not 1",
                egress.len()
            ));
            continue;
        };
        let name = format!(
            "rtpengine: SSRC {:#x} from {sender_ip} as reported by {reporter:#x}",
            egress["ssrc"].as_u64().unwrap_or(0)
        );
        let avg = &ent["average MOS"];
        let remote = &egress["remote"];
        eprintln!(
            "{name}: rtpengine cumulative loss {}, average {}; probe remote {}, quality {}",
            ent["cumulative loss"], avg, remote, egress["quality"]
        );
        // X's own stream as rtpengine received it: the one leaving the middlebox with X's SSRC.
        let own_lost = streams
            .iter()
            .find(|s| s["ssrc"].as_u64() == Some(reporter) && ip_of(&s["src"]) == MB_IP)
            .and_then(|s| s["lost"].as_i64());
        match (
            ent["cumulative loss"].as_i64(),
            remote["cumulative_lost"].as_i64(),
            own_lost,
        ) {
            (Some(theirs), Some(rr), Some(own)) if (rr..=rr + own).contains(&theirs) => {}
            (theirs, rr, own) => problems.push(format!(
                "{name}: cumulative loss rtpengine {theirs:?}, not the last report's {rr:?} plus \
                 0..={own:?} of the reporter's own losses"
            )),
        }
        for which in ["lowest MOS", "highest MOS"] {
            let b = &ent[which];
            let (Some(rtt), Some(jit), Some(loss), Some(mos)) = (
                b["round-trip time"].as_i64(),
                b["jitter"].as_i64(),
                b["packet loss"].as_i64(),
                b["MOS"].as_i64(),
            ) else {
                problems.push(format!("{name}: {which} incomplete: {b}"));
                continue;
            };
            if rtpengine_mos(rtt, jit, loss) != mos {
                problems.push(format!(
                    "{name}: {which} {mos} but its formula gives {} from its inputs {b}",
                    rtpengine_mos(rtt, jit, loss)
                ));
            }
        }
        if rate == Some(8000) {
            audio_compared += 1;
            let theirs = avg["MOS"].as_f64().map(|m| m / 10.0);
            let ours = egress["quality"]["mos_cq"].as_f64();
            eprintln!("{name}: MOS rtpengine {theirs:?}, probe MOS-CQ {ours:?}");
            match (theirs, ours) {
                (Some(t), Some(u)) if (t - u).abs() <= MOS_TOLERANCE => {}
                _ => problems.push(format!(
                    "{name}: MOS rtpengine {theirs:?}, probe MOS-CQ {ours:?} (tolerance \
                     {MOS_TOLERANCE})"
                )),
            }
        }
    }
    if audio_compared != 2 {
        problems.push(format!(
            "rtpengine: {audio_compared} audio streams compared, not 2 (one per direction)"
        ));
    }
    problems
}
