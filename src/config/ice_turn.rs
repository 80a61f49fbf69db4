//! `[ice_turn]`: the bounds of the ICE session and TURN allocation tables
//! ([`crate::correlate::ice`], [`crate::correlate::turn`]) and the privacy of TURN user names.
//! Used by replay and the daemon alike.

use super::Problem;
use crate::correlate::calls::CallLimits;
use crate::correlate::ice::IceLimits;
use crate::correlate::turn::TurnLimits;
use serde::{Deserialize, Serialize};

/// Limits of the ICE/TURN stage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IceTurnConfig {
    /// Most ICE sessions followed at once; past it the least recently active one is ended
    /// (`evicted`) and counted. Default 10000.
    pub max_ice_sessions: usize,
    /// An ICE session without a check or media for this long (capture time) ends (`idle`).
    /// Consent checks (RFC 7675) come every 5 s or so on a live session. Default 30.
    pub ice_idle_timeout_secs: u64,
    /// Most TURN allocations followed at once; past it the least recently active one is ended
    /// (`evicted`) and counted. Default 10000.
    pub max_turn_allocations: usize,
    /// A TURN allocation without a message or relayed data for this long ends (`idle`).
    /// Default 120.
    pub turn_idle_timeout_secs: u64,
    /// Show TURN USERNAME and REALM as they are instead of a keyed hash (with
    /// `exporter.hash_key`). They may name a user. Default false.
    pub keep_turn_usernames: bool,
}

impl Default for IceTurnConfig {
    fn default() -> Self {
        let (i, t) = (IceLimits::default(), TurnLimits::default());
        IceTurnConfig {
            max_ice_sessions: i.max_sessions,
            ice_idle_timeout_secs: (i.idle_timeout_ns / 1_000_000_000) as u64,
            max_turn_allocations: t.max_allocations,
            turn_idle_timeout_secs: (t.idle_timeout_ns / 1_000_000_000) as u64,
            keep_turn_usernames: t.keep_usernames,
        }
    }
}

impl IceTurnConfig {
    /// The limits in the stage's units, hashing with `hash_key` (call after [`problems`]).
    pub fn limits(&self, hash_key: &str) -> CallLimits {
        let secs = |s: u64| (s as i64).saturating_mul(1_000_000_000);
        CallLimits {
            ice: IceLimits {
                max_sessions: self.max_ice_sessions,
                idle_timeout_ns: secs(self.ice_idle_timeout_secs),
            },
            turn: TurnLimits {
                max_allocations: self.max_turn_allocations,
                idle_timeout_ns: secs(self.turn_idle_timeout_secs),
                keep_usernames: self.keep_turn_usernames,
                hash_key: hash_key.to_string(),
            },
        }
    }
}

/// Every problem of `[ice_turn]`.
pub fn problems(t: &IceTurnConfig) -> Vec<Problem> {
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
    for (key, v) in [
        ("ice_turn.max_ice_sessions", t.max_ice_sessions),
        ("ice_turn.max_turn_allocations", t.max_turn_allocations),
    ] {
        check(
            (1..=1_000_000).contains(&v),
            key,
            v.to_string(),
            "use 1 to 1000000",
        );
    }
    for (key, v) in [
        ("ice_turn.ice_idle_timeout_secs", t.ice_idle_timeout_secs),
        ("ice_turn.turn_idle_timeout_secs", t.turn_idle_timeout_secs),
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
        assert!(problems(&IceTurnConfig::default()).is_empty());
        let bad = IceTurnConfig {
            max_turn_allocations: 0,
            ice_idle_timeout_secs: 0,
            ..IceTurnConfig::default()
        };
        let keys: Vec<String> = problems(&bad).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "ice_turn.max_turn_allocations",
                "ice_turn.ice_idle_timeout_secs"
            ]
        );
        assert_eq!(
            IceTurnConfig::default().limits("k"),
            CallLimits {
                turn: TurnLimits {
                    hash_key: "k".into(),
                    ..TurnLimits::default()
                },
                ..CallLimits::default()
            }
        );
    }
}
