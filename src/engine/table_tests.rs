//! Unit tests of the stream table: activity order, eviction victim, expiry with backwards time,
//! index removal, per-key scan cap, candidate flood, and a property test against a Vec model.

use super::*;
use crate::config::Resolved;
use crate::engine::{Engine, RtpMeta};
use proptest::prelude::*;

const T0: i64 = 1_700_000_000_000_000_000;
const SEC: i64 = 1_000_000_000;

fn key(i: u32, ssrc: u32) -> StreamKey {
    StreamKey {
        src: SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 5004)),
        dst: SocketAddr::from(([10, 1, 0, 1], 6000)),
        ssrc,
        point: ObservationPoint::CAPTURE,
    }
}

fn stream(k: StreamKey, order: u64) -> Stream {
    Stream::new(k, order, T0, 1, 0, &Resolved::default())
}

fn lru_keys<V: Keyed>(l: &Lru<V>) -> Vec<StreamKey> {
    l.iter_lru().map(|(k, _)| *k).collect()
}

fn meta(i: u32, ssrc: u32, seq: u16) -> RtpMeta {
    let k = key(i, ssrc);
    RtpMeta {
        src: k.src,
        dst: k.dst,
        ssrc,
        seq,
        pt: 0,
        ts: u32::from(seq) * 160,
        wire_len: 172,
        point: k.point,
        marker: false,
        hint: Default::default(),
    }
}

/// Two in-sequence packets validate a stream (RFC 3550 A.1, MIN_SEQUENTIAL = 2).
fn open(e: &mut Engine, now: i64, i: u32) {
    e.on_rtp_meta(now, &meta(i, 100 + i, 1));
    e.on_rtp_meta(now, &meta(i, 100 + i, 2));
}

fn engine(max_streams: usize, max_candidates: usize) -> Engine {
    let cfg = Resolved {
        max_streams,
        max_candidates,
        ..Resolved::default()
    };
    Engine::new(cfg)
}

fn ended(e: &mut Engine) -> Vec<(u32, &'static str)> {
    let mut v: Vec<_> = e
        .drain_finished()
        .into_iter()
        .map(|(_, r)| (r.ssrc - 100, r.ended_by))
        .collect();
    v.sort_unstable();
    v
}

/// A test value with its key.
struct Entry(StreamKey, i32);

impl Keyed for Entry {
    fn key(&self) -> &StreamKey {
        &self.0
    }
}

#[test]
fn touching_moves_an_entry_to_the_most_recent_end() {
    let mut l = Lru::default();
    let (a, b, c) = (key(1, 1), key(2, 2), key(3, 3));
    l.insert(Entry(a, 1));
    l.insert(Entry(b, 2));
    l.insert(Entry(c, 3));
    assert_eq!(lru_keys(&l), [a, b, c]);
    assert_eq!(l.touch_mut(&a).map(|e| e.1), Some(1));
    assert_eq!(lru_keys(&l), [b, c, a]);
    assert_eq!(l.lru().map(|(k, _)| *k), Some(b));
    // get_mut is not activity.
    assert!(l.get_mut(&b).is_some());
    assert_eq!(lru_keys(&l), [b, c, a]);
    assert_eq!(l.remove(&c).map(|(_, v)| v.1), Some(3));
    assert_eq!(lru_keys(&l), [b, a]);
    // The freed slot is reused: no growth.
    l.insert(Entry(key(4, 4), 4));
    assert_eq!(l.slot_count(), 3);
    assert_eq!(lru_keys(&l), [b, a, key(4, 4)]);
}

