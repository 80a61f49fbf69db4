//! [`Scenario::build`]: turn the description into frames and truth.
//!
//! Media generation and truth live here; RTCP, feedback and STUN in `signal.rs`.
//! Order of work: media per stream (loss, delay, reorder, duplicate → capture-ordered
//! arrivals), then per stream RTCP / feedback / STUN (which need the arrivals to fill report
//! blocks), then SR chains, then noise; finally one stable sort by capture time. Each stream
//! draws from its own PRNG (`Rng::derive(seed, index)`), signalling from another, noise from a
//! third, so changing one part leaves the bytes of the others untouched.

use std::net::SocketAddr;

use super::frame::{ipv4_fragment, tcp_frame, udp_frame, udp_noise_payload, L2L3};
use super::rng::{splitmix64, Rng};
use super::rtcp::{self, ReportBlock};
use super::rtp::{write_rtp, HeaderExt, RtpHeader};
use super::scenario::{ExtForm, Scenario, StreamSpec, Turn};
use super::stun;
use super::truth::{
    tally, Arrival, FeedbackTruth, NoiseTruth, RemoteReportTruth, StreamTruth, Tally, Truth,
};
use super::{Capture, Frame, FrameKind};

/// Frames and counters accumulated while building.
#[derive(Default)]
pub(super) struct Out {
    pub(super) frames: Vec<Frame>,
    pub(super) truth: Truth,
}

impl Out {
    pub(super) fn push(&mut self, ts_ns: i64, linktype: u32, bytes: Vec<u8>, kind: FrameKind) {
        self.frames.push(Frame {
            ts_ns,
            linktype,
            bytes,
            kind,
        });
    }

    pub(super) fn count(&mut self, kind: &str) {
        *self.truth.rtcp.entry(kind.to_string()).or_insert(0) += 1;
    }
}

/// Per-stream state carried from media generation into signalling and truth.
#[derive(Default)]
pub(super) struct StreamState {
    pub(super) arrivals: Vec<Arrival>,
    /// Send indices the network dropped, ascending.
    pub(super) lost: Vec<u32>,
    /// (expected, packets) at the previous report, for RFC 3550 A.3 fraction lost.
    pub(super) prev_report: (u64, u64),
    pub(super) remote: Option<RemoteReportTruth>,
    pub(super) rtt_capture_point_ns: Option<i64>,
    pub(super) rtt_sr_chain_ns: Option<i64>,
    pub(super) rtt_end_to_end_ns: Option<i64>,
    pub(super) feedback: FeedbackTruth,
}

impl Scenario {
    /// Generate the capture and its ground truth. Deterministic in `self`.
    pub fn build(&self) -> Capture {
        let mut out = Out::default();
        let mut st: Vec<StreamState> = Vec::with_capacity(self.streams.len());
        for (i, s) in self.streams.iter().enumerate() {
            let mut rng = Rng::derive(self.seed, i as u64);
            st.push(media(&mut out, i, s, &mut rng));
        }
        for (i, s) in self.streams.iter().enumerate() {
            let mut rng = Rng::derive(self.seed, (1 << 32) | i as u64);
            super::signal::signalling(&mut out, i, s, &mut st[i], &mut rng);
        }
        for ch in &self.chains {
            super::signal::chain(&mut out, &self.streams, &mut st, ch);
        }
        if let Some(n) = &self.noise {
            noise(&mut out, n, &mut Rng::derive(self.seed, u64::MAX));
        }
        out.frames.sort_by_key(|f| f.ts_ns);
        let mut truth = out.truth;
        truth.frames = out.frames.len() as u64;
        for (i, s) in self.streams.iter().enumerate() {
            truth.streams.push(stream_truth(
                s,
                &st[i],
                &tally(&st[i].arrivals, s.clock_rate),
            ));
        }
        Capture {
            frames: out.frames,
            truth,
        }
    }
}

/// Sequence number on the wire for send index `i`.
pub(super) fn seq_of(s: &StreamSpec, i: u32) -> u16 {
    let mut q = s.first_seq.wrapping_add(i as u16);
    if let Some(r) = s.restart.filter(|r| i >= r.after) {
        q = q.wrapping_add(r.jump);
    }
    q
}

/// (segment, extended sequence number within the segment) for send index `i`.
fn ext_of(s: &StreamSpec, i: u32) -> (u8, u64) {
    match s.restart.filter(|r| i >= r.after) {
        Some(r) => (1, u64::from(seq_of(s, r.after)) + u64::from(i - r.after)),
        None => (0, u64::from(s.first_seq) + u64::from(i)),
    }
}

