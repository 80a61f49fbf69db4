use super::*;
use crate::correlate::calls::{CallLimits, CallStage};
use crate::engine::{ObservationPoint, PointNames};
use crate::sip::{SipLimits, SipStage};
use crate::synth::ice_turn::{ice_session, turn_allocation, TurnParties};

const SEC: i64 = 1_000_000_000;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn opts() -> RecordOptions {
    RecordOptions {
        calls: true,
        interval_ns: 10 * SEC,
        host: "probe-1".into(),
        diagnostics: Default::default(),
    }
}

/// A SIP call answered after 1.5 s (ringing at 0.5 s) and ended by BYE 4 s later.
fn sip_call() -> CallView {
    let mut st = SipStage::new(SipLimits {
        keep_identities: true,
        ..SipLimits::default()
    });
    let (a, b) = (sa("10.0.0.1:5060"), sa("10.0.0.2:5070"));
    let body = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    let invite = format!(
        "INVITE sip:bob@y SIP/2.0\r\nCall-ID: rec-1\r\nFrom: <sip:alice@x>;tag=1\r\nTo: <sip:bob@y>\r\n\
         CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let resp = |code: &str| {
        format!("SIP/2.0 {code}\r\nCall-ID: rec-1\r\nTo: <sip:bob@y>;tag=2\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n")
    };
    let bye = "BYE sip:a@x SIP/2.0\r\nCall-ID: rec-1\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n";
    let mut msg = |t: i64, from, to, m: &str| st.on_message(t, from, to, m.as_bytes(), &mut |_| {});
    msg(SEC, a, b, &invite);
    msg(SEC + SEC / 2, b, a, &resp("180 Ringing"));
    msg(SEC * 5 / 2, b, a, &resp("200 OK"));
    msg(SEC * 13 / 2, a, b, bye);
    st.expire(60 * SEC);
    let mut ended = st.drain_ended();
    assert_eq!(ended.len(), 1);
    CallView::Sip(ended.remove(0))
}

fn stage_records(frames: Vec<crate::synth::Frame>) -> (Vec<CallView>, Vec<CallView>) {
    let mut st = CallStage::new(&CallLimits::default(), PointNames::shared("capture"));
    for f in frames {
        let link = crate::wire::LinkType::from_dlt(f.linktype as i32).unwrap();
        if let Ok(dg) = crate::wire::decode_udp(link, &f.bytes) {
            st.on_datagram(f.ts_ns, &dg, ObservationPoint::CAPTURE);
        }
    }
    st.finish();
    let (ice, turn) = st.drain();
    (
        ice.into_iter().map(CallView::Ice).collect(),
        turn.into_iter().map(CallView::Turn).collect(),
    )
}

#[test]
fn a_sip_call_s_record_has_its_outcome_setup_times_and_parties() {
    let r = call_record(&opts(), &sip_call());
    assert_eq!((r.kind.as_str(), r.call_kind.as_str()), ("call", "sip"));
    assert_eq!(r.schema_version, SCHEMA_VERSION);
    assert_eq!((r.call_id.as_str(), r.outcome.as_str()), ("rec-1", "bye"));
    assert_eq!(r.sip_status, Some(200));
    assert_eq!(r.setup_ringing_ms, Some(500.0));
    assert_eq!(r.setup_answer_ms, Some(1500.0));
    assert_eq!(r.duration_secs, Some(4.0));
    assert_eq!(r.caller_uri.as_deref(), Some("sip:alice@x"));
    assert_eq!(r.callee_uri.as_deref(), Some("sip:bob@y"));
    assert_eq!(
        (r.caller_ip.as_deref(), r.caller_port),
        (Some("10.0.0.1"), Some(5060))
    );
    assert_eq!(
        (r.callee_ip.as_deref(), r.callee_port),
        (Some("10.0.0.2"), Some(5070))
    );
    assert_eq!(r.codecs.as_deref(), Some("PCMU/8000,telephone-event/8000"));
    assert_eq!((r.sip_invites, r.ended_by.as_deref()), (Some(1), None));
    assert!(r.ice_mode.is_none() && r.turn_client_ip.is_none());
    // Flat, and read back by the strict reader: every key is the schema's.
    let line = serde_json::to_string(&r).unwrap();
    assert!(line.contains(r#""kind":"call""#), "{line}");
    assert_eq!(serde_json::from_str::<CallRecordOut>(&line).unwrap(), r);
}

#[test]
fn ice_and_turn_records_carry_their_own_keys() {
    let (a, b) = (sa("192.0.2.1:50000"), sa("198.51.100.2:40000"));
    let (ice, _) = stage_records(ice_session(SEC, a, b, ("ua", "ub"), 3, true, false, 50));
    let r = call_record(&opts(), &ice[0]);
    assert_eq!(
        (r.call_kind.as_str(), r.outcome.as_str()),
        ("ice", "connected")
    );
    assert_eq!(r.ice_mode.as_deref(), Some("full"));
    assert!(
        r.ice_checks.unwrap() >= 3 && r.ice_answers.unwrap() >= 3,
        "{r:?}"
    );
    let ends = [
        r.ice_selected_a.clone().unwrap(),
        r.ice_selected_b.clone().unwrap(),
    ];
    assert!(
        ends.contains(&a.to_string()) && ends.contains(&b.to_string()),
        "{r:?}"
    );
    assert!(r.ice_rtt_ms.is_some() && r.duration_secs.unwrap() > 0.0);
    assert_eq!(r.ended_by.as_deref(), Some("end_of_capture"));
    assert!(r.streams >= 2, "{r:?}");
    assert!(r.sip_status.is_none() && r.turn_client_ip.is_none());

    let p = TurnParties {
        client: sa("10.1.0.10:50000"),
        server: sa("203.0.113.1:3478"),
        relayed: sa("203.0.113.1:49152"),
        peer: sa("198.51.100.7:7000"),
    };
    let (_, turn) = stage_records(turn_allocation(SEC, p, None, 20, false));
    let r = call_record(&opts(), &turn[0]);
    assert_eq!(
        (r.call_kind.as_str(), r.outcome.as_str()),
        ("turn", "relayed")
    );
    assert_eq!(
        (r.turn_client_ip.as_deref(), r.turn_client_port),
        (Some("10.1.0.10"), Some(50000))
    );
    assert_eq!(
        (r.turn_relayed_ip.as_deref(), r.turn_relayed_port),
        (Some("203.0.113.1"), Some(49152))
    );
    assert_eq!(r.turn_transport.as_deref(), Some("udp"));
    assert_eq!((r.turn_permissions, r.turn_channels), (Some(1), Some(1)));
    assert!(r.turn_client_packets.unwrap() > 0 && r.turn_relayed_packets.unwrap() > 0);
    assert_eq!(r.turn_errors.as_deref(), Some("401:1"), "{r:?}");
    assert!(r.ice_mode.is_none() && r.caller_uri.is_none());

    // IDs: deterministic, and one per call.
    let again = call_record(&opts(), &turn[0]);
    assert_eq!(again.record_id, r.record_id);
    let sip = call_record(&opts(), &sip_call());
    let ice = call_record(&opts(), &ice[0]);
    assert!(r.record_id != sip.record_id && sip.record_id != ice.record_id);
    let other_host = RecordOptions {
        host: "probe-2".into(),
        ..opts()
    };
    assert_ne!(call_record(&other_host, &turn[0]).record_id, r.record_id);
}
