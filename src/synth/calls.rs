//! One capture with a call of every kind, for the tests of `/calls` and call records: a SIP
//! call answered at 1 s with 5 s of PCMU both ways and a BYE at 6.5 s (`call-one`), a second
//! INVITE at 2 s never answered (`call-two`), a TURN allocation relaying RTP from 1 s, and an
//! ICE session with media from 1.5 s; a last frame at 8 s carries the file past the BYE's
//! linger. Addresses are in 10.61.0.0/16 (the tests look for that prefix to check privacy).

use super::frame::{udp_frame, Encap};
use super::ice_turn::{ice_session, turn_allocation, TurnParties};
use super::{Capture, Frame, FrameKind};
use std::net::SocketAddr;

const SEC: i64 = 1_000_000_000;

/// The SIP calls' Call-IDs.
pub const CALL_ONE: &str = "call-one@10.61.0.1";
pub const CALL_TWO: &str = "call-two@10.61.0.1";
/// The TURN allocation's relayed address and its peer.
pub const RELAYED: &str = "10.61.2.1:49152";
pub const PEER: &str = "10.61.3.7:7000";
/// The ICE session's ufrags.
pub const UFRAGS: (&str, &str) = ("ufA1", "ufB2");

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
}

fn sdp(media: SocketAddr) -> String {
    format!(
        "v=0\r\nc=IN IP4 {}\r\nm=audio {} RTP/AVP 0\r\n",
        media.ip(),
        media.port()
    )
}

fn invite(id: &str, media: SocketAddr) -> String {
    let body = sdp(media);
    format!(
        "INVITE sip:bob@example.net SIP/2.0\r\nCall-ID: {id}\r\nFrom: <sip:alice@example.org>;tag=a\r\n\
         To: <sip:bob@example.net>\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn answer(id: &str, media: SocketAddr) -> String {
    let body = sdp(media);
    format!(
        "SIP/2.0 200 OK\r\nCall-ID: {id}\r\nFrom: <sip:alice@example.org>;tag=a\r\n\
         To: <sip:bob@example.net>;tag=b\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0xd5; 160]);
    p
}

/// The capture, from `t0` (ns since the epoch).
pub fn mixed(t0: i64) -> Capture {
    let frame = |ts_ns: i64, src: SocketAddr, dst: SocketAddr, payload: &[u8], kind| Frame {
        ts_ns,
        linktype: Encap::Ethernet.linktype(),
        bytes: udp_frame(Encap::Ethernet.into(), src, dst, payload),
        kind,
    };
    let (ua, ub) = (sa("10.61.0.1:5060"), sa("10.61.0.2:5060"));
    let (ma, mb) = (sa("10.61.0.1:4000"), sa("10.61.0.2:6000"));
    let sig = FrameKind::Noise;
    let mut frames = vec![
        frame(t0, ua, ub, invite(CALL_ONE, ma).as_bytes(), sig),
        frame(t0 + SEC, ub, ua, answer(CALL_ONE, mb).as_bytes(), sig),
        frame(
            t0 + 2 * SEC,
            ua,
            ub,
            invite(CALL_TWO, sa("10.61.0.1:4100")).as_bytes(),
            sig,
        ),
    ];
    for i in 0..250u16 {
        let t = t0 + 5 * SEC / 2 + i64::from(i) * 20_000_000;
        frames.push(frame(t, ma, mb, &rtp(0xA1, i), FrameKind::Noise));
        frames.push(frame(
            t + 1_000_000,
            mb,
            ma,
            &rtp(0xB2, i),
            FrameKind::Noise,
        ));
    }
    let bye = format!(
        "BYE sip:bob@10.61.0.2 SIP/2.0\r\nCall-ID: {CALL_ONE}\r\n\
         From: <sip:alice@example.org>;tag=a\r\nTo: <sip:bob@example.net>;tag=b\r\n\
         CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    frames.push(frame(t0 + 13 * SEC / 2, ua, ub, bye.as_bytes(), sig));
    let parties = TurnParties {
        client: sa("10.61.1.10:50000"),
        server: sa("10.61.2.1:3478"),
        relayed: sa(RELAYED),
        peer: sa(PEER),
    };
    frames.extend(turn_allocation(t0 + SEC, parties, None, 100, false));
    let (ia, ib) = (sa("10.61.4.1:51000"), sa("10.61.5.2:52000"));
    frames.extend(ice_session(
        t0 + 3 * SEC / 2,
        ia,
        ib,
        UFRAGS,
        3,
        true,
        false,
        100,
    ));
    frames.push(frame(t0 + 8 * SEC, ma, mb, &[0u8; 4], FrameKind::Noise));
    frames.sort_by_key(|f| f.ts_ns);
    Capture {
        frames,
        truth: Default::default(),
    }
}
