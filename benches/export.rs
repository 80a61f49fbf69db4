//! Scrape cost: encoding `/metrics` from a pipeline board whose workers publish 10,000 live
//! streams, with per-stream series on (10,000 series per per-stream family, about 70,000
//! samples in all) and off (aggregates only). Also the workers' side: one aggregate snapshot
//! of 5,000 streams (what each of two workers does once per `snapshot_interval_ms`).
//! And the whole scrape as Prometheus sees it: `GET /metrics` of the 10,000 per-stream series
//! over loopback from the hyper endpoint, on a kept-alive connection.
//! docs/benchmarks.md records the results. `cargo bench --bench export`.

use criterion::{criterion_group, criterion_main, Criterion};
use rtcprobe::config::ExporterConfig;
use rtcprobe::engine::record::{RttSummary, StreamRecord};
use rtcprobe::export::aggregate::Aggregator;
use rtcprobe::export::labels::Labeller;
use rtcprobe::export::metrics::{encode, Scrape};
use rtcprobe::export::Exporter;
use rtcprobe::pipeline::snapshot::{publish, Board, ShardSnapshot};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

const STREAMS: u32 = 10_000;

fn record(j: u32) -> StreamRecord {
    let mut rtt = std::collections::BTreeMap::new();
    rtt.insert(
        "capture_point",
        RttSummary {
            last: 30.0 + f64::from(j % 50),
            min: 20.0,
            mean: 35.0,
            max: 80.0,
            samples: u64::from(j % 7) + 1,
        },
    );
    StreamRecord {
        src: format!(
            "10.{}.{}.{}:{}",
            j >> 16,
            (j >> 8) & 255,
            j & 255,
            10_000 + j % 20_000
        ),
        dst: format!("192.0.2.{}:{}", j & 255, 30_000 + j % 20_000),
        ssrc: 0x1000_0000 + j,
        observed_at: "capture".into(),
        payload_types: vec![if j % 3 == 0 { 96 } else { 0 }],
        clock_rate: Some(if j % 3 == 0 { 90_000 } else { 8_000 }),
        clock_rate_source: Some("static"),
        packets: 1_000 + u64::from(j),
        bytes: 172_000,
        first_seen: String::new(),
        last_seen: String::new(),
        expected: 1_010 + u64::from(j),
        lost: 10,
        missing: 10,
        duplicates: 0,
        reordered: 1,
        seq_restarts: 0,
        max_gap_ms: 40.0,
        jitter_ms: Some(f64::from(j % 40) / 2.0),
        max_jitter_ms: None,
        mean_jitter_ms: None,
        rtt_ms: rtt,
        remote: None,
        loss_upstream: Some(4),
        loss_downstream: Some(6),
        sender: None,
        feedback: Default::default(),
        cname: Some(format!("user{j}@example")),
        ended_by: "active",
        srtcp: false,
        probe_dropped: 0,
        probe_drop: false,
        loss_split: None,
        burst_r: None,
        burst_r_network: None,
        loss_runs: None,
        burst_gap: None,
        burst_gap_network: None,
        jitter_buffer: None,
        effective_loss_ratio: None,
        ptime_ms: None,
        audio_counters: None,
        quality: None,
        findings: Vec::new(),
        xr_voip: None,
        configured_codec: None,
        signalled_codec: None,
        first_seen_ns: 0,
        last_seen_ns: 0,
        probe_drop_at_ns: None,
        lost_settled: 0,
        video: None,
    }
}

fn bench(c: &mut Criterion) {
    let mut cfg = ExporterConfig::default();
    cfg.peer_groups
        .insert("10.0.0.0/8".into(), "internal".into());
    cfg.peer_groups
        .insert("192.0.2.0/24".into(), "carrier".into());
    let labeller = Arc::new(Labeller::new(&cfg, vec![]));
    let board = Arc::new(Board::new(1, 2));
    let halves: Vec<Vec<(u64, StreamRecord)>> = (0..2u32)
        .map(|s| {
            (0..STREAMS)
                .filter(|j| j % 2 == s)
                .map(|j| (u64::from(j), record(j)))
                .collect()
        })
        .collect();
    for (i, (slot, streams)) in board.shards.iter().zip(&halves).enumerate() {
        let mut agg = Aggregator::new(Arc::clone(&labeller));
        agg.snapshot(streams);
        let aggregates = Some(Arc::new(agg.snapshot(streams)));
        publish(
            slot,
            ShardSnapshot {
                shard: i as u32,
                streams: streams.clone(),
                aggregates,
                ..Default::default()
            },
        );
    }
    let scrape = |per_stream| Scrape {
        board: &board,
        labeller: &labeller,
        per_stream,
        max_stream_series: 10_000,
        openmetrics: false,
        last_duration_secs: 0.0,
        scrapes: 0,
        omitted_total: 0,
        healthy: true,
        http: Default::default(),
    };
    let body = encode(&scrape(true)).body;
    eprintln!(
        "export: {} bytes, {} samples with per-stream series",
        body.len(),
        body.lines().filter(|l| !l.starts_with('#')).count()
    );
    let mut g = c.benchmark_group("export");
    g.sample_size(20);
    g.bench_function("encode_10k_streams_per_stream_series", |b| {
        b.iter(|| encode(&scrape(true)).body.len())
    });
    g.bench_function("encode_10k_streams_aggregates_only", |b| {
        b.iter(|| encode(&scrape(false)).body.len())
    });
    let http_cfg = ExporterConfig {
        listen: "127.0.0.1:0".into(),
        per_stream_series: true,
        ..cfg.clone()
    };
    let endpoint = Exporter::start(
        &http_cfg,
        Arc::clone(&board),
        Arc::clone(&labeller),
        Arc::new(AtomicBool::new(true)),
    )
    .expect("endpoint");
    let addr = endpoint.local_addr();
    g.bench_function("scrape_10k_streams_per_stream_series_over_http", |b| {
        b.iter(|| get_metrics(&mut TcpStream::connect(addr).expect("connect")))
    });
    let mut conn = TcpStream::connect(addr).expect("connect");
    g.bench_function(
        "scrape_10k_streams_per_stream_series_over_http_keep_alive",
        |b| b.iter(|| get_metrics(&mut conn)),
    );
    drop(endpoint);
    let half = halves.first().cloned().unwrap_or_default();
    let mut agg = Aggregator::new(Arc::clone(&labeller));
    g.bench_function("worker_aggregate_snapshot_5k_streams", |b| {
        b.iter(|| agg.snapshot(&half).counters.len())
    });
    g.finish();
}

/// One `GET /metrics` on a kept-alive connection: the body length.
fn get_metrics(c: &mut TcpStream) -> usize {
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\n\r\n")
        .expect("send");
    let mut buf = Vec::with_capacity(1 << 24);
    let mut chunk = vec![0u8; 1 << 16];
    let (head_end, len) = loop {
        let n = c.read(&mut chunk).expect("read");
        assert!(n > 0, "closed");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("content-length");
            break (i + 4, len);
        }
    };
    while buf.len() < head_end + len {
        let n = c.read(&mut chunk).expect("read");
        assert!(n > 0, "closed");
        buf.extend_from_slice(&chunk[..n]);
    }
    len
}

criterion_group!(benches, bench);
criterion_main!(benches);
