//! pcap and pcapng files: classic pcap through our own block reader (`classic.rs`) with
//! libpcap behind it, pcapng through [`super::pcapng`].
//!
//! Classic pcap: libpcap always opens the file (its checks and errors on opening, its link
//! type) and reads from the first record the block reader hands back on: it skips the records
//! already handed out and goes on from there, so a damaged file gives libpcap's error at the
//! same packet. libpcap reads classic pcap (microsecond and nanosecond magic); we always open
//! with nanosecond precision so timestamps keep whatever resolution the file has. pcapng (told
//! by its magic) goes to [`PcapngSource`], which reads interfaces of different link types
//! (libpcap refuses those) and says which interface each packet came from; it applies each
//! interface's `if_tsresol` (10^-n or 2^-n s) and `if_tsoffset`
//! (tests/cli_output.rs::pcapng_time_resolution_and_offset checks both): a capture whose
//! duration reads in years really holds packets years apart (files merged with `mergecap`, as
//! in fixtures/ndpi-rtp-vlan-h263-mixed.pcapng, 2012 and 2022), which the table points out. A truncated or
//! damaged file is reported with the 1-based number of the packet that could not be read; every
//! packet before it has already been handed out, so the caller can still analyse and report it.

use super::classic::{Classic, Next};
use super::pcapng::{is_pcapng, PcapngSource};
use super::{CaptureError, Frame, PacketSource};
use pcap::{Capture, Offline, Precision};
use std::io::Read;
use std::path::Path;

/// A pcap/pcapng file opened for reading.
pub struct FileSource {
    cap: Reader,
    /// The block reader while it reads classic pcap; `None` once libpcap reads (or always
    /// does), and for pcapng.
    fast: Option<Classic>,
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
        let mut src = Self::open_libpcap(path)?;
        if matches!(src.cap, Reader::Pcap(_)) {
            src.fast = Classic::open(path);
        }
        Ok(src)
    }

    /// Open `path` without the block reader: classic pcap read by libpcap alone (the reference
    /// the block reader is checked against: tests and the `pcap_file` fuzz target).
    pub fn open_libpcap(path: &Path) -> Result<Self, CaptureError> {
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
                fast: None,
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
            fast: None,
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

    /// Let libpcap read from the next record on: it skips the records already handed out.
    fn hand_off(&mut self) -> Result<(), CaptureError> {
        self.fast = None;
        let Reader::Pcap(cap) = &mut self.cap else {
            return Ok(());
        };
        for n in 1..=self.packets {
            match cap.next_packet() {
                Ok(_) => {}
                // The file changed under us: libpcap's view from here on is what counts.
                Err(pcap::Error::NoMorePackets) => break,
                Err(e) => {
                    return Err(CaptureError::Read {
                        path: self.path.clone(),
                        packet: n,
                        reason: e.to_string(),
                    })
                }
            }
        }
        Ok(())
    }
}

impl PacketSource for FileSource {
    fn linktype(&self) -> i32 {
        self.linktype
    }

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        match self.fast.as_mut().map(Classic::next) {
            Some(Next::Frame {
                sec,
                frac,
                orig_len,
                at,
                caplen,
            }) => {
                self.packets += 1;
                let data = self.fast.as_ref().map_or(&[][..], |f| f.bytes(at, caplen));
                return Ok(Some(Frame {
                    ts_ns: unix_ns(sec, frac),
                    orig_len,
                    data,
                    interface: 0,
                    linktype: self.linktype,
                }));
            }
            Some(Next::End) => return Ok(None),
            Some(Next::Handoff) => self.hand_off()?,
            None => {}
        }
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

