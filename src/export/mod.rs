//! The Prometheus endpoint: `/metrics`, `/healthz` and `/streams` over HTTP/1.1.
//!
//! A deliberately small blocking server on `std::net`: one accept thread, at most
//! [`MAX_CONNECTIONS`] requests handled at once (one short thread each; more get `503`), a
//! request head of at most [`MAX_REQUEST_BYTES`], a read and write timeout, and
//! `Connection: close` after every response. Each scrape encodes from the pipeline's
//! published snapshots ([`metrics`]), so it never blocks capture or the workers, and ended
//! streams are gone from the next scrape. The aggregates it encodes are accumulated by the
//! workers ([`aggregate`]) with the labels of [`labels`]; every metric name is in [`names`].
//!
//! What it does not do: TLS or authentication (put it behind a reverse proxy, or keep the
//! default loopback address), keep-alive, or push.

pub mod aggregate;
pub mod labels;
pub mod metrics;
pub mod names;

use crate::config::ExporterConfig;
use crate::engine::record::StreamRecord;
use crate::pipeline::snapshot::Board;
use labels::Labeller;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Requests handled at the same time; Prometheus scrapes one at a time per target.
pub const MAX_CONNECTIONS: usize = 4;
/// Longest request head read (request line and headers).
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// Read and write timeout of a connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What the handlers share.
struct Shared {
    board: Arc<Board>,
    labeller: Arc<Labeller>,
    per_stream: bool,
    max_stream_series: usize,
    healthy: Arc<AtomicBool>,
    scrapes: AtomicU64,
    omitted_total: AtomicU64,
    last_duration_ns: AtomicU64,
    busy: AtomicUsize,
}

