//! The `rtcprobe` binary: formats, exit codes, damaged files, config validation.

use rtcprobe::synth::frame::Encap;
use rtcprobe::synth::pcap::TsResolution;
use rtcprobe::synth::scenarios::impaired_mix_on;
use std::path::Path;
use std::process::Output;

mod common;
use common::{bin, Scratch};

fn capture(path: &Path) -> usize {
    let cap = impaired_mix_on(3, Some(Encap::Ethernet)).build();
    let f = std::fs::File::create(path).expect("create");
    cap.write_pcap(f, TsResolution::Nano, 65_535)
        .expect("write");
    cap.truth.streams.len()
}

fn replay(args: &[&str]) -> Output {
    bin()
        .arg("replay")
        .args(args)
        .output()
        .expect("run rtcprobe")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("valid JSON on stdout")
}

#[test]
fn json_table_and_csv_describe_the_same_streams() {
    let dir = Scratch::new("formats");
    let file = dir.path("mix.pcap");
    let n = capture(&file);
    let f = file.to_str().expect("utf-8 path");

    let j = replay(&[f, "--format", "json"]);
    assert!(j.status.success(), "{}", String::from_utf8_lossy(&j.stderr));
    let v = json(&j);
    let streams = v["streams"].as_array().expect("streams array");
    assert_eq!(streams.len(), n);
    assert_eq!(v["summary"]["streams"], n);
    assert!(v["summary"]["error"].is_null());
    for key in [
        "src",
        "dst",
        "ssrc",
        "payload_types",
        "clock_rate",
        "clock_rate_source",
        "packets",
        "bytes",
        "first_seen",
        "last_seen",
        "expected",
        "lost",
        "missing",
        "duplicates",
        "reordered",
        "seq_restarts",
        "max_gap_ms",
        "jitter_ms",
        "max_jitter_ms",
        "mean_jitter_ms",
        "rtt_ms",
        "remote",
        "loss_upstream",
        "loss_downstream",
        "cname",
        "ended_by",
        "srtcp",
    ] {
        assert!(
            streams.iter().all(|s| s.get(key).is_some()),
            "key {key} missing"
        );
    }
    let first_seen = streams[0]["first_seen"].as_str().expect("string");
    assert_eq!(
        first_seen.len(),
        "2023-11-14T22:13:20.000000Z".len(),
        "{first_seen}"
    );

    let t = replay(&[f]);
    assert!(t.status.success());
    let table = String::from_utf8(t.stdout).expect("utf-8");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("frames") && lines[0].contains("streams"));
    assert!(lines[1].contains("Jitter(ms)") && lines[1].contains("Clock(Hz)"));
    // Summary, header, one row per stream, the footer explaining the abbreviations.
    assert_eq!(lines.len(), 2 + n + 1);
    assert!(lines[2 + n].contains("--legend"), "{}", lines[2 + n]);

    let c = replay(&[f, "--format", "csv"]);
    assert!(c.status.success());
    let csv = String::from_utf8(c.stdout).expect("utf-8");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 1 + n);
    let header: Vec<&str> = rows[0].split(',').collect();
    assert!(header.contains(&"rtt_capture_point_last_ms") && header.contains(&"loss_downstream"));
}

