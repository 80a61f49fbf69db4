//! Audio state against ground truth from the generator (src/synth): captures with known loss
//! patterns (random, bursty Gilbert) and known per-packet delays. The truth is computed here
//! from what the generator did — its send schedule (`start + i·ptime`), which packets it
//! dropped, each packet's capture time — by the definitions in docs/output.md ("Audio"), and
//! burst/gap by the literal RFC 3611 A.2 ([`super::appendix_a2`]).

use super::appendix_a2::A2;
use crate::config::Resolved;
use crate::engine::record::StreamRecord;
use crate::engine::Engine;
use crate::synth::rng::Rng;
use crate::synth::scenario::{Scenario, StreamSpec, MS};
use crate::synth::{Capture, FrameKind};
use crate::wire::{decode_udp, LinkType};

fn spec(loss: f64, bursts: Vec<(u32, u32)>, jitter_ns: i64, count: u32) -> StreamSpec {
    let mut s = StreamSpec::audio(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.1.1:50000".parse().unwrap(),
        0xA0D1_0001,
    );
    s.count = count;
    s.impair.loss = loss;
    s.impair.loss_bursts = bursts;
    s.impair.jitter_ns = jitter_ns;
    s
}

fn replay(c: &Capture, buffer_ms: u32) -> StreamRecord {
    replay_with(
        c,
        Resolved {
            jitter_buffer_ms: buffer_ms,
            ..Resolved::default()
        },
    )
}

fn replay_with(c: &Capture, cfg: Resolved) -> StreamRecord {
    let mut e = Engine::new(cfg);
    for f in &c.frames {
        let dg = decode_udp(LinkType::Ethernet, &f.bytes).expect("synthetic frames decode");
        e.on_datagram(f.ts_ns, &dg);
    }
    e.finish_all();
    let mut recs: Vec<StreamRecord> = e.drain_finished().into_iter().map(|(_, r)| r).collect();
    assert_eq!(recs.len(), 1);
    recs.remove(0)
}

/// What the generator did, per send index: captured (first copy's capture time) or not.
struct Truth {
    /// Capture time of each send index's first copy, None if dropped.
    arrival: Vec<Option<i64>>,
    /// Send indexes in capture order (first copies).
    order: Vec<usize>,
    /// Send time of index i, ns.
    send: Vec<i64>,
}

fn truth(c: &Capture, s: &StreamSpec) -> Truth {
    let n = s.count as usize;
    let mut arrival = vec![None; n];
    let mut order = Vec::new();
    for f in &c.frames {
        if !matches!(f.kind, FrameKind::Rtp { stream: 0 }) {
            continue;
        }
        // Ethernet (14) + IPv4 (20) + UDP (8), then the RTP header: sequence number at 2.
        let seq = u16::from_be_bytes([f.bytes[44], f.bytes[45]]);
        let i = usize::from(seq.wrapping_sub(s.first_seq));
        if arrival[i].is_none() {
            arrival[i] = Some(f.ts_ns);
            order.push(i);
        }
    }
    let send = (0..n).map(|i| s.start_ns + i as i64 * s.ptime_ns).collect();
    Truth {
        arrival,
        order,
        send,
    }
}

impl Truth {
    /// Send indexes the fixed buffer of `depth_ms` discards: in capture order, from the
    /// arrival after the one that ended RFC 3550 A.1 probation (two packets in a row, each
    /// the successor of the one before), a packet is late when its one-way delay exceeds the
    /// smallest delay of the packets judged so far (itself included; the first one anchors) by
    /// more than the depth.
    fn late(&self, depth_ms: i64) -> Vec<bool> {
        let mut late = vec![false; self.arrival.len()];
        let valid_at = (1..self.order.len())
            .find(|&k| self.order[k] == self.order[k - 1] + 1)
            .expect("stream validates");
        let mut min = i64::MAX;
        for &i in &self.order[valid_at + 1..] {
            let delay = self.arrival[i].unwrap() - self.send[i];
            min = min.min(delay);
            late[i] = delay - min > depth_ms * MS;
        }
        late
    }

