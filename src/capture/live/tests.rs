//! Tests for [`super::LiveSource`] on the loopback device.
//!
//! Capturing needs root (`CAP_NET_RAW`): without it the live tests print
//! "skipped: needs root (CAP_NET_RAW)" and pass, except under `CI=true`, where they always run
//! (and fail if the runner cannot capture). Each test uses its own UDP port (bound on port 0, held
//! for the test) and a port-specific filter, so tests running in parallel, and other traffic on
//! `lo`, do not disturb each other. Every test is bounded to a few seconds.

use super::*;
use crate::wire::frame::decode_udp;
use crate::wire::link::LinkType;
use std::collections::{BTreeMap, BTreeSet};
use std::net::UdpSocket;
use std::time::SystemTime;

fn can_capture() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 || std::env::var("CI").as_deref() == Ok("true") {
        return true;
    }
    eprintln!("skipped: needs root (CAP_NET_RAW)");
    false
}

fn lo(filter: String) -> LiveOptions {
    LiveOptions {
        interface: "lo".into(),
        filter,
        snaplen: 65_535,
        buffer_bytes: 4 << 20,
        immediate: true,
        timeout_ms: 50,
        promiscuous: false,
        fanout: None,
    }
}

/// The production mode (`TPACKET_V3` blocks) with a short snap length, for bursts: in immediate
/// mode (`TPACKET_V2`) every ring slot is snap-length sized, so 4 MiB at 65535 holds only 32.
fn block_mode(filter: String) -> LiveOptions {
    LiveOptions {
        snaplen: 2048,
        immediate: false,
        ..lo(filter)
    }
}

/// A bound receiver on 127.0.0.1 (so no ICMP unreachable) and its port.
fn receiver() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

fn now_ns() -> i64 {
    let d = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    i64::try_from(d.as_nanos()).unwrap()
}

/// Read until `want` frames or `Idle` after the last one; (source port, payload) of each.
fn drain(src: &mut LiveSource, want: usize) -> Vec<(u16, Vec<u8>)> {
    let link = LinkType::from_dlt(src.linktype()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        match src.next(Duration::from_millis(300)).unwrap() {
            Next::Frame(f) => {
                let d = decode_udp(link, f.data).unwrap();
                out.push((d.src.port(), d.payload.to_vec()));
            }
            Next::Idle => break,
        }
    }
    out
}

#[test]
fn captures_exact_payloads_lengths_and_timestamps() {
    if !can_capture() {
        return;
    }
    let (_rx, port) = receiver();
    let mut src = LiveSource::open(&lo(format!("udp port {port}"))).unwrap();
    assert_eq!(src.interface(), "lo");
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let payloads: Vec<Vec<u8>> = [0usize, 1, 12, 172, 1400, 9000]
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|b| (b as u8) ^ (i as u8)).collect())
        .collect();
    let before = now_ns();
    for p in &payloads {
        tx.send_to(p, ("127.0.0.1", port)).unwrap();
    }
    #[cfg(target_os = "linux")]
    assert!(
        src.nano,
        "Linux grants nanosecond timestamps on live captures"
    );
    let link = LinkType::from_dlt(src.linktype()).unwrap();
    let mut last_ts = 0;
    for p in &payloads {
        let f = match src.next(Duration::from_secs(2)).unwrap() {
            Next::Frame(f) => f,
            Next::Idle => panic!("frame with {} byte payload not captured", p.len()),
        };
        // lo: a 14-byte fake Ethernet header, IPv4 without options, UDP.
        assert_eq!(f.data.len(), 14 + 20 + 8 + p.len());
        assert_eq!(f.orig_len as usize, f.data.len());
        let d = decode_udp(link, f.data).unwrap();
        assert_eq!(d.payload, &p[..]);
        assert_eq!(d.dst.port(), port);
        assert!(
            (f.ts_ns - before).abs() < 1_000_000_000,
            "timestamp {} vs clock {before}",
            f.ts_ns
        );
        assert!(f.ts_ns >= last_ts);
        last_ts = f.ts_ns;
    }
}

#[test]
fn any_device_yields_decodable_frames() {
    if !can_capture() {
        return;
    }
    let (_rx, port) = receiver();
    let mut opts = lo(format!("udp dst port {port}"));
    opts.interface = "any".into();
    let mut src = LiveSource::open(&opts).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(b"via any", ("127.0.0.1", port)).unwrap();
    let got = drain(&mut src, 1);
    assert_eq!(got.len(), 1, "linktype {}", src.linktype());
    assert_eq!(got[0].1, b"via any");
    // Cooked v2, with the interface index observation points need (libpcap ≥ 1.10).
    assert_eq!(src.linktype(), LINKTYPE_LINUX_SLL2);
}

#[test]
fn snaplen_cuts_data_but_keeps_orig_len() {
    if !can_capture() {
        return;
    }
    let (_rx, port) = receiver();
    let mut opts = lo(format!("udp port {port}"));
    opts.snaplen = 64;
    let mut src = LiveSource::open(&opts).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(&[7u8; 500], ("127.0.0.1", port)).unwrap();
    match src.next(Duration::from_secs(2)).unwrap() {
        Next::Frame(f) => {
            assert_eq!(f.data.len(), 64);
            assert_eq!(f.orig_len, 14 + 20 + 8 + 500);
        }
        Next::Idle => panic!("nothing captured"),
    }
}

