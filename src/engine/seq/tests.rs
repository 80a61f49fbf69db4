//! Unit tests for [`super::SeqTracker`]: wrap, restarts, duplicates, late packets, bursts, gaps.

use super::*;

/// Feeds `seqs` after `first`, returning the events.
fn run(first: u16, seqs: &[u16]) -> (SeqTracker, Vec<SeqEvent>) {
    let mut t = SeqTracker::new(first);
    let events = seqs.iter().map(|&s| t.update(s)).collect();
    (t, events)
}

fn clean(first: u16, n: u16) -> SeqTracker {
    let seqs: Vec<u16> = (1..n).map(|i| first.wrapping_add(i)).collect();
    run(first, &seqs).0
}

#[test]
fn seqnum_wrapping_comparisons() {
    assert!(SeqNum(0).is_newer_than(SeqNum(65535)));
    assert!(!SeqNum(65535).is_newer_than(SeqNum(0)));
    assert!(!SeqNum(7).is_newer_than(SeqNum(7)));
    assert_eq!(SeqNum(2).distance(SeqNum(65534)), 4);
    assert_eq!(SeqNum(65534).signed_distance(SeqNum(2)), -4);
    assert_eq!(SeqNum(65535).next(), SeqNum(0));
}

#[test]
fn probation_then_clean_stream_counts_every_packet() {
    let (t, ev) = run(1000, &[1001, 1002]);
    assert_eq!(
        ev,
        vec![
            SeqEvent::Valid {
                ext_seq: 1001,
                gap: 0
            },
            SeqEvent::Valid {
                ext_seq: 1002,
                gap: 0
            }
        ]
    );
    assert_eq!((t.received(), t.expected(), t.lost()), (3, 3, 0));
    assert_eq!(t.base_ext_seq(), 1000);

    let t = clean(40_000, 500);
    assert_eq!((t.received(), t.expected(), t.lost()), (500, 500, 0));
}

#[test]
fn single_packet_is_on_probation() {
    let t = SeqTracker::new(5);
    assert!(!t.is_valid());
    assert_eq!((t.received(), t.expected(), t.lost()), (0, 0, 0));
    assert_eq!(t.missing_upto(5), None);
}

#[test]
fn gap_during_probation_is_loss() {
    // rtpproxy-lost.pcap: 400, then 22 lost, then 423, 424: not a new source.
    let (t, ev) = run(400, &[423, 424]);
    assert_eq!(ev[0], SeqEvent::Probation);
    assert_eq!(
        ev[1],
        SeqEvent::Valid {
            ext_seq: 424,
            gap: 0
        }
    );
    assert_eq!(t.base_ext_seq(), 400);
    assert_eq!((t.received(), t.expected(), t.lost()), (3, 25, 22));
    assert_eq!(t.missing_upto(424), Some(22));
    assert_eq!(t.discarded(), 0);
    // Validity still needs two packets in a row: a run of gaps stays on probation.
    let (t, ev) = run(10, &[20, 22, 2_999 + 22, 3_021 + 1]);
    assert!(
        ev.iter().take(3).all(|e| *e == SeqEvent::Probation),
        "{ev:?}"
    );
    assert!(t.is_valid());
    assert_eq!(t.base_ext_seq(), 10);
    assert_eq!((t.received(), t.expected()), (5, 3_022 - 10 + 1));
    // A gap across the wrap: 65000, then 1000 (1536 ahead), 1001.
    let (t, _) = run(65_000, &[1_000, 1_001]);
    assert_eq!(t.base_ext_seq(), 65_000);
    assert_eq!(t.highest_ext_seq(), 65_536 + 1_001);
    assert_eq!((t.received(), t.expected(), t.lost()), (3, 1_538, 1_535));
}

