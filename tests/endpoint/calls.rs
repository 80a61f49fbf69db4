//! `/calls` (docs/calls.md, "On the endpoint") of `replay --realtime --listen`: a SIP call
//! with media both ways ended by BYE, a second INVITE never answered, and a TURN allocation
//! relaying RTP. While the file plays, the calls being set up or talking are `ongoing`; once
//! it is over they are all `ended`, with the outcomes of `replay --format json`, and with
//! hashed addresses no raw address or Call-ID is shown.

use super::common::wait_for;
use super::{raw, scratch, serve_capture};
use rtcprobe::synth::frame::{udp_frame, Encap};
use rtcprobe::synth::ice_turn::{turn_allocation, TurnParties};
use rtcprobe::synth::pcap::{PcapWriter, TsResolution};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_765_000_000 * SEC;
/// Addresses and Call-IDs a private `/calls` must not show.
const RAW: &[&str] = &["10.61.", "call-one@", "call-two@", "alice", "bob"];

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

fn invite(id: &str, media: &str) -> String {
    let (ip, port) = media.split_once(':').expect("media");
    let body = format!("v=0\r\nc=IN IP4 {ip}\r\nm=audio {port} RTP/AVP 0\r\n");
    format!(
        "INVITE sip:bob@example.net SIP/2.0\r\nCall-ID: {id}\r\nFrom: <sip:alice@example.org>;tag=a\r\n\
         To: <sip:bob@example.net>\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn answer(id: &str, media: &str) -> String {
    let (ip, port) = media.split_once(':').expect("media");
    let body = format!("v=0\r\nc=IN IP4 {ip}\r\nm=audio {port} RTP/AVP 0\r\n");
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

/// The capture (about 8 s): call one answered at 1 s, 5 s of PCMU both ways, BYE at 6.5 s;
/// call two INVITEd at 2 s and never answered; a TURN allocation from 1 s.
fn capture(path: &Path) {
    let l = Encap::Ethernet.into();
    let (ua, ub) = (sa("10.61.0.1:5060"), sa("10.61.0.2:5060"));
    let (ma, mb) = ("10.61.0.1:4000", "10.61.0.2:6000");
    let mut frames: Vec<(i64, Vec<u8>)> = vec![
        (
            T0,
            udp_frame(l, ua, ub, invite("call-one@10.61.0.1", ma).as_bytes()),
        ),
        (
            T0 + SEC,
            udp_frame(l, ub, ua, answer("call-one@10.61.0.1", mb).as_bytes()),
        ),
        (
            T0 + 2 * SEC,
            udp_frame(
                l,
                ua,
                ub,
                invite("call-two@10.61.0.1", "10.61.0.1:4100").as_bytes(),
            ),
        ),
    ];
    for i in 0..250u16 {
        let t = T0 + SEC + 3 * SEC / 2 + i64::from(i) * 20_000_000;
        frames.push((t, udp_frame(l, sa(ma), sa(mb), &rtp(0xA1, i))));
        frames.push((t + 1_000_000, udp_frame(l, sa(mb), sa(ma), &rtp(0xB2, i))));
    }
    let bye = "BYE sip:bob@10.61.0.2 SIP/2.0\r\nCall-ID: call-one@10.61.0.1\r\n\
               From: <sip:alice@example.org>;tag=a\r\nTo: <sip:bob@example.net>;tag=b\r\n\
               CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    frames.push((T0 + 13 * SEC / 2, udp_frame(l, ua, ub, bye.as_bytes())));
    let parties = TurnParties {
        client: sa("10.61.1.10:50000"),
        server: sa("10.61.2.1:3478"),
        relayed: sa("10.61.2.1:49152"),
        peer: sa("10.61.3.7:7000"),
    };
    for f in turn_allocation(T0 + SEC, parties, None, 100, false) {
        frames.push((f.ts_ns, f.bytes));
    }
    // Keep the file going past the BYE's linger so the allocation and the call end in it.
    frames.push((T0 + 8 * SEC, udp_frame(l, sa(ma), sa(mb), &[0u8; 4])));
    frames.sort_by_key(|(t, _)| *t);
    let f = std::fs::File::create(path).expect("create capture");
    let mut w =
        PcapWriter::new(f, Encap::Ethernet.linktype(), 65_535, TsResolution::Nano).expect("pcap");
    for (t, b) in &frames {
        w.write_frame(*t, b).expect("frame");
    }
    w.into_inner().expect("flush");
}

fn calls(addr: SocketAddr) -> Option<(String, Value)> {
    let resp = raw(addr, b"GET /calls HTTP/1.0\r\n\r\n");
    let body = resp.split_once("\r\n\r\n")?.1.to_string();
    let v = serde_json::from_str(&body).ok()?;
    Some((body, v))
}

fn list(v: &Value, k: &str) -> Vec<Value> {
    v[k].as_array().cloned().unwrap_or_default()
}

#[test]
fn calls_shows_calls_in_progress_then_ended_with_their_outcomes() {
    let dir = scratch("calls");
    let cap = dir.0.join("calls.pcap");
    capture(&cap);
    let (_p, addr) = serve_capture(
        &dir.0,
        &cap,
        "",
        "[sip]\nkeep_identities = true\nlinger_secs = 1\n",
        30,
    );
    // While the file plays: both SIP calls in progress, one talking, one ringing.
    let (body, v) = wait_for("two calls in progress", Duration::from_secs(20), || {
        let (b, v) = calls(addr)?;
        (list(&v, "ongoing").len() == 2).then_some((b, v))
    });
    let ongoing = list(&v, "ongoing");
    let outcome = |id: &str| {
        ongoing
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["outcome"].clone())
    };
    assert_eq!(
        outcome("call-one@10.61.0.1"),
        Some("answered".into()),
        "{body}"
    );
    assert_eq!(
        outcome("call-two@10.61.0.1"),
        Some("setup".into()),
        "{body}"
    );
    // Once it is over: every call ended, newest first, as replay reports them.
    let (body, v) = wait_for("the calls ended", Duration::from_secs(30), || {
        let (b, v) = calls(addr)?;
        (list(&v, "ongoing").is_empty() && list(&v, "ended").len() == 3).then_some((b, v))
    });
    let ended = list(&v, "ended");
    let by_kind = |k: &str| ended.iter().filter(|c| c["kind"] == k).count();
    assert_eq!((by_kind("sip"), by_kind("turn")), (2, 1), "{body}");
    let find = |id: &str| ended.iter().find(|c| c["id"] == id).expect(id);
    assert_eq!(find("call-one@10.61.0.1")["outcome"], "bye", "{body}");
    assert_eq!(find("call-one@10.61.0.1")["sip"]["status"], 200, "{body}");
    assert_eq!(find("call-two@10.61.0.1")["outcome"], "setup", "{body}");
    let turn = ended.iter().find(|c| c["kind"] == "turn").expect("turn");
    assert_eq!(turn["relayed_address"], "10.61.2.1:49152", "{body}");
    assert_eq!(turn["outcome"], "relayed", "{body}");
    let ends: Vec<&str> = ended.iter().filter_map(|c| c["end"].as_str()).collect();
    assert!(
        ends.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {ends:?}"
    );
}

#[test]
fn calls_shows_no_raw_address_or_call_id_with_hashed_labels() {
    let dir = scratch("calls-private");
    let cap = dir.0.join("calls.pcap");
    capture(&cap);
    let (_p, addr) = serve_capture(
        &dir.0,
        &cap,
        "address_labels = \"hash\"\nhash_key = \"0123456789abcdef-test\"",
        "[sip]\nlinger_secs = 1\n",
        30,
    );
    let (body, _) = wait_for("the calls ended", Duration::from_secs(30), || {
        let (b, v) = calls(addr)?;
        (list(&v, "ended").len() == 3).then_some((b, v))
    });
    for raw in RAW {
        assert!(!body.contains(raw), "{raw} in /calls: {body}");
    }
}
