//! Source description, goodbye and application-defined packets (RFC 3550 §6.5, §6.6, §6.7).
//!
//! A probe reads SDES for the CNAME that ties a participant's SSRCs together, and BYE to end a
//! stream early. APP is exposed only as opaque data. Item text is returned as raw octets (the
//! RFC says UTF-8; nothing here validates it).
//!
//! ```text
//!         0                   1                   2                   3
//!         0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! header |V=2|P|    SC   |  PT=SDES=202  |             length            |
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! chunk  |                          SSRC/CSRC_1                          |
//!   1    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |    type       |     length    |  text (length octets)       ...
//!        +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!        |  ... more items, then one or more null octets up to a 32-bit  |
//!        |                boundary (item type 0 ends the list)           |
//!        +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//!
//!        |V=2|P|    SC   |   PT=BYE=203  |             length            |
//!        |                     SSRC/CSRC  (SC times)                     |
//! (opt)  |     length    |               reason for leaving            ...
//!
//!        |V=2|P| subtype |   PT=APP=204  |             length            |
//!        |                           SSRC/CSRC                           |
//!        |                          name (ASCII)                         |
//!        |                   application-dependent data                ...
//! ```
//!
//! A chunk whose items overrun the packet, or that is not null-terminated, is yielded with the
//! items that fit and ends the chunk walk. SC and BYE's SC are bounded by the length as in
//! [`report`](super::report).

use super::{be32, count_field, RtcpError};

/// SDES item types (RFC 3550 §6.5, §12.2).
pub mod item_type {
    pub const END: u8 = 0;
    pub const CNAME: u8 = 1;
    pub const NAME: u8 = 2;
    pub const EMAIL: u8 = 3;
    pub const PHONE: u8 = 4;
    pub const LOC: u8 = 5;
    pub const TOOL: u8 = 6;
    pub const NOTE: u8 = 7;
    pub const PRIV: u8 = 8;
}

mod field {
    use core::ops::Range;

    /// SDES chunks, BYE sources and the APP SSRC start after the common header.
    pub const BODY: usize = 4;
    pub const APP_SSRC: Range<usize> = 4..8;
    pub const APP_NAME: Range<usize> = 8..12;
    pub const APP_DATA: usize = 12;
}

/// A source description packet (PT=202, RFC 3550 §6.5).
#[derive(Debug, Clone, Copy)]
pub struct Sdes<'a> {
    buf: &'a [u8],
}

impl<'a> Sdes<'a> {
    /// `buf` is one packet without padding; SC=0 (header only) is valid.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        if buf.len() < field::BODY {
            return Err(RtcpError::BadLength);
        }
        Ok(Sdes { buf })
    }

    /// The SC field as sent.
    pub fn source_count(&self) -> u8 {
        count_field(self.buf)
    }

    /// The chunks, at most SC; stops at the first malformed chunk (yielding what fits of it).
    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            rest: self.buf.get(field::BODY..).unwrap_or(&[]),
            remaining: self.source_count(),
        }
    }

    /// `(ssrc, cname)` for every CNAME item of every chunk.
    pub fn cnames(&self) -> impl Iterator<Item = (u32, &'a [u8])> + 'a {
        self.chunks().flat_map(|chunk| {
            let ssrc = chunk.ssrc();
            chunk
                .items()
                .filter(|&(t, _)| t == item_type::CNAME)
                .map(move |(_, text)| (ssrc, text))
        })
    }
}