/// A running endpoint; dropping it stops the server.
pub struct Exporter {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    /// Listen on `cfg.listen` and serve `board`. `healthy` is what `/healthz` reports (the
    /// daemon clears it when its capture threads or workers have stopped).
    pub fn start(
        cfg: &ExporterConfig,
        board: Arc<Board>,
        labeller: Arc<Labeller>,
        healthy: Arc<AtomicBool>,
    ) -> std::io::Result<Exporter> {
        let listener = TcpListener::bind(cfg.listen.as_str())?;
        let addr = listener.local_addr()?;
        // Accepted connections do not inherit it (accept(2)); the loop never blocks in accept.
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            board,
            labeller,
            per_stream: cfg.per_stream_series,
            max_stream_series: cfg.max_stream_series,
            healthy,
            scrapes: AtomicU64::new(0),
            omitted_total: AtomicU64::new(0),
            last_duration_ns: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("rtcprobe-http".into())
            .spawn(move || accept_loop(&listener, &shared, &stop2))?;
        Ok(Exporter {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address actually bound (port 0 in the config picks a free one).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // The accept loop polls with a short timeout and sees the flag: no self-connection,
        // which fails where loopback is down (a fresh network namespace) and would hang here.
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long the accept loop waits for a connection before looking at the stop flag.
const ACCEPT_POLL_MS: i32 = 100;

/// Wait up to [`ACCEPT_POLL_MS`] for the listener to become readable (poll(2)).
fn readable(listener: &TcpListener) -> bool {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the duration of the call.
    unsafe { libc::poll(&mut p, 1, ACCEPT_POLL_MS) > 0 }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        if !readable(listener) {
            continue;
        }
        let Ok((mut conn, _)) = listener.accept() else {
            continue;
        };
        let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
        let _ = conn.set_write_timeout(Some(IO_TIMEOUT));
        if shared.busy.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            shared.busy.fetch_sub(1, Ordering::SeqCst);
            let _ = respond(
                &mut conn,
                "503 Service Unavailable",
                "text/plain",
                b"busy\n",
            );
            continue;
        }
        let s = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("rtcprobe-http-req".into())
            .spawn(move || {
                handle(&mut conn, &s);
                s.busy.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            shared.busy.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Read a request head: at most [`MAX_REQUEST_BYTES`], up to the blank line.
fn read_head(conn: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n)?);
        if buf.len() > MAX_REQUEST_BYTES {
            return None;
        }
    }
    String::from_utf8(buf).ok()
}

fn handle(conn: &mut TcpStream, s: &Shared) {
    let Some(head) = read_head(conn) else {
        let _ = respond(conn, "400 Bad Request", "text/plain", b"bad request\n");
        return;
    };
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let accept = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("accept"))
        .map_or("", |(_, v)| v.trim())
        .to_string();
    if method != "GET" {
        let _ = respond(conn, "405 Method Not Allowed", "text/plain", b"GET only\n");
        return;
    }
    let _ = match path {
        "/metrics" => {
            let om = accept.contains("application/openmetrics-text");
            let t0 = Instant::now();
            let e = metrics::encode(&metrics::Scrape {
                board: &s.board,
                labeller: &s.labeller,
                per_stream: s.per_stream,
                max_stream_series: s.max_stream_series,
                openmetrics: om,
                last_duration_secs: s.last_duration_ns.load(Ordering::Relaxed) as f64 / 1e9,
                scrapes: s.scrapes.fetch_add(1, Ordering::Relaxed),
                omitted_total: s.omitted_total.fetch_add(0, Ordering::Relaxed),
            });
            s.omitted_total.fetch_add(e.omitted, Ordering::Relaxed);
            let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
            s.last_duration_ns.store(ns, Ordering::Relaxed);
            let ctype = if om {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            } else {
                "text/plain; version=0.0.4; charset=utf-8"
            };
            respond(conn, "200 OK", ctype, e.body.as_bytes())
        }
        "/healthz" => {
            if s.healthy.load(Ordering::Relaxed) {
                respond(conn, "200 OK", "text/plain", b"ok\n")
            } else {
                respond(
                    conn,
                    "503 Service Unavailable",
                    "text/plain",
                    b"capture or workers stopped\n",
                )
            }
        }
        "/streams" => {
            let body = serde_json::to_vec(&live_streams(&s.board)).unwrap_or_default();
            respond(conn, "200 OK", "application/json", &body)
        }
        "/" => respond(
            conn,
            "200 OK",
            "text/html",
            b"<html><body><h1>rtcprobe</h1><a href=\"/metrics\">/metrics</a> \
              <a href=\"/streams\">/streams</a> <a href=\"/healthz\">/healthz</a></body></html>\n",
        ),
        _ => respond(conn, "404 Not Found", "text/plain", b"not found\n"),
    };
}

/// The live streams of every worker's latest snapshot, in order of first appearance.
pub fn live_streams(board: &Board) -> Vec<StreamRecord> {
    let mut all: Vec<(u64, StreamRecord)> = board
        .shards
        .iter()
        .flat_map(|s| s.load().streams.clone())
        .collect();
    all.sort_by(|(a, ra), (b, rb)| (a, &ra.src, ra.ssrc).cmp(&(b, &rb.src, rb.ssrc)));
    all.into_iter().map(|(_, r)| r).collect()
}

fn respond(conn: &mut TcpStream, status: &str, ctype: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)?;
    conn.flush()
}

/// A record with every field empty or zero, for tests.
#[cfg(test)]
pub(crate) fn test_record() -> StreamRecord {
    StreamRecord {
        src: "10.0.0.1:4000".into(),
        dst: "10.0.0.2:5000".into(),
        ssrc: 1,
        payload_types: vec![0],
        clock_rate: Some(8000),
        clock_rate_source: Some("static"),
        packets: 0,
        bytes: 0,
        first_seen: String::new(),
        last_seen: String::new(),
        expected: 0,
        lost: 0,
        missing: 0,
        duplicates: 0,
        reordered: 0,
        seq_restarts: 0,
        max_gap_ms: 0.0,
        jitter_ms: None,
        max_jitter_ms: None,
        mean_jitter_ms: None,
        rtt_ms: Default::default(),
        remote: None,
        loss_upstream: None,
        loss_downstream: None,
        sender: None,
        feedback: Default::default(),
        cname: None,
        ended_by: "active",
        srtcp: false,
        probe_dropped: 0,
        probe_drop: false,
        first_seen_ns: 0,
        last_seen_ns: 0,
        probe_drop_at_ns: None,
        lost_settled: 0,
    }
}
