//! The TOML configuration.
//!
//! Every table denies unknown keys, so a typo is an error rather than a silently ignored
//! setting. [`Config::resolve`] returns every problem at once, each naming the key, the bad
//! value and the fix. Only the replay/engine part exists so far; the daemon's keys come with
//! the live capture work.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Stream tracking limits and RTP recognition.
    #[serde(default)]
    pub engine: EngineConfig,
    /// Clock rates (Hz) of dynamic payload types, keyed by payload type number as a string,
    /// e.g. `"96" = 90000`, `"111" = 48000`. RFC 3551 static types need no entry; an entry
    /// for a static type overrides the RFC 3551 rate.
    #[serde(default)]
    pub payload_types: BTreeMap<String, u32>,
}

/// Limits of the stream table and RTP recognition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Maximum number of tracked streams; past it the least recently active stream is evicted
    /// (`ended_by = "evicted"`) and counted. Default 100000.
    pub max_streams: usize,
    /// Maximum number of not-yet-validated RTP candidates (RFC 3550 A.1 probation). Default 16384.
    pub max_candidates: usize,
    /// A stream with no packet for this long (capture time) ends with `ended_by = "idle"`.
    /// Default 60.
    pub idle_timeout_secs: u64,
    /// If not empty, only UDP datagrams with a source or destination port in one of these
    /// inclusive ranges (`"10000-20000"` or `"5004"`) are considered for RTP/RTCP.
    /// STUN and TURN are still recognised on any port. Default: empty (all ports).
    pub rtp_port_ranges: Vec<String>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_streams: 100_000,
            max_candidates: 16_384,
            idle_timeout_secs: 60,
            rtp_port_ranges: Vec::new(),
        }
    }
}

/// One problem found in a configuration: the key, the bad value and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub value: String,
    pub fix: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {}: {}", self.key, self.value, self.fix)
    }
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {} problem(s):\n{}", .problems.len(), list(.problems))]
    Invalid {
        path: String,
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A configuration that passed validation, with its values in the types the engine uses.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub max_streams: usize,
    pub max_candidates: usize,
    pub idle_timeout_ns: i64,
    pub rtp_port_ranges: Vec<(u16, u16)>,
    /// Configured clock rates, indexed by payload type (0 = not configured).
    pub clock_rates: [u32; 128],
}

impl Default for Resolved {
    fn default() -> Self {
        // The defaults always validate.
        Config::default()
            .resolve()
            .unwrap_or_else(|_| unreachable!())
    }
}

impl Config {
    /// Read and parse a TOML file (unknown keys are errors) and validate it.
    pub fn load(path: &Path) -> Result<Resolved, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let cfg: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        cfg.resolve().map_err(|problems| ConfigError::Invalid {
            path: shown,
            problems,
        })
    }

    /// Validate and convert; returns every problem found.
    pub fn resolve(&self) -> Result<Resolved, Vec<Problem>> {
        let mut problems = Vec::new();
        let e = &self.engine;
        if e.max_streams == 0 || e.max_streams > 10_000_000 {
            problems.push(Problem {
                key: "engine.max_streams".into(),
                value: e.max_streams.to_string(),
                fix: "use a value from 1 to 10000000".into(),
            });
        }
        if e.max_candidates == 0 || e.max_candidates > 10_000_000 {
            problems.push(Problem {
                key: "engine.max_candidates".into(),
                value: e.max_candidates.to_string(),
                fix: "use a value from 1 to 10000000".into(),
            });
        }
        if e.idle_timeout_secs == 0 || e.idle_timeout_secs > 86_400 {
            problems.push(Problem {
                key: "engine.idle_timeout_secs".into(),
                value: e.idle_timeout_secs.to_string(),
                fix: "use a number of seconds from 1 to 86400".into(),
            });
        }
        let mut ranges = Vec::new();
        for (i, r) in e.rtp_port_ranges.iter().enumerate() {
            match parse_range(r) {
                Some(range) => ranges.push(range),
                None => problems.push(Problem {
                    key: format!("engine.rtp_port_ranges[{i}]"),
                    value: format!("{r:?}"),
                    fix: "write a port (\"5004\") or an inclusive range (\"10000-20000\") with 1 <= low <= high <= 65535".into(),
                }),
            }
        }
        let mut clock_rates = [0u32; 128];
        for (k, &rate) in &self.payload_types {
            let pt = k.trim().parse::<u8>().ok().filter(|&pt| pt < 128);
            match pt {
                None => problems.push(Problem {
                    key: format!("payload_types.{k:?}"),
                    value: rate.to_string(),
                    fix: "the key must be an RTP payload type number from 0 to 127".into(),
                }),
                Some(_) if !(1_000..=10_000_000).contains(&rate) => problems.push(Problem {
                    key: format!("payload_types.\"{k}\""),
                    value: rate.to_string(),
                    fix: "give the clock rate in Hz, from 1000 to 10000000 (e.g. 48000 for Opus, 90000 for video)".into(),
                }),
                Some(pt) => clock_rates[usize::from(pt)] = rate,
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Resolved {
            max_streams: e.max_streams,
            max_candidates: e.max_candidates,
            idle_timeout_ns: (e.idle_timeout_secs as i64).saturating_mul(1_000_000_000),
            rtp_port_ranges: ranges,
            clock_rates,
        })
    }
}

