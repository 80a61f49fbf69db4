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
        "[payload_types]\n\"96\" = { clock_rate = 90000, codec = \"VP8\" }\n",
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

/// Interval records (`--records`, 1 s intervals) split the stream's figures: their frames,
/// freezes, pauses and keyframes add up to the `video` object's, each freeze lands in the
/// interval where the frame ending it arrived, and each interval's frame rate is its frames
/// over its length.
#[test]
fn interval_records_add_up_to_the_stream() {
    let spec = spec();
    let v = build(&spec);
    let e = expected(&v, &spec);
    let dir = Scratch::new("video-records");
    let pcap = dir.path("video.pcap");
    let f = std::fs::File::create(&pcap).unwrap();
    v.capture.write_pcap(f, TsResolution::Nano, 65_535).unwrap();
    let cfg = dir.path("video.toml");
    std::fs::write(
        &cfg,
        "[payload_types]\n\"96\" = { clock_rate = 90000, codec = \"VP8\" }\n",
    )
    .unwrap();
    let recs = dir.path("records.ndjson");
    let out = bin()
        .args(["replay", "--interval-secs", "1", "--config"])
        .arg(&cfg)
        .arg("--records")
        .arg(&recs)
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&recs)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() > 10, "{}", lines.len());
    let sum = |k: &str| lines.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("video_frames"), e.frames);
    assert_eq!(sum("video_freeze_count"), e.freezes.0);
    assert_eq!(sum("video_freeze_duration_ms"), e.freezes.1);
    assert_eq!(sum("video_pauses"), e.pauses.0);
    assert_eq!(sum("video_pause_duration_ms"), e.pauses.1);
    assert_eq!(sum("video_keyframes"), e.keyframes);
    let t = |r: &serde_json::Value, k: &str| {
        rtcprobe::forward::record::parse_rfc3339(r[k].as_str().unwrap()).unwrap()
    };
    for r in &lines {
        let len = (t(r, "interval_end") - t(r, "interval_start")) as f64 / 1e9;
        let frames = r["video_frames"].as_f64().unwrap();
        if len > 0.0 {
            assert!((r["video_frame_rate"].as_f64().unwrap() - frames / len).abs() < 1e-9);
        }
        assert_eq!(r["video_width"], 640);
    }
    // The 400 ms freeze ends at frame 100's arrival: in the interval that holds it.
    let at = v.first_arrival_ns[100].unwrap();
    let holder = lines
        .iter()
        .find(|r| t(r, "interval_start") <= at && at < t(r, "interval_end"))
        .unwrap();
    assert_eq!(holder["video_freeze_count"], 1, "{holder}");
    assert_eq!(holder["video_freeze_duration_ms"], 400);
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