#[test]
fn truncated_file_reports_what_came_before_and_exits_3() {
    let dir = Scratch::new("trunc");
    let file = dir.path("cut.pcap");
    capture(&file);
    let bytes = std::fs::read(&file).expect("read");
    // Cut in the middle of a packet about two thirds in.
    std::fs::write(&file, &bytes[..bytes.len() * 2 / 3 + 7]).expect("write");
    let out = replay(&[file.to_str().expect("path"), "--format", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.pcap") && err.contains("packet "), "{err}");
    assert_eq!(err.matches("packet ").count(), 1, "said once: {err}");
    let v = json(&out);
    let msg = v["summary"]["error"].as_str().expect("error set");
    assert!(msg.contains("cut.pcap: packet "), "{msg}");
    let frames = v["summary"]["frames"].as_u64().expect("frames");
    let packet: u64 = msg
        .split("packet ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .expect("packet number");
    assert_eq!(
        packet,
        frames + 1,
        "the damaged packet is the one after the last read"
    );
    assert!(!v["streams"].as_array().expect("streams").is_empty());
}

#[test]
fn unreadable_inputs_exit_1_naming_the_file() {
    let dir = Scratch::new("bad");
    let missing = dir.path("missing.pcap");
    let out = replay(&[missing.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pcap"));

    let junk = dir.path("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file at all").expect("write");
    let out = replay(&[junk.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.pcap"));

    assert_eq!(
        replay(&["--format", "xml", "x.pcap"]).status.code(),
        Some(2)
    );
}

#[test]
fn validate_lists_every_problem_and_warns_on_missing_interfaces() {
    let dir = Scratch::new("validate");
    let good = dir.path("good.toml");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"),
        &good,
    )
    .expect("copy example");
    let ok = bin()
        .args(["validate", "--config"])
        .arg(&good)
        .output()
        .expect("run");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // The commented-out [[sinks]] examples validate too once uncommented.
    let example = std::fs::read_to_string(&good).expect("example");
    let uncommented: String = example
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if !rest.starts_with([' ', '#']) && !rest.is_empty() => rest,
            _ => l,
        })
        .fold(String::new(), |acc, l| acc + l + "\n");
    assert!(uncommented.contains("type = \"prometheus_remote_write\""));
    let sinks = dir.path("sinks.toml");
    std::fs::write(&sinks, uncommented).expect("write");
    let ok = bin()
        .args(["validate", "--config"])
        .arg(&sinks)
        .output()
        .expect("run");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let bad = dir.path("bad.toml");
    std::fs::write(
        &bad,
        "[engine]\nmax_streams = 0\n[payload_types]\n\"96\" = 5\n",
    )
    .expect("write");
    let out = bin()
        .args(["validate", "--config"])
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("engine.max_streams") && err.contains("payload_types.\"96\""),
        "{err}"
    );

    let unknown = dir.path("unknown.toml");
    std::fs::write(&unknown, "[engine]\nmax_stream = 10\n").expect("write");
    let out = bin()
        .args(["validate", "--config"])
        .arg(&unknown)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_stream"));

    // Every problem at once: a syntax error, unknown keys, a bad value, in line order; an
    // interface this host lacks is a warning only.
    let many = dir.path("many.toml");
    std::fs::write(
        &many,
        "[engine]\nmax_stream = 10\nthis is not toml\n[capture]\nfilterr = \"udp\"\n\
         [enginee]\nx = 1\n",
    )
    .expect("write");
    let out = bin()
        .args(["validate", "--config"])
        .arg(&many)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let listed: Vec<&str> = err.lines().filter(|l| l.starts_with("  - line ")).collect();
    assert_eq!(listed.len(), 4, "{err}");
    for (item, (line, word)) in
        listed
            .iter()
            .zip([(2, "max_stream"), (3, ""), (5, "filterr"), (6, "enginee")])
    {
        assert!(
            item.starts_with(&format!("  - line {line},")) && item.contains(word),
            "{item}"
        );
    }
    assert!(err.contains("4 problems"), "{err}");
    let iface = dir.path("iface.toml");
    std::fs::write(
        &iface,
        "[capture]\ninterfaces = [\"any\", \"nosuch0rtc\"]\n",
    )
    .expect("write");
    let out = bin()
        .args(["validate", "--config"])
        .arg(&iface)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning: capture.interfaces[1] = \"nosuch0rtc\": no such interface"),
        "{err}"
    );
    assert!(!err.contains("interfaces[0]"), "any always exists: {err}");

    // replay refuses a bad config before reading anything.
    let out = replay(&["--config", bad.to_str().expect("path"), "x.pcap"]);
    assert_eq!(out.status.code(), Some(1));
}
