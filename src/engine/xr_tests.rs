//! XR reported: VoIP metrics blocks built by the generator with known values come out exactly,
//! and the `xr` RTT from RRT/DLRR equals the generator's round trip. Also here, as it needs the
//! same small call: a codec named in `[payload_types]` drives the stream's estimate.

use super::super::record::StreamRecord;
use super::super::*;
use crate::config::Resolved;
use crate::synth::rtcp::{
    dlsr_units_to_ns, ntp_from_unix_ns, ntp_mid32, rr, xr, VoipMetrics, XrBlock,
};
use crate::wire::Datagram;

const T0: i64 = 1_700_000_000_000_000_000;
const MS: i64 = 1_000_000;
const A: &str = "10.0.0.1:4000";
const B: &str = "10.0.0.2:5000";

fn dg<'a>(src: &str, dst: &str, payload: &'a [u8]) -> Datagram<'a> {
    Datagram {
        src: src.parse().expect("address"),
        dst: dst.parse().expect("address"),
        payload,
        wire_len: payload.len(),
        vlan: None,
    }
}

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(160 * u32::from(seq)).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xd5; 20]);
    p
}

/// Ten PCMU packets A (SSRC 0xA) → B; B sends no media (a receiver that sends no SR).
fn call(e: &mut Engine) {
    for i in 0..10u16 {
        e.on_datagram(T0 + i64::from(i) * 20 * MS, &dg(A, B, &rtp(i, 0xA)));
    }
}

fn records(mut e: Engine) -> Vec<StreamRecord> {
    e.finish_all();
    let mut r = e.drain_finished();
    r.sort_by_key(|(o, _)| *o);
    r.into_iter().map(|(_, r)| r).collect()
}

/// B sends RRT at t1; A answers with DLRR at t2 = t1 + rtt + DLRR: the probe's `xr` RTT is
/// `rtt` exactly (DLRR a multiple of 128 units: exact in ns), on A's stream.
fn xr_rtt(shards: u32, rtt_ms: i64) -> Vec<StreamRecord> {
    let mut engines: Vec<Engine> = (0..shards)
        .map(|i| {
            Engine::with_shard(
                Resolved::default(),
                shard::Shard {
                    index: i,
                    count: shards,
                },
            )
        })
        .collect();
    let t1 = T0 + 300 * MS;
    let ntp = ntp_from_unix_ns(t1 - 120_000 * MS); // the receiver's clock is off: no matter
    let rrt = xr(0xB, &[XrBlock::Rrt { ntp }]);
    let compound_rrt = [rr(0xB, &[]), rrt].concat();
    let units = 128 * 40;
    let t2 = t1 + rtt_ms * MS + dlsr_units_to_ns(units);
    let dlrr = xr(0xA, &[XrBlock::Dlrr(vec![(0xB, ntp_mid32(ntp), units)])]);
    for e in &mut engines {
        call(e);
        let rtcp = [(t1, B, A, &compound_rrt), (t2, A, B, &dlrr)];
        for (t, src, dst, p) in rtcp {
            let mask = shard::rtcp_shards(p, true, shards);
            if shards == 1 || mask & (1 << e.shard.index) != 0 {
                e.on_datagram(t, &dg(src, dst, p));
            }
        }
    }
    engines.into_iter().flat_map(records).collect()
}

#[test]
fn rrt_and_dlrr_give_the_xr_rtt_exactly() {
    for shards in [1, 2, 4] {
        let r = xr_rtt(shards, 30);
        let a = r.iter().find(|s| s.ssrc == 0xA).expect("A's stream");
        let x = a.rtt_ms.get("xr").expect("xr rtt");
        assert_eq!((x.last, x.samples), (30.0, 1), "{shards} shards");
        assert!(!a.rtt_ms.contains_key("capture_point"));
    }
}

#[test]
fn a_dlrr_without_its_rrt_gives_nothing() {
    let mut e = Engine::new(Resolved::default());
    call(&mut e);
    // LRR 0: the sender never got an RRT (RFC 3611 §4.5); and an LRR the probe never saw.
    let p = xr(
        0xA,
        &[XrBlock::Dlrr(vec![(0xB, 0, 5), (0xB, 0x1234_5678, 5)])],
    );
    e.on_datagram(T0 + 500 * MS, &dg(A, B, &p));
    let r = records(e);
    assert!(!r[0].rtt_ms.contains_key("xr"));
}

