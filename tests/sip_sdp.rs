//! Clock rates from SDP and their precedence over `[payload_types]` (issue 13, item 2;
//! docs/calls.md): a stream sent to an address an SDP mapped gets the SDP's rate and codec
//! (`"sdp"`), a stream elsewhere keeps the configured rate (`"config"`). (The workers' path,
//! `Event::Sdp`, is held equal to this one by tests/pipeline.rs on the VoWiFi fixture, whose
//! 183 carries an SDP for a dynamic payload type.)

use rtcprobe::config::Resolved;
use rtcprobe::replay::{Report, Run};
use rtcprobe::synth::frame::{udp_frame, Encap};
use rtcprobe::wire::LinkType;
use std::net::SocketAddr;

fn invite() -> String {
    let body =
        "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n";
    format!(
        "INVITE sip:b@y SIP/2.0\r\nCall-ID: sdp-1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\n\
         CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// An RTP packet of payload type 96, 20 ms of a 48 kHz clock apart.
fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0u8; 40]);
    p
}

fn frames() -> Vec<(i64, Vec<u8>)> {
    let l = Encap::Ethernet.into();
    let sip = |a: &str, b: &str| (a.parse::<SocketAddr>().unwrap(), b.parse().unwrap());
    let (a, b) = sip("10.0.0.2:5060", "10.0.0.1:5060");
    let t0 = 1_700_000_000_000_000_000i64;
    let mut v = vec![(t0, udp_frame(l, a, b, invite().as_bytes()))];
    let (peer, mapped, other): (SocketAddr, SocketAddr, SocketAddr) = (
        "10.0.0.2:6000".parse().unwrap(),
        "10.0.0.1:4000".parse().unwrap(),
        "10.0.0.9:7000".parse().unwrap(),
    );
    for i in 0..50u16 {
        let t = t0 + 100_000_000 + i64::from(i) * 20_000_000;
        v.push((t, udp_frame(l, peer, mapped, &rtp(1, i))));
        v.push((t + 1_000, udp_frame(l, peer, other, &rtp(2, i))));
    }
    v
}

fn cfg() -> Resolved {
    let mut cfg = Resolved::default();
    cfg.clock_rates[96] = 90_000; // a site-wide guess that this call contradicts
    cfg
}

fn check(r: &Report, how: &str) {
    let by_ssrc = |ssrc| r.streams.iter().find(|s| s.ssrc == ssrc).expect("stream");
    let s = by_ssrc(1);
    assert_eq!(
        (s.clock_rate, s.clock_rate_source),
        (Some(48_000), Some("sdp")),
        "{how}"
    );
    let q = s.quality.as_ref().expect("a voice codec: quality");
    assert_eq!((q.codec, q.codec_source), ("opus-wb", "sdp"), "{how}");
    let o = by_ssrc(2);
    assert_eq!(
        (o.clock_rate, o.clock_rate_source),
        (Some(90_000), Some("config")),
        "{how}"
    );
    assert_eq!(r.calls.len(), 1, "{how}");
    assert_eq!(
        r.calls[0].streams.len(),
        1,
        "{how}: only the mapped stream is the call's"
    );
    assert_eq!(r.calls[0].streams[0].ssrc, 1, "{how}");
}

#[test]
fn sdp_rates_win_over_the_configuration() {
    let mut run = Run::new(cfg());
    for (t, f) in frames() {
        run.frame(LinkType::Ethernet, t, &f);
    }
    check(&run.finish("synthetic".into(), 1, None), "single thread");
}
