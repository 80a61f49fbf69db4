//! A zero-copy SIP message parser (RFC 3261 §7, §20): the start line, the headers the probe
//! needs (compact forms of §7.3.3 included) and the body, borrowed from the input.
//!
//! ```text
//!  INVITE sip:bob@example.com SIP/2.0        SIP/2.0 200 OK            start line (§7.1, §7.2)
//!  Via: SIP/2.0/UDP host;branch=z9hG4bK…     v: …                      headers (§7.3), one per
//!  Call-ID: a84b4c76e66710                   i: …                      line; a line starting
//!  From: "Alice" <sip:alice@a>;tag=1928      f: …                      with SP/HT continues the
//!  To: <sip:bob@b>                           t: …                      previous one (folding)
//!  CSeq: 314159 INVITE
//!  Content-Type: application/sdp             c: …
//!  Content-Length: 142                       l: …
//!                                                                      empty line
//!  v=0 …                                                               body (Content-Length)
//! ```
//!
//! Hostile input: the head is at most [`MAX_HEAD_BYTES`] and [`MAX_HEADERS`] lines, must be
//! UTF-8, and every value is a slice of it (nothing allocates). Over UDP a missing
//! Content-Length means "the rest of the datagram" (§18.3); a Content-Length past the end of
//! the datagram is an error (truncated). Over TCP [`frame_len`] finds where a message ends.
//! Only what the dialog table needs is pulled out; other headers are counted and skipped.

use std::str;

/// Most bytes of a start line plus headers.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header lines (folded continuations not counted).
pub const MAX_HEADERS: usize = 128;
/// Largest body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a message was not parsed (a bounded metric label: [`Error::reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("no end of the headers")]
    Incomplete,
    #[error("headers larger than {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    #[error("more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    #[error("headers are not UTF-8")]
    NotUtf8,
    #[error("bad start line")]
    StartLine,
    #[error("bad header line")]
    HeaderLine,
    #[error("bad Content-Length")]
    ContentLength,
    #[error("body larger than {MAX_BODY_BYTES} bytes")]
    BodyTooLarge,
    #[error("body shorter than its Content-Length")]
    Truncated,
}

impl Error {
    pub fn reason(self) -> &'static str {
        match self {
            Error::Incomplete => "incomplete",
            Error::HeadTooLarge => "head_too_large",
            Error::TooManyHeaders => "too_many_headers",
            Error::NotUtf8 => "not_utf8",
            Error::StartLine => "start_line",
            Error::HeaderLine => "header_line",
            Error::ContentLength => "content_length",
            Error::BodyTooLarge => "body_too_large",
            Error::Truncated => "truncated",
        }
    }
}

/// The first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    Request { method: &'a str, uri: &'a str },
    Status { code: u16, reason: &'a str },
}

/// A parsed message; every string borrows from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Message<'a> {
    pub start: Option<StartLine<'a>>,
    pub call_id: Option<&'a str>,
    /// The whole From/To values (name-addr or addr-spec, then parameters).
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub cseq: Option<(u32, &'a str)>,
    pub content_type: Option<&'a str>,
    pub content_length: Option<usize>,
    pub headers: usize,
    pub body: &'a [u8],
}

impl<'a> Message<'a> {
    /// The method of a request, or of the request a response answers (its CSeq).
    pub fn method(&self) -> Option<&'a str> {
        match self.start {
            Some(StartLine::Request { method, .. }) => Some(method),
            _ => self.cseq.map(|c| c.1),
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self.start {
            Some(StartLine::Status { code, .. }) => Some(code),
            _ => None,
        }
    }

    /// The body is a session description (`application/sdp`, parameters ignored).
    pub fn has_sdp(&self) -> bool {
        !self.body.is_empty()
            && self.content_type.is_some_and(|c| {
                c.split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
            })
    }
}

