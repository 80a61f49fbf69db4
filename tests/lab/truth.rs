//! The lab's assertions: the probe's numbers against the impairment logs (impair.rs).
//!
//! For every RTP stream (an SSRC sent by one end), the logs give three sets of extended
//! sequence numbers: `sent_ok`, accepted by the sender's outgoing queue (what reached the
//! probe's ingress capture), `fwd_ok`, of those the ones the middlebox's queue accepted (what
//! left the middlebox: the egress capture), and `recv_ok`, of those the ones the receiver's
//! incoming queue accepted. Then, exactly:
//!
//! * ingress stream: `packets` = |sent_ok|, `lost` = its span − |sent_ok| (upstream loss);
//! * egress stream: `packets` = |fwd_ok|, `lost` = its span − |fwd_ok| (upstream and
//!   in-middlebox loss, missing at the egress point);
//! * `loss_downstream` of the egress stream = the receiver's own count (its last report's
//!   `cumulative_lost`) minus the loss missing at the probe up to the report's extended highest
//!   sequence number; the receiver's count is checked against the truth and any difference
//!   printed (a receiver reports what it has received when it writes the report: packets
//!   still held in the impairment queue then are lost to it);
//! * no double counting: each stream seen once per observation point;
//! * `end_to_end` RTT within [`RTT_TOLERANCE_MS`] of the true round trip: RTCP is never dropped
//!   and only delayed by the fixed part, so the network's share is the sum of the RTCP holding
//!   times of the six queues an SR and its report cross, each between its shortest and longest
//!   hold (the namespaces' own RTT is ~10 µs); to it add what each end held an SR beyond the
//!   DLSR it reported, measured from the logs ([`turnaround_error_ms`]): an RFC 3550 RTT
//!   includes it, and so does the probe's;
//! * every record of the live probe equal to the replay of the capture beside it;
//! * hops, when the replay reports them (`hops`): one per stream, each against the per-packet
//!   truth (hop_truth.rs).

use crate::hop_truth;
use crate::topo::{Node, CALLEE_IP, CALLER_IP, MB_IP};
use crate::{Outcome, Scenario};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

pub const RTT_TOLERANCE_MS: f64 = 2.0;
pub const DELAY_TOLERANCE_MS: f64 = 1.0;

/// One line of an impairment log.
#[derive(Debug, Clone)]
pub struct Fate {
    pub node: Node,
    pub queue: u16,
    pub kind: String,
    pub ssrc: Option<u32>,
    pub seq: Option<u16>,
    /// RTP timestamp and UDP payload length (pairing across an SSRC-rewriting SFU: sfu.rs).
    pub ts: Option<u32>,
    pub len: Option<u64>,
    /// `address:port` of source and destination.
    pub src: String,
    pub dst: String,
    pub accepted: bool,
    pub in_ns: i128,
    pub out_ns: i128,
    /// RTCP: SR NTP middle 32 bits, and report blocks' (SSRC, LSR, DLSR).
    pub sr_ntp: Vec<u32>,
    pub blocks: Vec<[u32; 3]>,
}

pub fn read_fates(path: &Path, node: Node) -> Result<Vec<Fate>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ns = |v: &Value| v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).map_err(|e| format!("{l}: {e}"))?;
            Ok(Fate {
                node,
                queue: v["queue"].as_u64().unwrap_or(0) as u16,
                kind: v["kind"].as_str().unwrap_or("").to_owned(),
                ssrc: v["ssrc"].as_u64().map(|x| x as u32),
                seq: v["seq"].as_u64().map(|x| x as u16),
                ts: v["ts"].as_u64().map(|x| x as u32),
                len: v["len"].as_u64(),
                src: v["src"].as_str().unwrap_or("").to_owned(),
                dst: v["dst"].as_str().unwrap_or("").to_owned(),
                accepted: v["verdict"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("accept")),
                in_ns: ns(&v["in_ns"]),
                out_ns: ns(&v["out_ns"]),
                sr_ntp: serde_json::from_value(v["sr_ntp"].clone()).unwrap_or_default(),
                blocks: serde_json::from_value(v["blocks"].clone()).unwrap_or_default(),
            })
        })
        .collect()
}