#[test]
fn idle_returns_within_the_wait_budget() {
    if !can_capture() {
        return;
    }
    let (_rx, port) = receiver();
    // Block mode with a retire time far above the budget: `next` must not depend on it.
    let mut opts = lo(format!("udp port {port}"));
    opts.immediate = false;
    opts.timeout_ms = 5_000;
    let mut src = LiveSource::open(&opts).unwrap();
    let mut took = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        assert!(matches!(
            src.next(Duration::from_millis(100)).unwrap(),
            Next::Idle
        ));
        let e = t.elapsed();
        assert!(e >= Duration::from_millis(95), "Idle after {e:?}");
        assert!(e < Duration::from_millis(500), "Idle after {e:?}");
        took.push(e);
    }
    let t = Instant::now();
    assert!(matches!(src.next(Duration::ZERO).unwrap(), Next::Idle));
    assert!(t.elapsed() < Duration::from_millis(50));
    eprintln!("next(100ms) on an idle filter returned Idle after {took:?}");
}

#[test]
fn bad_filter_and_missing_interface_are_open_errors() {
    if !can_capture() {
        return;
    }
    match LiveSource::open(&lo("udp portt 5".into())) {
        Err(CaptureError::Open { path, reason }) => {
            assert_eq!(path, "lo");
            assert!(reason.contains("udp portt 5"), "{reason}");
            assert!(reason.contains("syntax error"), "{reason}");
        }
        other => panic!("expected Open error, got {:?}", other.map(|_| ())),
    }
    let mut opts = lo("udp".into());
    opts.interface = "rtcprobe-nx0".into();
    match LiveSource::open(&opts) {
        Err(CaptureError::Open { path, reason }) => {
            assert_eq!(path, "rtcprobe-nx0");
            assert!(!reason.is_empty());
            eprintln!("missing interface: {reason}");
        }
        other => panic!("expected Open error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn set_filter_replaces_the_filter_and_keeps_it_on_error() {
    if !can_capture() {
        return;
    }
    let (_rx_a, a) = receiver();
    let (_rx_b, b) = receiver();
    let mut src = LiveSource::open(&lo(format!("udp port {a}"))).unwrap();
    src.set_filter(&format!("udp port {b}")).unwrap();
    assert!(matches!(
        src.set_filter("not a filter"),
        Err(CaptureError::Open { .. })
    ));
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(b"to-a", ("127.0.0.1", a)).unwrap();
    tx.send_to(b"to-b", ("127.0.0.1", b)).unwrap();
    let got = drain(&mut src, 2);
    let payloads: Vec<&[u8]> = got.iter().map(|(_, p)| &p[..]).collect();
    assert_eq!(payloads, vec![&b"to-b"[..]]);
}

#[test]
fn fanout_puts_each_flow_in_exactly_one_source() {
    if !can_capture() {
        return;
    }
    const FLOWS: usize = 32;
    const PER_FLOW: usize = 8;
    let (_rx, port) = receiver();
    // Group ids are per network namespace; derive ours from the pid to avoid other runs.
    let group = (std::process::id() as u16) ^ 0x5a5a;
    let mut opts = block_mode(format!("udp dst port {port}"));
    opts.fanout = Some(Fanout { group });
    let mut a = LiveSource::open(&opts).unwrap();
    let mut b = LiveSource::open(&opts).unwrap();
    let senders: Vec<UdpSocket> = (0..FLOWS)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for i in 0..PER_FLOW {
        for s in &senders {
            s.send_to(&[i as u8; 40], ("127.0.0.1", port)).unwrap();
        }
    }
    let mut seen: BTreeMap<u16, (usize, usize)> = BTreeMap::new();
    let got_a = drain(&mut a, FLOWS * PER_FLOW);
    let got_b = drain(&mut b, FLOWS * PER_FLOW);
    for (sport, _) in &got_a {
        seen.entry(*sport).or_default().0 += 1;
    }
    for (sport, _) in &got_b {
        seen.entry(*sport).or_default().1 += 1;
    }
    eprintln!(
        "fanout split over {FLOWS} flows: {} frames in a, {} in b",
        got_a.len(),
        got_b.len()
    );
    assert_eq!(got_a.len() + got_b.len(), FLOWS * PER_FLOW);
    let sent: BTreeSet<u16> = senders
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect();
    assert_eq!(seen.keys().copied().collect::<BTreeSet<_>>(), sent);
    for (sport, (in_a, in_b)) in &seen {
        assert!(
            (*in_a == PER_FLOW && *in_b == 0) || (*in_a == 0 && *in_b == PER_FLOW),
            "flow from port {sport} split: {in_a} in a, {in_b} in b"
        );
    }
    // 32 flows all hashing to one side has probability 2^-31.
    assert!(!got_a.is_empty() && !got_b.is_empty());
}

#[test]
fn stats_count_received() {
    if !can_capture() {
        return;
    }
    const N: usize = 50;
    let (_rx, port) = receiver();
    let mut src = LiveSource::open(&block_mode(format!("udp port {port}"))).unwrap();
    assert_eq!(src.stats().unwrap(), LiveStats::default());
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..N {
        tx.send_to(&[i as u8; 20], ("127.0.0.1", port)).unwrap();
    }
    assert_eq!(drain(&mut src, N).len(), N);
    let s = src.stats().unwrap();
    eprintln!("{N} datagrams on lo: {s:?}");
    // On lo the kernel also hands the socket the outgoing copy, which libpcap discards.
    assert!(s.received >= N as u64, "{s:?}");
    assert_eq!(s.dropped, 0);
}

#[test]
fn counters_widen_across_u32_wraps() {
    let mut w = Widened::default();
    assert_eq!(w.update(10, 1, 0).received, 10);
    let s = w.update(u32::MAX - 5, 2, 0);
    assert_eq!(s.received, u64::from(u32::MAX) - 5);
    // The kernel-side counter wrapped: 6 to reach 2^32, 20 more.
    let s = w.update(20, 2, 3);
    assert_eq!(s.received, (1u64 << 32) + 20);
    assert_eq!(s.dropped, 2);
    assert_eq!(s.if_dropped, 3);
}
