use super::*;

const OFFER: &[u8] = b"v=0\r\n\
o=- 1 1 IN IP4 192.0.2.1\r\n\
s=-\r\n\
c=IN IP4 192.0.2.1\r\n\
t=0 0\r\n\
a=sendonly\r\n\
m=audio 49170 RTP/AVP 0 96 101\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=rtcp:49171 IN IP4 192.0.2.9\r\n\
a=ssrc:1234 cname:user@host\r\n\
m=video 51372 RTP/SAVPF 97\r\n\
c=IN IP6 2001:db8::2\r\n\
a=rtpmap:97 VP8/90000\r\n\
a=rtcp-mux\r\n\
a=inactive\r\n";

#[test]
fn an_offer_gives_addresses_ports_codecs_and_directions() {
    let s = parse(OFFER);
    assert_eq!(s.media.len(), 2);
    let a = &s.media[0];
    assert_eq!((a.kind, a.port, a.proto), ("audio", 49170, "RTP/AVP"));
    assert_eq!(a.formats, [0, 96, 101]);
    assert_eq!(a.addr, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(a.rtpmap(96).unwrap().clock_rate, 48000);
    assert_eq!(a.rtpmap(96).unwrap().channels, 2);
    assert_eq!(a.rtpmap(96).unwrap().name, "opus");
    assert_eq!(a.rtpmap(0).unwrap().name, "PCMU", "static, no rtpmap");
    assert_eq!(a.rtcp, Some((49171, Some("192.0.2.9".parse().unwrap()))));
    assert_eq!(a.ssrcs, [(1234, "user@host")]);
    assert_eq!(a.direction, Direction::SendOnly, "the session's");
    let v = &s.media[1];
    assert_eq!(v.addr, Some("2001:db8::2".parse().unwrap()));
    assert!(v.rtcp_mux);
    assert_eq!(v.direction, Direction::Inactive, "its own");
    assert_eq!(v.rtpmap(97).unwrap().clock_rate, 90000);
}

#[test]
fn caps_and_garbage_are_counted_or_skipped() {
    let mut b = String::from("v=0\r\nc=IN IP4 10.0.0.1\r\n");
    for i in 0..MAX_MEDIA + 3 {
        b.push_str(&format!(
            "m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
            1000 + i
        ));
    }
    b.push_str("a=rtpmap:x y\r\nm=audio notaport RTP/AVP 300 7\r\nc=IN IP4 nonsense\r\n");
    let s = parse(b.as_bytes());
    assert_eq!(s.media.len(), MAX_MEDIA);
    assert!(s.ignored >= 3 * 2);
    let s = parse(b"m=audio 5 RTP/AVP 96\r\na=rtpmap:96 x/0\r\na=rtpmap:200 y/8000\r\n\xff\xfe");
    assert_eq!(s.media[0].rtpmaps, []);
    assert_eq!(s.media[0].addr, None);
}
