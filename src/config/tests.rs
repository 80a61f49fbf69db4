//! Validation, defaults and reload diffs of the configuration.

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

/// A `[payload_types]` entry may be a table naming the codec (issue 14): video codecs whose
/// payload is parsed are resolved; unknown fields in the table are errors.
#[test]
fn payload_type_tables_name_the_codec() {
    let r = parse(
        "[payload_types]\n\"96\" = { clock_rate = 90000, codec = \"vp8\" }\n\"98\" = { clock_rate = 90000, codec = \"H264\" }\n\"111\" = 48000\n",
    )
    .expect("valid");
    use crate::engine::video::Codec;
    assert_eq!(r.clock_rate(96), Some(90000));
    assert_eq!(r.video_codec(96), Some(Codec::Vp8));
    assert_eq!(r.video_codec(98), Some(Codec::H264));
    // A codec neither read (video) nor rated (the E-model's table) is a mistake to report.
    let unknown = parse("[payload_types]\n\"100\" = { clock_rate = 90000, codec = \"H265\" }\n");
    assert!(
        unknown.is_err_and(|p| p.iter().any(|p| p.key == "payload_types.\"100\".codec")),
        "an unknown codec name is refused"
    );
    assert_eq!(r.video_codec(111), None);
    assert!(toml::from_str::<Config>(
        "[payload_types]\n\"96\" = { clock_rate = 90000, codecs = \"VP8\" }\n"
    )
    .is_err());
}

#[test]
fn payload_types_may_name_their_codec() {
    let r = parse(
        "[payload_types]\n\"96\" = 90000\n\"111\" = { clock_rate = 48000, codec = \"opus\" }\n\"98\" = { clock_rate = 16000, codec = \"AMR-WB\" }\n\"99\" = { clock_rate = 8000 }\n",
    )
    .expect("valid");
    assert_eq!(r.clock_rate(111), Some(48000));
    assert_eq!(r.codec(111).map(|c| c.name), Some("opus-wb"));
    assert_eq!(r.codec(98).map(|c| c.name), Some("AMR-WB"));
    assert_eq!((r.clock_rate(99), r.codec(99)), (Some(8000), None));
    assert_eq!((r.clock_rate(96), r.codec(96)), (Some(90000), None));
    // An unknown codec, or a known one at the wrong rate, names the key and the fix.
    let p = parse(
        "[payload_types]\n\"100\" = { clock_rate = 8000, codec = \"telephone-event\" }\n\"101\" = { clock_rate = 8000, codec = \"opus\" }\n",
    )
    .expect_err("invalid");
    let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["payload_types.\"100\".codec", "payload_types.\"101\".codec"]
    );
    assert!(p.iter().all(|p| p.fix.contains("docs/quality.md")));
    // Unknown keys inside the table are errors.
    assert!(toml::from_str::<Config>(
        "[payload_types]\n\"96\" = { clock_rate = 90000, codek = \"x\" }\n"
    )
    .is_err());
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
fn jitter_buffer_depth_is_validated() {
    assert_eq!(parse("").expect("valid").jitter_buffer_ms, 60);
    assert_eq!(
        parse("[engine]\njitter_buffer_ms = 120\n")
            .expect("valid")
            .jitter_buffer_ms,
        120
    );
    for bad in ["0", "1001"] {
        let p = parse(&format!("[engine]\njitter_buffer_ms = {bad}\n")).expect_err("invalid");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].key, "engine.jitter_buffer_ms");
        assert_eq!(p[0].value, bad);
    }
}

#[test]
fn audio_quality_is_on_unless_turned_off() {
    assert!(parse("").expect("valid").audio_quality);
    assert!(
        !parse("[engine]\naudio_quality = false\n")
            .expect("valid")
            .audio_quality
    );
    assert!(toml::from_str::<Config>("[engine]\naudio_quality = 1\n").is_err());
}

fn settings(s: &str) -> Result<Settings, Vec<Problem>> {
    toml::from_str::<Config>(s).expect("parses").settings()
}

#[test]
fn daemon_defaults_are_valid() {
    let s = settings("").expect("valid");
    assert_eq!(s.capture.interfaces, ["any"]);
    assert_eq!(s.capture.filter, "udp or tcp or ip6");
    assert_eq!(s.capture.buffer_size_mib, 64);
    assert_eq!(s.pipeline.workers, 0);
    assert_eq!(s.log.level, "info");
}

