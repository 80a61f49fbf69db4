//! ICE sessions and TURN allocations end to end: synthetic captures replayed through the
//! library and the binary (`replay --format json`), and the real WebRTC fixtures compared
//! with tshark's STUN decoding.

use rtcprobe::config::Resolved;
use rtcprobe::replay::{replay_file, Report};
use rtcprobe::synth::ice_turn::{ice_session, turn_allocation, TurnParties};
use rtcprobe::synth::{Frame, PcapWriter, TsResolution, DEFAULT_SNAPLEN};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

mod common;
use common::{bin, Scratch};

const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * SEC;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn write(dir: &Scratch, name: &str, frames: &[Frame]) -> PathBuf {
    let path = dir.path(name);
    let f = std::fs::File::create(&path).unwrap();
    let mut w = PcapWriter::new(f, 1, DEFAULT_SNAPLEN, TsResolution::Nano).unwrap();
    for fr in frames {
        w.write_frame(fr.ts_ns, &fr.bytes).unwrap();
    }
    w.into_inner().unwrap();
    path
}

fn replay(path: &Path) -> Report {
    replay_file(path, &Resolved::default()).unwrap()
}

#[test]
fn ice_sessions_connected_failed_and_lite() {
    let dir = Scratch::new("ice-sessions");
    let mut frames = ice_session(
        T0,
        sa("10.0.0.1:5000"),
        sa("10.0.0.2:6000"),
        ("aaaa", "bbbb"),
        4,
        true,
        false,
        50,
    );
    frames.extend(ice_session(
        T0,
        sa("10.0.1.1:5000"),
        sa("10.0.1.2:6000"),
        ("cccc", "dddd"),
        6,
        false,
        false,
        0,
    ));
    frames.extend(ice_session(
        T0 + SEC,
        sa("10.0.2.1:5000"),
        sa("10.0.2.2:6000"),
        ("eeee", "ffff"),
        2,
        true,
        true,
        10,
    ));
    frames.sort_by_key(|f| f.ts_ns);
    let r = replay(&write(&dir, "ice.pcap", &frames));
    let by: BTreeMap<_, _> = r
        .ice_sessions
        .iter()
        .map(|s| (s.ufrags[0].clone(), s))
        .collect();
    assert_eq!(by.len(), 3);
    let ok = by["aaaa"];
    assert_eq!(
        (ok.outcome, ok.mode, ok.checks, ok.answers),
        ("connected", "full", 8, 8)
    );
    let sel = &ok.pairs[ok.selected_pair.unwrap()];
    assert!(sel.nominated && sel.selected && sel.media_packets == 100);
    assert_eq!(sel.rtt_ms_mean, Some(15.0));
    // The session's streams are the report's streams of its pair.
    assert_eq!(ok.streams.len(), 2);
    for s in &ok.streams {
        assert!(
            r.streams.iter().any(|x| x.src == s.src
                && x.dst == s.dst
                && x.ssrc == s.ssrc
                && x.observed_at == s.observed_at),
            "{s:?} is a stream of the report"
        );
    }
    let failed = by["cccc"];
    assert_eq!(
        (failed.outcome, failed.mode, failed.answers),
        ("failed", "unknown", 0)
    );
    assert_eq!(failed.checks, 12);
    let lite = by["eeee"];
    assert_eq!((lite.outcome, lite.mode), ("connected", "lite"));
    let c = r.summary.ice_turn.ice;
    assert_eq!((c.sessions, c.checks), (3, 8 + 12 + 2));
}

fn parties() -> TurnParties {
    TurnParties {
        client: sa("192.168.1.10:50000"),
        server: sa("203.0.113.1:3478"),
        relayed: sa("203.0.113.1:49152"),
        peer: sa("198.51.100.7:7000"),
    }
}

/// The allocation's record and the report's streams, each tied on both legs.
fn check_relayed(r: &Report, p: TurnParties, packets: u64) {
    let [a] = &r.turn_allocations[..] else {
        panic!("{:?}", r.turn_allocations)
    };
    assert_eq!((a.outcome, a.ended_by), ("relayed", "deleted"));
    assert_eq!(a.relayed_address, Some(p.relayed.to_string()));
    assert_eq!(a.errors, BTreeMap::from([(401, 1)]));
    assert_eq!(a.permissions, [p.peer.ip().to_string()]);
    assert_eq!(
        (a.channels[0].channel, a.channels[0].peer.clone()),
        (0x4001, p.peer.to_string())
    );
    assert_eq!(
        (a.client_packets, a.relayed_packets),
        (2 * packets, 2 * packets)
    );
    assert!(a.username.as_deref().is_some_and(|u| u.starts_with("h:")));
    for ssrc in [0xC1, 0xD2] {
        let legs: Vec<_> = a.streams.iter().filter(|s| s.ssrc == ssrc).collect();
        assert_eq!(legs.len(), 2, "{ssrc:#x} on both legs: {legs:?}");
        let kinds: Vec<_> = legs.iter().map(|s| s.leg.unwrap()).collect();
        assert!(kinds.contains(&"client") && kinds.contains(&"relayed"));
        assert!(legs.iter().all(|s| s.peer == Some(p.peer.to_string())));
        for s in legs {
            let stream = r
                .streams
                .iter()
                .find(|x| x.src == s.src && x.dst == s.dst && x.ssrc == s.ssrc)
                .unwrap_or_else(|| panic!("{s:?} is a stream of the report"));
            assert_eq!(stream.packets, packets, "{s:?}");
        }
    }
}

