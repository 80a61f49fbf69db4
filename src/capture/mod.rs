//! Packet sources behind one trait.
//!
//! A source yields captured frames with their capture timestamp (ns since the Unix epoch), the
//! original length and the link type. Replay and live capture feed the same engine through this
//! trait. Where a frame was seen (its observation point: interface, cooked-header interface index
//! or direction, pcapng interface) is named by [`point`]; the engine sees only the interned id.
//! This module is IO: nothing here decodes beyond the link header's origin fields.

mod classic;
pub mod file;
pub mod live;
pub mod pcapng;
pub mod point;

pub use file::FileSource;
pub use live::{Fanout, LiveOptions, LiveSource, LiveStats, Next};
pub use point::PointResolver;

/// One captured frame, borrowed from the source's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Length of the packet on the wire (may exceed `data.len()` when the snap length cut it).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// The pcapng interface (numbered across the file) it was captured on; 0 for other sources.
    pub interface: u32,
    /// The pcap LINKTYPE_ of `data` (pcapng interfaces may differ from each other).
    pub linktype: i32,
}

/// Why a source stopped early.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("{path}: packet {packet}: {reason}")]
    Read {
        path: String,
        packet: u64,
        reason: String,
    },
}

/// A source of captured frames (pcap file, pcapng file). Live capture has its own API
/// ([`LiveSource::next`] with a wait budget) because it must come back when nothing arrives.
pub trait PacketSource {
    /// The pcap LINKTYPE_ value of the frames this source yields.
    fn linktype(&self) -> i32;
    /// The next frame, `Ok(None)` at the end, or an error naming the packet number that failed.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError>;
}
