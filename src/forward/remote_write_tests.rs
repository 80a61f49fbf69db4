//! Tests of records → remote-write series: names, labels, units, ordering, `timestamp = "now"`.

use super::*;

fn rec(end: &str, packets: u64, jitter_ms: Option<f64>, rtt_stun_ms: Option<f64>) -> Record {
    serde_json::from_value(serde_json::json!({
        "schema_version": 1, "record_id": "00", "host": "probe-1", "kind": "interval",
        "ended_by": null, "interval_start": "2023-11-14T22:13:20.000000Z", "interval_end": end,
        "first_seen": "2023-11-14T22:13:20.000000Z", "last_seen": end,
        "src_ip": "2001:db8::1", "src_port": 5004, "dst_ip": "10.0.0.2", "dst_port": 6000,
        "protocol": "udp", "ssrc": 4660, "cname": null, "payload_type": 111,
        "clock_rate": 48000, "packets": packets, "bytes": packets * 100,
        "expected": packets + 2, "lost": -1, "duplicates": 0, "reordered": 0,
        "interval_packets": 0, "interval_bytes": 0, "interval_expected": 0, "interval_lost": 0,
        "loss_upstream": null, "loss_downstream": null, "remote_fraction_lost": null,
        "remote_jitter_ms": null, "jitter_ms": jitter_ms, "max_jitter_ms": null,
        "rtt_capture_point_ms": null, "rtt_end_to_end_ms": null, "rtt_sr_chain_ms": null,
        "rtt_stun_ms": rtt_stun_ms, "probe_drop": false, "probe_dropped": 0
    }))
    .expect("a valid record")
}

fn find<'a>(series: &'a [Series], name: &str) -> &'a Series {
    series
        .iter()
        .find(|s| {
            s.labels()
                .iter()
                .any(|l| l.name == "__name__" && l.value == name)
        })
        .unwrap_or_else(|| panic!("no series {name}"))
}

fn pairs(s: &Series) -> Vec<(&str, &str)> {
    s.labels()
        .iter()
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect()
}

#[test]
fn one_series_per_metric_with_sorted_bounded_labels() {
    // Out of order on purpose: samples must come out sorted by time.
    let rs = [
        rec("2023-11-14T22:13:40.000000Z", 20, Some(3.0), None),
        rec("2023-11-14T22:13:30.000000Z", 10, Some(1.5), Some(42.0)),
    ];
    let series = to_series(&rs, None, true);
    // packets, bytes, expected, lost, jitter, rtt{stun}: null fields give no series.
    assert_eq!(series.len(), 6);
    let p = find(&series, "rtcprobe_stream_packets_total");
    assert_eq!(
        pairs(p),
        [
            ("__name__", "rtcprobe_stream_packets_total"),
            ("dst", "10.0.0.2:6000"),
            ("host", "probe-1"),
            ("payload_type", "111"),
            ("src", "[2001:db8::1]:5004"),
            ("ssrc", "4660"),
        ]
    );
    let t0 = 1_700_000_010_000; // 2023-11-14T22:13:30Z in ms
    assert_eq!(
        p.samples(),
        [
            Sample {
                value: 10.0,
                timestamp_ms: t0
            },
            Sample {
                value: 20.0,
                timestamp_ms: t0 + 10_000
            }
        ]
    );
    let j = find(&series, "rtcprobe_stream_jitter_seconds");
    assert_eq!(j.samples()[1].value, 0.003);
    let rtt = find(&series, "rtcprobe_stream_rtt_seconds");
    assert!(pairs(rtt).contains(&("method", "stun")));
    assert_eq!(rtt.samples().len(), 1);
    assert_eq!(rtt.samples()[0].value, 0.042);
    let lost = find(&series, "rtcprobe_stream_lost_packets");
    assert_eq!(lost.samples()[0].value, -1.0);
}

#[test]
fn now_keeps_each_series_latest_record_only() {
    let rs = [
        rec("2023-11-14T22:13:40.000000Z", 20, None, None),
        rec("2023-11-14T22:13:30.000000Z", 10, None, None),
    ];
    let series = to_series(&rs, Some(5), false);
    let p = find(&series, "rtcprobe_stream_packets_total");
    assert_eq!(
        p.samples(),
        [Sample {
            value: 20.0,
            timestamp_ms: 5
        }]
    );
    assert!(!pairs(p).iter().any(|(k, _)| *k == "src" || *k == "dst"));
}
