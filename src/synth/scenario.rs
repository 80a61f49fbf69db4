//! The scenario model: streams, their impairments and signalling, described as plain data.
//!
//! A [`Scenario`] is a list of [`StreamSpec`]s plus SR chains and noise. [`Scenario::build`]
//! (see `build.rs`) turns it into a time-sorted [`Capture`](super::Capture) and its
//! [`Truth`](super::Truth). Every random choice comes from a PRNG derived from the scenario seed
//! and the stream's index, so the same scenario always yields the same bytes, and adding a
//! stream does not change the others.
//!
//! Timing model: the capture point sits between sender and receiver. A packet *sent* at
//! `start + i·ptime` is *captured* at `send + base_delay + U[0, jitter]` (unless reordered or
//! duplicated). RTCP, STUN and feedback are never impaired, so RTT truths are exact.
//!
//! Fields are public so callers use struct-update syntax on the defaults
//! (`StreamSpec { count: 50, ..StreamSpec::audio(src, dst, ssrc) }`).

use std::net::SocketAddr;

use super::frame::Encap;

/// Nanoseconds per millisecond, for readable literals.
pub const MS: i64 = 1_000_000;
/// Nanoseconds per second.
pub const SEC: i64 = 1_000_000_000;
/// Default scenario epoch: 2023-11-14T22:13:20Z, far from any NTP or Unix era boundary.
pub const EPOCH_NS: i64 = 1_700_000_000 * SEC;

/// How a stream's datagrams are wrapped by a TURN relay (RFC 8656), if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Plain UDP.
    None,
    /// ChannelData with this channel number (0x4000..=0x4FFF), both directions (§12.4).
    ChannelData { channel: u16 },
    /// Data indications in the stream's direction, Send indications back (§10, §11);
    /// `peer` is the XOR-PEER-ADDRESS.
    Indication { peer: SocketAddr },
}

impl Turn {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Turn::None => "none",
            Turn::ChannelData { .. } => "channel_data",
            Turn::Indication { .. } => "data_indication",
        }
    }
}

/// Which RFC 8285 header-extension form RTP packets carry (audio level id 1, transport-wide
/// sequence number id 3), or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtForm {
    OneByte,
    TwoByte,
}

/// RTP header options beyond the basics.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RtpOptions {
    pub csrcs: Vec<u32>,
    pub ext: Option<ExtForm>,
    /// Padding bytes on every packet (0 = none).
    pub padding: u8,
    /// Set the marker bit every n packets (0 = only on the first).
    pub marker_every: u32,
}

/// Network impairments between sender and capture point. Random ones are drawn from the
/// stream's PRNG and never hit the first/last `quiet` packets or the `quiet` packets on each side
/// of a sequence restart, so the truth definitions and RFC 3550 A.1 agree at the edges.
#[derive(Debug, Clone, PartialEq)]
pub struct Impairments {
    /// Independent loss probability per packet.
    pub loss: f64,
    /// Explicit loss bursts: (first packet index, length). Applied regardless of `quiet`.
    pub loss_bursts: Vec<(u32, u32)>,
    /// Probability a packet is held back past `k` successors, `k` uniform in 1..=`reorder_max_k`.
    pub reorder: f64,
    /// Upper bound of `k` (keep < 100: larger looks like a restart to A.1).
    pub reorder_max_k: u32,
    /// Explicit reorders: (packet index, k).
    pub reorder_at: Vec<(u32, u32)>,
    /// Probability a packet is duplicated.
    pub duplicate: f64,
    /// The copy is captured 1..=`duplicate_gap_ns` after the original.
    pub duplicate_gap_ns: i64,
    /// Fixed one-way delay sender → capture point.
    pub base_delay_ns: i64,
    /// Extra random delay, uniform in [0, jitter_ns]; arrival order follows arrival time.
    pub jitter_ns: i64,
    /// Packets at the edges kept free of random impairments.
    pub quiet: u32,
}

impl Default for Impairments {
    fn default() -> Self {
        Impairments {
            loss: 0.0,
            loss_bursts: Vec::new(),
            reorder: 0.0,
            reorder_max_k: 3,
            reorder_at: Vec::new(),
            duplicate: 0.0,
            duplicate_gap_ns: MS,
            base_delay_ns: 5 * MS,
            jitter_ns: 0,
            quiet: 8,
        }
    }
}

