//! pcapng files through the `pcap-parser` crate: every interface, whatever its link type.
//!
//! libpcap refuses a pcapng file whose interfaces have different link types (a capture on
//! `eth0` (Ethernet) and `tun0` (raw IP), or `mergecap` of two such files), and it does not say
//! which interface a packet came from, which is what observation points need
//! ([`crate::engine::obs`]). So pcapng goes through this reader, chosen by measurement among the
//! maintained crates (docs/benchmarks.md, "pcapng readers": `pcap-parser` read a 1-million-packet
//! two-interface file at 4.9 Mpps against 2.6 for `pcap-file` and 1.1–1.5 for `pcarp`, and a
//! single-interface one faster than libpcap), and classic pcap stays with libpcap.
//!
//! Each packet carries its interface's link type and is timed with that interface's
//! `if_tsresol` (10^-n or 2^-n s) and `if_tsoffset` (seconds), as libpcap does. Interfaces are
//! numbered across the whole file (a second section's interface 0 follows the first section's
//! last). Enhanced and simple packet blocks are packets; every other block is skipped.
//!
//! Hostile input: the crate parses with length checks (fuzzed: fuzz/fuzz_targets/pcapng.rs);
//! here a block is held in a buffer of at most [`MAX_BLOCK_BYTES`], at most [`MAX_INTERFACES`]
//! interfaces are kept, and a packet naming an interface that was never described is an error
//! naming the packet, like a truncated file.

use super::{CaptureError, Frame};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Block, PcapBlockOwned, PcapError, PcapNGReader};
use std::fs::File;
use std::io::Read;

/// Largest block read: far above any snap length (262,144 bytes), bounded so that a damaged
/// length field cannot make the reader allocate gigabytes.
pub const MAX_BLOCK_BYTES: usize = 16 << 20;
/// Interfaces described in one file, beyond which the file is refused as damaged.
pub const MAX_INTERFACES: usize = 4096;
/// Initial read buffer.
const BUFFER_BYTES: usize = 1 << 20;
/// `if_name` option code (pcapng §4.2).
const IF_NAME: u16 = 2;

/// The pcapng magic (Section Header Block type), in either byte order.
pub fn is_pcapng(head: &[u8]) -> bool {
    head.get(..4) == Some(&[0x0A, 0x0D, 0x0D, 0x0A])
}

#[derive(Debug, Clone)]
struct Iface {
    linktype: i32,
    /// Timestamp units per second (`if_tsresol`).
    units: u64,
    /// `if_tsoffset`, seconds.
    offset_s: i64,
    snaplen: u32,
}

/// A pcapng file (or any reader of one: the fuzz target reads memory) opened for reading.
pub struct PcapngSource<R: Read = File> {
    reader: PcapNGReader<R>,
    path: String,
    packets: u64,
    /// Interfaces of every section so far, in order.
    ifaces: Vec<Iface>,
    /// Their `if_name`s.
    names: Vec<Option<String>>,
    /// Index in `ifaces` of the current section's interface 0.
    section_base: usize,
    /// Bytes of the block handed out last, consumed on the next call.
    pending: usize,
    buffer: usize,
    /// A packet found while reading up to the first interface at open, handed out first.
    primed: Option<Found>,
    /// Byte order of the current section (its header's byte-order magic).
    big_endian: bool,
}

/// Where the packet found by [`PcapngSource::advance`] lies in the reader's buffer.
#[derive(Debug, Clone, Copy)]
struct Found {
    start: usize,
    len: usize,
    iface: usize,
    ts: u64,
    orig_len: u32,
}

