//! Property tests: [`SeqTracker`] against the literal A.1/A.3 and against a set model.
//!
//! What must coincide with the letter of A.1/A.3, packet by packet:
//! * which packets are counted (A.1 returns 1) and which are not (probation, bad);
//! * validity, restarts, the extended highest sequence number;
//! * cumulative loss, and the interval fraction over intervals that start after validity and do
//!   not span a restart.
//!
//! Where we differ on purpose (see the `seq` module doc), the comparison adjusts:
//! * probation packets counted: our `expected` and `received` are the literal's plus
//!   `MIN_SEQUENTIAL - 1`, and our first base is one lower;
//! * totals across restarts: the literal's segment counts are folded by the harness when it
//!   sees A.1's restart branch taken;
//! * the int-promotion quirk on 65535 → 0 during probation: cases that hit it are rejected (the
//!   unit test `probation_across_the_wrap_ends_unlike_the_letter_of_a1` covers our behaviour).
//!
//! Duplicate/late classification and `missing_upto` have no counterpart in Appendix A; they are
//! checked against an exact set of the extended sequence numbers received in the segment.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::{a3_expected, a3_report, update_seq, Source, MAX_DROPOUT, MAX_MISORDER, RTP_SEQ_MOD};
use crate::engine::seq::{SeqEvent, SeqTracker};

/// What the sender (and the network) does next.
#[derive(Debug, Clone)]
enum Op {
    /// The next packet.
    Next,
    /// Lose `k` packets, send the one after.
    Skip(u16),
    /// Resend (duplicate or late) the packet `k` behind the sender's current one.
    Resend(u16),
    /// Two packets swapped on the wire.
    Swap,
    /// A stray packet with an arbitrary sequence number.
    Stray(u16),
    /// The sender restarts at an arbitrary sequence number.
    Restart(u16),
    /// A receiver report is due (A.3 interval).
    Report,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Packet(u16),
    Report,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        60 => Just(Op::Next),
        10 => (0u16..40).prop_map(Op::Skip),
        2 => (40u16..4000).prop_map(Op::Skip),
        8 => (0u16..130).prop_map(Op::Resend),
        4 => Just(Op::Swap),
        2 => any::<u16>().prop_map(Op::Stray),
        1 => any::<u16>().prop_map(Op::Restart),
        4 => Just(Op::Report),
    ]
}

fn first_seq() -> impl Strategy<Value = u16> {
    prop_oneof![any::<u16>(), 65_000u16..=65_535, 0u16..200]
}

/// Expands the sender's actions into what the probe sees.
fn steps(first: u16, ops: &[Op]) -> Vec<Step> {
    let mut cur = first;
    let mut out = Vec::new();
    for op in ops {
        match *op {
            Op::Next => {
                cur = cur.wrapping_add(1);
                out.push(Step::Packet(cur));
            }
            Op::Skip(k) => {
                cur = cur.wrapping_add(k).wrapping_add(1);
                out.push(Step::Packet(cur));
            }
            Op::Resend(k) => out.push(Step::Packet(cur.wrapping_sub(k))),
            Op::Swap => {
                out.push(Step::Packet(cur.wrapping_add(2)));
                out.push(Step::Packet(cur.wrapping_add(1)));
                cur = cur.wrapping_add(2);
            }
            Op::Stray(s) => out.push(Step::Packet(s)),
            Op::Restart(s) => {
                cur = s;
                out.push(Step::Packet(cur));
            }
            Op::Report => out.push(Step::Report),
        }
    }
    out
}

/// A.1's restart branch, decided from the state before `update_seq` (the transcription itself
/// stays untouched).
fn literal_restarts(s: &Source, seq: u16) -> bool {
    let udelta = seq.wrapping_sub(s.max_seq);
    s.probation == 0
        && i32::from(udelta) >= MAX_DROPOUT
        && i64::from(udelta) <= i64::from(RTP_SEQ_MOD) - i64::from(MAX_MISORDER)
        && u32::from(seq) == s.bad_seq
}

/// The C int-promotion quirk: on probation, 65535 followed by 0 is not "in sequence".
fn literal_quirk(s: &Source, seq: u16) -> bool {
    s.probation != 0 && s.max_seq == u16::MAX && seq == 0
}

fn counted(ev: SeqEvent) -> bool {
    !matches!(ev, SeqEvent::Probation | SeqEvent::Bad)
}

/// Exact model of the extended sequence numbers received in the current segment.
struct Model {
    seen: BTreeSet<u64>,
    duplicates: u64,
    reordered: u64,
}

impl Model {
    fn missing_upto(&self, base: u64, ext: u64) -> u64 {
        (ext - base + 1) - self.seen.range(base..=ext).count() as u64
    }
}

