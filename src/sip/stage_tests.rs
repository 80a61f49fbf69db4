use super::*;

fn a() -> SocketAddr {
    "10.0.0.1:5060".parse().unwrap()
}
fn b() -> SocketAddr {
    "10.0.0.2:5060".parse().unwrap()
}

fn invite(id: &str) -> String {
    let body =
        "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 96 0\r\na=rtpmap:96 AMR-WB/16000\r\n";
    format!(
        "INVITE sip:bob@y SIP/2.0\r\nCall-ID: {id}\r\nFrom: \"Alice\" <sip:alice@x>;tag=1\r\nTo: <sip:bob@y>\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_call_gives_sdp_mappings_and_a_record_with_hidden_identities() {
    let mut st = SipStage::new(SipLimits::default());
    let mut maps = Vec::new();
    let inv = invite("abc@host");
    assert!(st.is_sip(5070, 5060, inv.as_bytes()));
    assert!(st.is_sip(1, 2, inv.as_bytes()), "sniffed");
    assert!(!st.is_sip(5060, 5060, &[0x80, 0]));
    st.on_message(1_000, a(), b(), inv.as_bytes(), &mut |m| maps.push(m));
    assert_eq!(maps.len(), 2);
    assert_eq!((maps[0].pt, maps[0].clock_rate), (96, 16000));
    assert_eq!(
        maps[0].codec.map(|c| c.name),
        codec_by_name("AMR-WB", 16000, 1).map(|c| c.name)
    );
    assert_eq!((maps[1].pt, maps[1].clock_rate), (0, 8000));
    let ok = "SIP/2.0 200 OK\r\nCall-ID: abc@host\r\nTo: <sip:bob@y>;tag=2\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n";
    st.on_message(3_000_000, b(), a(), ok.as_bytes(), &mut |_| {});
    st.on_message(
        9,
        a(),
        b(),
        b"REGISTER sip:x SIP/2.0\r\ni: r\r\n\r\n",
        &mut |_| {},
    );
    st.on_message(9, a(), b(), b"INVITE garbage", &mut |_| {});
    let c = st.counters();
    assert_eq!(
        (
            c.dialogs_created,
            c.outside_dialogs,
            c.malformed,
            c.sdp_bodies
        ),
        (1, 1, 1, 1)
    );
    st.finish(5_000_000_000);
    let calls = st.drain_ended();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.outcome, "answered");
    assert_eq!(call.setup_time_ms.answer, Some(2.999));
    assert_ne!(call.id, "abc@host");
    assert_eq!(call.id.len(), 16);
    assert_ne!(call.participants[0].uri, "sip:alice@x");
    assert_eq!(call.codecs, ["AMR-WB/16000", "PCMU/8000"]);
    assert_eq!(call.duration_s, Some(4.997));
    assert!(call.names(
        "10.0.0.9:7000".parse().unwrap(),
        "10.0.0.1:4000".parse().unwrap()
    ));
    assert!(!call.names(
        "10.0.0.9:7000".parse().unwrap(),
        "10.0.0.1:4001".parse().unwrap()
    ));
}

#[test]
fn kept_identities_are_printed_as_they_are() {
    let mut st = SipStage::new(SipLimits {
        keep_identities: true,
        ..SipLimits::default()
    });
    st.on_message(0, a(), b(), invite("abc@host").as_bytes(), &mut |_| {});
    st.finish(1);
    let call = &st.drain_ended()[0];
    assert_eq!(call.id, "abc@host");
    assert_eq!(call.participants[0].uri, "sip:alice@x");
    assert_eq!(call.participants[0].name.as_deref(), Some("Alice"));
    assert_eq!(call.outcome, "setup");
}

#[test]
fn the_table_is_bounded_and_idle_dialogs_time_out() {
    let limits = SipLimits {
        max_dialogs: 10,
        ..SipLimits::default()
    };
    let setup = limits.setup_timeout_ns;
    let mut st = SipStage::new(limits);
    for i in 0..25 {
        st.on_message(
            i,
            a(),
            b(),
            invite(&format!("id{i}")).as_bytes(),
            &mut |_| {},
        );
    }
    assert_eq!(st.dialogs(), 10);
    assert_eq!(st.counters().evicted, 15);
    st.expire(setup - 1);
    assert_eq!(st.dialogs(), 10);
    st.expire(setup + 100);
    assert_eq!(st.dialogs(), 0);
    assert_eq!(st.counters().expired, 10);
    let calls = st.drain_ended();
    assert_eq!(calls.len(), 10, "the ended queue is bounded by max_dialogs");
    assert_eq!(st.counters().calls_dropped, 15);
    assert!(calls.iter().all(|c| c.outcome == "timeout"));
}

#[test]
fn the_hash_key_never_shows_in_debug_output() {
    let limits = SipLimits {
        hash_key: "a secret key of 16+".into(),
        ..SipLimits::default()
    };
    let st = SipStage::new(limits.clone());
    for s in [format!("{limits:?}"), format!("{st:?}")] {
        assert!(!s.contains("secret"), "{s}");
    }
}