/// A byte slice starts like a SIP message: a status line `SIP/2.0 ` or a request line whose
/// method is an upper-case token and which ends in ` SIP/2.0` (content sniffing on any port).
pub fn looks_like_sip(b: &[u8]) -> bool {
    if b.starts_with(b"SIP/2.0 ") {
        return true;
    }
    let line = b.iter().take(512).position(|&c| c == b'\n');
    let Some(end) = line else { return false };
    let Some(l) = b.get(..end) else { return false };
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let method_len = l.iter().take_while(|c| c.is_ascii_uppercase()).count();
    (3..=16).contains(&method_len) && l.get(method_len) == Some(&b' ') && l.ends_with(b" SIP/2.0")
}

/// Where the head ends: the offset of the body (after the empty line), if present.
fn head_end(b: &[u8]) -> Option<usize> {
    let lim = b.len().min(MAX_HEAD_BYTES + 4);
    let w = b.get(..lim)?;
    let mut i = 0;
    while let Some(p) = w.get(i..)?.iter().position(|&c| c == b'\n') {
        let nl = i + p;
        // An empty line: "\n\n" or "\n\r\n".
        match w.get(nl + 1..) {
            Some([b'\n', ..]) => return Some(nl + 2),
            Some([b'\r', b'\n', ..]) => return Some(nl + 3),
            _ => {}
        }
        i = nl + 1;
    }
    None
}

/// Parse one message from a datagram (UDP: `stream = false`) or from a frame [`frame_len`]
/// delimited (`stream = true`, where Content-Length defaults to 0).
pub fn parse(b: &[u8], stream: bool) -> Result<Message<'_>, Error> {
    let end = match head_end(b) {
        Some(e) => e,
        None if b.len() > MAX_HEAD_BYTES => return Err(Error::HeadTooLarge),
        None => return Err(Error::Incomplete),
    };
    if end > MAX_HEAD_BYTES + 4 {
        return Err(Error::HeadTooLarge);
    }
    let head = str::from_utf8(b.get(..end).unwrap_or_default()).map_err(|_| Error::NotUtf8)?;
    let rest = b.get(end..).unwrap_or_default();
    let mut m = Message::default();
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    m.start = Some(start_line(lines.next().ok_or(Error::StartLine)?)?);
    // Each header's value spans its line and any continuation lines: found by offsets so
    // the value stays one borrowed slice (with the folding whitespace inside).
    let mut cur: Option<(&str, usize, usize)> = None;
    let mut offset = head.find('\n').map_or(head.len(), |p| p + 1);
    for line in lines {
        let line_start = offset;
        offset += line.len() + 1;
        if head.as_bytes().get(line_start + line.len()) == Some(&b'\r') {
            offset += 1;
        }
        if line.starts_with([' ', '\t']) {
            match &mut cur {
                Some((_, _, e)) => *e = line_start + line.len(),
                None => return Err(Error::HeaderLine),
            }
            continue;
        }
        if let Some((name, s, e)) = cur.take() {
            header(&mut m, name, head.get(s..e).unwrap_or_default().trim())?;
        }
        if line.is_empty() {
            break;
        }
        m.headers += 1;
        if m.headers > MAX_HEADERS {
            return Err(Error::TooManyHeaders);
        }
        let colon = line.find(':').ok_or(Error::HeaderLine)?;
        let name = line.get(..colon).unwrap_or_default().trim_end();
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(Error::HeaderLine);
        }
        let vs = line_start + colon + 1;
        cur = Some((name, vs, line_start + line.len()));
    }
    if let Some((name, s, e)) = cur {
        header(&mut m, name, head.get(s..e).unwrap_or_default().trim())?;
    }
    m.body = match m.content_length {
        Some(n) if n > MAX_BODY_BYTES => return Err(Error::BodyTooLarge),
        Some(n) => rest.get(..n).ok_or(Error::Truncated)?,
        None if stream => &[],
        None if rest.len() > MAX_BODY_BYTES => return Err(Error::BodyTooLarge),
        None => rest,
    };
    Ok(m)
}

