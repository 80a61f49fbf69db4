//! The TOML configuration.
//!
//! Every table denies unknown keys, so a typo is an error rather than a silently ignored
//! setting. [`Config::resolve`] returns every problem at once, each naming the key, the bad
//! value and the fix. `[engine]` and `[payload_types]` drive the statistics (replay and
//! daemon alike); `[capture]`, `[pipeline]`, `[log]` and `[exporter]` only the daemon (`rtcprobe
//! run`) and `replay --realtime`. config.example.toml documents every key with its default and unit.

pub mod check;
pub mod exporter;
pub mod payload;

pub use exporter::ExporterConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub mod diagnostics;
pub mod ice_turn;
pub mod redact;
pub mod reload;
pub mod sinks;
pub mod sip;
pub mod tcp;
pub use diagnostics::DiagnosticsConfig;
pub use ice_turn::IceTurnConfig;
pub use reload::{diff, Change};
pub use sinks::{Delivery, HttpConfig, RecordsConfig, SinkConfig};
pub use sip::SipConfig;
pub use tcp::TcpConfig;

/// The file `run` and `validate` read without `--config` (the Debian package installs it).
pub const DEFAULT_PATH: &str = "/etc/rtcprobe/rtcprobe.toml";

/// The configuration file to read: `given` (`--config`), else [`DEFAULT_PATH`] when it
/// exists, else `None`, meaning the built-in defaults (every key is optional).
pub fn path(given: Option<PathBuf>) -> Option<PathBuf> {
    given.or_else(|| existing(Path::new(DEFAULT_PATH)))
}

/// `default` unless it certainly does not exist: a file that cannot even be checked (say, a
/// directory without search permission) is returned, so that reading it reports why.
fn existing(default: &Path) -> Option<PathBuf> {
    match default.try_exists() {
        Ok(false) => None,
        Ok(true) | Err(_) => Some(default.to_path_buf()),
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Stream tracking limits and RTP recognition.
    #[serde(default)]
    pub engine: EngineConfig,
    /// Live capture (libpcap).
    #[serde(default)]
    pub capture: CaptureConfig,
    /// Capture thread → shard workers.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// The daemon's log.
    #[serde(default)]
    pub log: LogConfig,
    /// The Prometheus endpoint and metric labels.
    #[serde(default)]
    pub exporter: ExporterConfig,
    /// Clock rates (Hz) of dynamic payload types, keyed by payload type number as a string,
    /// e.g. `"96" = 90000`, `"111" = 48000`, or with the codec for the E-model:
    /// `"111" = { clock_rate = 48000, codec = "opus" }` ([`payload::PayloadType`]). RFC 3551
    /// static types need no entry; an entry for a static type overrides the RFC 3551 rate.
    /// Video codecs VP8, VP9, H264 and AV1 have their payload read for keyframes and
    /// resolution (src/engine/video/payload.rs).
    #[serde(default)]
    pub payload_types: BTreeMap<String, payload::PayloadType>,
    /// Interval and final records of every stream (src/forward).
    #[serde(default)]
    pub records: RecordsConfig,
    /// The TCP reassembler (media over TCP).
    #[serde(default)]
    pub tcp: TcpConfig,
    /// Thresholds of the findings (docs/quality.md, "Findings").
    #[serde(default)]
    pub diagnostics: DiagnosticsConfig,
    /// ICE sessions and TURN allocations (`crate::correlate::ice`, `crate::correlate::turn`).
    #[serde(default)]
    pub ice_turn: IceTurnConfig,
    /// SIP and SDP: calls from their signalling.
    #[serde(default)]
    pub sip: SipConfig,
    /// Where records go (`run --records FILE` adds a file sink). A file without the key gets
    /// the default for `run`, a `file` sink at `<state_dir>/records.ndjson`; `sinks = []`
    /// means none.
    #[serde(default)]
    pub sinks: Vec<SinkConfig>,
    /// Whether the file has a `sinks` key at all (set by [`Config::load_settings`]).
    #[serde(skip)]
    pub sinks_given: bool,
}

/// Limits of the stream table and RTP recognition.
#[derive(Debug, Clone, Deserialize, Serialize)]
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
    /// Pair the streams that enter and leave a middlebox (relay, SFU, TURN server, router) on
    /// this host into hops (loss inside the box, forwarding delay; docs/output.md "Hops").
    /// Off by default: the matcher keeps every packet of every stream until its copy is seen,
    /// which costs about as much per packet as the rest of the analysis (docs/benchmarks.md);
    /// turn it on where the probe watches a middlebox. Default false.
    pub hops: bool,
    /// Depth of the emulated fixed jitter buffer, ms: audio packets delayed more than this past
    /// their talkspurt's earliest are counted late (docs/output.md, "Audio"). 1 to 1000.
    /// Default 60.
    pub jitter_buffer_ms: u32,
    /// Keep the per-packet audio experience state of every audio stream: the emulated jitter
    /// buffers, the loss pattern in sequence order (BurstR, RFC 3611 burst/gap, loss runs) and
    /// the measured ptime, which the MOS estimate takes its effective loss, BurstR and buffer
    /// delay from. Off: those fields are null, and the estimate takes network loss as random,
    /// no late discards, the codec's nominal ptime and a buffer of twice the jitter; it saves
    /// the audio state's share of the per-packet work (docs/benchmarks.md, "What quality
    /// costs"). Default true.
    pub audio_quality: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_streams: 100_000,
            max_candidates: 16_384,
            idle_timeout_secs: 60,
            rtp_port_ranges: Vec::new(),
            hops: false,
            jitter_buffer_ms: crate::engine::audio::DEFAULT_JITTER_BUFFER_MS,
            audio_quality: true,
        }
    }
}

