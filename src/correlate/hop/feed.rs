//! From a decoded UDP datagram to the matcher's input: the stream key and [`RtpSummary`] of
//! an RTP packet (RFC 7983 demultiplex and TURN unwrapping as the engine does), nothing else.

use super::RtpSummary;
use crate::engine::{ObservationPoint, StreamKey};
use crate::wire::demux::{classify, Demuxed};
use crate::wire::{rtp, Datagram};

/// The RTP packet a datagram seen at `point` carries, if any: its stream and summary. The
/// payload length is taken from the wire length when the snap length cut the packet (plain
/// UDP only).
pub fn summarize(dg: &Datagram<'_>, point: ObservationPoint) -> Option<(StreamKey, RtpSummary)> {
    let c = classify(dg.payload);
    let Demuxed::Rtp(buf) = c.inner else {
        return None;
    };
    let p = rtp::Packet::new_header_only(buf).ok()?;
    let len = if c.turn.is_none() {
        dg.wire_len.max(buf.len())
    } else {
        buf.len()
    };
    let key = StreamKey {
        src: dg.src,
        dst: dg.dst,
        ssrc: p.ssrc(),
        point,
    };
    let s = RtpSummary {
        ssrc: p.ssrc(),
        seq: p.sequence_number(),
        ts: p.timestamp(),
        pt: p.payload_type(),
        marker: p.marker(),
        payload_len: u32::try_from(len.saturating_sub(p.header_len())).unwrap_or(u32::MAX),
    };
    Some((key, s))
}
