//! A minimal client of rtpengine's ng control protocol: `offer`, `answer` and `query` over UDP.
//!
//! A message is `<cookie> <bencoded dictionary>`; the reply repeats the cookie. Only what the
//! lab sends and reads is implemented: byte strings, integers, lists and dictionaries, with
//! the reply's nesting and length bounded (it comes from a process under test).

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::Duration;

/// A bencoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Ben {
    Str(Vec<u8>),
    Int(i64),
    List(Vec<Ben>),
    Dict(BTreeMap<Vec<u8>, Ben>),
}

impl Ben {
    pub fn s(v: &str) -> Ben {
        Ben::Str(v.as_bytes().to_vec())
    }

    pub fn dict(pairs: &[(&str, Ben)]) -> Ben {
        Ben::Dict(
            pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect(),
        )
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Ben::Str(s) => {
                out.extend_from_slice(format!("{}:", s.len()).as_bytes());
                out.extend_from_slice(s);
            }
            Ben::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            Ben::List(l) => {
                out.push(b'l');
                l.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Ben::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Ben::Str(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decode one value from the front of `b`; returns it and the rest.
    pub fn decode(b: &[u8], depth: usize) -> Result<(Ben, &[u8]), String> {
        if depth > 16 {
            return Err("nested too deep".into());
        }
        match b.first() {
            Some(b'i') => {
                let end = b
                    .iter()
                    .position(|&c| c == b'e')
                    .ok_or("unterminated int")?;
                let s = std::str::from_utf8(&b[1..end]).map_err(|e| e.to_string())?;
                Ok((
                    Ben::Int(s.parse().map_err(|e| format!("int {s}: {e}"))?),
                    &b[end + 1..],
                ))
            }
            Some(b'l') => {
                let (mut rest, mut v) = (&b[1..], Vec::new());
                while rest.first() != Some(&b'e') {
                    let (x, r) = Ben::decode(rest, depth + 1)?;
                    v.push(x);
                    rest = r;
                }
                Ok((Ben::List(v), &rest[1..]))
            }
            Some(b'd') => {
                let (mut rest, mut m) = (&b[1..], BTreeMap::new());
                while rest.first() != Some(&b'e') {
                    let (Ben::Str(k), r) = Ben::decode(rest, depth + 1)? else {
                        return Err("dictionary key not a string".into());
                    };
                    let (v, r) = Ben::decode(r, depth + 1)?;
                    m.insert(k, v);
                    rest = r;
                }
                Ok((Ben::Dict(m), &rest[1..]))
            }
            Some(c) if c.is_ascii_digit() => {
                let colon = b.iter().position(|&c| c == b':').ok_or("no ':'")?;
                let s = std::str::from_utf8(&b[..colon]).map_err(|e| e.to_string())?;
                let n: usize = s.parse().map_err(|e| format!("length {s}: {e}"))?;
                let body = b
                    .get(colon + 1..colon + 1 + n)
                    .ok_or("string past the end")?;
                Ok((Ben::Str(body.to_vec()), &b[colon + 1 + n..]))
            }
            _ => Err("not bencode".into()),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Ben> {
        match self {
            Ben::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    /// The value as JSON (byte strings as lossy UTF-8), to navigate and print replies.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Ben::Str(s) => Value::String(String::from_utf8_lossy(s).into_owned()),
            Ben::Int(i) => Value::from(*i),
            Ben::List(l) => Value::Array(l.iter().map(Ben::to_json).collect()),
            Ben::Dict(d) => Value::Object(
                d.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.to_json()))
                    .collect(),
            ),
        }
    }

    pub fn text(&self) -> Option<String> {
        match self {
            Ben::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    }
}

/// Send one command to the ng port and return the reply's dictionary; `result` must be `ok`.
pub fn command(sock: &UdpSocket, ng: &str, cookie: &str, msg: &Ben) -> Result<Ben, String> {
    let mut out = format!("{cookie} ").into_bytes();
    msg.encode(&mut out);
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 65_536];
    // rtpengine may still be starting: a few tries, each bounded.
    for _ in 0..10 {
        sock.send_to(&out, ng)
            .map_err(|e| format!("ng {ng}: {e}"))?;
        let Ok(n) = sock.recv(&mut buf) else {
            continue;
        };
        let reply = &buf[..n];
        let body = reply
            .strip_prefix(format!("{cookie} ").as_bytes())
            .ok_or_else(|| {
                format!(
                    "ng reply without our cookie: {}",
                    String::from_utf8_lossy(reply)
                )
            })?;
        let (v, _) = Ben::decode(body, 0)?;
        return match v.get("result").and_then(Ben::text).as_deref() {
            Some("ok") => Ok(v),
            _ => Err(format!("ng {cookie}: {v:?}")),
        };
    }
    Err(format!("ng {ng}: no reply"))
}

/// The connection address and the `m=` ports (in order) of an SDP body.
pub fn sdp_media(sdp: &str) -> (Option<String>, Vec<u16>) {
    let mut addr = None;
    let mut ports = Vec::new();
    for line in sdp.lines() {
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            addr.get_or_insert_with(|| c.trim().to_owned());
        } else if let Some(m) = line.strip_prefix("m=") {
            if let Some(p) = m.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                ports.push(p);
            }
        }
    }
    (addr, ports)
}

/// An endpoint's SDP: PCMU audio on `audio`, VP8 video (payload type 96) on `video`.
pub fn sdp(addr: &str, audio: u16, video: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {addr}\r\ns=lab\r\nc=IN IP4 {addr}\r\nt=0 0\r\n\
         m=audio {audio} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n\
         m=video {video} RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\na=sendrecv\r\n"
    )
}
