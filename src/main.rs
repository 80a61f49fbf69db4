//! The `rtcprobe` command line: `run` the daemon, `replay` a capture, `validate` a configuration.

use anyhow::Context;
use clap::{Parser, Subcommand};
use rtcprobe::config::{Config, ConfigError, ExporterConfig, Settings};
use rtcprobe::daemon::records;
use rtcprobe::daemon::run::{self as daemon, pipeline_options, SetLogLevel};
use rtcprobe::engine::EndReason;
use rtcprobe::export::labels::{host_addresses, Labeller};
use rtcprobe::export::Exporter;
use rtcprobe::forward::{self, Forwarder};
use rtcprobe::output::{self, Format};
use rtcprobe::pipeline::feeder::Overflow;
use rtcprobe::pipeline::file::{self as piped, Pace};
use rtcprobe::replay::replay_file_with;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Exit code when the capture could not be read to its end (the partial report is printed).
const EXIT_PARTIAL: u8 = 3;

#[derive(Parser)]
#[command(
    name = "rtcprobe",
    version,
    about = "Passive RTP/RTCP probe: per-stream loss, jitter and RTT"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse a pcap or pcapng file and print one entry per RTP stream.
    ///
    /// Exit status: 0 the whole file was analysed; 1 nothing could be analysed (unreadable
    /// file, unsupported link type, bad configuration); 2 bad command line; 3 the file is
    /// truncated or damaged: everything before the damage is reported, and the summary names
    /// the packet and the reason.
    Replay {
        /// The capture file (pcap with microsecond or nanosecond timestamps, or pcapng).
        file: PathBuf,
        /// Output format: `table` for people, `json` (documented in docs/output.md), `csv`.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Configuration file (TOML); see config.example.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Pace the capture at its recorded speed through the live pipeline (shard workers,
        /// drops on overload), so that dashboards and sinks can be tried without traffic.
        /// SIGTERM/SIGINT stop early and report what was read.
        #[arg(long)]
        realtime: bool,
        /// Replay through the live pipeline with this many shard workers (default: the
        /// single-threaded engine; with --realtime: `pipeline.workers` from the config).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
        workers: Option<u16>,
        /// With --realtime or --workers: serve the Prometheus endpoint (/metrics, /healthz,
        /// /streams; the `[exporter]` settings of --config) on this address:port while the
        /// capture is replayed. Port 0 picks a free port; the address is logged on stderr.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
        /// After the last frame, keep the streams live and the endpoint serving this many
        /// seconds before ending them, so that a scraper sees the final values.
        #[arg(long, value_name = "SECS", default_value_t = 0.0)]
        linger: f64,
        /// Also write the forwarded records (interval and final, docs/records.md) of the
        /// capture to this NDJSON file, timed by the capture. Sinks in `--config` get them too.
        #[arg(long)]
        records: Option<PathBuf>,
        /// Also write an HTML report of the capture to this file: a summary in plain words,
        /// the streams worst first, plots of the worst 50 (docs/report.md).
        /// Self-contained: it loads nothing from anywhere.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Seconds of capture time per interval record (`--records`, sinks, report plots);
        /// default `records.interval_secs` of the config, or 1 with --report.
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        interval_secs: Option<u64>,
    },
    /// Run the probe daemon: capture live, analyse, publish (see systemd/rtcprobe.service).
    ///
    /// Stops on SIGTERM/SIGINT (drains, writes final records, exits 0); SIGHUP reloads the
    /// configuration. Signals readiness and the watchdog to systemd when NOTIFY_SOCKET is set.
    Run {
        /// Configuration file (TOML); see config.example.toml.
        #[arg(long)]
        config: PathBuf,
        /// Also append the forwarded records (interval and final, docs/records.md) to this
        /// NDJSON file, as `replay --records` does; streams live at exit get a final record
        /// with `"ended_by": "shutdown"`. The `[[sinks]]` of the config get them too.
        #[arg(long)]
        records: Option<PathBuf>,
        /// Write totals (frames, drops, counters) as JSON to this file at exit.
        #[arg(long)]
        summary: Option<PathBuf>,
    },
    /// A live view of a running daemon: its streams worst first, with current rates, and the
    /// probe's own health, from its `/streams` and `/metrics` endpoint.
    ///
    /// Keys: l, j, r, m, p sort by loss, jitter, RTT, MOS, packets/s (worst first); arrows,
    /// PgUp/PgDn scroll; q quits. Basic authentication takes the password from the file of
    /// --password-file, else from the environment variable RTCPROBE_PASSWORD.
    Top {
        /// The daemon's endpoint (`exporter.listen`), http:// or https://.
        #[arg(long, default_value = "http://127.0.0.1:10533")]
        url: String,
        /// Seconds between polls.
        #[arg(long, value_name = "SECS", default_value_t = 1.0)]
        interval: f64,
        /// The first sort order: loss, jitter, rtt, mos or packets.
        #[arg(long, default_value = "loss", value_parser = ["loss", "jitter", "rtt", "mos", "packets"])]
        sort: String,
        /// PEM CA certificates that sign the endpoint's certificate (replace the built-in roots).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<String>,
        /// PEM client certificate (mutual TLS), with --key-file.
        #[arg(long, value_name = "FILE", requires = "key_file")]
        cert_file: Option<String>,
        /// PEM private key of --cert-file.
        #[arg(long, value_name = "FILE", requires = "cert_file")]
        key_file: Option<String>,
        /// User for basic authentication (the password: --password-file or RTCPROBE_PASSWORD).
        #[arg(long)]
        user: Option<String>,
        /// File whose first line is the basic-authentication password.
        #[arg(long, value_name = "FILE", requires = "user")]
        password_file: Option<String>,
    },
    /// Check a configuration file: exit 0, or print every problem and exit 1.
    Validate {
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let set_log = init_logging();
    match run(cli, &set_log) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rtcprobe: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr (journald under systemd), without ANSI colours unless stderr is a
/// terminal; `RUST_LOG` sets the filter, else `warn` until `run` applies `log.level`. Returns
/// what `run` uses to change the filter (at start and on SIGHUP).
fn init_logging() -> SetLogLevel {
    use std::io::IsTerminal;
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{fmt, reload, EnvFilter};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let (filter, handle) = reload::Layer::new(filter);
    // Under systemd, journald stamps every line: no second timestamp.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let ansi = std::io::stderr().is_terminal();
    let layer = fmt::layer().with_writer(std::io::stderr).with_ansi(ansi);
    if journald {
        tracing_subscriber::registry()
            .with(filter)
            .with(layer.without_time())
            .init();
    } else {
        tracing_subscriber::registry()
            .with(filter)
            .with(layer)
            .init();
    }
    Box::new(move |spec: &str| {
        let f = EnvFilter::try_new(spec).map_err(|e| e.to_string())?;
        handle.reload(f).map_err(|e| e.to_string())
    })
}

fn load_settings(path: Option<&PathBuf>) -> Result<Settings, ConfigError> {
    match path {
        Some(p) => Config::load_settings(p),
        None => Ok(Config::default()
            .settings()
            .unwrap_or_else(|_| unreachable!("the defaults validate"))),
    }
}

fn run(cli: Cli, set_log: &SetLogLevel) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            config,
            records,
            summary,
        } => {
            daemon::run(
                &daemon::Args {
                    config,
                    records,
                    summary,
                },
                set_log,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay {
            file,
            format,
            config,
            realtime,
            workers,
            listen,
            linger,
            records,
            report: report_file,
            interval_secs,
        } => {
            let mut settings = load_settings(config.as_ref())?;
            let default_secs = if report_file.is_some() {
                1
            } else {
                settings.records.interval_secs
            };
            settings.records.interval_secs = interval_secs.unwrap_or(default_secs);
            let forwarder = start_forwarder(&settings, records.as_ref(), report_file.is_some())?;
            let collector = match (&forwarder, &report_file) {
                (Some(f), Some(_)) => Some(rtcprobe::report::spawn_collector(f.tap())?),
                _ => None,
            };
            let forward = forwarder
                .as_ref()
                .map(|f| (f.sender(), forward::record_options(&settings.records)));
            let report = if realtime || workers.is_some() {
                let pace = if realtime { Pace::Realtime } else { Pace::Fast };
                let mut opts = pipeline_options(&settings, Overflow::Wait, EndReason::EndOfCapture);
                if let Some(n) = workers {
                    opts.workers = usize::from(n);
                }
                let stop = Arc::new(AtomicBool::new(false));
                for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                    signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))?;
                    signal_hook::flag::register(sig, Arc::clone(&stop))?;
                }
                let mut endpoint = None;
                let mut failed = None;
                if listen.is_some() {
                    opts.labels = Some(Arc::new(Labeller::new(
                        &settings.exporter,
                        host_addresses(),
                    )));
                }
                let labels = opts.labels.clone();
                let linger = std::time::Duration::try_from_secs_f64(linger.clamp(0.0, 86_400.0))
                    .unwrap_or_default();
                let report = piped::replay(
                    &file,
                    &settings.engine,
                    &opts,
                    pace,
                    &stop,
                    linger,
                    forward,
                    &mut |p| {
                        if let Some(f) = &forwarder {
                            p.board.sinks.store(Arc::new(f.views()));
                        }
                        let (Some(addr), Some(labels)) = (&listen, &labels) else {
                            return;
                        };
                        let cfg = ExporterConfig {
                            listen: addr.clone(),
                            ..settings.exporter.clone()
                        };
                        let healthy = Arc::new(AtomicBool::new(true));
                        match Exporter::start(
                            &cfg,
                            Arc::clone(&p.board),
                            Arc::clone(labels),
                            healthy,
                        ) {
                            Ok(e) => {
                                eprintln!(
                                    "rtcprobe: serving metrics on http://{}/metrics",
                                    e.local_addr()
                                );
                                endpoint = Some(e);
                            }
                            Err(e) => failed = Some(format!("cannot listen on {addr}: {e}")),
                        }
                    },
                )?;
                drop(endpoint);
                if let Some(e) = failed {
                    anyhow::bail!(e);
                }
                report
            } else {
                let hook = forward.map(|(tx, o)| forward::Hook::new(tx, o));
                replay_file_with(&file, &settings.engine, hook)?
            };
            if let Some(f) = forwarder {
                for s in f.finish() {
                    if s.failed + s.dropped > 0 || s.buffered_bytes > 0 {
                        eprintln!(
                            "rtcprobe: sink {}: {} sent, {} failed, {} retried, {} dropped, {} bytes left buffered",
                            s.name, s.sent, s.failed, s.retried, s.dropped, s.buffered_bytes
                        );
                    }
                }
            }
            if let (Some(path), Some(c)) = (&report_file, collector) {
                let c = c
                    .join()
                    .map_err(|_| anyhow::anyhow!("the report builder failed"))?;
                let info = rtcprobe::report::html::PageInfo {
                    interval_secs: settings.records.interval_secs,
                    version: env!("CARGO_PKG_VERSION"),
                };
                rtcprobe::report::write(path, &report.summary, c, &info)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            output::write(&report, format, &mut out).context("writing the report")?;
            out.flush().context("writing the report")?;
            if let Some(e) = &report.summary.error {
                tracing::warn!("capture incomplete: {e}");
                eprintln!("rtcprobe: capture incomplete: {e}");
                return Ok(ExitCode::from(EXIT_PARTIAL));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Top {
            url,
            interval,
            sort,
            ca_file,
            cert_file,
            key_file,
            user,
            password_file,
        } => {
            use rtcprobe::top::{self, client, model::SortKey};
            let password = match &user {
                Some(_) => client::password(password_file.as_deref(), "RTCPROBE_PASSWORD")?,
                None => None,
            };
            let opts = top::Options {
                endpoint: client::Endpoint {
                    url,
                    ca_file,
                    cert_file,
                    key_file,
                    user,
                    password,
                    timeout: std::time::Duration::from_secs(10),
                },
                interval: std::time::Duration::try_from_secs_f64(interval.clamp(0.1, 3600.0))
                    .unwrap_or(std::time::Duration::from_secs(1)),
                sort: sort
                    .chars()
                    .next()
                    .and_then(SortKey::from_key)
                    .unwrap_or(SortKey::Loss),
            };
            top::run(&opts)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { config } => match Config::load_settings(&config) {
            Ok(_) => {
                println!("{}: ok", config.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::from(1))
            }
        },
    }
}

/// The configured sinks plus a file sink for `--records FILE`; `None` when there are none
/// and no report wants the records. Replay waits for the sinks' queues rather than drop, and
/// gives them 30 s to deliver.
fn start_forwarder(
    s: &Settings,
    records: Option<&PathBuf>,
    report: bool,
) -> anyhow::Result<Option<Forwarder>> {
    let sinks =
        records::sinks_with(&s.sinks, records.map(PathBuf::as_path)).map_err(anyhow::Error::msg)?;
    if sinks.is_empty() && !report {
        return Ok(None);
    }
    let dir = s.records.state_dir();
    let f = Forwarder::start(&sinks, &dir, true, std::time::Duration::from_secs(30))
        .with_context(|| format!("starting the sinks (buffers in {})", dir.display()))?;
    Ok(Some(f))
}