#[test]
fn duplicate_during_probation_is_a_duplicate() {
    // rtpproxy-dups.pcap: the first packet arrives twice, then the stream goes on.
    let (t, ev) = run(0, &[0, 1, 2]);
    assert_eq!(ev[0], SeqEvent::Probation);
    assert_eq!(ev[1], SeqEvent::Valid { ext_seq: 1, gap: 0 });
    assert_eq!(t.duplicates(), 1);
    assert_eq!((t.received(), t.expected(), t.lost()), (4, 3, -1));
    assert_eq!(t.missing_upto(2), Some(0));
    // Every packet sent twice (hdiniz-volte-amr-nb.pcap): 0, 0, 1, 1.
    let (t, ev) = run(7, &[7, 8, 8]);
    assert_eq!(ev[2], SeqEvent::Duplicate { ext_seq: 8 });
    assert_eq!((t.duplicates(), t.received(), t.lost()), (2, 4, -2));
    // The packet that ends probation can itself be a duplicate: 10, 12, 11, 12.
    let (t, ev) = run(10, &[12, 11, 12]);
    assert_eq!(ev[..2], [SeqEvent::Probation, SeqEvent::Probation]);
    assert_eq!(ev[2], SeqEvent::Duplicate { ext_seq: 12 });
    assert!(t.is_valid());
    assert_eq!((t.received(), t.expected(), t.lost()), (4, 3, -1));
    assert_eq!((t.duplicates(), t.reordered()), (1, 1));
}

#[test]
fn reordered_during_probation_lowers_the_base() {
    // 11 arrives before 10: the run starts at its lowest packet.
    let (t, ev) = run(11, &[10, 12, 13]);
    assert_eq!(ev[..2], [SeqEvent::Probation, SeqEvent::Probation]);
    assert_eq!(
        ev[2],
        SeqEvent::Valid {
            ext_seq: 13,
            gap: 0
        }
    );
    assert_eq!(t.base_ext_seq(), 10);
    assert_eq!((t.received(), t.expected(), t.lost()), (4, 4, 0));
    assert_eq!((t.reordered(), t.duplicates()), (1, 0));
    assert_eq!(t.missing_upto(13), Some(0));
    // Late within the run (not below its first packet): loss filled, base kept.
    let (t, _) = run(100, &[103, 101, 104, 105]);
    assert_eq!(t.base_ext_seq(), 100);
    assert_eq!((t.received(), t.expected(), t.lost()), (5, 6, 1));
    assert_eq!(t.missing_upto(105), Some(1));
    // 99 behind the highest is still late; the base follows it.
    let (t, _) = run(1000, &[901, 1001, 1002]);
    assert!(t.is_valid());
    assert_eq!(t.base_ext_seq(), 901);
    assert_eq!((t.received(), t.expected(), t.lost()), (4, 102, 98));
    // Behind extended sequence number 0: late, not remembered, the base stays.
    let (t, ev) = run(2, &[65_534, 3]);
    assert_eq!(ev[0], SeqEvent::Probation);
    assert!(!t.is_valid());
    let (t, ev) = run(2, &[65_534, 65_535, 3]);
    assert_eq!(ev[1], SeqEvent::Late { ext_seq: 0 });
    assert!(t.is_valid());
    assert_eq!(t.base_ext_seq(), 2);
    assert_eq!((t.received(), t.expected(), t.reordered()), (4, 2, 2));
    // Valid, then late before the base: A.1 from now on, the base is fixed.
    let (t, ev) = run(11, &[12, 10]);
    assert_eq!(ev[1], SeqEvent::Late { ext_seq: 10 });
    assert_eq!((t.base_ext_seq(), t.received(), t.expected()), (11, 3, 2));
}

