//! Cardinality: 100,000 short-lived streams through the pipeline while the exporter serves.
//! Per-stream series never exceed `max_stream_series`, the left-out streams are counted, and
//! once the streams have ended (idle expiry during the capture, end of capture after it) their
//! series are gone while the aggregate counters keep every packet.

use super::http::{get, samples};
use rtcprobe::config::{Config, ExporterConfig};
use rtcprobe::engine::EndReason;
use rtcprobe::export::labels::Labeller;
use rtcprobe::export::Exporter;
use rtcprobe::pipeline::feeder::Overflow;
use rtcprobe::pipeline::file::{replay, Pace};
use rtcprobe::pipeline::Options;
use rtcprobe::synth::frame::Encap;
use rtcprobe::synth::pcap::TsResolution;
use rtcprobe::synth::scenario::{Scenario, StreamSpec, EPOCH_NS, MS};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const STREAMS: u32 = 100_000;
const PACKETS: u32 = 3;
const CAP: usize = 500;

/// One stream starts every millisecond of capture time (100 s in all), 3 packets 20 ms apart:
/// with a 1 s idle timeout about 1,000–2,000 are live at any time, over the cap of 500.
fn capture(path: &std::path::Path) {
    let mut sc = Scenario::new(11);
    for j in 0..STREAMS {
        let ip = |net: u8| IpAddr::V4(Ipv4Addr::new(net, (j >> 16) as u8, (j >> 8) as u8, j as u8));
        let mut s = StreamSpec::audio(
            SocketAddr::new(ip(10), 10_000 + (j % 20_000) as u16),
            SocketAddr::new(ip(11), 30_000 + (j % 20_000) as u16),
            0x1000_0000 + j,
        );
        s.count = PACKETS;
        s.encap = Encap::Ethernet;
        s.start_ns = EPOCH_NS + i64::from(j) * MS;
        sc.add(s);
    }
    let cap = sc.build();
    let f = std::fs::File::create(path).expect("create");
    cap.write_pcap(f, TsResolution::Nano, 65_535)
        .expect("write");
}

#[test]
fn per_stream_series_stay_under_the_cap_and_vanish_when_streams_end() {
    let dir = super::Scratch::new("cardinality");
    let path = dir.path("many.pcap");
    capture(&path);
    let mut raw = Config::default();
    raw.engine.idle_timeout_secs = 1;
    let engine = raw.resolve().expect("config");
    let xcfg = ExporterConfig {
        listen: "127.0.0.1:0".into(),
        per_stream_series: true,
        max_stream_series: CAP,
        ..Default::default()
    };
    let labels = Arc::new(Labeller::new(&xcfg, vec![]));
    let opts = Options {
        workers: 2,
        queue_batches: 64,
        batch_events: 64,
        snapshot_interval: Duration::from_millis(100),
        overflow: Overflow::Wait,
        end_reason: EndReason::EndOfCapture,
        labels: Some(Arc::clone(&labels)),
        ended_linger: Duration::ZERO,
    };
    let stop = AtomicBool::new(false);
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let mut endpoint = None;
    let sampler = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let addr: SocketAddr = rx.recv().expect("address");
            let mut seen = Vec::new();
            while !done.load(Ordering::SeqCst) {
                if let Some((200, body)) = get(addr, "/metrics") {
                    let (_, series) = samples(&body, "rtcprobe_stream_packets_total");
                    let (omitted, _) = samples(&body, "rtcprobe_export_streams_omitted");
                    let (active, _) = samples(&body, "rtcprobe_streams_active");
                    seen.push((series, omitted, active));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (addr, seen)
        })
    };
    let report = replay(
        &path,
        &engine,
        &opts,
        Pace::Fast,
        &stop,
        Duration::from_millis(300),
        None,
        &mut |p| {
            let e = Exporter::start(
                &xcfg,
                Arc::clone(&p.board),
                Arc::clone(&labels),
                Arc::new(AtomicBool::new(true)),
            )
            .expect("exporter");
            tx.send(e.local_addr()).expect("send");
            endpoint = Some(e);
        },
    )
    .expect("replay");
    done.store(true, Ordering::SeqCst);
    let (addr, seen) = sampler.join().expect("sampler");
    assert_eq!(report.streams.len(), STREAMS as usize);

    let over_cap: Vec<_> = seen.iter().filter(|s| s.0 > CAP).collect();
    assert!(over_cap.is_empty(), "series over the cap: {over_cap:?}");
    let busy: Vec<_> = seen.iter().filter(|s| s.2 > CAP as f64).collect();
    assert!(
        !busy.is_empty(),
        "no scrape saw more live streams than the cap: {seen:?}"
    );
    for (series, omitted, active) in &busy {
        assert_eq!(*series, CAP);
        assert_eq!(*omitted, active - CAP as f64);
    }
    let live_max = seen.iter().map(|s| s.2).fold(0.0, f64::max);
    assert!(
        live_max < 5_000.0,
        "idle expiry did not end streams: {live_max} live"
    );

    // After the end: no per-stream series, no live stream, every packet in the aggregates.
    let (status, body) = get(addr, "/metrics").expect("final scrape");
    assert_eq!(status, 200);
    assert_eq!(samples(&body, "rtcprobe_stream_packets_total").1, 0);
    assert_eq!(samples(&body, "rtcprobe_streams_active").0, 0.0);
    assert_eq!(samples(&body, "rtcprobe_export_streams_omitted").0, 0.0);
    assert!(samples(&body, "rtcprobe_export_omitted_stream_scrapes_total").0 > 0.0);
    assert_eq!(
        samples(&body, "rtcprobe_rtp_packets_total").0,
        f64::from(STREAMS * PACKETS)
    );
    assert_eq!(
        samples(&body, "rtcprobe_streams_ended_total").0,
        f64::from(STREAMS)
    );
    // Bounded: the whole scrape is a few kilobytes whatever the number of streams.
    assert!(body.len() < 64 * 1024, "{} bytes", body.len());
    drop(endpoint);
    eprintln!(
        "cardinality: {} scrapes during the replay, at most {live_max} live streams",
        seen.len()
    );
}
