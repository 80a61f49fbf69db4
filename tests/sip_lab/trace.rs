//! What SIPp says it did: its message trace (`-trace_msg -message_file FILE`), one block per
//! SIP message sent or received, each headed by a line of dashes and the local time (the lab
//! runs SIPp with `TZ=UTC`), e.g.
//!
//! ```text
//! ----------------------------------------------- 2026-12-07 18:09:51.966775
//! UDP message sent (483 bytes):
//!
//! INVITE sip:service@10.78.0.2:5060 SIP/2.0
//! …
//! ```
//!
//! And the capture's view of the same messages, from TShark's SIP and RTP dissectors.

use std::path::Path;
use std::process::Command;

/// One message of the trace.
#[derive(Debug, Clone)]
pub struct Msg {
    /// When SIPp logged it, ns since the epoch (UTC).
    pub at_ns: i64,
    pub sent: bool,
    /// `INVITE`, `ACK`, … for a request; the status code as text for a response.
    pub what: String,
    pub call_id: String,
    /// The SDP's first `m=audio` port, when the message has one.
    pub audio_port: Option<u16>,
}

pub fn read(path: &Path) -> Result<Vec<Msg>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    let mut at = None;
    for line in text.lines().chain(std::iter::once("---------- END")) {
        if let Some(rest) = line.strip_prefix("----------") {
            if let Some(at_ns) = at.take() {
                out.push(parse_block(at_ns, &block, path)?);
            }
            block.clear();
            let stamp = rest.trim_start_matches('-').trim();
            if stamp != "END" {
                at = Some(
                    parse_local_utc(stamp)
                        .ok_or_else(|| format!("{}: timestamp {stamp:?}", path.display()))?,
                );
            }
        } else {
            block.push(line);
        }
    }
    Ok(out)
}

fn parse_block(at_ns: i64, block: &[&str], path: &Path) -> Result<Msg, String> {
    let bad = || format!("{}: message block {block:?}", path.display());
    let head = block
        .iter()
        .find(|l| !l.trim().is_empty())
        .ok_or_else(bad)?;
    let sent = head.contains("message sent");
    let start = block
        .iter()
        .skip_while(|l| !l.contains(" message "))
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .ok_or_else(bad)?;
    let what = match start.strip_prefix("SIP/2.0 ") {
        Some(r) => r.split(' ').next().unwrap_or_default().to_owned(),
        None => start.split(' ').next().unwrap_or_default().to_owned(),
    };
    let header = |name: &str| {
        block.iter().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let call_id = header("Call-ID").ok_or_else(bad)?;
    let audio_port = block.iter().find_map(|l| {
        l.strip_prefix("m=audio ")
            .and_then(|r| r.split(' ').next())
            .and_then(|p| p.parse().ok())
    });
    Ok(Msg {
        at_ns,
        sent,
        what,
        call_id,
        audio_port,
    })
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` (UTC) as ns since the epoch.
fn parse_local_utc(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(' ')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>().ok());
    let (h, mi, sec) = (t.next()??, t.next()??, t.next()??);
    let secs = days_from_civil(y, m, day) * 86_400 + h * 3600 + mi * 60 + sec;
    Some(secs * 1_000_000_000 + frac_ns(frac)?)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A decimal fraction of a second as ns ("966775" → 966775000).
fn frac_ns(frac: &str) -> Option<i64> {
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    digits.parse().ok()
}

/// `S.fffffffff` (TShark's `frame.time_epoch`) as ns.
pub fn epoch_ns(s: &str) -> Option<i64> {
    let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
    Some(sec.parse::<i64>().ok()? * 1_000_000_000 + frac_ns(frac)?)
}

/// TShark's fields of the packets matching `filter`, `|`-separated.
pub fn tshark(path: &Path, filter: &str, fields: &[&str]) -> Result<Vec<Vec<String>>, String> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .args(["-Y", filter, "-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().map_err(|e| format!("tshark: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tshark -Y {filter}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect())
}

/// The parsers above on known values (the binary has no libtest harness: main calls it).
pub fn self_check() {
    assert_eq!(
        parse_local_utc("2026-12-07 18:09:51.966775"),
        Some(1_796_666_991_966_775_000)
    );
    assert_eq!(
        epoch_ns("1796666991.966775000"),
        Some(1_796_666_991_966_775_000)
    );
}
