use super::*;
use crate::config::ExporterConfig;
use crate::correlate::calls::{CallLimits, CallStage};
use crate::engine::{ObservationPoint, PointNames};
use crate::pipeline::calls::{CallView, RecentCalls};
use crate::pipeline::snapshot::CaptureSnapshot;
use crate::sip::{SipLimits, SipStage};
use crate::synth::ice_turn::{turn_allocation, TurnParties};
use std::net::SocketAddr;

const SEC: i64 = 1_000_000_000;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn invite(id: &str, port: u16) -> String {
    let body = format!("v=0\r\nc=IN IP4 10.9.0.1\r\nm=audio {port} RTP/AVP 0\r\n");
    format!(
        "INVITE sip:bob@y SIP/2.0\r\nCall-ID: {id}\r\nFrom: \"Alice\" <sip:alice@x>;tag=1\r\n\
         To: <sip:bob@y>\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A board with one capture thread's calls: a SIP call going on, one ended by BYE, and an
/// ended TURN allocation, from a stage that keeps identities or not.
fn board(keep: bool) -> Board {
    let limits = SipLimits {
        keep_identities: keep,
        hash_key: "k".into(),
        ..SipLimits::default()
    };
    let mut sip = SipStage::new(limits);
    let (a, b) = (sa("10.9.0.1:5060"), sa("10.9.0.2:5060"));
    let msg = |st: &mut SipStage, t: i64, from, to, m: &str| {
        st.on_message(t, from, to, m.as_bytes(), &mut |_| {})
    };
    msg(&mut sip, SEC, a, b, &invite("ended-call@10.9.0.1", 4000));
    let ok = |id: &str| {
        format!("SIP/2.0 200 OK\r\nCall-ID: {id}\r\nTo: <sip:bob@y>;tag=2\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n")
    };
    msg(&mut sip, 2 * SEC, b, a, &ok("ended-call@10.9.0.1"));
    let bye = "BYE sip:a@x SIP/2.0\r\nCall-ID: ended-call@10.9.0.1\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n";
    msg(&mut sip, 3 * SEC, a, b, bye);
    msg(&mut sip, 4 * SEC, a, b, &invite("ongoing@10.9.0.1", 4002));
    sip.expire(60 * SEC);
    let mut recent = RecentCalls::default();
    for c in sip.drain_ended() {
        recent.push(CallView::Sip(c));
    }
    let mut stage = CallStage::new(&CallLimits::default(), PointNames::shared("capture"));
    let p = TurnParties {
        client: sa("10.9.1.10:50000"),
        server: sa("10.9.2.1:3478"),
        relayed: sa("10.9.2.1:49152"),
        peer: sa("10.9.3.7:7000"),
    };
    let mut last = 0;
    for f in turn_allocation(5 * SEC, p, None, 10, false) {
        let link = crate::wire::LinkType::from_dlt(f.linktype as i32).unwrap();
        if let Ok(dg) = crate::wire::decode_udp(link, &f.bytes) {
            stage.on_datagram(f.ts_ns, &dg, ObservationPoint::CAPTURE);
        }
        last = f.ts_ns;
    }
    stage.finish();
    let (_, turn) = stage.drain();
    assert_eq!(turn.len(), 1);
    for a in turn {
        recent.push(CallView::Turn(a));
    }
    // The invite of "ongoing" is still being set up at 60 s? It timed out unless the setup
    // timeout is longer: make a fresh one that is surely in progress.
    msg(&mut sip, 61 * SEC, a, b, &invite("ongoing2@10.9.0.1", 4004));
    let (ongoing, omitted) = sip.ongoing(last.max(61 * SEC), 64);
    let snap = recent.snapshot(ongoing.into_iter().map(CallView::Sip).collect(), omitted);
    let board = Board::new(1, 1);
    let cap = CaptureSnapshot {
        calls: Some(snap),
        ..Default::default()
    };
    crate::pipeline::snapshot::publish(&board.captures[0], cap);
    board
}

fn parse(b: &Board, l: &Labeller) -> (String, Value) {
    let text = String::from_utf8(body(b, l)).unwrap();
    let v = serde_json::from_str(&text).unwrap();
    (text, v)
}

#[test]
fn calls_shows_ongoing_and_ended_calls_of_every_kind() {
    let b = board(true);
    let keep = Labeller::new(&ExporterConfig::default(), vec![]);
    let (text, v) = parse(&b, &keep);
    let ongoing = v["ongoing"].as_array().unwrap();
    assert!(!ongoing.is_empty(), "{text}");
    assert!(ongoing.iter().all(|c| c["kind"] == "sip"));
    assert!(ongoing
        .iter()
        .any(|c| c["id"] == "ongoing2@10.9.0.1" && c["outcome"] == "setup"));
    assert_eq!(v["ongoing_omitted"], 0);
    let ended = v["ended"].as_array().unwrap();
    let kinds: Vec<_> = ended.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"sip") && kinds.contains(&"turn"),
        "{kinds:?}"
    );
    let call = ended
        .iter()
        .find(|c| c["id"] == "ended-call@10.9.0.1")
        .unwrap();
    assert_eq!(call["outcome"], "bye");
    let turn = ended.iter().find(|c| c["kind"] == "turn").unwrap();
    assert_eq!(turn["relayed_address"], "10.9.2.1:49152");
    assert_eq!(turn["channels"][0]["peer"], "10.9.3.7:7000");
    // Newest first: the allocation (5 s on) ended after the call (BYE at 3 s).
    let ends: Vec<_> = ended.iter().map(|c| c["end"].as_str().unwrap()).collect();
    assert!(ends.windows(2).all(|w| w[0] >= w[1]), "{ends:?}");
}

#[test]
fn with_hashed_addresses_and_identities_no_raw_address_or_call_id_reaches_calls() {
    let b = board(false);
    let cfg = ExporterConfig {
        address_labels: "hash".into(),
        hash_key: "0123456789abcdef".into(),
        ..Default::default()
    };
    let l = Labeller::new(&cfg, vec![]);
    let (text, v) = parse(&b, &l);
    assert!(!v["ended"].as_array().unwrap().is_empty());
    for raw in ["10.9.", "alice", "bob", "Alice", "ended-call", "ongoing2"] {
        assert!(!text.contains(raw), "{raw} in /calls: {text}");
    }
    // The same board with everything kept shows them (the check above can fail).
    let keep = Labeller::new(&ExporterConfig::default(), vec![]);
    let kept = String::from_utf8(body(&board(true), &keep)).unwrap();
    for raw in [
        "10.9.1.10",
        "10.9.3.7",
        "10.9.2.1:49152",
        "alice",
        "ended-call",
    ] {
        assert!(kept.contains(raw), "{raw} not in {kept}");
    }
}

#[test]
fn an_empty_board_gives_empty_lists() {
    let b = Board::new(2, 1);
    let l = Labeller::new(&ExporterConfig::default(), vec![]);
    let (_, v) = parse(&b, &l);
    assert_eq!(v["ongoing"].as_array().unwrap().len(), 0);
    assert_eq!(v["ended"].as_array().unwrap().len(), 0);
    assert_eq!(v["ongoing_omitted"], 0);
}