    /// Lost flags in sequence order, first to last captured index.
    fn lost(&self) -> Vec<bool> {
        let first = self.arrival.iter().position(Option::is_some).unwrap();
        let last = self.arrival.iter().rposition(Option::is_some).unwrap();
        self.arrival[first..=last]
            .iter()
            .map(Option::is_none)
            .collect()
    }

    fn first(&self) -> usize {
        self.arrival.iter().position(Option::is_some).unwrap()
    }
}

/// 1/(p + q) from transitions counted over `lost`.
fn burst_r(lost: &[bool]) -> f64 {
    let mut t = [0u64; 4];
    for w in lost.windows(2) {
        t[usize::from(w[0]) * 2 + usize::from(w[1])] += 1;
    }
    let p = t[1] as f64 / (t[0] + t[1]) as f64;
    let q = t[2] as f64 / (t[2] + t[3]) as f64;
    1.0 / (p + q)
}

fn check_burst_gap(got: Option<super::pattern::BurstGapMetrics>, flags: &[bool], m: f64) {
    let mut a2 = A2::new();
    flags.iter().for_each(|&l| a2.packet(l));
    let (bd, gd, bl, gl) = a2.report(m).expect("some loss");
    let got = got.expect("burst_gap reported");
    assert!(
        (got.burst_density * 256.0 - bd).abs() < 1e-9,
        "{got:?} vs {bd}"
    );
    assert!(
        (got.gap_density * 256.0 - gd).abs() < 1e-9,
        "{got:?} vs {gd}"
    );
    assert!((got.burst_duration_ms.unwrap() - bl).abs() < 1e-6);
    assert!((got.gap_duration_ms.unwrap() - gl).abs() < 1e-6);
}

/// Bursty loss from a Gilbert model (p = 2 %, q = 25 %: mean burst 4 packets), no jitter:
/// BurstR equals 1/(p + q) of the realised pattern, burst/gap equal RFC 3611 A.2 over it, and
/// the loss-run histogram counts its runs.
#[test]
fn gilbert_loss_gives_the_patterns_burst_r_and_burst_gap() {
    let n = 6000u32;
    let mut rng = Rng::new(14);
    let mut bursts = Vec::new();
    let (mut i, mut lost_state) = (20u32, false);
    while i < n - 20 {
        let start = i;
        while i < n - 20 && lost_state {
            i += 1;
            lost_state = !rng.chance(0.25);
        }
        if i > start {
            bursts.push((start, i - start));
        }
        i += 1;
        lost_state = rng.chance(0.02);
    }
    let s = spec(0.0, bursts, 0, n);
    let mut sc = Scenario::new(3);
    sc.add(s.clone());
    let c = sc.build();
    let t = truth(&c, &s);
    let r = replay(&c, 60);
    let lost = t.lost();
    let want = burst_r(&lost);
    assert!(want > 3.0, "bursty: {want}");
    assert!((r.burst_r_network.unwrap() - want).abs() < 1e-12);
    // No jitter: nothing is late, the effective pattern is the network one.
    assert_eq!(r.jitter_buffer.unwrap().fixed_late, 0);
    assert!((r.burst_r.unwrap() - want).abs() < 1e-12);
    check_burst_gap(r.burst_gap_network, &lost, 20.0);
    check_burst_gap(r.burst_gap, &lost, 20.0);
    assert_eq!(r.ptime_ms, Some(20.0));
    let mut runs = [0u64; 7];
    let mut run = 0;
    for &l in lost.iter().chain([false].iter()) {
        if l {
            run += 1;
        } else if run > 0 {
            runs[super::pattern::RUN_BUCKETS
                .iter()
                .position(|&b| run <= b)
                .unwrap()] += 1;
            run = 0;
        }
    }
    let lr = r.loss_runs.unwrap();
    let got = [
        lr.one,
        lr.two,
        lr.three,
        lr.four_five,
        lr.six_ten,
        lr.eleven_twenty,
        lr.more,
    ];
    assert_eq!(got, runs);
    assert!(runs[3] + runs[4] > 0, "some long runs: {runs:?}");
}

