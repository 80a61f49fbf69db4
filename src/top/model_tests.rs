use super::*;

fn stream(ssrc: u32, packets: u64, expected: u64, lost: i64) -> StreamJson {
    StreamJson {
        src: format!("10.0.0.{ssrc}:4000"),
        dst: "10.0.0.100:5000".into(),
        ssrc,
        payload_types: vec![0],
        packets,
        bytes: packets * 172,
        first_seen: "2026-01-01T00:00:00.000000Z".into(),
        expected,
        lost,
        jitter_ms: Some(f64::from(ssrc)),
        ..StreamJson::default()
    }
}

#[test]
fn rates_come_from_successive_polls() {
    let mut prev = Previous::default();
    let h = |frames: f64| Health {
        frames,
        dropped: 0.0,
        streams_active: 2.0,
    };
    let first = view(vec![stream(1, 100, 100, 0)], h(1000.0), 1.0, &mut prev);
    assert_eq!(first.rows[0].pps, None, "no rate on the first poll");
    assert_eq!(first.frames_per_sec, None);
    let second = view(
        vec![stream(1, 200, 110, 10), stream(2, 50, 50, 0)],
        h(1500.0),
        2.0,
        &mut prev,
    );
    let r = &second.rows[0];
    assert_eq!(r.pps, Some(50.0));
    assert_eq!(r.kbps, Some(100.0 * 172.0 * 8.0 / 1000.0 / 2.0));
    assert_eq!(r.loss_now_pct, Some(100.0)); // 10 lost of the 10 expected since
    assert!((r.loss_pct.unwrap() - 9.0909).abs() < 1e-3);
    assert!(
        r.mos.unwrap() < 2.0,
        "PCMU at 100 % current loss: {:?}",
        r.mos
    );
    assert_eq!(second.rows[1].pps, None, "new stream");
    assert_eq!(second.frames_per_sec, Some(250.0));
    assert_eq!(second.health.streams_active, 2.0);
}

#[test]
fn sorting_puts_the_worst_first() {
    let mut prev = Previous::default();
    let mut rows = view(
        vec![
            stream(1, 100, 100, 0),
            stream(2, 100, 105, 5),
            stream(3, 300, 300, 0),
        ],
        Health::default(),
        1.0,
        &mut prev,
    )
    .rows;
    sort(&mut rows, SortKey::Loss);
    assert_eq!(rows[0].ssrc, 2);
    sort(&mut rows, SortKey::Jitter);
    assert_eq!(rows.iter().map(|r| r.ssrc).collect::<Vec<_>>(), [3, 2, 1]);
    sort(&mut rows, SortKey::Packets);
    assert_eq!(rows[0].ssrc, 3);
    sort(&mut rows, SortKey::Mos);
    assert_eq!(rows[0].ssrc, 2, "lowest MOS first");
    // Unknown values go last.
    rows[0].rtt_ms = None;
    rows[1].rtt_ms = Some(5.0);
    sort(&mut rows, SortKey::Rtt);
    assert_eq!(rows[0].rtt_ms, Some(5.0));
    assert_eq!(SortKey::from_key('m'), Some(SortKey::Mos));
    assert_eq!(SortKey::from_key('x'), None);
}

#[test]
fn health_sums_the_metrics_it_shows() {
    let text = "# HELP rtcprobe_capture_frames_total Frames\n\
                # TYPE rtcprobe_capture_frames_total counter\n\
                rtcprobe_capture_frames_total{source=\"eth0\"} 1200\n\
                rtcprobe_capture_frames_total{source=\"eth 1} \"} 300 1700000000000\n\
                rtcprobe_capture_dropped_packets_total{source=\"eth0\",reason=\"kernel\"} 7\n\
                rtcprobe_streams_active 12\n\
                rtcprobe_streams_active_bogus 99\n\
                rtcprobe_capture_frames_total{source=\"x\"} NaN\n\
                garbage{\n";
    assert_eq!(
        health(text),
        Health {
            frames: 1500.0,
            dropped: 7.0,
            streams_active: 12.0
        }
    );
}

#[test]
fn hostile_json_does_not_panic() {
    for body in [
        "",
        "{}",
        "[{\"ssrc\": -1}]",
        "[{\"packets\": 1e400}]",
        "[null]",
    ] {
        let _ = serde_json::from_str::<Vec<StreamJson>>(body);
    }
    let ok: Vec<StreamJson> = serde_json::from_str("[{\"ssrc\": 5, \"future_key\": {}}]").unwrap();
    assert_eq!(ok[0].ssrc, 5);
}
