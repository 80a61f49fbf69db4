use super::series::{Point, Series, MAX_POINTS};
use super::verdict::{assess, rank, summary, Grade};
use super::*;
use crate::engine::Counters;
use crate::forward::record::{Record, SCHEMA_VERSION};
use crate::replay::Summary;

const T0: i64 = 1_700_000_000_000_000_000;
const S: i64 = 1_000_000_000;

fn rec(src: &str, dst: &str, ssrc: u32, k: i64, kind: &str) -> Record {
    let t = |ns: i64| crate::engine::record::rfc3339_micros(ns);
    Record {
        schema_version: SCHEMA_VERSION,
        record_id: format!("{ssrc:032x}"),
        host: "h".into(),
        kind: kind.into(),
        ended_by: (kind == "final").then(|| "end_of_capture".into()),
        interval_start: t(T0 + (k - 1) * S),
        interval_end: t(T0 + k * S),
        first_seen: t(T0),
        last_seen: t(T0 + k * S),
        src_ip: src.into(),
        src_port: 4000,
        dst_ip: dst.into(),
        dst_port: 5000,
        protocol: "udp".into(),
        ssrc,
        cname: None,
        payload_type: Some(0),
        clock_rate: Some(8000),
        packets: 50 * k as u64,
        bytes: 8000 * k as u64,
        expected: 50 * k as u64,
        lost: 0,
        duplicates: 0,
        reordered: 0,
        interval_packets: 50,
        interval_bytes: 8000,
        interval_expected: 50,
        interval_lost: 0,
        loss_upstream: None,
        loss_downstream: None,
        remote_fraction_lost: None,
        remote_jitter_ms: None,
        jitter_ms: Some(2.0),
        max_jitter_ms: Some(2.0),
        rtt_capture_point_ms: None,
        rtt_end_to_end_ms: None,
        rtt_sr_chain_ms: None,
        rtt_stun_ms: None,
        probe_drop: false,
        probe_dropped: 0,
        r_factor: Some(93.0),
        mos: Some(4.41),
        observed_at: None,
        burst_r: None,
        effective_loss_ratio: None,
        burst_density: None,
        gap_density: None,
        burst_duration_ms: None,
        gap_duration_ms: None,
        jitter_buffer_fixed_late: None,
        jitter_buffer_adaptive_late: None,
        jitter_buffer_delay_ms: None,
        ptime_ms: None,
        video_frames: None,
        video_frame_rate: None,
        video_frame_interval_p95_ms: None,
        video_freeze_count: None,
        video_freeze_duration_ms: None,
        video_pauses: None,
        video_pause_duration_ms: None,
        video_keyframes: None,
        video_width: None,
        video_height: None,
        video_bitrate_bps: None,
        video_keyframe_requests: None,
        mos_lq: None,
        mos_cq: None,
        codec: None,
        codec_source: None,
        emodel_scale: None,
        ppl: None,
        ie: None,
        bpl: None,
        one_way_delay_ms: None,
        delay_rtt_half_ms: None,
        delay_jitter_buffer_ms: None,
        delay_codec_ms: None,
        rtt_xr_ms: None,
        xr_r_factor: None,
        xr_mos_lq: None,
        xr_mos_cq: None,
        xr_loss_rate: None,
        xr_discard_rate: None,
        xr_jb_nominal_ms: None,
        finding_codes: Vec::new(),
        finding_severities: Vec::new(),
        finding_sides: Vec::new(),
        finding_messages: Vec::new(),
    }
}

fn summary_of(streams: usize) -> Summary {
    Summary {
        file: "/tmp/x <y>.pcap".into(),
        linktype: 1,
        frames: 1000,
        first_packet: Some("2023-11-14T22:13:20.000000Z".into()),
        last_packet: Some("2023-11-14T22:13:30.000000Z".into()),
        duration_secs: 10.0,
        undecoded: Default::default(),
        counters: Counters::default(),
        streams,
        error: None,
        hop_matcher: Default::default(),
        tcp: Default::default(),
        ice_turn: Default::default(),
        sip: Default::default(),
    }
}

#[test]
fn series_stays_bounded_and_keeps_the_totals() {
    let mut s = Series::default();
    for i in 0..10_000i64 {
        s.push(Point {
            end_ns: i * S,
            dur_ms: 1000,
            lost: i32::from(i % 10 == 0),
            expected: 50,
            bytes: 8000,
            jitter_ms: if i == 5_000 { 99.0 } else { 1.0 },
            rtt_ms: f32::NAN,
            mos: 4.0,
        });
    }
    let p = s.points();
    assert!(
        p.len() <= MAX_POINTS && p.len() >= MAX_POINTS / 2,
        "{}",
        p.len()
    );
    let lost: i64 = p.iter().map(|p| i64::from(p.lost)).sum();
    let expected: u64 = p.iter().map(|p| u64::from(p.expected)).sum();
    assert_eq!((lost, expected), (1000, 500_000));
    // The spike survives merging; unknown RTT stays unknown.
    assert!(p.iter().any(|p| p.jitter_ms == 99.0));
    assert!(p.iter().all(|p| p.rtt_ms.is_nan()));
    assert_eq!(p.last().map(|p| p.end_ns), Some(9_999 * S));
}

