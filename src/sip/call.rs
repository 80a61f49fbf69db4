//! The record of one SIP call: what `replay --format json` prints in `calls` (docs/calls.md).
//!
//! Identities are private: URIs, display names and the Call-ID (which often holds a host
//! name or address) are replaced by keyed hashes (SipHash-1-3 over the key then the value,
//! 16 hex digits, as the exporter hashes addresses) unless `sip.keep_identities` is set.
//! Signalling and media addresses are printed as the streams' are.

use super::dialog::{Dialog, Endpoint};
use crate::diagnose::{Code, Severity};
use crate::engine::record::{rfc3339_micros, StreamRecord};
use serde::Serialize;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

/// How identities are printed (no `Debug`: it holds the key).
#[derive(Clone)]
pub struct Identity {
    keep: bool,
    key: String,
}

impl Identity {
    /// `key` empty: a random key for this process (pseudonyms stable within one run only).
    pub fn new(keep: bool, key: &str) -> Self {
        let key = if key.is_empty() {
            use std::hash::BuildHasher;
            format!(
                "{:016x}",
                std::collections::hash_map::RandomState::new().hash_one(0u8)
            )
        } else {
            key.to_string()
        };
        Identity { keep, key }
    }

    pub fn show(&self, v: &str) -> String {
        if self.keep {
            return v.to_string();
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.key.hash(&mut h);
        v.hash(&mut h);
        format!("{:016x}", h.finish())
    }
}

/// Setup times from the INVITE, ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SetupTime {
    /// To the first 180–189 response.
    pub ringing: Option<f64>,
    /// To the 2xx.
    pub answer: Option<f64>,
}

/// One side of the call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Participant {
    /// `caller` (From, the INVITE's sender) or `callee` (To).
    pub role: &'static str,
    pub uri: String,
    pub name: Option<String>,
    /// Where its signalling was seen (the INVITE's source or destination).
    pub addr: String,
}

/// A stream of the call (an entry of `streams`, by its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamRef {
    pub src: String,
    pub dst: String,
    pub ssrc: u32,
    pub observed_at: String,
}

/// The worst of a call's streams, figure by figure (each from whichever stream is worst at it):
/// the answer to "was this call bad, and how", without reading every stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Worst {
    /// The lowest MOS-LQ (streams with a voice codec: docs/quality.md).
    pub mos_lq: Option<f64>,
    /// The stream with that MOS-LQ.
    pub mos_lq_stream: Option<StreamRef>,
    /// The highest loss ratio, RFC 3550 cumulative lost over expected.
    pub loss_ratio: Option<f64>,
    /// The highest final interarrival jitter, ms.
    pub jitter_ms: Option<f64>,
    /// The most severe finding of any stream; null without findings.
    pub finding: Option<WorstFinding>,
}

/// A finding's code and severity (the stream's own record has its side and sentence).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WorstFinding {
    pub code: Code,
    pub severity: Severity,
}

/// What a stream adds to its call's [`Worst`], taken from its record.
#[derive(Debug, Clone, Copy)]
struct Figures {
    mos_lq: Option<f64>,
    loss_ratio: Option<f64>,
    jitter_ms: Option<f64>,
    finding: Option<WorstFinding>,
}

impl Figures {
    fn of(r: &StreamRecord) -> Self {
        Figures {
            mos_lq: r.quality.as_ref().map(|q| q.mos_lq),
            loss_ratio: (r.expected > 0).then(|| r.lost.max(0) as f64 / r.expected as f64),
            jitter_ms: r.jitter_ms,
            finding: r
                .findings
                .iter()
                .max_by_key(|f| f.severity)
                .map(|f| WorstFinding {
                    code: f.code,
                    severity: f.severity,
                }),
        }
    }
}

