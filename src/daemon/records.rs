//! `--records FILE` of `rtcprobe run` and `rtcprobe replay`: the forwarded records (interval and
//! final, schema v1, docs/records.md) as NDJSON, written by an implicit `file` sink named
//! `records` that runs beside the configured `[[sinks]]` through the same
//! [`crate::forward::Forwarder`]. So the daemon and a replay of the same capture write the same
//! lines, and the file's counters are in `/metrics` like any sink's.
//!
//! The file is appended to and rotated with the `file` sink's defaults (docs/central-store.md).

use crate::config::SinkConfig;
use std::path::Path;

/// The name of the implicit sink (`sink` label, log lines).
pub const SINK_NAME: &str = "records";

/// `configured` plus the file sink for `path`, if any. `Err` when a configured sink already
/// has the implicit sink's name: the `sink` label must tell them apart.
pub fn sinks_with(
    configured: &[SinkConfig],
    path: Option<&Path>,
) -> Result<Vec<SinkConfig>, String> {
    let mut sinks = configured.to_vec();
    if let Some(p) = path {
        if sinks.iter().any(|s| s.name() == SINK_NAME) {
            return Err(format!(
                "--records: a [[sinks]] entry is already named {SINK_NAME:?}; rename it"
            ));
        }
        let file = SinkConfig::file_at(p);
        debug_assert_eq!(file.name(), SINK_NAME);
        sinks.push(file);
    }
    Ok(sinks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_records_file_is_one_more_file_sink_and_its_name_is_reserved() {
        let p = Path::new("/tmp/r.ndjson");
        let s = sinks_with(&[], Some(p)).expect("no clash");
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].name().as_str(), s[0].kind()), (SINK_NAME, "file"));
        assert!(sinks_with(&[], None).expect("none").is_empty());
        assert!(sinks_with(&s, Some(p)).is_err());
    }
}