impl PcapngSource<File> {
    /// Open `path` and read up to its first interface, so that [`PcapngSource::linktype`]
    /// is known.
    pub fn open(path: &std::path::Path) -> Result<Self, CaptureError> {
        let shown = path.display().to_string();
        let file = File::open(path).map_err(|e| CaptureError::Open {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        PcapngSource::from_reader(file, shown, BUFFER_BYTES)
    }
}

impl<R: Read> PcapngSource<R> {
    /// Read a pcapng file from `reader` (called `path` in errors), starting with a buffer of
    /// `buffer` bytes (grown up to [`MAX_BLOCK_BYTES`] for a larger block).
    pub fn from_reader(reader: R, path: String, buffer: usize) -> Result<Self, CaptureError> {
        let shown = path;
        let open = |reason: String| CaptureError::Open {
            path: shown.clone(),
            reason,
        };
        let reader = PcapNGReader::new(buffer, reader)
            .map_err(|e| open(format!("not a pcapng file ({})", reason(&e))))?;
        let mut src = PcapngSource {
            reader,
            path: shown.clone(),
            packets: 0,
            ifaces: Vec::new(),
            names: Vec::new(),
            section_base: 0,
            pending: 0,
            buffer,
            primed: None,
            big_endian: false,
        };
        // Up to the first packet (interfaces come before their packets), or the first error,
        // which the first next_frame reports.
        match src.advance() {
            Ok(found) => src.primed = found,
            Err(CaptureError::Read { reason, .. }) if src.ifaces.is_empty() => {
                return Err(open(reason));
            }
            Err(_) => {}
        }
        Ok(src)
    }

    /// Packets read so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// The link type of the first interface (the file's, when it has one), 1 before any.
    pub fn linktype(&self) -> i32 {
        self.ifaces.first().map_or(1, |i| i.linktype)
    }

    /// Interfaces described so far.
    pub fn interface_count(&self) -> usize {
        self.ifaces.len()
    }

    /// The `if_name` of every interface described so far, by file-wide interface number.
    pub fn interface_names(&self) -> Vec<Option<String>> {
        self.names.clone()
    }

    /// The next packet, `Ok(None)` at the end, or an error naming the packet that failed.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        let found = match self.primed.take() {
            Some(f) => Some(f),
            None => self.advance()?,
        };
        let Some(f) = found else {
            return Ok(None);
        };
        self.packets += 1;
        let iface = self
            .ifaces
            .get(f.iface)
            .cloned()
            .ok_or_else(|| CaptureError::Read {
                path: self.path.clone(),
                packet: self.packets,
                reason: "packet of an interface the file never described".into(),
            })?;
        let data = self
            .reader
            .data()
            .get(f.start..f.start.saturating_add(f.len))
            .unwrap_or(&[]);
        let data = data.get(..iface.snaplen_cut(f.len)).unwrap_or(data);
        Ok(Some(Frame {
            ts_ns: iface.ns(f.ts),
            orig_len: f.orig_len,
            data,
            interface: u32::try_from(f.iface).unwrap_or(u32::MAX),
            linktype: iface.linktype,
        }))
    }

    /// Read blocks until a packet; describe where it lies in the buffer.
    fn advance(&mut self) -> Result<Option<Found>, CaptureError> {
        self.reader.consume(std::mem::take(&mut self.pending));
        loop {
            let fail = |packets: u64, why: String| CaptureError::Read {
                path: self.path.clone(),
                packet: packets + 1,
                reason: why,
            };
            let base = self.reader.data().as_ptr() as usize;
            if let Some(len) = too_short(self.reader.data(), &mut self.big_endian) {
                let why = format!("a block of {len} bytes, shorter than its own 12-byte frame");
                return Err(fail(self.packets, why));
            }
            match self.reader.next() {
                Ok((len, block)) => {
                    let mut found = None;
                    match block {
                        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                            self.section_base = self.ifaces.len();
                        }
                        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                            if self.ifaces.len() >= MAX_INTERFACES {
                                return Err(fail(self.packets, "too many interfaces".into()));
                            }
                            let name = idb.options.iter().find(|o| o.code.0 == IF_NAME).map(|o| {
                                let v = o.value();
                                let v = v.split(|b| *b == 0).next().unwrap_or(v);
                                String::from_utf8_lossy(v).into_owned()
                            });
                            self.ifaces.push(Iface {
                                linktype: idb.linktype.0,
                                units: units_per_sec(idb.if_tsresol),
                                offset_s: idb.if_tsoffset,
                                snaplen: idb.snaplen,
                            });
                            self.names.push(name);
                        }
                        PcapBlockOwned::NG(Block::EnhancedPacket(p)) => {
                            let len = p.data.len().min(p.caplen as usize);
                            found = Some(Found {
                                start: (p.data.as_ptr() as usize).saturating_sub(base),
                                len,
                                iface: self.section_base.saturating_add(p.if_id as usize),
                                ts: u64::from(p.ts_high) << 32 | u64::from(p.ts_low),
                                orig_len: p.origlen,
                            });
                        }
                        PcapBlockOwned::NG(Block::SimplePacket(p)) => {
                            found = Some(Found {
                                start: (p.data.as_ptr() as usize).saturating_sub(base),
                                len: p.data.len().min(p.origlen as usize),
                                iface: self.section_base,
                                // No timestamp in a simple packet block.
                                ts: 0,
                                orig_len: p.origlen,
                            });
                        }
                        _ => {}
                    }
                    if found.is_some() {
                        self.pending = len;
                        return Ok(found);
                    }
                    self.reader.consume(len);
                }
                Err(PcapError::Eof) => return Ok(None),
                Err(PcapError::Incomplete(_)) => {
                    if let Err(e) = self.reader.refill() {
                        let why = reason(&e);
                        return Err(fail(self.packets, why));
                    }
                }
                Err(PcapError::BufferTooSmall) => {
                    let bigger = self.buffer.saturating_mul(2);
                    if bigger > MAX_BLOCK_BYTES || !self.reader.grow(bigger) {
                        let why = format!("a block larger than {MAX_BLOCK_BYTES} bytes");
                        return Err(fail(self.packets, why));
                    }
                    self.buffer = bigger;
                    if let Err(e) = self.reader.refill() {
                        let why = reason(&e);
                        return Err(fail(self.packets, why));
                    }
                }
                Err(e) => {
                    let why = reason(&e);
                    return Err(fail(self.packets, why));
                }
            }
        }
    }
}

