//! `kmedic-agent`: thin CLI over the library. Runs on a single-threaded tokio runtime: the agent
//! does a little work every few seconds and should cost the broker host next to nothing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kmedic_agent::AgentConfig;
use kmedic_common::bin_support::{init_logs, shutdown_signal, LogFormat};

#[derive(Parser)]
#[command(
    name = "kmedic-agent",
    version,
    about = "kmedic's per-broker stats agent"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The agent's TOML configuration (for `run` when no subcommand is given).
    #[arg(long, short, global = true, default_value = "/etc/kmedic/agent.toml")]
    config: PathBuf,
    /// Log format on stderr: `text` (colour only on a terminal) or `json` (one object a line,
    /// for log shippers).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Sample and publish until SIGTERM or Ctrl-C (the default).
    Run,
    /// Load the configuration and the broker's files, and print what was resolved.
    CheckConfig,
    /// Take one full sample and print it, decoded, for a person.
    Sample {
        /// Take exactly one sample (the only mode; kept for clarity in scripts).
        #[arg(long)]
        once: bool,
        /// Print JSON (the only format).
        #[arg(long)]
        json: bool,
        /// Take a baseline this many seconds before the sample, so per-second rates are filled.
        #[arg(long, default_value_t = 0)]
        rate_window_secs: u64,
    },
}

fn load(path: &std::path::Path) -> anyhow::Result<AgentConfig> {
    AgentConfig::load(path).map_err(|e| {
        anyhow::anyhow!(
            "{e}\nhint: see deploy/agent/agent.example.toml for every key and its default"
        )
    })
}

async fn main_async(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => {
            let config = load(&cli.config)?;
            kmedic_agent::run(config, shutdown_signal()).await?;
        }
        Command::CheckConfig => {
            let config = load(&cli.config)?;
            print!("{}", kmedic_agent::cli::check_config(&config)?);
            println!("OK");
        }
        Command::Sample {
            once: _,
            json: _,
            rate_window_secs,
        } => {
            let config = load(&cli.config)?;
            let record =
                kmedic_agent::cli::sample_once(&config, Duration::from_secs(rate_window_secs))
                    .await?;
            println!("{}", serde_json::to_string_pretty(&record)?);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format, "info");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main_async(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Through the log, so `--log-format json` stays JSON to the last line.
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
