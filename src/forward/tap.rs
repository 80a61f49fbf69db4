//! The RTCP tap: every RTCP datagram the capture thread sees, handed to the `hep` sinks that
//! forward raw RTCP (`rtcp = true`, HEP protocol type 5; [`super::hep`]).
//!
//! ```text
//!  capture thread: triage ─Rtcp─▶ RtcpTap::offer ──line──▶ [hep sink queue] ─▶ intake ─▶ disk buffer
//!  (Feeder, or replay's Run)      (one line per datagram,   (the same queue, buffer, batching,
//!                                  try_send: drop, count)     retries and counters as records)
//! ```
//!
//! The tap sits before sharding, where each datagram is seen exactly once (a compound is routed
//! to every worker owning an SSRC it mentions, so a worker-side tap would send it several
//! times). To reuse the sink's bounded disk buffer, at-least-once delivery and counters, an
//! RTCP datagram travels as one buffer line beside the records:
//!
//! ```text
//!  #rtcp1 <capture time, ns since the epoch> <src ip:port> <dst ip:port> <datagram, base64>\n
//! ```
//!
//! A record line is JSON and starts with `{`, so the two cannot be confused; base64 (RFC 4648
//! §4, with padding) keeps the binary RTCP free of the `\n` that separates lines. The line
//! holds the capture metadata, not an encoded HEP packet: the HEP packet is built by the
//! sink's sender thread ([`super::hep::Hep`]), which keeps HEP encoding off the capture thread,
//! lets one line serve every RTCP sink, and keeps the sink's `password` out of the files on disk.
//!
//! Cost on the capture thread: one line (a `Vec` and its `Arc`) per RTCP datagram, whatever
//! the number of sinks; never a wait in live capture ([`RtcpTap::offer`]). What the tap does
//! not do: filter (the port filter and demultiplexing have already run: a datagram is tapped
//! when the engine takes it as RTCP or SRTCP), or parse the RTCP (its bytes are forwarded as
//! captured, cut short if the snap length cut the datagram).

use super::{offer, Route};
use arc_swap::ArcSwap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

/// The first bytes of a tapped RTCP line (version 1 of the line format).
pub const MARK: &[u8] = b"#rtcp1 ";

/// Hands RTCP datagrams to the sinks that forward them. Cheap to clone.
#[derive(Clone)]
pub struct RtcpTap {
    /// The forwarder's current RTCP sinks (a SIGHUP may change them).
    sinks: Arc<ArcSwap<Vec<Route>>>,
    wait: bool,
}

impl RtcpTap {
    /// A tap into a fixed set of `sinks` (their queues and counters); `None` when there are
    /// none. `wait`: replay waits for room in a full queue instead of dropping.
    pub fn new(sinks: Vec<Route>, wait: bool) -> Option<RtcpTap> {
        (!sinks.is_empty()).then(|| RtcpTap::shared(Arc::new(ArcSwap::from_pointee(sinks)), wait))
    }

    /// A tap into the list a [`super::Forwarder`] keeps up to date.
    pub(super) fn shared(sinks: Arc<ArcSwap<Vec<Route>>>, wait: bool) -> RtcpTap {
        RtcpTap { sinks, wait }
    }

    /// Call once per RTCP datagram, with its capture time (`now`, ns since the epoch), its
    /// addresses and its RTCP bytes. Never blocks in live capture: a sink whose queue is full
    /// counts the datagram as dropped (its `dropped` counter, shared with records).
    pub fn offer(&self, now: i64, src: SocketAddr, dst: SocketAddr, rtcp: &[u8]) {
        let sinks = self.sinks.load();
        if sinks.is_empty() {
            return;
        }
        offer(&sinks, self.wait, &Arc::new(line(now, src, dst, rtcp)));
    }
}

/// The buffer line of one RTCP datagram (without its `\n`).
pub fn line(now: i64, src: SocketAddr, dst: SocketAddr, rtcp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MARK.len() + 110 + rtcp.len().div_ceil(3) * 4);
    out.extend_from_slice(MARK);
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{now} {src} {dst} ");
    base64_encode(rtcp, &mut out);
    out
}

/// One tapped datagram, read back from its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tapped {
    pub time_ns: i64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub rtcp: Vec<u8>,
}