#[test]
fn voip_metrics_come_out_exactly_and_127_is_null() {
    let mut e = Engine::new(Resolved::default());
    call(&mut e);
    let m = VoipMetrics {
        ssrc: 0xA,
        loss_rate: 64,      // 0.25
        discard_rate: 32,   // 0.125
        burst_density: 128, // 0.5
        gap_density: 2,     // 2/256
        burst_duration_ms: 120,
        gap_duration_ms: 4_000,
        round_trip_delay_ms: 85,
        end_system_delay_ms: 60,
        signal_level: -20,
        noise_level: 127, // unavailable
        rerl: 45,
        gmin: 16,
        r_factor: 82,
        ext_r_factor: 127,      // unavailable
        rx_config: 0b1111_0011, // PLC enhanced, JB adaptive, rate 3
        mos_lq: 41,
        mos_cq: 39,
        jb_nominal_ms: 40,
        jb_max_ms: 80,
        jb_abs_max_ms: 200,
    };
    // Written by the receiver B about A's stream: B → A.
    let p = xr(0xB, &[XrBlock::Voip(m)]);
    e.on_datagram(T0 + 400 * MS, &dg(B, A, &p));
    e.on_datagram(T0 + 900 * MS, &dg(B, A, &p));
    let r = records(e);
    let v = r[0].xr_voip.expect("xr_voip");
    assert_eq!(
        (v.loss_rate, v.discard_rate, v.burst_density, v.gap_density),
        (0.25, 0.125, 0.5, 2.0 / 256.0)
    );
    assert_eq!((v.burst_duration_ms, v.gap_duration_ms), (120, 4_000));
    assert_eq!((v.round_trip_delay_ms, v.end_system_delay_ms), (85, 60));
    assert_eq!(
        (v.signal_level_dbm, v.noise_level_dbm, v.rerl_db),
        (Some(-20), None, Some(45))
    );
    assert_eq!((v.gmin, v.r_factor, v.ext_r_factor), (16, Some(82), None));
    assert_eq!((v.mos_lq, v.mos_cq), (Some(4.1), Some(3.9)));
    assert_eq!(
        (v.plc, v.jitter_buffer, v.jitter_buffer_rate),
        ("enhanced", "adaptive", 3)
    );
    assert_eq!(
        (v.jb_nominal_ms, v.jb_max_ms, v.jb_abs_max_ms),
        (40, 80, 200)
    );
    assert_eq!(v.reports, 2);
    // Unavailable scores are null in the JSON too.
    let json = serde_json::to_value(v).expect("json");
    assert!(json["ext_r_factor"].is_null() && json["noise_level_dbm"].is_null());
}

#[test]
fn voip_metrics_about_an_unknown_stream_are_unmatched() {
    let mut e = Engine::new(Resolved::default());
    call(&mut e);
    let p = xr(
        0xB,
        &[XrBlock::Voip(VoipMetrics {
            ssrc: 0xC,
            ..VoipMetrics::default()
        })],
    );
    e.on_datagram(T0 + 400 * MS, &dg(B, A, &p));
    assert_eq!(e.counters().rtcp_unmatched, 1);
    assert!(records(e)[0].xr_voip.is_none());
}

/// `[payload_types]` naming a codec: the estimate uses it, `codec_source = "config"`.
#[test]
fn a_configured_codec_is_used_for_the_estimate() {
    let cfg = toml::from_str::<crate::config::Config>(
        "[payload_types]\n\"0\" = { clock_rate = 8000, codec = \"G729\" }\n",
    )
    .expect("parses")
    .resolve()
    .expect("valid");
    assert_eq!(cfg.codec(0).map(|c| c.name), Some("G729"));
    let mut e = Engine::new(cfg);
    call(&mut e);
    let q = records(e)[0].quality.expect("rated");
    assert_eq!((q.codec, q.codec_source), ("G729", "config"));
    let mut plain = Engine::new(Resolved::default());
    call(&mut plain);
    let q = records(plain)[0].quality.expect("rated");
    assert_eq!((q.codec, q.codec_source), ("PCMU", "static"));
}
