//! `rtcprobe replay` for operators: the table's columns, legend and plurals, `--sort`, `--top`
//! and `--filter`, the CSV columns against docs/output.md, a reader closing the pipe, and
//! pcapng timestamps in other resolutions and with offsets.

use rtcprobe::engine::record::rfc3339_micros;
use rtcprobe::output::CSV_COLUMNS;
use rtcprobe::synth::frame::Encap;
use rtcprobe::synth::pcap::{PcapngWriter, TsResolution};
use rtcprobe::synth::scenario::{Impairments, SEC};
use rtcprobe::synth::scenarios::{impaired_mix_on, write_clean_many, Format};
use rtcprobe::synth::{Capture, Scenario, StreamSpec};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};

mod common;
use common::{bin, Scratch};

fn replay(args: &[&str]) -> Output {
    bin()
        .arg("replay")
        .args(args)
        .output()
        .expect("run rtcprobe")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON on stdout")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

fn write(cap: &Capture, path: &Path) {
    let f = std::fs::File::create(path).expect("create");
    cap.write_pcap(f, TsResolution::Nano, 65_535)
        .expect("write");
}

/// One G.711 stream, 20 % of its packets duplicated and a burst of 7 lost.
fn dup_stream() -> Capture {
    let mut sc = Scenario::new(7);
    let mut s = StreamSpec::audio(
        "10.9.0.1:4000".parse().unwrap(),
        "10.9.0.2:5000".parse().unwrap(),
        0xD00D,
    );
    s.count = 300;
    s.impair = Impairments {
        duplicate: 0.2,
        loss_bursts: vec![(100, 7)],
        ..Default::default()
    };
    sc.add(s);
    sc.build()
}

/// The cells of the table row whose SSRC cell is `ssrc`, by header name.
fn row_of(table: &str, ssrc: &str) -> std::collections::HashMap<String, String> {
    let header_line = table
        .lines()
        .find(|l| l.starts_with("#  "))
        .expect("header");
    let row = table
        .lines()
        .find(|l| l.split_whitespace().nth(3) == Some(ssrc))
        .expect("row");
    header_line
        .split_whitespace()
        .map(String::from)
        .zip(row.split_whitespace().map(String::from))
        .collect()
}

#[test]
fn missing_and_duplicates_in_their_own_columns() {
    let dir = Scratch::new("dups");
    let file = dir.path("dups.pcap");
    let cap = dup_stream();
    let t = cap.truth.streams[0].clone();
    assert!(
        t.duplicates > 20,
        "the scenario duplicates: {}",
        t.duplicates
    );
    write(&cap, &file);
    let f = file.to_str().unwrap();

    let v = json(&replay(&[f, "--format", "json"]));
    let s = &v["streams"][0];
    let missing = t.expected - (t.packets - t.duplicates);
    assert_eq!(missing, 7);
    assert_eq!(s["missing"], missing);
    assert_eq!(s["lost"], t.lost, "RFC 3550's signed lost is unchanged");
    assert!(t.lost < 0, "more duplicates than losses: {}", t.lost);
    assert_eq!(s["duplicates"], t.duplicates);

    let table = stdout(&replay(&[f]));
    let row = row_of(&table, "0x0000D00D");
    assert_eq!(row["Missing"], "7");
    assert_eq!(row["Dup"], t.duplicates.to_string());
    let pct = 7.0 * 100.0 / t.expected as f64;
    assert_eq!(row["Loss(%)"], format!("{pct:.2}"));
    assert_eq!(row["Codec"], "PCMU");
    let mos: f64 = row["MOS"].parse().expect("a G.711 stream has a MOS");
    assert!((1.0..4.5).contains(&mos), "{mos}");
    assert!(!table.contains("-0."), "no negative value: {table}");
}

#[test]
fn plurals_legend_and_footer() {
    let dir = Scratch::new("plural");
    let file = dir.path("one.pcap");
    write(&dup_stream(), &file);
    let table = stdout(&replay(&[file.to_str().unwrap()]));
    let summary = table.lines().next().expect("summary");
    assert!(
        summary.contains("; 1 stream;") && !summary.contains("1 streams"),
        "{summary}"
    );
    assert!(
        table.lines().last().expect("footer").contains("Missing ="),
        "{table}"
    );

    let legend = stdout(&replay(&["--legend"]));
    for col in ["Missing", "Dup", "Up/Down", "MOS", "Codec", "~ ="] {
        let col = col.trim_end_matches(" =");
        assert!(legend.contains(col), "legend explains {col}: {legend}");
    }
    let with = stdout(&replay(&[file.to_str().unwrap(), "--legend"]));
    assert!(with.contains("Clock(Hz)   RTP clock rate"), "{with}");
}

#[test]
fn sort_top_and_filter_in_every_format() {
    let dir = Scratch::new("select");
    let file = dir.path("mix.pcap");
    let cap = impaired_mix_on(3, Some(Encap::Ethernet)).build();
    write(&cap, &file);
    let f = file.to_str().unwrap();
    let all = json(&replay(&[f, "--format", "json"]));
    let n = all["streams"].as_array().unwrap().len();
    assert!(n >= 4);

    // --sort packets --top 2: the two largest streams, largest first; summary still whole.
    let v = json(&replay(&[
        f, "--format", "json", "--sort", "packets", "--top", "2",
    ]));
    let mut counts: Vec<u64> = all["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["packets"].as_u64().unwrap())
        .collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let got: Vec<u64> = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["packets"].as_u64().unwrap())
        .collect();
    assert_eq!(got, counts[..2]);
    assert_eq!(v["summary"]["streams"], n);

    // --sort loss in the table: Loss(%) never increases down the rows.
    let table = stdout(&replay(&[f, "--sort", "loss"]));
    assert!(
        table.contains(&format!("showing {n} of {n} streams")),
        "{table}"
    );
    let header = table.lines().find(|l| l.starts_with("#  ")).unwrap();
    let col = header
        .split_whitespace()
        .position(|c| c == "Loss(%)")
        .unwrap();
    let losses: Vec<f64> = table
        .lines()
        .skip_while(|l| !l.starts_with("#  "))
        .skip(1)
        .take(n)
        .map(|l| l.split_whitespace().nth(col).unwrap().parse().unwrap())
        .collect();
    assert!(losses.windows(2).all(|w| w[0] >= w[1]), "{losses:?}");
    assert!(losses[0] > 0.0);

    // --filter by SSRC (hex and decimal) and by address, in CSV.
    let first = &all["streams"][0];
    let ssrc = first["ssrc"].as_u64().unwrap();
    for spec in [format!("0x{ssrc:X}"), ssrc.to_string()] {
        let csv = stdout(&replay(&[f, "--format", "csv", "--filter", &spec]));
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert!(!rows.is_empty());
        assert!(rows
            .iter()
            .all(|r| r.split(',').nth(2) == Some(&ssrc.to_string())));
    }
    let src = first["src"].as_str().unwrap();
    let ip = src.rsplit_once(':').unwrap().0;
    let v = json(&replay(&[f, "--format", "json", "--filter", ip]));
    let picked = v["streams"].as_array().unwrap();
    let want = all["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            [&s["src"], &s["dst"]]
                .iter()
                .any(|a| a.as_str().unwrap().rsplit_once(':').unwrap().0 == ip)
        })
        .count();
    assert_eq!(picked.len(), want);
    let v = json(&replay(&[f, "--format", "json", "--filter", src]));
    assert!(v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["src"] == src || s["dst"] == src));

    let bad = replay(&[f, "--filter", "not-an-address"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(replay(&[f, "--top", "0"]).status.code(), Some(2));
    let none = stdout(&replay(&[f, "--filter", "192.0.2.99"]));
    assert!(none.contains("showing 0 of") && none.contains("(no stream matches --filter)"));
}

/// The CSV header is exactly the list docs/output.md documents, and every JSON key of a
/// stream has its column(s).
#[test]
fn csv_columns_are_the_documented_list() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/output.md"))
        .expect("docs/output.md");
    let section = doc
        .split("### CSV columns")
        .nth(1)
        .expect("docs/output.md has a `### CSV columns` section");
    let documented: Vec<&str> = section
        .lines()
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert_eq!(documented, CSV_COLUMNS);

    let dir = Scratch::new("csv");
    let file = dir.path("mix.pcap");
    write(&impaired_mix_on(3, Some(Encap::Ethernet)).build(), &file);
    let f = file.to_str().unwrap();
    let csv = stdout(&replay(&[f, "--format", "csv"]));
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(header, CSV_COLUMNS);
    let v = json(&replay(&[f, "--format", "json"]));
    for (key, val) in v["streams"][0].as_object().unwrap() {
        let covered = match val {
            serde_json::Value::Object(_) => header.iter().any(|c| {
                c.starts_with(&format!("{key}_")) || (key == "rtt_ms" && c.starts_with("rtt_"))
            }),
            // An object that is null here (audio fields of a stream without a clock rate,
            // `video` of an audio stream, `quality` of a stream without a voice codec) has its
            // flattened columns.
            serde_json::Value::Null => {
                header.contains(&key.as_str())
                    || header.iter().any(|c| c.starts_with(&format!("{key}_")))
            }
            _ => header.contains(&key.as_str()),
        };
        assert!(covered, "JSON key {key} has no CSV column");
    }
}

