//! Video experience end to end: a synthetic VP8 stream with known frame timing, frames of
//! several packets, injected freezes, a pause, loss and reordering, replayed by `rtcprobe
//! replay --format json`; every figure of its `video` object is computed here from the
//! generator's own frame schedule (src/synth/video.rs).

use rtcprobe::engine::video::hist::{index, upper};
use rtcprobe::synth::pcap::TsResolution;
use rtcprobe::synth::video::{build, VideoCapture, VideoSpec};

mod common;
use common::{bin, Scratch};

const MS: i64 = 1_000_000;

/// The scenario: 30 frames/s, freezes of 400 ms (frame 100) and 250 ms (frame 130), a 6 s
/// pause (frame 200), a whole frame lost (50), first and marker packets lost (70, 71), frame 150
/// delayed 40 ms (its packets arrive after frame 151's first: counted, not timed).
fn spec() -> VideoSpec {
    let mut s = VideoSpec::new(
        "10.20.0.1:40000".parse().unwrap(),
        "10.20.0.2:50000".parse().unwrap(),
        0xF00D,
    );
    s.gaps_ns[99] = 400 * MS;
    s.gaps_ns[129] = 250 * MS;
    s.gaps_ns[199] = 6000 * MS;
    for p in 0..4 {
        s.lost.insert((50, p));
    }
    s.lost.insert((70, 0));
    s.lost.insert((71, 3));
    s.late_frames.push((150, 40 * MS));
    s
}

/// What the probe should report, from the schedule: frames with a captured packet; frames
/// timed in order of first arrival when their timestamp is the newest yet; libwebrtc's freeze
/// rule (window of 30, 5 samples, max(3 × avg, avg + 150 ms)) and > 5 s pauses on the whole
/// milliseconds of those intervals.
struct Expected {
    frames: u64,
    intervals_ms: Vec<u64>,
    freezes: (u64, u64),
    pauses: (u64, u64),
    keyframes: u64,
    span_ns: i64,
}

fn expected(v: &VideoCapture, spec: &VideoSpec) -> Expected {
    let mut seen: Vec<(i64, u32, usize)> = v
        .first_arrival_ns
        .iter()
        .enumerate()
        .filter_map(|(f, t)| t.map(|t| (t, v.frames[f].0, f)))
        .collect();
    seen.sort();
    let (mut newest, mut last_start, mut first_start) = (None::<u32>, 0i64, 0i64);
    let mut intervals = Vec::new();
    for &(t, ts, _) in &seen {
        match newest {
            None => {
                first_start = t;
                last_start = t;
                newest = Some(ts);
            }
            Some(n) if (ts.wrapping_sub(n) as i32) > 0 => {
                intervals.push(((t - last_start) / MS) as u64);
                last_start = t;
                newest = Some(ts);
            }
            Some(_) => {}
        }
    }
    let (mut window, mut freezes, mut pauses) = (Vec::new(), (0, 0), (0, 0));
    for &d in &intervals {
        if d > 5000 {
            pauses = (pauses.0 + 1, pauses.1 + d);
            continue;
        }
        window.push(d);
        let w: Vec<u64> = window.iter().rev().take(30).copied().collect();
        if w.len() >= 5 {
            let avg = w.iter().sum::<u64>() / w.len() as u64;
            if d >= (3 * avg).max(avg + 150) {
                freezes = (freezes.0 + 1, freezes.1 + d);
            }
        }
    }
    let keyframes = v
        .frames
        .iter()
        .enumerate()
        .filter(|(f, (_, key))| *key && !spec.lost.contains(&(*f as u32, 0)))
        .count() as u64;
    Expected {
        frames: seen.len() as u64,
        intervals_ms: intervals,
        freezes,
        pauses,
        keyframes,
        span_ns: last_start - first_start,
    }
}

#[test]
fn synthetic_vp8_frames_freezes_pauses_keyframes() {
    let spec = spec();
    let v = build(&spec);
    let e = expected(&v, &spec);
    // The scenario does what it says: a frame lost, one counted late, 2 freezes, 1 pause.
    assert_eq!(e.frames, 299);
    assert_eq!(e.intervals_ms.len(), 297);
    assert_eq!((e.freezes.0, e.pauses), (2, (1, 6000)));
    assert_eq!(e.keyframes, 5);

    let dir = Scratch::new("video");
    let pcap = dir.path("video.pcap");
    let f = std::fs::File::create(&pcap).unwrap();
    v.capture.write_pcap(f, TsResolution::Nano, 65_535).unwrap();
    let cfg = dir.path("video.toml");
    std::fs::write(
        &cfg,
        "[payload_types]\n\"96\" = { clock_rate_hz = 90000, codec = \"VP8\" }\n",
    )
    .unwrap();
    let out = bin()
        .args(["replay", "--format", "json", "--config"])
        .arg(&cfg)
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &j["streams"][0];
    let vid = &s["video"];
    assert_eq!(vid["frames"], e.frames, "{vid}");
    assert_eq!(vid["freeze_count"], e.freezes.0);
    assert_eq!(vid["freeze_duration_ms"], e.freezes.1);
    assert_eq!(vid["pauses"], e.pauses.0);
    assert_eq!(vid["pause_duration_ms"], e.pauses.1);
    assert_eq!(vid["keyframes"], e.keyframes);
    assert_eq!((&vid["width"], &vid["height"]), (&640.into(), &360.into()));
    let mut d = e.intervals_ms.clone();
    d.sort_unstable();
    let p95 = d[(0.95 * d.len() as f64).ceil() as usize - 1];
    assert_eq!(
        vid["frame_interval_p95_ms"],
        upper(index(p95)).min(d[d.len() - 1])
    );
    let rate = vid["frame_rate"].as_f64().unwrap();
    let want = e.intervals_ms.len() as f64 * 1e9 / e.span_ns as f64;
    assert!((rate - want).abs() < 1e-6, "{rate} vs {want}");
    assert_eq!(vid["keyframe_requests"], 0);
    let bytes = s["bytes"].as_f64().unwrap();
    assert!(vid["bitrate_bps"].as_f64().unwrap() > bytes * 8.0 / 20.0);
}

/// Without a codec in the configuration the payload is not read: keyframes and resolution
/// are unknown (null), the frame figures are the same; an audio stream has no `video`.
#[test]
fn without_a_codec_only_headers_and_audio_has_none() {
    let spec = spec();
    let v = build(&spec);
    let e = expected(&v, &spec);
    let dir = Scratch::new("video-nocodec");
    let pcap = dir.path("video.pcap");
    let f = std::fs::File::create(&pcap).unwrap();
    v.capture.write_pcap(f, TsResolution::Nano, 65_535).unwrap();
    let out = bin()
        .args(["replay", "--format", "json"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let vid = &j["streams"][0]["video"];
    assert_eq!(vid["frames"], e.frames, "{vid}");
    assert_eq!(vid["freeze_count"], e.freezes.0);
    assert!(vid["keyframes"].is_null() && vid["width"].is_null());

    let out = bin()
        .args(["replay", "--format", "json", "fixtures/sample-sfu.pcap"])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in j["streams"].as_array().unwrap() {
        let video = s["clock_rate"] == 90_000;
        assert_eq!(!s["video"].is_null(), video, "{s}");
    }
}
