//! "Must be shown" 3, without a capture: HEP v3 packets sent to loopback listeners, decoded by a
//! decoder written here from the HEP3 specification (<https://github.com/sipcapture/HEP>).
//! tests/hep_tshark.rs decodes them with tshark.
//!
//! * `hep_packets_over_udp_and_tcp_decode_to_the_file_sinks_records`: the quality reports of a
//!   replayed fixture, received over UDP and TCP, carry each record's addresses, ports,
//!   capture time and JSON.
//! * `rtcp_is_forwarded_once_whatever_the_worker_count`: with `rtcp = true`, the
//!   single-threaded replay and the pipeline with 1 and 3 workers forward the same RTCP
//!   datagrams (HEP type 5), each once: as many as the replay counted.

mod common;

use common::{read_records, TempDir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::Command;
use std::time::Duration;

/// One decoded HEP3 packet: chunk type → value (generic vendor only).
fn decode(b: &[u8]) -> Result<BTreeMap<u16, Vec<u8>>, String> {
    if b.get(..4) != Some(b"HEP3".as_slice()) {
        return Err("no HEP3 magic".into());
    }
    let total = usize::from(u16::from_be_bytes([b[4], b[5]]));
    if total != b.len() {
        return Err(format!("length {total} but {} bytes", b.len()));
    }
    let mut chunks = BTreeMap::new();
    let mut at = 6;
    while at < total {
        let h = b.get(at..at + 6).ok_or("torn chunk header")?;
        let vendor = u16::from_be_bytes([h[0], h[1]]);
        let kind = u16::from_be_bytes([h[2], h[3]]);
        let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
        let value = b.get(at + 6..at + len).ok_or("torn chunk")?;
        if vendor == 0 {
            chunks.insert(kind, value.to_vec());
        }
        at += len;
    }
    Ok(chunks)
}

fn u32_of(c: &BTreeMap<u16, Vec<u8>>, k: u16) -> u32 {
    let v = &c[&k];
    u32::from_be_bytes([v[0], v[1], v[2], v[3]])
}

fn u16_of(c: &BTreeMap<u16, Vec<u8>>, k: u16) -> u16 {
    let v = &c[&k];
    u16::from_be_bytes([v[0], v[1]])
}

fn ip_of(c: &BTreeMap<u16, Vec<u8>>, v4: u16, v6: u16) -> IpAddr {
    match c[&1][0] {
        2 => IpAddr::V4(Ipv4Addr::from(
            <[u8; 4]>::try_from(&c[&v4][..]).expect("4 bytes"),
        )),
        10 => IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(&c[&v6][..]).expect("16 bytes"),
        )),
        f => panic!("family {f}"),
    }
}

/// Compare decoded packets with the file sink's records.
fn check(packets: &[Vec<u8>], records: &[Value], via: &str) {
    assert_eq!(packets.len(), records.len(), "{via}: one packet per record");
    let by_id: BTreeMap<&str, &Value> = records
        .iter()
        .map(|r| (r["record_id"].as_str().expect("id"), r))
        .collect();
    for p in packets {
        let c = decode(p).unwrap_or_else(|e| panic!("{via}: {e}"));
        let id = std::str::from_utf8(&c[&0x11]).expect("correlation id");
        let r = by_id[id];
        let ip = |k: &str| r[k].as_str().expect("ip").parse::<IpAddr>().expect("ip");
        let port = |k: &str| r[k].as_u64().expect("port") as u16;
        assert_eq!(c[&2], [17], "{via}: UDP");
        assert_eq!(ip_of(&c, 3, 5), ip("src_ip"), "{via} {id}");
        assert_eq!(ip_of(&c, 4, 6), ip("dst_ip"), "{via} {id}");
        assert_eq!(u16_of(&c, 7), port("src_port"), "{via} {id}");
        assert_eq!(u16_of(&c, 8), port("dst_port"), "{via} {id}");
        let end_ns =
            rtcprobe::forward::record::parse_rfc3339(r["interval_end"].as_str().expect("end"))
                .expect("time");
        assert_eq!(
            i64::from(u32_of(&c, 9)),
            end_ns / 1_000_000_000,
            "{via} {id}: seconds"
        );
        assert_eq!(
            i64::from(u32_of(&c, 10)),
            end_ns % 1_000_000_000 / 1000,
            "{via} {id}: microseconds"
        );
        assert_eq!(c[&0x0b], [0x22], "{via}: report type");
        assert_eq!(u32_of(&c, 0x0c), 2001, "{via}: agent id");
        let payload: Value = serde_json::from_slice(&c[&0x0f]).expect("payload JSON");
        assert_eq!(&payload, r, "{via} {id}: payload");
        match r["jitter_ms"].as_f64() {
            Some(j) => assert_eq!(u32_of(&c, 0x23), j.round() as u32, "{via} {id}: jitter"),
            None => assert!(!c.contains_key(&0x23)),
        }
    }
}

