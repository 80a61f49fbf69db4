//! Every record the file sink writes for the fixtures validates against
//! docs/records.schema.json, and the schema documents every key a record has.
//!
//! The validator is written here for the subset of JSON Schema draft 2020-12 the schema uses
//! (`type` as a name or a list, `const`, `enum`, `minimum`, `maximum`, `pattern` limited to
//! the `record_id` and time shapes, `required`, `additionalProperties: false`), so the test needs
//! no validator crate; a keyword it does not know fails the test rather than being ignored.

#[path = "records_schema/calls.rs"]
mod calls;

use serde_json::{Map, Value};
use std::process::Command;

const KNOWN: &[&str] = &[
    "type",
    "const",
    "enum",
    "minimum",
    "maximum",
    "pattern",
    "format",
    "description",
    "items",
];

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "array" => v.is_array(),
        other => panic!("schema type {other} not handled"),
    }
}

/// The two patterns of the schema, checked by hand.
fn pattern_ok(p: &str, s: &str) -> bool {
    let b = s.as_bytes();
    match p {
        "^[0-9a-f]{32}$" => {
            b.len() == 32 && b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
        }
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$" => {
            let shape = "dddd-dd-ddTdd:dd:dd.ddddddZ".as_bytes();
            b.len() == shape.len()
                && b.iter().zip(shape).all(|(c, s)| match s {
                    b'd' => c.is_ascii_digit(),
                    s => c == s,
                })
        }
        other => panic!("pattern {other} not handled"),
    }
}

fn check(key: &str, s: &Map<String, Value>, v: &Value) -> Result<(), String> {
    for k in s.keys() {
        assert!(
            KNOWN.contains(&k.as_str()),
            "{key}: keyword {k} not handled"
        );
    }
    let fail = |why: &str| Err(format!("{key} = {v}: {why}"));
    match s.get("type") {
        Some(Value::String(t)) if !type_ok(t, v) => return fail(&format!("not {t}")),
        Some(Value::Array(ts)) if !ts.iter().any(|t| type_ok(t.as_str().unwrap_or(""), v)) => {
            return fail(&format!("not any of {ts:?}"))
        }
        _ => {}
    }
    if s.get("const").is_some_and(|c| c != v) {
        return fail("not the const");
    }
    if s.get("enum")
        .and_then(Value::as_array)
        .is_some_and(|e| !e.contains(v))
    {
        return fail("not in the enum");
    }
    if let Some(x) = v.as_f64() {
        if s.get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x < m)
        {
            return fail("below minimum");
        }
        if s.get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x > m)
        {
            return fail("above maximum");
        }
    }
    if let (Some(p), Some(text)) = (s.get("pattern").and_then(Value::as_str), v.as_str()) {
        if !pattern_ok(p, text) {
            return fail("does not match the pattern");
        }
    }
    if let (Some(items), Some(list)) = (s.get("items").and_then(Value::as_object), v.as_array()) {
        for x in list {
            check(&format!("{key}[]"), items, x)?;
        }
    }
    Ok(())
}