    /// A classic pcap file: header picked by `sel` ([`crate::fuzzing::pcap_file_header`]),
    /// then records of (seconds, fraction, caplen field, len, bytes).
    fn classic(sel: u8, records: &[(u32, u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut f = crate::fuzzing::pcap_file_header(sel);
        let big = sel & 2 != 0;
        for &(sec, frac, caplen, len, data) in records {
            for v in [sec, frac, caplen, len] {
                f.extend_from_slice(&if big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                });
            }
            f.extend_from_slice(data);
        }
        f
    }

    /// Frames of `bytes` read by FileSource, checked against libpcap alone; and whether the
    /// block reader was still reading at the end.
    fn read_both(name: &str, bytes: &[u8]) -> (u64, Result<(), String>, bool) {
        let path = std::env::temp_dir().join(format!(
            "rtcprobe-classic-{name}-{}.pcap",
            std::process::id()
        ));
        std::fs::write(&path, bytes).unwrap();
        let same = crate::fuzzing::same_as_libpcap(&path);
        let mut src = FileSource::open(&path).unwrap();
        let end = loop {
            match src.next_frame() {
                Ok(Some(_)) => {}
                Ok(None) => break Ok(()),
                Err(e) => break Err(e.to_string()),
            }
        };
        let fast = src.fast.is_some();
        std::fs::remove_file(&path).unwrap();
        (same.unwrap(), end, fast)
    }

    #[test]
    fn every_byte_order_and_resolution_reads_as_libpcap_does_without_it() {
        let frame = [0xabu8; 60];
        for sel in 0..16u8 {
            let recs: Vec<(u32, u32, u32, u32, &[u8])> = vec![
                (1_700_000_000, 999_999, 60, 60, &frame),
                // Seconds past 2038: libpcap sign-extends them.
                (0x8000_0001, 999_999, 0, 1500, &[]),
                (4_102_444_800, 999_999, 40, 1514, &frame[..40]),
            ];
            let (n, end, fast) = read_both(&format!("order{sel}"), &classic(sel, &recs));
            assert_eq!((n, end), (3, Ok(())), "sel {sel}");
            assert!(fast, "sel {sel}: the block reader read the whole file");
        }
    }

    #[test]
    fn records_across_the_block_boundary() {
        let data: Vec<u8> = (0..=255u8).cycle().take(2000).collect();
        let recs: Vec<(u32, u32, u32, u32, &[u8])> = (0..3000u32)
            .map(|i| {
                let l = (i * 7919 % 1500) as usize;
                (i, i, l as u32, 1500, &data[..l])
            })
            .collect();
        let (n, end, fast) = read_both("boundary", &classic(8, &recs));
        assert_eq!((n, end, fast), (3000, Ok(()), true));
    }

    #[test]
    fn damaged_files_give_libpcaps_errors_at_the_same_packet() {
        let frame = [7u8; 100];
        let ok: (u32, u32, u32, u32, &[u8]) = (1, 2, 100, 100, &frame);
        // Cut in the second record's header.
        let mut cut_header = classic(0, &[ok, ok]);
        cut_header.truncate(24 + 116 + 10);
        // Cut in the second record's bytes.
        let mut cut_data = classic(0, &[ok, ok]);
        cut_data.truncate(24 + 116 + 16 + 50);
        let cases: [(&str, Vec<u8>, &str); 5] = [
            // A fraction of a second past a second (top bit set): libpcap's to read.
            (
                "fraction",
                classic(0, &[ok, (1, 0x8000_0000, 100, 100, &frame)]),
                "",
            ),
            ("cut_header", cut_header, "packet 2: "),
            ("cut_data", cut_data, "packet 2: "),
            // Snapshot length 64 (sel bits 2-3 = 1): a 100-byte record is libpcap's to cut
            // or refuse.
            ("over_snaplen", classic(4, &[ok, ok]), ""),
            // Bigger than libpcap's 256 KiB: an error at packet 2.
            (
                "over_max",
                classic(0, &[ok, (1, 2, 300_000, 300_000, &frame)]),
                "packet 2: ",
            ),
        ];
        for (name, bytes, want) in cases {
            let (_, end, fast) = read_both(name, &bytes);
            assert!(!fast, "{name}: handed to libpcap");
            if !want.is_empty() {
                let e = end.unwrap_err();
                assert!(e.contains(want), "{name}: {e}");
            }
        }
    }

    #[test]
    fn other_versions_and_pcapng_are_libpcaps() {
        let recs: [(u32, u32, u32, u32, &[u8]); 1] = [(1, 2, 3, 3, &[1, 2, 3])];
        let (n, end, fast) = read_both("v23", &classic(0x10, &recs));
        assert_eq!((n, end, fast), (1, Ok(()), false));
        let mut ng = Vec::new();
        let mut w = crate::synth::pcap::PcapngWriter::new(&mut ng).unwrap();
        let i = w.add_interface(1, 65_535).unwrap();
        w.write_frame(i, 1_700_000_000_000_000_000, &[0u8; 60])
            .unwrap();
        drop(w);
        let (n, end, fast) = read_both("ng", &ng);
        assert_eq!((n, end, fast), (1, Ok(()), false));
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
