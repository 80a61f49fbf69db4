//! Every committed fuzz input, run through its harness as an ordinary test: the crash
//! reproducers in `fuzz/regressions/<target>/` and the seed corpus in `fuzz/corpus/<target>/`.
//! This keeps fixed crashes fixed on stable Rust without cargo-fuzz or a sanitizer build.
//!
//! A directory whose name is not a known target fails the test (a renamed target would
//! otherwise silently stop being checked), and so does a fuzz target in `fuzz/fuzz_targets/`
//! without a harness here or without a corpus.

use std::collections::BTreeSet;
use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

use rtcprobe::fuzzing;

/// A harness: takes any bytes, must not panic.
type Harness = fn(&[u8]);

/// The harness of each fuzz target, by the target's name.
const HARNESSES: [(&str, Harness); 16] = [
    ("rtp", fuzzing::rtp),
    ("rtcp", fuzzing::rtcp),
    ("stun", fuzzing::stun),
    ("demux", fuzzing::demux),
    ("frame", fuzzing::frame),
    ("packet_path", fuzzing::packet_path),
    ("buffer_line", fuzzing::buffer_line),
    ("http_head", fuzzing::http_head),
    ("pcap_file", fuzzing::pcap_file),
    ("pcapng", fuzzing::pcapng),
    ("hops", fuzzing::hops),
    ("video_payload", fuzzing::video_payload),
    ("tcp_reassembly", fuzzing::tcp_reassembly),
    ("ice_turn", fuzzing::ice_turn),
    ("sip", fuzzing::sip),
    ("sdp", fuzzing::sdp),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn harness(target: &str) -> Option<Harness> {
    HARNESSES
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, f)| *f)
}

/// Sorted entries of `dir` that are not hidden (cargo fuzz leaves `.tmp*` work directories).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    v.sort();
    v
}

/// Run every file under `root/<target>/`; returns (files run, failures).
fn run_tree(root: &Path) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut ran = 0;
    for dir in entries(root) {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let Some(f) = harness(&name).filter(|_| dir.is_dir()) else {
            failures.push(format!("{}: not a fuzz target directory", dir.display()));
            continue;
        };
        for file in entries(&dir) {
            let data = match fs::read(&file) {
                Ok(d) => d,
                Err(e) => {
                    failures.push(format!("{}: {e}", file.display()));
                    continue;
                }
            };
            ran += 1;
            if panic::catch_unwind(|| f(&data)).is_err() {
                failures.push(format!("{}: panicked", file.display()));
            }
        }
    }
    (ran, failures)
}

#[test]
fn regressions_stay_fixed() {
    let (_, failures) = run_tree(&fuzz_dir().join("regressions"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_runs_clean() {
    let (ran, failures) = run_tree(&fuzz_dir().join("corpus"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(ran > 0, "no corpus under fuzz/corpus");
}

#[test]
fn every_fuzz_target_has_a_harness_and_a_corpus() {
    let targets: BTreeSet<String> = entries(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .collect();
    let known: BTreeSet<String> = HARNESSES.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(targets, known, "fuzz/fuzz_targets and HARNESSES disagree");
    for t in &targets {
        let corpus = fuzz_dir().join("corpus").join(t);
        assert!(
            !entries(&corpus).is_empty(),
            "fuzz target {t} has no corpus in {}",
            corpus.display()
        );
    }
}

#[test]
fn unknown_directory_is_an_error() {
    let tmp = std::env::temp_dir().join(format!("rtcprobe-fuzz-reg-{}", std::process::id()));
    let bad = tmp.join("no_such_target");
    fs::create_dir_all(&bad).expect("create temp dir");
    fs::write(bad.join("x"), b"\x80").expect("write temp file");
    let (_, failures) = run_tree(&tmp);
    fs::remove_dir_all(&tmp).ok();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("not a fuzz target"));
}
