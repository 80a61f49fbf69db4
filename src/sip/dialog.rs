//! One call's signalling state (RFC 3261 §12–§15): what its INVITE transaction, its
//! offer–answer exchanges (INVITE, re-INVITE, UPDATE, RFC 3264/RFC 3311) and its end (BYE,
//! CANCEL, a final failure) said, and the call record made of it.
//!
//! A dialog is followed by Call-ID (as tshark's VoIP calls are): forked early dialogs of one
//! INVITE (several To tags) are one call, whose To tag is the one that answered. The outcome:
//!
//! | outcome     | when |
//! | ----------- | ---- |
//! | `answered`  | a 2xx answered the INVITE and the capture ended before any BYE |
//! | `bye`       | answered, then a BYE ended it |
//! | `failed`    | a final 3xx–6xx answered the INVITE (`status` says which); a 401/407 challenge followed by a new INVITE is not final |
//! | `cancelled` | a CANCEL was sent and the INVITE got its 487 (or nothing) |
//! | `timeout`   | no SIP for the dialog's idle timeout (setup, or established) |
//! | `setup`     | still being set up when the capture ended |

use super::message::{self, Message};
use super::sdp;
use serde::Serialize;
use std::net::SocketAddr;

/// Most media endpoints kept per call (over all its offers and answers).
pub const MAX_ENDPOINTS: usize = 16;
/// Most codecs listed per endpoint.
pub const MAX_CODECS: usize = 16;
/// Longest identity string kept (URIs, tags, Call-ID), bytes; longer ones are cut.
pub const MAX_ID_BYTES: usize = 256;

/// Where a call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Setup,
    Answered,
    Bye,
    Failed,
    Cancelled,
}

/// A codec of a media endpoint: payload type, encoding name, clock rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Codec {
    pub pt: u8,
    pub name: &'static str,
    pub clock_rate: u32,
    #[serde(skip_serializing_if = "is_one")]
    pub channels: u8,
}

fn is_one(c: &u8) -> bool {
    *c == 1
}

/// Where a session description asked a medium to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Address and port of the medium (RTP); a port of 0 (medium refused) is not kept.
    pub addr: SocketAddr,
    /// Its RTCP port when not RTP's + 1 or multiplexed (`a=rtcp`), else none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
    pub media: String,
    pub direction: &'static str,
    /// Which side described it: `caller` (the INVITE's sender) or `callee`.
    pub side: &'static str,
    pub codecs: Vec<Codec>,
    /// SSRCs announced (`a=ssrc … cname`); CNAMEs are not kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssrcs: Vec<u32>,
}

/// The state of one call.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub from_name: Option<String>,
    pub to_name: Option<String>,
    pub from_tag: Option<String>,
    pub to_tag: Option<String>,
    /// The first INVITE's source and destination.
    pub caller: SocketAddr,
    pub callee: SocketAddr,
    pub start: i64,
    pub ringing: Option<i64>,
    pub answer: Option<i64>,
    pub end: Option<i64>,
    pub last_seen: i64,
    pub state: State,
    pub status: Option<u16>,
    cancel_seen: bool,
    /// CSeq of the latest INVITE (a response to an older one does not change the state).
    invite_cseq: u32,
    pub invites: u32,
    pub reinvites: u32,
    pub updates: u32,
    pub messages: u32,
    pub endpoints: Vec<Endpoint>,
    /// Endpoints not kept ([`MAX_ENDPOINTS`]).
    pub endpoints_dropped: u32,
}

/// `s` cut to at most [`MAX_ID_BYTES`] (at a character boundary).
pub fn cut_str(s: &str) -> &str {
    let mut n = s.len().min(MAX_ID_BYTES);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.get(..n).unwrap_or_default()
}

fn cut(s: &str) -> String {
    cut_str(s).to_string()
}

impl Dialog {
    /// A dialog started by an initial INVITE `m` sent from `src` to `dst` at `now`.
    pub fn new(now: i64, src: SocketAddr, dst: SocketAddr, call_id: &str, m: &Message<'_>) -> Self {
        let from = m.from.unwrap_or_default();
        let to = m.to.unwrap_or_default();
        Dialog {
            call_id: cut(call_id),
            from: cut(message::uri(from)),
            to: cut(message::uri(to)),
            from_name: message::display_name(from).map(cut),
            to_name: message::display_name(to).map(cut),
            from_tag: message::tag(from).map(cut),
            to_tag: None,
            caller: src,
            callee: dst,
            start: now,
            ringing: None,
            answer: None,
            end: None,
            last_seen: now,
            state: State::Setup,
            status: None,
            cancel_seen: false,
            invite_cseq: m.cseq.map_or(0, |c| c.0),
            invites: 0,
            reinvites: 0,
            updates: 0,
            messages: 0,
            endpoints: Vec::new(),
            endpoints_dropped: 0,
        }
    }