/// The default capture filter: UDP, TCP and all IPv6. libpcap's `udp` matches IPv6 only when
/// UDP is the first next header, so an IPv6 datagram with a hop-by-hop or other extension
/// header (which the decoder skips, RFC 8200 §4) would be lost to the filter; `ip6` keeps it.
/// Measured: with plain `udp`, a capture's IPv6 Opus stream behind a hop-by-hop header was
/// missing from live capture but present in replay. TCP is in because WebRTC falls back to it
/// (TURN over TCP on 3478, ICE-TCP on any port, `crate::tcp`), and a port list would miss
/// ICE-TCP; unrelated TCP costs a lookup per segment and no buffering (classified from its
/// first bytes), and operators on hosts with heavy TCP narrow it (config.example.toml).
pub const DEFAULT_FILTER: &str = "udp or tcp or ip6";

/// Live capture with libpcap.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Interfaces to capture on, or `["any"]` (Linux: every interface, cooked headers).
    /// Default `["any"]`.
    pub interfaces: Vec<String>,
    /// BPF filter (pcap-filter(7)). Default [`DEFAULT_FILTER`]: UDP and TCP (media over TCP:
    /// RFC 4571, ICE-TCP, TURN over TCP), written so that IPv6 behind extension headers, which
    /// libpcap's `udp` and `tcp` primitives do not match, is kept too.
    pub filter: String,
    /// Bytes kept of each packet. RTP needs only its header, but RTCP and STUN are parsed
    /// whole, so the default 65535 keeps every datagram.
    pub snaplen_bytes: u32,
    /// Kernel capture buffer per capture thread, MiB. Default 64: on a veth pair a 2 MiB
    /// buffer dropped from about 450,000 packets/s, 64 MiB had no drop up to 0.95 M packets/s.
    pub buffer_size_mib: u32,
    /// Deliver each packet at once instead of in blocks (lower latency, more wake-ups).
    /// Default false.
    pub immediate_mode: bool,
    /// How long the kernel may hold a partly filled block before delivering it, ms. Also the
    /// longest a packet waits at capture when traffic is light. Default 100.
    pub timeout_ms: u32,
    /// Put the interfaces in promiscuous mode (needs CAP_NET_ADMIN). Default false: a media
    /// server sees its own traffic without it.
    pub promiscuous: bool,
    /// Capture threads per interface. Above 1 they share the interface with Linux
    /// PACKET_FANOUT (flow hash), for hosts where one thread cannot keep up. Default 1.
    pub fanout_threads: u32,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interfaces: vec!["any".into()],
            filter: DEFAULT_FILTER.into(),
            snaplen_bytes: 65_535,
            buffer_size_mib: 64,
            immediate_mode: false,
            timeout_ms: 100,
            promiscuous: false,
            fanout_threads: 1,
        }
    }
}

