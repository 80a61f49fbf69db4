//! The `hep` sink: stream quality reports, and with `rtcp = true` every RTCP datagram, to
//! Homer (or any HEP collector) as HEP v3 / EEP packets (<https://github.com/sipcapture/HEP>,
//! "HEP3 Network Protocol Specification"), over UDP (one datagram per packet) or TCP (one
//! connection, packets back to back).
//!
//! ```text
//!  0       4       6                       HEP3 header: "HEP3", total length (header included)
//!  +-------+-------+----------------------
//!  |"HEP3" | len   | chunk | chunk | …     chunk: vendor id (0 = generic), type, length
//!  +-------+-------+----------------------        (6-byte chunk header included), value
//! ```
//!
//! Chunks written (generic vendor 0x0000; integers big-endian): 0x0001 IP family (2 IPv4,
//! 10 IPv6), 0x0002 IP protocol (17 UDP), 0x0003/0x0004 IPv4 or 0x0005/0x0006 IPv6 source and
//! destination, 0x0007/0x0008 ports, 0x0009 seconds and 0x000a microseconds of the timestamp,
//! 0x000b protocol type, 0x000c capture agent ID, 0x000e authentication key (when `password`
//! is set), 0x000f payload, 0x0011 correlation ID, 0x0023 jitter. MOS (0x0020) and R-factor
//! (0x0021), in hundredths, are written when the record has its E-model estimate (docs/records.md,
//! *Quality estimate*: G.711, G.729 and G.723.1 streams) and left out otherwise.
//!
//! * A report is protocol type 0x22 ("MOS full report", JSON, in the HEP3 protocol type list)
//!   with the record's JSON (docs/records.md) as payload, the stream's addresses,
//!   `interval_end` as its time and the record ID as correlation ID.
//! * An RTCP datagram (`rtcp = true`, lines from [`super::tap`]) is protocol type 5 with the
//!   datagram's addresses and ports, its capture time (µs) and its RTCP bytes exactly as
//!   captured (a whole compound, or SRTCP as it was) as payload; no correlation ID (the probe
//!   does not know the call's). Caveat: the HEP3 list names type 5 "RTCP JSON", and Homer's
//!   heplify-server expects capture agents' RTCP converted to JSON there, so it may not
//!   store or show raw RTCP; Wireshark with tools/wireshark/hep3.lua decodes it with its own
//!   RTCP dissector (docs/central-store.md).
//!
//! The sink's counters count RTCP datagrams as records (both are buffer lines).

use super::delivery::{Outcome, Service};
use super::record::Record;
use super::tap::{self, Tapped};
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

/// HEP protocol type of a stream quality report ("MOS full report", JSON).
pub const PROTO_REPORT: u8 = 0x22;
/// HEP protocol type of RTCP ("RTCP JSON" in the HEP3 list).
pub const PROTO_RTCP: u8 = 0x05;

/// What one HEP packet carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// Capture time, ns since the epoch.
    pub time_ns: i64,
    pub proto_type: u8,
    pub agent_id: u32,
    pub password: Option<&'a str>,
    pub correlation_id: Option<&'a str>,
    /// MOS × 100 (0x0020), R-factor × 100 (0x0021), jitter in ms (0x0023), when known.
    pub mos: Option<u16>,
    pub r_factor: Option<u16>,
    pub jitter_ms: Option<u32>,
    pub payload: &'a [u8],
}