/// The E-model estimate is there exactly for the voice codecs of the table (static payload
/// types of RFC 3551, and Opus inferred from a dynamic payload type at 48000 Hz), comes with
/// its inputs, and agrees with what the fixtures are: a clean G.711 call rates G.107's default
/// 93.2, a G.729 stream that lost over a third of its packets rates below the "nearly all users
/// dissatisfied" line (50).
fn check_quality(fixture: &str, rec: &Value) {
    let pt = rec["payload_type"].as_u64();
    let (r, mos) = (rec["r_factor"].as_f64(), rec["mos"].as_f64());
    let opus = (96..=127).contains(&pt.unwrap_or(0)) && rec["clock_rate"].as_u64() == Some(48000);
    let known = matches!(pt, Some(0 | 3 | 4 | 8 | 9 | 18)) || opus;
    assert_eq!(r.is_some(), known, "{fixture}: {rec}");
    assert_eq!(mos.is_some(), known, "{fixture}: {rec}");
    for k in [
        "mos_lq",
        "codec",
        "codec_source",
        "emodel_scale",
        "ppl",
        "ie",
        "bpl",
    ] {
        assert_eq!(!rec[k].is_null(), known, "{fixture}: {k} in {rec}");
    }
    // `burst_r` is the period's (engine/audio): null when no sequence number settled in it
    // (they settle 128 behind the highest), else positive: 1/(p + q) is 1 for random loss,
    // above 1 for bursty loss, and a little below 1 when losses are more spread out than random
    // (sample-sfu's single losses: 0.995).
    if let Some(b) = rec["burst_r"].as_f64() {
        assert!(b > 0.0 && b.is_finite(), "{fixture}: burst_r in {rec}");
    }
    if opus {
        assert_eq!(rec["codec"], "opus-wb", "{rec}");
        assert_eq!(rec["codec_source"], "inferred", "{rec}");
    }
    // MOS-CQ exactly when a delay is known; the delay is the sum of its parts.
    assert_eq!(
        rec["mos_cq"].is_null(),
        rec["one_way_delay_ms"].is_null(),
        "{rec}"
    );
    if let Some(d) = rec["one_way_delay_ms"].as_f64() {
        let parts = [
            "delay_rtt_half_ms",
            "delay_jitter_buffer_ms",
            "delay_codec_ms",
        ]
        .iter()
        .map(|k| rec[*k].as_f64().unwrap_or(f64::NAN))
        .sum::<f64>();
        assert!((d - parts).abs() < 0.02, "{rec}");
    }
    if fixture == "sipp-g711a.pcap" {
        assert_eq!((r, mos), (Some(93.2), Some(4.41)), "{rec}");
    }
    if fixture == "rtpproxy-lost.pcap" && rec["interval_expected"].as_u64() > Some(0) {
        let lost = rec["interval_lost"].as_f64().unwrap_or(0.0);
        let expected = rec["interval_expected"].as_f64().unwrap_or(1.0);
        if lost / expected > 1.0 / 3.0 {
            assert!(r.is_some_and(|r| r < 50.0), "{rec}");
        }
    }
}

fn validate(schema: &Value, rec: &Value) -> Result<(), String> {
    let props = schema["properties"].as_object().expect("properties");
    let obj = rec.as_object().ok_or("not an object")?;
    for r in schema["required"].as_array().expect("required") {
        let r = r.as_str().expect("name");
        if !obj.contains_key(r) {
            return Err(format!("{r} missing"));
        }
    }
    assert_eq!(schema["additionalProperties"], Value::Bool(false));
    for (k, v) in obj {
        let s = props
            .get(k)
            .ok_or_else(|| format!("{k} not in the schema"))?;
        check(k, s.as_object().expect("property schema"), v)?;
    }
    Ok(())
}

