//! `[tcp]`: the limits of the TCP reassembler (media over TCP: RFC 4571, RFC 6544 ICE-TCP,
//! TURN over TCP; see [`crate::tcp`]). Used by replay and the daemon alike.

use super::Problem;
use crate::tcp::TcpLimits;
use serde::{Deserialize, Serialize};

/// Limits of the TCP reassembler.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpConfig {
    /// Most connection directions followed at once (each direction of a connection counts
    /// once); past it the least recently active one is evicted and counted. 0 turns TCP
    /// reassembly off. Default 10000.
    pub max_connections: usize,
    /// Bytes one direction may hold: out-of-order segments waiting for a hole to fill and
    /// the frame being assembled. Past it the hole is skipped (counted as a gap). Default 262144.
    pub max_buffer_bytes_per_connection: usize,
    /// Bytes all directions together may hold; past it the least recently active directions
    /// are evicted and counted. Default 67108864 (64 MiB).
    pub max_buffer_bytes_total: usize,
    /// A direction without a segment for this long (capture time) is forgotten. Default 60.
    pub idle_timeout_secs: u64,
    /// The longest a hole in a byte stream is waited for (a retransmission normally fills it
    /// within a round trip) before it is skipped and the framing resynchronised. Default 2000.
    pub gap_timeout_ms: u64,
}

impl Default for TcpConfig {
    fn default() -> Self {
        let l = TcpLimits::default();
        TcpConfig {
            max_connections: l.max_connections,
            max_buffer_bytes_per_connection: l.max_buffer_bytes_per_connection,
            max_buffer_bytes_total: l.max_buffer_bytes_total,
            idle_timeout_secs: (l.idle_timeout_ns / 1_000_000_000) as u64,
            gap_timeout_ms: (l.gap_timeout_ns / 1_000_000) as u64,
        }
    }
}

impl TcpConfig {
    /// The limits in the reassembler's units (call after [`problems`] found none).
    pub fn limits(&self) -> TcpLimits {
        TcpLimits {
            max_connections: self.max_connections,
            max_buffer_bytes_per_connection: self.max_buffer_bytes_per_connection,
            max_buffer_bytes_total: self.max_buffer_bytes_total,
            idle_timeout_ns: (self.idle_timeout_secs as i64).saturating_mul(1_000_000_000),
            gap_timeout_ns: (self.gap_timeout_ms as i64).saturating_mul(1_000_000),
        }
    }
}

/// Every problem of `[tcp]`.
pub fn problems(t: &TcpConfig) -> Vec<Problem> {
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
        t.max_connections <= 10_000_000,
        "tcp.max_connections",
        t.max_connections.to_string(),
        "use 0 (TCP off) to 10000000",
    );
    check(
        (4096..=64 << 20).contains(&t.max_buffer_bytes_per_connection),
        "tcp.max_buffer_bytes_per_connection",
        t.max_buffer_bytes_per_connection.to_string(),
        "use 4096 to 67108864 bytes (a frame is at most 65537 bytes)",
    );
    check(
        (t.max_buffer_bytes_per_connection..=1 << 40).contains(&t.max_buffer_bytes_total),
        "tcp.max_buffer_bytes_total",
        t.max_buffer_bytes_total.to_string(),
        "use at least tcp.max_buffer_bytes_per_connection and at most 1 TiB",
    );
    check(
        (1..=86_400).contains(&t.idle_timeout_secs),
        "tcp.idle_timeout_secs",
        t.idle_timeout_secs.to_string(),
        "use a number of seconds from 1 to 86400",
    );
    check(
        (1..=60_000).contains(&t.gap_timeout_ms),
        "tcp.gap_timeout_ms",
        t.gap_timeout_ms.to_string(),
        "use 1 to 60000 ms",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_their_key() {
        assert!(problems(&TcpConfig::default()).is_empty());
        let bad = TcpConfig {
            max_buffer_bytes_per_connection: 100,
            gap_timeout_ms: 0,
            ..TcpConfig::default()
        };
        let keys: Vec<String> = problems(&bad).into_iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            ["tcp.max_buffer_bytes_per_connection", "tcp.gap_timeout_ms"]
        );
    }
}
