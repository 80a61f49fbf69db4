//! What a SIGHUP changed: two configurations compared key by key, and which keys a running
//! daemon applies without a restart.

use super::Config;
use std::collections::BTreeMap;

/// One key whose value differs between two configurations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Dotted key, e.g. `capture.filter`, `payload_types."96"`.
    pub key: String,
    pub old: String,
    pub new: String,
    /// Whether a running daemon applies it on SIGHUP (else it needs a restart).
    pub reloadable: bool,
}

/// Keys a running daemon applies on SIGHUP without losing stream state; everything else
/// (interfaces, buffers, worker count, table sizes) needs a restart.
const RELOADABLE: [&str; 7] = [
    "sinks",
    "engine.idle_timeout_secs",
    "engine.rtp_port_ranges",
    "payload_types",
    "capture.filter",
    "log.level",
    "log.health_interval_secs",
];

/// What changed from `old` to `new`, key by key (SIGHUP reports it).
pub fn diff(old: &Config, new: &Config) -> Vec<Change> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    if let (Ok(va), Ok(vb)) = (toml::Value::try_from(old), toml::Value::try_from(new)) {
        flatten("", &va, &mut a);
        flatten("", &vb, &mut b);
    }
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| Change {
            key: k.clone(),
            old: a.get(k).cloned().unwrap_or_else(|| "(unset)".into()),
            new: b.get(k).cloned().unwrap_or_else(|| "(unset)".into()),
            reloadable: RELOADABLE
                .iter()
                .any(|r| k == r || k.starts_with(&format!("{r}."))),
        })
        .collect()
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else if prefix == "payload_types" {
                    format!("{prefix}.\"{k}\"")
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}