#[test]
fn jump_during_probation_restarts_it() {
    // MAX_DROPOUT ahead: another source or a restart; the run before it is never counted.
    let (t, ev) = run(100, &[100 + 3_000, 3_101]);
    assert_eq!(ev[0], SeqEvent::ProbationRestart { discarded: 1 });
    assert_eq!(
        ev[1],
        SeqEvent::Valid {
            ext_seq: 3_101,
            gap: 0
        }
    );
    assert_eq!(t.base_ext_seq(), 3_100);
    assert_eq!((t.received(), t.expected(), t.discarded()), (2, 2, 1));
    // One less is a gap.
    let (t, ev) = run(100, &[3_099, 3_100]);
    assert_eq!(ev[0], SeqEvent::Probation);
    assert_eq!((t.received(), t.expected(), t.discarded()), (3, 3_001, 0));
    // MAX_MISORDER behind the run's highest, with a duplicate in the run: all of it dropped,
    // duplicates included.
    let (t, ev) = run(1000, &[1000, 1005, 905, 906]);
    assert_eq!(ev[2], SeqEvent::ProbationRestart { discarded: 3 });
    assert!(t.is_valid());
    assert_eq!((t.base_ext_seq(), t.received(), t.expected()), (905, 2, 2));
    assert_eq!((t.duplicates(), t.reordered(), t.discarded()), (0, 0, 3));
    // Across the wrap (65000 + 3000 = 2464 mod 2^16).
    let (t, ev) = run(65_000, &[2_464, 2_465]);
    assert_eq!(ev[0], SeqEvent::ProbationRestart { discarded: 1 });
    assert_eq!(
        (t.base_ext_seq(), t.received(), t.expected()),
        (2_464, 2, 2)
    );
    // Random UDP: jump after jump, never valid, nothing counted.
    let (t, ev) = run(0, &[10_000, 20_000, 30_000]);
    assert!(ev
        .iter()
        .all(|e| *e == SeqEvent::ProbationRestart { discarded: 1 }));
    assert!(!t.is_valid());
    assert_eq!((t.received(), t.expected(), t.discarded()), (0, 0, 3));
}

#[test]
fn wrap_around_extends_the_sequence_space() {
    let t = clean(65_500, 100);
    assert_eq!(t.highest_ext_seq(), 65_500 + 99);
    assert_eq!((t.received(), t.expected(), t.lost()), (100, 100, 0));
    let (_, ev) = run(65534, &[65535, 0, 1]);
    assert_eq!(
        ev[1],
        SeqEvent::Valid {
            ext_seq: 65536,
            gap: 0
        }
    );
}

#[test]
fn probation_across_the_wrap_ends_unlike_the_letter_of_a1() {
    let (t, ev) = run(65535, &[0]);
    assert_eq!(
        ev,
        vec![SeqEvent::Valid {
            ext_seq: 65536,
            gap: 0
        }]
    );
    assert_eq!(
        (t.base_ext_seq(), t.received(), t.expected()),
        (65535, 2, 2)
    );
}

#[test]
fn gaps_and_bursts_are_lost() {
    // 100..=102, then a burst of 10 lost (103..=112), then 113.
    let (t, ev) = run(100, &[101, 102, 113, 114]);
    assert_eq!(
        ev[2],
        SeqEvent::Valid {
            ext_seq: 113,
            gap: 10
        }
    );
    assert_eq!((t.received(), t.expected(), t.lost()), (5, 15, 10));
    assert_eq!(t.missing_upto(112), Some(10));
    assert_eq!(t.missing_upto(105), Some(3));
    assert_eq!(t.missing_upto(102), Some(0));
    assert_eq!(t.missing_upto(99), None);
    assert_eq!(t.missing_upto(115), None);
}

#[test]
fn long_gap_below_max_dropout_is_in_order() {
    let (t, ev) = run(0, &[1, 3000]);
    assert_eq!(
        ev[1],
        SeqEvent::Valid {
            ext_seq: 3000,
            gap: 2998
        }
    );
    assert_eq!(t.lost(), 2998);
    // The window (4096) still covers the whole gap.
    assert_eq!(t.missing_upto(1), Some(0));
    assert_eq!(t.missing_upto(2), Some(1));
    assert_eq!(t.missing_upto(2999), Some(2998));
}

