//! The lab's impairment: netem in userspace, because this project's CI kernel has no `sch_netem`.
//!
//! An nftables rule in a lab namespace sends UDP packets to an NFQUEUE (`queue num N`); this
//! process, started inside that namespace as `lab --impair …`, takes each packet and decides its
//! fate with a seeded RNG (splitmix64, so a seed gives the same decisions on every run):
//!
//! * RTP is dropped with probability `loss`, otherwise held for `delay_ms` plus a uniform
//!   random `0..jitter_ms` before its ACCEPT verdict. The kernel lets verdicts come in any order
//!   (they name the packet id), so jitter larger than the packet spacing reorders packets.
//! * RTCP is never dropped and gets the fixed `delay_ms` only: the true round trip of every
//!   SR/RR exchange is then the sum of the fixed delays on its path, which is what the lab's
//!   RTT assertions compare against.
//! * Anything else (signalling, ICMP) is accepted at once.
//!
//! Every packet's fate is one JSON line in the log (the lab's ground truth): queue, 5-tuple,
//! kind, SSRC, sequence number, time in, verdict, time out (Unix nanoseconds). On SIGTERM the
//! held packets are accepted (and logged) and the log is flushed. Held packets are bounded
//! ([`MAX_HELD`]); past that a packet is accepted at once and logged as `accept_overflow`.

use std::collections::BinaryHeap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// At most this many packets wait for their verdict (the kernel's own queue default is 1024).
const MAX_HELD: usize = 900;

/// What `lab --impair` was asked to do.
#[derive(Debug, Clone)]
pub struct Params {
    pub queue: u16,
    pub seed: u64,
    /// Probability (0–1) that an RTP packet is dropped.
    pub loss: f64,
    pub delay_ms: f64,
    pub jitter_ms: f64,
    pub log: std::path::PathBuf,
}

impl Params {
    /// The arguments after `--impair`, as [`Params::args`] writes them.
    pub fn parse(args: &[String]) -> Result<Params, String> {
        let mut p = Params {
            queue: 0,
            seed: 1,
            loss: 0.0,
            delay_ms: 0.0,
            jitter_ms: 0.0,
            log: std::path::PathBuf::new(),
        };
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let v = it.next().ok_or_else(|| format!("{k}: no value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{k} {v}: {e}");
            match k.as_str() {
                "--queue" => p.queue = v.parse().map_err(|e| bad(&e))?,
                "--seed" => p.seed = v.parse().map_err(|e| bad(&e))?,
                "--loss" => p.loss = v.parse().map_err(|e| bad(&e))?,
                "--delay-ms" => p.delay_ms = v.parse().map_err(|e| bad(&e))?,
                "--jitter-ms" => p.jitter_ms = v.parse().map_err(|e| bad(&e))?,
                "--log" => p.log = v.into(),
                _ => return Err(format!("unknown argument {k}")),
            }
        }
        Ok(p)
    }

    /// The command line for [`Params::parse`].
    pub fn args(&self) -> Vec<String> {
        vec![
            "--queue".into(),
            self.queue.to_string(),
            "--seed".into(),
            self.seed.to_string(),
            "--loss".into(),
            self.loss.to_string(),
            "--delay-ms".into(),
            self.delay_ms.to_string(),
            "--jitter-ms".into(),
            self.jitter_ms.to_string(),
            "--log".into(),
            self.log.display().to_string(),
        ]
    }
}

