//! The `rtcprobe` command line: `replay` a capture, `validate` a configuration.

use anyhow::Context;
use clap::{Parser, Subcommand};
use rtcprobe::config::{Config, ConfigError, Resolved};
use rtcprobe::output::{self, Format};
use rtcprobe::replay::replay_file;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

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
    },
    /// Check a configuration file: exit 0, or print every problem and exit 1.
    Validate {
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rtcprobe: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn load_config(path: Option<&PathBuf>) -> Result<Resolved, ConfigError> {
    match path {
        Some(p) => Config::load(p),
        None => Ok(Resolved::default()),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Replay {
            file,
            format,
            config,
        } => {
            let cfg = load_config(config.as_ref())?;
            let report = replay_file(&file, &cfg)?;
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
        Command::Validate { config } => match Config::load(&config) {
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
