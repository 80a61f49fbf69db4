//! The hops of the `relay` and `forwarding` scenarios against the impairment logs, when the
//! replay reports them (`hops`, docs/output.md "hops[]"; issue 10, "What must be shown" 2).
//!
//! Both middleboxes keep the SSRC and sequence numbers, so a packet's extended sequence number
//! names it on both legs (truth.rs). For each stream, with `first`..`last` the span of the
//! sequence numbers that left the middlebox (the hop's range, as the matcher defines it):
//!
//! * `packets_in` = accepted by the sender's queue 1 (reached the probe's ingress capture) in
//!   that span; `packets_out` = accepted by the middlebox's queue 3 (reached the egress
//!   capture: neither rtpengine nor the kernel's forwarding lost any in the runs measured, and
//!   the egress stream's exact `packets` in truth.rs would say so);
//! * `lost_inside` = `packets_in` − `packets_out`; `lost_upstream` = the span − `packets_in`;
//!   `evicted`, `late` and `duplicates_out` 0 (the impairment never duplicates and holds a packet
//!   for at most 6 ms);
//! * the egress stream's `loss_split`: `upstream` and `inside_middlebox` as the hop's,
//!   `downstream` equal to `loss_downstream` as truth.rs checks it (the receiver's own count);
//! * `forwarding_delay.p50` within [`DELAY_TOLERANCE_MS`] of the median true forwarding delay:
//!   egress − ingress capture time of each forwarded packet, taken from the receiver's queue 2
//!   arrival and the sender's queue 1 release (each within microseconds of the probe's capture
//!   on the middlebox's veth), so it holds queue 3's injected delay and the relay's or the
//!   kernel's own forwarding time; the injected part alone is printed beside it;
//! * `matched_by` `ssrc`, and exactly one hop per stream: in `forwarding` the probe on `any`
//!   sees each packet at `v1` and `v2`, and neither copy may be paired twice or backwards.

use crate::truth::{Truth, DELAY_TOLERANCE_MS};
use serde_json::Value;

/// Whether the rtcprobe under test must report `hops` (the lab turns `engine.hops` on): a
/// matcher that finds no hop at all fails the lab instead of skipping its checks.
pub const HOPS_REQUIRED: bool = true;

/// The replay's hops; `None` (a problem if [`HOPS_REQUIRED`]) when it reports none.
pub fn hops_of<'a>(report: &'a Value, problems: &mut Vec<String>) -> Option<&'a [Value]> {
    let hops = report["hops"].as_array().map(Vec::as_slice);
    if hops.is_none() && HOPS_REQUIRED {
        problems.push("the replay reports no hops".into());
    }
    hops
}

/// The two streams of one RTP stream's hop in the replay, and the `loss_downstream` its egress
/// stream must have (truth.rs, `None` without a receiver report).
pub struct Legs<'a> {
    pub ingress: &'a Value,
    pub egress: &'a Value,
    pub downstream: Option<i64>,
}

/// What the logs say the hop of one stream must be.
#[derive(Debug)]
struct HopTruth {
    packets_in: i64,
    packets_out: i64,
    lost_upstream: i64,
    /// Egress − ingress capture time of every forwarded packet, ms.
    delay_ms: Vec<f64>,
}

impl HopTruth {
    fn of(t: &Truth) -> Option<Self> {
        let (&first, &last) = (t.fwd_ok.first()?, t.fwd_ok.last()?);
        let packets_in = t.sent_ok.range(first..=last).count() as i64;
        let delay_ms = t
            .fwd_ok
            .iter()
            .filter_map(|e| Some((t.egress_ns.get(e)? - t.ingress_ns.get(e)?) as f64 / 1e6))
            .collect();
        Some(HopTruth {
            packets_in,
            packets_out: t.fwd_ok.len() as i64,
            lost_upstream: (last - first + 1) as i64 - packets_in,
            delay_ms,
        })
    }

