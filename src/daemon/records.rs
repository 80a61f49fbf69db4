//! `--records FILE` of `rtcprobe run` and `rtcprobe replay`: the forwarded records (interval and
//! final, schema v1, docs/records.md) as NDJSON, written by an implicit `file` sink named
//! `records` that runs beside the configured `[[sinks]]` through the same
//! [`crate::forward::Forwarder`]. So the daemon and a replay of the same capture write the same
//! lines, and the file's counters are in `/metrics` like any sink's.
//!
//! The file is appended to and rotated with the `file` sink's defaults (docs/central-store.md).

use crate::config::SinkConfig;
use std::path::{Path, PathBuf};

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

/// The sinks `rtcprobe run` starts: [`sinks_with`], or, when the configuration has no `sinks`
/// key and there is no `--records`, the default: a `file` sink named `records` at
/// `<state_dir>/records.ndjson` (issue 5: "file … the default when nothing else is
/// configured"). The second value says whether that default was taken.
pub fn daemon_sinks(
    configured: &[SinkConfig],
    given: bool,
    path: Option<&Path>,
    state_dir: &Path,
) -> Result<(Vec<SinkConfig>, bool), String> {
    if !given && configured.is_empty() && path.is_none() {
        return Ok((vec![SinkConfig::file_at(&default_file(state_dir))], true));
    }
    sinks_with(configured, path).map(|s| (s, false))
}

/// Where the default file sink writes.
pub fn default_file(state_dir: &Path) -> PathBuf {
    state_dir.join("records.ndjson")
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

    #[test]
    fn without_a_sinks_key_the_daemon_writes_records_to_its_state_directory() {
        let state = Path::new("/var/lib/x");
        let (s, default) = daemon_sinks(&[], false, None, state).expect("default");
        assert!(default);
        assert_eq!(s, [SinkConfig::file_at(&state.join("records.ndjson"))]);
        // `sinks = []`, or --records, or any [[sinks]]: no default.
        assert_eq!(
            daemon_sinks(&[], true, None, state),
            Ok((Vec::new(), false))
        );
        let p = Path::new("/tmp/r.ndjson");
        let (s, default) = daemon_sinks(&[], false, Some(p), state).expect("records");
        assert!(!default);
        assert_eq!(s, [SinkConfig::file_at(p)]);
    }
}
