//! Ready-made scenarios: one that exercises every impairment and encapsulation, and a clean
//! many-stream load for benchmarks that can be streamed straight to a writer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::build::{rtp_frame, stream_truth, Out, StreamState};
use super::frame::Encap;
use super::pcap::{PcapWriter, PcapngWriter, TsResolution, DEFAULT_SNAPLEN};
use super::rng::Rng;
use super::rtcp::{dlsr_units_to_ns, ntp_from_unix_ns, ntp_mid32, ReportBlock};
use super::scenario::*;
use super::signal::{emit_rtcp, receiver_ssrc, rr_parts, sender_info, sr_parts};
use super::truth::{RemoteReportTruth, Tally, Truth};
use super::Frame;

fn sa(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| unreachable!("literal socket address {s}"))
}

/// Every impairment and encapsulation in one capture (~9,500 RTP packets over ~30 s), mixing
/// link types (Ethernet, SLL, SLL2, raw IP, NULL), so it needs pcapng. Streams, by index:
///
/// 0. PCMU, Ethernet/IPv4: 2 % random loss, 0–15 ms jitter, seq from 65500 (wraps) and
///    timestamp near 2^32 (wraps), SR/RR (RTT 40 ms), XR RRT/DLRR (30 ms) + VoIP metrics,
///    CNAME, BYE, APP, NACKs, STUN pairs (response after 30 ms).
/// 1. Video PT 96, 802.1Q VLAN 100: a 10-packet loss burst, 2 % reordering (k ≤ 5), 1 %
///    duplicates, one-byte header extensions, CSRCs, RTCP on ports + 1 (RTT 25 ms),
///    NACK/PLI/FIR/REMB/transport-cc.
/// 2. Opus PT 111 48 kHz, QinQ, IPv6 + Hop-by-Hop: sequence restart (+20000) after 600
///    packets, two-byte extensions, padding, RTT 60 ms.
/// 3. Linux SLL2, TURN ChannelData 0x4001, 1 % loss, RTT 80 ms.
/// 4. Linux SLL, TURN Data indications (peer 198.51.100.7:40000), RTT 30 ms.
/// 5. Relay leg 1 A → SFU, raw IP, RTT 20 ms. 6. Leg 2 SFU → B (same SSRC), NULL/IPv6,
///    RTT 35 ms; end-to-end 55 ms.
/// 7. / 8. C → D and D → C, Ethernet/IPv6, an SR chain: legs 18 ms + 44 ms = 62 ms.
///
/// Plus noise: 20 TCP segments, 10 IPv4 fragments, 30 unclassifiable UDP, 10 SRTCP.
pub fn impaired_mix(seed: u64) -> Scenario {
    impaired_mix_on(seed, None)
}

