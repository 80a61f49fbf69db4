//! "Must be shown" 3: HEP packets sent to a loopback port are captured and decoded by tshark
//! with the right addresses, ports, timestamps and payload.
//!
//! A fixture is replayed with two `hep` sinks (`rtcp = true`; UDP and TCP) while dumpcap
//! captures `lo`; tshark then decodes the capture with tools/wireshark/hep3.lua (tshark 4.0 has
//! no HEP dissector of its own; the Lua one hands payloads to tshark's RTCP and JSON
//! dissectors). Every RTCP datagram rtcprobe counted arrives once (HEP type 5), with the
//! fixture frame's addresses, ports, time (µs) and bytes, and tshark decodes it to the RTCP
//! fields it decodes in the fixture; every record arrives as a report (type 0x22) that tshark
//! decodes as JSON with the record's ID and addresses; TCP carries the same packets as UDP.
//! Needs root (dumpcap on `lo`) and tshark: skips outside CI, fails under CI=true.

mod common;

use common::{read_records, TempDir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::process::Command;
use std::time::Duration;

/// Root (CAP_NET_RAW, for dumpcap) or skip, except under CI.
fn root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "the HEP capture test must run under CI: run it as root"
        );
        eprintln!("skipped: capturing on lo needs root (CAP_NET_RAW)");
    }
    root
}

/// The replayed capture: a WebRTC SFU's (RTCP, Opus, VP8) merged with a SIP call's G.711 A-law
/// stream (whose records carry an E-model MOS and R-factor).
const FIXTURES: [&str; 2] = [
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample-sfu.pcap"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sipp-g711a.pcap"),
];

/// [`FIXTURES`] merged into one file by mergecap (Wireshark's; both are Ethernet), as
/// nanosecond pcap: libpcap refuses a pcapng whose interfaces have different snap lengths.
fn merged(dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("fixture.pcap");
    let st = Command::new("mergecap")
        .args(["-F", "nsecpcap", "-w"])
        .arg(&out)
        .args(FIXTURES)
        .status()
        .expect("mergecap");
    assert!(st.success(), "mergecap: {st}");
    out
}
const LUA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/wireshark/hep3.lua");

