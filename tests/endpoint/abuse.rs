//! Abuse while a real Prometheus scrapes every second (issue 12's security review, on
//! loopback): 50 slowloris clients sending one byte a second for 60 s, then 2,000 concurrent
//! connection attempts. Every scrape must succeed — asserted from Prometheus' own `up` and
//! `scrape_duration_seconds` samples over the window — and after the flood the server's RSS
//! must come back within 10 % of what it was before. The slow clients and Prometheus share
//! 127.0.0.1, so only the eviction policy of `src/export/limits.rs` can keep the scrape going.

use super::{have_prometheus, prometheus, query, scratch, serve};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SLOW_CLIENTS: usize = 50;
const SLOW_SECS: u64 = 60;
const FLOOD: usize = 2_000;

/// One slowloris client: a request head one byte a second, reconnecting when closed.
fn slowloris(addr: SocketAddr, stop: &AtomicBool, bytes: &AtomicU64) {
    let head = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let mut i = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let b = head.get(i).copied().unwrap_or(b'a');
            if c.write_all(&[b]).is_err() {
                break;
            }
            bytes.fetch_add(1, Ordering::Relaxed);
            i += 1;
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// VmRSS of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .expect("VmRSS")
}

/// Prometheus' view of the last `secs` seconds: (samples of `up`, lowest `up`, longest
/// scrape in seconds).
fn scrapes_over(prom: SocketAddr, secs: u64) -> (f64, f64, f64) {
    let q = |e: String| query(prom, &e).unwrap_or(f64::NAN);
    (
        q(format!("count_over_time(up{{job=\"rtcprobe\"}}[{secs}s])")),
        q(format!("min_over_time(up{{job=\"rtcprobe\"}}[{secs}s])")),
        q(format!(
            "max_over_time(scrape_duration_seconds{{job=\"rtcprobe\"}}[{secs}s])"
        )),
    )
}

#[test]
fn scrapes_succeed_under_slowloris_and_a_connection_flood() {
    if !have_prometheus() {
        return;
    }
    let dir = scratch("abuse");
    // The replay's streams end after 2 s; the endpoint serves their final state until the end.
    let (probe, addr) = serve(&dir.0, "", 2, SLOW_SECS as u32 + 60);
    let (_prom, prom) = prometheus(
        &dir.0,
        &format!("  - job_name: rtcprobe\n    static_configs:\n      - targets: ['{addr}']\n"),
    );
    common_wait_up(prom);

    let stop = Arc::new(AtomicBool::new(false));
    let bytes = Arc::new(AtomicU64::new(0));
    let slow: Vec<_> = (0..SLOW_CLIENTS)
        .map(|_| {
            let (stop, bytes) = (Arc::clone(&stop), Arc::clone(&bytes));
            std::thread::spawn(move || slowloris(addr, &stop, &bytes))
        })
        .collect();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(SLOW_SECS));
    let (n, min_up, longest) = scrapes_over(prom, SLOW_SECS - 2);
    stop.store(true, Ordering::Relaxed);
    for t in slow {
        t.join().expect("slowloris thread");
    }
    let sent = bytes.load(Ordering::Relaxed);
    eprintln!(
        "slowloris: {sent} bytes over {:?}; Prometheus: {n} scrapes, min up {min_up}, \
         longest {longest} s",
        t0.elapsed()
    );
    // The clients did hold connections: about one byte a second each.
    assert!(
        sent as f64 > 0.8 * (SLOW_CLIENTS as u64 * SLOW_SECS) as f64,
        "{sent}"
    );
    assert!(
        n >= (SLOW_SECS - 2) as f64 - 3.0,
        "{n} scrapes in {} s",
        SLOW_SECS - 2
    );
    assert_eq!(min_up, 1.0, "a scrape failed under slowloris");
    assert!(longest < 1.0, "{longest}");
    // The server, not the clients, ended the slow connections: a head deadline or an eviction.
    let closed = query(
        prom,
        "sum(rtcprobe_export_http_connections_closed_total{reason=~\"head_timeout|evicted\"})",
    )
    .unwrap_or(0.0);
    assert!(
        closed >= SLOW_CLIENTS as f64,
        "{closed} slow connections closed"
    );

    // The flood: 2,000 connections opened at once from 8 threads, held 5 s, then dropped.
    let pid = probe.0.id();
    let before = rss_kib(pid);
    let opened = Arc::new(AtomicU64::new(0));
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let opened = Arc::clone(&opened);
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for _ in 0..FLOOD / 8 {
                    if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
                        opened.fetch_add(1, Ordering::Relaxed);
                        held.push(c);
                    }
                }
                std::thread::sleep(Duration::from_secs(5));
                drop(held);
            })
        })
        .collect();
    let t1 = Instant::now();
    for t in flood {
        t.join().expect("flood thread");
    }
    std::thread::sleep(Duration::from_secs(8));
    let window = t1.elapsed().as_secs().max(10);
    let (n, min_up, longest) = scrapes_over(prom, window - 1);
    let after = rss_kib(pid);
    eprintln!(
        "flood: {} of {FLOOD} connections opened; Prometheus: {n} scrapes over {window} s, \
         min up {min_up}, longest {longest} s; RSS {before} KiB before, {after} KiB after",
        opened.load(Ordering::Relaxed)
    );
    assert!(opened.load(Ordering::Relaxed) as usize >= FLOOD * 9 / 10);
    assert!(n >= (window - 1) as f64 - 3.0, "{n} scrapes in {window} s");
    assert_eq!(min_up, 1.0, "a scrape failed during the flood");
    assert!(
        after as f64 <= before as f64 * 1.10,
        "RSS {after} KiB after the flood, {before} KiB before"
    );
    let evicted = query(
        prom,
        "rtcprobe_export_http_connections_closed_total{reason=\"evicted\"}",
    )
    .unwrap_or(0.0);
    assert!(evicted > 0.0, "the caps were never reached");
}

fn common_wait_up(prom: SocketAddr) {
    super::common::wait_for("first successful scrape", Duration::from_secs(30), || {
        (query(prom, "up{job=\"rtcprobe\"}") == Some(1.0)).then_some(())
    });
}
