//! Capture file writers: classic libpcap and pcapng, to any [`std::io::Write`].
//!
//! Classic pcap (<https://www.tcpdump.org/manpages/pcap-savefile.5.html>, IETF
//! draft-ietf-opsawg-pcap) has one link type per file and either microsecond
//! (`0xa1b2c3d4`) or nanosecond (`0xa1b23c4d`) timestamps. pcapng (draft-ietf-opsawg-pcapng)
//! has one Interface Description Block per link type, so mixed link types fit in one file;
//! we write `if_tsresol = 9` (nanoseconds) unless told otherwise, so timestamps survive exactly;
//! other resolutions and `if_tsoffset` exist to test readers.
//! Everything is written little-endian. Frames longer than the snap length are cut, keeping the
//! original length, which is how real captures look when `-s` is small.
//!
//! What this does not do: read files, write comments/statistics blocks, or buffer: wrap the
//! writer in a `BufWriter` yourself.

use std::io::{self, Write};

/// Timestamp resolution of a classic pcap file (the magic number says which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsResolution {
    /// Magic `0xa1b2c3d4`: the second field is microseconds; nanoseconds are truncated.
    Micro,
    /// Magic `0xa1b23c4d`: the second field is nanoseconds.
    Nano,
}

/// The snap length used when the caller has no opinion (tcpdump's default).
pub const DEFAULT_SNAPLEN: u32 = 262_144;

/// Split a Unix-epoch nanosecond timestamp into whole seconds and the remainder.
fn split_ns(ts_ns: i64) -> (u32, u32) {
    (
        ts_ns.div_euclid(1_000_000_000) as u32,
        ts_ns.rem_euclid(1_000_000_000) as u32,
    )
}

/// Classic pcap writer: the 24-byte global header on construction, then 16-byte record headers.
///
/// ```text
/// magic(4) ver_major=2(2) ver_minor=4(2) thiszone=0(4) sigfigs=0(4) snaplen(4) linktype(4)
/// per record: ts_sec(4) ts_frac(4) incl_len(4) orig_len(4) data[incl_len]
/// ```
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
    res: TsResolution,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    /// Write the global header for `linktype` (a LINKTYPE_* value, e.g. 1 Ethernet, 276 SLL2).
    pub fn new(mut w: W, linktype: u32, snaplen: u32, res: TsResolution) -> io::Result<Self> {
        let magic: u32 = match res {
            TsResolution::Micro => 0xa1b2_c3d4,
            TsResolution::Nano => 0xa1b2_3c4d,
        };
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&magic.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&linktype.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter { w, res, snaplen })
    }

    /// Append one frame captured at `ts_ns` (Unix epoch, ns), cut to the snap length.
    pub fn write_frame(&mut self, ts_ns: i64, data: &[u8]) -> io::Result<()> {
        let (sec, ns) = split_ns(ts_ns);
        let frac = match self.res {
            TsResolution::Micro => ns / 1000,
            TsResolution::Nano => ns,
        };
        let incl = data.len().min(self.snaplen as usize);
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&sec.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&(incl as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(data.len() as u32).to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(&data[..incl])
    }

    /// Flush and give the writer back.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

/// pcapng writer: a Section Header Block on construction, then IDBs and EPBs.
///
/// ```text
/// SHB: type=0x0A0D0D0A len magic=0x1A2B3C4D major=1 minor=0 section_len=-1(8) len
/// IDB: type=1 len linktype(2) reserved(2) snaplen(4) [if_tsresol(9) len=1 value=9 pad(3)]
///      [opt_endofopt] len
/// EPB: type=6 len if_id ts_high ts_low cap_len orig_len data pad-to-4 len
/// ```
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    w: W,
    ifaces: Vec<Iface>,
}

/// What an interface's EPBs need: the snap length and how its timestamps count.
#[derive(Debug, Clone, Copy)]
struct Iface {
    snaplen: u32,
    /// Timestamp units per second (`if_tsresol`).
    units: u64,
    /// `if_tsoffset` in nanoseconds.
    offset_ns: i128,
}