/// TShark's RTP timestamp view of a capture: distinct timestamps per (SSRC, payload type),
/// and `extra` fields per packet for the codec checks.
fn tshark_rows(path: &std::path::Path, decode: &[&str], fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = std::process::Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(path)
        .args(["-o", "rtp.heuristic_rtp:TRUE"])
        .args(decode)
        .args(["-Y", "rtp", "-T", "fields", "-E", "occurrence=f"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn replay_json(path: &std::path::Path, config: Option<&str>) -> serde_json::Value {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = Scratch::new(&format!("video-fixture-{n}"));
    let mut cmd = bin();
    cmd.args(["replay", "--format", "json"]);
    if let Some(c) = config {
        let p = dir.path("c.toml");
        std::fs::write(&p, c).unwrap();
        cmd.arg("--config").arg(p);
    }
    let out = cmd.arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every video stream's frame count equals TShark's count of its distinct RTP timestamps
/// (`-o rtp.heuristic_rtp:TRUE`, SSRC and payload type as the stream's); returns how many
/// video streams were compared.
fn frames_match_tshark(path: &std::path::Path, config: Option<&str>) -> usize {
    let rows = tshark_rows(path, &[], &["rtp.ssrc", "rtp.p_type", "rtp.timestamp"]);
    let mut distinct: std::collections::BTreeMap<(u32, u8), std::collections::BTreeSet<u32>> =
        Default::default();
    for r in &rows {
        let ssrc = u32::from_str_radix(r[0].trim_start_matches("0x"), 16).unwrap();
        distinct
            .entry((ssrc, r[1].parse().unwrap()))
            .or_default()
            .insert(r[2].parse().unwrap());
    }
    let j = replay_json(path, config);
    let mut n = 0;
    for s in j["streams"].as_array().unwrap() {
        if s["video"].is_null() {
            continue;
        }
        let key = (
            s["ssrc"].as_u64().unwrap() as u32,
            s["payload_types"][0].as_u64().unwrap() as u8,
        );
        let want = distinct.get(&key).map_or(0, |t| t.len());
        assert_eq!(
            s["video"]["frames"].as_u64().unwrap() as usize,
            want,
            "{}: {key:?}",
            path.display()
        );
        n += 1;
    }
    n
}

/// The committed captures with video: frame counts as TShark's timestamps; the Jitsi capture's
/// PT 98 is VP9 (its descriptors have the RFC 9628 layout: I, B, V flags and a scalability
/// structure), so configured as VP9 its keyframes are the timestamps of packets with B = 1 and
/// P = 0 and its resolution the structure's, both read here from TShark's payload bytes.
#[test]
fn fixtures_frames_keyframes_resolution_match_tshark() {
    if !common::have("/usr/bin/tshark", "tshark") {
        return;
    }
    let fx = |n: &str| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(n)
    };
    let jitsi = fx("jitsi-chrome-vp8-flexfec-loss.pcap");
    assert_eq!(frames_match_tshark(&jitsi, None), 2);
    assert_eq!(
        frames_match_tshark(&fx("ndpi-rtp-vlan-h263-mixed.pcapng"), None),
        1
    );
    // Google Meet: SRTP whose streams are too short for a rate: no video stream, nothing to
    // compare, but nothing wrong either.
    frames_match_tshark(&fx("ndpi-google-meet-ipv6-webrtc.pcapng"), None);

    let vp9 = "[payload_types]\n\"98\" = { clock_rate = 90000, codec = \"VP9\" }\n";
    assert_eq!(frames_match_tshark(&jitsi, Some(vp9)), 2);
    let rows = tshark_rows(&jitsi, &[], &["rtp.p_type", "rtp.timestamp", "rtp.payload"]);
    let (mut keys, mut size) = (std::collections::BTreeSet::new(), None);
    for r in rows.iter().filter(|r| r[0] == "98") {
        let b: Vec<u8> = (0..r[2].len() / 2)
            .map(|i| u8::from_str_radix(&r[2][2 * i..2 * i + 2], 16).unwrap())
            .collect();
        // |I|P|L|F|B|E|V|Z|: this stream never sets L or F.
        assert_eq!(b[0] & 0x30, 0);
        if b[0] & 0x08 != 0 && b[0] & 0x40 == 0 {
            keys.insert(r[1].clone());
        }
        if b[0] & 0x02 != 0 {
            let at = 1 + if b[0] & 0x80 != 0 {
                1 + usize::from(b[1] >> 7)
            } else {
                0
            };
            let layers = usize::from(b[at] >> 5) + 1;
            let last = at + 1 + 4 * (layers - 1);
            size = Some((
                u16::from_be_bytes([b[last], b[last + 1]]),
                u16::from_be_bytes([b[last + 2], b[last + 3]]),
            ));
        }
    }
    let j = replay_json(&jitsi, Some(vp9));
    let s = j["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["payload_types"][0] == 98)
        .unwrap();
    assert_eq!(s["video"]["keyframes"], keys.len(), "{}", s["video"]);
    let (w, h) = size.expect("a scalability structure");
    assert_eq!(
        (&s["video"]["width"], &s["video"]["height"]),
        (&w.into(), &h.into())
    );
}

/// The reference-only captures (not committed, see the shared MANIFEST.md): H.264 over IPv6
/// (frames; IDR keyframes and SPS resolution against TShark's H.264 dissector) and H.263
/// (frames). Skipped outside CI when the directory is missing.
#[test]
fn reference_captures_match_tshark() {
    let dir = std::env::var("RTCPROBE_REFERENCE_FIXTURES").map_or_else(
        |_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/fixtures/reference-only")
        },
        std::path::PathBuf::from,
    );
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} missing under CI",
            dir.display()
        );
        eprintln!(
            "skipped: {} missing (set RTCPROBE_REFERENCE_FIXTURES)",
            dir.display()
        );
        return;
    }
    if !common::have("/usr/bin/tshark", "tshark") {
        return;
    }
    assert_eq!(
        frames_match_tshark(&dir.join("ws-h263-over-rtp.pcap"), None),
        1
    );
    let h264 = dir.join("ms2-h264-ipv6.pcapng");
    let cfg = "[payload_types]\n\"96\" = { clock_rate = 90000, codec = \"H264\" }\n";
    assert_eq!(frames_match_tshark(&h264, Some(cfg)), 1);
    let decode = ["-d", "rtp.pt==96,h264"];
    let rows = tshark_rows(
        &h264,
        &decode,
        &[
            "rtp.timestamp",
            "h264.nal_unit_type",
            "h264.pic_width_in_mbs_minus1",
            "h264.pic_height_in_map_units_minus1",
            "h264.frame_mbs_only_flag",
        ],
    );
    let keys: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r[1].split(',').any(|t| t == "5"))
        .map(|r| r[0].as_str())
        .collect();
    let sps = rows.iter().find(|r| !r[2].is_empty()).expect("an SPS");
    let w = (sps[2].parse::<u32>().unwrap() + 1) * 16;
    let frame_mbs_only: u32 = sps[4].parse().unwrap();
    let h = (2 - frame_mbs_only) * (sps[3].parse::<u32>().unwrap() + 1) * 16;
    let j = replay_json(&h264, Some(cfg));
    let v = &j["streams"][0]["video"];
    assert_eq!(v["keyframes"], keys.len(), "{v}");
    assert_eq!((&v["width"], &v["height"]), (&w.into(), &h.into()));
}
