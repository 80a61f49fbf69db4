//! SIP over TCP split across segments is parsed (issue 13, "What must be shown" 3): a call's
//! messages carried over TCP, cut at every byte boundary up to 64 bytes apart, at random
//! places, with retransmissions and reordering, give the same call as over UDP.

use rtcprobe::config::Resolved;
use rtcprobe::replay::{Report, Run};
use rtcprobe::synth::frame::{udp_frame, Encap};
use rtcprobe::synth::tcp::{over_tcp, Split, TcpFraming, TcpPlan};
use rtcprobe::synth::{Frame, FrameKind};
use rtcprobe::wire::LinkType;
use std::net::SocketAddr;

fn msg(start: &str, cseq: &str, to_tag: bool, body: &str) -> String {
    let tag = if to_tag { ";tag=b2" } else { "" };
    let ct = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{start}\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK1\r\nCall-ID: tcp-call-1@10.0.0.1\r\n\
         From: \"Alice\" <sip:alice@a.example>;tag=a1\r\nTo: <sip:bob@b.example>{tag}\r\nCSeq: {cseq}\r\n\
         {ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The call's messages as UDP frames between 10.0.0.1:5060 and 10.0.0.2:5060.
fn call() -> Vec<Frame> {
    let (a, b): (SocketAddr, SocketAddr) = (
        "10.0.0.1:5060".parse().unwrap(),
        "10.0.0.2:5060".parse().unwrap(),
    );
    let offer =
        "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n";
    let answer =
        "v=0\r\nc=IN IP4 10.0.0.2\r\nm=audio 5000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n";
    let s = 1_700_000_000_000_000_000i64;
    let ms = 1_000_000;
    let msgs = [
        (
            0,
            a,
            b,
            msg("INVITE sip:bob@b.example SIP/2.0", "1 INVITE", false, offer),
        ),
        (10, b, a, msg("SIP/2.0 100 Trying", "1 INVITE", false, "")),
        (200, b, a, msg("SIP/2.0 180 Ringing", "1 INVITE", true, "")),
        (1500, b, a, msg("SIP/2.0 200 OK", "1 INVITE", true, answer)),
        (
            1510,
            a,
            b,
            msg("ACK sip:bob@b.example SIP/2.0", "1 ACK", true, ""),
        ),
        (
            9000,
            a,
            b,
            msg("BYE sip:bob@b.example SIP/2.0", "2 BYE", true, ""),
        ),
        (9010, b, a, msg("SIP/2.0 200 OK", "2 BYE", true, "")),
    ];
    msgs.iter()
        .map(|(t, src, dst, m)| Frame {
            ts_ns: s + t * ms,
            linktype: 1,
            bytes: udp_frame(Encap::Ethernet.into(), *src, *dst, m.as_bytes()),
            kind: FrameKind::Noise,
        })
        .collect()
}

fn replay(frames: &[Frame]) -> Report {
    let mut cfg = Resolved::default();
    cfg.sip.keep_identities = true;
    let mut run = Run::new(cfg);
    for f in frames {
        run.frame(LinkType::Ethernet, f.ts_ns, &f.bytes);
    }
    run.finish("synthetic".into(), 1, None)
}

#[test]
fn sip_over_tcp_split_anywhere_gives_the_udp_call() {
    let udp = replay(&call());
    assert_eq!(udp.calls.len(), 1);
    let want = &udp.calls[0];
    assert_eq!(want.outcome, "bye");
    assert_eq!(want.setup_time_ms.answer, Some(1500.0));
    assert_eq!(want.sip.media.len(), 2);
    let mut plans: Vec<TcpPlan> = (1..=64)
        .map(|n| TcpPlan::clean(TcpFraming::Sip, Split::Every(n)))
        .collect();
    for seed in 0..8 {
        plans.push(TcpPlan {
            retransmit_every: Some(3),
            reorder_every: Some(2),
            ..TcpPlan::clean(TcpFraming::Sip, Split::Random { seed, cuts: 5 })
        });
    }
    for plan in plans {
        let tcp = over_tcp(&call(), plan);
        assert!(tcp.missing.is_empty());
        let got = replay(&tcp.frames);
        assert_eq!(got.calls, udp.calls, "{plan:?}");
        assert_eq!(got.summary.sip.messages, 7, "{plan:?}");
        assert_eq!(got.summary.tcp.sip_messages, 7, "{plan:?}");
        assert_eq!(got.summary.tcp.sip_connections, 2, "{plan:?}");
    }
}