#[test]
fn every_daemon_problem_names_its_key() {
    let p = settings(
        "[capture]\ninterfaces = [\"\", \"eth0\"]\nfilter = \"udp and\"\nsnaplen_bytes = 10\n\
         buffer_size_mib = 0\ntimeout_ms = 0\nfanout_threads = 99\n\
         [pipeline]\nworkers = 65\nqueue_batches = 0\nbatch_packets = 5000\nsnapshot_interval_ms = 1\n\
         [log]\nlevel = \"loud!!\"\nhealth_interval_secs = 100000\n[engine]\nmax_streams = 0\n",
    )
    .expect_err("invalid");
    let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "engine.max_streams",
            "capture.interfaces[0]",
            "capture.filter",
            "capture.snaplen_bytes",
            "capture.buffer_size_mib",
            "capture.timeout_ms",
            "capture.fanout_threads",
            "pipeline.workers",
            "pipeline.queue_batches",
            "pipeline.batch_packets",
            "pipeline.snapshot_interval_ms",
            "log.level",
            "log.health_interval_secs",
        ]
    );
    let filter = p
        .iter()
        .find(|p| p.key == "capture.filter")
        .expect("filter");
    assert!(filter.fix.contains("libpcap says"), "{}", filter.fix);
}

#[test]
fn diff_names_changed_keys_and_what_needs_a_restart() {
    let a: Config = toml::from_str("[capture]\nfilter = \"udp\"\n").expect("a");
    let b: Config = toml::from_str(
        "[capture]\nfilter = \"udp port 5004\"\nbuffer_size_mib = 128\n[payload_types]\n\"96\" = 90000\n",
    )
    .expect("b");
    let d = diff(&a, &b);
    let got: Vec<(&str, bool)> = d.iter().map(|c| (c.key.as_str(), c.reloadable)).collect();
    assert_eq!(
        got,
        [
            ("capture.buffer_size_mib", false),
            ("capture.filter", true),
            ("payload_types.\"96\"", true),
        ]
    );
    assert_eq!(d[1].old, "\"udp\"");
    assert_eq!(d[1].new, "\"udp port 5004\"");
    assert!(diff(&a, &a).is_empty());
}

#[test]
fn unknown_keys_are_errors() {
    assert!(toml::from_str::<Config>("[engine]\nmax_stream = 5\n").is_err());
    assert!(toml::from_str::<Config>("colour = 1\n").is_err());
}

#[test]
fn http_auth_and_tls_problems_name_their_keys() {
    let p = settings(
        "[[sinks]]\ntype = \"clickhouse\"\nurl = \"http://ch:8123\"\n[sinks.http]\n\
         bearer_token = \"t\"\nusername = \"u\"\nca_file = \"/etc/ca.pem\"\ncert_file = \"/c.pem\"\n\
         [[sinks]]\ntype = \"prometheus_remote_write\"\nurl = \"https://vm:8428/api/v1/write\"\n\
         [sinks.http]\nca_file = \"/nonexistent/ca.pem\"\n",
    )
    .expect_err("invalid");
    let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "sinks[0].http.bearer_token",
            "sinks[0].http.key_file",
            "sinks[0].http.ca_file",
            "sinks[0].http.cert_file",
            "sinks[1].http.ca_file",
        ]
    );
    assert!(p[2].fix.contains("https://"), "{}", p[2].fix);
    assert_eq!(p[4].value, "\"/nonexistent/ca.pem\"");
    assert!(p[4].fix.contains("cannot read it"), "{}", p[4].fix);
}

#[test]
fn config_path_prefers_the_flag_then_an_existing_default() {
    let given = PathBuf::from("/some/where.toml");
    assert_eq!(path(Some(given.clone())), Some(given));
    let dir = std::env::temp_dir().join(format!("rtcprobe-cfgpath-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rtcprobe.toml");
    assert_eq!(existing(&file), None);
    std::fs::write(&file, "").unwrap();
    assert_eq!(existing(&file), Some(file.clone()));
    std::fs::remove_dir_all(&dir).unwrap();
    // Without the file, `run` uses these: they must validate.
    assert!(Config::default().settings().is_ok());
}