fn parse_range(s: &str) -> Option<(u16, u16)> {
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?),
        None => {
            let p = s.trim().parse::<u16>().ok()?;
            (p, p)
        }
    };
    (lo >= 1 && lo <= hi).then_some((lo, hi))
}

impl Resolved {
    /// The configured clock rate for `pt`, if any.
    pub fn clock_rate(&self, pt: u8) -> Option<u32> {
        self.clock_rates
            .get(usize::from(pt))
            .copied()
            .filter(|&r| r != 0)
    }

    /// Whether a datagram between these ports may carry RTP/RTCP under `rtp_port_ranges`.
    pub fn port_allowed(&self, src: u16, dst: u16) -> bool {
        self.rtp_port_ranges.is_empty()
            || self
                .rtp_port_ranges
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&src) || (lo..=hi).contains(&dst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Resolved, Vec<Problem>> {
        toml::from_str::<Config>(s).expect("parses").resolve()
    }

    #[test]
    fn defaults_are_valid() {
        let r = parse("").expect("valid");
        assert_eq!(r.max_streams, 100_000);
        assert_eq!(r.idle_timeout_ns, 60_000_000_000);
        assert!(r.port_allowed(1, 2));
    }

    #[test]
    fn payload_types_and_ranges() {
        let r = parse(
            "[engine]\nrtp_port_ranges = [\"10000-20000\", \"5004\"]\n[payload_types]\n\"96\" = 90000\n\"111\" = 48000\n",
        )
        .expect("valid");
        assert_eq!(r.clock_rate(96), Some(90000));
        assert_eq!(r.clock_rate(111), Some(48000));
        assert_eq!(r.clock_rate(97), None);
        assert!(r.port_allowed(5004, 1));
        assert!(r.port_allowed(1, 15000));
        assert!(!r.port_allowed(1, 9999));
    }

    #[test]
    fn every_problem_names_its_key() {
        let p = parse(
            "[engine]\nmax_streams = 0\nidle_timeout_secs = 0\nrtp_port_ranges = [\"9-3\"]\n[payload_types]\n\"300\" = 8000\n\"96\" = 5\n",
        )
        .expect_err("invalid");
        let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "engine.max_streams",
                "engine.idle_timeout_secs",
                "engine.rtp_port_ranges[0]",
                "payload_types.\"300\"",
                "payload_types.\"96\"",
            ]
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<Config>("[engine]\nmax_stream = 5\n").is_err());
        assert!(toml::from_str::<Config>("colour = 1\n").is_err());
    }
}
