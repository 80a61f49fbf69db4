//! The ICE/TURN stage of a capture thread: every STUN message and TURN ChannelData datagram
//! (UDP, and the frames the TCP stage cut out of TURN-TCP and ICE-TCP connections) goes to the
//! ICE session table ([`super::ice`]) and the TURN allocation table ([`super::turn`]); every
//! RTP/RTCP datagram is offered to both only while they track something, so that a capture
//! without WebRTC signalling pays one branch per packet for it.
//!
//! It runs on the capture thread before sharding: an ICE session spans several 5-tuples and a
//! TURN allocation links the client's 5-tuple to the relayed address and its peers, so no
//! shard worker (which owns streams by SSRC) sees a whole one.

use super::ice::{IceCounters, IceLimits, IceSessionRecord, IceTable};
use super::turn::{TurnAllocationRecord, TurnCounters, TurnLimits, TurnTable};
use crate::engine::{ObservationPoint, PointNames};
use crate::wire::demux::{classify, Demuxed, Turn};
use crate::wire::stun::Message;
use crate::wire::Datagram;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// Which side of a TURN relay a stream was seen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// Not through TURN (ICE sessions).
    Direct,
    /// Between the client and the TURN server: in ChannelData or Send/Data indications.
    Client,
    /// Between the relayed address and a peer: plain datagrams.
    Relayed,
}

/// A stream as the stage saw it (copied per new stream, compared per packet: no strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaRef {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub ssrc: u32,
    pub point: ObservationPoint,
    pub leg: Leg,
    /// The TURN peer the data goes to or comes from.
    pub peer: Option<SocketAddr>,
}

/// A reference to a `streams` entry of the same report (src, dst, ssrc, observed_at are its
/// key), with the TURN leg and peer when relayed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StreamRef {
    pub src: String,
    pub dst: String,
    pub ssrc: u32,
    pub observed_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leg: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

impl MediaRef {
    pub fn render(&self, names: &PointNames) -> StreamRef {
        StreamRef {
            src: self.src.to_string(),
            dst: self.dst.to_string(),
            ssrc: self.ssrc,
            observed_at: names.name(self.point).to_string(),
            leg: match self.leg {
                Leg::Direct => None,
                Leg::Client => Some("client"),
                Leg::Relayed => Some("relayed"),
            },
            peer: self.peer.map(|p| p.to_string()),
        }
    }
}

/// Limits and privacy of the stage (`[ice_turn]` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallLimits {
    pub ice: IceLimits,
    pub turn: TurnLimits,
}

/// The ICE and TURN tables of one capture thread.
#[derive(Debug)]
pub struct CallStage {
    pub ice: IceTable,
    pub turn: TurnTable,
}

/// What the stage counted (both tables).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CallCounters {
    pub ice: IceCounters,
    pub turn: TurnCounters,
}

impl CallCounters {
    pub fn is_zero(&self) -> bool {
        *self == CallCounters::default()
    }

    /// Add `o` (several capture threads).
    pub fn add(&mut self, o: &CallCounters) {
        self.ice.add(&o.ice);
        self.turn.add(&o.turn);
    }
}

/// An ICE session or TURN allocation that ended, on its way to the output.
#[derive(Debug, Clone)]
pub enum CallEnded {
    Ice(IceSessionRecord),
    Turn(TurnAllocationRecord),
}

/// An ended call of any kind, as `/calls` and the call records (`crate::forward::call_record`)
/// take it: its record carries its `kind` (`sip`, `ice`, `turn`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CallView {
    Sip(crate::sip::SipCall),
    Ice(IceSessionRecord),
    Turn(TurnAllocationRecord),
}

impl CallView {
    pub fn kind(&self) -> &'static str {
        match self {
            CallView::Sip(c) => c.kind,
            CallView::Ice(s) => s.kind,
            CallView::Turn(a) => a.kind,
        }
    }
}

/// The SSRC of an RTP packet (bytes 8..12) or of an RTCP packet's sender (bytes 4..8).
fn ssrc_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_be_bytes)
}