/// Read a line made by [`line()`]; `None` when it is not one (a damaged buffer file).
pub fn parse(line: &[u8]) -> Option<Tapped> {
    let rest = std::str::from_utf8(line.strip_prefix(MARK)?).ok()?;
    let mut f = rest.split(' ');
    let t = Tapped {
        time_ns: f.next()?.parse().ok()?,
        src: f.next()?.parse().ok()?,
        dst: f.next()?.parse().ok()?,
        rtcp: base64_decode(f.next()?.as_bytes())?,
    };
    f.next().is_none().then_some(t)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// RFC 4648 §4 base64, padded.
fn base64_encode(data: &[u8], out: &mut Vec<u8>) {
    let sym = |v: u32, shift: u32| ALPHABET[((v >> shift) & 63) as usize];
    for c in data.chunks(3) {
        let b = |i: usize| u32::from(c.get(i).copied().unwrap_or(0));
        let v = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(v, 18));
        out.push(sym(v, 12));
        out.push(if c.len() > 1 { sym(v, 6) } else { b'=' });
        out.push(if c.len() > 2 { sym(v, 0) } else { b'=' });
    }
}

/// The inverse of [`base64_encode`]; `None` on anything it would not have written.
fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 4 != 0 {
        return None;
    }
    let val = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let quads = text.len() / 4;
    for (i, q) in text.chunks(4).enumerate() {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != quads) {
            return None;
        }
        let mut v = 0u32;
        for &c in q.iter().take(4 - pad) {
            v = (v << 6) | val(c)?;
        }
        v <<= 6 * pad as u32;
        let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
        out.extend_from_slice(bytes.get(..3 - pad)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::stats::SinkStats;
    use crate::forward::Line;
    use crossbeam_channel::bounded;
    use std::sync::atomic::Ordering;

    #[test]
    fn base64_matches_rfc4648_test_vectors() {
        // RFC 4648 §10.
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = Vec::new();
            base64_encode(plain.as_bytes(), &mut out);
            assert_eq!(out, coded.as_bytes(), "{plain:?}");
            assert_eq!(base64_decode(coded.as_bytes()), Some(plain.into()));
        }
        for bad in ["Zg=", "Z===", "Zg==Zm8=", "Zm9v!A==", "Zm\n9"] {
            assert_eq!(base64_decode(bad.as_bytes()), None, "{bad:?}");
        }
        let all: Vec<u8> = (0..=255).collect();
        let mut out = Vec::new();
        base64_encode(&all, &mut out);
        assert_eq!(base64_decode(&out), Some(all));
    }

    #[test]
    fn a_line_reads_back_and_is_no_json() {
        // RTCP RR, no report blocks: V=2 PT=201 length=1, SSRC.
        let rr = [0x80, 0xc9, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef];
        let src: SocketAddr = "[2001:db8::1]:5005".parse().expect("addr");
        let dst: SocketAddr = "10.0.0.2:7079".parse().expect("addr");
        let l = line(1_700_000_000_123_456_789, src, dst, &rr);
        assert_eq!(
            std::str::from_utf8(&l).expect("text"),
            "#rtcp1 1700000000123456789 [2001:db8::1]:5005 10.0.0.2:7079 gMkAAd6tvu8="
        );
        assert!(!l.contains(&b'\n'));
        assert!(serde_json::from_slice::<serde_json::Value>(&l).is_err());
        let t = parse(&l).expect("a tapped line");
        assert_eq!(
            (t.time_ns, t.src, t.dst),
            (1_700_000_000_123_456_789, src, dst)
        );
        assert_eq!(t.rtcp, rr);
        for bad in [
            &b"{\"record_id\":1}"[..],
            b"#rtcp1 1 10.0.0.1:1 10.0.0.2:2",
            b"#rtcp1 x 10.0.0.1:1 10.0.0.2:2 gMk=",
            b"#rtcp1 1 10.0.0.1:1 10.0.0.2:2 gMk= extra",
            b"#rtcp1 1 10.0.0.1 10.0.0.2:2 gMk=",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let (tx, rx) = bounded::<Line>(1);
        let (tx2, rx2) = bounded::<Line>(8);
        let (s1, s2) = (
            Arc::new(SinkStats::default()),
            Arc::new(SinkStats::default()),
        );
        let tap = RtcpTap::new(vec![(tx, Arc::clone(&s1)), (tx2, Arc::clone(&s2))], false)
            .expect("a tap");
        let (a, b): (SocketAddr, SocketAddr) = (
            "10.0.0.1:1".parse().expect("addr"),
            "10.0.0.2:2".parse().expect("addr"),
        );
        // The first fits; the next two find the queue full and return at once (a blocking
        // send would hang this test, nobody reads the queue).
        for t in 0..3 {
            tap.offer(t, a, b, &[0x80, 0xc9, 0, 0]);
        }
        assert_eq!(s1.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(rx.len(), 1);
        assert_eq!(
            s2.dropped.load(Ordering::Relaxed),
            0,
            "the other sink has room"
        );
        assert_eq!(rx2.len(), 3);
        let first = rx.recv().expect("line");
        assert_eq!(parse(&first).map(|t| t.time_ns), Some(0));
        assert!(RtcpTap::new(Vec::new(), false).is_none());
    }
}