/// splitmix64: tiny, seedable, good enough for drop and delay decisions.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the log says about a packet, parsed from its IPv4/UDP/RTP headers.
#[derive(Debug, Default)]
struct Seen {
    src: String,
    dst: String,
    kind: &'static str,
    ssrc: Option<u32>,
    seq: Option<u16>,
    pt: Option<u8>,
    /// RTCP: the middle 32 bits of each SR's NTP timestamp (what a report's LSR echoes).
    sr_ntp: Vec<u32>,
    /// RTCP: each report block's (SSRC, LSR, DLSR).
    blocks: Vec<[u32; 3]>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Classify an IPv4 packet; anything unparseable is `other`.
fn classify(ip: &[u8]) -> Seen {
    let mut s = Seen {
        kind: "other",
        ..Seen::default()
    };
    let (Some(&vihl), Some(&proto)) = (ip.first(), ip.get(9)) else {
        return s;
    };
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || proto != 17 {
        return s;
    }
    let (Some(sa), Some(da)) = (ip.get(12..16), ip.get(16..20)) else {
        return s;
    };
    let (Some(sp), Some(dp)) = (be16(ip, ihl), be16(ip, ihl + 2)) else {
        return s;
    };
    s.src = format!("{}.{}.{}.{}:{sp}", sa[0], sa[1], sa[2], sa[3]);
    s.dst = format!("{}.{}.{}.{}:{dp}", da[0], da[1], da[2], da[3]);
    let udp = ip.get(ihl + 8..).unwrap_or_default();
    let (Some(&b0), Some(&b1)) = (udp.first(), udp.get(1)) else {
        return s;
    };
    if b0 >> 6 != 2 {
        return s;
    }
    if (192..=223).contains(&b1) {
        s.kind = "rtcp";
        s.pt = Some(b1);
        s.ssrc = be32(udp, 4);
        rtcp_times(udp, &mut s);
    } else if udp.len() >= 12 {
        s.kind = "rtp";
        s.pt = Some(b1 & 0x7f);
        s.seq = be16(udp, 2);
        s.ssrc = be32(udp, 8);
    }
    s
}

/// Walk an RTCP compound (RFC 3550 §6.4): SR NTP timestamps and report blocks' LSR and DLSR,
/// from which the lab measures each receiver's own turnaround against its DLSR.
fn rtcp_times(mut b: &[u8], s: &mut Seen) {
    while let (Some(&v), Some(&pt), Some(len)) = (b.first(), b.get(1), be16(b, 2)) {
        let len = (usize::from(len) + 1) * 4;
        let Some(pkt) = b.get(..len) else { return };
        let first_block = match pt {
            200 => {
                if let Some(mid) = be32(pkt, 10) {
                    s.sr_ntp.push(mid);
                }
                28
            }
            201 => 8,
            _ => len,
        };
        for i in 0..usize::from(v & 0x1f) {
            let at = first_block + i * 24;
            if let (Some(ssrc), Some(lsr), Some(dlsr)) =
                (be32(pkt, at), be32(pkt, at + 16), be32(pkt, at + 20))
            {
                s.blocks.push([ssrc, lsr, dlsr]);
            }
        }
        b = b.get(len..).unwrap_or_default();
    }
}

fn unix_ns(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// A packet waiting for its verdict; the heap pops the earliest release first.
struct Held {
    release: SystemTime,
    order: u64,
    msg: nfq::Message,
    line: serde_json::Value,
}

impl PartialEq for Held {
    fn eq(&self, o: &Self) -> bool {
        (self.release, self.order) == (o.release, o.order)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.release, o.order).cmp(&(self.release, self.order))
    }
}

/// Run until SIGTERM: bind the queue, judge every packet, log its fate.
pub fn run(p: &Params) -> Result<(), String> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(|e| e.to_string())?;
    }
    let file = std::fs::File::create(&p.log).map_err(|e| format!("{}: {e}", p.log.display()))?;
    let mut log = std::io::BufWriter::new(file);
    let mut q = nfq::Queue::open().map_err(|e| format!("nfqueue open: {e}"))?;
    q.bind(p.queue)
        .map_err(|e| format!("bind {}: {e}", p.queue))?;
    q.set_queue_max_len(p.queue, 4096)
        .map_err(|e| format!("queue len: {e}"))?;
    q.set_nonblocking(true);
    // Tell the lab the queue is bound: packets sent from now on are judged, not refused.
    eprintln!("impair: queue {} bound", p.queue);
    let mut rng = Rng(p.seed);
    let mut held = BinaryHeap::new();
    let mut order = 0u64;
    let write = |log: &mut std::io::BufWriter<std::fs::File>, mut line: serde_json::Value| {
        line["out_ns"] = unix_ns(SystemTime::now()).to_string().into();
        let _ = writeln!(log, "{line}");
    };
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let now = SystemTime::now();
        while held
            .peek()
            .is_some_and(|h: &Held| stopping || h.release <= now)
        {
            let Some(mut h) = held.pop() else { break };
            h.msg.set_verdict(nfq::Verdict::Accept);
            q.verdict(h.msg).map_err(|e| format!("verdict: {e}"))?;
            write(&mut log, h.line);
        }
        if stopping {
            break;
        }
        match q.recv() {
            Ok(mut msg) => {
                let t_in = SystemTime::now();
                let s = classify(msg.get_payload());
                let mut line = serde_json::json!({
                    "queue": p.queue, "src": s.src, "dst": s.dst, "kind": s.kind,
                    "ssrc": s.ssrc, "seq": s.seq, "pt": s.pt,
                    "sr_ntp": s.sr_ntp, "blocks": s.blocks,
                    "in_ns": unix_ns(t_in).to_string(),
                });
                let (drop, delay) = match s.kind {
                    "rtp" => {
                        let d = rng.next_f64() < p.loss;
                        (d, p.delay_ms + p.jitter_ms * rng.next_f64())
                    }
                    "rtcp" => (false, p.delay_ms),
                    _ => (false, 0.0),
                };
                if drop {
                    line["verdict"] = "drop".into();
                    msg.set_verdict(nfq::Verdict::Drop);
                    q.verdict(msg).map_err(|e| format!("verdict: {e}"))?;
                    write(&mut log, line);
                } else if delay <= 0.0 || held.len() >= MAX_HELD {
                    line["verdict"] = if delay <= 0.0 {
                        "accept"
                    } else {
                        "accept_overflow"
                    }
                    .into();
                    msg.set_verdict(nfq::Verdict::Accept);
                    q.verdict(msg).map_err(|e| format!("verdict: {e}"))?;
                    write(&mut log, line);
                } else {
                    line["verdict"] = "accept".into();
                    order += 1;
                    held.push(Held {
                        release: t_in + Duration::from_secs_f64(delay / 1000.0),
                        order,
                        msg,
                        line,
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // Sleep until the next release, in short steps so new packets are not kept
                // waiting: 100 µs is well under the 1 ms the lab's delay assertions allow.
                let wait = held
                    .peek()
                    .and_then(|h: &Held| h.release.duration_since(now).ok())
                    .unwrap_or(Duration::from_micros(100));
                std::thread::sleep(wait.min(Duration::from_micros(100)));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("recv: {e}")),
        }
    }
    log.flush().map_err(|e| e.to_string())
}
