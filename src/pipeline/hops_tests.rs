//! Tests of the hop stage (`super`): totals, the stopped list, delay buckets.

use super::*;

/// A stage fed a synthetic hop scenario, `every` frames between snapshots; each
/// snapshot's totals, and the hops in the order they ended.
fn staged(
    name: &str,
    every: usize,
    linger_ns: i64,
) -> (
    HopStage,
    Vec<BTreeMap<HopLabels, HopTotals>>,
    Vec<HopRecord>,
) {
    let (cap, _) = crate::synth::hop::named(name).unwrap().build();
    let names = PointNames::shared("capture");
    let mut st = HopStage::new(Limits::default(), names, 8, linger_ns);
    let mut seen = Vec::new();
    let mut ended = Vec::new();
    for (n, f) in cap.frames.iter().enumerate() {
        let link = crate::wire::LinkType::from_dlt(f.linktype as i32).unwrap();
        let dg = crate::wire::decode_udp(link, &f.bytes).unwrap();
        if st.on_datagram(f.ts_ns, &dg, ObservationPoint::CAPTURE) {
            st.drain(f.ts_ns, &mut |_, _, _| {}, &mut |_, h| ended.push(h));
        }
        // The stage keeps state for open hops only.
        assert!(st.seen.len() <= st.matcher().open_hop_count(), "{name}");
        if n % every == 0 {
            st.rebuild(f.ts_ns);
            seen.push(st.snapshot.totals.clone());
        }
    }
    let end = cap.frames.last().unwrap().ts_ns;
    st.finish(end);
    st.drain(end, &mut |_, _, _| {}, &mut |_, h| ended.push(h));
    assert!(st.seen.is_empty(), "{name}: nothing open after the end");
    st.snapshot(end, true);
    seen.push(st.snapshot.totals.clone());
    (st, seen, ended)
}

#[test]
fn totals_never_go_down_and_end_as_the_ended_hops_say() {
    // Simulcast: hops stop (layer switches); fan-out: three at once.
    for name in ["simulcast", "fanout", "sfu"] {
        let (st, seen, ended) = staged(name, 97, i64::MAX);
        for w in seen.windows(2) {
            for (k, b) in &w[1] {
                let a = w[0].get(k).cloned().unwrap_or_default();
                assert!(b.packets_in >= a.packets_in, "{name}");
                assert!(b.packets_out >= a.packets_out, "{name}");
                assert!(b.lost_inside >= a.lost_inside, "{name}");
                assert!(b.delay.count >= a.delay.count, "{name}");
                assert!(b
                    .delay
                    .counts
                    .iter()
                    .zip(&a.delay.counts)
                    .all(|(x, y)| x >= y));
            }
        }
        assert!(st.matcher().report().is_empty(), "{name}");
        assert!(!ended.is_empty(), "{name}");
        let last = seen.last().unwrap();
        let sum = |f: fn(&HopTotals) -> u64| last.values().map(f).sum::<u64>();
        let want = |f: fn(&HopRecord) -> u64| ended.iter().map(f).sum::<u64>();
        assert_eq!(sum(|t| t.packets_in), want(|h| h.packets_in), "{name}");
        assert_eq!(sum(|t| t.packets_out), want(|h| h.packets_out), "{name}");
        assert_eq!(sum(|t| t.lost_inside), want(|h| h.lost_inside), "{name}");
        assert_eq!(sum(|t| t.delay.count), want(|h| h.packets_out - h.late));
        assert_eq!(sum(|t| t.active), 0, "{name}: the end stops every hop");
        // The published list: every hop (stopped ones linger for ever here), capped at 8,
        // the last to end first.
        let shown = &st.snapshot.hops;
        assert_eq!(shown.len(), ended.len().min(8), "{name}");
        assert_eq!(shown[0].record, *ended.last().unwrap(), "{name}");
        assert_eq!(
            st.snapshot.omitted,
            ended.len().saturating_sub(8) as u64,
            "{name}"
        );
    }
    // Without linger only the hops stopped by the end itself are shown: in the simulcast
    // scenario, the three layers forwarded when the capture ended, not the three before.
    let (st, _, ended) = staged("simulcast", 97, 0);
    assert_eq!(ended.len(), 6);
    assert_eq!(st.snapshot.hops.len(), 3);
    assert_eq!(st.snapshot.hops[0].record, ended[5]);
}

#[test]
fn the_stopped_list_is_capped() {
    let (cap, _) = crate::synth::hop::named("simulcast").unwrap().build();
    let mut st = HopStage::new(
        Limits::default(),
        PointNames::shared("capture"),
        2,
        i64::MAX,
    );
    let mut ended = 0;
    for f in &cap.frames {
        let link = crate::wire::LinkType::from_dlt(f.linktype as i32).unwrap();
        let dg = crate::wire::decode_udp(link, &f.bytes).unwrap();
        if st.on_datagram(f.ts_ns, &dg, ObservationPoint::CAPTURE) {
            st.drain(f.ts_ns, &mut |_, _, _| {}, &mut |_, _| ended += 1);
        }
        assert!(st.stopped.len() <= 2);
    }
    st.finish(0);
    st.drain(0, &mut |_, _, _| {}, &mut |_, _| ended += 1);
    assert_eq!(ended, 6);
    assert_eq!(st.stopped.len(), 2);
    let snap = st.snapshot(0, true);
    assert_eq!((snap.hops.len(), snap.omitted), (2, 0));
}

#[test]
fn bounds_in_seconds_are_the_microsecond_bounds() {
    assert_eq!(DELAY_BOUNDS.len(), DELAY_BOUNDS_US.len());
    for (s, us) in DELAY_BOUNDS.iter().zip(DELAY_BOUNDS_US) {
        assert_eq!(*s, us as f64 / 1e6);
    }
}

#[test]
fn delays_land_in_their_bucket_and_sum_within_the_bucket_error() {
    let mut h = DelayHist::default();
    // 10 µs, 100 µs, 1 ms, 1.5 ms, 20 ms, 2 s (above every bound).
    for ns in [
        10_000,
        100_000,
        1_000_000,
        1_500_000,
        20_000_000,
        2_000_000_000,
    ] {
        h.add(ns);
    }
    let (c, sum) = delay_buckets(&h);
    let mut want = [0u64; 16];
    want[0] = 1; // ≤ 64 µs
    want[1] = 1; // ≤ 128 µs
    want[4] = 1; // ≤ 1.024 ms
    want[5] = 1; // ≤ 2.048 ms
    want[9] = 1; // ≤ 32.768 ms
    want[15] = 1; // +Inf
    assert_eq!(c, want);
    let exact = 0.00001 + 0.0001 + 0.001 + 0.0015 + 0.02;
    // The 2 s delay shares the matcher's last bucket (about 67 s): only the rest is close.
    assert!(sum > 2.0, "{sum}");
    let mut small = DelayHist::default();
    for ns in [10_000, 100_000, 1_000_000, 1_500_000, 20_000_000] {
        small.add(ns);
    }
    let (_, s) = delay_buckets(&small);
    assert!((s - exact).abs() <= exact / 32.0, "{s} vs {exact}");
}