    /// Whether the dialog is over (only retransmissions and ACKs may still come). A 401/407
    /// challenge is not: the caller usually retries with credentials, maybe after a while.
    pub fn is_over(&self) -> bool {
        match self.state {
            State::Bye | State::Cancelled => true,
            State::Failed => !matches!(self.status, Some(401 | 407)),
            State::Setup | State::Answered => false,
        }
    }

    /// One message of this dialog, seen at `now` (its body is [`Dialog::on_sdp`]'s).
    pub fn on_message(&mut self, now: i64, m: &Message<'_>) {
        self.messages = self.messages.saturating_add(1);
        self.last_seen = now;
        let cseq = m.cseq.map_or(0, |c| c.0);
        match (m.start, m.method()) {
            (Some(message::StartLine::Request { .. }), Some(method)) => match method {
                "INVITE" => {
                    let in_dialog = m.to.and_then(message::tag).is_some();
                    if in_dialog && matches!(self.state, State::Answered | State::Bye) {
                        self.reinvites = self.reinvites.saturating_add(1);
                    } else if cseq > self.invite_cseq || self.invites == 0 {
                        // A new initial INVITE (after a 401/407 challenge): setup again.
                        self.invites = self.invites.saturating_add(1);
                        self.invite_cseq = self.invite_cseq.max(cseq);
                        if self.state == State::Failed {
                            self.state = State::Setup;
                            self.status = None;
                            self.end = None;
                        }
                    }
                }
                "UPDATE" => self.updates = self.updates.saturating_add(1),
                "CANCEL" if self.state == State::Setup => self.cancel_seen = true,
                "BYE" if self.state != State::Bye => {
                    self.state = State::Bye;
                    self.end = Some(now);
                }
                _ => {}
            },
            (Some(message::StartLine::Status { code, .. }), Some("INVITE")) => {
                if cseq < self.invite_cseq || self.state == State::Bye {
                    return;
                }
                match code {
                    180..=189 if self.ringing.is_none() && self.state == State::Setup => {
                        self.ringing = Some(now);
                    }
                    200..=299 if self.state == State::Setup => {
                        self.state = State::Answered;
                        self.answer = Some(now);
                        self.status = Some(code);
                        self.to_tag = m.to.and_then(message::tag).map(cut);
                    }
                    300..=699 if self.state == State::Setup => {
                        self.status = Some(code);
                        self.end = Some(now);
                        self.state = if code == 487 || self.cancel_seen {
                            State::Cancelled
                        } else {
                            State::Failed
                        };
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Add the media of a session description sent from `src` (by the caller or callee).
    pub fn on_sdp(&mut self, src: SocketAddr, s: &sdp::Session<'_>) {
        let side = if src == self.callee || (src != self.caller && src.ip() == self.callee.ip()) {
            "callee"
        } else {
            "caller"
        };
        for m in &s.media {
            let Some(ip) = m.addr else { continue };
            if m.port == 0 {
                continue;
            }
            let addr = SocketAddr::new(ip, m.port);
            let codecs: Vec<Codec> = m
                .formats
                .iter()
                .filter_map(|&pt| m.rtpmap(pt))
                .take(MAX_CODECS)
                .map(|r| Codec {
                    pt: r.pt,
                    name: r.name,
                    clock_rate: r.clock_rate,
                    channels: r.channels,
                })
                .collect();
            let rtcp = m
                .rtcp
                .filter(|_| !m.rtcp_mux)
                .map(|(port, a)| SocketAddr::new(a.unwrap_or(ip), port));
            let e = Endpoint {
                addr,
                rtcp,
                rtcp_mux: m.rtcp_mux,
                media: cut(m.kind),
                direction: m.direction.name(),
                side,
                codecs,
                ssrcs: m.ssrcs.iter().map(|s| s.0).collect(),
            };
            // A re-offer of the same address replaces what it said before (hold, codecs).
            if let Some(old) = self.endpoints.iter_mut().find(|o| o.addr == addr) {
                *old = e;
            } else if self.endpoints.len() < MAX_ENDPOINTS {
                self.endpoints.push(e);
            } else {
                self.endpoints_dropped = self.endpoints_dropped.saturating_add(1);
            }
        }
    }

    /// The outcome's name once the dialog ends (`timed_out`: by idle expiry).
    pub fn outcome(&self, timed_out: bool) -> &'static str {
        match (self.state, timed_out) {
            (State::Bye, _) => "bye",
            (State::Failed, _) => "failed",
            (State::Cancelled, _) => "cancelled",
            (_, true) => "timeout",
            (State::Answered, false) => "answered",
            (State::Setup, false) if self.cancel_seen => "cancelled",
            (State::Setup, false) => "setup",
        }
    }
}

#[cfg(test)]
#[path = "dialog_tests.rs"]
mod tests;