#[test]
fn a_turn_allocation_over_udp_ties_the_relayed_streams_to_the_client_side() {
    let dir = Scratch::new("turn-udp");
    let p = parties();
    let r = replay(&write(
        &dir,
        "turn.pcap",
        &turn_allocation(T0, p, None, 100, false),
    ));
    check_relayed(&r, p, 100);
}

#[test]
fn a_turn_allocation_over_tcp_ties_the_relayed_streams_to_the_client_side() {
    let dir = Scratch::new("turn-tcp");
    let p = parties();
    let r = replay(&write(
        &dir,
        "turn-tcp.pcap",
        &turn_allocation(T0, p, None, 100, true),
    ));
    assert!(
        r.summary.tcp.turn_channel_data >= 200,
        "{:?}",
        r.summary.tcp
    );
    check_relayed(&r, p, 100);
}

#[test]
fn an_allocation_failure_in_the_json_output() {
    let dir = Scratch::new("turn-fail");
    let path = write(
        &dir,
        "fail.pcap",
        &turn_allocation(T0, parties(), Some(486), 0, false),
    );
    let out = bin()
        .args(["replay", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = &v["turn_allocations"][0];
    assert_eq!(a["kind"], "turn");
    assert_eq!(a["outcome"], "failed");
    assert_eq!(a["errors"], serde_json::json!({"401": 1, "486": 1}));
    assert!(a["start"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["summary"]["ice_turn"]["turn"]["errors"], 1);
    assert_eq!(v["summary"]["ice_turn"]["turn"]["challenges"], 1);
    assert!(
        v.get("ice_sessions").is_none(),
        "absent when there are none"
    );
    // Never the user name, realm or anything of MESSAGE-INTEGRITY.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("alice") && !text.contains("example.org"));
}

/// Per candidate pair of each ICE session (ufrags in canonical order, then the 5-tuple in
/// canonical order): checks, answers, nominated.
type PairCounts = BTreeMap<(String, String, SocketAddr, SocketAddr), (u64, u64, bool)>;

fn canon(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// The same counts from tshark's STUN decoding: a Binding request (type 0x0001) with a
/// USERNAME `remote:local` is a check of the session of those two ufrags on its 5-tuple,
/// nominating when its attribute types include USE-CANDIDATE (0x0025); a Binding success
/// (0x0101) answers the outstanding check with its transaction ID on the reversed 5-tuple.
/// (A retransmitted check leaves one outstanding entry: the last, which one answer takes, as
/// the probe counts it; tshark's own request/response tracking pairs by ID alone.)
fn tshark_pairs(path: &Path) -> PairCounts {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-Y",
            "stun.type == 0x0001 || stun.type == 0x0101",
            "-T",
            "fields",
        ])
        .args(["-E", "separator=|", "-E", "occurrence=f"])
        .args(["-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport"])
        .args(["-e", "ip.dst", "-e", "ipv6.dst", "-e", "udp.dstport"])
        .args([
            "-e",
            "stun.type",
            "-e",
            "stun.att.username",
            "-e",
            "stun.id",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The attribute types of each message, separately (every occurrence).
    let types = std::process::Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args([
            "-Y",
            "stun.type == 0x0001 || stun.type == 0x0101",
            "-T",
            "fields",
        ])
        .args(["-e", "stun.att.type"])
        .output()
        .expect("run tshark");
    let text = String::from_utf8(out.stdout).unwrap();
    let types = String::from_utf8(types.stdout).unwrap();
    let mut pending: BTreeMap<(String, SocketAddr, SocketAddr), (String, String, bool)> =
        BTreeMap::new();
    let mut counts = PairCounts::new();
    for (line, types) in text.lines().zip(types.lines()) {
        let f: Vec<&str> = line.split('|').collect();
        let ip = |v4: &str, v6: &str| {
            if v4.is_empty() {
                v6.to_string()
            } else {
                v4.to_string()
            }
        };
        let src: SocketAddr =
            SocketAddr::new(ip(f[0], f[1]).parse().unwrap(), f[2].parse().unwrap());
        let dst: SocketAddr =
            SocketAddr::new(ip(f[3], f[4]).parse().unwrap(), f[5].parse().unwrap());
        let (ty, user, id) = (f[6], f[7], f[8].to_string());
        let (a, b) = canon(src, dst);
        if ty == "0x0001" {
            let Some((remote, local)) = user.split_once(':') else {
                continue; // a plain STUN query, not a check
            };
            if remote.is_empty() || local.is_empty() {
                continue;
            }
            let (u0, u1) = if local <= remote {
                (local, remote)
            } else {
                (remote, local)
            };
            let nominate = types.split(',').any(|t| t == "0x0025");
            let e = counts.entry((u0.into(), u1.into(), a, b)).or_default();
            e.0 += 1;
            e.2 |= nominate;
            pending.insert((id, src, dst), (u0.into(), u1.into(), nominate));
        } else if let Some((u0, u1, _)) = pending.remove(&(id, dst, src)) {
            counts.entry((u0, u1, a, b)).or_default().1 += 1;
        }
    }
    counts
}

fn probe_pairs(r: &Report) -> PairCounts {
    let mut counts = PairCounts::new();
    for s in &r.ice_sessions {
        for p in &s.pairs {
            let key = (s.ufrags[0].clone(), s.ufrags[1].clone(), sa(&p.a), sa(&p.b));
            counts.insert(key, (p.checks, p.answers, p.nominated));
        }
    }
    counts
}

#[test]
fn ice_sessions_of_the_webrtc_fixtures_agree_with_tshark() {
    if !common::have("/usr/bin/tshark", "tshark") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sessions = 0;
    for name in [
        "ndpi-google-meet-ipv6-webrtc.pcapng",
        "jitsi-chrome-vp8-flexfec-loss.pcap",
        "sample-sfu.pcap",
    ] {
        let path = root.join("fixtures").join(name);
        let r = replay(&path);
        let want = tshark_pairs(&path);
        assert_eq!(probe_pairs(&r), want, "{name}");
        sessions += r.ice_sessions.len();
        // Every session that carried media references streams of the report.
        for s in r.ice_sessions.iter().filter(|s| s.outcome == "connected") {
            assert!(!s.streams.is_empty(), "{name}: {}", s.id);
            for x in &s.streams {
                assert!(r
                    .streams
                    .iter()
                    .any(|y| y.src == x.src && y.dst == x.dst && y.ssrc == x.ssrc));
            }
        }
    }
    // Google Meet: two sessions (IPv4 and IPv6), both with a Google ICE-lite server; the
    // SFU sample: one. Jitsi's capture has no STUN.
    assert_eq!(sessions, 3);
}

#[test]
fn an_ice_tcp_session_is_followed_through_the_reassembler() {
    use rtcprobe::synth::tcp::{over_tcp, Split, TcpFraming, TcpPlan};
    let dir = Scratch::new("ice-tcp");
    let udp = ice_session(
        T0,
        sa("10.0.3.1:9000"),
        sa("10.0.3.2:443"),
        ("gggg", "hhhh"),
        3,
        true,
        true,
        40,
    );
    // RFC 6544: checks and media framed by RFC 4571 on one connection, cut every 5 bytes.
    let tcp = over_tcp(&udp, TcpPlan::clean(TcpFraming::Rfc4571, Split::Every(5))).frames;
    let (a, b) = (
        replay(&write(&dir, "udp.pcap", &udp)),
        replay(&write(&dir, "tcp.pcap", &tcp)),
    );
    assert!(b.summary.tcp.rfc4571_frames > 0);
    let strip = |r: &Report| {
        r.ice_sessions
            .iter()
            .map(|s| {
                (
                    s.outcome,
                    s.mode,
                    s.checks,
                    s.answers,
                    s.selected_pair,
                    s.streams.len(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a), [("connected", "lite", 3, 3, Some(0), 2)]);
    assert_eq!(
        strip(&a),
        strip(&b),
        "the same session over UDP and over ICE-TCP"
    );
}

#[test]
fn idle_sessions_and_allocations_end_during_the_replay() {
    let dir = Scratch::new("ice-idle");
    let mut frames = ice_session(
        T0,
        sa("10.0.4.1:5000"),
        sa("10.0.4.2:6000"),
        ("iiii", "jjjj"),
        2,
        true,
        false,
        5,
    );
    frames.extend(turn_allocation(T0, parties(), Some(403), 0, false));
    // Something 200 s later keeps the capture going past both idle timeouts.
    frames.extend(ice_session(
        T0 + 200 * SEC,
        sa("10.0.5.1:5000"),
        sa("10.0.5.2:6000"),
        ("kkkk", "llll"),
        1,
        true,
        false,
        1,
    ));
    frames.sort_by_key(|f| f.ts_ns);
    let r = replay(&write(&dir, "idle.pcap", &frames));
    let ended: Vec<_> = r
        .ice_sessions
        .iter()
        .map(|s| (s.ufrags[0].as_str(), s.ended_by))
        .collect();
    assert_eq!(ended, [("iiii", "idle"), ("kkkk", "end_of_capture")]);
    let a = &r.turn_allocations[0];
    assert_eq!((a.outcome, a.ended_by), ("failed", "idle"));
    assert_eq!(r.summary.ice_turn.ice.expired_idle, 1);
    assert_eq!(r.summary.ice_turn.turn.expired_idle, 1);
}