/// The capture thread → shard workers pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Shard workers; 0 = one per core minus one for capture, at least 1. At most 64.
    /// With one capture where workers do not pay ([`crate::pipeline::pipeline_pays`]: one
    /// core, or more workers than cores), the capture thread analyses the packets itself.
    pub workers: usize,
    /// Capacity of each worker's queue, in batches. A full queue drops (and counts) rather
    /// than stall capture. Default 512 (32,768 packets: about 30 ms at 1 M packets/s).
    pub queue_batches: usize,
    /// Packets per batch. Default 64 (crossbeam-channel: ~50 ns per message alone, ~10 ns
    /// per packet in batches of 64).
    pub batch_packets: usize,
    /// How often workers publish snapshots of their streams for readers, ms. Default 1000.
    pub snapshot_interval_ms: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 0,
            queue_batches: 512,
            batch_packets: 64,
            snapshot_interval_ms: 1000,
        }
    }
}

/// The daemon's log (to stderr: journald when run by systemd).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Level or tracing filter directives (`"info"`, `"rtcprobe=debug,warn"`); `RUST_LOG`
    /// overrides it. Default `"info"`.
    pub level: String,
    /// Seconds between health lines (packets, streams, drops) at info level; 0 = none.
    /// Default 60.
    pub health_interval_secs: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            health_interval_secs: 60,
        }
    }
}

