//! A SIP flood keeps the dialog table under its cap (issue 13, "What must be shown" 5):
//! 100,000 INVITEs of distinct Call-IDs with a session description each, against a table
//! of 10,000 dialogs. A counting global allocator measures the peak of live heap bytes; the
//! evicted dialogs are counted and reported (outcome `timeout`), and the ended calls are
//! drained as a replay does every second.

use rtcprobe::sip::{SipLimits, SipStage};
use std::net::SocketAddr;

#[path = "common/peak.rs"]
mod peak;

#[global_allocator]
static GLOBAL: peak::Counting = peak::Counting;

const MIB: usize = 1 << 20;

fn invite(i: u32) -> String {
    let body = format!(
        "v=0\r\nc=IN IP4 10.{}.{}.{}\r\nm=audio {} RTP/AVP 0 8 96\r\na=rtpmap:96 opus/48000/2\r\n",
        (i >> 16) as u8,
        (i >> 8) as u8,
        i as u8,
        10_000 + (i % 25_000) * 2
    );
    format!(
        "INVITE sip:victim{i}@example.com SIP/2.0\r\nCall-ID: flood-{i}-{}\r\n\
         From: \"{}\" <sip:attacker{i}@example.net>;tag={i}\r\nTo: <sip:victim{i}@example.com>\r\n\
         CSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        "x".repeat(100),
        "y".repeat(200),
        body.len()
    )
}

/// `n` INVITEs, one per 100 µs of capture time, ended calls drained every 10,000; the peak
/// heap, the stage, and the calls drained.
fn flood(limits: SipLimits, n: u32) -> (usize, SipStage, usize) {
    let mut st = SipStage::new(limits.clone());
    let (src, dst): (SocketAddr, SocketAddr) = (
        "198.51.100.1:5060".parse().unwrap(),
        "192.0.2.1:5060".parse().unwrap(),
    );
    let msgs: Vec<String> = (0..n).map(invite).collect();
    let base = peak::start();
    let mut drained = 0;
    let mut sdp = 0u64;
    for (i, m) in msgs.iter().enumerate() {
        st.on_message(i as i64 * 100_000, src, dst, m.as_bytes(), &mut |_| {
            sdp += 1
        });
        assert!(st.dialogs() <= limits.max_dialogs);
        if i % 10_000 == 9_999 {
            drained += st.drain_ended().len();
        }
    }
    drained += st.drain_ended().len();
    assert_eq!(
        sdp,
        3 * u64::from(n),
        "every description maps its three payload types"
    );
    (peak::since(base), st, drained)
}

#[test]
fn a_flood_of_invites_stays_in_the_table_and_is_counted() {
    let limits = SipLimits::default(); // 10,000 dialogs
    let (small, _, _) = flood(limits.clone(), 20_000);
    let (peak, st, drained) = flood(limits.clone(), 100_000);
    let c = st.counters();
    assert_eq!(st.dialogs(), 10_000);
    assert_eq!(c.dialogs_created, 100_000);
    assert_eq!(c.evicted, 90_000);
    assert_eq!(c.outcomes.timeout, 90_000);
    assert_eq!(drained, 90_000);
    assert_eq!(c.calls_dropped, 0);
    // Five times the flood, bounded memory: the table (and the calls between two drains)
    // sets it, not the attack.
    eprintln!("SIP flood peak heap: {small} B for 20k, {peak} B for 100k");
    assert!(peak <= 2 * small, "{peak} vs {small}");
    assert!(peak < 64 * MIB, "{peak}");
}
