//! Scenario `baresip`: one call between two baresip 1.0 user agents, directly (no proxy, no
//! registration: `regint=0`), the callee answering at once (`answermode=auto`). Each end sends
//! a 440 Hz tone from a WAV file (`aufile`; Debian's `ausine` source never starts in 1.0) as
//! PCMU and plays what it receives into an `aubridge` device nobody reads (there is no null
//! player module). The caller quits after CALL_S seconds (`-t`), which hangs up with a BYE.
//! baresip's own record: its SIP trace (`-s`, the Call-ID) and the SSRC each end announces in
//! its SDP (`a=ssrc`), which must be the SSRC the probe sees it send.

use super::{
    addresses, close, first, ms, probe_streams, record, replay, start_dump, stop_dump, str_of,
    stream_timing_agrees, wait_bound, wire_rtp, wire_sip, Scratch, CALLEE_IP, CALLER_IP,
    START_TIMEOUT, STOP_TIMEOUT,
};
use crate::netns::{Side, VethPair};
use rtcprobe::engine::record::rfc3339_micros;
use serde_json::Value;
use std::path::Path;

/// The modules it needs, under Debian's module path.
pub const MODULES: [&str; 5] = ["g711", "aufile", "aubridge", "account", "menu"];
const MODULE_PATH: &str = "/usr/lib/baresip/modules";
/// The caller's `-t`: quit (hang up) this many seconds after start.
const CALL_S: u64 = 3;
/// Packets per second at baresip's default 20 ms ptime.
const PPS: f64 = 50.0;

fn config(ip: &str) -> String {
    format!(
        "sip_listen {ip}:5060\naudio_player aubridge,nil\naudio_alert aubridge,nil\n\
         audio_source aufile,tone.wav\nrtp_ports 20000-20099\nmodule_path {MODULE_PATH}\n\
         module g711.so\nmodule aufile.so\nmodule aubridge.so\nmodule_app account.so\n\
         module_app menu.so\n"
    )
}

/// A 16-bit mono 8 kHz WAV of a 440 Hz tone, `secs` long.
fn tone_wav(secs: u32) -> Vec<u8> {
    let n = 8000 * secs;
    let mut w = Vec::with_capacity(44 + 2 * n as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + 2 * n).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(2 * n).to_le_bytes());
    for i in 0..n {
        let v =
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 8000.0).sin()) as i16;
        w.extend_from_slice(&v.to_le_bytes());
    }
    w
}

pub fn call() -> Result<(), String> {
    let mut dir = Scratch::new("baresip");
    let (cap, report, caller_out) = {
        let pair = VethPair::new("sip")?;
        let r = run(&pair, &dir)?;
        // `pair` drops here: every process left in the namespaces is killed, both deleted.
        r
    };
    check(&cap, &report, &caller_out);
    dir.1 = true;
    Ok(())
}

fn run(pair: &VethPair, dir: &Scratch) -> Result<(std::path::PathBuf, Value, String), String> {
    addresses(pair)?;
    for (who, ip) in [("caller", CALLER_IP), ("callee", CALLEE_IP)] {
        let d = dir.path(who);
        std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
        let mut accounts = format!("<sip:{who}@{ip}>;regint=0;audio_codecs=PCMU");
        if who == "callee" {
            accounts.push_str(";answermode=auto");
        }
        dir.write(&format!("{who}/accounts"), &(accounts + "\n"))?;
        dir.write(&format!("{who}/config"), &config(ip))?;
        std::fs::write(d.join("tone.wav"), tone_wav(CALL_S as u32 + 5))
            .map_err(|e| e.to_string())?;
    }
    let (cap, dump) = start_dump(pair, dir)?;
    // The callee quits by itself a while after the call, should the test die before it does.
    let mut cmd = pair.command(Side::B, "baresip");
    cmd.current_dir(dir.path("callee"))
        .arg("-f")
        .arg(dir.path("callee"))
        .args(["-s", "-t", &(CALL_S + 20).to_string()]);
    let mut callee = pair.spawn(cmd, &dir.path("callee"))?;
    wait_bound(pair, 5060, std::slice::from_mut(&mut callee))?;

    let mut cmd = pair.command(Side::A, "baresip");
    cmd.current_dir(dir.path("caller"))
        .arg("-f")
        .arg(dir.path("caller"))
        .args(["-s", "-t", &CALL_S.to_string()])
        .args(["-e", &format!("/dial sip:callee@{CALLEE_IP}")]);
    let out = pair.output(
        cmd,
        &dir.path("caller"),
        START_TIMEOUT + std::time::Duration::from_secs(CALL_S),
    )?;
    let caller_out = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "baresip caller: {}\n{caller_out}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    callee.stop("TERM", STOP_TIMEOUT)?;
    stop_dump(dump)?;
    let report = replay(&cap, dir)?;
    Ok((cap, report, caller_out))
}

