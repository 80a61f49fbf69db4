//! A read-side guard in front of hyper: it follows the request heads of a connection and
//! stops at the first one hyper cannot answer as RFC 9110 wants.
//!
//! hyper answers a request line whose version is not `HTTP/1.0` or `HTTP/1.1` with
//! `400 Bad Request` (or, for the HTTP/2 preface, by closing). RFC 9110 §15.6.6 wants
//! `505 HTTP Version Not Supported` for a well-formed version we do not speak (`HTTP/2.0`,
//! `HTTP/9.9`). The guard scans the bytes hyper reads: at the start of every request it looks
//! at the request line's last token (RFC 9112 §2.3: `HTTP-version = "HTTP/" DIGIT "." DIGIT`);
//! if it is such a version, the bytes from there on are withheld and hyper sees the end of the
//! stream after the requests before it, which it answers (pipelining keeps working); the
//! server then writes the `505` itself and closes. It also tells the connection's [`Conn`]
//! when a new head starts, for the head deadline.
//!
//! It relies on requests without a body, which is all this endpoint serves: a head announcing
//! a body (`Content-Length`, `Transfer-Encoding`) stops the scanning, and the response to it
//! closes the connection. The guard keeps a few bytes of state, never a copy of the head.

use super::limits::Conn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes of a line kept to find the version (the longest valid one, `HTTP/1.1`, is 8).
const TAIL: usize = 16;
/// Bytes of a header line kept to recognise the body headers.
const NAME: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    /// Before a request line (empty lines before it are skipped, RFC 9112 §2.2).
    Start,
    /// In the request line.
    RequestLine,
    /// In the header fields; `at_line_start` after a line feed.
    Headers,
    /// Scanning stopped (a body may follow).
    Off,
}

/// The scanner, separate from IO for testing.
#[derive(Debug)]
pub struct Scanner {
    at: Where,
    /// Last bytes of the request line, and spaces seen in it.
    tail: [u8; TAIL],
    tail_len: usize,
    spaces: usize,
    /// First bytes of the current header line, and its length so far.
    name: [u8; NAME],
    line_len: usize,
}

/// What the scanner found in a chunk. `started`: the offset in the chunk of the last request
/// line that began in it, if one did.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Nothing to stop at.
    Pass { started: Option<usize> },
    /// The current request line has an unsupported version.
    BadVersion { started: Option<usize> },
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            at: Where::Start,
            tail: [0; TAIL],
            tail_len: 0,
            spaces: 0,
            name: [0; NAME],
            line_len: 0,
        }
    }
}

impl Scanner {
    pub fn scan(&mut self, chunk: &[u8]) -> Found {
        let mut started = None;
        for (i, &b) in chunk.iter().enumerate() {
            match self.at {
                Where::Off => return Found::Pass { started },
                Where::Start => {
                    if b == b'\r' || b == b'\n' {
                        continue;
                    }
                    started = Some(i);
                    self.at = Where::RequestLine;
                    self.tail_len = 0;
                    self.spaces = 0;
                    self.push_tail(b);
                }
                Where::RequestLine => {
                    if b == b'\n' {
                        if self.unsupported_version() {
                            return Found::BadVersion { started };
                        }
                        self.at = Where::Headers;
                        self.line_len = 0;
                    } else if b != b'\r' {
                        if b == b' ' {
                            self.spaces += 1;
                        }
                        self.push_tail(b);
                    }
                }
                Where::Headers => {
                    if b == b'\n' {
                        if self.line_len == 0 {
                            self.at = Where::Start;
                        } else if self.announces_body() {
                            self.at = Where::Off;
                        }
                        self.line_len = 0;
                    } else if b != b'\r' {
                        if let Some(s) = self.name.get_mut(self.line_len) {
                            *s = b.to_ascii_lowercase();
                        }
                        self.line_len += 1;
                    }
                }
            }
        }
        Found::Pass { started }
    }

