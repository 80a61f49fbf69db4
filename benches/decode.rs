//! Decoding cost per packet: link/IP/UDP, RFC 7983 demux, RTP header, RTCP compound.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rtcprobe::wire::{decode_udp, demux, rtcp, rtp, LinkType};

/// Ethernet + IPv4 + UDP + RTP (PT 0, 160-byte payload): a G.711 packet.
fn rtp_frame() -> Vec<u8> {
    let mut f = vec![
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08,
        0x00, // Ethernet
        0x45, 0x00, 0x00, 0xc8, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00,
        0x00, // IPv4, len 200
        10, 0, 0, 1, 10, 0, 0, 2, // addresses
        0x27, 0x10, 0x4e, 0x20, 0x00, 0xb4, 0x00, 0x00, // UDP 10000 -> 20000, len 180
        0x80, 0x00, 0x12, 0x34, 0x00, 0x01, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, // RTP
    ];
    f.resize(f.len() + 160, 0xd5);
    f
}

/// A compound SR (1 report block) + SDES CNAME, as a browser sends it.
fn rtcp_compound() -> Vec<u8> {
    let c = vec![
        0x81, 200, 0x00, 0x0c, 0xde, 0xad, 0xbe, 0xef, // SR, RC=1, len 12
        0xe6, 0x2a, 0x3b, 0x4c, 0x80, 0x00, 0x00, 0x00, // NTP
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x02, 0x00,
        0x00, // RTP ts, counts
        0x01, 0x02, 0x03, 0x04, 0x05, 0x00, 0x00, 0x02, 0x00, 0x00, 0x12, 0x34, // block
        0x00, 0x00, 0x00, 0x20, 0x3b, 0x4c, 0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x81, 202, 0x00,
        0x05, 0xde, 0xad, 0xbe, 0xef, // SDES
        0x01, 0x0a, b'u', b's', b'e', b'r', b'@', b'h', b'o', b's', b't', b'1', 0x00, 0x00, 0x00,
        0x00,
    ];
    c
}

fn bench(c: &mut Criterion) {
    let frame = rtp_frame();
    let compound = rtcp_compound();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("frame_to_udp", |b| {
        b.iter(|| decode_udp(LinkType::Ethernet, black_box(&frame)).map(|d| d.payload.len()))
    });
    g.bench_function("frame_to_rtp_header", |b| {
        b.iter(|| {
            let dg = decode_udp(LinkType::Ethernet, black_box(&frame)).ok()?;
            match demux::classify(dg.payload).inner {
                demux::Demuxed::Rtp(buf) => rtp::Packet::new_header_only(buf)
                    .ok()
                    .map(|p| (p.ssrc(), p.sequence_number(), p.timestamp())),
                _ => None,
            }
        })
    });
    g.bench_function("rtcp_compound_walk", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for p in rtcp::Compound::new(black_box(&compound)).flatten() {
                if let rtcp::Packet::SenderReport(sr) = p {
                    n = n.wrapping_add(sr.report_blocks().map(|b| b.lsr()).sum::<u32>());
                }
            }
            n
        })
    });
    g.bench_function("srtcp_detect", |b| {
        b.iter(|| rtcp::is_srtcp(black_box(&compound)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