fn check(cap: &Path, r: &Value, caller_out: &str) {
    // baresip's own SIP trace: the Call-ID of the INVITE it sent.
    let id = caller_out
        .lines()
        .skip_while(|l| !l.starts_with("INVITE sip:"))
        .find_map(|l| l.strip_prefix("Call-ID:"))
        .map(str::trim)
        .expect("the INVITE's Call-ID in baresip's SIP trace");
    let calls = r["calls"].as_array().expect("calls");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let c = &calls[0];
    assert_eq!(
        c["id"].as_str(),
        Some(id),
        "the probe's Call-ID is baresip's"
    );
    assert_eq!(c["outcome"].as_str(), Some("bye"));
    assert_eq!(c["sip"]["status"].as_u64(), Some(200));
    let wire = wire_sip(cap);
    assert_eq!(
        wire.keys().collect::<Vec<_>>(),
        [id],
        "the capture's Call-IDs"
    );
    let w = &wire[id];
    let (invite, t200, bye) = (
        first(w, "INVITE").at_ns,
        first(w, "200").at_ns,
        first(w, "BYE").at_ns,
    );
    assert_eq!(c["start"].as_str(), Some(rfc3339_micros(invite).as_str()));
    assert_eq!(c["end"].as_str(), Some(rfc3339_micros(bye).as_str()));
    let answer = c["setup_time_ms"]["answer"].as_f64().expect("answer");
    assert!(close(answer, ms(invite, t200), 1e-6), "answer {answer} ms");
    let dur = c["duration_s"].as_f64().expect("duration");
    assert!(close(dur, ms(t200, bye) / 1e3, 1e-9), "duration {dur} s");
    // `-t 3`: quit 3 s after start, answered at once.
    assert!(close(dur, CALL_S as f64, 0.5), "duration {dur} s");
    let codecs = c["codecs"].as_array().expect("codecs");
    assert_eq!(codecs.first().and_then(Value::as_str), Some("PCMU/8000"));

    // The SSRC each end announced (a=ssrc) and where it asked to receive.
    let media = c["sip"]["media"].as_array().expect("sip.media");
    assert_eq!(media.len(), 2, "{media:?}");
    let refs = c["streams"].as_array().expect("streams");
    assert_eq!(refs.len(), 2, "{refs:?}");
    let wire_streams = wire_rtp(cap);
    assert_eq!(wire_streams.len(), 2, "{wire_streams:?}");
    let mut lines = Vec::new();
    for s in refs {
        let rec = record(r, s);
        let (src, dst) = (str_of(&rec["src"]), str_of(&rec["dst"]));
        let ssrc = rec["ssrc"].as_u64().expect("ssrc");
        // The receiver's description names dst; the sender's announces the stream's SSRC.
        let to = media
            .iter()
            .find(|m| m["addr"].as_str() == Some(dst.as_str()))
            .expect("dst is an address of the call's SDP");
        let from = media
            .iter()
            .find(|m| m["addr"].as_str() == Some(src.as_str()))
            .expect("src is an address of the call's SDP (symmetric RTP)");
        assert_ne!(to["side"], from["side"]);
        assert!(
            from["ssrcs"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x.as_u64() == Some(ssrc))),
            "{src} -> {dst}: SSRC {ssrc} not announced by its sender: {from}"
        );
        let (packets, pts) = &wire_streams[&(src.clone(), dst.clone(), ssrc as u32)];
        assert_eq!(rec["packets"].as_u64(), Some(*packets), "{src} -> {dst}");
        assert_eq!(pts.iter().copied().collect::<Vec<_>>(), [0]);
        assert_eq!(rec["payload_types"], serde_json::json!([0]));
        assert_eq!(rec["clock_rate"].as_u64(), Some(8000));
        assert_eq!(rec["clock_rate_source"].as_str(), Some("sdp"));
        assert_eq!(rec["lost"].as_i64(), Some(0), "{src} -> {dst}");
        // 20 ms packets for the length of the call, give or take the start and end.
        let want = dur * PPS;
        assert!(
            (*packets as f64 - want).abs() <= 0.1 * want,
            "{src} -> {dst}: {packets} packets in {dur} s"
        );
        lines.push(format!(
            "{src} -> {dst} ssrc {ssrc:#010x}: {packets} PCMU packets, jitter {} ms",
            rec["jitter_ms"]
        ));
    }
    let theirs: std::collections::BTreeMap<_, u64> =
        wire_streams.iter().map(|(k, v)| (k.clone(), v.0)).collect();
    assert_eq!(probe_streams(r), theirs, "streams against TShark");
    assert_eq!(stream_timing_agrees(r, cap), 2);
    eprintln!(
        "  {id}: bye, answer {answer:.3} ms, {dur:.3} s, MOS-LQ {}",
        c["worst"]["mos_lq"]
    );
    for l in lines {
        eprintln!("    {l}");
    }
}