fn start_line(l: &str) -> Result<StartLine<'_>, Error> {
    if let Some(r) = l.strip_prefix("SIP/2.0 ") {
        let (code, reason) = r.split_once(' ').unwrap_or((r, ""));
        let code: u16 = code.parse().map_err(|_| Error::StartLine)?;
        if !(100..=699).contains(&code) {
            return Err(Error::StartLine);
        }
        return Ok(StartLine::Status { code, reason });
    }
    let mut p = l.splitn(3, ' ');
    let (Some(method), Some(uri), Some("SIP/2.0")) = (p.next(), p.next(), p.next()) else {
        return Err(Error::StartLine);
    };
    if method.is_empty()
        || !method
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-')
    {
        return Err(Error::StartLine);
    }
    Ok(StartLine::Request { method, uri })
}

/// Store a header the dialog table needs (long and compact names, case-insensitive).
fn header<'a>(m: &mut Message<'a>, name: &str, v: &'a str) -> Result<(), Error> {
    let is = |long: &str, short: &str| {
        name.eq_ignore_ascii_case(long) || (!short.is_empty() && name.eq_ignore_ascii_case(short))
    };
    if is("Call-ID", "i") {
        m.call_id.get_or_insert(v);
    } else if is("From", "f") {
        m.from.get_or_insert(v);
    } else if is("To", "t") {
        m.to.get_or_insert(v);
    } else if is("CSeq", "") {
        let mut p = v.split_ascii_whitespace();
        if let (Some(Ok(n)), Some(method)) = (p.next().map(str::parse), p.next()) {
            m.cseq.get_or_insert((n, method));
        }
    } else if is("Content-Type", "c") {
        m.content_type.get_or_insert(v);
    } else if is("Content-Length", "l") {
        let n: usize = v.parse().map_err(|_| Error::ContentLength)?;
        if m.content_length.is_some_and(|o| o != n) {
            return Err(Error::ContentLength);
        }
        m.content_length = Some(n);
    }
    Ok(())
}

/// The `tag` parameter of a From/To value (RFC 3261 §19.3), outside any `<…>`.
pub fn tag(v: &str) -> Option<&str> {
    let params = match v.rfind('>') {
        Some(p) => v.get(p + 1..)?,
        None => v,
    };
    params.split(';').skip(1).find_map(|p| {
        let (k, val) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("tag").then(|| val.trim())
    })
}

/// The URI of a From/To value: inside `<…>`, else up to the first `;`.
pub fn uri(v: &str) -> &str {
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => v.get(a + 1..b).unwrap_or(v),
        _ => v.split(';').next().unwrap_or(v).trim(),
    }
}

/// The display name of a From/To value, unquoted, if any.
pub fn display_name(v: &str) -> Option<&str> {
    let name = v.get(..v.find('<')?)?.trim();
    let name = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(name);
    (!name.is_empty()).then_some(name)
}

/// The length of the first message in a TCP byte stream `b` (RFC 3261 §18.3: Content-Length
/// frames messages on stream transports; absent means 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    Complete(usize),
    NeedMore,
    Invalid,
}

pub fn frame_len(b: &[u8]) -> Frame {
    let Some(end) = head_end(b) else {
        return if b.len() > MAX_HEAD_BYTES {
            Frame::Invalid
        } else {
            Frame::NeedMore
        };
    };
    let Ok(head) = str::from_utf8(b.get(..end).unwrap_or_default()) else {
        return Frame::Invalid;
    };
    let mut len = 0usize;
    for line in head.split('\n').skip(1) {
        let Some((name, v)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("Content-Length") || name.eq_ignore_ascii_case("l") {
            match v.trim().parse::<usize>() {
                Ok(n) if n <= MAX_BODY_BYTES => len = n,
                _ => return Frame::Invalid,
            }
        }
    }
    let total = end + len;
    if b.len() >= total {
        Frame::Complete(total)
    } else {
        Frame::NeedMore
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