    /// In the middle of a request line (its bytes are held back until it is complete).
    pub fn in_request_line(&self) -> bool {
        self.at == Where::RequestLine
    }

    /// Stop checking (the line is too long to be a valid one: hyper answers it).
    pub fn stop(&mut self) {
        self.at = Where::Off;
    }

    fn push_tail(&mut self, b: u8) {
        if self.tail_len == TAIL {
            self.tail.copy_within(1.., 0);
            self.tail_len -= 1;
        }
        if let Some(s) = self.tail.get_mut(self.tail_len) {
            *s = b;
            self.tail_len += 1;
        }
    }

    /// The request line ends in `HTTP/d.d` other than 1.0 and 1.1.
    fn unsupported_version(&self) -> bool {
        let tail = self.tail.get(..self.tail_len).unwrap_or(&[]);
        let Some(sp) = tail.iter().rposition(|&b| b == b' ') else {
            return false;
        };
        let v = tail.get(sp + 1..).unwrap_or(&[]);
        let well_formed = matches!(v, [b'H', b'T', b'T', b'P', b'/', a, b'.', b]
            if a.is_ascii_digit() && b.is_ascii_digit());
        self.spaces == 2 && well_formed && v != b"HTTP/1.0" && v != b"HTTP/1.1"
    }

    fn announces_body(&self) -> bool {
        let n = self.line_len.min(NAME);
        let line = self.name.get(..n).unwrap_or(&[]);
        line.starts_with(b"content-length:") || line.starts_with(b"transfer-encoding:")
    }
}

/// The IO wrapper. The bytes of a request line are held back until the line is complete and
/// its version checked, so that hyper never sees the start of a request it must not answer.
pub struct Guard<S> {
    inner: S,
    scanner: Scanner,
    conn: Arc<Conn>,
    /// Read from `inner`, not yet given to hyper; the first `releasable` bytes may be.
    pending: Vec<u8>,
    releasable: usize,
    /// Where the request line in progress starts in `pending`.
    line_start: Option<usize>,
    eof: bool,
    /// Set when an unsupported version was found: reads end before its request.
    pub bad_version: bool,
}

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;

