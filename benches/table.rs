//! Stream-table scaling: N streams × 4 RTP packets (and N single-packet candidates) fed to one
//! [`Engine`], with the default limits and with `max_streams` 10,000, one address pair (every
//! stream between the same two sockets, SSRCs differ) and many (one IP pair per stream).
//!
//! Each case runs in its own child process so that its peak RSS (`getrusage` `ru_maxrss`) is its
//! own; CPU time is the child's user + system time. A child is stopped by `RLIMIT_CPU` after
//! `TABLE_BENCH_CPU_LIMIT` seconds (default 120) and reported as `>limit`, so that a quadratic
//! engine cannot hold the bench for hours. Packets are 5 µs apart in capture time (a 1M × 4 run
//! spans 20 s, inside the 60 s idle timeout): once the table is full, every new stream evicts one.
//! Records of ended streams are drained and dropped as they come, as a bounded replay would.
//! The `idle-out` cases end every stream at once by idle expiry (one address pair).
//!
//! `cargo bench --bench table` (`TABLE_BENCH_MAX` caps the stream count, default 1,000,000;
//! `TABLE_BENCH_ONLY` runs the cases whose name contains it). docs/benchmarks.md records results.

use rtcprobe::config::Resolved;
use rtcprobe::engine::{Engine, ObservationPoint, RtpMeta};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::Command;

const PACKET_GAP_NS: i64 = 5_000;
const START_NS: i64 = 1_700_000_000_000_000_000;
/// Streams start in waves of this many, each sending its 4 packets before the next wave starts
/// (as calls arrive over time; the candidate table never fills in the stream cases).
const WAVE: u32 = 1_000;

#[derive(Clone, Copy)]
struct Case {
    streams: u32,
    packets: u16,
    one_pair: bool,
    max_streams: Option<usize>,
    /// End every stream by idle expiry (all at once) instead of at the end of the capture.
    idle_out: bool,
    /// Every stream sends one SSRC; then this many RTCP RRs of 31 report blocks about it arrive
    /// from an unrelated address (no stream matches: the worst case of the by-SSRC lookup).
    rrs: u32,
}

impl Case {
    fn name(&self) -> String {
        format!(
            "{}x{}/{}/{}",
            self.streams,
            self.packets,
            if self.one_pair {
                "one-pair"
            } else {
                "many-pairs"
            },
            self.max_streams
                .map_or("default".to_string(), |m| format!("max_streams={m}"))
        ) + if self.idle_out { "/idle-out" } else { "" }
            + &if self.rrs > 0 {
                format!("/one-ssrc+{}rr", self.rrs)
            } else {
                String::new()
            }
    }

    fn addrs(&self, i: u32) -> (SocketAddr, SocketAddr) {
        if self.one_pair {
            let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40_000);
            let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 50_000);
            (a.into(), b.into())
        } else {
            let a = SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 | i), 40_000);
            let b = SocketAddrV4::new(Ipv4Addr::from(0x0b00_0000 | i), 50_000);
            (a.into(), b.into())
        }
    }

    fn run(&self) -> (u64, u64, u64, u64) {
        let mut cfg = Resolved::default();
        if let Some(m) = self.max_streams {
            cfg.max_streams = m;
        }
        let mut e = Engine::new(cfg);
        let mut now = START_NS;
        let mut next_expire = now;
        let mut ended = 0u64;
        let mut wave_start = 0u32;
        while wave_start < self.streams {
            let wave_end = wave_start.saturating_add(WAVE).min(self.streams);
            for p in 0..self.packets {
                for i in wave_start..wave_end {
                    let (src, dst) = self.addrs(i);
                    let m = RtpMeta {
                        src,
                        dst,
                        ssrc: if self.rrs > 0 {
                            SHARED_SSRC
                        } else {
                            i.wrapping_mul(0x9E37_79B9) | 1
                        },
                        seq: (i as u16).wrapping_add(p),
                        pt: 0,
                        ts: u32::from(p) * 160,
                        wire_len: 172,
                        point: ObservationPoint::CAPTURE,
                        marker: false,
                        hint: Default::default(),
                    };
                    e.on_rtp_meta(now, &m);
                    now += PACKET_GAP_NS;
                    if now >= next_expire {
                        e.expire(now);
                        ended += e.drain_finished().len() as u64;
                        next_expire = now + 1_000_000_000;
                    }
                }
            }
            wave_start = wave_end;
        }
        let rr = rr31();
        let from = SocketAddr::from(([10, 200, 0, 1], 7000));
        let to = SocketAddr::from(([10, 201, 0, 1], 7001));
        for _ in 0..self.rrs {
            now += PACKET_GAP_NS;
            e.on_rtcp(now, from, to, &rr, true);
        }
        if self.idle_out {
            e.expire(now + cfg_idle_ns() + 1);
        }
        e.finish_all();
        ended += e.drain_finished().len() as u64;
        let c = e.counters();
        std::hint::black_box(ended);
        (
            c.streams_created,
            c.streams_evicted,
            c.candidates_dropped,
            c.rtcp_unmatched,
        )
    }
}