impl Iface {
    /// Capture time in ns since the epoch of a timestamp counted in this interface's units.
    fn ns(&self, ts: u64) -> i64 {
        let units = i128::from(self.units.max(1));
        let ns = i128::from(self.offset_s) * 1_000_000_000 + i128::from(ts) * 1_000_000_000 / units;
        i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX })
    }

    /// Bytes kept of a packet of captured length `len`: a capture length above the snap
    /// length (0: none) is cut, as libpcap does.
    fn snaplen_cut(&self, len: usize) -> usize {
        if self.snaplen == 0 {
            len
        } else {
            len.min(self.snaplen as usize)
        }
    }
}

/// Timestamp units per second of an `if_tsresol` byte: 10^n, or 2^n with the high bit set.
/// Computed here because `pcap-parser` 0.16's `ts_resolution` refuses every 2^-n value (it
/// compares the byte with the high bit still set against 63; tests/cli_output.rs
/// `pcapng_time_resolution_and_offset` caught it). A resolution that does not fit (10^20 and
/// up, 2^64 and up) is read as µs, the default, rather than refusing the file.
/// The length of the block at the head of `data` when it is under 12 bytes (type, length and
/// trailing length: no block is shorter, pcapng §3.1). pcap-parser 0.16 subtracts 12 from it
/// unchecked: a panic with overflow checks (found by the `pcapng` fuzz target; reproducer in
/// fuzz/regressions/pcapng), a 4 GiB read without. A section header block sets the byte order
/// of the blocks after it from its byte-order magic, as readers of the format do.
fn too_short(data: &[u8], big_endian: &mut bool) -> Option<u32> {
    const SHB: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];
    const BOM: u32 = 0x1A2B_3C4D;
    let word = |at: usize| -> Option<[u8; 4]> { data.get(at..at + 4)?.try_into().ok() };
    if word(0)? == SHB {
        if let Some(b) = word(8) {
            *big_endian = u32::from_be_bytes(b) == BOM;
        }
    }
    let raw = word(4)?;
    let len = if *big_endian {
        u32::from_be_bytes(raw)
    } else {
        u32::from_le_bytes(raw)
    };
    (len < 12).then_some(len)
}

fn units_per_sec(tsresol: u8) -> u64 {
    let n = u32::from(tsresol & 0x7F);
    let units = if tsresol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n)
    };
    units.unwrap_or(1_000_000)
}

/// A short, bounded description of a parse error.
fn reason<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::Eof | PcapError::UnexpectedEof | PcapError::Incomplete(_) => {
            "truncated: the file ends inside a block".into()
        }
        PcapError::ReadError => "read error".into(),
        PcapError::BufferTooSmall => format!("a block larger than {MAX_BLOCK_BYTES} bytes"),
        PcapError::HeaderNotRecognized => "not a pcapng section header".into(),
        PcapError::NomError(_, k) | PcapError::OwnedNomError(_, k) => {
            format!("malformed block ({k:?})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions() {
        assert_eq!(units_per_sec(6), 1_000_000);
        assert_eq!(units_per_sec(9), 1_000_000_000);
        assert_eq!(units_per_sec(0x8A), 1_024);
        assert_eq!(units_per_sec(0x80), 1);
        assert_eq!(units_per_sec(0xBF), 1 << 63);
        assert_eq!(units_per_sec(0xC0), 1_000_000);
        assert_eq!(units_per_sec(20), 1_000_000);
    }
}
