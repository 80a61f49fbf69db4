//! `replay --report`: the page is built from the forwarded records, and it renders in a real
//! browser. The browser test writes reports of three fixtures and of a synthetic 10,000-stream
//! capture, opens them in headless Debian `chromium` (tests/browser/render.mjs, playwright-core
//! installed by scripts/setup-test with `npm ci`), and checks that the plots are drawn, the
//! console is clean and no request leaves the page. `UPDATE_SCREENSHOTS=1` also copies the
//! screenshots to docs/report/ (the README shows them). Skips without chromium or node
//! (fails under CI=true).

mod common;

use rtcprobe::synth::scenarios::impaired_many;
use rtcprobe::synth::{TsResolution, DEFAULT_SNAPLEN};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: [&str; 3] = [
    "sample-sfu.pcap",
    "hdiniz-volte-amr-nb.pcap",
    "jitsi-chrome-vp8-flexfec-loss.pcap",
];
const MANY: usize = 10_000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `rtcprobe replay FILE --report OUT [extra]`, asserting success.
fn report(capture: &Path, out: &Path, extra: &[&str]) {
    // Run beside the capture so that the page names it without the test's directories.
    let st = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .current_dir(capture.parent().unwrap())
        .arg("replay")
        .arg(capture.file_name().unwrap())
        .arg("--report")
        .arg(out)
        .args(["--format", "json"])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "replay --report {}: {st}", capture.display());
}

/// 10,000 PCMU streams of 30 packets at 200 ms (6 s of capture), some lossy or jittery
/// (`synth::scenarios::impaired_many`), so that the worst are worth plotting.
fn many_streams(path: &Path) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    impaired_many(MANY as u32, 30, 15)
        .build()
        .write_pcap(f, TsResolution::Micro, DEFAULT_SNAPLEN)
        .unwrap();
}

/// `data-points` of every chart of `metric` in the page.
fn points(page: &str, metric: &str) -> usize {
    let tag = format!("data-metric=\"{metric}\" data-points=\"");
    page.match_indices(&tag)
        .map(|(i, _)| {
            let rest = &page[i + tag.len()..];
            rest[..rest.find('"').unwrap()].parse::<usize>().unwrap()
        })
        .sum()
}

#[test]
fn the_report_is_drawn_from_the_records_replay_writes() {
    let dir = common::TempDir::new("report-records");
    let (html, ndjson) = (dir.0.join("r.html"), dir.0.join("r.ndjson"));
    let cap = root().join("fixtures").join(FIXTURES[2]);
    report(&cap, &html, &["--records", ndjson.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    let recs: Vec<Value> = std::fs::read_to_string(&ndjson)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(recs.len() > 4, "{} records", recs.len());
    // One loss point per record that expected packets: the plots are the records.
    let with_packets = recs
        .iter()
        .filter(|r| r["interval_expected"].as_u64().unwrap() > 0)
        .count();
    assert_eq!(points(&page, "loss"), with_packets);
    // Each final record's packet count is in the table, the worst (highest loss) first.
    let mut finals: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "final").collect();
    assert_eq!(page.matches("<tr class=").count(), finals.len());
    finals
        .sort_by_key(|r| -(r["lost"].as_i64().unwrap() * 10_000 / r["expected"].as_i64().unwrap()));
    let ssrc = |r: &Value| format!("0x{:08x}", r["ssrc"].as_u64().unwrap());
    let first = page.find(&ssrc(finals[0])).unwrap();
    let second = page.find(&ssrc(finals[1])).unwrap();
    assert!(first < second, "worst stream first");
    // --report alone gives one-second intervals; the records file had them too.
    assert!(page.contains("one every 1 second of capture time"));
}

#[test]
fn reports_render_in_chromium() {
    let browser_dir = root().join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !common::have(&chromium, "chromium")
        || !common::have("/usr/bin/node", "nodejs")
        || !common::have(
            browser_dir
                .join("node_modules/playwright-core")
                .to_str()
                .unwrap(),
            "playwright-core (npm ci in tests/browser)",
        )
    {
        return;
    }
    let dir = common::TempDir::new("report-browser");
    let mut args: Vec<String> = Vec::new();
    let mut expect: Vec<(PathBuf, usize)> = Vec::new();
    for (i, f) in FIXTURES.iter().enumerate() {
        let out = dir.0.join(format!("fixture{i}.html"));
        report(&root().join("fixtures").join(f), &out, &[]);
        let n = count_streams(&root().join("fixtures").join(f));
        args.push(format!("{}=report-fixture{i}.png", out.display()));
        expect.push((out, n));
    }
    let cap = dir.0.join("many.pcap");
    many_streams(&cap);
    let many = dir.0.join("many.html");
    report(&cap, &many, &[]);
    let size = std::fs::metadata(&many).unwrap().len();
    assert!(size < 5_000_000, "10,000-stream report is {size} bytes");
    args.push(format!("{}=report-10000.png", many.display()));
    expect.push((many, MANY));

    let out = Command::new("node")
        .current_dir(&browser_dir)
        .arg("render.mjs")
        .arg(&dir.0)
        .args(&args)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "render.mjs: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), expect.len());
    for (r, (file, streams)) in results.iter().zip(&expect) {
        let name = file.display();
        assert_eq!(r["console"], Value::Array(vec![]), "{name}: console");
        assert_eq!(
            r["requests"],
            Value::Array(vec![]),
            "{name}: network requests"
        );
        assert!(
            r["csp"].as_str().unwrap().contains("default-src 'none'"),
            "{name}"
        );
        let plotted = (*streams).min(50) as u64;
        assert_eq!(
            r["articles"].as_u64(),
            Some(plotted),
            "{name}: plotted streams"
        );
        assert_eq!(r["charts"].as_u64(), Some(plotted * 5), "{name}");
        assert_eq!(
            r["rows"].as_u64(),
            Some(*streams as u64),
            "{name}: table rows"
        );
        let with_data = r["chartsWithData"].as_u64().unwrap();
        // Loss and bitrate at least, for every plotted stream.
        assert!(
            with_data >= plotted * 2,
            "{name}: {with_data} charts with data"
        );
        assert_eq!(r["chartsDrawn"].as_u64(), Some(with_data), "{name}: drawn");
        assert!(r["points"].as_u64().unwrap() >= with_data, "{name}");
    }
    let many = &results[3];
    let verdict = many["verdict"][0].as_str().unwrap();
    assert!(verdict.contains("of 10000 streams were poor"), "{verdict}");
    for shot in ["report-fixture0", "report-fixture2", "report-10000"] {
        for suffix in ["", "-plots"] {
            let png = dir.0.join(format!("{shot}{suffix}.png"));
            let len = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
            assert!(len > 10_000, "{} is {len} bytes", png.display());
            if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
                let docs = root().join("docs/report");
                std::fs::create_dir_all(&docs).unwrap();
                std::fs::copy(&png, docs.join(png.file_name().unwrap())).unwrap();
            }
        }
    }
}

fn count_streams(capture: &Path) -> usize {
    let out = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .arg("replay")
        .arg(capture)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["streams"].as_array().unwrap().len()
}