/// `replay … | head -1`: the reader goes away after one line; rtcprobe stops quietly, exit 0.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = Scratch::new("pipe");
    let file = dir.path("many.pcap");
    // 3000 streams: far more output than a pipe buffers.
    let f = std::fs::File::create(&file).expect("create");
    write_clean_many(f, 3_000, 6_000, 1, Format::Pcap(TsResolution::Nano)).expect("write");
    for format in ["table", "json", "csv"] {
        let mut child = bin()
            .args(["replay", file.to_str().unwrap(), "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .expect("one line");
        assert!(!first.is_empty());
        // The read end is closed here (like `head -1` exiting).
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {err}");
        assert!(err.is_empty(), "{format}: nothing on stderr: {err}");
    }
    // The same through a shell, as an operator types it.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("set -o pipefail; \"$0\" replay \"$1\" | head -1")
        .arg(env!("CARGO_BIN_EXE_rtcprobe"))
        .arg(&file)
        .output()
        .expect("bash");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

/// pcapng interfaces in milliseconds (10^-3) and in 2^-10 s, both with `if_tsoffset`: packet
/// times and the duration come out right (a reader ignoring either would be off by 10^6 or
/// by the offset of 1.7e9 s).
#[test]
fn pcapng_time_resolution_and_offset() {
    let dir = Scratch::new("tsresol");
    let cap = dup_stream();
    let first = cap.frames.first().unwrap().ts_ns;
    let last = cap.frames.last().unwrap().ts_ns;
    assert!(last - first > 5 * SEC);
    let offset_secs = first / SEC - 100;
    for (tsresol, units) in [(3u8, 1_000i128), (0x8A, 1_024)] {
        let path = dir.path(&format!("r{tsresol}.pcapng"));
        let mut w = PcapngWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
        let id = w
            .add_interface_with(1, 65_535, tsresol, Some(offset_secs))
            .unwrap();
        for fr in &cap.frames {
            w.write_frame(id, fr.ts_ns, &fr.bytes).unwrap();
        }
        w.into_inner().unwrap();
        // What the file holds: whole units since the offset.
        let stored = |ts: i64| {
            let since = i128::from(ts - offset_secs * SEC);
            let ticks = since * units / 1_000_000_000;
            (offset_secs * SEC) as i128 + ticks * 1_000_000_000 / units
        };
        let v = json(&replay(&[path.to_str().unwrap(), "--format", "json"]));
        let want = (stored(last) - stored(first)) as f64 / 1e9;
        let got = v["summary"]["duration_secs"].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-6,
            "tsresol {tsresol:#x}: {got} vs {want}"
        );
        assert_eq!(
            v["summary"]["first_packet"],
            rfc3339_micros(stored(first) as i64),
            "tsresol {tsresol:#x}"
        );
        let table = stdout(&replay(&[path.to_str().unwrap()]));
        assert!(table.contains(&format!("over {got:.3} s")), "{table}");
    }
}

/// `--realtime` with stderr a pipe: a plain progress line while the replay runs, and a last
/// one when it is done.
#[test]
fn realtime_progress_lines_on_a_pipe() {
    let dir = Scratch::new("progress");
    let file = dir.path("three-seconds.pcap");
    let mut sc = Scenario::new(1);
    let mut s = StreamSpec::audio(
        "10.9.0.1:4000".parse().unwrap(),
        "10.9.0.2:5000".parse().unwrap(),
        0xABC,
    );
    s.count = 150; // 20 ms apart: 3 s
    sc.add(s);
    let cap = sc.build();
    let frames = cap.frames.len();
    write(&cap, &file);
    let mut child = bin()
        .args(["replay", file.to_str().unwrap(), "--realtime"])
        .args(["--progress-every", "1", "--format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).expect("a line");
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the first line comes while the replay runs: {first}"
    );
    assert!(
        first.starts_with("rtcprobe: replaying ") && first.contains(&format!("/{frames} frames")),
        "{first}"
    );
    let rest: Vec<String> = err.lines().map(Result::unwrap).collect();
    let status = child.wait().expect("wait");
    assert!(status.success());
    assert!(rest.len() >= 2, "about one line a second: {rest:?}");
    let last = rest.last().unwrap();
    assert!(
        last.contains(&format!("{frames}/{frames} frames (100 %)")) && last.ends_with("[done]"),
        "{last}"
    );
}

/// The pipeline's workers (those of `run`) log each stream's start and end at debug level.
#[test]
fn streams_start_and_end_in_the_debug_log() {
    let dir = Scratch::new("debuglog");
    let file = dir.path("mix.pcap");
    let cap = impaired_mix_on(3, Some(Encap::Ethernet)).build();
    let n = cap.truth.streams.len();
    write(&cap, &file);
    let out = bin()
        .args(["replay", file.to_str().unwrap(), "--workers", "2"])
        .args(["--format", "json"])
        .env("RUST_LOG", "rtcprobe=debug")
        .output()
        .expect("run");
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    let started = log.lines().filter(|l| l.contains("stream started")).count();
    let ended = log.lines().filter(|l| l.contains("stream ended")).count();
    assert_eq!((started, ended), (n, n), "{log}");
    let t = &cap.truth.streams[0];
    let ssrc = format!("ssrc=0x{:08X}", t.ssrc);
    assert!(
        log.lines()
            .any(|l| l.contains("stream ended") && l.contains(&ssrc) && l.contains("ended_by=")),
        "{log}"
    );
    let quiet = replay(&[file.to_str().unwrap(), "--workers", "2", "--format", "json"]);
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("stream started"));
}
