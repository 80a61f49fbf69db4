//! The `sfu_janus` scenario's assertions: the probe's numbers against the impairment logs
//! when the middlebox is an SFU that rewrites SSRC, sequence numbers and timestamps.
//!
//! The logs see the publisher's packets leave (caller queue 1: the probe's ingress capture
//! follows), enter janus (middlebox queue 3, which drops and delays them inside the
//! middlebox) and janus's rewritten copies arrive at each subscriber (callee queue 2, right
//! after the probe's egress capture). An egress copy is paired with its ingress packet the way
//! janus rewrites (`janus_rtp_header_update`): sequence number and timestamp each shifted by a
//! constant per subscriber stream. The constants are found by a vote over the packets of the
//! first seconds (ingress packets up to [`PAIR_WINDOW_NS`] before each egress one, and the
//! change of length); every egress packet must then pair with exactly one ingress packet, or
//! the truth itself is wrong.
//! Then, per stream, exactly:
//!
//! * ingress (at `v1`, publisher's SSRC): `packets` and `lost` (upstream loss) from queue 1;
//! * egress (at `v2`, one per subscriber and medium, janus's SSRC): `packets` = the copies
//!   janus sent (every one reaches the subscriber's queue), `lost` = the gaps in their
//!   rewritten sequence numbers (janus keeps gaps: upstream and in-middlebox loss);
//! * both `lost` as RFC 3550 counts them in capture order ([`rfc_lost`]): when a packet
//!   overtakes the first ones after probation, it is received but not expected, and the count
//!   is the true gaps less such packets (printed).
//! * the SSRC differs between ingress and egress (the rewrite the scenario exists for);
//! * every record of the live probe equal to the replay of the capture beside it.
//!
//! SRTCP encrypts the reports, so `loss_downstream` and RTT have nothing to check here.
//! Per packet, `hop-truth.ndjson` in the scratch directory gives each ingress packet's capture
//! time and its egress copies' (for the hop matcher: [`check_hops`]).

use crate::topo::{Node, CALLER_IP};
use crate::truth::{ip_of, live_vs_replay, span_loss, Fate, DELAY_TOLERANCE_MS};
use crate::Outcome;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;

/// How far before an egress packet its ingress original is looked for when voting (janus
/// forwards in about 5.5 ms, 4–6 ms of which queue 3 holds the packet).
const PAIR_WINDOW_NS: i128 = 200_000_000;
/// Egress packets per stream that vote on the rewrite's constants.
const VOTERS: usize = 300;

/// One RTP packet where a log saw it.
#[derive(Debug, Clone, Copy)]
struct Pkt {
    seq: u16,
    ext: u64,
    ts: u32,
    /// UDP payload length (SRTP: the same on both legs when no header extension changes).
    len: u64,
    /// Queue 1 release (ingress) or queue 2 arrival (egress): the capture time, within µs.
    t_ns: i128,
    accepted: bool,
}

/// RTP packets of one log, by stream key, in the order the log took them, with sequence
/// numbers extended as RFC 3550 A.1 receivers do.
fn streams<K: Ord + Clone>(
    fates: &[Fate],
    node: Node,
    queue: u16,
    key: impl Fn(&Fate) -> Option<K>,
) -> BTreeMap<K, Vec<Pkt>> {
    let mut v: Vec<&Fate> = fates
        .iter()
        .filter(|f| f.node == node && f.queue == queue && f.kind == "rtp")
        .collect();
    v.sort_by_key(|f| f.in_ns);
    let mut out: BTreeMap<K, Vec<Pkt>> = BTreeMap::new();
    for f in v {
        let (Some(k), Some(seq), Some(ts), Some(len)) = (key(f), f.seq, f.ts, f.len) else {
            continue;
        };
        let list = out.entry(k).or_default();
        let ext = match list.last() {
            None => u64::from(seq),
            Some(p) => p
                .ext
                .wrapping_add_signed(i64::from(seq.wrapping_sub(p.seq) as i16)),
        };
        let t_ns = if node == Node::Callee {
            f.in_ns
        } else {
            f.out_ns
        };
        list.push(Pkt {
            seq,
            ext,
            ts,
            len,
            t_ns,
            accepted: f.accepted,
        });
    }
    out
}