impl<S> Guard<S> {
    pub fn new(inner: S, conn: Arc<Conn>) -> Guard<S> {
        Guard {
            inner,
            scanner: Scanner::default(),
            conn,
            pending: Vec::new(),
            releasable: 0,
            line_start: None,
            eof: false,
            bad_version: false,
        }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Account for `n` new bytes at the end of `pending`.
    fn scanned(&mut self, old_len: usize) {
        let new = self.pending.get(old_len..).unwrap_or(&[]);
        let found = self.scanner.scan(new);
        let (started, bad) = match found {
            Found::Pass { started } => (started, false),
            Found::BadVersion { started } => (started, true),
        };
        if let Some(o) = started {
            self.line_start = Some(old_len + o);
            self.conn.head_started(Instant::now());
        }
        if bad {
            let cut = self.line_start.unwrap_or(old_len).min(self.pending.len());
            self.pending.truncate(cut);
            self.releasable = cut;
            self.bad_version = true;
            return;
        }
        self.releasable = match self.line_start {
            Some(start) if self.scanner.in_request_line() => {
                if self.pending.len() - start > super::server::MAX_HEAD_BYTES {
                    // Too long to be a request line we serve: hyper answers it (414/431).
                    self.scanner.stop();
                    self.pending.len()
                } else {
                    start
                }
            }
            _ => self.pending.len(),
        };
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.releasable > 0 {
                let n = this.releasable.min(buf.remaining());
                buf.put_slice(this.pending.get(..n).unwrap_or(&[]));
                this.pending.drain(..n);
                this.releasable -= n;
                this.line_start = this.line_start.map(|s| s.saturating_sub(n));
                return Poll::Ready(Ok(()));
            }
            if this.bad_version {
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                // A request line cut by the end of the stream: hyper sees it and gives up.
                this.releasable = this.pending.len();
                if this.releasable == 0 {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            let mut tmp = [0u8; READ_CHUNK];
            let mut rb = ReadBuf::new(&mut tmp);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    if rb.filled().is_empty() {
                        this.eof = true;
                        continue;
                    }
                    let old_len = this.pending.len();
                    this.pending.extend_from_slice(rb.filled());
                    this.scanned(old_len);
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(parts: &[&[u8]]) -> Vec<Found> {
        let mut s = Scanner::default();
        parts.iter().map(|p| s.scan(p)).collect()
    }

    #[test]
    fn supported_versions_pass_and_pipelined_heads_are_followed() {
        let r = scan_all(&[b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.0\r\n\r\n"]);
        assert_eq!(r, vec![Found::Pass { started: Some(27) }]);
    }

    #[test]
    fn http2_and_9_9_are_found_where_their_request_starts() {
        let ok = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut chunk = ok.to_vec();
        chunk.extend_from_slice(b"GET / HTTP/2.0\r\n\r\n");
        let r = scan_all(&[&chunk]);
        assert_eq!(
            r,
            vec![Found::BadVersion {
                started: Some(ok.len())
            }]
        );
        let r = scan_all(&[b"GET / HTTP/9", b".9\r\n"]);
        assert_eq!(r[1], Found::BadVersion { started: None });
        let r = scan_all(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]);
        assert_eq!(r[0], Found::BadVersion { started: Some(0) });
    }

    #[test]
    fn malformed_lines_are_left_to_hyper() {
        for line in [
            &b"GET /\r\n\r\n"[..],
            b"GET / HTTP/1.1 x\r\n\r\n",
            b"GET / HTTP/22.0\r\n\r\n",
            b"HELLO\r\n\r\n",
        ] {
            assert_eq!(
                scan_all(&[line])[0],
                Found::Pass { started: Some(0) },
                "{line:?}"
            );
        }
    }

    #[test]
    fn a_body_stops_the_scanning() {
        let r = scan_all(&[b"POST / HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET / HTTP/2.0\r\n\r\n"]);
        assert_eq!(r, vec![Found::Pass { started: Some(0) }]);
    }

    /// Everything hyper would read through the guard when `parts` arrive one read at a time.
    fn through_guard(parts: &[&[u8]]) -> (Vec<u8>, bool) {
        use crate::export::limits::{Limits, Table};
        use std::time::Duration;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let table = Table::new(Limits {
                max_connections: 1,
                max_per_address: 1,
                head_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(10),
            });
            let conn = table
                .admit("127.0.0.1".parse().unwrap(), Instant::now())
                .unwrap();
            let (mut client, server) = tokio::io::duplex(64);
            let mut g = Guard::new(server, conn);
            let mut out = Vec::new();
            for p in parts {
                client.write_all(p).await.unwrap();
                let mut buf = [0u8; 256];
                let n = tokio::time::timeout(Duration::from_millis(50), g.read(&mut buf))
                    .await
                    .unwrap_or(Ok(0))
                    .unwrap();
                out.extend_from_slice(&buf[..n]);
            }
            drop(client);
            let mut rest = Vec::new();
            g.read_to_end(&mut rest).await.unwrap();
            out.extend(rest);
            (out, g.bad_version)
        })
    }

    #[test]
    fn the_guard_passes_good_requests_and_withholds_a_trickled_bad_version() {
        let good = &b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"[..];
        let (out, bad) = through_guard(&[good, b"GET / HT", b"TP/9", b".9\r\n\r\n"]);
        assert_eq!(out, good);
        assert!(bad);
        let (out, bad) = through_guard(&[good, b"GET / HT", b"TP/1.1\r\n\r\n"]);
        assert_eq!(out, [good, b"GET / HTTP/1.1\r\n\r\n"].concat());
        assert!(!bad);
        // A request line cut by the end of the stream reaches hyper, which gives up on it.
        let (out, bad) = through_guard(&[b"GET / HTT"]);
        assert_eq!(out, b"GET / HTT");
        assert!(!bad);
    }
}
