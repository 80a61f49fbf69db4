//! Sans-IO, zero-copy decoding of captured frames.
//!
//! Every type here is a borrowed view over the capture buffer. Constructors (`new_checked`)
//! check lengths once, after which no accessor can panic. Nothing in this module allocates,
//! reads a clock or does IO. Truncation is normal (snap lengths cut packets): errors say which
//! layer was cut, and every error has a bounded [`reason`](DecodeError::reason) that can be used
//! as a metric label.
//!
//! Layers: [`link`] (Ethernet/802.1Q/802.1ad, Linux SLL and SLL2, BSD NULL, raw IP) →
//! [`ip`] (IPv4, IPv6 with extension headers skipped) → [`udp`] or [`tcp`] → [`demux`] (RFC 7983:
//! STUN / DTLS / TURN ChannelData / RTP / RTCP, RFC 5761 mux) → [`rtp`], [`rtcp`], [`stun`].

pub mod demux;
pub mod frame;
pub mod ip;
pub mod link;
pub mod rtcp;
pub mod rtp;
pub mod stun;
pub mod tcp;
pub mod udp;

pub use frame::{decode, decode_udp, Datagram, Decoded, Segment};
pub use link::LinkType;

/// The protocol layer at which decoding stopped; bounded, usable as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Link,
    Ipv4,
    Ipv6,
    Udp,
    Tcp,
    Stun,
    ChannelData,
    Rtp,
    Rtcp,
}

impl Layer {
    /// A short lowercase name for logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Udp => "udp",
            Layer::Tcp => "tcp",
            Layer::Stun => "stun",
            Layer::ChannelData => "channeldata",
            Layer::Rtp => "rtp",
            Layer::Rtcp => "rtcp",
        }
    }
}

/// Why a frame could not be decoded down to a UDP payload. Small and bounded on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DecodeError {
    /// The buffer ends before the header of `0` does (snap length or a damaged packet).
    #[error("truncated {} header", .0.name())]
    Truncated(Layer),
    /// A header field is impossible (bad version, header length shorter than the minimum, …).
    #[error("malformed {} header", .0.name())]
    Malformed(Layer),
    /// The link type is not one we decode.
    #[error("unsupported link type")]
    UnsupportedLink,
    /// The frame carries something other than IPv4/IPv6 (ARP, STP, LLC, …).
    #[error("not an IP packet")]
    NotIp,
    /// IP, but not UDP (TCP, ICMP, ESP, …).
    #[error("not a UDP packet")]
    NotUdp,
    /// An IPv4 fragment (or IPv6 fragment header): counted, not reassembled.
    #[error("IP fragment")]
    Fragment,
}

impl DecodeError {
    /// A bounded reason string for metric labels and drop counters.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated(Layer::Link) => "truncated_link",
            DecodeError::Truncated(Layer::Ipv4) => "truncated_ipv4",
            DecodeError::Truncated(Layer::Ipv6) => "truncated_ipv6",
            DecodeError::Truncated(Layer::Udp) => "truncated_udp",
            DecodeError::Truncated(Layer::Tcp) => "truncated_tcp",
            DecodeError::Truncated(_) => "truncated_payload",
            DecodeError::Malformed(Layer::Link) => "malformed_link",
            DecodeError::Malformed(Layer::Ipv4) => "malformed_ipv4",
            DecodeError::Malformed(Layer::Ipv6) => "malformed_ipv6",
            DecodeError::Malformed(Layer::Udp) => "malformed_udp",
            DecodeError::Malformed(Layer::Tcp) => "malformed_tcp",
            DecodeError::Malformed(_) => "malformed_payload",
            DecodeError::UnsupportedLink => "unsupported_link",
            DecodeError::NotIp => "not_ip",
            DecodeError::NotUdp => "not_udp",
            DecodeError::Fragment => "ip_fragment",
        }
    }
}