/// The truth about one stream.
#[derive(Debug)]
pub struct Truth {
    pub sender: Node,
    pub sent_ok: BTreeSet<u64>,
    pub fwd_ok: BTreeSet<u64>,
    pub recv_ok: BTreeSet<u64>,
    /// The middlebox queue's holding times of forwarded packets, ms.
    pub held_ms: Vec<f64>,
    /// Capture times by extended sequence number, ns: ingress (the sender's queue 1 release,
    /// microseconds before the probe's ingress capture) and egress (the receiver's queue 2
    /// arrival, microseconds after the probe's egress capture).
    pub ingress_ns: HashMap<u64, i128>,
    pub egress_ns: HashMap<u64, i128>,
}

pub fn span_loss(s: &BTreeSet<u64>) -> i64 {
    match (s.first(), s.last()) {
        (Some(a), Some(b)) => (b - a + 1) as i64 - s.len() as i64,
        _ => 0,
    }
}

/// Streams by SSRC, from the logs.
fn truths(fates: &[Fate]) -> BTreeMap<u32, Truth> {
    let rtp = |node: Node, queue: u16| {
        let mut v: Vec<&Fate> = fates
            .iter()
            .filter(|f| f.node == node && f.queue == queue && f.kind == "rtp")
            .collect();
        v.sort_by_key(|f| f.in_ns);
        v
    };
    let mut out = BTreeMap::new();
    for sender in [Node::Caller, Node::Callee] {
        let receiver = if sender == Node::Caller {
            Node::Callee
        } else {
            Node::Caller
        };
        // Extend sequence numbers in sending order (the sender's own queue sees every packet
        // in the order sent), the way RFC 3550 A.1 receivers count cycles from the first.
        let mut ext: HashMap<(u32, u16), u64> = HashMap::new();
        let mut last: HashMap<u32, (u16, u64)> = HashMap::new();
        for f in rtp(sender, 1) {
            let (Some(ssrc), Some(seq)) = (f.ssrc, f.seq) else {
                continue;
            };
            let e = match last.get(&ssrc) {
                None => u64::from(seq),
                Some(&(ps, pe)) => pe.wrapping_add_signed(i64::from(seq.wrapping_sub(ps) as i16)),
            };
            last.insert(ssrc, (seq, e));
            ext.insert((ssrc, seq), e);
            let t = out.entry(ssrc).or_insert_with(|| Truth {
                sender,
                sent_ok: BTreeSet::new(),
                fwd_ok: BTreeSet::new(),
                recv_ok: BTreeSet::new(),
                held_ms: Vec::new(),
                ingress_ns: HashMap::new(),
                egress_ns: HashMap::new(),
            });
            if f.accepted {
                t.sent_ok.insert(e);
                t.ingress_ns.insert(e, f.out_ns);
            }
        }
        for (node, queue) in [(Node::Middlebox, 3), (receiver, 2)] {
            for f in rtp(node, queue) {
                let (Some(ssrc), Some(seq)) = (f.ssrc, f.seq) else {
                    continue;
                };
                let (Some(&e), Some(t)) = (ext.get(&(ssrc, seq)), out.get_mut(&ssrc)) else {
                    continue;
                };
                if t.sender != sender {
                    continue;
                }
                if node == receiver {
                    // Arrival, whatever the verdict: the packet left the middlebox.
                    t.egress_ns.insert(e, f.in_ns);
                }
                if !f.accepted {
                    continue;
                }
                if node == Node::Middlebox {
                    t.fwd_ok.insert(e);
                    t.held_ms.push((f.out_ns - f.in_ns) as f64 / 1e6);
                } else {
                    t.recv_ok.insert(e);
                }
            }
        }
    }
    out
}