/// An SSRC-keeping sequence restart: after `after` packets the sequence number jumps by
/// `jump` (> 3000 = RFC 3550 A.1 MAX_DROPOUT), e.g. a sender that restarted its RTP stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    pub after: u32,
    pub jump: u16,
}

/// Receiver reports about the stream, timed so the capture-point RTT is exactly `rtt_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RrSpec {
    /// RR capture time − SR capture time − DLSR.
    pub rtt_ns: i64,
    /// DLSR in 1/65536 s; rounded down to a multiple of 128 so it is a whole number of ns.
    pub dlsr_units: u32,
}

/// XR RRT/DLRR exchange (RFC 3611 §4.4/§4.5), timed so RRT capture → DLRR capture − DLRR is
/// exactly `rtt_ns`; optionally a VoIP Metrics block (§4.7) with every RRT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XrSpec {
    pub rtt_ns: i64,
    pub dlrr_units: u32,
    pub voip_metrics: bool,
}

/// RTCP for a stream: SRs from the sender every `interval_ns`, optional RRs/XR from the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpSpec {
    pub interval_ns: i64,
    /// Sender NTP clock − capture clock.
    pub ntp_offset_ns: i64,
    /// Receiver NTP clock − capture clock (XR RRT timestamps).
    pub receiver_ntp_offset_ns: i64,
    /// RTCP on the RTP 5-tuple (RFC 5761) instead of ports + 1.
    pub rtcp_mux: bool,
    /// The receiver's SSRC, used for its RR/XR/feedback.
    pub receiver_ssrc: u32,
    pub rr: Option<RrSpec>,
    pub xr: Option<XrSpec>,
    /// Append an APP packet ("SYNT") to every SR compound.
    pub app: bool,
}

impl RtcpSpec {
    /// SRs every 5 s (RFC 3550's minimum interval), RRs with the given RTT, muxed.
    pub fn with_rtt(receiver_ssrc: u32, rtt_ns: i64) -> Self {
        RtcpSpec {
            interval_ns: 5 * SEC,
            ntp_offset_ns: 0,
            receiver_ntp_offset_ns: 0,
            rtcp_mux: true,
            receiver_ssrc,
            rr: Some(RrSpec {
                rtt_ns,
                dlsr_units: 128 * 64,
            }),
            xr: None,
            app: false,
        }
    }
}

/// Feedback from the receiver (RFC 4585 / RFC 5104 / REMB / transport-cc), each in its own
/// compound headed by an empty RR. Intervals of `None` mean "never".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Feedback {
    /// One generic NACK per run of lost packets (≤ 17 per NACK item).
    pub nack: bool,
    pub pli_interval_ns: Option<i64>,
    pub fir_interval_ns: Option<i64>,
    pub remb_interval_ns: Option<i64>,
    pub twcc_interval_ns: Option<i64>,
}

/// STUN Binding request/response pairs on the stream's 5-tuple: the request src → dst every
/// `interval_ns`, the response captured exactly `response_delay_ns` later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StunSpec {
    pub interval_ns: i64,
    pub response_delay_ns: i64,
}

/// One RTP stream on one 5-tuple.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ssrc: u32,
    pub payload_type: u8,
    pub clock_rate: u32,
    /// Packet interval (ptime), ns. Timestamp step = clock_rate · ptime (must be whole units).
    pub ptime_ns: i64,
    /// Packets the sender sends.
    pub count: u32,
    /// Send time of the first packet, Unix epoch ns.
    pub start_ns: i64,
    pub first_seq: u16,
    pub first_ts: u32,
    /// RTP payload bytes per packet (random content).
    pub payload_len: usize,
    pub encap: Encap,
    /// IPv6 only: add a Hop-by-Hop extension header.
    pub hop_by_hop: bool,
    pub turn: Turn,
    pub rtp: RtpOptions,
    pub impair: Impairments,
    pub restart: Option<Restart>,
    pub rtcp: Option<RtcpSpec>,
    pub feedback: Feedback,
    pub stun: Option<StunSpec>,
    /// This stream is the second leg of a relay (SFU) whose first leg is stream `relay_of`
    /// (same SSRC, different 5-tuple). With media in one direction only there is no
    /// end-to-end RTT truth (see `super::middlebox` for calls with both).
    pub relay_of: Option<usize>,
    pub cname: Option<String>,
    /// Send a BYE (in a final SR compound) after the last packet.
    pub bye: bool,
}