impl<W: Write> PcapngWriter<W> {
    /// Write the Section Header Block (length unspecified: -1).
    pub fn new(mut w: W) -> io::Result<Self> {
        let mut b = Vec::with_capacity(28);
        b.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
        b.extend_from_slice(&28u32.to_le_bytes());
        b.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&(-1i64).to_le_bytes());
        b.extend_from_slice(&28u32.to_le_bytes());
        w.write_all(&b)?;
        Ok(PcapngWriter {
            w,
            ifaces: Vec::new(),
        })
    }

    /// Add an interface (IDB) with nanosecond timestamps; returns its interface id.
    pub fn add_interface(&mut self, linktype: u32, snaplen: u32) -> io::Result<u32> {
        self.add_interface_with(linktype, snaplen, 9, None)
    }

    /// Add an interface whose timestamps count units of `tsresol` (the `if_tsresol` byte:
    /// 10^-n seconds, or 2^-n with the high bit set; 0..=9 and 0x80..=0x9E are supported) from
    /// `tsoffset_secs` (`if_tsoffset`, seconds added to every timestamp) when given. Frames
    /// keep their true times: [`write_frame`](Self::write_frame) converts.
    ///
    /// # Errors
    /// `InvalidInput` for a resolution outside those ranges.
    pub fn add_interface_with(
        &mut self,
        linktype: u32,
        snaplen: u32,
        tsresol: u8,
        tsoffset_secs: Option<i64>,
    ) -> io::Result<u32> {
        self.add_idb(linktype, snaplen, tsresol, tsoffset_secs, None)
    }

    /// [`add_interface_with`](Self::add_interface_with) without an offset, naming the
    /// interface (`if_name`, option 2: what tshark shows as `frame.interface_name`).
    pub fn add_named_interface(
        &mut self,
        linktype: u32,
        snaplen: u32,
        tsresol: u8,
        name: &str,
    ) -> io::Result<u32> {
        self.add_idb(linktype, snaplen, tsresol, None, Some(name))
    }

    fn add_idb(
        &mut self,
        linktype: u32,
        snaplen: u32,
        tsresol: u8,
        tsoffset_secs: Option<i64>,
        name: Option<&str>,
    ) -> io::Result<u32> {
        let units: u64 = match tsresol {
            0..=9 => 10u64.pow(u32::from(tsresol)),
            0x80..=0x9E => 1u64 << (tsresol & 0x7F),
            _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "tsresol")),
        };
        let name = name.map(str::as_bytes).unwrap_or_default();
        if name.len() > 255 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "if_name"));
        }
        let name_opt = if name.is_empty() {
            0
        } else {
            4 + name.len().div_ceil(4) * 4
        };
        let len: u32 = 32 + if tsoffset_secs.is_some() { 12 } else { 0 } + name_opt as u32;
        let mut b = Vec::with_capacity(len as usize);
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&(linktype as u16).to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&snaplen.to_le_bytes());
        if !name.is_empty() {
            // if_name (code 2), UTF-8, padded to 4 bytes.
            b.extend_from_slice(&2u16.to_le_bytes());
            b.extend_from_slice(&(name.len() as u16).to_le_bytes());
            b.extend_from_slice(name);
            b.resize(b.len() + (4 - name.len() % 4) % 4, 0);
        }
        // if_tsresol (code 9, length 1), padded to 4 bytes.
        b.extend_from_slice(&9u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&[tsresol, 0, 0, 0]);
        if let Some(off) = tsoffset_secs {
            // if_tsoffset (code 14, length 8): seconds, signed 64-bit.
            b.extend_from_slice(&14u16.to_le_bytes());
            b.extend_from_slice(&8u16.to_le_bytes());
            b.extend_from_slice(&off.to_le_bytes());
        }
        // opt_endofopt
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(&len.to_le_bytes());
        self.w.write_all(&b)?;
        self.ifaces.push(Iface {
            snaplen,
            units,
            offset_ns: i128::from(tsoffset_secs.unwrap_or(0)) * 1_000_000_000,
        });
        Ok(self.ifaces.len() as u32 - 1)
    }

    /// Append one Enhanced Packet Block on interface `if_id`, cut to that interface's snap length.
    ///
    /// # Errors
    /// `InvalidInput` if `if_id` was not returned by [`add_interface`](Self::add_interface).
    pub fn write_frame(&mut self, if_id: u32, ts_ns: i64, data: &[u8]) -> io::Result<()> {
        let iface = *self
            .ifaces
            .get(if_id as usize)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unknown interface"))?;
        let incl = data.len().min(iface.snaplen as usize);
        let padded = (incl + 3) & !3;
        let total = 32 + padded as u32;
        // Units since the interface's offset (rounded down); 64 bits as the format has.
        let since = i128::from(ts_ns) - iface.offset_ns;
        let ts = (since * i128::from(iface.units)).div_euclid(1_000_000_000) as u64;
        let mut h = [0u8; 28];
        h[0..4].copy_from_slice(&6u32.to_le_bytes());
        h[4..8].copy_from_slice(&total.to_le_bytes());
        h[8..12].copy_from_slice(&if_id.to_le_bytes());
        h[12..16].copy_from_slice(&((ts >> 32) as u32).to_le_bytes());
        h[16..20].copy_from_slice(&(ts as u32).to_le_bytes());
        h[20..24].copy_from_slice(&(incl as u32).to_le_bytes());
        h[24..28].copy_from_slice(&(data.len() as u32).to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(&data[..incl])?;
        self.w.write_all(&[0u8; 3][..padded - incl])?;
        self.w.write_all(&total.to_le_bytes())
    }

    /// Flush and give the writer back.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_micro_header_and_record_byte_exact() {
        let mut p = PcapWriter::new(Vec::new(), 1, 4, TsResolution::Micro).unwrap();
        p.write_frame(1_500_000_002_123_456_789, &[1, 2, 3, 4, 5, 6])
            .unwrap();
        let b = p.into_inner().unwrap();
        #[rustfmt::skip]
        let want: &[u8] = &[
            0xd4, 0xc3, 0xb2, 0xa1, // magic (µs), little-endian
            2, 0, 4, 0,             // version 2.4
            0, 0, 0, 0,             // thiszone
            0, 0, 0, 0,             // sigfigs
            4, 0, 0, 0,             // snaplen = 4
            1, 0, 0, 0,             // LINKTYPE_ETHERNET
            0x02, 0x2f, 0x68, 0x59, // ts_sec = 1_500_000_002
            0x40, 0xe2, 0x01, 0x00, // ts_usec = 123_456
            4, 0, 0, 0,             // incl_len (cut to snaplen)
            6, 0, 0, 0,             // orig_len
            1, 2, 3, 4,
        ];
        assert_eq!(b, want);
    }

    #[test]
    fn classic_nano_magic_and_fraction() {
        let mut p = PcapWriter::new(Vec::new(), 276, 65535, TsResolution::Nano).unwrap();
        p.write_frame(5_000_000_007, &[9]).unwrap();
        let b = p.into_inner().unwrap();
        assert_eq!(&b[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&b[20..24], &276u32.to_le_bytes());
        assert_eq!(&b[24..28], &5u32.to_le_bytes());
        assert_eq!(&b[28..32], &7u32.to_le_bytes());
        assert_eq!(b.len(), 24 + 16 + 1);
    }

    #[test]
    fn pcapng_blocks_byte_exact() {
        let mut p = PcapngWriter::new(Vec::new()).unwrap();
        let id = p.add_interface(113, 65535).unwrap();
        p.write_frame(id, 0x1_0000_0002, &[0xaa, 0xbb, 0xcc, 0xdd, 0xee])
            .unwrap();
        let b = p.into_inner().unwrap();
        #[rustfmt::skip]
        let want: &[u8] = &[
            // SHB
            0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0,
            0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            28, 0, 0, 0,
            // IDB: LINKTYPE_LINUX_SLL, snaplen 65535, if_tsresol=9, endofopt
            1, 0, 0, 0, 32, 0, 0, 0,
            113, 0, 0, 0, 0xff, 0xff, 0, 0,
            9, 0, 1, 0, 9, 0, 0, 0,
            0, 0, 0, 0,
            32, 0, 0, 0,
            // EPB: if 0, ts high=1 low=2, cap 5, orig 5, data + 3 pad
            6, 0, 0, 0, 40, 0, 0, 0,
            0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,
            5, 0, 0, 0, 5, 0, 0, 0,
            0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0, 0, 0,
            40, 0, 0, 0,
        ];
        assert_eq!(b, want);
    }

    #[test]
    fn pcapng_rejects_unknown_interface() {
        let mut p = PcapngWriter::new(Vec::new()).unwrap();
        assert!(p.write_frame(0, 0, &[1]).is_err());
    }
}