/// [`impaired_mix`] with every stream and the noise forced onto `encap` when given (one link
/// type, so classic pcap can hold it; TURN and IPv6 choices are kept).
pub fn impaired_mix_on(seed: u64, encap: Option<Encap>) -> Scenario {
    let mut sc = Scenario::new(seed);
    let rtcp = |rx: u32, rtt: i64| Some(RtcpSpec::with_rtt(rx, rtt * MS));

    let mut s0 = StreamSpec::audio(sa("10.0.1.10:40000"), sa("10.0.2.20:50000"), 0x1111_0001);
    s0.count = 1500;
    s0.first_seq = 65500;
    s0.first_ts = u32::MAX - 160 * 100;
    s0.impair = Impairments {
        loss: 0.02,
        jitter_ns: 15 * MS,
        ..Default::default()
    };
    s0.rtcp = Some(RtcpSpec {
        ntp_offset_ns: 3_500 * MS,
        receiver_ntp_offset_ns: -120 * SEC,
        xr: Some(XrSpec {
            rtt_ns: 30 * MS,
            dlrr_units: 128 * 40,
            voip_metrics: true,
        }),
        app: true,
        ..RtcpSpec::with_rtt(0x2222_0001, 40 * MS)
    });
    s0.feedback.nack = true;
    s0.stun = Some(StunSpec {
        interval_ns: 2 * SEC,
        response_delay_ns: 30 * MS,
    });
    s0.cname = Some("alice@synth".into());
    s0.bye = true;
    sc.add(s0);

    let mut s1 = StreamSpec::video(sa("10.0.1.11:40002"), sa("10.0.2.21:50002"), 0x1111_0002);
    s1.count = 1200;
    s1.start_ns = EPOCH_NS + 3 * MS;
    s1.encap = Encap::Vlan { vid: 100 };
    s1.rtp = RtpOptions {
        csrcs: vec![0xc5c5_0001, 0xc5c5_0002],
        ext: Some(ExtForm::OneByte),
        padding: 0,
        marker_every: 3,
    };
    s1.impair = Impairments {
        loss_bursts: vec![(200, 10)],
        reorder: 0.02,
        reorder_max_k: 5,
        duplicate: 0.01,
        jitter_ns: 2 * MS,
        ..Default::default()
    };
    s1.rtcp = Some(RtcpSpec {
        rtcp_mux: false,
        ..RtcpSpec::with_rtt(0x2222_0002, 25 * MS)
    });
    s1.feedback = Feedback {
        nack: true,
        pli_interval_ns: Some(3 * SEC),
        fir_interval_ns: Some(10 * SEC),
        remb_interval_ns: Some(SEC),
        twcc_interval_ns: Some(SEC / 2),
    };
    s1.cname = Some("bob-video@synth".into());
    sc.add(s1);

    let mut s2 = StreamSpec::audio(
        sa("[2001:db8::10]:40004"),
        sa("[2001:db8::20]:50004"),
        0x1111_0003,
    );
    s2.payload_type = 111;
    s2.clock_rate = 48_000;
    s2.payload_len = 80;
    s2.count = 1200;
    s2.start_ns = EPOCH_NS + 7 * MS;
    s2.encap = Encap::QinQ {
        outer: 10,
        inner: 20,
    };
    s2.hop_by_hop = true;
    s2.restart = Some(Restart {
        after: 600,
        jump: 20_000,
    });
    s2.rtp = RtpOptions {
        ext: Some(ExtForm::TwoByte),
        padding: 4,
        ..Default::default()
    };
    s2.impair = Impairments {
        loss: 0.01,
        jitter_ns: 5 * MS,
        ..Default::default()
    };
    s2.rtcp = rtcp(0x2222_0003, 60);
    sc.add(s2);

    let mut s3 = StreamSpec::audio(sa("10.0.3.1:3478"), sa("10.0.3.2:51000"), 0x1111_0004);
    s3.count = 800;
    s3.start_ns = EPOCH_NS + 11 * MS;
    s3.encap = Encap::Sll2;
    s3.turn = Turn::ChannelData { channel: 0x4001 };
    s3.impair = Impairments {
        loss: 0.01,
        jitter_ns: 3 * MS,
        ..Default::default()
    };
    s3.rtcp = rtcp(0x2222_0004, 80);
    sc.add(s3);

    let mut s4 = StreamSpec::audio(sa("10.0.4.1:3478"), sa("10.0.4.2:52000"), 0x1111_0005);
    s4.count = 800;
    s4.start_ns = EPOCH_NS + 13 * MS;
    s4.encap = Encap::Sll;
    s4.turn = Turn::Indication {
        peer: sa("198.51.100.7:40000"),
    };
    s4.rtcp = rtcp(0x2222_0005, 30);
    sc.add(s4);

    let mut leg1 = StreamSpec::audio(sa("10.0.5.1:40010"), sa("10.0.5.100:50010"), 0x1111_0006);
    leg1.count = 1000;
    leg1.start_ns = EPOCH_NS + 17 * MS;
    leg1.encap = Encap::RawIp;
    leg1.rtcp = rtcp(0x5f00_0001, 20);
    let l1 = sc.add(leg1.clone());
    let leg2 = StreamSpec {
        src: sa("[2001:db8:5::100]:50020"),
        dst: sa("[2001:db8:5::2]:40020"),
        start_ns: leg1.start_ns + 4 * MS,
        encap: Encap::Null,
        rtcp: rtcp(0x2222_0006, 35),
        relay_of: Some(l1),
        ..leg1
    };
    sc.add(leg2);

    let mut c = StreamSpec::audio(
        sa("[2001:db8:7::1]:40030"),
        sa("[2001:db8:7::2]:50030"),
        0x1111_0007,
    );
    c.count = 1000;
    c.start_ns = EPOCH_NS + 19 * MS;
    c.cname = Some("carol@synth".into());
    let d = StreamSpec {
        src: c.dst,
        dst: c.src,
        ssrc: 0x1111_0008,
        cname: Some("dave@synth".into()),
        ..c.clone()
    };
    let (a, b) = (sc.add(c), sc.add(d));
    sc.chains.push(SrChain {
        a,
        b,
        a_leg_rtt_ns: 18 * MS,
        b_leg_rtt_ns: 44 * MS,
        dlsr_a_units: 128 * 100,
        dlsr_b_units: 128 * 300,
        start_ns: EPOCH_NS + SEC,
        rounds: 10,
        ntp_offset_a_ns: 2 * SEC + 123_456,
        ntp_offset_b_ns: -7 * SEC,
    });

    sc.noise = Some(Noise {
        tcp: 20,
        ip_fragments: 10,
        udp: 30,
        srtcp: 10,
        encap: Encap::Ethernet,
        start_ns: EPOCH_NS,
        end_ns: EPOCH_NS + 20 * SEC,
    });
    if let Some(e) = encap {
        for s in &mut sc.streams {
            s.encap = e;
        }
        if let Some(n) = &mut sc.noise {
            n.encap = e;
        }
    }
    sc
}