/// Encode one HEP v3 packet. `None` when it would not fit HEP's 16-bit length.
pub fn encode(p: &Packet) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(128 + p.payload.len());
    out.extend_from_slice(b"HEP3\0\0");
    let family: u8 = if p.src.is_ipv4() && p.dst.is_ipv4() {
        2
    } else {
        10
    };
    chunk(&mut out, 0x0001, &[family]);
    chunk(&mut out, 0x0002, &[17]);
    match (p.src.ip(), p.dst.ip(), family) {
        (IpAddr::V4(s), IpAddr::V4(d), 2) => {
            chunk(&mut out, 0x0003, &s.octets());
            chunk(&mut out, 0x0004, &d.octets());
        }
        (s, d, _) => {
            chunk(&mut out, 0x0005, &v6(s).octets());
            chunk(&mut out, 0x0006, &v6(d).octets());
        }
    }
    chunk(&mut out, 0x0007, &p.src.port().to_be_bytes());
    chunk(&mut out, 0x0008, &p.dst.port().to_be_bytes());
    let secs = u32::try_from(p.time_ns.div_euclid(1_000_000_000)).unwrap_or(0);
    let usecs = u32::try_from(p.time_ns.rem_euclid(1_000_000_000) / 1000).unwrap_or(0);
    chunk(&mut out, 0x0009, &secs.to_be_bytes());
    chunk(&mut out, 0x000a, &usecs.to_be_bytes());
    chunk(&mut out, 0x000b, &[p.proto_type]);
    chunk(&mut out, 0x000c, &p.agent_id.to_be_bytes());
    if let Some(k) = p.password {
        chunk(&mut out, 0x000e, k.as_bytes());
    }
    if let Some(c) = p.correlation_id {
        chunk(&mut out, 0x0011, c.as_bytes());
    }
    if let Some(m) = p.mos {
        chunk(&mut out, 0x0020, &m.to_be_bytes());
    }
    if let Some(r) = p.r_factor {
        chunk(&mut out, 0x0021, &r.to_be_bytes());
    }
    if let Some(j) = p.jitter_ms {
        chunk(&mut out, 0x0023, &j.to_be_bytes());
    }
    chunk(&mut out, 0x000f, p.payload);
    let len = u16::try_from(out.len()).ok()?;
    out.splice(4..6, len.to_be_bytes());
    Some(out)
}

fn v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

fn chunk(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    // Values longer than a chunk can say are cut; encode() then fails on the total length.
    let len = u16::try_from(value.len() + 6).unwrap_or(u16::MAX);
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
}

/// The HEP packet of one tapped RTCP datagram.
pub fn rtcp(t: &Tapped, agent_id: u32, password: Option<&str>) -> Option<Vec<u8>> {
    encode(&Packet {
        src: t.src,
        dst: t.dst,
        time_ns: t.time_ns,
        proto_type: PROTO_RTCP,
        agent_id,
        password,
        correlation_id: None,
        mos: None,
        r_factor: None,
        jitter_ms: None,
        payload: &t.rtcp,
    })
}

/// The quality report of one record (`line` is its JSON, sent as the payload).
pub fn report(r: &Record, line: &[u8], agent_id: u32, password: Option<&str>) -> Option<Vec<u8>> {
    let addr = |ip: &str, port: u16| ip.parse::<IpAddr>().ok().map(|a| SocketAddr::new(a, port));
    encode(&Packet {
        src: addr(&r.src_ip, r.src_port)?,
        dst: addr(&r.dst_ip, r.dst_port)?,
        time_ns: r.interval_end_ns(),
        proto_type: PROTO_REPORT,
        agent_id,
        password,
        correlation_id: Some(&r.record_id),
        mos: r.mos.and_then(hundredths),
        // HEP's R-factor chunk is read on G.107's 0–100 scale: a wideband R (G.107.1, 0–129)
        // goes over as its narrowband equivalent, R / 1.29 (G.107.1 Annex A).
        r_factor: r
            .r_factor
            .map(|v| match r.emodel_scale.as_deref() {
                Some("wb") => v / crate::engine::emodel::WB_SCALE,
                _ => v,
            })
            .and_then(hundredths),
        jitter_ms: r
            .jitter_ms
            .filter(|j| j.is_finite() && *j >= 0.0)
            .map(|j| j.round().min(f64::from(u32::MAX)) as u32),
        payload: line,
    })
}

/// A MOS or R-factor as the u16 hundredths its HEP chunk holds.
fn hundredths(v: f64) -> Option<u16> {
    (v.is_finite() && v >= 0.0).then(|| (v * 100.0).round().min(f64::from(u16::MAX)) as u16)
}

/// UDP or TCP transport to one collector.
pub struct Hep {
    address: SocketAddr,
    tcp: bool,
    agent_id: u32,
    password: Option<String>,
    udp: Option<UdpSocket>,
    stream: Option<TcpStream>,
}

impl Hep {
    pub fn new(address: SocketAddr, tcp: bool, agent_id: u32, password: Option<String>) -> Hep {
        Hep {
            address,
            tcp,
            agent_id,
            password,
            udp: None,
            stream: None,
        }
    }

    fn send_one(&mut self, pkt: &[u8]) -> std::io::Result<()> {
        if self.tcp {
            if self.stream.is_none() {
                let s = TcpStream::connect_timeout(&self.address, Duration::from_secs(5))?;
                s.set_write_timeout(Some(Duration::from_secs(10)))?;
                self.stream = Some(s);
            }
            let res = match &mut self.stream {
                Some(s) => s.write_all(pkt),
                None => Ok(()),
            };
            if res.is_err() {
                self.stream = None;
            }
            res
        } else {
            if self.udp.is_none() {
                let local: SocketAddr = if self.address.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                self.udp = Some(UdpSocket::bind(local)?);
            }
            match &self.udp {
                Some(u) => u.send_to(pkt, self.address).map(|_| ()),
                None => Ok(()),
            }
        }
    }
}

