//! End to end on real captures: replay every file in `fixtures/` through the library and compare
//! each stream with two independent analysers.
//!
//! * **TShark 4.0** (`tests/golden/tshark/<fixture>.txt`, from `tests/golden/regen-tshark.sh`):
//!   per (source, destination, SSRC) `packets` must equal TShark's "Pkts" and `lost` its "Lost".
//!   TShark's Lost is (highest − lowest extended sequence number + 1) − packets, duplicates
//!   counted as received, so it can be negative; that is RFC 3550 A.3's `expected − received`
//!   whenever the first packet has the lowest sequence number and no jump exceeds A.1's
//!   MAX_DROPOUT, which holds on every fixture unless a `Known` entry says otherwise.
//!   Every `rtcp.roundtrip-delay` TShark computed must appear among our `capture_point` RTT
//!   samples of the stream the report block describes (see [`check_rtt`] for the tolerance).
//! * **rtpproxy** (`fixtures/rtpproxy-expected/*.output`): packets, loss, duplicates and jitter,
//!   see [`check_rtpproxy`].
//!
//! Every difference is listed per fixture as a [`Known`] entry with the reason beside it, so a
//! change in either direction fails the test. `tshark_goldens_are_current` reruns TShark when it
//! is installed; `reference_only_captures` applies the same checks to the captures that may not
//! be committed, when `RTCPROBE_REFERENCE_FIXTURES` names their directory.

#[path = "fixtures/golden.rs"]
mod golden;

use golden::{rtpproxy_blocks, without_comments, TsGolden, TsStream};
use rtcprobe::config::Resolved;
use rtcprobe::engine::record::StreamRecord;
use rtcprobe::replay::{replay_file, Report};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

fn golden_path(name: &str) -> PathBuf {
    root().join("tests/golden/tshark").join(format!("{name}.txt"))
}

fn replay(path: &Path) -> Report {
    let r = replay_file(path, &Resolved::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(r.summary.error, None, "{}: capture not read to its end", path.display());
    r
}

fn sock(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|e| panic!("bad address {s}: {e}"))
}

/// How one stream legitimately differs from TShark.
#[derive(Debug, Clone, Copy)]
enum Diff {
    /// TShark lists the stream; we do not report it.
    TsharkOnly,
    /// We report the stream; TShark does not list it.
    OursOnly,
    /// Both list it, with these values of ours for `packets` and `lost`.
    Counts { packets: u64, lost: i64 },
}

/// An explained difference for the stream (src, dst, ssrc); the reason is the comment at the use.
#[derive(Debug, Clone, Copy)]
struct Known {
    src: &'static str,
    dst: &'static str,
    ssrc: u32,
    diff: Diff,
}

const fn known(src: &'static str, dst: &'static str, ssrc: u32, diff: Diff) -> Known {
    Known { src, dst, ssrc, diff }
}

fn key_of(r: &StreamRecord) -> (SocketAddr, SocketAddr, u32) {
    (sock(&r.src), sock(&r.dst), r.ssrc)
}

/// Compare a replay with TShark's golden view; panics listing every unexplained difference.
fn check_tshark(name: &str, report: &Report, known: &[Known]) -> TsGolden {
    let g = TsGolden::load(&golden_path(name));
    let mut problems = Vec::new();
    let find_known = |k: (SocketAddr, SocketAddr, u32)| {
        known.iter().find(|n| (sock(n.src), sock(n.dst), n.ssrc) == k).map(|n| n.diff)
    };
    let mut used = BTreeSet::new();
    for ts in &g.streams {
        let k = (ts.src, ts.dst, ts.ssrc);
        used.insert(k);
        let ours: Vec<&StreamRecord> = report.streams.iter().filter(|r| key_of(r) == k).collect();
        let label = format!("{} -> {} ssrc {:#010x}", ts.src, ts.dst, ts.ssrc);
        match (find_known(k), ours.as_slice()) {
            (Some(Diff::TsharkOnly), []) => {}
            (Some(Diff::TsharkOnly), _) => problems.push(format!("{label}: expected absent, found")),
            (_, []) => problems.push(format!("{label}: TShark lists {} pkts, we have no stream", ts.pkts)),
            (d, [r]) => {
                let (want_p, want_l) = match d {
                    Some(Diff::Counts { packets, lost }) => (packets, lost),
                    _ => (ts.pkts, ts.lost),
                };
                if (r.packets, r.lost) != (want_p, want_l) {
                    problems.push(format!(
                        "{label}: packets/lost ours {}/{} want {want_p}/{want_l} (TShark {}/{})",
                        r.packets, r.lost, ts.pkts, ts.lost
                    ));
                }
            }
            (_, many) => problems.push(format!("{label}: {} records for one stream", many.len())),
        }
    }
    for r in &report.streams {
        let k = key_of(r);
        if !used.contains(&k) && !matches!(find_known(k), Some(Diff::OursOnly)) {
            problems.push(format!(
                "{} -> {} ssrc {:#010x}: ours only ({} pkts), not explained",
                r.src, r.dst, r.ssrc, r.packets
            ));
        }
    }
    for n in known.iter().filter(|n| matches!(n.diff, Diff::OursOnly)) {
        let k = (sock(n.src), sock(n.dst), n.ssrc);
        if !report.streams.iter().any(|r| key_of(r) == k) {
            problems.push(format!("{} -> {} ssrc {:#010x}: expected ours-only stream missing", n.src, n.dst, n.ssrc));
        }
    }
    problems.extend(check_rtt(&g, report));
    assert!(problems.is_empty(), "{name} vs TShark:\n  {}", problems.join("\n  "));
    g
}