/// The true round trip of an SR and its report, ms: the RTCP holding time of each queue on the
/// loop (both ends' outgoing and incoming queues, the middlebox's twice), as the mean and as the
/// range a single sample can take (each queue's shortest and longest hold summed). A sample is
/// one SR and its report, so it is judged against the range: on a loaded machine one queue can
/// hold a packet a millisecond longer than its mean (CI saw 0.6 ms above mean + 2 ms).
fn true_rtt_ms(fates: &[Fate]) -> (f64, f64, f64) {
    let held = |node: Node, queue: u16| {
        let v: Vec<f64> = fates
            .iter()
            .filter(|f| f.node == node && f.queue == queue && f.kind == "rtcp")
            .map(|f| (f.out_ns - f.in_ns) as f64 / 1e6)
            .collect();
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        let min = v.iter().copied().reduce(f64::min).unwrap_or(0.0);
        let max = v.iter().copied().reduce(f64::max).unwrap_or(0.0);
        (min, mean, max)
    };
    let loop_queues = [
        (Node::Caller, 1, 1.0),
        (Node::Caller, 2, 1.0),
        (Node::Callee, 1, 1.0),
        (Node::Callee, 2, 1.0),
        (Node::Middlebox, 3, 2.0),
    ];
    loop_queues
        .iter()
        .fold((0.0, 0.0, 0.0), |(lo, mean, hi), &(node, queue, times)| {
            let (a, m, b) = held(node, queue);
            (lo + times * a, mean + times * m, hi + times * b)
        })
}

/// How much longer each receiver really held an SR than its reports' DLSR says (min, max, ms):
/// the time from the SR's release into its stack (its incoming queue's log) to the report's
/// departure (its outgoing queue's log), minus DLSR. That is the endpoint's own latency between
/// its socket and its RTCP clock (GStreamer's, on a loaded machine: 1–5 ms); every RFC 3550
/// RTT that uses its reports includes it, the endpoint's own and the probe's alike.
fn turnaround_error_ms(fates: &[Fate], receiver: Node) -> Option<(f64, f64)> {
    let mut sr_in = HashMap::new();
    for f in fates.iter().filter(|f| f.node == receiver && f.queue == 2) {
        for &mid in &f.sr_ntp {
            sr_in.insert((f.ssrc.unwrap_or(0), mid), f.out_ns);
        }
    }
    let mut errs: Vec<f64> = Vec::new();
    for f in fates.iter().filter(|f| f.node == receiver && f.queue == 1) {
        for &[ssrc, lsr, dlsr] in &f.blocks {
            if let Some(&t) = sr_in.get(&(ssrc, lsr)) {
                let dlsr_ns = f64::from(dlsr) * 1e9 / 65536.0;
                errs.push(((f.in_ns - t) as f64 - dlsr_ns) / 1e6);
            }
        }
    }
    let min = errs.iter().copied().reduce(f64::min)?;
    let max = errs.iter().copied().reduce(f64::max)?;
    Some((min, max))
}

pub fn ip_of(addr: &Value) -> &str {
    addr.as_str()
        .and_then(|a| a.rsplit_once(':'))
        .map_or("", |(ip, _)| ip)
}