const SHARED_SSRC: u32 = 0x5eed_5eed;

/// An RTCP RR (RFC 3550 §6.4.2) with 31 report blocks, all about [`SHARED_SSRC`].
fn rr31() -> Vec<u8> {
    let mut p = vec![0x80 | 31, 201];
    p.extend_from_slice(&((8 + 31 * 24) / 4 - 1u16).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    for _ in 0..31 {
        p.extend_from_slice(&SHARED_SSRC.to_be_bytes());
        p.extend_from_slice(&[0; 20]);
    }
    p
}

fn cfg_idle_ns() -> i64 {
    Resolved::default().idle_timeout_ns
}

fn rusage() -> (f64, i64) {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    (t(u.ru_utime) + t(u.ru_stime), u.ru_maxrss)
}

fn cases(max: u32) -> Vec<Case> {
    let mut v = Vec::new();
    for n in [10_000u32, 100_000, 1_000_000]
        .into_iter()
        .filter(|n| *n <= max)
    {
        for one_pair in [false, true] {
            for max_streams in [None, Some(10_000)] {
                v.push(Case {
                    streams: n,
                    packets: 4,
                    one_pair,
                    max_streams,
                    idle_out: false,
                    rrs: 0,
                });
            }
        }
        v.push(Case {
            streams: n,
            packets: 4,
            one_pair: true,
            max_streams: None,
            idle_out: true,
            rrs: 0,
        });
    }
    for n in [50_000u32].into_iter().filter(|n| *n <= max) {
        v.push(Case {
            streams: n,
            packets: 4,
            one_pair: false,
            max_streams: None,
            idle_out: false,
            rrs: 1_000,
        });
    }
    for n in [100_000u32, 1_000_000].into_iter().filter(|n| *n <= max) {
        v.push(Case {
            streams: n,
            packets: 1,
            one_pair: false,
            max_streams: None,
            idle_out: false,
            rrs: 0,
        });
    }
    v
}

fn main() {
    let max = std::env::var("TABLE_BENCH_MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let all = cases(max);
    if let Some(i) = std::env::var("TABLE_BENCH_CASE")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        let case = all[i];
        let (created, evicted, dropped, unmatched) = case.run();
        let (cpu, rss_kib) = rusage();
        println!(
            "{:<44} cpu {:>8.2} s  peak RSS {:>7.1} MiB  created {created} evicted {evicted} \
             candidates dropped {dropped} rtcp unmatched {unmatched}",
            case.name(),
            cpu,
            rss_kib as f64 / 1024.0
        );
        return;
    }
    let limit: u64 = std::env::var("TABLE_BENCH_CPU_LIMIT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let only = std::env::var("TABLE_BENCH_ONLY").unwrap_or_default();
    let exe = std::env::current_exe().expect("own path");
    for (i, case) in all.iter().enumerate() {
        if !case.name().contains(&only) {
            continue;
        }
        let out = Command::new("prlimit")
            .arg(format!("--cpu={limit}"))
            .arg(&exe)
            .env("TABLE_BENCH_CASE", i.to_string())
            .output()
            .expect("run case");
        if out.status.success() {
            print!("{}", String::from_utf8_lossy(&out.stdout));
        } else {
            println!("{:<44} cpu >{limit} s (stopped)", case.name());
        }
    }
}
