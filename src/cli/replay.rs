//! `rtcprobe replay`: the command's arguments and its wiring: settings, sinks, the single
//! thread or the pipeline (`--workers`, `--realtime`, `--listen`, `--linger`), the HTML report,
//! the output and the exit status. The analysis itself is the library's ([`rtcprobe::replay`],
//! [`rtcprobe::pipeline::file`], [`rtcprobe::output`]).

use anyhow::Context;
use rtcprobe::config::{Config, ConfigError, ExporterConfig, Settings};
use rtcprobe::daemon::records;
use rtcprobe::daemon::run::pipeline_options;
use rtcprobe::engine::EndReason;
use rtcprobe::export::labels::{host_addresses, Labeller};
use rtcprobe::export::Exporter;
use rtcprobe::forward::{self, Forwarder};
use rtcprobe::output::{self, Filter, Format, Selection, SortKey};
use rtcprobe::pipeline::feeder::Overflow;
use rtcprobe::pipeline::file::{self as piped, Pace};
use rtcprobe::pipeline::progress;
use rtcprobe::replay::replay_file_into;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Exit code when the capture could not be read to its end (the partial report is printed).
const EXIT_PARTIAL: u8 = 3;

// The arguments of `rtcprobe replay`. No doc comment here: the command's help text is the
// one of `Command::Replay` in main.rs.
#[derive(clap::Args)]
pub struct Args {
    /// The capture file (pcap with microsecond or nanosecond timestamps, or pcapng).
    #[arg(required_unless_present = "legend")]
    file: Option<PathBuf>,
    /// Output format: `table` for people, `json` (documented in docs/output.md), `csv`.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Order the streams worst first by this measure (all formats).
    #[arg(long, value_enum)]
    sort: Option<SortKey>,
    /// Show only the first N streams (after --filter and --sort; all formats).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    top: Option<u64>,
    /// Show only streams from or to this address (10.0.0.1, 2001:db8::1), address:port
    /// (10.0.0.1:5004, [2001:db8::1]:5004), or with this SSRC (0x1234ABCD or decimal).
    /// Repeat to show streams matching any of them (all formats).
    #[arg(long, value_name = "ADDR|SSRC")]
    filter: Vec<Filter>,
    /// Explain every column of the table after it (alone: print only the explanation).
    #[arg(long)]
    legend: bool,
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
    /// Without --realtime, --listen or --linger the pipeline is used only where it beats
    /// one thread: with a core for the reading thread and one for each worker.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: Option<u16>,
    /// With --realtime or --workers: serve the Prometheus endpoint (/metrics, /healthz,
    /// /streams, /hops; the `[exporter]` settings of --config) on this address:port while the
    /// capture is replayed. Port 0 picks a free port; the address is logged on stderr.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// After the last frame, keep the streams live and the endpoint serving this many
    /// seconds before ending them, so that a scraper sees the final values.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    linger: f64,
    /// With --realtime or --linger: progress on stderr, a bar on a terminal, else a line
    /// every this many seconds (and one at the end). 0 turns it off.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    progress_every: f64,
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
    /// Name Linux cooked v2 interface index N as NAME (repeatable): a `tcpdump -i any`
    /// capture carries only the index, so its points are `if<N>` unless named as the live
    /// probe named them (it logs `replay --point-name N=NAME` for each).
    #[arg(long, value_name = "N=NAME", value_parser = parse_point_name)]
    point_name: Vec<(u32, String)>,
}

