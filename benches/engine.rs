//! Engine cost per RTP packet in steady state: 1,000 established streams, packets interleaved
//! as on a busy SFU, each with its 20 ms pacing and a little jitter.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rtcprobe::config::Resolved;
use rtcprobe::engine::Engine;
use rtcprobe::wire::Datagram;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const STREAMS: u32 = 1_000;

fn rtp(seq: u16, ts: u32, ssrc: u32) -> [u8; 172] {
    let mut p = [0xd5u8; 172];
    p[..2].copy_from_slice(&[0x80, 0x08]);
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

fn addr(host: u32, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | host)), port)
}

fn bench(c: &mut Criterion) {
    let mut engine = Engine::new(Resolved::default());
    let dst = addr(1, 40_000);
    let srcs: Vec<SocketAddr> = (0..STREAMS)
        .map(|i| addr(2 + i, 10_000 + (i % 50_000) as u16))
        .collect();
    let mut now: i64 = 1_700_000_000_000_000_000;
    let mut tick = 0u32;
    let mut step = |engine: &mut Engine, now: &mut i64| {
        let i = tick % STREAMS;
        let round = tick / STREAMS;
        let p = rtp(round as u16, round.wrapping_mul(160), 0x1000 + i);
        *now += 20_000; // 1,000 streams × 50 pps = 50,000 pps
        let jitter = i64::from(tick.wrapping_mul(2_654_435_761) % 3_000_000);
        let dg = Datagram {
            src: srcs[i as usize],
            dst,
            payload: &p,
            wire_len: p.len(),
            vlan: None,
        };
        engine.on_datagram(*now + jitter, &dg);
        tick += 1;
    };
    // Establish every stream first (probation, table growth).
    for _ in 0..STREAMS * 4 {
        step(&mut engine, &mut now);
    }
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(1));
    g.bench_function("rtp_steady_state_1000_streams", |b| {
        b.iter(|| step(black_box(&mut engine), &mut now))
    });
    g.finish();
    assert_eq!(engine.stream_count(), STREAMS as usize);
}

criterion_group!(benches, bench);
criterion_main!(benches);
