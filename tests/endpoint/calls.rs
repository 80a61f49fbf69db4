//! `/calls` (docs/calls.md, "On the endpoint") of `replay --realtime --listen` on
//! [`rtcprobe::synth::calls::mixed`]: a SIP call with media both ways ended by BYE, a second
//! INVITE never answered, a TURN allocation relaying RTP and an ICE session. While the file plays, the calls being set up or talking are `ongoing`; once
//! it is over they are all `ended`, with the outcomes of `replay --format json`, and with
//! hashed addresses no raw address or Call-ID is shown.

use super::common::wait_for;
use super::{raw, scratch, serve_capture};
use rtcprobe::synth::calls::{mixed, CALL_ONE, CALL_TWO, RELAYED};
use rtcprobe::synth::pcap::TsResolution;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Addresses and Call-IDs a private `/calls` must not show.
const RAW: &[&str] = &["10.61.", "call-one@", "call-two@", "alice", "bob"];

/// The capture of [`mixed`]: two SIP calls, a TURN allocation and an ICE session in 8 s.
fn capture(path: &Path) {
    let f = std::fs::File::create(path).expect("create capture");
    mixed(1_765_000_000_000_000_000)
        .write_pcap(f, TsResolution::Nano, 65_535)
        .expect("write capture");
}

fn calls(addr: SocketAddr) -> Option<(String, Value)> {
    let resp = raw(addr, b"GET /calls HTTP/1.0\r\n\r\n");
    let body = resp.split_once("\r\n\r\n")?.1.to_string();
    let v = serde_json::from_str(&body).ok()?;
    Some((body, v))
}

fn list(v: &Value, k: &str) -> Vec<Value> {
    v[k].as_array().cloned().unwrap_or_default()
}

#[test]
fn calls_shows_calls_in_progress_then_ended_with_their_outcomes() {
    let dir = scratch("calls");
    let cap = dir.0.join("calls.pcap");
    capture(&cap);
    let (_p, addr) = serve_capture(
        &dir.0,
        &cap,
        "",
        "[sip]\nkeep_identities = true\nlinger_secs = 1\n",
        30,
    );
    // While the file plays: both SIP calls in progress, one talking, one ringing.
    let (body, v) = wait_for("two calls in progress", Duration::from_secs(20), || {
        let (b, v) = calls(addr)?;
        (list(&v, "ongoing").len() == 2).then_some((b, v))
    });
    let ongoing = list(&v, "ongoing");
    let outcome = |id: &str| {
        ongoing
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["outcome"].clone())
    };
    assert_eq!(outcome(CALL_ONE), Some("answered".into()), "{body}");
    assert_eq!(outcome(CALL_TWO), Some("setup".into()), "{body}");
    // Once it is over: every call ended, newest first, as replay reports them.
    let (body, v) = wait_for("the calls ended", Duration::from_secs(30), || {
        let (b, v) = calls(addr)?;
        (list(&v, "ongoing").is_empty() && list(&v, "ended").len() == 4).then_some((b, v))
    });
    let ended = list(&v, "ended");
    let by_kind = |k: &str| ended.iter().filter(|c| c["kind"] == k).count();
    assert_eq!(
        (by_kind("sip"), by_kind("turn"), by_kind("ice")),
        (2, 1, 1),
        "{body}"
    );
    let find = |id: &str| ended.iter().find(|c| c["id"] == id).expect(id);
    assert_eq!(find(CALL_ONE)["outcome"], "bye", "{body}");
    assert_eq!(find(CALL_ONE)["sip"]["status"], 200, "{body}");
    assert_eq!(find(CALL_TWO)["outcome"], "setup", "{body}");
    let turn = ended.iter().find(|c| c["kind"] == "turn").expect("turn");
    assert_eq!(turn["relayed_address"], RELAYED, "{body}");
    assert_eq!(turn["outcome"], "relayed", "{body}");
    let ends: Vec<&str> = ended.iter().filter_map(|c| c["end"].as_str()).collect();
    assert!(
        ends.windows(2).all(|w| w[0] >= w[1]),
        "not newest first: {ends:?}"
    );
}

#[test]
fn calls_shows_no_raw_address_or_call_id_with_hashed_labels() {
    let dir = scratch("calls-private");
    let cap = dir.0.join("calls.pcap");
    capture(&cap);
    let (_p, addr) = serve_capture(
        &dir.0,
        &cap,
        "address_labels = \"hash\"\nhash_key = \"0123456789abcdef-test\"",
        "[sip]\nlinger_secs = 1\n",
        30,
    );
    let (body, _) = wait_for("the calls ended", Duration::from_secs(30), || {
        let (b, v) = calls(addr)?;
        (list(&v, "ended").len() == 4).then_some((b, v))
    });
    for raw in RAW {
        assert!(!body.contains(raw), "{raw} in /calls: {body}");
    }
}