#[test]
fn hep_packets_over_udp_and_tcp_decode_to_the_file_sinks_records() {
    let tmp = TempDir::new("hep");
    let dir = &tmp.0;
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    udp.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let tcp = TcpListener::bind("127.0.0.1:0").expect("tcp");
    let udp_at: SocketAddr = udp.local_addr().expect("addr");
    let tcp_at: SocketAddr = tcp.local_addr().expect("addr");
    let tcp_reader = std::thread::spawn(move || {
        // Bounded: the probe connects within the replay, or the test fails.
        tcp.set_nonblocking(true).expect("nonblocking");
        let (mut s, _) = common::wait_for("hep tcp connection", Duration::from_secs(60), || {
            tcp.accept().ok()
        });
        s.set_nonblocking(false).expect("blocking");
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
        all
    });
    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[records]\nhost = \"probe-hep\"\nstate_dir = \"{d}/state\"\n\
             [[sinks]]\ntype = \"hep\"\nname = \"udp\"\naddress = \"{udp_at}\"\nrtcp = false\n\
             [sinks.delivery]\nbatch_records = 4\nbatch_timeout_ms = 100\n\
             [[sinks]]\ntype = \"hep\"\nname = \"tcp\"\naddress = \"{tcp_at}\"\ntransport = \"tcp\"\nrtcp = false\n\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            file.display(),
            d = dir.display()
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args(["replay", "--format", "json", "--config"])
        .arg(&cfg)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/ndpi-google-meet-ipv6-webrtc.pcapng"
        ))
        .output()
        .expect("rtcprobe replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = read_records(&file);
    assert!(!records.is_empty());
    // The replay has exited, so every datagram is in the socket's queue.
    let mut datagrams = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while let Ok(n) = udp.recv(&mut buf) {
        datagrams.push(buf[..n].to_vec());
    }
    check(&datagrams, &records, "udp");
    // TCP: the probe closed its connection at exit; split the stream by the HEP3 lengths.
    let stream = tcp_reader.join().expect("tcp reader");
    let mut packets = Vec::new();
    let mut at = 0;
    while at + 6 <= stream.len() {
        let len = usize::from(u16::from_be_bytes([stream[at + 4], stream[at + 5]]));
        packets.push(stream[at..at + len].to_vec());
        at += len;
    }
    assert_eq!(at, stream.len(), "tcp stream ends on a packet boundary");
    check(&packets, &records, "tcp");
    let v6 = records
        .iter()
        .filter(|r| r["src_ip"].as_str().is_some_and(|s| s.contains(':')))
        .count();
    eprintln!(
        "hep: {} records, {} of them IPv6; {} UDP datagrams and {} TCP packets decoded equal",
        records.len(),
        v6,
        datagrams.len(),
        packets.len()
    );
}

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample-sfu.pcap");

/// Read a TCP connection to its end in a thread (bounded).
fn tcp_sink(l: TcpListener) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        l.set_nonblocking(true).expect("nonblocking");
        let (mut s, _) = common::wait_for("hep tcp connection", Duration::from_secs(60), || {
            l.accept().ok()
        });
        s.set_nonblocking(false).expect("blocking");
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
        all
    })
}

/// The type-5 packets of a TCP stream of HEP packets, as (seconds, µs, src, dst, payload).
fn rtcp_packets(stream: &[u8]) -> Vec<(u32, u32, SocketAddr, SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 6 <= stream.len() {
        let len = usize::from(u16::from_be_bytes([stream[at + 4], stream[at + 5]]));
        let c = decode(&stream[at..at + len]).expect("HEP3");
        at += len;
        if c[&0x0b] == [5] {
            let ep = |v4, v6, port| SocketAddr::new(ip_of(&c, v4, v6), u16_of(&c, port));
            out.push((
                u32_of(&c, 9),
                u32_of(&c, 10),
                ep(3, 5, 7),
                ep(4, 6, 8),
                c[&0x0f].clone(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn rtcp_is_forwarded_once_whatever_the_worker_count() {
    let tmp = TempDir::new("hep-workers");
    let dir = &tmp.0;
    let mut seen = Vec::new();
    for (mode, extra) in [
        ("single-threaded", &[][..]),
        ("1 worker", &["--workers", "1"][..]),
        ("3 workers", &["--workers", "3"][..]),
    ] {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("tcp");
        let at = tcp.local_addr().expect("addr");
        let reader = tcp_sink(tcp);
        let cfg = dir.join("rtcprobe.toml");
        std::fs::write(
            &cfg,
            format!(
                "[records]\nstate_dir = \"{}/state\"\n[[sinks]]\ntype = \"hep\"\n\
                 address = \"{at}\"\ntransport = \"tcp\"\nrtcp = true\n",
                dir.display()
            ),
        )
        .expect("config");
        let report = common::replay_report(&cfg, extra, std::path::Path::new(FIXTURE));
        let packets = rtcp_packets(&reader.join().expect("tcp reader"));
        let count = report["summary"]["counters"]["rtcp_packets"]
            .as_u64()
            .expect("count");
        assert_eq!(packets.len() as u64, count, "{mode}: one per RTCP datagram");
        eprintln!("hep: {mode}: {} RTCP datagrams forwarded", packets.len());
        seen.push((mode, packets));
    }
    for (mode, p) in &seen[1..] {
        assert!(*p == seen[0].1, "{mode} differs from {}", seen[0].0);
    }
}