#[test]
fn a_full_table_evicts_the_least_recently_active_stream() {
    let mut e = engine(3, 100);
    for i in 0..3 {
        open(&mut e, T0 + i64::from(i) * SEC, i);
    }
    // Stream 0 talks again: stream 1 is now the least recently active.
    e.on_rtp_meta(T0 + 3 * SEC, &meta(0, 100, 3));
    open(&mut e, T0 + 4 * SEC, 3);
    assert_eq!(ended(&mut e), [(1, "evicted")]);
    assert_eq!(e.counters().streams_evicted, 1);
    open(&mut e, T0 + 5 * SEC, 4);
    assert_eq!(ended(&mut e), [(2, "evicted")]);
    assert_eq!(e.stream_count(), 3);
}

#[test]
fn idle_expiry_follows_arrival_order_when_time_goes_backwards() {
    let mut e = engine(100, 100);
    let idle = Resolved::default().idle_timeout_ns;
    open(&mut e, T0 + 10 * SEC, 0);
    // A merged capture steps back 5 s: stream 1's packets arrive later with older stamps.
    open(&mut e, T0 + 5 * SEC, 1);
    open(&mut e, T0 + 20 * SEC, 2);
    // Both 0 and 1 are idle here; 0 is at the tail, 1 next: both end, 2 stays.
    e.expire(T0 + 10 * SEC + idle + 1);
    assert_eq!(ended(&mut e), [(0, "idle"), (1, "idle")]);
    assert_eq!(e.stream_count(), 1);

    // The rule: an idle entry behind a fresher one waits for it.
    let mut e = engine(100, 100);
    open(&mut e, T0 + 30 * SEC, 0);
    open(&mut e, T0 + 5 * SEC, 1);
    e.expire(T0 + 5 * SEC + idle + 1);
    assert_eq!(ended(&mut e), [], "stream 0 at the tail is not idle yet");
    e.expire(T0 + 30 * SEC + idle + 1);
    assert_eq!(ended(&mut e), [(0, "idle"), (1, "idle")]);
    // Time going backwards never makes a stream idle.
    open(&mut e, T0, 5);
    e.expire(T0 - 100 * SEC);
    assert_eq!(e.stream_count(), 1);
}

#[test]
fn index_lists_remove_in_any_position_and_keep_insertion_order() {
    let mut t = StreamTable::default();
    let keys: Vec<_> = (0..5).map(|i| key(i, 7)).collect();
    for (n, k) in keys.iter().enumerate() {
        t.insert(stream(*k, n as u64));
    }
    let ssrc = |t: &StreamTable| t.ssrc_keys(7).copied().collect::<Vec<_>>();
    assert_eq!(ssrc(&t), keys);
    assert!(t.remove(&keys[2]).is_some());
    assert!(t.remove(&keys[0]).is_some());
    assert!(t.remove(&keys[4]).is_some());
    assert_eq!(ssrc(&t), [keys[1], keys[3]]);
    // A new stream goes last, in the freed slot.
    let k5 = key(5, 7);
    t.insert(stream(k5, 5));
    assert_eq!(ssrc(&t), [keys[1], keys[3], k5]);
    let ips = |t: &StreamTable, k: &StreamKey| t.ips_keys(k.src.ip(), k.dst.ip()).count();
    assert_eq!(ips(&t, &keys[1]), 1);
    assert_eq!(ips(&t, &keys[0]), 0);
    for k in [keys[1], keys[3], k5] {
        assert!(t.remove(&k).is_some());
    }
    assert_eq!(ssrc(&t), []);
    assert!(t.by_ssrc.heads.is_empty() && t.by_ips.heads.is_empty());
    assert_eq!(t.len(), 0);
}