impl Service for Hep {
    /// A batch is sent packet by packet; a failure part-way retries the whole batch (the
    /// collector sees the first packets again: at-least-once, `correlation_id` = record ID).
    fn send(&mut self, batch: &[u8], _records: u64) -> Outcome {
        for line in batch.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let pkt = if line.starts_with(tap::MARK) {
                let Some(t) = tap::parse(line) else {
                    tracing::warn!("hep: damaged RTCP line in the buffer, skipped");
                    continue;
                };
                let Some(pkt) = rtcp(&t, self.agent_id, self.password.as_deref()) else {
                    tracing::warn!(src = %t.src, "hep: RTCP datagram does not fit a HEP packet");
                    continue;
                };
                pkt
            } else {
                let Ok(r) = serde_json::from_slice::<Record>(line) else {
                    continue;
                };
                let Some(pkt) = report(&r, line, self.agent_id, self.password.as_deref()) else {
                    tracing::warn!(record = %r.record_id, "hep: record does not fit a HEP packet");
                    continue;
                };
                pkt
            };
            if let Err(e) = self.send_one(&pkt) {
                return Outcome::Retry(format!("hep to {}: {e}", self.address));
            }
        }
        Outcome::Sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_an_ipv4_report_chunk_by_chunk() {
        let p = Packet {
            src: "10.0.0.1:5004".parse().expect("addr"),
            dst: "10.0.0.2:6000".parse().expect("addr"),
            time_ns: 1_700_000_000_123_456_789,
            proto_type: PROTO_REPORT,
            agent_id: 2001,
            password: None,
            correlation_id: None,
            mos: None,
            r_factor: None,
            jitter_ms: Some(7),
            payload: b"{}",
        };
        let b = encode(&p).expect("fits");
        let mut want = b"HEP3".to_vec();
        want.extend_from_slice(&[0, 0]); // length, checked below
        for (kind, value) in [
            (1u16, vec![2u8]),      // IPv4
            (2, vec![17]),          // UDP
            (3, vec![10, 0, 0, 1]), // source
            (4, vec![10, 0, 0, 2]), // destination
            (7, 5004u16.to_be_bytes().to_vec()),
            (8, 6000u16.to_be_bytes().to_vec()),
            (9, 1_700_000_000u32.to_be_bytes().to_vec()),
            (10, 123_456u32.to_be_bytes().to_vec()), // µs, truncated
            (11, vec![0x22]),
            (12, 2001u32.to_be_bytes().to_vec()),
            (0x23, 7u32.to_be_bytes().to_vec()),
            (15, b"{}".to_vec()),
        ] {
            want.extend_from_slice(&[0, 0]);
            want.extend_from_slice(&kind.to_be_bytes());
            want.extend_from_slice(&(value.len() as u16 + 6).to_be_bytes());
            want.extend_from_slice(&value);
        }
        let len = want.len() as u16;
        want[4..6].copy_from_slice(&len.to_be_bytes());
        assert_eq!(b, want);
    }

    #[test]
    fn rtcp_lines_are_sent_as_type_5_with_the_captured_bytes() {
        let collector = UdpSocket::bind("127.0.0.1:0").expect("udp");
        collector
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut hep = Hep::new(
            collector.local_addr().expect("addr"),
            false,
            7,
            Some("k".into()),
        );
        // RTCP RR without report blocks: V=2 PT=201 length=1, SSRC 0xdeadbeef.
        let rr = [0x80, 0xc9, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef];
        let (src, dst) = (
            "10.0.0.1:5005".parse().expect("addr"),
            "10.0.0.2:7079".parse().expect("addr"),
        );
        let mut batch = tap::line(1_700_000_000_000_001_999, src, dst, &rr);
        batch.extend_from_slice(b"\n#rtcp1 damaged\n");
        batch.extend_from_slice(&tap::line(5_000, dst, src, &rr[..4]));
        batch.push(b'\n');
        assert_eq!(hep.send(&batch, 3), Outcome::Sent);
        let mut buf = [0u8; 2048];
        let n = collector.recv(&mut buf).expect("first datagram");
        let want = Packet {
            src,
            dst,
            time_ns: 1_700_000_000_000_001_999,
            proto_type: PROTO_RTCP,
            agent_id: 7,
            password: Some("k"),
            correlation_id: None,
            mos: None,
            r_factor: None,
            jitter_ms: None,
            payload: &rr,
        };
        assert_eq!(buf.get(..n), encode(&want).as_deref());
        // The damaged line is skipped; the next datagram is the third line.
        let n = collector.recv(&mut buf).expect("second datagram");
        let second = Packet {
            src: dst,
            dst: src,
            time_ns: 5_000,
            payload: &rr[..4],
            ..want
        };
        assert_eq!(buf.get(..n), encode(&second).as_deref());
    }