/// Clean load for benchmarks: `streams` PCMU streams (20 ms ptime, Ethernet/IPv4, no
/// impairments) sharing `packets_total` RTP packets, starts staggered across one ptime so
/// packets interleave by time, SR/RR every 5 s (capture-point RTT 30 ms). The same streams
/// as [`write_clean_many`] streams to a file.
pub fn clean_many(streams: u32, packets_total: u64, seed: u64) -> Scenario {
    let mut sc = Scenario::new(seed);
    let mut rng = Rng::new(seed);
    let streams = streams.max(1);
    for j in 0..streams {
        let count = packets_total / u64::from(streams)
            + u64::from(u64::from(j) < packets_total % u64::from(streams));
        let src = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 1, (j >> 8) as u8, j as u8)),
            10_000 + (j % 20_000) as u16 * 2,
        );
        let dst = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 2, (j >> 8) as u8, j as u8)),
            20_000 + (j % 20_000) as u16 * 2,
        );
        let ssrc = rng.next_u32();
        let mut s = StreamSpec::audio(src, dst, ssrc);
        s.count = count as u32;
        s.start_ns = EPOCH_NS + i64::from(j) * (20 * MS) / i64::from(streams);
        s.first_seq = rng.next_u32() as u16;
        s.first_ts = rng.next_u32();
        s.rtcp = Some(RtcpSpec::with_rtt(rng.next_u32(), 30 * MS));
        sc.add(s);
    }
    sc
}

/// A many-stream capture worth a report (`replay --report`): [`clean_many`] with
/// `per_stream` packets each at a 200 ms packet time, where every 97th stream loses 6 % of its
/// packets, every 13th (other) one 1.5 %, and every 89th has 60 ms of jitter.
pub fn impaired_many(streams: u32, per_stream: u32, seed: u64) -> Scenario {
    let mut sc = clean_many(streams, u64::from(streams) * u64::from(per_stream), seed);
    for (j, s) in sc.streams.iter_mut().enumerate() {
        s.ptime_ns = 200 * MS;
        if j % 97 == 0 {
            s.impair.loss = 0.06;
        } else if j % 13 == 0 {
            s.impair.loss = 0.015;
        }
        if j % 89 == 0 {
            s.impair.jitter_ns = 60 * MS;
        }
    }
    sc
}

/// File format for [`write_clean_many`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap(TsResolution),
    Pcapng,
}

/// Pending work in time order; the key reproduces `build`'s stable sort exactly:
/// (capture time, RTP before RTCP, stream index, per-stream order).
type Key = (i64, u8, usize, u64);

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Rtp(u32),
    Sr(u64),
    Ready(Vec<u8>),
}