/// Wrap `payload` per the stream's TURN mode and frame it. `forward` = the stream's direction
/// (Data indication) rather than back towards its source (Send indication).
pub(super) fn wire(
    out: &mut Out,
    s: &StreamSpec,
    forward: bool,
    addrs: (SocketAddr, SocketAddr),
    payload: Vec<u8>,
    salt: u64,
) -> Vec<u8> {
    let p = match s.turn {
        Turn::None => payload,
        Turn::ChannelData { channel } => {
            out.truth.turn_channel_data += 1;
            stun::channel_data(channel, &payload)
        }
        Turn::Indication { peer } => {
            out.truth.turn_indications += 1;
            let t = if forward {
                stun::DATA_INDICATION
            } else {
                stun::SEND_INDICATION
            };
            stun::indication(t, &txid(salt), peer, &payload)
        }
    };
    udp_frame(
        L2L3 {
            encap: s.encap,
            hop_by_hop: s.hop_by_hop,
        },
        addrs.0,
        addrs.1,
        &p,
    )
}

/// A 12-byte transaction ID that is a pure function of `salt`.
pub(super) fn txid(salt: u64) -> [u8; 12] {
    let mut sm = salt;
    let (a, b) = (splitmix64(&mut sm), splitmix64(&mut sm));
    let mut t = [0u8; 12];
    t[..8].copy_from_slice(&a.to_be_bytes());
    t[8..].copy_from_slice(&b.to_be_bytes()[..4]);
    t
}

/// RTP for one stream: impairments, then frames and capture-ordered arrivals.
fn media(out: &mut Out, idx: usize, s: &StreamSpec, rng: &mut Rng) -> StreamState {
    let n = s.count as usize;
    let im = &s.impair;
    let q = im.quiet as usize;
    let restart_at = s.restart.map(|r| r.after as usize);
    let quiet =
        |i: usize| i < q || i + q >= n || restart_at.is_some_and(|r| i + q >= r && i < r + q);
    let mut lost = vec![false; n];
    for &(a, l) in &im.loss_bursts {
        let (a, l) = (a as usize, l as usize);
        lost.iter_mut().skip(a).take(l).for_each(|x| *x = true);
    }
    let mut base = Vec::with_capacity(n);
    for (i, l) in lost.iter_mut().enumerate() {
        let extra = if im.jitter_ns > 0 {
            rng.range_i64(0, im.jitter_ns)
        } else {
            0
        };
        base.push(s.start_ns + i as i64 * s.ptime_ns + im.base_delay_ns + extra);
        if !quiet(i) && rng.chance(im.loss) {
            *l = true;
        }
    }
    let mut hold = vec![0u32; n];
    for &(i, k) in &im.reorder_at {
        if let Some(h) = hold.get_mut(i as usize) {
            *h = k;
        }
    }
    for (i, h) in hold.iter_mut().enumerate() {
        if *h == 0 && !quiet(i) && rng.chance(im.reorder) {
            *h = 1 + rng.below(u64::from(im.reorder_max_k.max(1))) as u32;
        }
    }
    // (capture time, send index, is a duplicate), generation order = index order.
    let mut items: Vec<(i64, u32, bool)> = Vec::with_capacity(n + n / 8);
    for i in 0..n {
        if lost[i] {
            continue;
        }
        let target = (i + hold[i] as usize).min(n - 1);
        let t = if target > i {
            base[target] + 1
        } else {
            base[i]
        };
        items.push((t, i as u32, false));
        if !quiet(i) && rng.chance(im.duplicate) {
            items.push((
                t + rng.range_i64(1, im.duplicate_gap_ns.max(1)),
                i as u32,
                true,
            ));
        }
    }
    items.sort_by_key(|it| it.0);
    let mut state = StreamState {
        lost: (0..n as u32).filter(|&i| lost[i as usize]).collect(),
        ..Default::default()
    };
    for (t, i, _dup) in items {
        state.arrivals.push(rtp_frame(out, idx, s, i, t));
    }
    state
}

/// Emit RTP packet `i` (send index) of stream `idx`, captured at `t`; returns its arrival.
/// Payload and TURN txid are functions of (ssrc, i), so a duplicate is byte-identical.
pub(super) fn rtp_frame(out: &mut Out, idx: usize, s: &StreamSpec, i: u32, t: i64) -> Arrival {
    let rtp_ts = s.first_ts.wrapping_add(s.ts_step().wrapping_mul(i));
    let (segment, ext_seq) = ext_of(s, i);
    let salt = (u64::from(s.ssrc) << 32) | u64::from(i);
    let mut payload = vec![0u8; s.payload_len];
    Rng::new(salt).fill(&mut payload);
    let elems = || {
        vec![
            (1u8, vec![0x80 | (i % 100) as u8]),
            (3u8, (i as u16).to_be_bytes().to_vec()),
        ]
    };
    let h = RtpHeader {
        payload_type: s.payload_type,
        marker: if s.rtp.marker_every > 0 {
            i % s.rtp.marker_every == 0
        } else {
            i == 0
        },
        seq: seq_of(s, i),
        timestamp: rtp_ts,
        ssrc: s.ssrc,
        csrcs: s.rtp.csrcs.clone(),
        ext: s.rtp.ext.map(|f| match f {
            ExtForm::OneByte => HeaderExt::OneByte(elems()),
            ExtForm::TwoByte => HeaderExt::TwoByte(elems()),
        }),
        padding: s.rtp.padding,
    };
    let mut buf = Vec::with_capacity(s.payload_len + 64);
    write_rtp(&mut buf, &h, &payload);
    let bytes = wire(out, s, true, (s.src, s.dst), buf, salt);
    out.push(t, s.encap.linktype(), bytes, FrameKind::Rtp { stream: idx });
    Arrival {
        ts_ns: t,
        ordinal: u64::from(i),
        segment,
        ext_seq,
        rtp_ts,
    }
}

