//! Schema version 3: the call records of [`rtcprobe::synth::calls::mixed`] (two SIP calls, a
//! TURN allocation, an ICE session) replayed with a file sink, single-threaded and through the
//! pipeline: one record per call, valid under docs/records-call.schema.json, with the values of
//! the same calls in `replay --format json`, and the same records both ways.

use super::validate;
use rtcprobe::synth::calls::{mixed, CALL_ONE, CALL_TWO};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// `replay` of `pcap` with `args`, records to `out`: the JSON report and the call records.
fn replay(dir: &Path, pcap: &Path, args: &[&str], out: &Path) -> (Value, Vec<Value>) {
    let cfg = dir.join("rtcprobe.toml");
    std::fs::write(
        &cfg,
        "[sip]\nkeep_identities = true\n[records]\nhost = \"t\"\ncalls = true\n",
    )
    .expect("config");
    let st = Command::new(env!("CARGO_BIN_EXE_rtcprobe"))
        .arg("replay")
        .args(args)
        .args(["--format", "json", "--config"])
        .arg(&cfg)
        .arg("--records")
        .arg(out)
        .arg(pcap)
        .env("STATE_DIRECTORY", dir)
        .output()
        .expect("rtcprobe replay");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let report: Value = serde_json::from_slice(&st.stdout).expect("report");
    let mut calls: Vec<Value> = std::fs::read_to_string(out)
        .expect("records")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .filter(|r| r["kind"] == "call")
        .collect();
    calls.sort_by_key(|r| r["call_id"].to_string());
    (report, calls)
}

#[test]
fn call_records_validate_and_equal_the_replay_s_calls() {
    let schema: Value =
        serde_json::from_str(include_str!("../../docs/records-call.schema.json")).expect("schema");
    let dir = std::env::temp_dir().join(format!("rtcprobe-call-records-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pcap = dir.join("calls.pcap");
    mixed(1_765_000_000_000_000_000)
        .write_pcap(
            std::fs::File::create(&pcap).expect("pcap"),
            rtcprobe::synth::pcap::TsResolution::Nano,
            65535,
        )
        .expect("write");
    let (report, one) = replay(&dir, &pcap, &[], &dir.join("one.ndjson"));
    let (_, piped) = replay(
        &dir,
        &pcap,
        &["--workers", "2", "--linger", "0.01"],
        &dir.join("piped.ndjson"),
    );
    assert_eq!(one.len(), 4, "{one:#?}");
    assert_eq!(one, piped, "one thread vs pipeline");
    for r in &one {
        if let Err(e) = validate(&schema, r) {
            panic!("{e}\n{r}");
        }
    }
    let by_id = |id: &str| one.iter().find(|r| r["call_id"] == id).expect(id);
    // SIP: the values of the calls in the report (streams tied at the end of the replay).
    for id in [CALL_ONE, CALL_TWO] {
        let (r, c) = (by_id(id), report["calls"].as_array().expect("calls"));
        let c = c.iter().find(|c| c["id"] == id).expect(id);
        assert_eq!(r["call_kind"], "sip");
        assert_eq!(r["outcome"], c["outcome"], "{id}");
        assert_eq!(r["setup_answer_ms"], c["setup_time_ms"]["answer"], "{id}");
        assert_eq!(r["duration_secs"], c["duration_s"], "{id}");
        assert_eq!((&r["start"], &r["end"]), (&c["start"], &c["end"]), "{id}");
        assert_eq!(r["caller_uri"], "sip:alice@example.org", "{id}");
    }
    assert_eq!(by_id(CALL_ONE)["outcome"], "bye");
    assert_eq!(by_id(CALL_ONE)["sip_status"], 200);
    assert_eq!(by_id(CALL_TWO)["outcome"], "setup");
    assert!(by_id(CALL_TWO)["sip_status"].is_null());
    // ICE and TURN: those of `ice_sessions` and `turn_allocations`.
    let ice = &report["ice_sessions"][0];
    let r = by_id(ice["id"].as_str().expect("ice id"));
    assert_eq!(
        (&r["call_kind"], &r["outcome"]),
        (&"ice".into(), &ice["outcome"])
    );
    assert_eq!(
        (&r["ice_checks"], &r["ice_mode"]),
        (&ice["checks"], &ice["mode"])
    );
    let turn = &report["turn_allocations"][0];
    let r = by_id(turn["id"].as_str().expect("turn id"));
    assert_eq!(
        (&r["call_kind"], &r["outcome"]),
        (&"turn".into(), &turn["outcome"])
    );
    assert_eq!(
        format!(
            "{}:{}",
            r["turn_relayed_ip"].as_str().unwrap(),
            r["turn_relayed_port"]
        ),
        turn["relayed_address"].as_str().unwrap()
    );
    assert_eq!(r["turn_relayed_packets"], turn["relayed_packets"]);
    // A mutated record must fail: the checks are live.
    let mut bad = by_id(CALL_ONE).clone();
    bad["call_kind"] = Value::from("rtp");
    assert!(validate(&schema, &bad).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