/// What the logs say about one egress stream (a subscriber's copy of one ingress stream).
#[derive(Debug)]
pub struct HopTruth {
    pub ingress_ssrc: u32,
    pub egress_ssrc: u32,
    pub egress_dst: String,
    /// Sequence number and timestamp offsets janus applied (egress − ingress).
    pub seq_shift: u16,
    pub ts_shift: u32,
    /// Ingress packets (arrived at the probe) in the egress stream's span, and of those the
    /// ones with an egress copy; their difference is the loss inside the middlebox.
    pub packets_in: usize,
    pub packets_out: usize,
    /// Sequence numbers of that span that never reached the probe's ingress point.
    pub lost_upstream: i64,
    pub dropped_by_queue: usize,
    /// Egress − ingress capture time of every forwarded packet, and the middlebox queue's
    /// holding time of the same packets (the injected part), ms.
    pub delay_ms: Vec<f64>,
    pub injected_ms: Vec<f64>,
}

impl HopTruth {
    pub fn lost_inside(&self) -> i64 {
        self.packets_in as i64 - self.packets_out as i64
    }
}

/// `lost` as RFC 3550 A.1/A.3 count it from packets in capture order, with the probe's
/// documented reading of probation (src/engine/seq.rs): until a packet follows its predecessor
/// in arrival (`MIN_SEQUENTIAL = 2`) the run starts at its lowest sequence number; from then
/// on the base is fixed, and a packet numbered below it counts as received but not as
/// expected. Returns that count and how many packets it cannot see (numbered below the base).
/// WebRTC ends send what they queued during the DTLS handshake in one burst, and janus starts
/// each subscriber's stream in one, so the impairment's jitter can let a later packet overtake
/// the first ones there.
fn rfc_lost(capture_order: &[Pkt]) -> (i64, usize) {
    let Some(first) = capture_order.first() else {
        return (0, 0);
    };
    let (mut base, mut prev, mut valid) = (first.ext, first.ext, false);
    for p in capture_order.iter().skip(1) {
        if !valid {
            base = base.min(p.ext);
            valid = p.ext == prev + 1;
        }
        prev = p.ext;
    }
    let max = capture_order.iter().map(|p| p.ext).max().unwrap_or(base);
    let below: BTreeSet<u64> = capture_order
        .iter()
        .map(|p| p.ext)
        .filter(|&e| e < base)
        .collect();
    let expected = (max - base + 1) as i64;
    (expected - capture_order.len() as i64, below.len())
}

