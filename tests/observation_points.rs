//! Issue 10, defect 1: a host that forwards media sees every packet twice (arriving on one
//! interface, leaving on another), and counted in one stream loss went to −90 %. Synthetic
//! captures of such a host (src/synth/forwarding.rs), as `tcpdump -i any` writes them with
//! libpcap ≥ 1.10 (SLL2: interface index) and older (SLL: direction only), and as a pcapng file
//! with one interface each (different link types and timestamp resolutions): every stream is
//! two streams, one per observation point, each with exact numbers, and nothing is counted twice.
//! Checked through the single-threaded replay and through the pipeline with several workers.

use rtcprobe::config::Resolved;
use rtcprobe::engine::record::StreamRecord;
use rtcprobe::synth::forwarding::{forward, Forwarded, Seen};
use rtcprobe::synth::scenario::{Impairments, RtcpSpec, Scenario, StreamSpec, MS};
use rtcprobe::synth::{Capture, Encap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("literal address")
}

/// A call through the router: caller → callee with 3 % loss before the router, and the
/// reverse direction clean; RTCP both ways.
fn call() -> Capture {
    let mut sc = Scenario::new(10);
    let mut a = StreamSpec::audio(sa("10.1.0.2:40000"), sa("10.2.0.2:50000"), 0xCA11_0001);
    a.encap = Encap::RawIp;
    a.count = 600;
    a.impair = Impairments {
        loss: 0.03,
        ..Default::default()
    };
    a.rtcp = Some(RtcpSpec::with_rtt(0xCA11_0002, 30 * MS));
    sc.add(a);
    let mut b = StreamSpec::audio(sa("10.2.0.2:50000"), sa("10.1.0.2:40000"), 0xCA11_0002);
    b.encap = Encap::RawIp;
    b.count = 600;
    b.rtcp = Some(RtcpSpec::with_rtt(0xCA11_0001, 30 * MS));
    sc.add(b);
    sc.build()
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write(f: &Forwarded, name: &str) -> TempFile {
    let path = std::env::temp_dir().join(format!("rtcprobe-obs-{}-{name}", std::process::id()));
    let file = std::fs::File::create(&path).expect("temp file");
    f.write(std::io::BufWriter::new(file))
        .expect("write capture");
    TempFile(path)
}

/// Every base stream is two streams, named `ingress` and `egress`, with the base truth at
/// ingress and the loss inside the host added at egress.
fn check(base: &Capture, f: &Forwarded, streams: &[StreamRecord], ingress: &str, egress: &str) {
    assert_eq!(streams.len(), 2 * base.truth.streams.len(), "{streams:#?}");
    for (i, t) in base.truth.streams.iter().enumerate() {
        let inside = f.lost_inside[i];
        for (point, packets, lost) in [
            (ingress, t.packets, t.lost),
            (egress, t.packets - inside, t.lost + inside as i64),
        ] {
            let s = streams
                .iter()
                .find(|s| s.ssrc == t.ssrc && s.src == t.src.to_string() && s.observed_at == point)
                .unwrap_or_else(|| panic!("{:x} at {point}: not found in {streams:#?}", t.ssrc));
            assert_eq!(
                (s.packets, s.expected, s.lost, s.duplicates),
                (packets, t.expected, lost, 0),
                "{:x} at {point}",
                t.ssrc
            );
            // The SR of each copy went to the stream seen at the same point, once.
            assert!(s.sender.is_some_and(|x| x.sender_reports > 0), "{s:#?}");
        }
    }
    // The caller's stream lost something before the router and something inside it.
    assert!(base.truth.streams[0].lost > 0 && f.lost_inside[0] > 0);
}

fn replay(path: &std::path::Path) -> Vec<StreamRecord> {
    rtcprobe::replay::replay_file(path, &Resolved::default())
        .expect("replay")
        .streams
}

/// `rtcprobe replay --workers 3 --format json`: the pipeline path.
fn replay_workers(path: &std::path::Path) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args(["replay", "--workers", "3", "--format", "json"])
        .arg(path)
        .output()
        .expect("run rtcprobe");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["streams"].as_array().expect("streams").clone()
}