/// TShark's RTT (packet-rtcp.c `calculate_roundtrip_delay`) pairs a report block with the
/// *latest* SR seen in the opposite direction of the same RTCP 5-tuple when LSR matches it, and
/// prints `trunc(gap_ms) − trunc(DLSR_ms)` as an integer, where `gap_ms` is
/// `Δs·1000 + trunc(Δns/10⁶)`. With R the exact round trip, `TShark − R ∈ (−1, 2)` ms, so we
/// require `R ∈ (v − 2, v + 1)` for TShark's value v. We also match LSR against older SRs (up to
/// eight), so we may hold more samples than TShark, never fewer. TShark prints negative delays
/// too; the engine rejects negative RTTs, so none may occur on these fixtures.
fn check_rtt(g: &TsGolden, report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    let port_ok = |media: u16, rtcp: u16| media == rtcp || media.checked_add(1) == Some(rtcp);
    let mut per_stream: Vec<(usize, u64)> = Vec::new();
    for row in &g.rtt {
        // The report travels src → dst and describes a stream flowing dst → src.
        let cands: Vec<usize> = (0..report.streams.len())
            .filter(|&i| {
                let (s, d, ssrc) = key_of(&report.streams[i]);
                s.ip() == row.dst.ip()
                    && d.ip() == row.src.ip()
                    && port_ok(s.port(), row.dst.port())
                    && port_ok(d.port(), row.src.port())
                    && row.block_ssrcs.contains(&ssrc)
            })
            .collect();
        for &v in &row.delays_ms {
            let v = v as f64;
            let hit = cands.iter().any(|&i| {
                report.streams[i]
                    .rtt_ms
                    .get("capture_point")
                    .is_some_and(|s| s.min < v + 1.0 && s.max > v - 2.0)
            });
            if !hit {
                problems.push(format!(
                    "frame {}: TShark RTT {v} ms (LSR frame {}) not among capture_point samples of {:?}",
                    row.frame,
                    row.lsr_frame,
                    cands.iter().map(|&i| describe_rtt(&report.streams[i])).collect::<Vec<_>>()
                ));
            }
        }
        if let [only] = cands[..] {
            match per_stream.iter_mut().find(|(i, _)| *i == only) {
                Some((_, n)) => *n += 1,
                None => per_stream.push((only, 1)),
            }
        }
    }
    for (i, n) in per_stream {
        let r = &report.streams[i];
        let ours = r.rtt_ms.get("capture_point").map_or(0, |s| s.samples);
        if ours < n {
            problems.push(format!("{}: {ours} capture_point samples, TShark computed {n}", describe_rtt(r)));
        }
    }
    if g.rtt.is_empty() {
        for r in report.streams.iter().filter(|r| r.rtt_ms.contains_key("capture_point")) {
            problems.push(format!("{}: RTT where TShark computed none", describe_rtt(r)));
        }
    }
    problems
}

fn describe_rtt(r: &StreamRecord) -> String {
    format!("{} -> {} ssrc {:#010x} rtt {:?}", r.src, r.dst, r.ssrc, r.rtt_ms)
}