#[test]
fn collector_follows_each_stream_through_its_records() {
    let mut c = Collector::default();
    for k in 1..=3 {
        let line = serde_json::to_vec(&rec("10.0.0.1", "10.0.0.2", 7, k, "interval")).unwrap();
        c.line(&line);
    }
    let mut last = rec("10.0.0.1", "10.0.0.2", 7, 4, "final");
    last.lost = 20;
    last.interval_lost = 20;
    last.mos = Some(2.9);
    c.record(&last);
    c.record(&rec("10.0.0.2", "10.0.0.1", 8, 1, "interval"));
    c.line(b"not json");
    assert_eq!(c.unreadable, 1);
    let mut v = c.into_streams();
    v.sort_by_key(|s| s.ssrc);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].series.points().len(), 4);
    assert_eq!(v[0].lost, 20);
    assert_eq!(v[0].mos, Some(2.9));
    assert_eq!(v[0].mos_low, Some(4.41));
    assert_eq!(v[0].ended_by.as_deref(), Some("end_of_capture"));
    assert_eq!(v[1].series.points().len(), 1);
}

#[test]
fn grades_follow_the_documented_thresholds() {
    let view = |lost: i64, jitter: f64, mos: Option<f64>| StreamView {
        expected: 1000,
        lost,
        jitter_peak_ms: Some(jitter),
        mos,
        ..StreamView::default()
    };
    assert_eq!(assess(&view(5, 5.0, Some(4.4))).grade, Grade::Good);
    assert_eq!(assess(&view(10, 5.0, None)).grade, Grade::Fair); // 1.0 %
    assert_eq!(assess(&view(30, 5.0, None)).grade, Grade::Poor); // 3.0 %
    assert_eq!(assess(&view(0, 30.0, None)).grade, Grade::Fair);
    assert_eq!(assess(&view(0, 50.0, None)).grade, Grade::Poor);
    assert_eq!(assess(&view(0, 1.0, Some(3.5))).grade, Grade::Fair);
    assert_eq!(assess(&view(0, 1.0, Some(3.0))).grade, Grade::Poor);
    // The receiver's count wins over the probe's when it reported.
    let mut s = view(0, 1.0, None);
    s.loss_upstream = Some(0);
    s.loss_downstream = Some(40);
    let a = assess(&s);
    assert_eq!(a.grade, Grade::Poor);
    assert_eq!(a.reasons, vec!["4.0 % lost".to_string()]);
}

#[test]
fn summary_names_the_side_that_lost() {
    let mut c = Collector::default();
    let mut up = rec("10.1.2.3", "10.9.9.9", 1, 1, "final");
    (up.lost, up.loss_upstream, up.loss_downstream) = (2, Some(2), Some(0));
    c.record(&up);
    let mut down = rec("10.9.9.9", "10.1.2.3", 2, 1, "final");
    (down.loss_upstream, down.loss_downstream) = (Some(0), Some(4));
    c.record(&down);
    c.record(&rec("10.5.5.5", "10.9.9.9", 3, 1, "final"));
    let ranked = rank(c.into_streams());
    let words = summary(&ranked);
    assert_eq!(words[0], "2 of 3 streams were poor; none was fair.");
    assert!(words.contains(&"The sender's network of 10.1.2.3 lost 4.0 % (before the probe; 2 packets of 50, 1 stream).".to_string()), "{words:?}");
    assert!(
        words
            .iter()
            .any(|w| w.starts_with("The receiver's network of 10.1.2.3 lost 8.0 %")),
        "{words:?}"
    );
    assert_eq!(ranked[0].0.ssrc, 2, "the worst stream first");
}

#[test]
fn page_is_self_contained_and_escaped() {
    let mut c = Collector::default();
    for i in 0..60u32 {
        for k in 1..=3 {
            let mut r = rec("10.0.0.1", "10.0.0.2", i, k, "interval");
            r.interval_lost = i64::from(i % 7);
            c.record(&r);
        }
    }
    let info = html::PageInfo {
        interval_secs: 1,
        version: "test",
    };
    let page = html::render(&summary_of(60), c, &info);
    assert!(page.contains("default-src 'none'"));
    assert!(page.contains("x &lt;y&gt;.pcap") && !page.contains("<y>"));
    for fetch in [
        "<script", "<link", "<img", "src=", "url(", "@import", "http://", "https://",
    ] {
        assert!(!page.contains(fetch), "{fetch}");
    }
    // The worst 50 plotted (5 charts each), all 60 listed.
    assert_eq!(page.matches("<article").count(), PLOTTED);
    assert_eq!(page.matches("<svg class=\"chart\"").count(), PLOTTED * 5);
    assert_eq!(page.matches("<tr class=").count(), 60);
}

#[test]
fn a_capture_without_streams_says_so() {
    let info = html::PageInfo {
        interval_secs: 10,
        version: "test",
    };
    let page = html::render(&summary_of(0), Collector::default(), &info);
    assert!(page.contains("No RTP stream was found in this capture."));
    assert!(page.contains("No stream to plot."));
    assert!(!page.contains("<svg") && !page.contains("<tr class="));
    assert!(page.contains("one every 10 seconds of capture time"));
}