/// One of the probe's numbers against the truth; printed either way.
fn exact(problems: &mut Vec<String>, name: &str, what: &str, got: &Value, want: i64) {
    eprintln!("  {name}: {what}: probe {got}, true {want}");
    if got.as_i64() != Some(want) {
        problems.push(format!("{name}: {what} {got}, true {want}"));
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The rewrite's constants for one egress stream: (ingress SSRC, sequence shift, timestamp
/// shift, length change) with the most votes, and the votes. The length keeps a neighbour
/// (`n` packets earlier: shifts off by `n` and `n` frame times) from winning on streams of
/// steady timestamps like audio: it votes only where the lengths happen to agree.
type Shift = (u32, u16, u32, i64);

fn vote(egress: &[Pkt], ingress: &BTreeMap<u32, Vec<Pkt>>) -> Option<(Shift, usize)> {
    let mut votes: HashMap<Shift, usize> = HashMap::new();
    for e in egress.iter().take(VOTERS) {
        for (&ssrc, list) in ingress {
            let from = list.partition_point(|p| p.t_ns < e.t_ns - PAIR_WINDOW_NS);
            for i in list.iter().skip(from).take_while(|p| p.t_ns <= e.t_ns) {
                let k = (
                    ssrc,
                    e.seq.wrapping_sub(i.seq),
                    e.ts.wrapping_sub(i.ts),
                    e.len as i64 - i.len as i64,
                );
                *votes.entry(k).or_default() += 1;
            }
        }
    }
    votes.into_iter().max_by_key(|&(k, n)| (n, k))
}

/// Every check; returns what failed. Prints the measured values either way, and writes the
/// per-packet truth to `dir/hop-truth.ndjson`.
pub fn check(o: &Outcome, dir: &Path) -> Vec<String> {
    let mut problems = live_vs_replay(o);
    let report = &o.replay.0;
    let streams_of = report["streams"].as_array().cloned().unwrap_or_default();
    let ingress = streams(&o.fates, Node::Caller, 1, |f| f.ssrc);
    let queue3: HashMap<(u32, u16), (bool, f64)> = o
        .fates
        .iter()
        .filter(|f| f.node == Node::Middlebox && f.queue == 3 && f.kind == "rtp")
        .filter_map(|f| {
            let held = (f.out_ns - f.in_ns) as f64 / 1e6;
            Some(((f.ssrc?, f.seq?), (f.accepted, held)))
        })
        .collect();
    let egress = streams(&o.fates, Node::Callee, 2, |f| {
        let ssrc = f.ssrc?;
        (!ingress.contains_key(&ssrc)).then(|| (ssrc, f.dst.clone()))
    });
    // In capture order (queue 1's release order: what the probe saw, in that order).
    let sent: BTreeMap<u32, Vec<Pkt>> = ingress
        .iter()
        .map(|(&k, v)| {
            let mut v: Vec<Pkt> = v.iter().filter(|p| p.accepted).copied().collect();
            v.sort_by_key(|p| p.t_ns);
            (k, v)
        })
        .collect();
    if ingress.len() != 2 {
        problems.push(format!(
            "{} publisher streams in the logs, not 2 (VP8, Opus)",
            ingress.len()
        ));
    }
    let find = |ssrc: u32, src: Option<&str>, dst: Option<&str>, point: &str| {
        streams_of.iter().find(|v| {
            v["ssrc"].as_u64() == Some(u64::from(ssrc))
                && src.map_or(true, |s| ip_of(&v["src"]) == s)
                && dst.map_or(true, |d| v["dst"].as_str() == Some(d))
                && v["observed_at"].as_str() == Some(point)
        })
    };
    for (ssrc, pkts) in &sent {
        let name = format!("publisher SSRC {ssrc:#x}");
        let set: BTreeSet<u64> = pkts.iter().map(|p| p.ext).collect();
        let (lost, overtaken) = rfc_lost(pkts);
        eprintln!(
            "lab sfu_janus: {name}: sent {} upstream lost {} (RFC 3550 count {lost}: {overtaken} \
             below its base)",
            pkts.len(),
            span_loss(&set)
        );
        match find(*ssrc, Some(CALLER_IP), None, "v1") {
            Some(s) => {
                let p = &mut problems;
                exact(
                    p,
                    &name,
                    "ingress packets",
                    &s["packets"],
                    pkts.len() as i64,
                );
                exact(p, &name, "ingress lost (upstream)", &s["lost"], lost);
            }
            None => problems.push(format!("{name}: no ingress stream at v1")),
        }
    }
    let mut hops = Vec::new();
    let mut per_ingress: BTreeMap<u32, usize> = BTreeMap::new();
    let mut copies: HashMap<(u32, u64), Vec<Value>> = HashMap::new();
    for ((essrc, dst), pkts) in &egress {
        let name = format!("egress SSRC {essrc:#x} to {dst}");
        let Some(((issrc, seq_shift, ts_shift, _), votes)) = vote(pkts, &sent) else {
            problems.push(format!("{name}: no ingress packet to pair with"));
            continue;
        };
        let voters = pkts.len().min(VOTERS);
        if votes * 2 < voters {
            problems.push(format!(
                "{name}: the rewrite is not a constant shift ({votes} of {voters} agree)"
            ));
            continue;
        }
        *per_ingress.entry(issrc).or_default() += 1;
        let by_seq: HashMap<(u16, u32), &Pkt> = sent
            .get(&issrc)
            .map(|v| v.iter().map(|p| ((p.seq, p.ts), p)).collect())
            .unwrap_or_default();
        let (mut unpaired, mut delay_ms, mut injected_ms) = (0, Vec::new(), Vec::new());
        let mut out = BTreeSet::new();
        for e in pkts {
            let key = (e.seq.wrapping_sub(seq_shift), e.ts.wrapping_sub(ts_shift));
            let Some(i) = by_seq.get(&key) else {
                unpaired += 1;
                continue;
            };
            out.insert(i.ext);
            delay_ms.push((e.t_ns - i.t_ns) as f64 / 1e6);
            if let Some(&(_, held)) = queue3.get(&(issrc, i.seq)) {
                injected_ms.push(held);
            }
            copies.entry((issrc, i.ext)).or_default().push(json!({
                "ssrc": essrc, "seq": e.seq, "dst": dst, "ns": e.t_ns.to_string(),
            }));
        }
        if unpaired > 0 {
            problems.push(format!(
                "{name}: {unpaired} egress packet(s) pair with no ingress packet"
            ));
        }
        let (Some(&lo), Some(&hi)) = (out.first(), out.last()) else {
            continue;
        };
        let window: Vec<&Pkt> = sent
            .get(&issrc)
            .map(|v| v.iter().filter(|p| (lo..=hi).contains(&p.ext)).collect())
            .unwrap_or_default();
        let dropped_by_queue = window
            .iter()
            .filter(|p| queue3.get(&(issrc, p.seq)).is_some_and(|q| !q.0))
            .count();
        let h = HopTruth {
            ingress_ssrc: issrc,
            egress_ssrc: *essrc,
            egress_dst: dst.clone(),
            seq_shift,
            ts_shift,
            packets_in: window.len(),
            packets_out: out.len(),
            lost_upstream: (hi - lo + 1) as i64
                - window.iter().map(|p| p.ext).collect::<BTreeSet<_>>().len() as i64,
            dropped_by_queue,
            delay_ms,
            injected_ms,
        };
        let eset: BTreeSet<u64> = pkts.iter().map(|p| p.ext).collect();
        let (lost, overtaken) = rfc_lost(pkts);
        eprintln!(
            "lab sfu_janus: {name} ← {issrc:#x} (seq +{}, ts +{}): out {} (duplicates {}), \
             gaps {} (RFC 3550 count {lost}: {overtaken} below its base); hop: in {} lost \
             inside {} (queue 3 dropped {}), forwarding delay p50 {:.3} ms (queue 3 held \
             {:.3} ms)",
            h.seq_shift,
            h.ts_shift,
            pkts.len(),
            pkts.len() - eset.len(),
            span_loss(&eset),
            h.packets_in,
            h.lost_inside(),
            h.dropped_by_queue,
            median(&h.delay_ms),
            median(&h.injected_ms)
        );
        if *essrc == issrc {
            problems.push(format!("{name}: janus kept the SSRC {issrc:#x}"));
        }
        match find(*essrc, None, Some(dst), "v2") {
            Some(s) => {
                let p = &mut problems;
                exact(p, &name, "egress packets", &s["packets"], pkts.len() as i64);
                exact(p, &name, "egress lost", &s["lost"], lost);
            }
            None => problems.push(format!("{name}: no egress stream at v2")),
        }
        hops.push(h);
    }
    for ssrc in sent.keys() {
        let n = per_ingress.get(ssrc).copied().unwrap_or(0);
        if n != crate::sfu::SUBSCRIBERS {
            problems.push(format!(
                "publisher SSRC {ssrc:#x}: {n} egress stream(s), not one per subscriber ({})",
                crate::sfu::SUBSCRIBERS
            ));
        }
    }
    if let Err(e) = write_truth(dir, &sent, &queue3, &copies) {
        problems.push(format!("hop-truth.ndjson: {e}"));
    }
    check_hops(report, &hops, &mut problems);
    problems
}

/// One line per ingress packet that reached the probe: its capture time, whether the
/// middlebox queue let it into janus, and its egress copies (SSRC, sequence number,
/// destination, capture time).
fn write_truth(
    dir: &Path,
    sent: &BTreeMap<u32, Vec<Pkt>>,
    queue3: &HashMap<(u32, u16), (bool, f64)>,
    copies: &HashMap<(u32, u64), Vec<Value>>,
) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("hop-truth.ndjson"))?);
    for (&ssrc, pkts) in sent {
        for p in pkts {
            let line = json!({
                "ssrc": ssrc, "seq": p.seq, "ts": p.ts, "ingress_ns": p.t_ns.to_string(),
                "into_janus": queue3.get(&(ssrc, p.seq)).map(|q| q.0),
                "egress": copies.get(&(ssrc, p.ext)).cloned().unwrap_or_default(),
            });
            writeln!(f, "{line}")?;
        }
    }
    f.flush()
}