/// Write [`clean_many`]`(streams, packets_total, seed)` to `w` without holding the capture:
/// a heap of at most ~3 events per stream merges the streams by time. Produces the same bytes
/// as building that scenario and writing it, and returns the same truth.
pub fn write_clean_many<W: Write>(
    w: W,
    streams: u32,
    packets_total: u64,
    seed: u64,
    format: Format,
) -> io::Result<Truth> {
    let sc = clean_many(streams, packets_total, seed);
    let mut sink = match format {
        Format::Pcap(res) => Sink::Pcap(PcapWriter::new(w, 1, DEFAULT_SNAPLEN, res)?),
        Format::Pcapng => {
            let mut p = PcapngWriter::new(w)?;
            p.add_interface(1, DEFAULT_SNAPLEN)?;
            Sink::Ng(p)
        }
    };
    let mut heap: BinaryHeap<Reverse<(Key, usize, Ev)>> = BinaryHeap::new();
    let mut states: Vec<StreamState> = sc.streams.iter().map(|_| StreamState::default()).collect();
    let rtp_time =
        |s: &StreamSpec, i: u32| s.start_ns + i64::from(i) * s.ptime_ns + s.impair.base_delay_ns;
    let sr_time = |s: &StreamSpec, k: u64| {
        let r = s.rtcp.as_ref().map_or(i64::MAX, |r| r.interval_ns);
        s.start_ns + r / 2 + k as i64 * r
    };
    let end = |s: &StreamSpec| s.start_ns + i64::from(s.count) * s.ptime_ns;
    for (j, s) in sc.streams.iter().enumerate() {
        if s.count > 0 {
            heap.push(Reverse(((rtp_time(s, 0), 0, j, 0), j, Ev::Rtp(0))));
        }
        if sr_time(s, 0) < end(s) {
            heap.push(Reverse(((sr_time(s, 0), 1, j, 0), j, Ev::Sr(0))));
        }
    }
    let mut out = Out::default();
    let mut frames = 0u64;
    while let Some(Reverse((key, j, ev))) = heap.pop() {
        let s = &sc.streams[j];
        match ev {
            Ev::Rtp(i) => {
                rtp_frame(&mut out, j, s, i, key.0);
                if i + 1 < s.count {
                    heap.push(Reverse((
                        (rtp_time(s, i + 1), 0, j, u64::from(i) + 1),
                        j,
                        Ev::Rtp(i + 1),
                    )));
                }
            }
            Ev::Sr(k) => {
                let r = s
                    .rtcp
                    .as_ref()
                    .and_then(|r| r.rr.map(|rr| (r, rr)))
                    .ok_or_else(|| io::Error::other("clean stream without RR"))?;
                let (r, rr) = r;
                let c = key.0;
                let ntp = ntp_from_unix_ns(c + r.ntp_offset_ns);
                emit_rtcp(
                    &mut out,
                    j,
                    s,
                    c,
                    true,
                    &sr_parts(s, &sender_info(s, c, ntp), &[]),
                );
                let units = rr.dlsr_units / 128 * 128;
                let t = c + rr.rtt_ns + dlsr_units_to_ns(units);
                let arrived = if t < rtp_time(s, 0) {
                    0
                } else {
                    ((t - rtp_time(s, 0)) / s.ptime_ns + 1).min(i64::from(s.count)) as u64
                };
                let blk = ReportBlock {
                    ssrc: s.ssrc,
                    ext_highest_seq: (u64::from(s.first_seq) + arrived.max(1) - 1) as u32,
                    lsr: ntp_mid32(ntp),
                    dlsr: units,
                    ..Default::default()
                };
                states[j].remote = Some(RemoteReportTruth {
                    fraction_lost: 0,
                    cumulative_lost: 0,
                    ext_highest_seq: blk.ext_highest_seq,
                    jitter: 0,
                });
                states[j].rtt_capture_point_ns = Some(rr.rtt_ns);
                let mut tmp = Out::default();
                emit_rtcp(&mut tmp, j, s, t, false, &rr_parts(receiver_ssrc(s), blk));
                out.truth.rtcp = merge(std::mem::take(&mut out.truth.rtcp), tmp.truth.rtcp);
                for f in tmp.frames {
                    heap.push(Reverse(((t, 1, j, 2 * k + 1), j, Ev::Ready(f.bytes))));
                }
                if sr_time(s, k + 1) < end(s) {
                    heap.push(Reverse((
                        (sr_time(s, k + 1), 1, j, 2 * k + 2),
                        j,
                        Ev::Sr(k + 1),
                    )));
                }
            }
            Ev::Ready(bytes) => out.frames.push(Frame {
                ts_ns: key.0,
                linktype: 1,
                bytes,
                kind: super::FrameKind::Noise,
            }),
        }
        for f in out.frames.drain(..) {
            sink.write(f.ts_ns, &f.bytes)?;
            frames += 1;
        }
    }
    sink.finish()?;
    let mut truth = out.truth;
    truth.frames = frames;
    for (j, s) in sc.streams.iter().enumerate() {
        let n = u64::from(s.count);
        let t = Tally {
            packets: n,
            expected: n,
            highest_ext_seq: u64::from(s.first_seq) + n.max(1) - 1,
            ..Default::default()
        };
        truth.streams.push(stream_truth(s, &states[j], &t));
    }
    Ok(truth)
}

fn merge(
    mut a: std::collections::BTreeMap<String, u64>,
    b: std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    for (k, v) in b {
        *a.entry(k).or_insert(0) += v;
    }
    a
}

enum Sink<W: Write> {
    Pcap(PcapWriter<W>),
    Ng(PcapngWriter<W>),
}

impl<W: Write> Sink<W> {
    fn write(&mut self, ts: i64, b: &[u8]) -> io::Result<()> {
        match self {
            Sink::Pcap(p) => p.write_frame(ts, b),
            Sink::Ng(p) => p.write_frame(0, ts, b),
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Sink::Pcap(p) => p.into_inner().map(drop),
            Sink::Ng(p) => p.into_inner().map(drop),
        }
    }
}