/// `tshark ARGS -T fields`, one row per frame, one column per `-e`.
fn tshark(args: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(args).args(["-T", "fields", "-E", "separator=/t"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark");
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// A fixture frame's `ip:port` (the last IP header: the one the UDP is in).
fn endpoint(ip4: &str, ip6: &str, port: &str) -> String {
    match (ip4.rsplit(',').next(), ip6.rsplit(',').next()) {
        (Some(a), _) if !a.is_empty() => format!("{a}:{port}"),
        (_, Some(a)) => format!("[{a}]:{port}"),
        _ => panic!("no address"),
    }
}

/// The RTCP fields compared between the fixture and the HEP payload.
const RTCP_FIELDS: [&str; 4] = [
    "rtcp.pt",
    "rtcp.senderssrc",
    "rtcp.timestamp.ntp.msw",
    "rtcp.timestamp.ntp.lsw",
];

/// A capture of `lo` by dumpcap; stopped with SIGINT so that the file is complete.
struct Dumpcap(common::Proc);

impl Dumpcap {
    fn start(filter: &str, out: &std::path::Path) -> Dumpcap {
        let mut child = Command::new("dumpcap")
            .args(["-i", "lo", "-q", "-f", filter, "-w"])
            .arg(out)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("dumpcap");
        let mut err = child.stderr.take().expect("stderr");
        let p = Dumpcap(common::Proc(child));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut b = [0u8; 256];
            while let Ok(n @ 1..) = err.read(&mut b) {
                all.extend_from_slice(&b[..n]);
                if String::from_utf8_lossy(&all).contains("Capturing on") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("dumpcap says it is capturing");
        p
    }

    fn stop(mut self) {
        let pid = i32::try_from(self.0 .0.id()).expect("pid");
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe { libc::kill(pid, libc::SIGINT) };
        common::wait_for("dumpcap exits", Duration::from_secs(20), || {
            self.0 .0.try_wait().ok().flatten()
        });
    }
}

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

#[test]
fn captured_hep_decodes_in_tshark_like_the_fixture() {
    if !(common::have("/usr/bin/tshark", "tshark")
        && common::have("/usr/bin/dumpcap", "tshark")
        && root())
    {
        return;
    }
    let tmp = TempDir::new("hep-tshark");
    let dir = &tmp.0;
    // The collector ports: a UDP socket nobody reads (the capture is what is checked) and a
    // TCP listener read to its end.
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let tcp = TcpListener::bind("127.0.0.1:0").expect("tcp");
    let (u, t) = (
        udp.local_addr().expect("addr").port(),
        tcp.local_addr().expect("addr").port(),
    );
    let reader = tcp_sink(tcp);
    let file = dir.join("records.ndjson");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        format!(
            "[records]\nhost = \"probe-hep\"\nstate_dir = \"{d}/state\"\n\
             [[sinks]]\ntype = \"hep\"\nname = \"udp\"\naddress = \"127.0.0.1:{u}\"\nrtcp = true\n\
             password = \"secret\"\n[sinks.delivery]\nbatch_timeout_ms = 100\n\
             [[sinks]]\ntype = \"hep\"\nname = \"tcp\"\naddress = \"127.0.0.1:{t}\"\n\
             transport = \"tcp\"\nrtcp = true\n[sinks.delivery]\nbatch_timeout_ms = 100\n\
             [[sinks]]\ntype = \"file\"\npath = \"{}\"\n",
            file.display(),
            d = dir.display()
        ),
    )
    .expect("config");
    let pcap = dir.join("hep.pcapng");
    let cap = Dumpcap::start(&format!("udp port {u} or tcp port {t}"), &pcap);
    let fixture = merged(dir);
    let report = common::replay_report(&cfg, &[], &fixture);
    let fixture = fixture.to_str().expect("path");
    // The replay has delivered everything before exiting; let the capture see the last ones.
    std::thread::sleep(Duration::from_millis(500));
    cap.stop();
    let stream = reader.join().expect("tcp reader");
    drop(udp);
    let rtcp_count = report["summary"]["counters"]["rtcp_packets"]
        .as_u64()
        .expect("count");
    let records = read_records(&file);
    let pcap = pcap.to_str().expect("path");
    let (du, dt) = (format!("udp.port=={u},hep3"), format!("tcp.port=={t},hep3"));
    let lua = format!("lua_script:{LUA}");
    let hep_args = ["-X", &lua, "-d", &du, "-d", &dt, "-r", pcap];

    // The fixture as tshark sees it: every UDP datagram by (time in µs, src, dst).
    let mut fields = vec![
        "frame.time_epoch",
        "ip.src",
        "ipv6.src",
        "ip.dst",
        "ipv6.dst",
        "udp.srcport",
        "udp.dstport",
        "udp.payload",
        "frame.protocols",
    ];
    fields.extend(RTCP_FIELDS);
    let fixture = tshark(
        &["-r", fixture, "-o", "rtcp.heuristic_rtcp:TRUE", "-Y", "udp"],
        &fields,
    );
    type Key = (String, String, String);
    let mut frames: BTreeMap<Key, Vec<Vec<String>>> = BTreeMap::new();
    let mut fixture_rtcp = 0;
    for f in &fixture {
        let (sec, frac) = f[0].split_once('.').expect("epoch");
        let usec = frac[..6].trim_start_matches('0');
        let time = format!("{sec}.{}", if usec.is_empty() { "0" } else { usec });
        let key = (
            time,
            endpoint(&f[1], &f[2], &f[5]),
            endpoint(&f[3], &f[4], &f[6]),
        );
        fixture_rtcp += usize::from(!f[9].is_empty());
        frames.entry(key).or_default().push(f.clone());
    }

    // Type 5 over UDP: one per RTCP datagram, each equal to a fixture frame.
    let mut fields = vec![
        "hep3.ts_sec",
        "hep3.ts_usec",
        "hep3.src",
        "hep3.dst",
        "hep3.payload",
        "hep3.ip_proto",
        "hep3.agent_id",
        "hep3.auth_key",
    ];
    fields.extend(RTCP_FIELDS);
    let rtcp = tshark(
        &[&hep_args[..], &["-Y", "udp && hep3.proto_type == 5"]].concat(),
        &fields,
    );
    assert_eq!(
        rtcp.len() as u64,
        rtcp_count,
        "one HEP packet per RTCP datagram"
    );
    let (mut exact, mut in_turn, mut decoded) = (0, 0, 0);
    let mut matched_rtcp = 0;
    for h in &rtcp {
        let key = (format!("{}.{}", h[0], h[1]), h[2].clone(), h[3].clone());
        assert_eq!((&h[5][..], &h[6][..], &h[7][..]), ("17", "2001", "secret"));
        // Datagrams with the same addresses in the same µs are told apart by their bytes:
        // equal, or (RTCP inside TURN ChannelData or a Send/Data indication) inside.
        let payload = hex(&h[4]);
        let same = frames.get_mut(&key).map(std::mem::take).unwrap_or_default();
        let (mut hit, mut rest): (Vec<_>, Vec<_>) =
            same.into_iter().partition(|f| hex(&f[7]) == payload);
        if hit.is_empty() {
            let (turn, other): (Vec<_>, Vec<_>) = rest.into_iter().partition(|f| {
                f[8].contains(":stun") && hex(&f[7]).windows(payload.len()).any(|w| w == payload)
            });
            (hit, rest) = (turn, other);
            in_turn += usize::from(!hit.is_empty());
        } else {
            exact += 1;
        }
        let f = hit
            .pop()
            .unwrap_or_else(|| panic!("no fixture datagram at {key:?} with these bytes"));
        rest.extend(hit);
        frames.insert(key.clone(), rest);
        if !f[9].is_empty() {
            matched_rtcp += 1;
            assert_eq!(h[8..], f[9..], "{key:?}: tshark's RTCP fields");
            decoded += usize::from(!h[8].is_empty());
        }
    }
    assert_eq!(
        matched_rtcp, fixture_rtcp,
        "every RTCP frame tshark sees was forwarded"
    );
    assert!(exact > 0 && decoded > 0);

    // Reports (0x22) over UDP, decoded by tshark's JSON dissector: one per record.
    let reports = tshark(
        &[&hep_args[..], &["-Y", "udp && hep3.proto_type == 0x22"]].concat(),
        &[
            "hep3.src",
            "hep3.dst",
            "hep3.correlation_id",
            "json.member_with_value",
            "hep3.mos",
            "hep3.r_factor",
        ],
    );
    let mut with_mos = 0;
    assert_eq!(reports.len(), records.len(), "one report per record");
    let by_id: BTreeMap<&str, &Value> = records
        .iter()
        .map(|r| (r["record_id"].as_str().expect("id"), r))
        .collect();
    for h in &reports {
        let members: BTreeMap<&str, &str> =
            h[3].split(',').filter_map(|m| m.split_once(':')).collect();
        let r = by_id[h[2].as_str()];
        assert_eq!(members["record_id"], h[2]);
        let ep = |ip: &str, port: &str| {
            let ip: IpAddr = members[ip].parse().expect("ip");
            SocketAddr::new(ip, members[port].parse().expect("port")).to_string()
        };
        assert_eq!(ep("src_ip", "src_port"), h[0]);
        assert_eq!(ep("dst_ip", "dst_port"), h[1]);
        assert_eq!(members["src_ip"], r["src_ip"].as_str().expect("ip"));
        assert_eq!(
            members["interval_end"],
            r["interval_end"].as_str().expect("end")
        );
        // MOS and R-factor chunks in hundredths exactly when the record has the estimate. HEP's
        // R-factor is on the narrowband 0-100 scale: a wideband R (G.107.1, 0-129) is sent
        // divided by 1.29.
        let scale = if r["emodel_scale"].as_str() == Some("wb") {
            1.29
        } else {
            1.0
        };
        let hundredths = |k: &str| {
            r[k].as_f64()
                .map(|v| {
                    let v = if k == "r_factor" { v / scale } else { v };
                    format!("{}", (v * 100.0).round() as u64)
                })
                .unwrap_or_default()
        };
        assert_eq!(
            (&h[4][..], &h[5][..]),
            (&hundredths("mos")[..], &hundredths("r_factor")[..])
        );
        with_mos += usize::from(!h[4].is_empty());
    }
    assert!(with_mos > 0, "the G.711 stream's reports carry a MOS");

    // TCP: the same packets, reassembled by the dissector (several per segment).
    let all = |filter: &str| {
        let cols = [
            "hep3.proto_type",
            "hep3.src",
            "hep3.dst",
            "hep3.ts_sec",
            "hep3.ts_usec",
        ];
        let mut rows: Vec<String> = Vec::new();
        for r in tshark(&[&hep_args[..], &["-Y", filter]].concat(), &cols) {
            let lists: Vec<Vec<&str>> = r.iter().map(|c| c.split(',').collect()).collect();
            for i in 0..lists[0].len() {
                rows.push(lists.iter().map(|l| l[i]).collect::<Vec<_>>().join(" "));
            }
        }
        rows.sort();
        rows
    };
    let (over_udp, over_tcp) = (all("udp && hep3"), all("tcp && hep3"));
    assert_eq!(over_udp.len(), rtcp.len() + reports.len());
    assert_eq!(over_tcp, over_udp, "TCP carries what UDP carries");
    let mut at = 0;
    while at + 6 <= stream.len() {
        at += usize::from(u16::from_be_bytes([stream[at + 4], stream[at + 5]]));
    }
    assert_eq!(at, stream.len(), "the TCP stream ends on a packet boundary");
    eprintln!(
        "hep/tshark: {} RTCP datagrams counted, {} HEP type-5 packets ({exact} bytes equal to the \
         fixture's UDP payload, {in_turn} inside TURN), {matched_rtcp} of them RTCP to tshark in \
         the fixture with equal fields; {} reports as JSON; {} packets over TCP",
        rtcp_count,
        rtcp.len(),
        reports.len(),
        over_tcp.len()
    );
}