    fn lost_inside(&self) -> i64 {
        self.packets_in - self.packets_out
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The same stream: SSRC, 5-tuple and observation point (in `forwarding` the 5-tuple alone is
/// on both legs).
fn same(hop_leg: &Value, stream: &Value) -> bool {
    ["ssrc", "src", "dst", "observed_at"]
        .iter()
        .all(|k| hop_leg[k] == stream[k])
}

/// The hop of one stream (`name`) against the truth `t`; prints every value compared.
pub fn check(name: &str, hops: &[Value], legs: &Legs, t: &Truth, problems: &mut Vec<String>) {
    let Some(truth) = HopTruth::of(t) else {
        problems.push(format!("{name}: nothing forwarded in the logs"));
        return;
    };
    let mine: Vec<&Value> = hops
        .iter()
        .filter(|h| same(&h["egress"], legs.egress))
        .collect();
    let [h] = mine[..] else {
        problems.push(format!(
            "{name}: {} hops with its egress stream, not 1: {mine:?}",
            mine.len()
        ));
        return;
    };
    if !same(&h["ingress"], legs.ingress) {
        problems.push(format!(
            "{name}: hop from {}, not its ingress stream {} {} → {} at {}",
            h["ingress"],
            legs.ingress["ssrc"],
            legs.ingress["src"],
            legs.ingress["dst"],
            legs.ingress["observed_at"]
        ));
        return;
    }
    eprintln!(
        "  {name}: hop {} → {}: matched_by {} confidence {}",
        h["ingress"]["observed_at"], h["egress"]["observed_at"], h["matched_by"], h["confidence"]
    );
    if h["matched_by"].as_str() != Some("ssrc") {
        problems.push(format!(
            "{name}: hop matched_by {}, not ssrc",
            h["matched_by"]
        ));
    }
    let mut exact = |what: &str, got: &Value, want: i64| {
        eprintln!("  {name}: {what}: probe {got}, true {want}");
        if got.as_i64() != Some(want) {
            problems.push(format!("{name}: {what} {got}, true {want}"));
        }
    };
    exact("hop packets_in", &h["packets_in"], truth.packets_in);
    exact("hop packets_out", &h["packets_out"], truth.packets_out);
    exact("hop lost_inside", &h["lost_inside"], truth.lost_inside());
    exact(
        "hop lost_upstream",
        &h["lost_upstream"],
        truth.lost_upstream,
    );
    for k in ["evicted", "late", "duplicates_out"] {
        exact(&format!("hop {k}"), &h[k], 0);
    }
    let split = &legs.egress["loss_split"];
    exact(
        "loss_split.upstream",
        &split["upstream"],
        truth.lost_upstream,
    );
    exact(
        "loss_split.inside_middlebox",
        &split["inside_middlebox"],
        truth.lost_inside(),
    );
    if let Some(down) = legs.downstream {
        exact("loss_split.downstream", &split["downstream"], down);
    }
    let forwarded = truth.packets_out as usize;
    if truth.delay_ms.len() != forwarded {
        problems.push(format!(
            "{name}: {} of {forwarded} forwarded packets arrived at the receiver's queue",
            truth.delay_ms.len()
        ));
    }
    let true_p50 = median(&truth.delay_ms);
    let d = &h["forwarding_delay"];
    let ms = |k: &str| d[k].as_f64().map(|s| s * 1e3);
    eprintln!(
        "  {name}: hop forwarding delay min {:?} p50 {:?} p99 {:?} max {:?} ms, jitter_added \
         {} s; true p50 {true_p50:.3} ms (queue 3 injected {:.3} ms)",
        ms("min"),
        ms("p50"),
        ms("p99"),
        ms("max"),
        h["jitter_added"],
        median(&t.held_ms)
    );
    if ms("p50").map_or(true, |p| (p - true_p50).abs() > DELAY_TOLERANCE_MS) {
        problems.push(format!(
            "{name}: forwarding delay p50 {:?} ms, true {true_p50:.3} ms",
            ms("p50")
        ));
    }
}

/// One hop per stream, none else (the forwarding host's two copies of a packet are one hop,
/// not two, and never a hop backwards from `v2` to `v1`).
pub fn check_count(hops: &[Value], streams: usize, problems: &mut Vec<String>) {
    if hops.len() != streams {
        let legs: Vec<String> = hops
            .iter()
            .map(|h| {
                format!(
                    "{} {}@{} → {}@{}",
                    h["ingress"]["ssrc"],
                    h["ingress"]["src"],
                    h["ingress"]["observed_at"],
                    h["egress"]["dst"],
                    h["egress"]["observed_at"]
                )
            })
            .collect();
        problems.push(format!(
            "{} hops, not one per stream ({streams}): {}",
            hops.len(),
            legs.join("; ")
        ));
    }
}
