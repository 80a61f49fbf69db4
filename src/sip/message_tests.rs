use super::*;

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: \"Alice A\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

#[test]
fn a_request_gives_its_dialog_headers_and_body() {
    let m = parse(INVITE, false).unwrap();
    assert_eq!(
        m.start,
        Some(StartLine::Request {
            method: "INVITE",
            uri: "sip:bob@biloxi.example.com"
        })
    );
    assert_eq!(m.call_id, Some("a84b4c76e66710@pc33.atlanta.example.com"));
    assert_eq!(m.cseq, Some((314159, "INVITE")));
    assert_eq!(m.content_length, Some(4));
    assert_eq!(m.body, b"v=0\n");
    assert!(m.has_sdp());
    assert_eq!(m.headers, 8);
    let from = m.from.unwrap();
    assert_eq!(tag(from), Some("1928301774"));
    assert_eq!(uri(from), "sip:alice@atlanta.example.com");
    assert_eq!(display_name(from), Some("Alice A"));
    assert_eq!(tag(m.to.unwrap()), None);
    assert_eq!(display_name(m.to.unwrap()), Some("Bob"));
}

#[test]
fn compact_forms_folding_and_lf_only_lines_are_read() {
    // RFC 4475 §3.1.1.1-style: compact names, a folded header, bare LF line ends.
    let msg = b"SIP/2.0 180 Ringing\n\
i: abc\n\
f: <sip:a@x>;tag=1\n\
t: <sip:b@y>\n  ;tag=2\n\
CSeq: 1\n INVITE\n\
c: application/sdp;charset=utf-8\n\
l: 0\n\
\n";
    let m = parse(msg, false).unwrap();
    assert_eq!(m.status(), Some(180));
    assert_eq!(m.call_id, Some("abc"));
    assert_eq!(tag(m.to.unwrap()), Some("2"));
    assert_eq!(m.cseq, Some((1, "INVITE")));
    assert_eq!(m.method(), Some("INVITE"));
    assert!(m.body.is_empty());
    assert!(!m.has_sdp(), "an empty body is no SDP");
}

#[test]
fn missing_content_length_is_the_rest_of_a_datagram_and_zero_on_a_stream() {
    let msg = b"SIP/2.0 200 OK\r\nCall-ID: x\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n";
    assert_eq!(parse(msg, false).unwrap().body, b"v=0\r\n");
    assert!(parse(msg, true).unwrap().body.is_empty());
}

#[test]
fn hostile_heads_are_errors_not_panics() {
    let cases: [(&[u8], Error); 8] = [
        (b"INVITE sip:a SIP/2.0\r\nCall-ID: x\r\n", Error::Incomplete),
        (b"HELLO\r\n\r\n", Error::StartLine),
        (b"SIP/2.0 99 Low\r\n\r\n", Error::StartLine),
        (
            b"SIP/2.0 200 OK\r\n folded-first: x\r\n\r\n",
            Error::HeaderLine,
        ),
        (b"SIP/2.0 200 OK\r\nno colon\r\n\r\n", Error::HeaderLine),
        (b"SIP/2.0 200 OK\r\nl: 10\r\n\r\nshort", Error::Truncated),
        (
            b"SIP/2.0 200 OK\r\nl: 1\r\nl: 2\r\n\r\nab",
            Error::ContentLength,
        ),
        (b"SIP/2.0 200 OK\r\nl: -1\r\n\r\n", Error::ContentLength),
    ];
    for (b, e) in cases {
        assert_eq!(parse(b, false), Err(e), "{}", String::from_utf8_lossy(b));
    }
    let mut many = b"SIP/2.0 200 OK\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(parse(&many, false), Err(Error::TooManyHeaders));
    let mut big = b"SIP/2.0 200 OK\r\nX: ".to_vec();
    big.resize(MAX_HEAD_BYTES + 100, b'a');
    assert_eq!(parse(&big, false), Err(Error::HeadTooLarge));
    assert_eq!(
        parse(b"SIP/2.0 200 OK\r\nX: \xff\r\n\r\n", false),
        Err(Error::NotUtf8)
    );
}

#[test]
fn a_multipart_body_is_kept_but_is_not_sdp() {
    let msg = b"INVITE sip:b SIP/2.0\r\nCall-ID: m\r\n\
Content-Type: multipart/mixed;boundary=zz\r\nContent-Length: 10\r\n\r\n--zz\r\nv=0\r\n";
    let m = parse(msg, false).unwrap();
    assert_eq!(m.body.len(), 10);
    assert!(!m.has_sdp());
}

#[test]
fn frames_on_a_stream_end_at_their_content_length() {
    let two = [INVITE, b"SIP/2.0 100 Trying\r\nl: 0\r\n\r\n"].concat();
    assert_eq!(frame_len(&two), Frame::Complete(INVITE.len()));
    for cut in 0..INVITE.len() {
        assert_eq!(frame_len(&INVITE[..cut]), Frame::NeedMore, "cut at {cut}");
    }
    assert_eq!(
        frame_len(b"SIP/2.0 200 OK\r\nl: 99999999\r\n\r\n"),
        Frame::Invalid
    );
}

#[test]
fn sniffing_knows_start_lines() {
    assert!(looks_like_sip(INVITE));
    assert!(looks_like_sip(b"SIP/2.0 200 OK\r\n"));
    assert!(looks_like_sip(b"OPTIONS sip:x SIP/2.0\r\n"));
    assert!(!looks_like_sip(b"GET / HTTP/1.1\r\n"));
    assert!(!looks_like_sip(&[0x80, 0x00, 1, 2]));
}
