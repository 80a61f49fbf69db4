//! Tests of the record schema bookkeeping: interval boundaries, deltas, probe-drop flags, IDs.

use super::*;
use crate::engine::record::Feedback;
use std::collections::BTreeMap;

const S: i64 = 1_000_000_000;

fn stream(first: i64, last: i64, packets: u64, lost: i64, drop_at: Option<i64>) -> StreamRecord {
    StreamRecord {
        src: "10.0.0.1:5004".into(),
        dst: "[2001:db8::1]:6000".into(),
        ssrc: 0x1234,
        observed_at: "capture".into(),
        payload_types: vec![111],
        clock_rate: Some(48_000),
        clock_rate_source: Some("config"),
        packets,
        bytes: packets * 100,
        first_seen: rfc3339_micros(first),
        last_seen: rfc3339_micros(last),
        expected: packets + lost as u64,
        lost,
        missing: lost.max(0) as u64,
        duplicates: 0,
        reordered: 0,
        seq_restarts: 0,
        max_gap_ms: 20.0,
        jitter_ms: Some(1.5),
        max_jitter_ms: Some(2.0),
        mean_jitter_ms: Some(1.0),
        rtt_ms: BTreeMap::new(),
        remote: None,
        loss_upstream: None,
        loss_downstream: None,
        sender: None,
        feedback: Feedback::default(),
        cname: Some("alice".into()),
        ended_by: "bye",
        srtcp: false,
        probe_dropped: 0,
        probe_drop: drop_at.is_some(),
        loss_split: None,
        burst_r: None,
        burst_r_network: None,
        loss_runs: None,
        burst_gap: None,
        burst_gap_network: None,
        jitter_buffer: None,
        effective_loss_ratio: None,
        ptime_ms: None,
        audio_counters: None,
        quality: None,
        findings: Vec::new(),
        xr_voip: None,
        configured_codec: None,
        signalled_codec: None,
        first_seen_ns: first,
        last_seen_ns: last,
        probe_drop_at_ns: drop_at,
        lost_settled: 0,
        video: None,
    }
}

fn opts() -> RecordOptions {
    RecordOptions {
        calls: true,
        interval_ns: 10 * S,
        host: "probe-1".into(),
        diagnostics: Default::default(),
    }
}