#[test]
fn long_gap_in_steps_beyond_the_window() {
    let mut t = clean(0, 10);
    for s in [2000u16, 4000, 6000, 8000] {
        assert!(matches!(t.update(s), SeqEvent::Valid { .. }));
    }
    assert_eq!(t.lost(), 8001 - 14);
    assert_eq!(t.missing_upto(8000), Some(8001 - 14));
    assert_eq!(t.missing_upto(5000), Some(5001 - 12));
    assert_eq!(t.missing_upto(3000), None, "outside the window");
}

#[test]
fn duplicates_are_counted_received_and_flagged() {
    let (t, ev) = run(10, &[11, 12, 12, 11, 13]);
    assert_eq!(ev[2], SeqEvent::Duplicate { ext_seq: 12 });
    assert_eq!(ev[3], SeqEvent::Duplicate { ext_seq: 11 });
    assert_eq!((t.received(), t.expected(), t.lost()), (6, 4, -2));
    assert_eq!(t.duplicates(), 2);
    assert_eq!(t.reordered(), 0);
    assert_eq!(t.missing_upto(13), Some(0));
}

#[test]
fn late_packets_fill_gaps() {
    let (mut t, ev) = run(10, &[11, 13, 14, 12, 12]);
    assert_eq!(
        ev[1],
        SeqEvent::Valid {
            ext_seq: 13,
            gap: 1
        }
    );
    assert_eq!(ev[3], SeqEvent::Late { ext_seq: 12 });
    assert_eq!(ev[4], SeqEvent::Duplicate { ext_seq: 12 });
    assert_eq!((t.reordered(), t.duplicates()), (1, 1));
    assert_eq!((t.received(), t.expected(), t.lost()), (6, 5, -1));
    assert_eq!(t.missing_upto(14), Some(0));
    // Late across the wrap.
    let mut w = clean(65530, 10); // 65530..=65539 (ext), seq 3 last
    assert_eq!(
        w.update(5),
        SeqEvent::Valid {
            ext_seq: 65541,
            gap: 1
        }
    );
    assert_eq!(w.update(4), SeqEvent::Late { ext_seq: 65540 });
    assert_eq!(w.update(65535), SeqEvent::Duplicate { ext_seq: 65535 });
    assert_eq!(
        t.update(15),
        SeqEvent::Valid {
            ext_seq: 15,
            gap: 0
        }
    );
}

#[test]
fn late_packet_before_the_base() {
    let (t, ev) = run(1000, &[1001, 995, 995]);
    assert_eq!(ev[1], SeqEvent::Late { ext_seq: 995 });
    assert_eq!(ev[2], SeqEvent::Duplicate { ext_seq: 995 });
    assert_eq!((t.received(), t.expected(), t.lost()), (4, 2, -2));
    assert_eq!(t.missing_upto(1001), Some(0));
    // Before extended sequence number 0: late, reported at 0, not remembered.
    let (t, ev) = run(1, &[2, 65534, 65534]);
    assert_eq!(ev[1], SeqEvent::Late { ext_seq: 0 });
    assert_eq!(ev[2], SeqEvent::Late { ext_seq: 0 });
    assert_eq!(t.reordered(), 2);
}

#[test]
fn far_old_packet_is_bad_not_late() {
    // 100 behind the highest is outside A.1's misorder band: a "bad" jump.
    let (t, ev) = run(1000, &[1001, 1100, 1000]);
    assert_eq!(ev[2], SeqEvent::Bad);
    assert_eq!(t.received(), 3);
}