/// Everything the daemon needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub engine: Resolved,
    pub capture: CaptureConfig,
    pub pipeline: PipelineConfig,
    pub log: LogConfig,
    pub exporter: ExporterConfig,
    pub records: RecordsConfig,
    pub sinks: Vec<SinkConfig>,
    /// The file has a `sinks` key (`sinks = []` or `[[sinks]]` tables): no default file sink.
    pub sinks_given: bool,
    /// The file as parsed, to tell what a reload changed.
    pub raw: Config,
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
    /// Configured video codecs whose payload is parsed, indexed by payload type.
    pub video_codecs: [Option<crate::engine::video::Codec>; 128],
    /// Configured codecs of the E-model table, indexed by payload type.
    pub codecs: [Option<&'static crate::engine::emodel::Codec>; 128],
    /// Names of Linux cooked v2 interface indexes in a replay (`replay --point-name N=NAME`),
    /// so that its observation points are named as the live probe named them. Not a config key.
    pub interface_names: Vec<(u32, String)>,
    /// `engine.hops`: run the middlebox hop matcher.
    pub hops: bool,
    /// `engine.jitter_buffer_ms`.
    pub jitter_buffer_ms: u32,
    /// `engine.audio_quality`: give audio streams their audio experience state.
    pub audio_quality: bool,
    /// `[tcp]`: the TCP reassembler's limits.
    pub tcp: crate::tcp::TcpLimits,
    /// `[diagnostics]`: the findings' thresholds.
    pub diagnostics: crate::diagnose::Thresholds,
    /// `[ice_turn]`: the ICE/TURN tables' limits (and `exporter.hash_key` for TURN users).
    pub calls: crate::correlate::calls::CallLimits,
    /// `[sip]`: the SIP stage's limits and privacy.
    pub sip: crate::sip::SipLimits,
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
    /// Read and parse a TOML file (unknown keys are errors) and validate the engine part.
    pub fn load(path: &Path) -> Result<Resolved, ConfigError> {
        Config::load_settings(path).map(|s| s.engine)
    }

    /// Read, parse and validate every section.
    pub fn load_settings(path: &Path) -> Result<Settings, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        // Parsed once more as a plain table: serde's default hides whether the key was there.
        cfg.sinks_given = text
            .parse::<toml::Table>()
            .map_or(true, |t| t.contains_key("sinks"));
        cfg.settings().map_err(|problems| ConfigError::Invalid {
            path: shown,
            problems,
        })
    }

    /// Validate every section; returns every problem found.
    pub fn settings(&self) -> Result<Settings, Vec<Problem>> {
        let engine = self.resolve();
        let mut problems = engine.as_ref().err().cloned().unwrap_or_default();
        problems.extend(daemon_problems(self));
        problems.extend(exporter::problems(&self.exporter));
        problems.extend(sinks::problems(&self.records, &self.sinks));
        match engine {
            Ok(engine) if problems.is_empty() => Ok(Settings {
                engine,
                capture: self.capture.clone(),
                pipeline: self.pipeline.clone(),
                log: self.log.clone(),
                exporter: self.exporter.clone(),
                records: self.records.clone(),
                sinks: self.sinks.clone(),
                sinks_given: self.sinks_given,
                raw: self.clone(),
            }),
            _ => Err(problems),
        }
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
        if e.jitter_buffer_ms == 0 || e.jitter_buffer_ms > 1000 {
            problems.push(Problem {
                key: "engine.jitter_buffer_ms".into(),
                value: e.jitter_buffer_ms.to_string(),
                fix: "use a buffer depth in milliseconds from 1 to 1000".into(),
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
        let mut video_codecs = [None; 128];
        let mut codecs = [None; 128];
        for (k, entry) in &self.payload_types {
            let rate = entry.clock_rate();
            let pt = k.trim().parse::<u8>().ok().filter(|&pt| pt < 128);
            // The codec must be a video codec whose payload is read, or one the E-model knows
            // at this clock rate.
            let video = entry
                .codec()
                .and_then(crate::engine::video::Codec::from_name);
            let codec = entry
                .codec()
                .map(|name| (name, crate::engine::emodel::codec_by_name(name, rate, 1)));
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
                Some(_) if video.is_none() && matches!(codec, Some((_, None))) => problems.push(Problem {
                    key: format!("payload_types.\"{k}\".codec"),
                    value: entry.codec().unwrap_or_default().to_string(),
                    fix: "name a voice codec of the E-model table at this clock rate (docs/quality.md): PCMU, PCMA, G722, G729, G723, GSM, AMR, AMR-WB, iLBC, speex (8000/16000/32000), opus (48000); or a video codec: VP8, VP9, H264, AV1; or leave codec out".into(),
                }),
                Some(pt) => {
                    clock_rates[usize::from(pt)] = rate;
                    video_codecs[usize::from(pt)] = video;
                    codecs[usize::from(pt)] = codec.and_then(|(_, c)| c);
                }
            }
        }
        problems.extend(tcp::problems(&self.tcp));
        problems.extend(diagnostics::problems(&self.diagnostics));
        problems.extend(ice_turn::problems(&self.ice_turn));
        problems.extend(sip::problems(&self.sip));
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Resolved {
            max_streams: e.max_streams,
            max_candidates: e.max_candidates,
            idle_timeout_ns: (e.idle_timeout_secs as i64).saturating_mul(1_000_000_000),
            rtp_port_ranges: ranges,
            clock_rates,
            video_codecs,
            codecs,
            interface_names: Vec::new(),
            hops: e.hops,
            jitter_buffer_ms: e.jitter_buffer_ms,
            audio_quality: e.audio_quality,
            tcp: self.tcp.limits(),
            diagnostics: self.diagnostics.thresholds(),
            calls: self.ice_turn.limits(&self.exporter.hash_key),
            sip: self.sip.limits(&self.exporter.hash_key),
        })
    }
}