/// rtpproxy's `extractaudio -s` (src/rtp_analyze.c) analyses one SSRC whatever its addresses,
/// counts distinct sequence numbers (`pcount`, duplicates apart) and reports
/// `plost = psent − pcount` with `psent = max_seq − min_seq + 1`. So, summed over our streams of
/// that SSRC: `pcount = packets − duplicates`, `plost = lost + duplicates`, `psent = expected`.
///
/// Jitter: rtpproxy runs A.8 on arrival times first truncated to whole timestamp units
/// (`(uint64_t)(rtime * ts_rate)`), so each |D| is off by less than one unit, and the
/// estimate, an average of |D| values, by less than one unit too: we accept ±1 unit (0.125 ms at
/// 8 kHz) on the last, mean and maximum jitter. rtpproxy also skips, for audio, a packet whose
/// RTP timestamp repeats one of the last ten (a duplicate), and timestamp resets/jumps; the mean
/// is over the same updates as ours (`jtotal / (pcount − 1)`).
fn check_rtpproxy(report: &Report, output: &str, block: usize, jitter: bool) {
    let blocks = rtpproxy_blocks(&fixture("rtpproxy-expected").join(output));
    let b = &blocks[block];
    let ours: Vec<&StreamRecord> = report.streams.iter().filter(|r| r.ssrc == b.ssrc).collect();
    assert!(!ours.is_empty(), "{output}[{block}]: no stream with ssrc {:#010x}", b.ssrc);
    let sum = |f: &dyn Fn(&StreamRecord) -> i64| ours.iter().map(|r| f(r)).sum::<i64>();
    let dups = sum(&|r| r.duplicates as i64);
    let got = (
        sum(&|r| r.packets as i64) - dups,
        sum(&|r| r.lost) + dups,
        dups,
        sum(&|r| r.expected as i64),
    );
    let want = (b.pcount as i64, b.plost, b.duplicates as i64, b.psent as i64);
    assert_eq!(got, want, "{output}[{block}] (pcount, plost, duplicates, psent)");
    if !jitter {
        return;
    }
    // The last stream (in capture order) carries rtpproxy's final estimate.
    let last = ours.iter().max_by_key(|r| r.last_seen.clone()).unwrap_or_else(|| unreachable!());
    let rate = last.clock_rate.unwrap_or_else(|| panic!("{output}[{block}]: no clock rate"));
    let unit_ms = 1e3 / f64::from(rate);
    let pairs = [
        ("last_jitter", b.last_jitter, last.jitter_ms),
        ("average_jitter", b.average_jitter, last.mean_jitter_ms),
        ("max_jitter", b.max_jitter, last.max_jitter_ms),
    ];
    for (what, units, ours_ms) in pairs {
        let ours_ms = ours_ms.unwrap_or_else(|| panic!("{output}[{block}]: no {what}"));
        let ours_units = ours_ms / unit_ms;
        assert!(
            (ours_units - units).abs() < 1.0,
            "{output}[{block}] {what}: rtpproxy {units} units, ours {ours_units:.6} units ({ours_ms:.6} ms)"
        );
    }
}

fn stream<'a>(report: &'a Report, src: &str, dst: &str, ssrc: u32) -> &'a StreamRecord {
    let k = (sock(src), sock(dst), ssrc);
    report
        .streams
        .iter()
        .find(|r| key_of(r) == k)
        .unwrap_or_else(|| panic!("no stream {src} -> {dst} {ssrc:#010x}"))
}

/// TShark's max jitter (ms) leaves out packets with the marker bit, comfort noise and the packet
/// after it (tap-rtp-analysis.c "regular packet"); on streams with none of these it is the same
/// A.8 estimate as ours, in floating point, printed with three decimals.
fn assert_max_jitter_like_tshark(report: &Report, ts: &TsStream) {
    let k = (ts.src, ts.dst, ts.ssrc);
    let r = report.streams.iter().find(|r| key_of(r) == k).unwrap_or_else(|| panic!("{k:?}"));
    let ours = r.max_jitter_ms.unwrap_or_else(|| panic!("{k:?}: no jitter"));
    assert!(
        (ours - ts.max_jitter).abs() < 0.0006,
        "{k:?}: max jitter ours {ours:.6} ms, TShark {:.3} ms",
        ts.max_jitter
    );
}

fn run(name: &str, known: &[Known]) -> (Report, TsGolden) {
    let report = replay(&fixture(name));
    let g = check_tshark(name, &report, known);
    (report, g)
}

// ---------------------------------------------------------------------------------------------
// One test per capture.

#[test]
fn rtpproxy_lost() {
    let (r, _) = run("rtpproxy-lost.pcap", &[]);
    check_rtpproxy(&r, "lost.output", 0, true);
}

#[test]
fn rtpproxy_dups() {
    let (r, _) = run("rtpproxy-dups.pcap", &[]);
    check_rtpproxy(&r, "dups.output", 0, true);
}

#[test]
fn rtpproxy_weird_loss() {
    let (r, _) = run("rtpproxy-weird-loss.pcap", &[]);
    check_rtpproxy(&r, "weird.output", 1, true);
}

#[test]
fn rtpproxy_dlt_null() {
    let (r, _) = run("rtpproxy-dlt-null.pcap", &[]);
    check_rtpproxy(&r, "DLT_NULL.output", 0, true);
}

