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

/// What the scanner found in a chunk.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Nothing to stop at; `started` if a new request head began in it.
    Pass { started: bool },
    /// A request with an unsupported version starts at this offset of the chunk.
    BadVersion { at: usize, started: bool },
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
        let mut started = false;
        let mut msg_start = 0;
        for (i, &b) in chunk.iter().enumerate() {
            match self.at {
                Where::Off => return Found::Pass { started },
                Where::Start => {
                    if b == b'\r' || b == b'\n' {
                        continue;
                    }
                    started = true;
                    msg_start = i;
                    self.at = Where::RequestLine;
                    self.tail_len = 0;
                    self.spaces = 0;
                    self.push_tail(b);
                }
                Where::RequestLine => {
                    if b == b'\n' {
                        if self.unsupported_version() {
                            return Found::BadVersion {
                                at: msg_start,
                                started,
                            };
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

/// The IO wrapper.
pub struct Guard<S> {
    inner: S,
    scanner: Scanner,
    conn: Arc<Conn>,
    /// Set when an unsupported version was found: reads end there.
    pub bad_version: bool,
}

impl<S> Guard<S> {
    pub fn new(inner: S, conn: Arc<Conn>) -> Guard<S> {
        Guard {
            inner,
            scanner: Scanner::default(),
            conn,
            bad_version: false,
        }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.bad_version {
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let this = &mut *self;
            let new = buf.filled().get(before..).unwrap_or(&[]);
            match this.scanner.scan(new) {
                Found::Pass { started } => {
                    if started {
                        this.conn.head_started(Instant::now());
                    }
                }
                Found::BadVersion { at, .. } => {
                    this.bad_version = true;
                    buf.set_filled(before + at);
                }
            }
        }
        r
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
        assert_eq!(r, vec![Found::Pass { started: true }]);
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
                at: ok.len(),
                started: true
            }]
        );
        let r = scan_all(&[b"GET / HTTP/9", b".9\r\n"]);
        assert_eq!(
            r[1],
            Found::BadVersion {
                at: 0,
                started: false
            }
        );
        let r = scan_all(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]);
        assert_eq!(
            r[0],
            Found::BadVersion {
                at: 0,
                started: true
            }
        );
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
                Found::Pass { started: true },
                "{line:?}"
            );
        }
    }

    #[test]
    fn a_body_stops_the_scanning() {
        let r = scan_all(&[b"POST / HTTP/1.1\r\nContent-Length: 18\r\n\r\nGET / HTTP/2.0\r\n\r\n"]);
        assert_eq!(r, vec![Found::Pass { started: true }]);
    }
}