#[test]
fn a_sparse_table_compacts_keeping_every_order() {
    let mut t = StreamTable::default();
    let keys: Vec<_> = (0..64).map(|i| key(i, i % 2)).collect();
    for (n, k) in keys.iter().enumerate() {
        t.insert(stream(*k, n as u64));
    }
    // Activity order differs from insertion order.
    for k in keys.iter().step_by(3) {
        assert!(t.touch_mut(k).is_some());
    }
    let before = lru_keys(&t.lru);
    let kept: Vec<_> = keys
        .iter()
        .copied()
        .filter(|k| k.src.port() == 5004 && key_index(k) % 9 == 4)
        .collect();
    for k in &keys {
        if !kept.contains(k) {
            assert!(t.remove(k).is_some());
        }
    }
    assert!(
        t.lru.slot_count() < 64 / 4,
        "compacted: {} slots",
        t.lru.slot_count()
    );
    let want: Vec<_> = before
        .iter()
        .filter(|k| kept.contains(k))
        .copied()
        .collect();
    assert_eq!(lru_keys(&t.lru), want);
    for ssrc in 0..2 {
        let got: Vec<_> = t.ssrc_keys(ssrc).copied().collect();
        let want: Vec<_> = kept.iter().filter(|k| k.ssrc == ssrc).copied().collect();
        assert_eq!(got, want, "index in insertion order");
    }
    for k in &kept {
        assert_eq!(t.get(k).map(|s| s.key), Some(*k));
        assert_eq!(
            t.ips_keys(k.src.ip(), k.dst.ip())
                .copied()
                .collect::<Vec<_>>(),
            [*k]
        );
    }
    // New streams still go last in their index lists, first out of the activity list last.
    let k = key(200, 1);
    t.insert(stream(k, 200));
    assert_eq!(t.ssrc_keys(1).last(), Some(&k));
    assert_eq!(t.lru().map(|s| s.key), want.first().copied());
}

fn key_index(k: &StreamKey) -> u32 {
    match k.src.ip() {
        IpAddr::V4(a) => u32::from(a) & 0xffff,
        IpAddr::V6(_) => 0,
    }
}

#[test]
fn lookups_of_a_crowded_ssrc_stop_at_the_cap_but_exact_matches_do_not() {
    let mut t = StreamTable::default();
    let n = SCAN_CAP as u32 + 50;
    for i in 0..n {
        t.insert(stream(key(i, 9), u64::from(i)));
    }
    assert_eq!(t.ssrc_keys(9).count(), SCAN_CAP);
    assert_eq!(t.truncated_scans(), 1);
    // Past the cap, exact 5-tuple matches (mux, and RTP ports plus one) are still found.
    let last = key(n - 1, 9);
    assert_eq!(
        t.best_flow(9, ObservationPoint::CAPTURE, last.src, last.dst),
        Some(last)
    );
    let plus_one = |a: SocketAddr| SocketAddr::new(a.ip(), a.port() + 1);
    assert_eq!(
        t.best_flow(
            9,
            ObservationPoint::CAPTURE,
            plus_one(last.src),
            plus_one(last.dst)
        ),
        Some(last)
    );
    // Same addresses, other ports: the newest among the first SCAN_CAP.
    let first = key(0, 9);
    let other = |a: SocketAddr| SocketAddr::new(a.ip(), 7000);
    assert_eq!(
        t.best_flow(
            9,
            ObservationPoint::CAPTURE,
            other(first.src),
            other(first.dst)
        ),
        Some(first)
    );
    assert_eq!(
        t.best_flow(
            9,
            ObservationPoint::CAPTURE,
            other(last.src),
            other(last.dst)
        ),
        None
    );
    assert_eq!(
        t.best_flow(8, ObservationPoint::CAPTURE, first.src, first.dst),
        None
    );
}

#[test]
fn a_candidate_flood_is_dropped_and_counted_until_candidates_go_stale() {
    let mut e = engine(10, 4);
    for i in 0..1000 {
        e.on_rtp_meta(T0 + i64::from(i), &meta(i, 100 + i, 1));
    }
    assert_eq!(e.candidates.len(), 4);
    assert_eq!(e.counters().candidates_dropped, 996);
    // Past the candidate timeout, the stale ones make room (their packets are unvalidated).
    let later = T0 + crate::engine::CANDIDATE_TIMEOUT_NS + 2000;
    e.on_rtp_meta(later, &meta(5000, 5100, 1));
    assert_eq!(e.candidates.len(), 1);
    assert_eq!(e.counters().rtp_unvalidated, 4);
    e.on_rtp_meta(later, &meta(5000, 5100, 2));
    assert_eq!(e.stream_count(), 1);
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u8),
    Touch(u8),
    Remove(u8),
    Evict,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..24).prop_map(Op::Insert),
        (0u8..24).prop_map(Op::Touch),
        (0u8..24).prop_map(Op::Remove),
        Just(Op::Evict),
    ]
}