#[test]
fn rtpproxy_alice_srtp() {
    let (r, _) = run("rtpproxy-alice-srtp.pcap", &[]);
    check_rtpproxy(&r, "alice_to_bob.output", 0, true);
}

#[test]
fn rtpproxy_bob_srtp() {
    let (r, _) = run("rtpproxy-bob-srtp.pcap", &[]);
    check_rtpproxy(&r, "alice_to_bob.output", 1, true);
}

#[test]
fn rtpproxy_rtcp_sr() {
    run("rtpproxy-rtcp-sr.pcap", &[]);
}

#[test]
fn sipp_g711a() {
    run("sipp-g711a.pcap", &[]);
}

#[test]
fn hdiniz_vowifi_esp() {
    run("hdiniz-vowifi-esp-amr-rtcp-sll.pcap", &[]);
}

#[test]
fn hdiniz_volte_amr() {
    run("hdiniz-volte-amr-nb.pcap", &[]);
}

#[test]
fn ndpi_rtcp_compound() {
    run("ndpi-rtcp-compound-sll.pcap", &[]);
}

#[test]
fn ndpi_kakaotalk() {
    run("ndpi-kakaotalk-sll-rtp.pcap", &[]);
}

#[test]
fn ndpi_rtp_vlan_mixed() {
    run("ndpi-rtp-vlan-h263-mixed.pcapng", &[]);
}

#[test]
fn ndpi_google_meet() {
    run("ndpi-google-meet-ipv6-webrtc.pcapng", &[]);
}

#[test]
fn jitsi_vp8_flexfec() {
    run("jitsi-chrome-vp8-flexfec-loss.pcap", &[]);
}

#[test]
fn ast_opus_fec_dropped() {
    run("ast-opus-fec-dropped.pcapng", &[]);
}

#[test]
fn ast_2017_012_rtcp() {
    run("ast-2017-012-rtcp-crash.pcap", &[]);
}

// ---------------------------------------------------------------------------------------------
// The goldens themselves.

fn capture_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect()
}

/// Every capture has a golden file made from exactly its bytes, and every golden a capture.
#[test]
fn goldens_cover_every_fixture() {
    let captures = capture_names(&root().join("fixtures"));
    let goldens: BTreeSet<String> = std::fs::read_dir(root().join("tests/golden/tshark"))
        .expect("tests/golden/tshark")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".txt").map(str::to_owned))
        .collect();
    assert_eq!(captures, goldens, "run tests/golden/regen-tshark.sh");
    // sha256sum is in coreutils; where it is missing the names above are still checked.
    let Ok(out) = Command::new("sha256sum").args(captures.iter().map(|c| fixture(c))).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (sum, path) = line.split_once("  ").unwrap_or_else(|| panic!("{line}"));
        let name = Path::new(path).file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let text = std::fs::read_to_string(golden_path(name)).unwrap_or_default();
        assert!(
            text.lines().any(|l| l.starts_with("# fixture:") && l.contains(sum)),
            "{name}: golden was made from other bytes (sha256 {sum}); regenerate it"
        );
    }
}

/// Whether `tshark` runs; without it, skip (print why) or, under CI=true, fail.
fn tshark_available(test: &str) -> bool {
    if Command::new("tshark").arg("--version").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: tshark is not on PATH but CI=true; install tshark (Debian: apt-get install tshark)"
    );
    eprintln!("{test}: SKIPPED, tshark is not on PATH");
    false
}

/// Run the regeneration script into a fresh directory; returns that directory.
fn regen_into(tag: &str, fixtures_dir: Option<&Path>) -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("tests/golden/regen-tshark.sh")).arg(&out);
    if let Some(d) = fixtures_dir {
        cmd.env("FIXTURES", d);
    }
    let st = cmd.status().expect("bash");
    assert!(st.success(), "regen-tshark.sh failed: {st}");
    out
}

/// The committed goldens are what the installed TShark says today.
#[test]
fn tshark_goldens_are_current() {
    if !tshark_available("tshark_goldens_are_current") {
        return;
    }
    let out = regen_into("tshark-live", None);
    let mut stale = Vec::new();
    for name in capture_names(&root().join("fixtures")) {
        let committed = std::fs::read_to_string(golden_path(&name)).unwrap_or_default();
        let fresh = std::fs::read_to_string(out.join(format!("{name}.txt"))).unwrap_or_default();
        if without_comments(&committed) != without_comments(&fresh) {
            let version = fresh.lines().nth(1).unwrap_or_default().to_owned();
            stale.push(format!("{name} (now {version})"));
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    assert!(
        stale.is_empty(),
        "TShark disagrees with the committed goldens (made with TShark 4.0.17) for:\n  {}\n\
         review with `tests/golden/regen-tshark.sh && git diff tests/golden`",
        stale.join("\n  ")
    );
}