/// Problems of the daemon's sections (`[capture]`, `[pipeline]`, `[log]`).
fn daemon_problems(cfg: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, key: &str, value: String, fix: &str| {
        if !ok {
            problems.push(Problem {
                key: key.into(),
                value,
                fix: fix.into(),
            });
        }
    };
    let c = &cfg.capture;
    check(
        !c.interfaces.is_empty(),
        "capture.interfaces",
        "[]".into(),
        "name at least one interface, or [\"any\"]",
    );
    for (i, name) in c.interfaces.iter().enumerate() {
        // IFNAMSIZ is 16 with the terminating NUL (netdevice(7)).
        let ok = !name.is_empty() && name.len() <= 15 && !name.contains(['/', ' ', '\0']);
        check(
            ok,
            &format!("capture.interfaces[{i}]"),
            format!("{name:?}"),
            "use an interface name as `ip link` shows it (1 to 15 characters), or \"any\"",
        );
    }
    if let Err(reason) = check_filter(&c.filter) {
        check(
            false,
            "capture.filter",
            format!("{:?}", c.filter),
            &format!("write a pcap-filter(7) expression (libpcap says: {reason})"),
        );
    }
    check(
        (64..=262_144).contains(&c.snaplen_bytes),
        "capture.snaplen_bytes",
        c.snaplen_bytes.to_string(),
        "use 64 to 262144 bytes (RTCP is parsed whole: keep 65535 unless you know better)",
    );
    check(
        (1..=2048).contains(&c.buffer_size_mib),
        "capture.buffer_size_mib",
        c.buffer_size_mib.to_string(),
        "use 1 to 2048 MiB (64 had no drop up to 0.95 M packets/s on a veth pair)",
    );
    check(
        (1..=10_000).contains(&c.timeout_ms),
        "capture.timeout_ms",
        c.timeout_ms.to_string(),
        "use 1 to 10000 ms",
    );
    check(
        (1..=16).contains(&c.fanout_threads),
        "capture.fanout_threads",
        c.fanout_threads.to_string(),
        "use 1 to 16 capture threads per interface",
    );
    check(
        c.fanout_threads == 1 || cfg!(target_os = "linux"),
        "capture.fanout_threads",
        c.fanout_threads.to_string(),
        "PACKET_FANOUT is Linux-only: use 1",
    );
    let p = &cfg.pipeline;
    check(
        p.workers <= 64,
        "pipeline.workers",
        p.workers.to_string(),
        "use 0 (one per core minus one) or 1 to 64",
    );
    check(
        (1..=1_000_000).contains(&p.queue_batches),
        "pipeline.queue_batches",
        p.queue_batches.to_string(),
        "use 1 to 1000000 batches",
    );
    check(
        (1..=1024).contains(&p.batch_packets),
        "pipeline.batch_packets",
        p.batch_packets.to_string(),
        "use 1 to 1024 packets",
    );
    check(
        (100..=3_600_000).contains(&p.snapshot_interval_ms),
        "pipeline.snapshot_interval_ms",
        p.snapshot_interval_ms.to_string(),
        "use 100 to 3600000 ms",
    );
    let l = &cfg.log;
    check(
        level_ok(&l.level),
        "log.level",
        format!("{:?}", l.level),
        "use error, warn, info, debug or trace, or tracing filter directives such as \"rtcprobe=debug,warn\"",
    );
    check(
        l.health_interval_secs <= 86_400,
        "log.health_interval_secs",
        l.health_interval_secs.to_string(),
        "use 0 (no health line) to 86400 seconds",
    );
    problems
}

/// A log level or comma-separated `target=level` directives (tracing's EnvFilter accepts
/// almost anything as a target name, so the shape is checked here).
fn level_ok(spec: &str) -> bool {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |l: &str| LEVELS.contains(&l.trim().to_ascii_lowercase().as_str());
    let is_target = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    !spec.trim().is_empty()
        && spec.split(',').all(|d| match d.trim().split_once('=') {
            Some((t, l)) => is_target(t.trim()) && is_level(l),
            None => is_level(d) || is_target(d.trim()),
        })
        && tracing_subscriber::EnvFilter::try_new(spec).is_ok()
}

/// Compile a BPF filter without opening an interface (no privileges needed).
fn check_filter(filter: &str) -> Result<(), String> {
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).map_err(|e| e.to_string())?;
    dead.compile(filter, true)
        .map(|_| ())
        .map_err(|e| e.to_string())
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

    /// The configured video codec of `pt` whose payload is parsed, if any.
    #[inline]
    pub fn video_codec(&self, pt: u8) -> Option<crate::engine::video::Codec> {
        self.video_codecs.get(usize::from(pt)).copied().flatten()
    }

    /// The codec configured for `pt` (`[payload_types]`, table form), if any.
    pub fn codec(&self, pt: u8) -> Option<&'static crate::engine::emodel::Codec> {
        self.codecs.get(usize::from(pt)).copied().flatten()
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
mod tests;