proptest! {
    /// Against a Vec kept in activity order (the scans the table replaces): same entries, same
    /// order, same victims, same index contents.
    #[test]
    fn matches_a_vec_model(ops in proptest::collection::vec(op(), 0..200)) {
        let mut t = StreamTable::default();
        let mut model: Vec<StreamKey> = Vec::new();
        let mut order = 0;
        for o in ops {
            match o {
                Op::Insert(i) => {
                    let k = key(u32::from(i), u32::from(i % 3));
                    order += 1;
                    model.retain(|m| *m != k);
                    model.push(k);
                    t.insert(stream(k, order));
                }
                Op::Touch(i) => {
                    let k = key(u32::from(i), u32::from(i % 3));
                    let found = t.touch_mut(&k).is_some();
                    prop_assert_eq!(found, model.contains(&k));
                    if found {
                        model.retain(|m| *m != k);
                        model.push(k);
                    }
                }
                Op::Remove(i) => {
                    let k = key(u32::from(i), u32::from(i % 3));
                    prop_assert_eq!(t.remove(&k).is_some(), model.contains(&k));
                    model.retain(|m| *m != k);
                }
                Op::Evict => {
                    let victim = t.lru().map(|s| s.key);
                    prop_assert_eq!(victim, model.first().copied());
                    if let Some(k) = victim {
                        t.remove(&k);
                        model.remove(0);
                    }
                }
            }
            prop_assert_eq!(t.len(), model.len());
            prop_assert_eq!(lru_keys(&t.lru), model.clone());
            for ssrc in 0..3 {
                let mut want: Vec<_> = model.iter().filter(|k| k.ssrc == ssrc).copied().collect();
                let mut got: Vec<_> = t.ssrc_keys(ssrc).copied().collect();
                // The index is in insertion order, the model in activity order: compare sets.
                want.sort_unstable();
                got.sort_unstable();
                prop_assert_eq!(got, want);
            }
        }
    }
}

#[test]
fn a_stream_going_back_in_time_reports_its_earliest_and_latest_packet() {
    let mut e = engine(10, 10);
    e.on_rtp_meta(T0 + 10 * SEC, &meta(0, 100, 1));
    e.on_rtp_meta(T0 + 12 * SEC, &meta(0, 100, 2));
    e.on_rtp_meta(T0 + 3 * SEC, &meta(0, 100, 3));
    e.on_rtp_meta(T0 + 5 * SEC, &meta(0, 100, 4));
    e.finish_all();
    let recs = e.drain_finished();
    let r = &recs[0].1;
    assert_eq!(
        (r.first_seen_ns, r.last_seen_ns),
        (T0 + 3 * SEC, T0 + 12 * SEC)
    );
    assert!(
        r.first_seen < r.last_seen,
        "{} {}",
        r.first_seen,
        r.last_seen
    );
}

#[derive(Debug, Clone)]
enum Traffic {
    /// A packet of stream `i` (a new stream's first two packets validate it).
    Packet(u8),
    /// Capture time jumps ahead by this many seconds and expiry runs.
    Expire(u8),
}

