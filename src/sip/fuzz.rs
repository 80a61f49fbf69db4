//! Fuzz harnesses of the SIP and SDP parsers and the dialog table (`fuzz/fuzz_targets/sip.rs`,
//! `sdp.rs` call them through `crate::fuzzing`): any bytes, no panic, bounded results.

use super::{message, sdp, SipLimits, SipStage};
use std::net::SocketAddr;

/// A SIP message, as a datagram and as a stream prefix; then, split at each 0xff byte, a
/// sequence of messages through a small dialog table with expiry.
pub fn sip(data: &[u8]) {
    for stream in [false, true] {
        if let Ok(m) = message::parse(data, stream) {
            assert!(m.body.len() <= message::MAX_BODY_BYTES);
            assert!(m.headers <= message::MAX_HEADERS);
            for v in [m.from, m.to].into_iter().flatten() {
                let _ = (message::tag(v), message::uri(v), message::display_name(v));
            }
            let _ = (m.method(), m.status());
            if m.has_sdp() {
                sdp_session(m.body);
            }
        }
    }
    if let message::Frame::Complete(n) = message::frame_len(data) {
        assert!(n <= data.len());
    }
    let _ = message::looks_like_sip(data);
    let limits = SipLimits {
        max_dialogs: 4,
        setup_timeout_ns: 3_000_000_000,
        established_timeout_ns: 5_000_000_000,
        linger_ns: 1_000_000_000,
        keep_identities: data.first().is_some_and(|b| b & 1 == 1),
        ..SipLimits::default()
    };
    let mut st = SipStage::new(limits);
    let hosts: [SocketAddr; 2] = [([10, 0, 0, 1], 5060).into(), ([10, 0, 0, 2], 5060).into()];
    let mut now = 1_700_000_000_000_000_000i64;
    for (i, part) in data.split(|&b| b == 0xff).enumerate() {
        let (s, d) = if i % 2 == 0 { (0, 1) } else { (1, 0) };
        let (src, dst) = (hosts[s], hosts[d]);
        st.on_message(now, src, dst, part, &mut |m| assert!(m.clock_rate > 0));
        assert!(st.dialogs() <= 4);
        now += i64::from(part.first().copied().unwrap_or(0)) * 50_000_000;
        st.expire(now);
        for c in st.drain_ended() {
            let _ = serde_json::to_string(&c);
        }
    }
    st.finish(now);
    let _ = st.drain_ended();
}

/// A session description.
pub fn sdp_session(data: &[u8]) {
    let s = sdp::parse(data);
    assert!(s.media.len() <= sdp::MAX_MEDIA);
    for m in &s.media {
        assert!(m.formats.len() <= sdp::MAX_FORMATS);
        assert!(m.rtpmaps.len() <= sdp::MAX_FORMATS);
        assert!(m.ssrcs.len() <= sdp::MAX_FORMATS);
        for &pt in &m.formats {
            if let Some(r) = m.rtpmap(pt) {
                assert!(r.clock_rate > 0);
            }
        }
    }
}