#[test]
fn rfc3339_round_trip() {
    for t in [
        0,
        1_149_510_896_789_012_000,
        951_782_400_000_000_000,
        -1_000,
    ] {
        assert_eq!(parse_rfc3339(&rfc3339_micros(t)), Some(t), "{t}");
    }
    assert_eq!(parse_rfc3339("2006-06-05T12:34:56Z"), None);
    // Hostile text from a disk buffer: out of range, signs, or past i64 nanoseconds.
    for bad in [
        "9999-12-31T23:59:59.999999Z",
        "2263-01-01T00:00:00.000000Z",
        "2006-13-05T12:34:56.789012Z",
        "2006-00-05T12:34:56.789012Z",
        "2006-06-05T24:34:56.789012Z",
        "+006-06-05T12:34:56.789012Z",
        "2006-06-05T12:34:56.-89012Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
    assert_eq!(
        parse_rfc3339("2262-04-11T23:47:16.854775Z"),
        Some(9_223_372_036_854_775_000)
    );
    assert_eq!(parse_rfc3339("2006-06-05T12:34:56.78901xZ"), None);
}

#[test]
fn intervals_on_boundaries_with_deltas_then_final() {
    let mut iv = Intervals::new(opts());
    let t0 = 1_000 * S + S / 2; // first packet at 1000.5 s
    let r = iv.cut(1_010 * S, &[(7, stream(t0, 1_010 * S - 3, 500, 2, None))]);
    assert_eq!(r.len(), 1);
    let (order, a) = &r[0];
    assert_eq!(*order, 7);
    assert_eq!(a.kind, "interval");
    assert_eq!(a.interval_start, rfc3339_micros(t0));
    assert_eq!(a.interval_end, rfc3339_micros(1_010 * S));
    assert_eq!((a.interval_packets, a.interval_lost), (500, 2));
    assert_eq!((a.src_ip.as_str(), a.src_port), ("10.0.0.1", 5004));
    assert_eq!((a.dst_ip.as_str(), a.dst_port), ("2001:db8::1", 6000));
    assert!(a.ended_by.is_none() && !a.probe_drop);
    // Second interval: a probe drop at 1015 s flags it; deltas are since the first.
    let s2 = stream(t0, 1_020 * S, 1_000, 5, Some(1_015 * S));
    let r = iv.cut(1_020 * S, &[(7, s2.clone())]);
    let b = &r[0].1;
    assert_eq!((b.interval_packets, b.interval_lost), (500, 3));
    assert_eq!(b.interval_start, a.interval_end);
    assert!(b.probe_drop);
    // The final record covers the rest; the old drop is not in it.
    let f = iv.finish(&stream(t0, 1_024 * S, 1_200, 5, Some(1_015 * S)));
    assert_eq!(f.kind, "final");
    assert_eq!(f.ended_by.as_deref(), Some("bye"));
    assert_eq!(f.interval_start, b.interval_end);
    assert_eq!(f.interval_end, rfc3339_micros(1_024 * S));
    assert_eq!((f.interval_packets, f.interval_lost), (200, 0));
    assert!(!f.probe_drop);
    assert!(iv.marks.is_empty());
    // Every ID differs, and a second run gives the same ones.
    assert_ne!(a.record_id, b.record_id);
    assert_ne!(b.record_id, f.record_id);
    assert_eq!(a.record_id.len(), 32);
    let mut again = Intervals::new(opts());
    let r = again.cut(1_010 * S, &[(7, stream(t0, 1_010 * S - 3, 500, 2, None))]);
    assert_eq!(r[0].1, *a);
}

#[test]
fn an_interval_without_packets_emits_no_record_and_the_next_starts_at_its_end() {
    let mut iv = Intervals::new(opts());
    let s0 = stream(9 * S + S / 2, 9 * S + S / 2 + 900, 50, 0, None);
    assert_eq!(iv.cut(10 * S, &[(1, s0.clone())]).len(), 1);
    // No RTP packet in [10 s, 20 s): nothing, not even a zero-packet record.
    assert!(iv.cut(20 * S, &[(1, s0.clone())]).is_empty());
    // Packets again in [20 s, 30 s): the record covers that interval only.
    let s1 = stream(9 * S + S / 2, 25 * S, 80, 0, None);
    let r = iv.cut(30 * S, &[(1, s1)]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].1.interval_start, rfc3339_micros(20 * S));
    assert_eq!(r[0].1.interval_packets, 30);
}

#[test]
fn stream_newer_than_the_boundary_waits_for_the_next() {
    let mut iv = Intervals::new(opts());
    let r = iv.cut(10 * S, &[(1, stream(10 * S, 10 * S, 1, 0, None))]);
    assert!(r.is_empty());
    let f = iv.finish(&stream(10 * S, 12 * S, 100, 0, None));
    assert_eq!(f.interval_start, rfc3339_micros(10 * S));
    assert_eq!(f.interval_packets, 100);
}

#[test]
fn record_json_is_flat_and_round_trips() {
    let mut iv = Intervals::new(opts());
    let f = iv.finish(&stream(S, 2 * S, 10, 0, None));
    let v = serde_json::to_value(&f).unwrap();
    let obj = v.as_object().unwrap();
    // Flat: scalars, and the findings' parallel arrays of strings (ClickHouse `Array(String)`).
    assert!(obj.values().all(|x| match x {
        serde_json::Value::Object(_) => false,
        serde_json::Value::Array(a) => a.iter().all(serde_json::Value::is_string),
        _ => true,
    }));
    assert_eq!(obj["schema_version"], 3);
    let back: Record = serde_json::from_value(v).unwrap();
    assert_eq!(back, f);
}