proptest! {
    /// The engine against the scans it replaced, with monotonic timestamps: every stream it ends
    /// (evicted when a new stream meets a full table, idle at expiry) is the one a minimum scan
    /// over `(last_seen, order)` or a full idle scan picks.
    #[test]
    fn engine_ends_the_streams_a_scan_would(
        ops in proptest::collection::vec(
            prop_oneof![
                4 => (0u8..12).prop_map(Traffic::Packet),
                1 => (20u8..90).prop_map(Traffic::Expire),
            ],
            0..150,
        )
    ) {
        let mut e = engine(4, 100);
        let idle = Resolved::default().idle_timeout_ns;
        // Reference: live streams as (index, last_seen, order), and each one's next sequence.
        let mut live: Vec<(u32, i64, u64)> = Vec::new();
        let mut seqs = std::collections::HashMap::new();
        let mut order = 0u64;
        let mut now = T0;
        for op in ops {
            let mut want: Vec<(u32, &str)> = Vec::new();
            match op {
                Traffic::Packet(i) => {
                    let i = u32::from(i);
                    now += 1_000;
                    if let Some(s) = live.iter_mut().find(|s| s.0 == i) {
                        s.1 = now;
                        let seq = seqs.entry(i).or_insert(3u16);
                        e.on_rtp_meta(now, &meta(i, 100 + i, *seq));
                        *seq += 1;
                    } else {
                        e.on_rtp_meta(now, &meta(i, 100 + i, 1));
                        e.on_rtp_meta(now, &meta(i, 100 + i, 2));
                        if live.len() == 4 {
                            // A full table first expires idle streams (Engine::promote).
                            live.retain(|l| {
                                let keep = now - l.1 <= idle;
                                if !keep {
                                    want.push((l.0, "idle"));
                                }
                                keep
                            });
                        }
                        if live.len() == 4 {
                            let v = live
                                .iter()
                                .enumerate()
                                .min_by_key(|(_, s)| (s.1, s.2))
                                .map(|(n, _)| n)
                                .unwrap();
                            want.push((live.remove(v).0, "evicted"));
                        }
                        order += 1;
                        live.push((i, now, order));
                        seqs.insert(i, 3);
                    }
                }
                Traffic::Expire(s) => {
                    now += i64::from(s) * SEC;
                    e.expire(now);
                    live.retain(|l| {
                        let keep = now - l.1 <= idle;
                        if !keep {
                            want.push((l.0, "idle"));
                        }
                        keep
                    });
                }
            }
            want.sort_unstable();
            prop_assert_eq!(ended(&mut e), want);
            prop_assert_eq!(e.stream_count(), live.len());
        }
    }
}

#[test]
fn rtcp_lookups_prefer_the_stream_seen_at_the_same_point() {
    let names = crate::engine::PointNames::new("any");
    let (a, b) = (names.intern("eth0"), names.intern("eth1"));
    let mut t = StreamTable::default();
    let at = |p| StreamKey {
        point: p,
        ..key(1, 9)
    };
    t.insert(stream(at(a), 1));
    t.insert(stream(at(b), 2));
    let k = key(1, 9);
    let plus_one = |x: SocketAddr| SocketAddr::new(x.ip(), x.port() + 1);
    let other = |x: SocketAddr| SocketAddr::new(x.ip(), 7000);
    for p in [a, b] {
        assert_eq!(t.best_flow(9, p, k.src, k.dst), Some(at(p)));
        assert_eq!(
            t.best_flow(9, p, plus_one(k.src), plus_one(k.dst)),
            Some(at(p))
        );
        assert_eq!(t.best_flow(9, p, other(k.src), other(k.dst)), Some(at(p)));
    }
    // Seen at a third point, where the stream is not: a copy seen elsewhere takes it, the
    // better 5-tuple match first, ties to the newest.
    let c = names.intern("eth2");
    assert_eq!(t.best_flow(9, c, k.src, k.dst), Some(at(b)));
    t.remove(&at(b));
    assert_eq!(
        t.best_flow(9, c, plus_one(k.src), plus_one(k.dst)),
        Some(at(a))
    );
}