/// HOP ASSERTIONS, for the lead to check at merge with the hop matcher (issue 10, task P,
/// docs/output.md "hops[]" on its branch): when the replay reports `hops`, each [`HopTruth`]
/// must be one hop, `matched_by` `fingerprint` (the SSRC changed), with `packets_in`,
/// `packets_out`, `lost_inside` and `lost_upstream` exact and the forwarding delay's p50
/// within [`DELAY_TOLERANCE_MS`] of the true one (egress − ingress capture time: janus's own
/// processing time is in it, unlike queue 3's holding time alone); the egress stream's
/// `loss_split` must say the same upstream and inside loss.
pub fn check_hops(report: &Value, truth: &[HopTruth], problems: &mut Vec<String>) {
    let Some(hops) = crate::hop_truth::hops_of(report, problems) else {
        return;
    };
    let streams = report["streams"].as_array().cloned().unwrap_or_default();
    for t in truth {
        let name = format!(
            "hop {:#x} → {:#x} to {}",
            t.ingress_ssrc, t.egress_ssrc, t.egress_dst
        );
        let egress_of = |v: &Value| {
            v["ssrc"].as_u64() == Some(u64::from(t.egress_ssrc))
                && v["dst"].as_str() == Some(&t.egress_dst)
        };
        let Some(h) = hops.iter().find(|h| {
            h["ingress"]["ssrc"].as_u64() == Some(u64::from(t.ingress_ssrc))
                && egress_of(&h["egress"])
        }) else {
            problems.push(format!("{name}: not in the replay's hops"));
            continue;
        };
        eprintln!(
            "  {name}: matched_by {} confidence {}",
            h["matched_by"], h["confidence"]
        );
        if h["matched_by"].as_str() != Some("fingerprint") {
            problems.push(format!(
                "{name}: matched_by {}, not fingerprint",
                h["matched_by"]
            ));
        }
        let p = &mut *problems;
        exact(
            p,
            &name,
            "hop packets_in",
            &h["packets_in"],
            t.packets_in as i64,
        );
        exact(
            p,
            &name,
            "hop packets_out",
            &h["packets_out"],
            t.packets_out as i64,
        );
        exact(
            p,
            &name,
            "hop lost_inside",
            &h["lost_inside"],
            t.lost_inside(),
        );
        exact(
            p,
            &name,
            "hop lost_upstream",
            &h["lost_upstream"],
            t.lost_upstream,
        );
        match streams.iter().find(|v| egress_of(v)) {
            Some(s) => {
                let split = &s["loss_split"];
                exact(
                    p,
                    &name,
                    "loss_split.upstream",
                    &split["upstream"],
                    t.lost_upstream,
                );
                exact(
                    p,
                    &name,
                    "loss_split.inside_middlebox",
                    &split["inside_middlebox"],
                    t.lost_inside(),
                );
            }
            None => p.push(format!("{name}: no egress stream")),
        }
        let true_p50 = median(&t.delay_ms);
        let p50 = h["forwarding_delay"]["p50"].as_f64().map(|s| s * 1e3);
        eprintln!("  {name}: forwarding delay p50 {p50:?} ms, true {true_p50:.3} ms");
        if p50.map_or(true, |p| (p - true_p50).abs() > DELAY_TOLERANCE_MS) {
            problems.push(format!(
                "{name}: forwarding delay p50 {p50:?} ms, true {true_p50:.3} ms"
            ));
        }
    }
}
