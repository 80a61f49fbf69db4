//! A bounded SDP parser (RFC 8866) for what media analysis needs: where each medium is to be
//! sent (`c=` at session or media level, `m=` port), its payload types and their codecs and
//! clock rates (`a=rtpmap`, RFC 8866 §6.6), RTCP's port (`a=rtcp`, RFC 3605) and multiplexing
//! (`a=rtcp-mux`, RFC 5761), SSRCs with their CNAMEs (`a=ssrc:N cname:X`, RFC 5576) and the
//! direction (`a=sendrecv`/`sendonly`/`recvonly`/`inactive`, RFC 8866 §6.7: hold).
//!
//! ```text
//!  v=0
//!  o=- 1 1 IN IP4 192.0.2.1
//!  c=IN IP4 192.0.2.1                    session-level address (media inherit it)
//!  m=audio 49170 RTP/AVP 0 96            port, protocol, formats (payload types)
//!  a=rtpmap:96 opus/48000/2              encoding name / clock rate [/ channels]
//!  a=rtcp:49171                          RTCP port (RFC 3605)
//!  a=sendonly
//! ```
//!
//! Strings borrow from the body. Bounds: [`MAX_MEDIA`] media sections, [`MAX_FORMATS`]
//! formats, rtpmaps and SSRCs per medium; lines past them are ignored and counted in
//! [`Session::ignored`]. Unknown lines are skipped; a malformed known line is skipped too
//! (one bad attribute does not lose the call's media). Static payload types without an
//! `a=rtpmap` get their RFC 3551 name and rate from [`static_rtpmap`].

use std::net::IpAddr;

/// Most media sections kept.
pub const MAX_MEDIA: usize = 16;
/// Most formats, rtpmaps and SSRCs kept per medium.
pub const MAX_FORMATS: usize = 32;

/// Stream direction (RFC 8866 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn of(a: &str) -> Option<Self> {
        Some(match a {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

/// One `a=rtpmap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpMap<'a> {
    pub pt: u8,
    pub name: &'a str,
    pub clock_rate: u32,
    pub channels: u8,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Media<'a> {
    /// `audio`, `video`, `application`, …
    pub kind: &'a str,
    pub port: u16,
    pub proto: &'a str,
    /// Payload types (formats that are numbers below 128).
    pub formats: Vec<u8>,
    /// Media-level `c=`, else the session's.
    pub addr: Option<IpAddr>,
    pub rtpmaps: Vec<RtpMap<'a>>,
    /// `a=rtcp` port and its address when given.
    pub rtcp: Option<(u16, Option<IpAddr>)>,
    pub rtcp_mux: bool,
    pub ssrcs: Vec<(u32, &'a str)>,
    pub direction: Direction,
}

impl Media<'_> {
    /// The rtpmap of `pt`: signalled, else the static one.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap<'static>> {
        self.rtpmaps
            .iter()
            .find(|m| m.pt == pt)
            .map(|m| RtpMap {
                pt,
                name: static_name(m.name),
                clock_rate: m.clock_rate,
                channels: m.channels,
            })
            .or_else(|| static_rtpmap(pt))
    }
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Session<'a> {
    pub addr: Option<IpAddr>,
    pub media: Vec<Media<'a>>,
    pub direction: Direction,
    /// Lines dropped by the caps.
    pub ignored: u32,
}

/// Parse a session description. Never fails: what cannot be read is skipped.
pub fn parse(body: &[u8]) -> Session<'_> {
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        // Keep the valid prefix (a binary tail, e.g. a multipart epilogue, is not SDP).
        Err(e) => {
            std::str::from_utf8(body.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default()
        }
    };
    let mut s = Session::default();
    let mut session_dir: Option<Direction> = None;
    let mut in_media = false;
    let mut dropping = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k {
            "m" => {
                if s.media.len() >= MAX_MEDIA {
                    s.ignored += 1;
                    dropping = true;
                    continue;
                }
                in_media = true;
                dropping = false;
                s.media.push(media_line(v, &mut s.ignored));
            }
            _ if dropping => s.ignored += 1,
            "c" => {
                let a = connection(v);
                match s.media.last_mut() {
                    Some(m) if in_media => m.addr = a.or(m.addr),
                    _ => s.addr = a,
                }
            }
            "a" => {
                let m = s.media.last_mut().filter(|_| in_media);
                if let Some(d) = Direction::of(v) {
                    match m {
                        Some(m) => m.direction = d,
                        None => session_dir = Some(d),
                    }
                } else if let Some(m) = m {
                    attribute(m, v, &mut s.ignored);
                }
            }
            _ => {}
        }
    }
    s.direction = session_dir.unwrap_or_default();
    for m in &mut s.media {
        if m.addr.is_none() {
            m.addr = s.addr;
        }
    }
    // A media-level direction overrides the session's; a medium without one inherits it.
    if let Some(d) = session_dir {
        let own: Vec<bool> = own_direction(text, s.media.len());
        for (m, own) in s.media.iter_mut().zip(own) {
            if !own {
                m.direction = d;
            }
        }
    }
    s
}