#[test]
fn g711_records_carry_an_e_model_estimate_and_others_do_not() {
    let mut iv = Intervals::new(opts());
    // PCMU, 2 % lost as the probe measured it, no receiver report, no RTT:
    // Ie,eff = 95 · 2 / (2 + 25.1) = 7.01, R = 86.19, MOS = 4.23 (G.107 Annex B).
    let mut s = stream(S, 2 * S, 98, 2, None);
    s.payload_types = vec![0];
    let f = iv.finish(&s);
    assert_eq!(f.r_factor, Some(86.19));
    assert_eq!(f.mos, Some(4.23));
    // In an interval record the receiver's report wins over the probe's view: it covers the
    // path to the listener.
    let t0 = 1_000 * S + S / 2;
    let mut s = stream(t0, 1_010 * S, 100, 0, None);
    s.payload_types = vec![8];
    s.remote = Some(crate::engine::record::RemoteReport {
        fraction_lost: 0.05,
        cumulative_lost: 5,
        ext_highest_seq: 100,
        jitter_ms: Some(30.0),
        reports: 1,
    });
    s.rtt_ms.insert(
        "end_to_end",
        crate::engine::record::RttSummary {
            last: 240.0,
            min: 240.0,
            mean: 240.0,
            max: 240.0,
            samples: 1,
        },
    );
    let mut iv = Intervals::new(opts());
    let r = iv.cut(1_010 * S, &[(1, s.clone())]);
    let g = &r.first().expect("an interval record").1;
    assert_eq!(g.kind, "interval");
    // Ppl 5: Ie,eff = 475 / 30.1 = 15.78; Ta = 120 (RTT/2) + 60 (2 × jitter) + 20 (PCMA's
    // nominal ptime, no look-ahead) = 200 ms: Idd = 3.04; R = 93.2 − 15.78 − 3.04 = 74.37.
    assert_eq!(g.r_factor, Some(74.37), "{g:?}");
    assert_eq!(g.mos, Some(3.79), "{g:?}");
    // Listening quality leaves the delay out: R = 77.42, MOS 3.92.
    assert_eq!((g.mos_lq, g.mos_cq), (Some(3.92), Some(3.79)), "{g:?}");
    assert_eq!(
        (
            g.one_way_delay_ms,
            g.delay_rtt_half_ms,
            g.delay_jitter_buffer_ms,
            g.delay_codec_ms
        ),
        (Some(200.0), Some(120.0), Some(60.0), Some(20.0))
    );
    // The final record rates the whole stream, whatever the intervals: the receiver's
    // cumulative loss (3 before the probe + 1 after, of 100): Ppl 4, Ie,eff = 380 / 29.1 =
    // 13.06, R = 93.2 − 3.04 − 13.06 = 77.1.
    s.loss_upstream = Some(3);
    s.loss_downstream = Some(1);
    let f = iv.finish(&s);
    assert_eq!(f.r_factor, Some(77.1), "{f:?}");
    let whole = Intervals::new(opts()).finish(&s);
    assert_eq!((whole.r_factor, whole.mos), (f.r_factor, f.mos));
    // The replay table's MOS (StreamRecord::quality) is the final record's, unrounded.
    let q = s.estimate_quality().expect("PCMA has an estimate");
    assert_eq!(q.r_factor, 77.1);
    assert_eq!(Some(q.mos), f.mos);
    // Opus (dynamic 111 at 48000 Hz, inferred): wideband, Ie,WB 19.96, Bpl 19.5 (Alahmadi et
    // al. 2021); 1 lost of 11: Ppl 9.09, Ie,eff = 19.96 + 109.04 · 9.09 / 28.59 = 54.63,
    // R = 129 − 54.63 = 74.37 on the wideband scale; MOS = B-4(74.37 / 1.29) = 2.98.
    let o = Intervals::new(opts()).finish(&stream(S, 2 * S, 10, 1, None));
    assert_eq!((o.r_factor, o.mos), (Some(74.37), Some(2.98)), "{o:?}");
    assert_eq!(
        (
            o.codec.as_deref(),
            o.codec_source.as_deref(),
            o.emodel_scale.as_deref()
        ),
        (Some("opus-wb"), Some("inferred"), Some("wb"))
    );
    // BurstR 1 in the estimate (no audio state in this hand-built stream), and so no
    // `burst_r` key of its own.
    assert_eq!(
        (o.ppl, o.burst_r, o.one_way_delay_ms),
        (Some(9.09), None, None)
    );
    // Opus' codec delay: 20 ms nominal ptime + 6.5 ms look-ahead.
    assert_eq!((o.delay_codec_ms, o.mos_cq), (Some(26.5), None));
    // Video (dynamic 96 at 90000 Hz): no voice codec, no estimate.
    let mut v = stream(S, 2 * S, 10, 1, None);
    v.payload_types = vec![96];
    v.clock_rate = Some(90_000);
    assert!(v.estimate_quality().is_none());
    assert_eq!(Intervals::new(opts()).finish(&v).mos_lq, None);
}