/// Every check; returns what failed. Prints the measured values either way.
pub fn check(s: Scenario, o: &Outcome) -> Vec<String> {
    let mut problems = live_vs_replay(o);
    let report = &o.replay.0;
    let streams = report["streams"].as_array().cloned().unwrap_or_default();
    let truth = truths(&o.fates);
    let hops = hop_truth::hops_of(report, &mut problems);
    let (rtt_min, rtt, rtt_max) = true_rtt_ms(&o.fates);
    let (ec, ee) = (
        turnaround_error_ms(&o.fates, Node::Caller),
        turnaround_error_ms(&o.fates, Node::Callee),
    );
    let (Some(ec), Some(ee)) = (ec, ee) else {
        problems.push("no SR answered by a report block in the logs".into());
        return problems;
    };
    // The network round trip, plus both ends' unreported turnaround (the relay-case leg round
    // trips each contain one end's reports, docs/output.md).
    let (rtt_lo, rtt_hi) = (rtt_min + ec.0 + ee.0, rtt_max + ec.1 + ee.1);
    eprintln!(
        "lab {}: injected round trip {rtt:.3} ms (one sample {rtt_min:.3}..{rtt_max:.3}); endpoints' turnaround beyond DLSR: caller \
         {:.3}..{:.3} ms, callee {:.3}..{:.3} ms; true end_to_end {rtt_lo:.3}..{rtt_hi:.3} ms",
        s.name(),
        ec.0,
        ec.1,
        ee.0,
        ee.1
    );
    if truth.len() != 4 {
        problems.push(format!("{} RTP streams in the logs, not 4", truth.len()));
    }
    for (ssrc, t) in &truth {
        let (from_ip, to_ip, ingress_point, egress_point) = match t.sender {
            Node::Caller => (CALLER_IP, CALLEE_IP, "v1", "v2"),
            _ => (CALLEE_IP, CALLER_IP, "v2", "v1"),
        };
        let of: Vec<&Value> = streams
            .iter()
            .filter(|v| v["ssrc"].as_u64() == Some(u64::from(*ssrc)))
            .collect();
        let pick = |src_ip: &str, dst_ip: &str, point: &str| -> Option<&Value> {
            of.iter().copied().find(|v| {
                ip_of(&v["src"]) == src_ip
                    && ip_of(&v["dst"]) == dst_ip
                    && v["observed_at"].as_str().map_or(true, |p| p == point)
            })
        };
        // Each packet is captured once at each point it passes: two streams per SSRC (ingress
        // and egress), whether the middlebox relays or routes.
        if of.len() != 2 {
            let p: Vec<String> = of.iter().map(|v| v["packets"].to_string()).collect();
            problems.push(format!(
                "SSRC {ssrc:#x}: {} stream(s), not 2 (ingress and egress): packets {} against \
                 {} in + {} out{}",
                of.len(),
                p.join(", "),
                t.sent_ok.len(),
                t.fwd_ok.len(),
                if of.len() < 2 { ": double counted" } else { "" }
            ));
            continue;
        }
        let (ingress, egress) = match s {
            Scenario::Relay | Scenario::Sfu => (
                pick(from_ip, MB_IP, ingress_point),
                pick(MB_IP, to_ip, egress_point),
            ),
            Scenario::Forwarding => (
                pick(from_ip, to_ip, ingress_point),
                pick(from_ip, to_ip, egress_point),
            ),
        };
        let (Some(ingress), Some(egress)) = (ingress, egress) else {
            problems.push(format!(
                "SSRC {ssrc:#x}: no ingress or egress stream: {of:?}"
            ));
            continue;
        };
        let name = format!("SSRC {ssrc:#x} from {:?}", t.sender);
        let mut exact = |what: &str, got: &Value, want: i64| {
            if got.as_i64() != Some(want) {
                problems.push(format!("{name}: {what} {got}, true {want}"));
            }
        };
        exact(
            "ingress packets",
            &ingress["packets"],
            t.sent_ok.len() as i64,
        );
        exact(
            "ingress lost (upstream)",
            &ingress["lost"],
            span_loss(&t.sent_ok),
        );
        exact("egress packets", &egress["packets"], t.fwd_ok.len() as i64);
        exact("egress lost", &egress["lost"], span_loss(&t.fwd_ok));
        let inside = t.sent_ok.len() as i64 - t.fwd_ok.len() as i64;
        eprintln!(
            "lab {}: {name}: sent {} upstream lost {} inside lost {inside} downstream lost {}",
            s.name(),
            t.sent_ok.len(),
            span_loss(&t.sent_ok),
            t.fwd_ok.len() as i64 - t.recv_ok.len() as i64
        );
        let down = downstream(&name, egress, t, &mut problems);
        for (leg, v) in [("ingress", ingress), ("egress", egress)] {
            let e2e = &v["rtt_ms"]["end_to_end"];
            let (Some(min), Some(max)) = (e2e["min"].as_f64(), e2e["max"].as_f64()) else {
                continue;
            };
            eprintln!(
                "lab {}: {name} {leg}: end_to_end min {min} max {max} ms over {} samples, \
                 true {rtt_lo:.3}..{rtt_hi:.3}",
                s.name(),
                e2e["samples"]
            );
            if min < rtt_lo - RTT_TOLERANCE_MS || max > rtt_hi + RTT_TOLERANCE_MS {
                problems.push(format!(
                    "{name} {leg}: end_to_end {min}..{max} ms, true {rtt_lo:.3}..{rtt_hi:.3} ms"
                ));
            }
        }
        let has_e2e = [ingress, egress]
            .iter()
            .any(|v| v["rtt_ms"]["end_to_end"]["samples"].as_u64() > Some(0));
        if !has_e2e {
            problems.push(format!("{name}: no end_to_end RTT on either leg"));
        }
        if let Some(hops) = hops {
            let legs = hop_truth::Legs {
                ingress,
                egress,
                downstream: down,
            };
            hop_truth::check(&name, hops, &legs, t, &mut problems);
        }
    }
    if let Some(hops) = hops {
        hop_truth::check_count(hops, truth.len(), &mut problems);
    }
    problems
}