impl StreamSpec {
    /// G.711 µ-law (PT 0), 8 kHz, 20 ms, 160-byte payloads, 500 packets, clean.
    pub fn audio(src: SocketAddr, dst: SocketAddr, ssrc: u32) -> Self {
        StreamSpec {
            src,
            dst,
            ssrc,
            payload_type: 0,
            clock_rate: 8000,
            ptime_ns: 20 * MS,
            count: 500,
            start_ns: EPOCH_NS,
            first_seq: 1000,
            first_ts: 160_000,
            payload_len: 160,
            encap: Encap::Ethernet,
            hop_by_hop: false,
            turn: Turn::None,
            rtp: RtpOptions::default(),
            impair: Impairments::default(),
            restart: None,
            rtcp: None,
            feedback: Feedback::default(),
            stun: None,
            relay_of: None,
            cname: None,
            bye: false,
        }
    }

    /// Dynamic PT 96, 90 kHz, 33⅓ ms (3000 ticks), 1000-byte payloads.
    pub fn video(src: SocketAddr, dst: SocketAddr, ssrc: u32) -> Self {
        StreamSpec {
            payload_type: 96,
            clock_rate: 90_000,
            ptime_ns: 33_333_333,
            payload_len: 1000,
            ..StreamSpec::audio(src, dst, ssrc)
        }
    }

    /// Timestamp increment per packet, rounded to whole clock ticks.
    pub fn ts_step(&self) -> u32 {
        ((self.ptime_ns as i128 * self.clock_rate as i128 + SEC as i128 / 2) / SEC as i128) as u32
    }

    /// The RTCP 5-tuple: the RTP one when muxed, else both ports + 1 (RFC 3550 §11).
    pub fn rtcp_addrs(&self) -> (SocketAddr, SocketAddr) {
        let mux = self.rtcp.as_ref().map_or(true, |r| r.rtcp_mux) || self.turn != Turn::None;
        if mux {
            (self.src, self.dst)
        } else {
            let (mut s, mut d) = (self.src, self.dst);
            s.set_port(s.port().wrapping_add(1));
            d.set_port(d.port().wrapping_add(1));
            (s, d)
        }
    }
}

/// A ping-pong of SRs between two opposite streams `a` (A → B) and `b` (B → A), each SR
/// carrying a report block about the other side's last SR (LSR, DLSR), so an endpoint RTT in
/// the sender's own clock follows from two SRs of one side: (Ta3 − dA) − Ta1 − dB.
/// Capture point timing: B answers `b_leg_rtt_ns + dB` after A's SR is captured, A answers
/// `a_leg_rtt_ns + dA` after B's. Give these two streams no `rtcp` of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrChain {
    pub a: usize,
    pub b: usize,
    pub a_leg_rtt_ns: i64,
    pub b_leg_rtt_ns: i64,
    pub dlsr_a_units: u32,
    pub dlsr_b_units: u32,
    /// Capture time of A's first SR.
    pub start_ns: i64,
    /// Number of SRs in total (alternating A, B, A, …).
    pub rounds: u32,
    pub ntp_offset_a_ns: i64,
    pub ntp_offset_b_ns: i64,
}

/// Non-media frames sprinkled uniformly over [start_ns, end_ns].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Noise {
    pub tcp: u32,
    pub ip_fragments: u32,
    pub udp: u32,
    /// SRTCP-shaped datagrams (RFC 3711) on their own 5-tuple.
    pub srtcp: u32,
    pub encap: Encap,
    pub start_ns: i64,
    pub end_ns: i64,
}

/// A whole synthetic capture, described.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    pub streams: Vec<StreamSpec>,
    pub chains: Vec<SrChain>,
    pub noise: Option<Noise>,
}

impl Scenario {
    /// An empty scenario; all randomness derives from `seed`.
    pub fn new(seed: u64) -> Self {
        Scenario {
            seed,
            streams: Vec::new(),
            chains: Vec::new(),
            noise: None,
        }
    }

    /// Add a stream; returns its index (for `relay_of` and [`SrChain`]).
    pub fn add(&mut self, s: StreamSpec) -> usize {
        self.streams.push(s);
        self.streams.len() - 1
    }
}
