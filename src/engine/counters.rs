//! What the engine counts: everything it saw, dropped or could not attribute. Per-thread
//! counters of one pipeline add up ([`Counters::add`]) to what a single engine counts.

use serde::Serialize;

/// Counters of everything the engine saw, dropped or could not attribute.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counters {
    pub udp_datagrams: u64,
    pub rtp_packets: u64,
    /// RTP-looking datagrams whose header did not parse (bad version, CSRC/extension cut).
    pub rtp_invalid: u64,
    /// RTP packets of candidates that never passed probation (including probation runs that a
    /// jump of at least A.1's MAX_DROPOUT cut short), or dropped as a bad sequence jump.
    pub rtp_unvalidated: u64,
    pub rtcp_packets: u64,
    pub rtcp_malformed: u64,
    pub srtcp_packets: u64,
    /// Report blocks and feedback about a stream the probe does not see.
    pub rtcp_unmatched: u64,
    pub stun_messages: u64,
    pub stun_rtt_samples: u64,
    pub dtls_records: u64,
    pub zrtp_packets: u64,
    pub turn_channel_data: u64,
    pub turn_indications: u64,
    pub other_udp: u64,
    /// Datagrams outside the configured `rtp_port_ranges`.
    pub port_filtered: u64,
    pub candidates_dropped: u64,
    pub streams_created: u64,
    pub streams_evicted: u64,
    /// RTP packets the probe itself dropped (a full pipeline queue) whose stream was unknown.
    pub probe_dropped_unattributed: u64,
    /// RTCP packets inside the compounds, by RFC packet type.
    pub rtcp_types: RtcpTypes,
}

/// RTCP packets by type (RFC 3550 §6.4–6.7 SR, RR, SDES, BYE, APP; RFC 3611 XR; RFC 4585
/// RTPFB and PSFB; `other` for any other packet type), counted in plain compounds only
/// (SRTCP is encrypted past its first header).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct RtcpTypes {
    pub sr: u64,
    pub rr: u64,
    pub sdes: u64,
    pub bye: u64,
    pub app: u64,
    pub xr: u64,
    pub rtpfb: u64,
    pub psfb: u64,
    pub other: u64,
}

impl RtcpTypes {
    /// The types with their names, for output.
    pub fn named(&self) -> [(&'static str, u64); 9] {
        [
            ("sr", self.sr),
            ("rr", self.rr),
            ("sdes", self.sdes),
            ("bye", self.bye),
            ("app", self.app),
            ("xr", self.xr),
            ("rtpfb", self.rtpfb),
            ("psfb", self.psfb),
            ("other", self.other),
        ]
    }

    fn add(&mut self, o: &RtcpTypes) {
        self.sr += o.sr;
        self.rr += o.rr;
        self.sdes += o.sdes;
        self.bye += o.bye;
        self.app += o.app;
        self.xr += o.xr;
        self.rtpfb += o.rtpfb;
        self.psfb += o.psfb;
        self.other += o.other;
    }

    pub(crate) fn count(&mut self, p: &crate::wire::rtcp::Packet<'_>) {
        use crate::wire::rtcp::Packet;
        let slot = match p {
            Packet::SenderReport(_) => &mut self.sr,
            Packet::ReceiverReport(_) => &mut self.rr,
            Packet::Sdes(_) => &mut self.sdes,
            Packet::Bye(_) => &mut self.bye,
            Packet::App(_) => &mut self.app,
            Packet::Xr(_) => &mut self.xr,
            Packet::RtpFeedback(_) => &mut self.rtpfb,
            Packet::PsFeedback(_) => &mut self.psfb,
            Packet::Unknown { .. } => &mut self.other,
        };
        *slot += 1;
    }
}

impl Counters {
    /// Add another engine's (or the capture thread's) counters: the shards of one pipeline
    /// count disjoint things, so their sum is what a single engine would have counted.
    pub fn add(&mut self, o: &Counters) {
        // Destructured so that a new field cannot be forgotten here.
        let Counters {
            udp_datagrams,
            rtp_packets,
            rtp_invalid,
            rtp_unvalidated,
            rtcp_packets,
            rtcp_malformed,
            srtcp_packets,
            rtcp_unmatched,
            stun_messages,
            stun_rtt_samples,
            dtls_records,
            zrtp_packets,
            turn_channel_data,
            turn_indications,
            other_udp,
            port_filtered,
            candidates_dropped,
            streams_created,
            streams_evicted,
            probe_dropped_unattributed,
            rtcp_types,
        } = o;
        self.udp_datagrams += udp_datagrams;
        self.rtp_packets += rtp_packets;
        self.rtp_invalid += rtp_invalid;
        self.rtp_unvalidated += rtp_unvalidated;
        self.rtcp_packets += rtcp_packets;
        self.rtcp_malformed += rtcp_malformed;
        self.srtcp_packets += srtcp_packets;
        self.rtcp_unmatched += rtcp_unmatched;
        self.stun_messages += stun_messages;
        self.stun_rtt_samples += stun_rtt_samples;
        self.dtls_records += dtls_records;
        self.zrtp_packets += zrtp_packets;
        self.turn_channel_data += turn_channel_data;
        self.turn_indications += turn_indications;
        self.other_udp += other_udp;
        self.port_filtered += port_filtered;
        self.candidates_dropped += candidates_dropped;
        self.streams_created += streams_created;
        self.streams_evicted += streams_evicted;
        self.probe_dropped_unattributed += probe_dropped_unattributed;
        self.rtcp_types.add(rtcp_types);
    }
}