#[test]
fn restart_after_two_sequential_packets_keeps_totals() {
    let mut t = clean(100, 50); // 100..=149
    assert_eq!(
        t.update(150),
        SeqEvent::Valid {
            ext_seq: 150,
            gap: 0
        }
    );
    assert_eq!(
        t.update(152),
        SeqEvent::Valid {
            ext_seq: 152,
            gap: 1
        }
    );
    assert_eq!(t.update(40_000), SeqEvent::Bad);
    assert_eq!(t.update(40_001), SeqEvent::Restart);
    assert_eq!(t.restarts(), 1);
    assert_eq!(t.base_ext_seq(), 40_001);
    assert_eq!(t.highest_ext_seq(), 40_001);
    // 53 expected, 52 received before; 1 and 1 since (the bad packet is not counted).
    assert_eq!((t.expected(), t.received(), t.lost()), (54, 53, 1));
    assert_eq!(
        t.update(40_003),
        SeqEvent::Valid {
            ext_seq: 40_003,
            gap: 1
        }
    );
    assert_eq!((t.expected(), t.received(), t.lost()), (56, 54, 2));
    // The old segment is gone from the window.
    assert_eq!(t.missing_upto(150), None);
    assert_eq!(t.missing_upto(40_003), Some(1));
}

#[test]
fn isolated_bad_packet_does_not_restart() {
    let mut t = clean(100, 10);
    assert_eq!(t.update(30_000), SeqEvent::Bad);
    assert_eq!(
        t.update(110),
        SeqEvent::Valid {
            ext_seq: 110,
            gap: 0
        }
    );
    assert_eq!(t.update(30_002), SeqEvent::Bad);
    assert_eq!(t.restarts(), 0);
    assert_eq!((t.expected(), t.received()), (11, 11));
}

#[test]
fn interval_fraction_lost_follows_a3() {
    let mut t = clean(0, 10);
    assert_eq!(t.interval_fraction_lost(), 0);
    // 4 of the next 8 lost: 128/256.
    for s in [11u16, 13, 15, 17] {
        t.update(s);
    }
    assert_eq!(t.interval_fraction_lost(), 128);
    assert_eq!(t.interval_fraction_lost(), 0, "nothing new");
    // Duplicates make the interval loss negative: reported as 0.
    t.update(17);
    t.update(17);
    assert_eq!(t.interval_fraction_lost(), 0);
    // Spanning a restart: 1 lost of 3 before it, then 2 counted after.
    t.update(19);
    t.update(50_000);
    t.update(50_001);
    t.update(50_002);
    // expected +2 +1 +1 = 4 (18, 19 | 50001, 50002), received 3.
    assert_eq!(t.interval_fraction_lost(), 64);
}

#[test]
fn ext_from_report_maps_to_the_nearest_cycle() {
    let t = clean(65_500, 100); // highest ext 65599 (seq 63)
    assert_eq!(t.ext_from_report(63), 65_599);
    assert_eq!(t.ext_from_report(0x0001_0000 | 63), 65_599);
    assert_eq!(t.ext_from_report(0x0005_0000 | 10), 65_546);
    assert_eq!(t.ext_from_report(65_530), 65_530);
    let t = clean(0, 5);
    assert_eq!(t.ext_from_report(65_535), 0, "saturates below 0");
}

#[test]
fn no_panic_on_any_pair() {
    for a in (0..=u16::MAX).step_by(97) {
        let mut t = SeqTracker::new(a);
        for b in (0..=u16::MAX).step_by(89) {
            t.update(b);
            t.update(b.wrapping_add(1));
        }
        let _ = (
            t.lost(),
            t.interval_fraction_lost(),
            t.missing_upto(t.highest_ext_seq()),
        );
    }
}

