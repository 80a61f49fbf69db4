//! The endpoint's server: hyper 1 (HTTP/1.1 only) on a tokio runtime of its own, two named
//! worker threads (`rtcprobe-http`) and at most two blocking threads (scrape encoding,
//! bcrypt). Capture and the workers never wait on it: it only reads published snapshots.
//!
//! One task accepts; each connection gets a task that admits it to the limits table
//! ([`super::limits`]), does the TLS handshake if configured, then serves requests with
//! keep-alive and pipelining until the client closes, the head or idle deadline passes or the
//! connection is evicted. Dropping the [`Exporter`] stops the runtime within a second.

use super::guard::Guard;
use super::labels::Labeller;
use super::limits::{Conn, Limits, Table};
use super::routes;
use super::site::Reloader;
use crate::config::ExporterConfig;
use crate::pipeline::snapshot::Board;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Accept queue length (listen(2) backlog): a flood of connection attempts waits in the kernel
/// rather than having its SYNs dropped, which would delay a scraper's connect by seconds.
pub const BACKLOG: u32 = 1024;
/// Longest request head (request line and fields); hyper answers 431 past it. hyper's
/// smallest read buffer is 8 KiB.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How often a connection looks at its deadlines.
const TICK: Duration = Duration::from_millis(250);
/// How long dropping the exporter waits for running handlers.
const SHUTDOWN: Duration = Duration::from_secs(1);

/// What the handlers share.
pub struct Shared {
    pub board: Arc<Board>,
    pub labeller: Arc<Labeller>,
    pub per_stream: bool,
    pub max_stream_series: usize,
    pub streams_endpoint: bool,
    pub healthy: Arc<AtomicBool>,
    pub scrapes: AtomicU64,
    pub omitted_total: AtomicU64,
    pub last_duration_ns: AtomicU64,
    pub table: Table,
    pub site: Reloader,
}

/// A running endpoint; dropping it stops the server.
pub struct Exporter {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Exporter {
    /// Listen on `cfg.listen` and serve `board`. `healthy` is what `/healthz` reports (the
    /// daemon clears it when its capture threads or workers have stopped). Fails if the
    /// address cannot be bound or the web configuration file cannot be served.
    pub fn start(
        cfg: &ExporterConfig,
        board: Arc<Board>,
        labeller: Arc<Labeller>,
        healthy: Arc<AtomicBool>,
    ) -> std::io::Result<Exporter> {
        let web = (!cfg.web_config_file.is_empty()).then(|| Path::new(&cfg.web_config_file));
        let site = Reloader::new(web).map_err(|p| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("exporter.web_config_file: {}: {}", p.key, p.fix),
            )
        })?;
        let addr: SocketAddr = cfg.listen.parse().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an address:port")
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(2)
            .thread_name("rtcprobe-http")
            .enable_io()
            .enable_time()
            .build()?;
        let listener = {
            let _g = runtime.enter();
            let sock = if addr.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            sock.set_reuseaddr(true)?;
            sock.bind(addr)?;
            sock.listen(BACKLOG)?
        };
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            board,
            labeller,
            per_stream: cfg.per_stream_series,
            max_stream_series: cfg.max_stream_series,
            streams_endpoint: cfg.streams_endpoint,
            healthy,
            scrapes: AtomicU64::new(0),
            omitted_total: AtomicU64::new(0),
            last_duration_ns: AtomicU64::new(0),
            table: Table::new(limits(cfg)),
            site,
        });
        let (stop, stopped) = watch::channel(false);
        runtime.spawn(accept_loop(listener, shared, stopped));
        Ok(Exporter {
            addr,
            stop,
            runtime: Some(runtime),
        })
    }

    /// The address actually bound (port 0 in the config picks a free one).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(SHUTDOWN);
        }
    }
}

/// The limits of `[exporter]`.
pub fn limits(cfg: &ExporterConfig) -> Limits {
    Limits {
        max_connections: cfg.max_connections.max(1),
        max_per_address: cfg.max_connections_per_address.max(1),
        head_timeout: Duration::from_secs(cfg.request_head_timeout_secs.max(1)),
        idle_timeout: Duration::from_secs(cfg.idle_timeout_secs.max(1)),
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors or memory: back off instead of spinning.
                tracing::warn!("exporter: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(conn) = shared.table.admit(peer.ip(), Instant::now()) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let s = Arc::clone(&shared);
        tokio::spawn(async move {
            let _leave = Leave(&s.table, &conn);
            connection(stream, &s, &conn).await;
        });
    }
}

/// Takes the connection out of the table however its task ends.
struct Leave<'a>(&'a Table, &'a Arc<Conn>);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.remove(self.1);
    }
}

async fn connection(stream: TcpStream, shared: &Arc<Shared>, conn: &Arc<Conn>) {
    let site = shared.site.current();
    match site.tls.clone() {
        None => serve(stream, shared, site, conn).await,
        Some(tls) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
            let handshake = acceptor.accept(stream);
            let tls_stream = tokio::select! {
                r = handshake => match r {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!("exporter: TLS handshake failed: {e}");
                        return;
                    }
                },
                () = watchdog(shared, conn) => return,
            };
            serve(tls_stream, shared, site, conn).await;
        }
    }
}

/// Resolves when the connection must close (evicted, or a deadline passed), counting why.
async fn watchdog(shared: &Shared, conn: &Conn) {
    let kill = conn.kill.notified();
    tokio::pin!(kill);
    loop {
        tokio::select! {
            () = &mut kill => return,
            () = tokio::time::sleep(TICK) => {
                if let Some(why) = conn.expired(Instant::now(), &shared.table.limits) {
                    shared.table.count(why);
                    return;
                }
            }
        }
    }
}

async fn serve<S>(io: S, shared: &Arc<Shared>, site: Arc<super::site::Site>, conn: &Arc<Conn>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let guard = Guard::new(io, Arc::clone(conn));
    let (sh, c) = (Arc::clone(shared), Arc::clone(conn));
    let svc = service_fn(move |req| {
        routes::handle(req, Arc::clone(&sh), Arc::clone(&site), Arc::clone(&c))
    });
    let l = shared.table.limits;
    let http = http1::Builder::new()
        .timer(TokioTimer::new())
        // A backstop only: the watchdog applies the head and idle deadlines.
        .header_read_timeout(l.head_timeout + l.idle_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true)
        .half_close(true)
        .serve_connection(TokioIo::new(guard), svc)
        .without_shutdown();
    let parts = tokio::select! {
        r = http => r,
        () = watchdog(shared, conn) => return,
    };
    let Ok(parts) = parts else {
        return;
    };
    let guard = parts.io.into_inner();
    let bad_version = guard.bad_version;
    let mut io = guard.into_inner();
    if bad_version {
        let body = b"HTTP version not supported\n";
        let head = format!(
            "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let write = async {
            io.write_all(head.as_bytes()).await?;
            io.write_all(body).await?;
            io.flush().await
        };
        let _ = tokio::time::timeout(l.head_timeout, write).await;
    }
    let _ = tokio::time::timeout(TICK, io.shutdown()).await;
}