fn check(first: u16, steps: &[Step], probe: u64) -> Result<(), TestCaseError> {
    let offset = u64::from(super::MIN_SEQUENTIAL - 1);
    let mut lit = Source::new(first);
    prop_assert_eq!(update_seq(&mut lit, first), 0);
    prop_assert_eq!((lit.probation, lit.max_seq), (1, first));
    let mut ours = SeqTracker::new(first);
    let mut model = Model {
        seen: BTreeSet::new(),
        duplicates: 0,
        reordered: 0,
    };
    let (mut folded_expected, mut folded_received) = (0u64, 0u64);
    let mut restarts = 0u64;
    // Whether the interval since the last report is comparable with the literal's.
    let mut clean = false;

    for (i, step) in steps.iter().enumerate() {
        let seq = match *step {
            Step::Packet(seq) => seq,
            Step::Report => {
                let fraction = ours.interval_fraction_lost();
                if lit.probation == 0 {
                    let (lit_lost, lit_fraction) = a3_report(&mut lit);
                    // The literal's segment loss (never near the 24-bit clamp here) plus
                    // the folded segments'.
                    let folded_lost = folded_expected as i64 - folded_received as i64;
                    prop_assert_eq!(ours.lost(), folded_lost + i64::from(lit_lost));
                    if clean {
                        prop_assert_eq!(i32::from(fraction), lit_fraction.min(255), "step {}", i);
                    }
                    clean = true;
                }
                continue;
            }
        };
        prop_assume!(!literal_quirk(&lit, seq));
        let before = lit;
        let high_before = ours.highest_ext_seq();
        let was_valid = ours.is_valid();
        let lit_ret = update_seq(&mut lit, seq);
        let ev = ours.update(seq);
        let lit_restart = literal_restarts(&before, seq);

        prop_assert_eq!(
            lit_ret == 1,
            counted(ev),
            "step {}: seq {} -> {:?}",
            i,
            seq,
            ev
        );
        prop_assert_eq!(lit_restart, ev == SeqEvent::Restart, "step {}: {:?}", i, ev);
        prop_assert_eq!(ours.is_valid(), lit.probation == 0);
        if lit_restart {
            folded_expected += u64::from(a3_expected(&before) as u32);
            folded_received += u64::from(before.received);
            restarts += 1;
            clean = false;
        }
        if !ours.is_valid() {
            prop_assert_eq!((ours.received(), ours.expected()), (0, 0));
            continue;
        }

        // A.1 / A.3, adjusted for the intended differences.
        let lit_highest = u64::from(lit.cycles) + u64::from(lit.max_seq);
        prop_assert_eq!(ours.highest_ext_seq(), lit_highest);
        let lit_base = u64::from(lit.base_seq) - if restarts == 0 { offset } else { 0 };
        prop_assert_eq!(ours.base_ext_seq(), lit_base);
        let lit_expected = u64::from(a3_expected(&lit) as u32);
        prop_assert_eq!(ours.expected(), folded_expected + lit_expected + offset);
        prop_assert_eq!(
            ours.received(),
            folded_received + u64::from(lit.received) + offset
        );
        prop_assert_eq!(ours.restarts(), restarts);

        // Duplicate / late classification against the exact set.
        let base = ours.base_ext_seq();
        let highest = ours.highest_ext_seq();
        match ev {
            SeqEvent::Valid { ext_seq, gap } => {
                if was_valid {
                    prop_assert_eq!(ext_seq, high_before + gap + 1);
                    prop_assert!(model.seen.insert(ext_seq));
                } else {
                    prop_assert_eq!(gap, 0);
                    model.seen = (base..=ext_seq).collect();
                }
            }
            SeqEvent::Restart => model.seen = [base].into_iter().collect(),
            SeqEvent::Duplicate { ext_seq } => {
                prop_assert!(model.seen.contains(&ext_seq), "step {}: {:?}", i, ev);
                model.duplicates += 1;
            }
            SeqEvent::Late { ext_seq } => {
                let back = u64::from(back(high_before, seq));
                match high_before.checked_sub(back) {
                    Some(ext) => {
                        prop_assert_eq!(ext_seq, ext);
                        prop_assert!(ext_seq < highest);
                        prop_assert!(model.seen.insert(ext_seq), "step {}: {:?}", i, ev);
                    }
                    None => prop_assert_eq!(ext_seq, 0),
                }
                model.reordered += 1;
            }
            SeqEvent::Probation | SeqEvent::Bad => {}
        }
        prop_assert_eq!(ours.duplicates(), model.duplicates);
        prop_assert_eq!(ours.reordered(), model.reordered);
        prop_assert_eq!(
            ours.missing_upto(highest),
            Some(model.missing_upto(base, highest))
        );
        let below = (probe % 5000).min(highest - base);
        let ext = highest - below;
        let want = (below <= 4096).then(|| model.missing_upto(base, ext));
        prop_assert_eq!(ours.missing_upto(ext), want, "ext {}", ext);
        prop_assert_eq!(
            ours.ext_from_report((highest as u32).wrapping_add(0x0003_0000)),
            highest
        );
    }
    Ok(())
}

/// How far `seq` is behind the 16-bit part of `highest`.
fn back(highest: u64, seq: u16) -> u16 {
    // Truncation to the low 16 bits is the intent.
    (highest as u16).wrapping_sub(seq)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn seq_tracker_matches_appendix_a(
        first in first_seq(),
        ops in prop::collection::vec(op(), 1..400),
        probe in any::<u64>(),
    ) {
        check(first, &steps(first, &ops), probe)?;
    }

    /// Mostly clean streams long enough to wrap, with bursts and reordering.
    #[test]
    fn seq_tracker_matches_appendix_a_across_wraps(
        first in any::<u16>(),
        ops in prop::collection::vec(
            prop_oneof![20 => Just(Op::Next), 3 => (0u16..2500).prop_map(Op::Skip),
                        2 => (0u16..100).prop_map(Op::Resend), 2 => Just(Op::Swap),
                        1 => Just(Op::Report)],
            100..300,
        ),
        probe in any::<u64>(),
    ) {
        check(first, &steps(first, &ops), probe)?;
    }
}