fn max_of(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

impl Worst {
    fn add(w: &mut Option<Worst>, f: Figures, r: &StreamRef) {
        let w = w.get_or_insert(Worst {
            mos_lq: None,
            mos_lq_stream: None,
            loss_ratio: None,
            jitter_ms: None,
            finding: None,
        });
        if let Some(m) = f.mos_lq {
            // Ties go to the first stream by key, whatever order the streams ended in (a
            // replay with several workers ends them in another order).
            let key = |r: &StreamRef| (r.src.clone(), r.dst.clone(), r.ssrc, r.observed_at.clone());
            let lower = match (w.mos_lq, &w.mos_lq_stream) {
                (Some(x), Some(cur)) => m < x || (m == x && key(r) < key(cur)),
                _ => true,
            };
            if lower {
                w.mos_lq = Some(m);
                w.mos_lq_stream = Some(r.clone());
            }
        }
        w.loss_ratio = max_of(w.loss_ratio, f.loss_ratio);
        w.jitter_ms = max_of(w.jitter_ms, f.jitter_ms);
        if f.finding.map(|x| x.severity) > w.finding.map(|x| x.severity) {
            w.finding = f.finding;
        }
    }
}

/// The SIP details of a call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SipDetails {
    /// The final status of the INVITE (2xx when answered), if any.
    pub status: Option<u16>,
    pub invites: u32,
    pub reinvites: u32,
    pub updates: u32,
    pub messages: u32,
    /// Where the session descriptions asked media to be sent.
    pub media: Vec<Endpoint>,
    #[serde(skip_serializing_if = "is_zero")]
    pub media_dropped: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One call (`calls` entry of kind `sip`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SipCall {
    pub kind: &'static str,
    pub id: String,
    pub start: String,
    pub end: String,
    pub outcome: &'static str,
    pub setup_time_ms: SetupTime,
    /// From the answer to the end; null when not answered.
    pub duration_s: Option<f64>,
    pub participants: Vec<Participant>,
    /// `name/rate` of every payload type the call's descriptions offered or answered.
    pub codecs: Vec<String>,
    pub streams: Vec<StreamRef>,
    /// The worst figures among `streams`; null without streams.
    pub worst: Option<Worst>,
    pub sip: SipDetails,
    /// Capture times behind `start` and `end` (ns since the epoch), to match streams.
    #[serde(skip)]
    pub start_ns: i64,
    #[serde(skip)]
    pub end_ns: i64,
}

fn ms(from: i64, to: Option<i64>) -> Option<f64> {
    to.map(|t| t.saturating_sub(from) as f64 / 1e6)
}

impl SipCall {
    /// The record of dialog `d`, ended at `now` (`timed_out`: by idle expiry or eviction).
    pub fn of(d: &Dialog, timed_out: bool, now: i64, id: &Identity) -> Self {
        let end = match d.end {
            Some(e) => e,
            None if timed_out => d.last_seen,
            None => now.max(d.last_seen),
        };
        let mut codecs: Vec<String> = Vec::new();
        for c in d.endpoints.iter().flat_map(|e| e.codecs.iter()) {
            let n = format!("{}/{}", c.name, c.clock_rate);
            if !codecs.contains(&n) {
                codecs.push(n);
            }
        }
        SipCall {
            kind: "sip",
            id: id.show(&d.call_id),
            start: rfc3339_micros(d.start),
            end: rfc3339_micros(end),
            outcome: d.outcome(timed_out),
            setup_time_ms: SetupTime {
                ringing: ms(d.start, d.ringing),
                answer: ms(d.start, d.answer),
            },
            duration_s: d.answer.map(|a| end.saturating_sub(a).max(0) as f64 / 1e9),
            participants: vec![
                participant("caller", &d.from, d.from_name.as_deref(), d.caller, id),
                participant("callee", &d.to, d.to_name.as_deref(), d.callee, id),
            ],
            codecs,
            streams: Vec::new(),
            worst: None,
            sip: SipDetails {
                status: d.status,
                invites: d.invites,
                reinvites: d.reinvites,
                updates: d.updates,
                messages: d.messages,
                media: d.endpoints.clone(),
                media_dropped: d.endpoints_dropped,
            },
            start_ns: d.start,
            end_ns: end,
        }
    }

    /// Whether one end of a stream is an address a description of this call named.
    pub fn names(&self, src: SocketAddr, dst: SocketAddr) -> bool {
        self.sip
            .media
            .iter()
            .any(|e| e.addr == dst || e.addr == src)
    }

    /// Whether its descriptions named both ends of a stream.
    fn names_both(&self, src: SocketAddr, dst: SocketAddr) -> bool {
        let named = |a: SocketAddr| self.sip.media.iter().any(|e| e.addr == a);
        named(src) && named(dst)
    }
}

/// Slack for a stream seen just before the description that named its address (capture
/// reordering between two taps).
const SLACK_NS: i64 = 1_000_000_000;

fn participant(
    role: &'static str,
    uri: &str,
    name: Option<&str>,
    addr: SocketAddr,
    id: &Identity,
) -> Participant {
    Participant {
        role,
        uri: id.show(uri),
        name: name.map(|n| id.show(n)),
        addr: addr.to_string(),
    }
}

/// Ties streams to the calls whose descriptions named one of their ends, as both end: keeps
/// every call and a reference to every stream whose clock rate came from SDP (the streams
/// the signalling described), so memory is bounded by the calls, not by all streams.
#[derive(Debug, Default)]
pub struct CallMatcher {
    calls: Vec<SipCall>,
    refs: Vec<(SocketAddr, SocketAddr, i64, i64, StreamRef, Figures)>,
}

impl CallMatcher {
    pub fn call(&mut self, c: SipCall) {
        self.calls.push(c);
    }

    /// An ended stream (any: those without an SDP clock rate are not kept).
    pub fn stream(&mut self, r: &StreamRecord) {
        if r.clock_rate_source != Some("sdp") {
            return;
        }
        let (Ok(src), Ok(dst)) = (r.src.parse(), r.dst.parse()) else {
            return;
        };
        self.refs.push((
            src,
            dst,
            r.first_seen_ns,
            r.last_seen_ns,
            StreamRef {
                src: r.src.clone(),
                dst: r.dst.clone(),
                ssrc: r.ssrc,
                observed_at: r.observed_at.clone(),
            },
            Figures::of(r),
        ));
    }

    /// The calls in order of their start, each with its streams (in order of their key).
    pub fn finish(mut self) -> Vec<SipCall> {
        let mut by_addr: std::collections::HashMap<SocketAddr, Vec<usize>> = Default::default();
        for (i, c) in self.calls.iter().enumerate() {
            for e in &c.sip.media {
                let v = by_addr.entry(e.addr).or_default();
                if v.last() != Some(&i) {
                    v.push(i);
                }
            }
        }
        // A stream belongs to the latest call naming one of its ends that began before it
        // (as tshark ties RTP to the last SDP that set up its address): a port reused by a
        // later call goes to that call; early media after a failure stays with its call. A
        // call naming both ends wins over one naming only one: concurrent calls to one media
        // port (SIPp's UAS answers every call with the same one) are told apart by the
        // caller's port, which only its own call named.
        for (src, dst, first, _, r, figures) in &self.refs {
            let best = [dst, src]
                .iter()
                .filter_map(|a| by_addr.get(a))
                .flatten()
                .copied()
                .filter_map(|i| {
                    let c = self.calls.get(i)?;
                    Some((i, c.start_ns, c.names_both(*src, *dst)))
                })
                .filter(|&(_, start, _)| start <= first.saturating_add(SLACK_NS))
                .max_by_key(|&(i, start, both)| (both, start, i));
            if let Some(c) = best.and_then(|(i, _, _)| self.calls.get_mut(i)) {
                Worst::add(&mut c.worst, *figures, r);
                c.streams.push(r.clone());
            }
        }
        for c in &mut self.calls {
            c.streams.sort_by(|a, b| {
                (&a.src, &a.dst, a.ssrc, &a.observed_at).cmp(&(
                    &b.src,
                    &b.dst,
                    b.ssrc,
                    &b.observed_at,
                ))
            });
        }
        self.calls
            .sort_by(|a, b| (a.start_ns, &a.id).cmp(&(b.start_ns, &b.id)));
        self.calls
    }
}
