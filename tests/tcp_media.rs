//! Media over TCP gives the same per-stream numbers as the same media over UDP (issue 13,
//! "What must be shown" 3): RFC 4571 (RTP/RTCP over TCP), RFC 6544 ICE-TCP (STUN checks
//! framed the same way) and TURN over TCP (padded ChannelData), segmented at every byte
//! boundary (segment sizes 1..=N and random splits), with retransmissions and reordering.
//! A missing segment is a counted gap after which the framing resynchronises at the next
//! frame: the numbers then equal those of the UDP capture without the frame in the hole.
//!
//! The captures come from `rtcprobe::synth` (UDP) and `synth::tcp::over_tcp` (the same
//! datagrams as TCP frames, each segment captured at its datagram's time). Streams are
//! compared as replay JSON, field by field: a TCP frame is keyed by the connection's 5-tuple,
//! which is the UDP one here, so no field may differ.

use rtcprobe::config::Resolved;
use rtcprobe::replay::{Report, Run};
use rtcprobe::synth::scenario::{Impairments, RtcpSpec, StunSpec, Turn, MS, SEC};
use rtcprobe::synth::tcp::{over_tcp, Split, TcpFraming, TcpPlan};
use rtcprobe::synth::{Frame, FrameKind, Scenario, StreamSpec};
use rtcprobe::wire::LinkType;
use serde_json::Value;
use std::net::SocketAddr;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A call: audio both ways with jitter, loss, RTCP (RFC 5761 mux) and, for ICE, STUN checks.
fn call(turn: Turn, stun: bool) -> Vec<Frame> {
    let mut sc = Scenario::new(13);
    let (a, b) = (sa("10.0.1.10:40000"), sa("10.0.2.20:3478"));
    for (src, dst, ssrc, rx) in [
        (a, b, 0x1111_0001, 0x2222_0001),
        (b, a, 0x2222_0001, 0x1111_0001),
    ] {
        let mut s = StreamSpec::audio(src, dst, ssrc);
        s.count = 300;
        s.turn = turn;
        s.impair = Impairments {
            loss: 0.02,
            jitter_ns: 10 * MS,
            ..Default::default()
        };
        s.rtcp = Some(RtcpSpec {
            interval_ns: 2 * SEC,
            ..RtcpSpec::with_rtt(rx, 40 * MS)
        });
        if stun && ssrc == 0x1111_0001 {
            s.stun = Some(StunSpec {
                interval_ns: SEC,
                response_delay_ns: 30 * MS,
            });
        }
        sc.add(s);
    }
    sc.build().frames
}

fn replay(frames: &[Frame]) -> Report {
    replay_with(frames, Resolved::default())
}

fn replay_with(frames: &[Frame], cfg: Resolved) -> Report {
    let mut run = Run::new(cfg);
    for f in frames {
        let link = LinkType::from_dlt(f.linktype as i32).unwrap();
        run.frame(link, f.ts_ns, &f.bytes);
    }
    run.finish("synthetic".into(), 1, None)
}

fn streams(r: &Report) -> Vec<Value> {
    r.streams
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect()
}

/// Field-by-field equality of two reports' streams, naming the first difference.
fn same_streams(udp: &Report, tcp: &Report, what: &str) {
    let (u, t) = (streams(udp), streams(tcp));
    assert_eq!(u.len(), t.len(), "{what}: stream count");
    assert!(!u.is_empty());
    for (a, b) in u.iter().zip(&t) {
        let (Value::Object(a), Value::Object(b)) = (a, b) else {
            panic!("records are objects");
        };
        for (k, v) in a {
            assert_eq!(
                Some(v),
                b.get(k),
                "{what}: field {k} of stream {}",
                a["ssrc"]
            );
        }
        assert_eq!(a.len(), b.len(), "{what}: fields");
    }
}