impl CallStage {
    pub fn new(limits: &CallLimits, names: Arc<PointNames>) -> Self {
        CallStage {
            ice: IceTable::new(limits.ice, Arc::clone(&names)),
            turn: TurnTable::new(limits.turn.clone(), names),
        }
    }

    pub fn counters(&self) -> CallCounters {
        CallCounters {
            ice: *self.ice.counters(),
            turn: *self.turn.counters(),
        }
    }

    /// One datagram (or TCP frame) at `now`, seen at `point`. RTP costs one branch on the
    /// first byte and, only while something is tracked, two hash lookups.
    #[inline]
    pub fn on_datagram(&mut self, now: i64, dg: &Datagram<'_>, point: ObservationPoint) {
        match dg.payload.first() {
            // STUN (RFC 7983: 0..=3) or TURN ChannelData (64..=127: RFC 5766's channels,
            // which coturn uses; `classify` decides).
            Some(0..=3 | 64..=127) => self.signalling(now, dg, point),
            Some(128..=191) if !(self.ice.is_empty() && self.turn.is_empty()) => {
                self.media(now, dg, point)
            }
            _ => {}
        }
    }

    #[cold]
    fn signalling(&mut self, now: i64, dg: &Datagram<'_>, point: ObservationPoint) {
        let c = classify(dg.payload);
        match (c.turn, c.inner) {
            (None, Demuxed::Stun(m)) => self.stun(now, dg.src, dg.dst, &m),
            (Some(turn), inner) => {
                // Wrapped data: the relay's client leg.
                let peer = self.turn.on_wrapped(now, dg, turn);
                if let Some(r) = media_ref(dg.src, dg.dst, inner, point, Leg::Client, peer) {
                    self.turn.on_client_media(now, &r);
                    self.ice.on_media(now, &r);
                }
                // ICE checks relayed through TURN indications are checks between the relayed
                // candidates: follow them on the client leg's 5-tuple.
                if let (Turn::SendIndication | Turn::DataIndication, Demuxed::Stun(m)) =
                    (turn, inner)
                {
                    self.ice.on_stun(now, dg.src, dg.dst, &m);
                }
            }
            _ => {}
        }
    }

    fn stun(&mut self, now: i64, src: SocketAddr, dst: SocketAddr, m: &Message<'_>) {
        self.ice.on_stun(now, src, dst, m);
        self.turn.on_stun(now, src, dst, m);
    }

    fn media(&mut self, now: i64, dg: &Datagram<'_>, point: ObservationPoint) {
        let Some(r) = media_ref(
            dg.src,
            dg.dst,
            crate::wire::demux::demux(dg.payload),
            point,
            Leg::Direct,
            None,
        ) else {
            return;
        };
        if !self.ice.on_media(now, &r) {
            self.turn.on_relayed_media(now, &r);
        }
    }

    /// End what has been idle; call about once a second of capture time.
    pub fn expire(&mut self, now: i64) {
        self.ice.expire(now);
        self.turn.expire(now);
    }

    /// End everything (the end of the capture).
    pub fn finish(&mut self) {
        self.ice.finish();
        self.turn.finish();
    }

    /// What ended since the last call.
    pub fn drain(&mut self) -> (Vec<IceSessionRecord>, Vec<TurnAllocationRecord>) {
        (self.ice.drain(), self.turn.drain())
    }
}

/// The reference of an RTP or RTCP packet on `(src, dst)`; `None` for anything else.
fn media_ref(
    src: SocketAddr,
    dst: SocketAddr,
    inner: Demuxed<'_>,
    point: ObservationPoint,
    leg: Leg,
    peer: Option<SocketAddr>,
) -> Option<MediaRef> {
    let ssrc = match inner {
        Demuxed::Rtp(b) => ssrc_at(b, 8),
        // RTCP is media too (it keeps a pair alive), but its sender is not a stream key.
        Demuxed::Rtcp(_) => return None,
        _ => return None,
    };
    Some(MediaRef {
        src,
        dst,
        ssrc,
        point,
        leg,
        peer,
    })
}
