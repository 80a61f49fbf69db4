//! `[sip]`: the SIP stage (calls from their signalling; see [`crate::sip`]). Used by replay
//! and the daemon alike.

use super::Problem;
use crate::sip::SipLimits;
use serde::{Deserialize, Serialize};

/// Limits and privacy of the SIP stage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// Most dialogs followed at once; past it the least recently active one is evicted
    /// (reported with outcome `timeout`) and counted. 0 turns SIP off. Default 10000.
    pub max_dialogs: usize,
    /// UDP ports whose datagrams are SIP; datagrams on other ports are SIP when they start
    /// with a SIP start line. TCP needs no port (the reassembler recognises SIP). Default `[5060]`.
    pub ports: Vec<u16>,
    /// A dialog still being set up without a SIP message for this long (capture time) ends
    /// as `timeout`. Default 180 (RFC 3261 Timer C).
    pub setup_timeout_secs: u64,
    /// An answered dialog without a SIP message for this long ends as `timeout` (calls
    /// without session timers send nothing between the ACK and the BYE). Default 3600.
    pub established_timeout_secs: u64,
    /// An ended dialog (BYE, failure, cancel) is kept this long for retransmissions before it
    /// is reported. Default 32 (RFC 3261 Timer B/F, 64 × T1).
    pub linger_secs: u64,
    /// Print Call-IDs, URIs and display names as they are. Default false: keyed hashes with
    /// `exporter.hash_key` (a random key per run when that is empty).
    pub keep_identities: bool,
}

impl Default for SipConfig {
    fn default() -> Self {
        let l = SipLimits::default();
        SipConfig {
            max_dialogs: l.max_dialogs,
            ports: l.ports,
            setup_timeout_secs: (l.setup_timeout_ns / 1_000_000_000) as u64,
            established_timeout_secs: (l.established_timeout_ns / 1_000_000_000) as u64,
            linger_secs: (l.linger_ns / 1_000_000_000) as u64,
            keep_identities: l.keep_identities,
        }
    }
}

impl SipConfig {
    /// The stage's limits (call after [`problems`] found none); `hash_key` is
    /// `exporter.hash_key`.
    pub fn limits(&self, hash_key: &str) -> SipLimits {
        let ns = |s: u64| (s as i64).saturating_mul(1_000_000_000);
        SipLimits {
            max_dialogs: self.max_dialogs,
            setup_timeout_ns: ns(self.setup_timeout_secs),
            established_timeout_ns: ns(self.established_timeout_secs),
            linger_ns: ns(self.linger_secs),
            ports: self.ports.clone(),
            keep_identities: self.keep_identities,
            hash_key: hash_key.to_string(),
        }
    }
}

/// Every problem of `[sip]`.
pub fn problems(s: &SipConfig) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut check = |ok: bool, key: &str, value: String, fix: &str| {
        if !ok {
            out.push(Problem {
                key: key.into(),
                value,
                fix: fix.into(),
            });
        }
    };
    check(
        s.max_dialogs <= 10_000_000,
        "sip.max_dialogs",
        s.max_dialogs.to_string(),
        "use 0 (SIP off) to 10000000",
    );
    check(
        s.ports.len() <= 64 && !s.ports.contains(&0),
        "sip.ports",
        format!("{:?}", s.ports),
        "list at most 64 ports from 1 to 65535",
    );
    for (key, v) in [
        ("sip.setup_timeout_secs", s.setup_timeout_secs),
        ("sip.established_timeout_secs", s.established_timeout_secs),
        ("sip.linger_secs", s.linger_secs),
    ] {
        check(
            (1..=86_400).contains(&v),
            key,
            v.to_string(),
            "use a number of seconds from 1 to 86400",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_key() {
        assert!(problems(&SipConfig::default()).is_empty());
        let bad = SipConfig {
            ports: vec![5060, 0],
            linger_secs: 0,
            ..SipConfig::default()
        };
        let keys: Vec<String> = problems(&bad).into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["sip.ports", "sip.linger_secs"]);
    }
}
