//! The routes of the endpoint and the HTTP rules hyper leaves to the application.
//!
//! hyper parses the request (400 for a malformed request line or header, 431 for a head over
//! the buffer limit) and the guard ([`super::guard`]) answers unsupported versions with 505.
//! Here: a HTTP/1.1 request without exactly one `Host` is 400 (RFC 9112 §3.2); methods other
//! than GET and HEAD are 405 with `Allow: GET, HEAD` (RFC 9110 §15.5.6); HEAD is answered like
//! GET without the body (hyper drops it and keeps `Content-Length`). With `basic_auth_users`,
//! a request without the right credentials gets 401 with `WWW-Authenticate: Basic`
//! (RFC 7617). The web configuration's extra headers go on every response written here.
//!
//! The bodies are the same as the former std::net server's, byte for byte. Encoding a scrape
//! and checking a password are CPU work: they run on the runtime's blocking threads so the
//! accepting thread keeps going.

use super::limits::Conn;
use super::server::Shared;
use super::site::Site;
use super::{live_streams, metrics};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

pub type Body = Full<Bytes>;

const INDEX: &[u8] = b"<html><body><h1>rtcprobe</h1><a href=\"/metrics\">/metrics</a> \
    <a href=\"/streams\">/streams</a> <a href=\"/hops\">/hops</a> <a href=\"/calls\">/calls</a> <a href=\"/healthz\">/healthz</a></body></html>\n";

/// Answer one request.
pub async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    site: Arc<Site>,
    conn: Arc<Conn>,
) -> Result<Response<Body>, Infallible> {
    conn.enter();
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes().iter().any(|&b| b != b'0'));
    let mut resp = route(&req, &shared, &site).await;
    for (k, v) in &site.headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    if has_body {
        // The body is not read: the connection cannot be reused (see guard.rs).
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    conn.leave(Instant::now());
    Ok(resp)
}

fn text(status: StatusCode, ctype: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

async fn route(req: &Request<Incoming>, shared: &Arc<Shared>, site: &Arc<Site>) -> Response<Body> {
    if req.version() == Version::HTTP_11 && req.headers().get_all(header::HOST).iter().count() != 1
    {
        return text(
            StatusCode::BAD_REQUEST,
            "text/plain",
            &b"a HTTP/1.1 request needs one Host header\n"[..],
        );
    }
    if !site.users.is_empty() {
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec());
        let s = Arc::clone(site);
        let ok = tokio::task::spawn_blocking(move || s.users.check(auth.as_deref()))
            .await
            .unwrap_or(false);
        if !ok {
            let mut r = text(
                StatusCode::UNAUTHORIZED,
                "text/plain",
                &b"Unauthorized\n"[..],
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            return r;
        }
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            &b"GET only\n"[..],
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/metrics" => {
            let om = req.headers().get_all(header::ACCEPT).iter().any(|v| {
                v.as_bytes()
                    .windows(28)
                    .any(|w| w == b"application/openmetrics-text")
            });
            let s = Arc::clone(shared);
            let body = tokio::task::spawn_blocking(move || scrape(&s, om))
                .await
                .unwrap_or_default();
            let ctype = if om {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            } else {
                "text/plain; version=0.0.4; charset=utf-8"
            };
            text(StatusCode::OK, ctype, body)
        }
        "/healthz" => {
            if shared.healthy.load(Ordering::Relaxed) {
                text(StatusCode::OK, "text/plain", &b"ok\n"[..])
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    &b"capture or workers stopped\n"[..],
                )
            }
        }
        "/streams" if shared.streams_endpoint => {
            let s = Arc::clone(shared);
            let body = tokio::task::spawn_blocking(move || {
                let streams: Vec<_> = live_streams(&s.board)
                    .into_iter()
                    .map(|r| super::private_record(&s.labeller, r))
                    .collect();
                serde_json::to_vec(&streams).unwrap_or_default()
            })
            .await
            .unwrap_or_default();
            text(StatusCode::OK, "application/json", body)
        }
        "/hops" if shared.streams_endpoint => {
            let s = Arc::clone(shared);
            let body = tokio::task::spawn_blocking(move || {
                super::hops::body(&s.board, &s.labeller, s.max_stream_series)
            })
            .await
            .unwrap_or_default();
            text(StatusCode::OK, "application/json", body)
        }
        "/calls" if shared.streams_endpoint => {
            let s = Arc::clone(shared);
            let body =
                tokio::task::spawn_blocking(move || super::calls_view::body(&s.board, &s.labeller))
                    .await
                    .unwrap_or_default();
            text(StatusCode::OK, "application/json", body)
        }
        "/" => text(StatusCode::OK, "text/html", INDEX),
        _ => text(StatusCode::NOT_FOUND, "text/plain", &b"not found\n"[..]),
    }
}

/// Encode one scrape of `/metrics`.
fn scrape(s: &Shared, om: bool) -> Vec<u8> {
    let t0 = Instant::now();
    let e = metrics::encode(&metrics::Scrape {
        board: &s.board,
        labeller: &s.labeller,
        per_stream: s.per_stream,
        max_stream_series: s.max_stream_series,
        openmetrics: om,
        last_duration_secs: s.last_duration_ns.load(Ordering::Relaxed) as f64 / 1e9,
        scrapes: s.scrapes.fetch_add(1, Ordering::Relaxed),
        omitted_total: s.omitted_total.load(Ordering::Relaxed),
        healthy: s.healthy.load(Ordering::Relaxed),
        http: metrics::Http {
            open: s.table.open(),
            closed: s.table.closed(),
        },
    });
    s.omitted_total.fetch_add(e.omitted, Ordering::Relaxed);
    let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
    s.last_duration_ns.store(ns, Ordering::Relaxed);
    e.body.into_bytes()
}