    #[test]
    fn too_large_payloads_are_refused() {
        let big = vec![0u8; 70_000];
        let p = Packet {
            src: "[2001:db8::1]:1".parse().expect("addr"),
            dst: "[2001:db8::2]:2".parse().expect("addr"),
            time_ns: 0,
            proto_type: PROTO_RTCP,
            agent_id: 1,
            password: Some("k"),
            correlation_id: None,
            mos: None,
            r_factor: None,
            jitter_ms: None,
            payload: &big,
        };
        assert_eq!(encode(&p), None);
    }

    /// The chunks of `pkt` by type (generic vendor only), for the tests.
    fn chunks(pkt: &[u8]) -> std::collections::BTreeMap<u16, Vec<u8>> {
        let mut out = std::collections::BTreeMap::new();
        let mut rest = pkt.get(6..).unwrap_or_default();
        while let [_, _, t0, t1, l0, l1, ..] = *rest {
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            let value = rest.get(6..len).expect("chunk fits");
            out.insert(u16::from_be_bytes([t0, t1]), value.to_vec());
            rest = rest.get(len..).unwrap_or_default();
        }
        out
    }

    #[test]
    fn reports_carry_the_records_e_model_estimate_in_hundredths() {
        // A final record of fixtures/sipp-g711a.pcap (clean PCMA: R 93.2, MOS 4.41).
        let line = br#"{"schema_version":1,"record_id":"eaf087f2a42664877f04fd21e637f0ac","host":"vm","kind":"final","ended_by":"end_of_capture","interval_start":"2002-07-26T06:19:03.268118Z","interval_end":"2002-07-26T06:19:10.317746Z","first_seen":"2002-07-26T06:19:03.268118Z","last_seen":"2002-07-26T06:19:10.317746Z","src_ip":"10.1.3.143","src_port":5000,"dst_ip":"10.1.6.18","dst_port":2006,"protocol":"udp","ssrc":3739283087,"cname":null,"payload_type":8,"clock_rate":8000,"packets":236,"bytes":59472,"expected":236,"lost":0,"duplicates":0,"reordered":0,"interval_packets":236,"interval_bytes":59472,"interval_expected":236,"interval_lost":0,"loss_upstream":null,"loss_downstream":null,"remote_fraction_lost":null,"remote_jitter_ms":null,"jitter_ms":0.3651648321347698,"max_jitter_ms":0.8286756906194814,"rtt_capture_point_ms":null,"rtt_end_to_end_ms":null,"rtt_sr_chain_ms":null,"rtt_stun_ms":null,"probe_drop":false,"probe_dropped":0,"r_factor":93.2,"mos":4.41}"#;
        let mut r: Record = serde_json::from_slice(line).expect("record");
        let c = chunks(&report(&r, line, 7, None).expect("fits"));
        assert_eq!(c.get(&0x0020), Some(&441u16.to_be_bytes().to_vec()));
        assert_eq!(c.get(&0x0021), Some(&9320u16.to_be_bytes().to_vec()));
        assert_eq!(c.get(&0x000f).map(Vec::as_slice), Some(&line[..]));
        // A wideband R (G.107.1: 116 for clean G.722) goes over on HEP's 0–100 scale.
        (r.r_factor, r.emodel_scale) = (Some(116.0), Some("wb".into()));
        let c = chunks(&report(&r, line, 7, None).expect("fits"));
        assert_eq!(c.get(&0x0021), Some(&8992u16.to_be_bytes().to_vec())); // 116 / 1.29
                                                                           // Without an estimate (a video stream) the chunks are left out, not zero.
        (r.r_factor, r.mos) = (None, None);
        let c = chunks(&report(&r, line, 7, None).expect("fits"));
        assert!(!c.contains_key(&0x0020) && !c.contains_key(&0x0021));
    }
}
