//! pcap files through libpcap, pcapng files through [`super::pcapng`].
//!
//! libpcap reads classic pcap (microsecond and nanosecond magic); we always open with
//! nanosecond precision so timestamps keep whatever resolution the file has. pcapng (told by its
//! magic) goes to [`PcapngSource`], which reads interfaces of different link types (libpcap
//! refuses those) and says which interface each packet came from; it applies each interface's
//! `if_tsresol` (10^-n or 2^-n s) and `if_tsoffset`
//! (tests/cli_output.rs::pcapng_time_resolution_and_offset checks both): a capture whose
//! duration reads in years really holds packets years apart (files merged with `mergecap`, as
//! in fixtures/ndpi-rtp-vlan-h263-mixed.pcapng, 2012 and 2022), which the table points out. A truncated or
//! damaged file is reported with the 1-based number of the packet that could not be read; every
//! packet before it has already been handed out, so the caller can still analyse and report it.

use super::pcapng::{is_pcapng, PcapngSource};
use super::{CaptureError, Frame, PacketSource};
use pcap::{Capture, Offline, Precision};
use std::io::Read;
use std::path::Path;

/// A pcap/pcapng file opened for reading.
pub struct FileSource {
    cap: Reader,
    path: String,
    packets: u64,
    linktype: i32,
}

enum Reader {
    Pcap(Capture<Offline>),
    Pcapng(Box<PcapngSource>),
}

impl FileSource {
    /// Open `path`. Fails with a message naming the file when it is missing or not a capture.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let shown = path.display().to_string();
        let mut head = [0u8; 4];
        let pcapng = std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
            && is_pcapng(&head);
        if pcapng {
            let src = PcapngSource::open(path)?;
            return Ok(FileSource {
                linktype: src.linktype(),
                cap: Reader::Pcapng(Box::new(src)),
                path: shown,
                packets: 0,
            });
        }
        let cap = Capture::from_file_with_precision(path, Precision::Nano).map_err(|e| {
            CaptureError::Open {
                path: shown.clone(),
                reason: e.to_string(),
            }
        })?;
        let linktype = cap.get_datalink().0;
        Ok(FileSource {
            cap: Reader::Pcap(cap),
            path: shown,
            packets: 0,
            linktype,
        })
    }

    /// Packets read so far.
    pub fn packets(&self) -> u64 {
        match &self.cap {
            Reader::Pcap(_) => self.packets,
            Reader::Pcapng(s) => s.packets(),
        }
    }

    /// Interfaces described so far (pcapng; 1 for classic pcap).
    pub fn interface_count(&self) -> usize {
        match &self.cap {
            Reader::Pcap(_) => 1,
            Reader::Pcapng(s) => s.interface_count(),
        }
    }

    /// The pcapng interfaces' names (`if_name`) so far, by interface number; empty for classic
    /// pcap.
    pub fn interface_names(&self) -> Vec<Option<String>> {
        match &self.cap {
            Reader::Pcap(_) => Vec::new(),
            Reader::Pcapng(s) => s.interface_names(),
        }
    }
}

impl PacketSource for FileSource {
    fn linktype(&self) -> i32 {
        self.linktype
    }

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        let cap = match &mut self.cap {
            Reader::Pcap(c) => c,
            Reader::Pcapng(s) => return s.next_frame(),
        };
        match cap.next_packet() {
            Ok(p) => {
                self.packets += 1;
                let ts = p.header.ts;
                // With Precision::Nano libpcap puts nanoseconds in tv_usec. time_t is i64 here;
                // the conversion keeps 32-bit targets building.
                #[allow(clippy::useless_conversion)]
                let ts_ns = unix_ns(i64::from(ts.tv_sec), i64::from(ts.tv_usec));
                Ok(Some(Frame {
                    ts_ns,
                    orig_len: p.header.len,
                    data: p.data,
                    interface: 0,
                    linktype: self.linktype,
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

/// Capture time in ns since the epoch from libpcap's seconds and (with `Precision::Nano`)
/// nanoseconds. Classic pcap stores seconds as an unsigned 32-bit number (to 2106), but libpcap
/// reads it as signed and sign-extends it into `time_t`: a capture from 2038-01-19 on would read
/// as 1901–1969. Captures from before 1970 do not exist, so negative seconds in the 32-bit
/// range are taken back as unsigned; pcapng's 64-bit timestamps never come out negative.
fn unix_ns(sec: i64, nsec: i64) -> i64 {
    let sec = if (i64::from(i32::MIN)..0).contains(&sec) {
        sec + (1i64 << 32)
    } else {
        sec
    };
    sec.saturating_mul(1_000_000_000).saturating_add(nsec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::pcap::{PcapWriter, TsResolution};

    #[test]
    fn seconds_past_2038_read_as_unsigned() {
        // 2100-01-01T00:00:00Z is 4,102,444,800 s: above 2^31, below 2^32.
        let t2100 = 4_102_444_800 * 1_000_000_000 + 123_456_000;
        let t2038 = (1i64 << 31) * 1_000_000_000;
        let path =
            std::env::temp_dir().join(format!("rtcprobe-ts2100-{}.pcap", std::process::id()));
        let f = std::fs::File::create(&path).unwrap();
        let mut w = PcapWriter::new(f, 1, 65_535, TsResolution::Micro).unwrap();
        for t in [t2100, t2038, 1_700_000_000_000_000_000] {
            w.write_frame(t, &[0u8; 60]).unwrap();
        }
        w.into_inner().unwrap();
        let mut src = FileSource::open(&path).unwrap();
        let mut got = Vec::new();
        while let Some(f) = src.next_frame().unwrap() {
            got.push(f.ts_ns);
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got, [t2100, t2038, 1_700_000_000_000_000_000]);
    }

    #[test]
    fn only_the_sign_extended_range_is_reinterpreted() {
        assert_eq!(unix_ns(-1, 5), ((1i64 << 32) - 1) * 1_000_000_000 + 5);
        assert_eq!(
            unix_ns(i64::from(i32::MIN), 0),
            (1i64 << 31) * 1_000_000_000
        );
        assert_eq!(unix_ns(1 << 33, 0), (1i64 << 33) * 1_000_000_000);
        assert_eq!(unix_ns(i64::MIN, 0), i64::MIN);
        assert_eq!(unix_ns(i64::MAX, 0), i64::MAX);
    }
}