/// Audio keys per period: a loss burst in the second 5 s interval only shows there (after the
/// 128-packet settle window), the first interval reports no burst/gap and random BurstR; the
/// final record is the whole stream's, equal to the stream record.
#[test]
fn audio_keys_cover_their_period() {
    use crate::config::Resolved;
    use crate::engine::Engine;
    use crate::synth::scenario::{Scenario, StreamSpec, MS};
    use crate::wire::{decode_udp, LinkType};
    let mut s = StreamSpec::audio(
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.1.1:50000".parse().unwrap(),
        7,
    );
    s.count = 750; // 15 s
    s.start_ns = 100 * S + 10 * MS;
    s.impair.loss_bursts = vec![(300, 5)]; // at 6 s
    let mut sc = Scenario::new(1);
    sc.add(s);
    let mut e = Engine::new(Resolved::default());
    e.set_interval(5 * S);
    let mut iv = Intervals::new(RecordOptions {
        calls: true,
        interval_ns: 5 * S,
        host: "h".into(),
        diagnostics: Default::default(),
    });
    let mut recs = Vec::new();
    for f in sc.build().frames {
        let dg = decode_udp(LinkType::Ethernet, &f.bytes).expect("decodes");
        e.on_datagram(f.ts_ns, &dg);
        for cut in e.drain_cuts() {
            recs.extend(iv.cut(cut.end_ns, &cut.streams).into_iter().map(|(_, r)| r));
        }
    }
    e.finish_all();
    let fin: Vec<StreamRecord> = e.drain_finished().into_iter().map(|(_, r)| r).collect();
    let f = iv.finish(&fin[0]);
    assert_eq!(recs.len(), 2, "{recs:?}");
    assert_eq!(recs[0].burst_density, None);
    assert_eq!(recs[0].burst_r, Some(1.0));
    assert_eq!(recs[0].effective_loss_ratio, Some(0.0));
    assert!(recs[1].burst_density.is_some());
    // One run of 5 among ~250 settled: p ≈ 1/250, q = 1/5, BurstR ≈ 4.9.
    assert!(recs[1].burst_r.unwrap() > 4.5, "{:?}", recs[1].burst_r);
    assert_eq!(recs[1].ptime_ms, Some(20.0));
    let whole = fin[0].burst_gap.unwrap();
    assert_eq!(f.burst_density, Some(whole.burst_density));
    assert_eq!(f.gap_duration_ms, whole.gap_duration_ms);
    assert_eq!(f.burst_r, fin[0].burst_r);
    assert_eq!(f.effective_loss_ratio, fin[0].effective_loss_ratio);
    assert_eq!(f.jitter_buffer_fixed_late, Some(0));
    // Findings of each period: the 5 lost in the second interval are 2 % of it, in a burst;
    // over the whole stream 0.7 %, under the 1 % default; the final record has the stream's.
    assert!(!recs[0].finding_codes.iter().any(|c| c.starts_with("loss")));
    assert_eq!(
        recs[1].finding_codes[..2],
        ["loss_upstream".to_string(), "bursty_loss".to_string()],
        "{:?}",
        recs[1].finding_messages
    );
    assert_eq!(recs[1].finding_sides[0], "upstream");
    assert!(
        recs[1].finding_messages[0].contains("5 of 250"),
        "{:?}",
        recs[1].finding_messages
    );
    let codes: Vec<&str> = fin[0].findings.iter().map(|x| x.code.name()).collect();
    assert_eq!(f.finding_codes, codes);
    assert!(!codes.contains(&"loss_upstream"));
}