/// Which of the first `n` media sections carry their own direction attribute.
fn own_direction(text: &str, n: usize) -> Vec<bool> {
    let mut own = vec![false; n];
    let mut idx: Option<usize> = None;
    for l in text.lines() {
        if l.starts_with("m=") {
            idx = Some(idx.map_or(0, |i| i + 1));
        } else if let (Some(i), Some(a)) = (idx, l.strip_prefix("a=")) {
            if Direction::of(a.trim()).is_some() {
                if let Some(o) = own.get_mut(i) {
                    *o = true;
                }
            }
        }
    }
    own
}

/// `audio 49170 RTP/AVP 0 8 96` (a port count `49170/2` keeps the first port).
fn media_line<'a>(v: &'a str, ignored: &mut u32) -> Media<'a> {
    let mut p = v.split_ascii_whitespace();
    let kind = p.next().unwrap_or("");
    let port = p
        .next()
        .and_then(|p| p.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let proto = p.next().unwrap_or("");
    let mut formats = Vec::new();
    for f in p {
        match f.parse::<u8>() {
            Ok(pt) if pt < 128 && formats.len() < MAX_FORMATS => formats.push(pt),
            Ok(pt) if pt < 128 => *ignored += 1,
            _ => {}
        }
    }
    Media {
        kind,
        port,
        proto,
        formats,
        ..Media::default()
    }
}

/// `IN IP4 192.0.2.1` or `IN IP6 2001:db8::1` (a multicast `/ttl` suffix is dropped).
fn connection(v: &str) -> Option<IpAddr> {
    let mut p = v.split_ascii_whitespace();
    let (Some("IN"), Some(_), Some(a)) = (p.next(), p.next(), p.next()) else {
        return None;
    };
    a.split('/').next()?.parse().ok()
}

fn attribute<'a>(m: &mut Media<'a>, a: &'a str, ignored: &mut u32) {
    let (name, value) = a.split_once(':').unwrap_or((a, ""));
    match name {
        "rtpmap" => {
            let Some(r) = rtpmap(value) else { return };
            if m.rtpmaps.len() >= MAX_FORMATS {
                *ignored += 1;
            } else if !m.rtpmaps.iter().any(|x| x.pt == r.pt) {
                m.rtpmaps.push(r);
            }
        }
        "rtcp" => {
            let mut p = value.split_ascii_whitespace();
            if let Some(port) = p.next().and_then(|x| x.parse().ok()) {
                let addr = p.collect::<Vec<_>>().join(" ");
                m.rtcp = Some((port, connection(&addr)));
            }
        }
        "rtcp-mux" => m.rtcp_mux = true,
        "ssrc" => {
            let (ssrc, rest) = value.split_once(' ').unwrap_or((value, ""));
            let (Ok(ssrc), Some(cname)) = (ssrc.parse::<u32>(), rest.trim().strip_prefix("cname:"))
            else {
                return;
            };
            if m.ssrcs.len() >= MAX_FORMATS {
                *ignored += 1;
            } else if !m.ssrcs.iter().any(|x| x.0 == ssrc) {
                m.ssrcs.push((ssrc, cname));
            }
        }
        _ => {}
    }
}

/// `96 opus/48000/2`.
fn rtpmap(v: &str) -> Option<RtpMap<'_>> {
    let (pt, enc) = v.split_once(' ')?;
    let pt: u8 = pt.trim().parse().ok().filter(|&p| p < 128)?;
    let mut e = enc.trim().split('/');
    let name = e.next()?.trim();
    let clock_rate: u32 = e.next()?.trim().parse().ok().filter(|&r| r > 0)?;
    let channels = e.next().and_then(|c| c.trim().parse().ok()).unwrap_or(1);
    (!name.is_empty()).then_some(RtpMap {
        pt,
        name,
        clock_rate,
        channels,
    })
}

/// Encoding names as `'static` (the engine's codec table is keyed by them); unknown names
/// become `"unknown"` (the clock rate still counts).
fn static_name(n: &str) -> &'static str {
    const NAMES: [&str; 24] = [
        "PCMU",
        "PCMA",
        "G722",
        "G729",
        "G723",
        "GSM",
        "AMR",
        "AMR-WB",
        "iLBC",
        "speex",
        "opus",
        "telephone-event",
        "CN",
        "VP8",
        "VP9",
        "H264",
        "H265",
        "AV1",
        "H263",
        "H263-1998",
        "red",
        "ulpfec",
        "flexfec-03",
        "rtx",
    ];
    NAMES
        .iter()
        .find(|k| k.eq_ignore_ascii_case(n))
        .copied()
        .unwrap_or("unknown")
}

/// RFC 3551 Table 4/5: the static payload types' encoding names and clock rates.
pub fn static_rtpmap(pt: u8) -> Option<RtpMap<'static>> {
    let (name, clock_rate) = match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        18 => ("G729", 8000),
        26 => ("JPEG", 90000),
        31 => ("H261", 90000),
        34 => ("H263", 90000),
        _ => return None,
    };
    Some(RtpMap {
        pt,
        name,
        clock_rate,
        channels: 1,
    })
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
mod tests;