/// Random loss: BurstR close to 1 (exactly the pattern's 1/(p + q)).
#[test]
fn random_loss_gives_burst_r_near_one() {
    let s = spec(0.05, Vec::new(), 0, 8000);
    let mut sc = Scenario::new(4);
    sc.add(s.clone());
    let c = sc.build();
    let t = truth(&c, &s);
    let r = replay(&c, 60);
    let want = burst_r(&t.lost());
    assert!((r.burst_r_network.unwrap() - want).abs() < 1e-12);
    assert!((want - 1.0).abs() < 0.1, "{want}");
}

/// Jitter (uniform 0–150 ms, so packets reorder) and random loss: for every buffer depth the
/// late packets are exactly those whose delay exceeds the running minimum by more than the
/// depth; the effective burst/gap is RFC 3611 A.2 over "lost or discarded"; the effective loss
/// ratio is (missing + late) / expected.
#[test]
fn late_packets_per_buffer_depth_equal_the_generators_delays() {
    let s = spec(0.02, Vec::new(), 150 * MS, 3000);
    let mut sc = Scenario::new(9);
    sc.add(s.clone());
    let c = sc.build();
    let t = truth(&c, &s);
    for depth in [20u32, 40, 60, 100, 140] {
        let r = replay(&c, depth);
        let late = t.late(i64::from(depth));
        let n_late = late.iter().filter(|&&l| l).count() as u64;
        let jb = r.jitter_buffer.unwrap();
        assert_eq!(jb.fixed_late, n_late, "depth {depth} ms");
        assert!(
            n_late > 0 || depth >= 140,
            "depth {depth}: the scenario makes late packets"
        );
        let first = t.first();
        let lost = t.lost();
        let eff: Vec<bool> = lost
            .iter()
            .enumerate()
            .map(|(k, &l)| l || late[first + k])
            .collect();
        check_burst_gap(r.burst_gap, &eff, 20.0);
        check_burst_gap(r.burst_gap_network, &lost, 20.0);
        assert!((r.burst_r.unwrap() - burst_r(&eff)).abs() < 1e-12);
        let missing = lost.iter().filter(|&&l| l).count() as u64;
        let want = (missing + n_late) as f64 / lost.len() as f64;
        assert!((r.effective_loss_ratio.unwrap() - want).abs() < 1e-12);
    }
}

/// `engine.audio_quality = false`: the same stream's loss and jitter, no audio state (its
/// fields null), and a quality estimate from network loss taken as random (BurstR 1), with no
/// late discards, where the audio state's estimate counts them.
#[test]
fn audio_quality_off_keeps_the_stream_and_drops_the_audio_state() {
    let s = spec(0.02, vec![(500, 6), (1500, 4)], 150 * MS, 3000);
    let mut sc = Scenario::new(9);
    sc.add(s.clone());
    let c = sc.build();
    let on = replay(&c, 60);
    let off = replay_with(
        &c,
        Resolved {
            audio_quality: false,
            ..Resolved::default()
        },
    );
    assert_eq!(
        (off.packets, off.expected, off.lost),
        (on.packets, on.expected, on.lost)
    );
    assert_eq!(off.jitter_ms, on.jitter_ms);
    assert!(on.jitter_buffer.is_some_and(|j| j.fixed_late > 0));
    assert!(on.burst_r.is_some());
    assert!(on.ptime_ms.is_some());
    assert_eq!(off.burst_r, None);
    assert_eq!(off.jitter_buffer, None);
    assert_eq!(off.ptime_ms, None);
    assert_eq!(off.effective_loss_ratio, None);
    let (q_on, q_off) = (on.quality.unwrap(), off.quality.unwrap());
    assert_eq!(q_off.codec, q_on.codec);
    // Late discards and bursts only lower the score.
    assert!(
        q_off.mos_lq > q_on.mos_lq,
        "{} {}",
        q_off.mos_lq,
        q_on.mos_lq
    );
}
