//! Synthetic captures with known ground truth, for the probe's tests and benchmarks.
//!
//! This module only *builds* bytes. It deliberately shares no code with [`crate::wire`] or
//! [`crate::engine`]: if it did, a misreading of an RFC would be baked into both the probe and
//! the oracle that checks it. It carries its own PRNG ([`rng`]), writers ([`pcap`]), frame
//! builders ([`frame`], [`rtp`], [`rtcp`], [`stun`]), a declarative scenario model
//! ([`scenario`]) whose [`Scenario::build`] yields a time-sorted [`Capture`] plus [`Truth`],
//! and ready-made scenarios ([`scenarios`]).
//!
//! What it does not do: model real codecs, encrypt anything, or decode.

mod build;
pub mod calls;
pub mod churn;
pub mod forwarding;
pub mod frame;
pub mod hop;
pub mod ice_turn;
pub mod middlebox;
pub mod pcap;
pub mod rng;
pub mod rtcp;
pub mod rtp;
pub mod scenario;
pub mod scenarios;
mod signal;
pub mod stun;
pub mod tcp;
pub mod truth;
pub mod video;

#[cfg(test)]
mod tests;

use std::io::{self, Write};

pub use frame::Encap;
pub use pcap::{PcapWriter, PcapngWriter, TsResolution, DEFAULT_SNAPLEN};
pub use scenario::{Scenario, StreamSpec};
pub use truth::{StreamTruth, Truth};

/// What a frame carries, so tests can select frames without decoding them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// An RTP packet of `Scenario::streams[stream]` (possibly TURN-wrapped).
    Rtp { stream: usize },
    /// An RTCP compound sent by or about that stream (possibly TURN-wrapped).
    Rtcp { stream: usize },
    /// A STUN Binding request or response on that stream's 5-tuple.
    Stun { stream: usize },
    /// TCP, IP fragments, unclassifiable UDP, SRTCP.
    Noise,
}

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Capture timestamp, Unix epoch ns.
    pub ts_ns: i64,
    /// LINKTYPE_* of `bytes`.
    pub linktype: u32,
    pub bytes: Vec<u8>,
    pub kind: FrameKind,
}

/// A built scenario: frames sorted by capture time (stable: equal times keep generation order)
/// and the ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    pub frames: Vec<Frame>,
    pub truth: Truth,
}

impl Capture {
    /// The distinct link types, in order of first appearance.
    pub fn linktypes(&self) -> Vec<u32> {
        let mut v: Vec<u32> = Vec::new();
        for f in &self.frames {
            if !v.contains(&f.linktype) {
                v.push(f.linktype);
            }
        }
        v
    }

    /// Write a classic pcap file.
    ///
    /// # Errors
    /// `InvalidInput` if the frames use more than one link type (classic pcap has one per
    /// file: use [`write_pcapng`](Self::write_pcapng)), or the writer's error.
    pub fn write_pcap<W: Write>(&self, w: W, res: TsResolution, snaplen: u32) -> io::Result<W> {
        let lts = self.linktypes();
        if lts.len() > 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("frames use link types {lts:?}; classic pcap holds one, write pcapng"),
            ));
        }
        let mut p = PcapWriter::new(w, lts.first().copied().unwrap_or(1), snaplen, res)?;
        for f in &self.frames {
            p.write_frame(f.ts_ns, &f.bytes)?;
        }
        p.into_inner()
    }

    /// Write a pcapng file: one IDB (nanosecond resolution) per link type, written up front.
    pub fn write_pcapng<W: Write>(&self, w: W, snaplen: u32) -> io::Result<W> {
        let lts = self.linktypes();
        let mut p = PcapngWriter::new(w)?;
        for lt in &lts {
            p.add_interface(*lt, snaplen)?;
        }
        for f in &self.frames {
            // The interface id is the link type's position; every frame's type is in `lts`.
            let id = lts.iter().position(|l| *l == f.linktype).unwrap_or(0) as u32;
            p.write_frame(id, f.ts_ns, &f.bytes)?;
        }
        p.into_inner()
    }
}
