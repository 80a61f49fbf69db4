//! Interval records are cut on packet timestamps inside the engine (docs/records.md): the
//! single-threaded replay, the pipeline with 1–3 workers and `replay --realtime` give the same
//! interval records, field by field except the probe-health fields (`probe_drop`,
//! `probe_dropped`), on fixtures and on a generated capture whose packets straddle every
//! boundary (1 s intervals, packets every 20 ms in both directions of a relayed call; `--realtime`
//! on that capture and on one recorded call, which take their recorded time). Each
//! interval record holds exactly the packets captured in [interval_start, interval_end).

use rtcprobe::synth::middlebox::Call;
use rtcprobe::synth::pcap::TsResolution;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Fields that say how the probe itself fared, which may differ between runs.
const PROBE_HEALTH: &[&str] = &["probe_drop", "probe_dropped"];

fn records(capture: &Path, dir: &Path, how: &[&str], name: &str) -> Vec<Value> {
    let cfg = dir.join("records.toml");
    std::fs::write(&cfg, "[records]\ninterval_secs = 1\nhost = \"t\"\n").expect("config");
    let out = dir.join(format!("{name}.ndjson"));
    let _ = std::fs::remove_file(&out);
    let st = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .args(["replay", "--format", "json", "--config"])
        .arg(&cfg)
        .args(how)
        .arg("--records")
        .arg(&out)
        .arg(capture)
        .env("STATE_DIRECTORY", dir)
        .output()
        .expect("rtcprobe replay");
    assert!(
        st.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let text = std::fs::read_to_string(&out).expect("records");
    let mut v: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .filter(|r| r["kind"] == "interval")
        .map(|mut r| {
            let o = r.as_object_mut().expect("object");
            for f in PROBE_HEALTH {
                o.remove(*f);
            }
            r
        })
        .collect();
    v.sort_by_key(|r| {
        (
            r["src_ip"].to_string(),
            r["src_port"].to_string(),
            r["dst_ip"].to_string(),
            r["dst_port"].to_string(),
            r["ssrc"].to_string(),
            r["interval_end"].to_string(),
        )
    });
    v
}

fn generated(dir: &Path) -> PathBuf {
    let path = dir.join("relay.pcap");
    let f = std::fs::File::create(&path).expect("create");
    Call::relay()
        .build()
        .write_pcap(f, TsResolution::Nano, 65_535)
        .expect("write");
    path
}

fn assert_same(name: &str, a: &[Value], b: &[Value], how: &str) {
    assert_eq!(
        a.len(),
        b.len(),
        "{name}: interval records, single vs {how}"
    );
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x, y, "{name}: single vs {how}");
    }
}

#[test]
fn replay_and_pipeline_give_identical_interval_records() {
    let dir = std::env::temp_dir().join(format!("rtcprobe-intervals-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut captures: Vec<(String, PathBuf)> = [
        "sample-sfu.pcap",
        "rtpproxy-rtcp-sr.pcap",
        "sipp-g711a.pcap",
        "ndpi-google-meet-ipv6-webrtc.pcapng",
        "jitsi-chrome-vp8-flexfec-loss.pcap",
    ]
    .iter()
    .map(|f| (f.to_string(), fixtures.join(f)))
    .collect();
    captures.push(("generated relay".into(), generated(&dir)));
    for (name, path) in &captures {
        let single = records(path, &dir, &[], "single");
        assert!(!single.is_empty(), "{name}: no interval records");
        for w in ["1", "2", "3"] {
            let piped = records(path, &dir, &["--workers", w], "piped");
            assert_same(name, &single, &piped, &format!("{w} workers"));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn interval_records_hold_exactly_the_packets_of_their_interval() {
    let dir = std::env::temp_dir().join(format!("rtcprobe-intervals-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = generated(&dir);
    let single = records(&path, &dir, &[], "single");
    // Packets every 20 ms from the start at a whole second (+ one-way delay, + 0.5 ms on the
    // way out) until 6 s + delay: 50 in every full second of a leg, 1 in the last interval,
    // and no record without packets.
    let last = single
        .iter()
        .filter_map(|r| r["interval_end"].as_str())
        .max()
        .unwrap_or_default()
        .to_string();
    let full: Vec<&Value> = single
        .iter()
        .filter(|r| {
            r["interval_start"]
                .as_str()
                .is_some_and(|s| s.ends_with(".000000Z"))
        })
        .filter(|r| r["interval_end"].as_str() != Some(&last))
        .collect();
    assert!(full.len() >= 8, "{} full-second records", full.len());
    for r in &full {
        assert_eq!(r["interval_packets"], 50, "{r}");
    }
    assert!(single.iter().all(|r| r["interval_packets"] != 0));
    // Paced at the recorded speed through the live pipeline: the same records, here and on a
    // recorded call (6.9 s).
    let rt = records(&path, &dir, &["--realtime"], "realtime");
    assert_same("generated relay", &single, &rt, "--realtime");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rtpproxy-rtcp-sr.pcap");
    let single = records(&fixture, &dir, &[], "single");
    assert!(!single.is_empty());
    let rt = records(&fixture, &dir, &["--realtime"], "realtime");
    assert_same("rtpproxy-rtcp-sr.pcap", &single, &rt, "--realtime");
    let _ = std::fs::remove_dir_all(&dir);
}
