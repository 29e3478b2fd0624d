//! `kmedic-master`: thin CLI over the library (clap, tracing, then the library call).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use kmedic_common::bin_support::{init_logs, shutdown_signal, LogFormat};
use kmedic_master::cli::{self, PlanTarget, RequestKind};
use kmedic_master::config::MasterConfig;

#[derive(Parser)]
#[command(
    name = "kmedic-master",
    version,
    about = "Keeps Kafka clusters healthy"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Log format on stderr: `text` (colour only on a terminal) or `json` (one object a line,
    /// for log shippers).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
}

/// librdkafka's own connection chatter (disconnects, reconnects) is not for operators: ingest
/// logs what matters, rate-limited.
const DEFAULT_LOG_FILTER: &str = "info,librdkafka=warn,rdkafka=warn";

#[derive(Subcommand)]
enum Cmd {
    /// Run the master until SIGINT/SIGTERM.
    Run {
        /// The master's TOML config.
        #[arg(long)]
        config: PathBuf,
    },
    /// Parse and validate a config file, then exit.
    CheckConfig {
        /// The master's TOML config.
        #[arg(long)]
        config: PathBuf,
    },
    /// Observe a cluster once and print the plan the master would run. Executes nothing.
    Plan {
        #[command(flatten)]
        plan: PlanArgs,
        /// Also write the kafka-reassign-partitions JSON to this file.
        #[arg(long)]
        json_out: Option<PathBuf>,
        /// Disk use a move may take a broker to, as a fraction in (0, 1], for this plan only
        /// (overrides the config's planner.max_disk_utilization, default 0.85). For testbeds
        /// whose brokers share one busy disk.
        #[arg(long)]
        max_disk_utilization: Option<f64>,
    },
    /// The action log read back (committed records only), one line per record.
    Actions {
        /// The master's TOML config (for the action log's topic and connection).
        #[arg(long)]
        config: PathBuf,
        /// Only this cluster: a name from the config (its cluster_id) or a cluster id.
        #[arg(long)]
        cluster: Option<String>,
        /// Keep printing new records as they are committed (until Ctrl-C).
        #[arg(long)]
        follow: bool,
        /// Print the records as JSON lines instead of readable lines.
        #[arg(long)]
        json: bool,
    },
    /// The stats topic, decoded.
    Stats {
        #[command(subcommand)]
        cmd: StatsCmd,
    },
    /// Like `plan`, but print only the kafka-reassign-partitions JSON (to stdout). Executes
    /// nothing.
    ExportReassignment {
        #[command(flatten)]
        plan: PlanArgs,
    },
    /// Check a kafka-reassign-partitions JSON file against the safety rules on the live
    /// cluster and print what is refused and why. Dry run: executes nothing; exits non-zero
    /// when anything is refused.
    ImportReassignment {
        /// The JSON file.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// A running master's clusters in the terminal (from its REST API).
    Status {
        /// The master's HTTP address (`[serve] bind`).
        #[arg(long, default_value = "http://127.0.0.1:9464")]
        url: String,
    },
    /// A running master's cross-AZ traffic report for one cluster (from its REST API):
    /// replication measured, produce and consume estimated, with the assumptions.
    CrossAz {
        /// The cluster's configured name.
        #[arg(long)]
        cluster: String,
        /// The master's HTTP address (`[serve] bind`).
        #[arg(long, default_value = "http://127.0.0.1:9464")]
        url: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Observe a cluster once: could it absorb the loss of any one broker, or any one rack,
    /// within its limits? Executes nothing.
    Headroom {
        #[command(flatten)]
        target: TargetArgs,
        /// Print the full report as JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
}

/// The cluster a one-shot command observes: `plan`, `export-reassignment`,
/// `import-reassignment` and `headroom` share these.
#[derive(clap::Args)]
struct TargetArgs {
    /// The cluster's name (from the config, or any label with --bootstrap).
    #[arg(long)]
    cluster: String,
    /// The master's TOML config.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Bootstrap servers, HOST:PORT[,HOST:PORT] (PLAINTEXT; overrides the config's).
    #[arg(long)]
    bootstrap: Option<String>,
}

impl TargetArgs {
    fn resolve(&self) -> anyhow::Result<PlanTarget> {
        Ok(PlanTarget::resolve(
            &self.cluster,
            self.config.as_deref(),
            self.bootstrap.as_deref(),
        )?)
    }
}

/// What `plan` and `export-reassignment` plan, and on which cluster.
#[derive(clap::Args)]
struct PlanArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// What to plan.
    #[arg(long, value_enum, default_value = "heal")]
    request: RequestKind,
    /// Brokers to decommission or relieve, for example 1,2.
    #[arg(long, value_delimiter = ',')]
    brokers: Vec<i32>,
    /// Treat these brokers as dead too (Kafka's fenced/absent brokers always are here).
    #[arg(long, value_delimiter = ',')]
    assume_dead: Vec<i32>,
}

impl PlanArgs {
    async fn once(&self, target: &PlanTarget) -> anyhow::Result<cli::PlanReport> {
        Ok(cli::plan_once(target, self.request, &self.brokers, &self.assume_dead).await?)
    }
}

#[derive(Subcommand)]
enum StatsCmd {
    /// Print the agents' stats records as JSON lines (undecodable ones as error lines on
    /// stderr). Reads only; commits no offsets.
    Tail {
        /// The master's TOML config (for the stats topic and connection).
        #[arg(long)]
        config: PathBuf,
        /// Start at the oldest record instead of new ones only.
        #[arg(long)]
        from_beginning: bool,
        /// Stop after this many records.
        #[arg(long)]
        max: Option<u64>,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format, DEFAULT_LOG_FILTER);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // One log line with the cause chain (text or JSON, like every other line), not a Debug
    // dump with a backtrace.
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{}", causes(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each once (many of our errors already quote their source).
fn causes(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for c in e.chain().skip(1) {
        let c = c.to_string();
        if !out.contains(&c) {
            out.push_str(": ");
            out.push_str(&c);
        }
    }
    out
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Run { config } => {
            let cfg = MasterConfig::load(&config)?;
            kmedic_master::service::run(cfg, shutdown_signal()).await?;
        }
        Cmd::CheckConfig { config } => {
            let cfg = MasterConfig::load(&config)?;
            println!(
                "{}: OK ({})",
                config.display(),
                kmedic_master::text::count(cfg.clusters.len(), "cluster", "clusters")
            );
        }
        Cmd::Plan {
            plan,
            json_out,
            max_disk_utilization,
        } => {
            let mut target = plan.target.resolve()?;
            if let Some(limit) = max_disk_utilization {
                target = target.with_max_disk_utilization(limit)?;
            }
            let report = plan.once(&target).await?;
            print!("{}", cli::render_table(&report));
            let json = serde_json::to_string_pretty(&report.plan.reassignment_json())?;
            println!("\nkafka-reassign-partitions JSON:\n{json}");
            if let Some(path) = json_out {
                std::fs::write(&path, &json)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Cmd::Actions {
            config,
            cluster,
            follow,
            json,
        } => {
            let cfg = MasterConfig::load(&config)?;
            let filter = cli::actions::cluster_filter(&cfg, cluster.as_deref());
            if follow {
                cli::actions::follow(&cfg, filter, json).await?;
            } else {
                cli::actions::print_all(&cfg, filter.as_deref(), json).await?;
            }
        }
        Cmd::Stats {
            cmd:
                StatsCmd::Tail {
                    config,
                    from_beginning,
                    max,
                },
        } => {
            let cfg = MasterConfig::load(&config)?;
            cli::stats_tail::tail(&cfg, from_beginning, max).await?;
        }
        Cmd::ExportReassignment { plan } => {
            let report = plan.once(&plan.target.resolve()?).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report.plan.reassignment_json())?
            );
        }
        Cmd::ImportReassignment { file, target } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let proposed =
                cli::reassign_io::parse(&text).with_context(|| format!("in {}", file.display()))?;
            let view = cli::reassign_io::observe(&target.resolve()?).await?;
            let checked = cli::reassign_io::check(&view, &proposed);
            print!("{}", cli::reassign_io::render(&checked));
            if !checked.refused.is_empty() {
                anyhow::bail!(
                    "{} of {} partitions refused (see above); nothing was executed",
                    checked.refused.len(),
                    proposed.len()
                );
            }
        }
        Cmd::CrossAz { cluster, url, json } => {
            let r = cli::cross_az::fetch(&url, &cluster)
                .await
                .map_err(anyhow::Error::msg)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", cli::cross_az::render(&cluster, &r));
            }
        }
        Cmd::Status { url } => {
            let v = cli::status::fetch(&url).await.map_err(anyhow::Error::msg)?;
            print!("{}", cli::status::render(&v));
        }
        Cmd::Headroom { target, json } => {
            let (report, notes) = cli::headroom::headroom_once(&target.resolve()?).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!(
                    "{}",
                    cli::headroom::render(&target.cluster, &report, &notes)
                );
            }
        }
    }
    Ok(())
}