/// The live records against the replay's, field by field (tests/live/compare.rs). A live probe
/// on `any` names its observation points by interface name; the replay of the capture is told
/// the same names for the indexes the file carries (`--point-name`), so `observed_at` and
/// `record_id` must be equal too.
pub fn live_vs_replay(o: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    let names = |v: &[Value]| -> BTreeSet<String> {
        v.iter()
            .filter_map(|r| r["observed_at"].as_str().map(str::to_owned))
            .collect()
    };
    let (live, replay) = (names(&o.live.records), names(&o.replay.1));
    if live != replay {
        problems.push(format!(
            "observation points named differently live {live:?} and in the replay {replay:?} \
             (replay given {:?})",
            o.points
        ));
    }
    problems.extend(crate::compare::check_against_beside(&o.live, &o.replay));
    problems
}

/// `loss_downstream` of the egress stream against the receiver's own report and the truth;
/// returns the value it must have (the truth less the receiver's undercount).
fn downstream(name: &str, egress: &Value, t: &Truth, problems: &mut Vec<String>) -> Option<i64> {
    let remote = &egress["remote"];
    let (Some(h), Some(cl)) = (
        remote["ext_highest_seq"].as_u64(),
        remote["cumulative_lost"].as_i64(),
    ) else {
        problems.push(format!("{name}: no receiver report on the egress leg"));
        return None;
    };
    // Counted from the first sequence number that left the middlebox, as the probe counts.
    let upto = |s: &BTreeSet<u64>| s.range(..=h).count() as i64;
    let span = (h + 1).saturating_sub(t.fwd_ok.first().copied().unwrap_or(0)) as i64;
    let true_total = span - upto(&t.recv_ok);
    let true_down = upto(&t.fwd_ok) - upto(&t.recv_ok);
    let undercount = true_total - cl;
    let got = egress["loss_downstream"].as_i64();
    eprintln!(
        "  {name}: receiver's cumulative_lost {cl} up to {h}, true {true_total}: it undercounts \
         by {undercount}; loss_downstream {got:?}, true {true_down}"
    );
    // What the receiver reports, less what the probe saw missing: the truth less the
    // receiver's undercount.
    if got != Some(true_down - undercount) {
        problems.push(format!(
            "{name}: loss_downstream {got:?}, true {true_down} less the receiver's undercount \
             {undercount} = {}",
            true_down - undercount
        ));
    }
    Some(true_down - undercount)
}