#[test]
fn every_record_of_the_fixtures_validates_against_the_schema() {
    let schema: Value =
        serde_json::from_str(include_str!("../docs/records.schema.json")).expect("schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let hop_schema: Value = serde_json::from_str(include_str!("../docs/records-hop.schema.json"))
        .expect("hop schema is JSON");
    let call_schema: Value = serde_json::from_str(include_str!("../docs/records-call.schema.json"))
        .expect("call schema is JSON");
    let mut call_records = 0;
    // The validator itself: a few records it must refuse.
    let bad = serde_json::json!({"schema_version": 3});
    assert!(validate(&schema, &bad).is_err());
    let dir = std::env::temp_dir().join(format!("rtcprobe-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut total = 0;
    let mut non_null = std::collections::BTreeSet::new();
    for fixture in [
        "sample-sfu.pcap",
        "rtpproxy-rtcp-sr.pcap",
        "jitsi-chrome-vp8-flexfec-loss.pcap",
        "ndpi-google-meet-ipv6-webrtc.pcapng",
        "sipp-g711a.pcap",
        "rtpproxy-lost.pcap",
    ] {
        let out = dir.join(format!("{fixture}.ndjson"));
        let _ = std::fs::remove_file(&out);
        let st = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
            .args(["replay", "--format", "json", "--records"])
            .arg(&out)
            .arg(format!("{}/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR")))
            .env("STATE_DIRECTORY", &dir)
            .output()
            .expect("rtcprobe replay");
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let text = std::fs::read_to_string(&out).expect("records");
        for line in text.lines() {
            let rec: Value = serde_json::from_str(line).expect("JSON line");
            // The single-threaded replay makes hop records too (sample-sfu's hops), and call
            // records (the ICE sessions of sample-sfu and the Google Meet capture).
            if rec["kind"] == "call" {
                if let Err(e) = validate(&call_schema, &rec) {
                    panic!("{fixture}: {e}\n{line}");
                }
                call_records += 1;
                continue;
            }
            let schema = if rec["kind"].as_str().is_some_and(|k| k.starts_with("hop_")) {
                &hop_schema
            } else {
                &schema
            };
            if let Err(e) = validate(schema, &rec) {
                panic!("{fixture}: {e}\n{line}");
            }
            for (k, v) in rec.as_object().into_iter().flatten() {
                if !v.is_null() {
                    non_null.insert(k.clone());
                }
            }
            check_quality(fixture, &rec);
            total += 1;
        }
        // A mutated record must fail: the checks are live.
        if let Some(line) = text.lines().next() {
            let mut rec: Value = serde_json::from_str(line).expect("JSON line");
            rec["ssrc"] = Value::from(-1);
            assert!(validate(&schema, &rec).is_err());
            rec["ssrc"] = Value::from(1);
            rec["extra"] = Value::from(1);
            assert!(validate(&schema, &rec).is_err());
            rec.as_object_mut().map(|o| o.remove("extra"));
            rec["finding_codes"] = serde_json::json!(["not_a_code"]);
            assert!(validate(&schema, &rec).is_err());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(total > 50, "{total} records");
    // Call records are off by default (`records.calls`): sample-sfu.pcap's and the Google Meet
    // capture's ICE sessions give none here (tests/records_schema/calls.rs turns them on).
    assert_eq!(call_records, 0, "call records of the fixtures");
    eprintln!(
        "{total} records valid; keys seen non-null: {} of {}",
        non_null.len(),
        schema["properties"].as_object().map_or(0, Map::len)
    );
}

/// What `replay --format json` reports as `hops` for these frames (the matcher fed every
/// datagram in capture order, finished at the last frame).
fn reference_hops(frames: &[rtcprobe::synth::Frame]) -> Vec<rtcprobe::correlate::hop::HopRecord> {
    use rtcprobe::correlate::hop::{summarize, HopMatcher, Limits};
    let mut m = HopMatcher::new(Limits::default());
    let mut last = 0;
    for f in frames {
        let link = rtcprobe::wire::LinkType::from_dlt(f.linktype as i32).expect("link type");
        if let Ok(dg) = rtcprobe::wire::decode_udp(link, &f.bytes) {
            if let Some((k, p)) = summarize(&dg, rtcprobe::engine::ObservationPoint::CAPTURE) {
                m.on_rtp(f.ts_ns, &k, &p);
            }
        }
        last = f.ts_ns;
    }
    m.finish(last);
    // Hops are handed out as they end (the replay's order); every one ends at the finish.
    let mut hops: Vec<(u64, _)> = m
        .drain()
        .filter_map(|d| match d {
            rtcprobe::correlate::hop::Done::Hop { seq, hop, .. } => Some((seq, *hop)),
            _ => None,
        })
        .collect();
    hops.sort_by_key(|h| h.0);
    hops.into_iter().map(|h| h.1).collect()
}

/// Schema version 2: every synthetic hop scenario replayed through the pipeline with a file
/// sink gives stream records valid under records.schema.json and hop records valid under
/// records-hop.schema.json; each hop has one `hop_final` record whose numbers are the replay's
/// hop (and the scenario's truth), its interval records never go down, and IDs are unique.
#[test]
fn hop_records_validate_and_their_finals_equal_the_replay_hops() {
    use rtcprobe::synth::hop::{named, NAMES};
    let streams: Value =
        serde_json::from_str(include_str!("../docs/records.schema.json")).expect("schema");
    let hops: Value =
        serde_json::from_str(include_str!("../docs/records-hop.schema.json")).expect("schema");
    let dir = std::env::temp_dir().join(format!("rtcprobe-hop-records-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        "[engine]\nhops = true\n[records]\ninterval_secs = 5\n",
    )
    .expect("config");
    let mut intervals = 0;
    for name in NAMES {
        let s = named(name).expect("scenario");
        let (cap, truth) = s.build();
        let pcap = dir.join(format!("{name}.pcap"));
        let f = std::fs::File::create(&pcap).expect("pcap");
        cap.write_pcap(f, rtcprobe::synth::pcap::TsResolution::Nano, 65535)
            .expect("write");
        let want = reference_hops(&cap.frames);
        let out = dir.join(format!("{name}.ndjson"));
        let st = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
            // --linger: through the pipeline (its capture thread's hop stage makes the hop
            // records) even where one thread would be faster.
            .args([
                "replay",
                "--workers",
                "2",
                "--linger",
                "0.01",
                "--format",
                "json",
            ])
            .arg("--config")
            .arg(&cfg)
            .arg("--records")
            .arg(&out)
            .arg(&pcap)
            .env("STATE_DIRECTORY", &dir)
            .output()
            .expect("rtcprobe replay");
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let text = std::fs::read_to_string(&out).expect("records");
        let recs: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        let mut ids = std::collections::BTreeSet::new();
        let mut finals = Vec::new();
        let mut last_out: std::collections::BTreeMap<String, u64> = Default::default();
        for rec in &recs {
            assert!(ids.insert(rec["record_id"].to_string()), "{name}: {rec}");
            let kind = rec["kind"].as_str().expect("kind");
            let schema = if kind.starts_with("hop_") {
                &hops
            } else {
                &streams
            };
            if let Err(e) = validate(schema, rec) {
                panic!("{name}: {e}\n{rec}");
            }
            if !kind.starts_with("hop_") {
                continue;
            }
            let hop = format!("{}>{}", rec["ingress_ssrc"], rec["egress_ssrc"]);
            let out = rec["packets_out"].as_u64().expect("packets_out");
            let before = last_out.insert(hop.clone(), out).unwrap_or(0);
            assert!(out >= before, "{name}: {hop} went down");
            match kind {
                "hop_final" => finals.push(rec.clone()),
                _ => intervals += 1,
            }
        }
        assert_eq!(finals.len(), want.len(), "{name}: {finals:#?}");
        for h in &want {
            let r = finals
                .iter()
                .find(|r| r["ingress_ssrc"] == h.ingress.ssrc && r["egress_ssrc"] == h.egress.ssrc)
                .unwrap_or_else(|| panic!("{name}: no final record for {h:?}"));
            for (k, v) in [
                ("packets_in", h.packets_in),
                ("packets_out", h.packets_out),
                ("lost_inside", h.lost_inside),
                ("lost_upstream", h.lost_upstream),
                ("rtx_packets", h.rtx_packets),
            ] {
                assert_eq!(r[k], v, "{name}: {k} of {r}");
            }
            let p50 = h.forwarding_delay.map(|d| d.p50 * 1e3);
            assert_eq!(r["forwarding_delay_p50_ms"].as_f64(), p50, "{name}");
            assert_eq!(
                r["egress_dst_port"],
                h.egress
                    .dst
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .parse::<u16>()
                    .unwrap()
            );
        }
        // The single-threaded replay has the same hop stage: the same hop records.
        let one = dir.join(format!("{name}-one.ndjson"));
        let st = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
            .args(["replay", "--format", "json", "--config"])
            .arg(&cfg)
            .arg("--records")
            .arg(&one)
            .arg(&pcap)
            .env("STATE_DIRECTORY", &dir)
            .output()
            .expect("rtcprobe replay");
        assert!(st.status.success());
        let hop_lines = |t: &str| {
            let mut v: Vec<Value> = t
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
                .filter(|r| r["kind"].as_str().is_some_and(|k| k.starts_with("hop_")))
                .collect();
            v.sort_by_key(|r| r["record_id"].to_string());
            v
        };
        let single = hop_lines(&std::fs::read_to_string(&one).expect("records"));
        assert!(!single.is_empty(), "{name}");
        assert_eq!(single, hop_lines(&text), "{name}: one thread vs pipeline");
        let inside: u64 = truth.hops.iter().map(|h| h.lost_inside).sum();
        let got: u64 = finals
            .iter()
            .map(|r| r["lost_inside"].as_u64().unwrap())
            .sum();
        assert_eq!(got, inside, "{name}");
        // A mutated hop record must fail: the checks are live.
        if let Some(mut r) = finals.first().cloned() {
            r["matched_by"] = Value::from("guess");
            assert!(validate(&hops, &r).is_err());
        }
    }
    assert!(intervals > 0, "no hop_interval record in any scenario");
    let _ = std::fs::remove_dir_all(&dir);
}