#[test]
fn settled_loss_waits_for_the_reorder_horizon_and_ignores_filled_gaps() {
    // 0..=300 with 150 late (after 160), 200 never, 10 twice.
    let mut seqs: Vec<u16> = (0..=300).filter(|&s| s != 150 && s != 200).collect();
    let at = seqs.iter().position(|&s| s == 160).unwrap();
    seqs.insert(at + 1, 150);
    seqs.insert(20, 10);
    let mut t = SeqTracker::new(seqs[0]);
    let mut settled = Vec::new();
    for &s in &seqs[1..] {
        t.update(s);
        settled.push((s, t.lost_settled()));
    }
    // 150 was missing for a while, never settled: nothing counted while it could arrive.
    assert!(
        settled.iter().all(|&(s, v)| v == u64::from(s >= 300)),
        "{settled:?}"
    );
    // A.3: lost 1 - 1 duplicate = 0; the settled loss counts the missing number.
    assert_eq!((t.lost(), t.duplicates()), (0, 1));
    assert_eq!(t.lost_final(), 1);
}

#[test]
fn settled_loss_is_monotonic_and_ends_at_lost_plus_duplicates() {
    // Pseudo-random loss, reordering (within and beyond A.1's misorder band), duplicates and
    // restarts: the settled loss never decreases and never passes the final loss, which is
    // lost + duplicates (per segment at least 0: equal without restarts).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for (start, jumps) in [
        (0u16, false),
        (65_000, true),
        (65_535, false),
        (30_000, true),
    ] {
        let mut t = SeqTracker::new(start);
        let mut seq = start;
        let mut prev = 0;
        for _ in 0..20_000 {
            match rnd(100) {
                0..=4 => {
                    t.update(seq.wrapping_sub(rnd(120) as u16)); // late, some beyond the band
                }
                5..=6 => {
                    t.update(seq); // duplicate of the highest
                }
                7 if jumps && rnd(50) == 0 => {
                    // A jump, then its successor: an A.1 restart.
                    seq = seq.wrapping_add(20_000);
                    t.update(seq);
                    seq = seq.wrapping_add(1);
                    t.update(seq);
                }
                _ => {
                    seq = seq.wrapping_add(1 + u16::from(rnd(10) == 0) * rnd(5) as u16);
                    t.update(seq);
                }
            }
            let v = t.lost_settled();
            assert!(v >= prev, "decreased: {prev} -> {v}");
            assert!(v <= t.lost_final(), "settled {v} above {}", t.lost_final());
            prev = v;
        }
        let end = t.lost().saturating_add_unsigned(t.duplicates()).max(0) as u64;
        if jumps {
            assert!(t.lost_final() >= end, "start {start}");
        } else {
            assert_eq!(t.lost_final(), end, "start {start}");
        }
        assert!(t.restarts() > 0 || !jumps);
        assert!(t.duplicates() > 0 && t.reordered() > 0 && t.lost_settled() > 0);
    }
}

/// The clean tracker is 40 bytes inline; what loss, disorder, duplicates and restarts need is
/// one box of this size (plus the 512-byte bitmap only while more than `MAX_GAPS` gaps lie in
/// the window).
#[test]
fn sizes_are_pinned() {
    assert_eq!(std::mem::size_of::<SeqTracker>(), 40);
    assert_eq!(std::mem::size_of::<Rare>(), 232);
}

/// More gaps than the list holds: the window turns into the bitmap and still answers exactly.
#[test]
fn many_gaps_fall_back_to_the_bitmap_with_the_same_answers() {
    let mut t = SeqTracker::new(0);
    // Every third number lost, 40 times: 40 gaps within the window.
    let mut got = Vec::new();
    for s in 1..120u16 {
        if s % 3 != 0 {
            t.update(s);
            got.push(u64::from(s));
        }
    }
    got.push(0);
    let highest = t.highest_ext_seq();
    for ext in [0, 1, 50, 99, 100, highest] {
        let missing = (0..=ext).filter(|e| !got.contains(e)).count() as u64;
        assert_eq!(t.missing_upto(ext), Some(missing), "ext {ext}");
    }
    // A late packet fills one gap.
    assert_eq!(t.update(117), SeqEvent::Late { ext_seq: 117 });
    assert_eq!(t.missing_upto(highest), Some(39 - 1));
    assert_eq!(t.update(117), SeqEvent::Duplicate { ext_seq: 117 });
}