/// The variants: (name, turn wrapping, STUN checks, framing).
fn variants() -> [(&'static str, Turn, bool, TcpFraming); 3] {
    [
        ("rfc4571", Turn::None, false, TcpFraming::Rfc4571),
        ("ice-tcp", Turn::None, true, TcpFraming::Rfc4571),
        (
            "turn-tcp",
            Turn::ChannelData { channel: 0x4001 },
            true,
            TcpFraming::TurnTcp,
        ),
    ]
}

#[test]
fn every_segmentation_gives_the_udp_numbers() {
    for (name, turn, stun, framing) in variants() {
        let udp = call(turn, stun);
        let want = replay(&udp);
        assert_eq!(want.streams.len(), 2, "{name}");
        assert!(want.summary.counters.rtcp_packets > 0, "{name}");
        if stun {
            assert!(want.summary.counters.stun_rtt_samples > 0, "{name}");
        }
        let sizes = (1..=40).chain([63, 64, 97, 128, 181, 256, 1500]);
        for n in sizes {
            let tcp = over_tcp(&udp, TcpPlan::clean(framing, Split::Every(n)));
            let got = replay(&tcp.frames);
            same_streams(&want, &got, &format!("{name}, segments of {n}"));
            let c = got.summary.tcp;
            assert_eq!(
                (c.gaps, c.resyncs, c.retransmitted_bytes),
                (0, 0, 0),
                "{name} {n}"
            );
            assert_eq!(c.connections, 2, "{name} {n}");
        }
        for seed in 0..20 {
            let plan = TcpPlan {
                retransmit_every: Some(7),
                reorder_every: Some(3),
                ..TcpPlan::clean(framing, Split::Random { seed, cuts: 3 })
            };
            let tcp = over_tcp(&udp, plan);
            let got = replay(&tcp.frames);
            same_streams(&want, &got, &format!("{name}, random splits {seed}"));
            let c = got.summary.tcp;
            assert!(
                c.retransmitted_bytes > 0 && c.out_of_order_segments > 0,
                "{c:?}"
            );
            assert_eq!(c.gaps, 0, "{name} {seed}");
        }
    }
}

#[test]
fn a_missing_segment_loses_exactly_its_frame() {
    for (name, turn, stun, framing) in variants() {
        let udp = call(turn, stun);
        for n in [1, 5, 16, 64, 1500] {
            let plan = TcpPlan {
                drop_rtp_frame: Some(100),
                retransmit_every: Some(11),
                ..TcpPlan::clean(framing, Split::Every(n))
            };
            let tcp = over_tcp(&udp, plan);
            assert_eq!(tcp.missing.len(), 1);
            // The hole is given up 10 ms after it opened, i.e. at the direction's next
            // segment: the frames behind it are then handed on before the other direction's
            // next datagram. With the default 2 s, a STUN request held behind the hole reaches
            // the engine after its response (head-of-line blocking across directions) and
            // that check gives no RTT sample; everything else is the same.
            let mut cfg = Resolved::default();
            cfg.tcp.gap_timeout_ns = 10 * MS;
            let got = replay_with(&tcp.frames, cfg);
            // The UDP capture without that RTP packet.
            let mut k = 0;
            let without: Vec<Frame> = udp
                .iter()
                .filter(|f| {
                    if matches!(f.kind, FrameKind::Rtp { .. }) {
                        k += 1;
                        k != 100
                    } else {
                        true
                    }
                })
                .cloned()
                .collect();
            let want = replay(&without);
            same_streams(&want, &got, &format!("{name}, hole, segments of {n}"));
            let full = replay(&udp);
            let lost = |r: &Report| r.streams.iter().map(|s| s.packets).sum::<u64>();
            assert_eq!(
                lost(&full) - lost(&got),
                1,
                "{name} {n}: exactly one packet fewer"
            );
            let c = got.summary.tcp;
            assert_eq!(c.gaps, 1, "{name} {n}: {c:?}");
            assert!(c.gap_bytes > 0 && c.resyncs == 1, "{name} {n}: {c:?}");
        }
    }
}
