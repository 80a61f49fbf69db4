//! The `rtcprobe` command line: `run` the daemon, `replay` a capture, `validate` a configuration.

use clap::{Parser, Subcommand};
use rtcprobe::config::Config;
use rtcprobe::daemon::run::{self as daemon, SetLogLevel};
use rtcprobe::forward;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

mod cli {
    //! The wiring of the larger commands, one module each.
    pub mod replay;
}

#[derive(Parser)]
#[command(
    name = "rtcprobe",
    version,
    long_version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (git ",
        env!("RTCPROBE_GIT_REVISION"),
        ")\nbuild: ",
        env!("RTCPROBE_BUILD_INFO")
    ),
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
    Replay(cli::replay::Args),
    /// Run the probe daemon: capture live, analyse, publish (see systemd/rtcprobe.service).
    ///
    /// Stops on SIGTERM/SIGINT (drains, writes final records, exits 0); SIGHUP reloads the
    /// configuration. Signals readiness and the watchdog to systemd when NOTIFY_SOCKET is set.
    Run {
        /// Configuration file (TOML); see config.example.toml. Default:
        /// /etc/rtcprobe/rtcprobe.toml when it exists, else the built-in defaults.
        #[arg(long)]
        config: Option<PathBuf>,
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
    ///
    /// Every problem at once: TOML syntax errors, unknown keys and bad values with their line,
    /// then the checks of each key. Interfaces this host does not have are warnings (exit 0).
    Validate {
        /// Configuration file (TOML). Default: /etc/rtcprobe/rtcprobe.toml when it exists.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also try every sink (reachable, TLS, authenticated, table or path accepted; bounded
        /// timeouts) and say per sink what is wrong; exit 1 if any sink fails.
        #[arg(long)]
        connect: bool,
    },
    /// Send a sink's dead-letter batches (rejected for good by its store, kept in
    /// `<state_dir>/<sink>.dead-letter/`) again, through the sink as the configuration now
    /// says: run it after fixing the configuration. Exit 1 if a batch still fails (it and the
    /// later ones stay).
    Resend {
        #[arg(long)]
        config: PathBuf,
        /// The sink's name (its `name`, or its type when unnamed).
        #[arg(long)]
        sink: String,
    },
}

fn main() -> ExitCode {
    // The packaging hook `rtcprobe generate-assets DIR` (scripts/check-package) stays outside the
    // clap definitions, so that the man pages and completions it writes do not advertise it.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == "generate-assets") {
        return generate_assets(args.next().map(PathBuf::from));
    }
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

/// Writes DIR/man/*.1 and DIR/completions/* from the clap definitions and lists them.
fn generate_assets(dir: Option<PathBuf>) -> ExitCode {
    use clap::CommandFactory;
    let Some(dir) = dir else {
        eprintln!("usage: rtcprobe generate-assets DIR");
        return ExitCode::from(2);
    };
    match rtcprobe::cli_assets::write_all(Cli::command(), &dir) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rtcprobe: writing into {}: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr (journald under systemd), without ANSI colours unless stderr is a
/// terminal; `RUST_LOG` sets the filter, else `warn` until `run` applies `log.level`. Returns
/// what `run` uses to change the filter (at start and on SIGHUP).
fn init_logging() -> SetLogLevel {
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{fmt, reload, EnvFilter};
    let filter =
        quiet_ureq(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")));
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
        let f = quiet_ureq(EnvFilter::try_new(spec).map_err(|e| e.to_string())?);
        handle.reload(f).map_err(|e| e.to_string())
    })
}

/// ureq logs every request's URL, query string included (a ClickHouse `password=`), at debug
/// level: its logs are capped at info, whatever the filter says (src/config/redact.rs).
fn quiet_ureq(f: tracing_subscriber::EnvFilter) -> tracing_subscriber::EnvFilter {
    match "ureq=info".parse() {
        Ok(d) => f.add_directive(d),
        Err(_) => f,
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
                    config: rtcprobe::config::path(config),
                    records,
                    summary,
                },
                set_log,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay(args) => cli::replay::run(args),
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
        Command::Validate { config, connect } => {
            let Some(config) = rtcprobe::config::path(config) else {
                println!(
                    "no --config and no {}: the built-in defaults apply (valid)",
                    rtcprobe::config::DEFAULT_PATH
                );
                return Ok(ExitCode::SUCCESS);
            };
            validate(&config, connect)
        }
        Command::Resend { config, sink } => {
            let s = Config::load_settings(&config)?;
            match forward::deadletter::resend_sink(&s.sinks, &s.records.state_dir(), &sink) {
                Ok(done) => {
                    println!("{done}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("rtcprobe: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// `validate`: every problem in one list (parse errors, then semantic ones), warnings apart.
/// With `connect`, a valid file's sinks are then tried one by one (`forward::check`).
fn validate(config: &std::path::Path, connect: bool) -> anyhow::Result<ExitCode> {
    let shown = config.display();
    let checked = rtcprobe::config::check::check_file(config);
    for w in &checked.warnings {
        eprintln!("{shown}: warning: {w}");
    }
    if checked.problems.is_empty() {
        println!("{shown}: ok");
        if connect {
            let settings = Config::load_settings(config)?;
            if !forward::check::report(&settings.sinks) {
                return Ok(ExitCode::from(1));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let n = checked.problems.len();
    let noun = if n == 1 { "problem" } else { "problems" };
    eprintln!("{shown}: {n} {noun}:");
    for p in &checked.problems {
        eprintln!("  - {p}");
    }
    Ok(ExitCode::from(1))
}
