use super::*;

fn msg(b: &str) -> Message<'_> {
    message::parse(b.as_bytes(), false).unwrap()
}

const INV: &str = "INVITE sip:b@y SIP/2.0\r\nCall-ID: c1\r\nFrom: \"A\" <sip:a@x>;tag=f\r\nTo: <sip:b@y>\r\nCSeq: 1 INVITE\r\n\r\n";

fn dialog() -> Dialog {
    let a = "10.0.0.1:5060".parse().unwrap();
    let b = "10.0.0.2:5060".parse().unwrap();
    let m = msg(INV);
    let mut d = Dialog::new(0, a, b, "c1", &m);
    d.on_message(0, &m);
    d
}

fn resp(code: u16, cseq: &str) -> String {
    format!("SIP/2.0 {code} X\r\nCall-ID: c1\r\nFrom: <sip:a@x>;tag=f\r\nTo: <sip:b@y>;tag=t\r\nCSeq: {cseq}\r\n\r\n")
}

#[test]
fn an_answered_call_ended_by_bye() {
    let mut d = dialog();
    d.on_message(100, &msg(&resp(100, "1 INVITE")));
    d.on_message(200, &msg(&resp(180, "1 INVITE")));
    d.on_message(300, &msg(&resp(180, "1 INVITE")));
    d.on_message(900, &msg(&resp(200, "1 INVITE")));
    assert_eq!(
        (d.ringing, d.answer, d.state),
        (Some(200), Some(900), State::Answered)
    );
    assert_eq!(d.to_tag.as_deref(), Some("t"));
    assert_eq!(d.outcome(false), "answered");
    d.on_message(
        950,
        &msg(
            "INVITE sip:b SIP/2.0\r\nCall-ID: c1\r\nTo: <sip:b@y>;tag=t\r\nCSeq: 2 INVITE\r\n\r\n",
        ),
    );
    assert_eq!(d.reinvites, 1);
    d.on_message(960, &msg(&resp(491, "2 INVITE")));
    assert_eq!(
        d.state,
        State::Answered,
        "a failed re-INVITE does not end the call"
    );
    d.on_message(
        2000,
        &msg("BYE sip:a SIP/2.0\r\nCall-ID: c1\r\nCSeq: 3 BYE\r\n\r\n"),
    );
    assert_eq!((d.state, d.end), (State::Bye, Some(2000)));
    assert_eq!(d.outcome(true), "bye");
}

#[test]
fn a_challenge_then_a_failure_then_a_cancel() {
    let mut d = dialog();
    d.on_message(10, &msg(&resp(407, "1 INVITE")));
    assert_eq!((d.state, d.status), (State::Failed, Some(407)));
    // The retried INVITE (CSeq 2) starts setup again.
    d.on_message(20, &msg(&INV.replace("CSeq: 1", "CSeq: 2")));
    assert_eq!((d.state, d.invites), (State::Setup, 2));
    d.on_message(25, &msg(&resp(407, "1 INVITE")));
    assert_eq!(d.state, State::Setup, "a late response to the old INVITE");
    d.on_message(
        30,
        &msg("CANCEL sip:b SIP/2.0\r\nCall-ID: c1\r\nCSeq: 2 CANCEL\r\n\r\n"),
    );
    d.on_message(40, &msg(&resp(487, "2 INVITE")));
    assert_eq!((d.outcome(false), d.status), ("cancelled", Some(487)));
    let mut d = dialog();
    d.on_message(10, &msg(&resp(486, "1 INVITE")));
    assert_eq!(d.outcome(false), "failed");
    assert_eq!(dialog().outcome(false), "setup");
    assert_eq!(dialog().outcome(true), "timeout");
}

#[test]
fn descriptions_become_endpoints_replaced_by_re_offers() {
    let mut d = dialog();
    let offer = sdp::parse(b"c=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0 96\r\na=rtpmap:96 opus/48000/2\r\nm=video 0 RTP/AVP 97\r\n");
    d.on_sdp(d.caller, &offer);
    assert_eq!(
        d.endpoints.len(),
        1,
        "a refused medium (port 0) is not kept"
    );
    assert_eq!(d.endpoints[0].side, "caller");
    assert_eq!(d.endpoints[0].codecs.len(), 2);
    let hold = sdp::parse(b"c=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n");
    d.on_sdp(d.caller, &hold);
    assert_eq!(d.endpoints.len(), 1);
    assert_eq!(d.endpoints[0].direction, "sendonly");
    let answer = sdp::parse(b"c=IN IP4 10.0.0.2\r\nm=audio 5000 RTP/AVP 0\r\n");
    d.on_sdp(d.callee, &answer);
    assert_eq!(d.endpoints[1].side, "callee");
}
