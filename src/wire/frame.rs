//! One captured frame down to its UDP payload or TCP segment: [`link`] → [`ip`] → [`udp`] or
//! [`tcp`](super::tcp).
//!
//! This is the capture thread's entry point into `wire`. It composes the layer views, checks what
//! only the composition can check (the UDP length against the IP length), and returns the
//! 5-tuple with a borrowed payload. It never allocates and never panics. It does not classify the
//! payload (that is [`super::demux`]) and does not reassemble fragments.

use std::net::{IpAddr, SocketAddr};

use super::ip::{self, Ipv4Packet, Ipv6Packet, Transport};
use super::link::{self, LinkType, Network};
use super::tcp::TcpSegment;
use super::udp::{self, UdpPacket};
use super::{DecodeError, Layer};

/// A UDP datagram found in a captured frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The captured UDP payload, trimmed to the UDP/IP length (Ethernet padding removed), possibly
    /// shorter than on the wire when the snap length cut it.
    pub payload: &'a [u8],
    /// The UDP payload length on the wire (UDP length field − 8), for byte accounting.
    pub wire_len: usize,
    /// Outermost VLAN ID, if tagged (802.1Q or 802.1ad).
    pub vlan: Option<u16>,
}

/// A TCP segment found in a captured frame: the input of the reassembler ([`crate::tcp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub tcp: TcpSegment<'a>,
    /// Outermost VLAN ID, if tagged.
    pub vlan: Option<u16>,
}

/// What a frame carries, decoded down to the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    Udp(Datagram<'a>),
    Tcp(Segment<'a>),
}

/// Decode one captured frame down to UDP. Never panics, never allocates.
///
/// Errors, by layer: see [`link::decode`], [`Ipv4Packet::new_checked`],
/// [`Ipv4Packet::transport`], [`Ipv6Packet::new_checked`], [`Ipv6Packet::transport`] and
/// [`UdpPacket::new_checked`]. In addition: [`DecodeError::NotUdp`] for any other upper-layer
/// protocol (TCP included: see [`decode`]), and `Malformed(Udp)` when the IP header leaves less
/// than 8 bytes for UDP or the UDP length field claims more than the IP header does.
#[inline]
pub fn decode_udp(link: LinkType, frame: &[u8]) -> Result<Datagram<'_>, DecodeError> {
    match decode(link, frame) {
        Ok(Decoded::Udp(d)) => Ok(d),
        Ok(Decoded::Tcp(_))
        | Err(DecodeError::Truncated(Layer::Tcp) | DecodeError::Malformed(Layer::Tcp)) => {
            Err(DecodeError::NotUdp)
        }
        Err(e) => Err(e),
    }
}

/// Decode one captured frame down to a UDP datagram or a TCP segment. Never panics, never
/// allocates. Errors as [`decode_udp`], plus [`TcpSegment::new_checked`]'s for TCP; TCP costs
/// the UDP path one comparison of the protocol number.
#[inline]
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let l = link::decode(link, frame)?;
    let (src, dst, t): (IpAddr, IpAddr, Transport<'_>) = match l.network {
        Network::Ipv4 => {
            let p = Ipv4Packet::new_checked(l.payload)?;
            (p.src_addr().into(), p.dst_addr().into(), p.transport()?)
        }
        Network::Ipv6 => {
            let p = Ipv6Packet::new_checked(l.payload)?;
            (p.src_addr().into(), p.dst_addr().into(), p.transport()?)
        }
    };
    if t.protocol != ip::protocol::UDP {
        return not_udp(src, dst, t, l.vlan);
    }
    if t.wire_len < udp::HEADER_LEN {
        return Err(DecodeError::Malformed(Layer::Udp));
    }
    let u = UdpPacket::new_checked(t.payload)?;
    if usize::from(u.length()) > t.wire_len {
        return Err(DecodeError::Malformed(Layer::Udp));
    }
    Ok(Decoded::Udp(Datagram {
        src: SocketAddr::new(src, u.src_port()),
        dst: SocketAddr::new(dst, u.dst_port()),
        payload: u.payload(),
        wire_len: u.payload_wire_len(),
        vlan: l.vlan,
    }))
}

/// The rest of [`decode`] for anything but UDP: a TCP segment, or `NotUdp`. Out of line, so
/// that the UDP path stays small enough to inline into the replay and capture loops.
#[inline(never)]
fn not_udp<'a>(
    src: IpAddr,
    dst: IpAddr,
    t: Transport<'a>,
    vlan: Option<u16>,
) -> Result<Decoded<'a>, DecodeError> {
    if t.protocol != ip::protocol::TCP {
        return Err(DecodeError::NotUdp);
    }
    let tcp = TcpSegment::new_checked(t.payload, t.wire_len)?;
    Ok(Decoded::Tcp(Segment {
        src: SocketAddr::new(src, tcp.src_port()),
        dst: SocketAddr::new(dst, tcp.dst_port()),
        tcp,
        vlan,
    }))
}

#[cfg(test)]
#[path = "frame/tests.rs"]
mod tests;