/// Iterator over the chunks of an SDES packet.
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    /// Starts at a chunk, 32-bit aligned relative to the packet.
    rest: &'a [u8],
    remaining: u8,
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let ssrc = be32(self.rest.get(..4)?, 0..4);
        let mut pos = 4;
        loop {
            match self.rest.get(pos).copied() {
                Some(item_type::END) => {
                    let items = self.rest.get(4..pos).unwrap_or(&[]);
                    // Null octets pad to the next 32-bit boundary after the terminator.
                    let next = (pos + 1).next_multiple_of(4);
                    self.rest = self.rest.get(next..).unwrap_or(&[]);
                    return Some(SdesChunk { ssrc, items });
                }
                Some(_) => {
                    let len = self.rest.get(pos + 1).copied().map(usize::from);
                    match len {
                        Some(len) if pos + 2 + len <= self.rest.len() => pos += 2 + len,
                        _ => break,
                    }
                }
                None => break,
            }
        }
        // Unterminated or overrunning: yield the items that fit, then stop.
        let items = self.rest.get(4..pos).unwrap_or(&[]);
        self.rest = &[];
        self.remaining = 0;
        Some(SdesChunk { ssrc, items })
    }
}

/// One SDES chunk: an SSRC/CSRC and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    ssrc: u32,
    /// The items, without the terminating null octet and padding.
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The SSRC or CSRC described.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The items as `(item_type, text)`; see [`item_type`].
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }
}

/// Iterator over the items of an SDES chunk.
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (&[kind, len], tail) = self.rest.split_first_chunk::<2>()?;
        if kind == item_type::END {
            self.rest = &[];
            return None;
        }
        let Some((text, rest)) = tail.split_at_checked(usize::from(len)) else {
            self.rest = &[];
            return None;
        };
        self.rest = rest;
        Some((kind, text))
    }
}

/// A goodbye packet (PT=203, RFC 3550 §6.6).
#[derive(Debug, Clone, Copy)]
pub struct Bye<'a> {
    buf: &'a [u8],
}

impl<'a> Bye<'a> {
    /// `buf` is one packet without padding; SC=0 (header only) is valid.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        if buf.len() < field::BODY {
            return Err(RtcpError::BadLength);
        }
        Ok(Bye { buf })
    }

    /// The SC field as sent.
    pub fn source_count(&self) -> u8 {
        count_field(self.buf)
    }

    fn sources(&self) -> &'a [u8] {
        let body = self.buf.get(field::BODY..).unwrap_or(&[]);
        let n = usize::from(self.source_count()).min(body.len() / 4);
        body.get(..4 * n).unwrap_or(&[])
    }

    /// True when SC announces more sources than the length allows (malformed).
    pub fn count_overflows(&self) -> bool {
        self.sources().len() < 4 * usize::from(self.source_count())
    }

    /// The SSRC/CSRCs leaving (at most SC, only those that fit).
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.sources().chunks_exact(4).map(|c| be32(c, 0..4))
    }

    /// The reason for leaving, if present and its length octet fits the packet.
    pub fn reason(&self) -> Option<&'a [u8]> {
        if self.count_overflows() {
            return None;
        }
        let start = field::BODY + self.sources().len();
        let (&len, text) = self.buf.get(start..)?.split_first()?;
        text.get(..usize::from(len))
    }
}

/// An application-defined packet (PT=204, RFC 3550 §6.7).
#[derive(Debug, Clone, Copy)]
pub struct App<'a> {
    buf: &'a [u8],
}

impl<'a> App<'a> {
    /// `buf` is one packet without padding; it must hold the SSRC and the name.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, RtcpError> {
        if buf.len() < field::APP_DATA {
            return Err(RtcpError::BadLength);
        }
        Ok(App { buf })
    }

    /// The 5-bit subtype (in the count position).
    pub fn subtype(&self) -> u8 {
        count_field(self.buf)
    }

    /// SSRC/CSRC of the sender.
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, field::APP_SSRC)
    }

    /// The four ASCII characters naming the application.
    pub fn name(&self) -> [u8; 4] {
        be32(self.buf, field::APP_NAME).to_be_bytes()
    }

    /// Application-dependent data.
    pub fn data(&self) -> &'a [u8] {
        self.buf.get(field::APP_DATA..).unwrap_or(&[])
    }
}