#[test]
fn ongoing_shows_the_most_recently_active_dialogs_first_up_to_the_cap() {
    let mut st = SipStage::new(SipLimits::default());
    for (i, id) in ["one", "two", "three"].iter().enumerate() {
        let t = (i as i64 + 1) * 1_000_000_000;
        st.on_message(t, a(), b(), invite(id).as_bytes(), &mut |_| {});
    }
    // "one" answered last: the most recently active.
    let ok =
        "SIP/2.0 200 OK\r\nCall-ID: one\r\nTo: <sip:bob@y>;tag=2\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n";
    st.on_message(5_000_000_000, b(), a(), ok.as_bytes(), &mut |_| {});
    let (all, omitted) = st.ongoing(6_000_000_000, 10);
    assert_eq!(omitted, 0);
    let outcomes: Vec<_> = all.iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, ["answered", "setup", "setup"]);
    let ids: Vec<_> = all.iter().map(|c| c.id.clone()).collect();
    let (two, omitted) = st.ongoing(6_000_000_000, 2);
    assert_eq!(omitted, 1);
    assert_eq!(
        two.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
        ids[..2]
    );
    // Newest first: "one" (answered at 5 s), then "three" (3 s); hashed ids, so compare
    // with the records of ended calls rendered by the same stage.
    assert_eq!(
        all[0].end,
        crate::engine::record::rfc3339_micros(6_000_000_000)
    );
    assert_eq!(st.ongoing(6_000_000_000, 0).0.len(), 0);
    st.finish(7_000_000_000);
    let ended = st.drain_ended();
    let id_of = |start: i64| {
        ended
            .iter()
            .find(|c| c.start_ns == start)
            .map(|c| c.id.clone())
            .unwrap()
    };
    assert_eq!(
        ids,
        [
            id_of(1_000_000_000),
            id_of(3_000_000_000),
            id_of(2_000_000_000)
        ]
    );
}

/// SIPp's UAS answers every call with the same media port: concurrent calls to it are told
/// apart by the caller's port, which only its own call named (found by tests/sip_lab with
/// overlapping calls, where all streams went to the latest call).
#[test]
fn concurrent_calls_to_one_media_port_keep_their_own_streams() {
    let mut st = SipStage::new(SipLimits {
        keep_identities: true,
        ..SipLimits::default()
    });
    let sdp = |ip: &str, port: u16| {
        format!("v=0\r\nc=IN IP4 {ip}\r\nm=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")
    };
    let caller = |k: u16| format!("10.0.0.1:{}", 17000 + 4 * k);
    for k in 0..3u16 {
        let id = format!("{k}@x");
        let body = sdp("10.0.0.1", 17000 + 4 * k);
        let inv = format!(
            "INVITE sip:bob@y SIP/2.0\r\nCall-ID: {id}\r\nFrom: <sip:alice@x>;tag=1\r\nTo: <sip:bob@y>\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        // 100 ms apart, each answered 200 ms after its INVITE: overlapping.
        let t = i64::from(k) * 100_000_000;
        st.on_message(t, a(), b(), inv.as_bytes(), &mut |_| {});
        let body = sdp("10.0.0.2", 16000);
        let ok = format!(
            "SIP/2.0 200 OK\r\nCall-ID: {id}\r\nTo: <sip:bob@y>;tag=2\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        st.on_message(t + 200_000_000, b(), a(), ok.as_bytes(), &mut |_| {});
    }
    st.finish(5_000_000_000);
    let mut m = crate::sip::call::CallMatcher::default();
    for c in st.drain_ended() {
        m.call(c);
    }
    let mut stream = |src: String, dst: String, first: i64| {
        let mut r = crate::export::test_record();
        (r.src, r.dst, r.clock_rate_source) = (src, dst, Some("sdp"));
        (r.first_seen_ns, r.last_seen_ns) = (first, first + 1_500_000_000);
        m.stream(&r);
    };
    // Each call's media starts after its answer, when the later calls have begun.
    let uas = "10.0.0.2:16000".to_string();
    for k in 0..3u16 {
        let first = i64::from(k) * 100_000_000 + 205_000_000;
        stream(caller(k), uas.clone(), first);
        stream(uas.clone(), caller(k), first);
    }
    // Naming only the shared port: the latest call that began before it (1 s of slack), as
    // before.
    stream("10.0.0.9:7000".into(), uas.clone(), 150_000_000);
    let calls = m.finish();
    assert_eq!(calls.len(), 3);
    for (k, c) in (0..3u16).zip(&calls) {
        let ends: Vec<(&str, &str)> = c
            .streams
            .iter()
            .map(|s| (s.src.as_str(), s.dst.as_str()))
            .collect();
        let mut want = vec![(caller(k), uas.clone()), (uas.clone(), caller(k))];
        if k == 2 {
            want.push(("10.0.0.9:7000".into(), uas.clone()));
        }
        want.sort();
        let want: Vec<(&str, &str)> = want.iter().map(|(s, d)| (s.as_str(), d.as_str())).collect();
        assert_eq!(ends, want, "{}", c.id);
    }
}
