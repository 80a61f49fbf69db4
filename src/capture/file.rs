//! pcap and pcapng files through libpcap.
//!
//! libpcap reads classic pcap (microsecond and nanosecond magic) and pcapng; we always open with
//! nanosecond precision so timestamps keep whatever resolution the file has. libpcap applies each
//! pcapng interface's `if_tsresol` (10^-n or 2^-n s) and `if_tsoffset`
//! (tests/cli_output.rs::pcapng_time_resolution_and_offset checks both): a capture whose
//! duration reads in years really holds packets years apart (files merged with `mergecap`, as
//! in fixtures/ndpi-rtp-vlan-h263-mixed.pcapng, 2012 and 2022), which the table points out. A truncated or
//! damaged file is reported with the 1-based number of the packet that could not be read; every
//! packet before it has already been handed out, so the caller can still analyse and report it.

use super::{CaptureError, Frame, PacketSource};
use pcap::{Capture, Offline, Precision};
use std::path::Path;

/// A pcap/pcapng file opened for reading.
pub struct FileSource {
    cap: Capture<Offline>,
    path: String,
    packets: u64,
    linktype: i32,
}

impl FileSource {
    /// Open `path`. Fails with a message naming the file when it is missing or not a capture.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let shown = path.display().to_string();
        let cap = Capture::from_file_with_precision(path, Precision::Nano).map_err(|e| {
            CaptureError::Open {
                path: shown.clone(),
                reason: e.to_string(),
            }
        })?;
        let linktype = cap.get_datalink().0;
        Ok(FileSource {
            cap,
            path: shown,
            packets: 0,
            linktype,
        })
    }

    /// Packets read so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }
}

impl PacketSource for FileSource {
    fn linktype(&self) -> i32 {
        self.linktype
    }

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        match self.cap.next_packet() {
            Ok(p) => {
                self.packets += 1;
                let ts = p.header.ts;
                // With Precision::Nano libpcap puts nanoseconds in tv_usec. time_t is i64 here;
                // the conversion keeps 32-bit targets building.
                #[allow(clippy::useless_conversion)]
                let ts_ns = i64::from(ts.tv_sec)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(i64::from(ts.tv_usec));
                Ok(Some(Frame {
                    ts_ns,
                    orig_len: p.header.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(CaptureError::Read {
                path: self.path.clone(),
                packet: self.packets + 1,
                reason: e.to_string(),
            }),
        }
    }
}