/// Run `rtcprobe replay`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Args {
        file,
        format,
        sort,
        top,
        filter,
        legend,
        config,
        realtime,
        workers,
        listen,
        linger,
        progress_every,
        records,
        report: report_file,
        interval_secs,
        point_name,
    } = args;
    let Some(file) = file else {
        println!("{}", output::LEGEND);
        return Ok(ExitCode::SUCCESS);
    };
    let selection = Selection {
        sort,
        top: top.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        filters: filter,
    };
    let mut settings = load_settings(config.as_ref())?;
    let default_secs = if report_file.is_some() {
        1
    } else {
        settings.records.interval_secs
    };
    settings.records.interval_secs = interval_secs.unwrap_or(default_secs);
    settings.engine.interface_names = point_name;
    let forwarder = start_forwarder(&settings, records.as_ref(), report_file.is_some())?;
    let collector = match (&forwarder, &report_file) {
        (Some(f), Some(_)) => Some(rtcprobe::report::spawn_collector(f.tap())?),
        _ => None,
    };
    let forward = forwarder.as_ref().map(|f| {
        (
            f.sender(),
            forward::record_options(&settings.records, settings.engine.diagnostics),
        )
    });
    // Streams are rendered as they end and printed in order at the end (bounded
    // memory: docs/output.md, "Order and memory").
    let shown = output::Collector::new(format, selection, legend);
    let (summary, shown) = if let (false, None, true, Some(n)) =
        (realtime, &listen, linger <= 0.0, workers)
    {
        // As fast as possible: the pipeline only where it beats the single thread.
        let mut opts = pipeline_options(&settings, Overflow::Wait, EndReason::EndOfCapture);
        opts.workers = usize::from(n);
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))?;
            signal_hook::flag::register(sig, Arc::clone(&stop))?;
        }
        piped::replay_workers_into(&file, &settings.engine, &opts, &stop, forward, shown)?
    } else if realtime || workers.is_some() {
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
        let linger =
            std::time::Duration::try_from_secs_f64(linger.clamp(0.0, 86_400.0)).unwrap_or_default();
        let show_progress = (realtime || !linger.is_zero()) && progress_every > 0.0;
        let progress_style = if std::io::stderr().is_terminal() {
            progress::Style::Bar
        } else {
            progress::Style::Lines {
                every: std::time::Duration::try_from_secs_f64(progress_every.clamp(0.1, 86_400.0))
                    .unwrap_or(std::time::Duration::from_secs(5)),
            }
        };
        let plan = show_progress.then(|| progress::plan(&file)).flatten();
        let mut progress = None;
        let streams = piped::replay_into(
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
                if show_progress {
                    progress = progress::Progress::start(
                        Arc::clone(&p.board),
                        file.display().to_string(),
                        plan,
                        linger,
                        progress_style,
                    )
                    .ok();
                }
                let (Some(addr), Some(labels)) = (&listen, &labels) else {
                    return;
                };
                let cfg = ExporterConfig {
                    listen: addr.clone(),
                    ..settings.exporter.clone()
                };
                let healthy = Arc::new(AtomicBool::new(true));
                match Exporter::start(&cfg, Arc::clone(&p.board), Arc::clone(labels), healthy) {
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
            shown,
        );
        if let Some(p) = progress {
            p.finish();
        }
        let streams = streams?;
        drop(endpoint);
        if let Some(e) = failed {
            anyhow::bail!(e);
        }
        streams
    } else {
        let hook = forward.map(|(tx, o)| forward::Hook::new(tx, o));
        replay_file_into(&file, &settings.engine, hook, shown)?
    };
    if let Some(f) = forwarder {
        for s in f.finish() {
            if s.failed + s.dropped + s.dead_lettered > 0 || s.buffered_bytes > 0 {
                eprintln!(
                    "rtcprobe: sink {}: {} sent, {} failed, {} retried, {} dropped, {} dead-lettered, {} bytes left buffered",
                    s.name, s.sent, s.failed, s.retried, s.dropped, s.dead_lettered, s.buffered_bytes
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
        rtcprobe::report::write(path, &summary, c, &info)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let stdout = std::io::stdout();
    let shown_on_terminal = format == Format::Table && stdout.is_terminal();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = shown.write(&summary, &mut out).and_then(|()| out.flush());
    match written {
        // A reader that stopped reading (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.context("writing the report")?,
    }
    if let Some(e) = &summary.error {
        // Once: the table on a terminal already shows it.
        if !shown_on_terminal {
            eprintln!("rtcprobe: capture incomplete: {e}");
        }
        return Ok(ExitCode::from(EXIT_PARTIAL));
    }
    Ok(ExitCode::SUCCESS)
}

fn load_settings(path: Option<&PathBuf>) -> Result<Settings, ConfigError> {
    match path {
        Some(p) => Config::load_settings(p),
        None => Ok(Config::default()
            .settings()
            .unwrap_or_else(|_| unreachable!("the defaults validate"))),
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

/// `replay --point-name N=NAME`: an interface index and a non-empty name of at most 64 bytes.
fn parse_point_name(s: &str) -> Result<(u32, String), String> {
    let (i, name) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected N=NAME, e.g. 2=eth0"))?;
    let i = i
        .parse::<u32>()
        .map_err(|e| format!("{i:?}: not an interface index: {e}"))?;
    if name.is_empty() || name.len() > 64 {
        return Err(format!("{name:?}: a name of 1 to 64 bytes"));
    }
    Ok((i, name.to_owned()))
}