/// TCP, non-first IPv4 fragments, unclassifiable UDP and SRTCP on their own addresses.
fn noise(out: &mut Out, n: &super::scenario::Noise, rng: &mut Rng) {
    let sa = |s: &str| -> SocketAddr {
        s.parse()
            .unwrap_or_else(|_| unreachable!("literal address"))
    };
    let lt = n.encap.linktype();
    let l2: L2L3 = n.encap.into();
    for j in 0..n.tcp {
        let t = rng.range_i64(n.start_ns, n.end_ns);
        let f = tcp_frame(
            l2,
            sa("10.99.0.1:443"),
            sa("10.99.0.2:51000"),
            j * 100,
            &rng.bytes(100),
        );
        out.push(t, lt, f, FrameKind::Noise);
    }
    for _ in 0..n.ip_fragments {
        let t = rng.range_i64(n.start_ns, n.end_ns);
        let mut data = rng.bytes(200);
        data[0] = 0x80; // looks like RTP on purpose: a probe must not decode fragments
        let (s, d) = (sa("10.99.0.3:0").ip(), sa("10.99.0.4:0").ip());
        out.push(
            t,
            lt,
            ipv4_fragment(n.encap, s, d, rng.next_u32() as u16, 185, false, &data),
            FrameKind::Noise,
        );
    }
    for _ in 0..n.udp {
        let t = rng.range_i64(n.start_ns, n.end_ns);
        let src = SocketAddr::new(sa("10.99.0.5:0").ip(), 40_000 + rng.below(1000) as u16);
        let dst = SocketAddr::new(sa("10.99.0.6:0").ip(), 50_000 + rng.below(1000) as u16);
        let len = 20 + rng.below(200) as usize;
        out.push(
            t,
            lt,
            udp_frame(l2, src, dst, &udp_noise_payload(rng, len)),
            FrameKind::Noise,
        );
    }
    let ssrc = rng.next_u32();
    for j in 0..n.srtcp {
        let t = rng.range_i64(n.start_ns, n.end_ns);
        let clear = rtcp::compound(&[
            rtcp::rr(ssrc, &[ReportBlock::default()]),
            rtcp::sdes_cname(ssrc, "srtcp@synth"),
        ]);
        let d = rtcp::srtcp(&clear, j, rng);
        out.push(
            t,
            lt,
            udp_frame(l2, sa("10.98.0.1:50001"), sa("10.98.0.2:50001"), &d),
            FrameKind::Noise,
        );
    }
    out.truth.noise = NoiseTruth {
        tcp: u64::from(n.tcp),
        ip_fragments: u64::from(n.ip_fragments),
        udp: u64::from(n.udp),
        srtcp: u64::from(n.srtcp),
    };
}

pub(super) fn stream_truth(s: &StreamSpec, st: &StreamState, t: &Tally) -> StreamTruth {
    // Relay legs (`relay_of`) without streams in the opposite direction have no `end_to_end`:
    // nothing measures the round trip to the sender's side (docs/output.md); calls through a
    // middlebox with both directions are built by `super::middlebox`.
    StreamTruth {
        src: s.src,
        dst: s.dst,
        ssrc: s.ssrc,
        payload_type: s.payload_type,
        encap: s.encap,
        turn: s.turn.name(),
        packets: t.packets,
        expected: t.expected,
        lost: t.expected as i64 - t.packets as i64,
        duplicates: t.duplicates,
        reordered: t.reordered,
        seq_restarts: t.seq_restarts,
        restart_dropped: t.restart_dropped,
        clock_rate: s.clock_rate,
        jitter_ts: t.jitter_ts,
        jitter_ms: t.jitter_ts * 1000.0 / f64::from(s.clock_rate),
        rtt_capture_point_ns: st.rtt_capture_point_ns,
        rtt_xr_ns: s.rtcp.as_ref().and_then(|r| r.xr).map(|x| x.rtt_ns),
        rtt_end_to_end_ns: st.rtt_end_to_end_ns,
        rtt_sr_chain_ns: st.rtt_sr_chain_ns,
        rtt_stun_ns: s.stun.map(|k| k.response_delay_ns),
        cname: s.cname.clone(),
        bye: s.bye,
        remote: st.remote,
        feedback: st.feedback,
    }
}