fn same_as_single_threaded(single: &[StreamRecord], piped: &[serde_json::Value]) {
    let key = |ssrc: u64, at: &str, packets: u64, lost: i64| (ssrc, at.to_string(), packets, lost);
    let mut a: Vec<_> = single
        .iter()
        .map(|s| key(u64::from(s.ssrc), &s.observed_at, s.packets, s.lost))
        .collect();
    let mut b: Vec<_> = piped
        .iter()
        .map(|s| {
            key(
                s["ssrc"].as_u64().unwrap(),
                s["observed_at"].as_str().unwrap(),
                s["packets"].as_u64().unwrap(),
                s["lost"].as_i64().unwrap(),
            )
        })
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn any_with_sll2_names_each_interface() {
    let base = call();
    let f = forward(
        &base,
        Seen::Sll2 {
            ingress: 2,
            egress: 3,
        },
        MS,
        25,
    );
    let file = write(&f, "sll2.pcap");
    let streams = replay(&file.0);
    check(&base, &f, &streams, "if2", "if3");
    same_as_single_threaded(&streams, &replay_workers(&file.0));
}

#[test]
fn any_with_sll_v1_tells_the_copies_apart_by_direction() {
    let base = call();
    let f = forward(&base, Seen::Sll, 2 * MS, 30);
    let file = write(&f, "sll.pcap");
    let streams = replay(&file.0);
    check(&base, &f, &streams, "capture:in", "capture:out");
}

#[test]
fn the_table_shows_where_each_stream_was_seen() {
    let base = call();
    let f = forward(
        &base,
        Seen::Sll2 {
            ingress: 2,
            egress: 3,
        },
        MS,
        25,
    );
    let file = write(&f, "table.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .arg("replay")
        .arg(&file.0)
        .output()
        .expect("run rtcprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().nth(1).expect("header line");
    assert!(header.contains(" At "), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.contains("  if3  ")).count(),
        2,
        "{text}"
    );
    // A capture with one point has no such column.
    let single = std::env::temp_dir().join(format!("rtcprobe-obs-{}-one.pcap", std::process::id()));
    let single = TempFile(single);
    base.write_pcap(
        std::fs::File::create(&single.0).unwrap(),
        rtcprobe::synth::TsResolution::Nano,
        rtcprobe::synth::DEFAULT_SNAPLEN,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .arg("replay")
        .arg(&single.0)
        .output()
        .expect("run rtcprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.lines().nth(1).unwrap_or("").contains(" At "),
        "{text}"
    );
}

#[test]
fn pcapng_with_two_interfaces_of_different_link_types() {
    // libpcap refuses this file (Ethernet and raw IP interfaces); the egress interface counts
    // microseconds (if_tsresol 6), the ingress one nanoseconds.
    let base = call();
    let delay = MS + 1234; // not a whole number of µs: the egress copy is read back floored
    let f = forward(&base, Seen::Interfaces, delay, 20);
    let file = write(&f, "two.pcapng");
    let streams = replay(&file.0);
    check(&base, &f, &streams, "eth0", "eth1");
    same_as_single_threaded(&streams, &replay_workers(&file.0));
    for (i, t) in base.truth.streams.iter().enumerate() {
        let first = base
            .frames
            .iter()
            .find(|fr| fr.kind == rtcprobe::synth::FrameKind::Rtp { stream: i })
            .expect("first packet")
            .ts_ns;
        let at = |p: &str| {
            streams
                .iter()
                .find(|s| s.ssrc == t.ssrc && s.observed_at == p)
                .expect("stream")
                .first_seen_ns
        };
        assert_eq!(at("eth0"), first);
        assert_eq!(at("eth1"), (first + delay) / 1_000 * 1_000);
    }
}

#[test]
fn tshark_reads_the_interfaces_the_same_way() {
    let Ok(out) = Command::new("tshark").arg("-v").output() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tshark is required in CI (scripts/setup-test)"
        );
        eprintln!("skipped: tshark not installed");
        return;
    };
    assert!(out.status.success());
    let base = call();
    let f = forward(&base, Seen::Interfaces, MS, 20);
    let file = write(&f, "tshark.pcapng");
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file.0)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.interface_id",
            "-e",
            "frame.interface_name",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), f.frames.len());
    for (line, (iface, _)) in lines.iter().zip(&f.frames) {
        let want = if *iface == 0 { "0\teth0" } else { "1\teth1" };
        assert_eq!(*line, want);
    }
}
