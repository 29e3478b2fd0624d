//! kmedic's performance report (issue 10): one command writes markdown tables and PNG charts.
//!
//! ```text
//! cargo run --release -p kmedic-bench -- report --out target/bench-report        # full (by hand)
//! cargo run --release -p kmedic-bench -- report --quick --out /tmp/r            # smoke (CI)
//! ```
//!
//! - [`compare`]: our planner against Kafka's `--generate` (the Java driver in `bench/java/`) on
//!   the same cluster files (`kmedic_master::sim::file`).
//! - [`scale`]: the scale curve, one child process per case for its peak RSS.
//! - [`footprint`]: the agent against an idle JVM, from `agent/benches/footprint.sh` and
//!   `bench/jvm_floor.sh` logs given with `--agent-log` and `--jvm-log`.
//! - [`chart`]: PNG charts without text (labels are in the markdown).
//! - [`live`]: `kmedic-bench live`, the real `kafka-reassign-partitions --generate` and
//!   `kmedic-master plan` on one live testbed (by hand only; it starts Kafka).
//! - `kmedic-bench footprint`: the hour-long agent run's summary and RSS chart.

mod all;
mod bound;
mod chart;
mod children;
mod compare;
mod figures;
mod footprint;
mod kafka;
mod live;
mod live_figures;
mod scale;
mod targets;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use plotters::style::RGBColor;

#[derive(Parser)]
#[command(about = "kmedic's performance report")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Writes report.md and PNG charts into --out.
    Report {
        /// Small sizes only (the CI smoke run).
        #[arg(long)]
        quick: bool,
        /// Output directory.
        #[arg(long, default_value = "target/bench-report")]
        out: PathBuf,
        /// Timed runs per case (median reported); default 5, 1 with --quick.
        #[arg(long)]
        runs: Option<usize>,
        /// Largest scale-curve case, in replicas (to fit a machine's memory).
        #[arg(long, default_value_t = 10_000_000)]
        max_replicas: usize,
        /// Skip Kafka's --generate column.
        #[arg(long)]
        no_kafka: bool,
        /// Only the scale curve and its targets (the planner's timing part, ~10 minutes; to
        /// re-run on a quiet machine).
        #[arg(long)]
        scale_only: bool,
        /// Only the comparison with Kafka's --generate (no scale curve).
        #[arg(long, conflicts_with = "scale_only")]
        compare_only: bool,
        /// Output of agent/benches/footprint.sh, for the agent section.
        #[arg(long)]
        agent_log: Option<PathBuf>,
        /// Output of bench/jvm_floor.sh, for the agent section.
        #[arg(long)]
        jvm_log: Option<PathBuf>,
        /// Output of the master's model_warm_start bench, quoted in its own section.
        #[arg(long)]
        warm_start_log: Option<PathBuf>,
    },
    /// The whole report from one command: builds, runs every step as a child process (the
    /// agent and idle-JVM footprint in the background meanwhile), writes --out/report.md with
    /// the targets met or missed. A failed step is named and the rest go on; exit non-zero then.
    All(all::Args),
    /// Kafka's real `kafka-reassign-partitions --generate` and `kmedic-master plan` side by
    /// side on a live 6-broker testbed it starts (needs Java 17+, the Kafka jars, a release
    /// kmedic-master); writes the markdown section to --out.
    Live {
        /// The testbed's port base (controller; broker N on base + N).
        #[arg(long, default_value_t = 20300)]
        port_base: u16,
        /// Timed runs per tool and scenario (median wall time).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// The kmedic-master binary (default: next to this one).
        #[arg(long)]
        master: Option<PathBuf>,
        /// Average MiB written per partition.
        #[arg(long, default_value_t = 2)]
        mib_per_partition: usize,
        /// Markdown output file.
        #[arg(long, default_value = "target/bench-report/live.md")]
        out: PathBuf,
    },
    /// Summarises one agent footprint log (agent/benches/footprint.sh output): start, end and
    /// max RSS, growth per hour, CPU; draws its RSS over time to --png.
    Footprint {
        /// The footprint log.
        #[arg(long)]
        log: PathBuf,
        /// The chart to write.
        #[arg(long)]
        png: PathBuf,
    },
    /// One scale-curve case (run by `report` in a child process); prints JSON.
    Case {
        #[arg(long)]
        brokers: usize,
        #[arg(long)]
        replicas: usize,
        #[arg(long)]
        uneven: bool,
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Case {
            brokers,
            replicas,
            uneven,
            runs,
        } => scale::child(brokers, replicas, uneven, runs),
        Cmd::All(args) => all::run(&args),
        Cmd::Live {
            port_base,
            runs,
            master,
            mib_per_partition,
            out,
        } => {
            let master = match master {
                Some(m) => m,
                None => std::env::current_exe()
                    .context("locating this binary")?
                    .with_file_name("kmedic-master"),
            };
            let md = live::run(&live::Opts {
                port_base,
                runs,
                master,
                mib_per_partition,
            })?;
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&out, &md).with_context(|| format!("writing {}", out.display()))?;
            print!("{md}");
            Ok(())
        }
        Cmd::Footprint { log, png } => {
            print!("{}", footprint_summary(&log, &png)?);
            Ok(())
        }
        Cmd::Report {
            quick,
            out,
            runs,
            max_replicas,
            no_kafka,
            scale_only,
            compare_only,
            agent_log,
            jvm_log,
            warm_start_log,
        } => {
            let opts = Opts {
                quick,
                runs: runs.unwrap_or(if quick { 1 } else { 5 }).max(1),
                max_replicas,
                no_kafka,
                scale_only,
                compare_only,
                agent_log,
                jvm_log,
                warm_start_log,
            };
            let md = report(&opts, &out)?;
            std::fs::write(out.join("report.md"), md)?;
            eprintln!("wrote {}", out.join("report.md").display());
            Ok(())
        }
    }
}

struct Opts {
    quick: bool,
    runs: usize,
    max_replicas: usize,
    no_kafka: bool,
    scale_only: bool,
    compare_only: bool,
    agent_log: Option<PathBuf>,
    jvm_log: Option<PathBuf>,
    warm_start_log: Option<PathBuf>,
}

const RED: RGBColor = RGBColor(214, 39, 40);
const BLUE: RGBColor = RGBColor(31, 119, 180);
const GREEN: RGBColor = RGBColor(44, 160, 44);

fn report(o: &Opts, out: &Path) -> Result<String> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let work = tempfile::tempdir().context("creating a work dir")?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Machine: {}; load average (1, 5, 15 min) at the start: {}\n",
        machine(),
        loadavg()
    );
    let _ = writeln!(
        md,
        "Command: `kmedic-bench report{}{}{}` ({}); medians of {} run(s) per case.\n",
        if o.quick { " --quick" } else { "" },
        if o.scale_only { " --scale-only" } else { "" },
        if o.compare_only {
            " --compare-only"
        } else {
            ""
        },
        if cfg!(debug_assertions) {
            "debug build: times are not representative"
        } else {
            "release build"
        },
        o.runs
    );

    if !o.scale_only {
        compare_section(o, work.path(), &mut md)?;
    }
    if o.compare_only {
        return Ok(md);
    }

    // The scale curve.
    let cases: Vec<(usize, usize, bool)> = if o.quick {
        vec![(50, 10_000, false), (60, 30_000, false), (54, 10_000, true)]
    } else {
        vec![
            (50, 10_000, false),
            (100, 100_000, false),
            (200, 1_000_000, false),
            (270, 1_300_000, false),
            (500, 2_500_000, false),
            (1_000, 5_000_000, false),
            (2_000, 10_000_000, false),
            (270, 1_300_000, true),
            (2_000, 10_000_000, true),
        ]
    };
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|c| c.1 <= o.max_replicas)
        .collect();
    let load_before = loadavg();
    let t_curve = std::time::Instant::now();
    let curve = scale::run(&cases, o.runs)?;
    // For `kmedic-bench all`'s targets table.
    std::fs::write(out.join("scale.json"), serde_json::to_string(&curve)?)
        .with_context(|| format!("writing {}", out.join("scale.json").display()))?;
    md.push_str("### Scale curve\n\n");
    let _ = writeln!(
        md,
        "Load average (1, 5, 15 min) {load_before} before the curve and {} after it ({:.0} s); \
         the 2 CPUs are shared, so times swing with it.\n",
        loadavg(),
        t_curve.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        md,
        "Heavy traffic skew (Zipf 1.0 over topics, 0.6 within), 10 % non-preferred leaders, RF 3; \
         balance to {} × the mean with no per-broker move cap; heal of one dead broker runs on \
         the balanced cluster. One child process per case: peak RSS is the whole case's \
         (generation included).\n",
        scale::TARGET
    );
    md.push_str(&scale::table(&curve));
    md.push('\n');
    for (name, f) in [
        (
            "heal",
            (|c: &scale::Case| c.heal_ms) as fn(&scale::Case) -> f64,
        ),
        ("balance", |c| c.balance_ms),
        ("spread leaders", |c| c.spread_ms),
        ("peak RSS", |c| c.peak_rss_mib),
    ] {
        if let Some(k) = scale::growth(&curve, f) {
            let _ = writeln!(
                md,
                "- {name} grows as replicas^{k:.2} (even racks, smallest to largest case)"
            );
        }
    }
    md.push_str(&targets(&curve));
    let series = |f: fn(&scale::Case) -> f64, color| chart::Series {
        color,
        points: curve
            .iter()
            .filter(|c| !c.uneven)
            .map(|c| (c.replicas as f64, f(c)))
            .collect(),
    };
    let (x0, x1, y0, y1) = chart::log_log(
        &out.join("scale.png"),
        &[
            series(|c| c.heal_ms, RED),
            series(|c| c.balance_ms, BLUE),
            series(|c| c.spread_ms, GREEN),
        ],
    )?;
    let _ = writeln!(
        md,
        "\n![scale curve](scale.png)\n\n`scale.png`: plan time (ms, log, {y0} to {y1}) against \
         replicas (log, {x0} to {x1}), even racks; red heal, blue balance, green spread \
         leaders; grid lines at powers of ten.\n"
    );

    if let (Some(a), Some(j)) = (&o.agent_log, &o.jvm_log) {
        md.push_str(&agent_section(a, j, out)?);
    }
    if let Some(w) = &o.warm_start_log {
        let text = std::fs::read_to_string(w).with_context(|| format!("{}", w.display()))?;
        md.push_str(
            "### Master ingest and warm start\n\nThe output of the master's \
             `model_warm_start` bench (200 brokers, 1M replicas, 24 h of history), on this \
             machine in this session:\n\n```text\n",
        );
        md.push_str(text.trim_end());
        md.push_str("\n```\n");
    }
    Ok(md)
}

/// Ours against Kafka's `--generate` on the same cluster files.
fn compare_section(o: &Opts, work: &Path, md: &mut String) -> Result<()> {
    let (sizes, per_broker): (&[usize], usize) = if o.quick {
        (&[6, 12], 200)
    } else {
        (&[6, 50, 200, 270], 5_000)
    };
    let kafka = if o.no_kafka {
        Err(anyhow::anyhow!("--no-kafka"))
    } else {
        kafka::Driver::build(work)
    };
    // Cruise Control's clusters (issue 12) are small: in the smoke run too, when present.
    let extra = compare::shared_clusters()?;
    let rows = compare::run(sizes, per_broker, extra, o.runs, work, &kafka)?;
    md.push_str("### Our planner against Kafka's `--generate`\n\n");
    let _ = writeln!(md, "Load average after these runs: {}.\n", loadavg());
    if let Err(e) = &kafka {
        let _ = writeln!(md, "Kafka's column is missing: {e:#}\n");
    }
    md.push_str(&compare::table(&rows));
    md.push('\n');
    Ok(())
}

/// A target: name, brokers, replicas, limit (ms), the figure.
type Target = (&'static str, usize, usize, f64, fn(&scale::Case) -> f64);

/// The issue's planner targets, met or missed.
fn targets(curve: &[scale::Case]) -> String {
    let find = |b: usize, r: usize| {
        curve
            .iter()
            .find(|c| !c.uneven && c.brokers == b && c.replicas.abs_diff(r) * 20 < r)
    };
    let mut s = String::from("\n| target | figure | met |\n|---|---:|---|\n");
    let rows: [Target; 3] = [
        (
            "heal ≤ 50 ms at 200 brokers / 1M replicas",
            200,
            1_000_000,
            50.0,
            |c| c.heal_ms,
        ),
        (
            "heal ≤ 1 s at 2,000 brokers / 10M replicas",
            2_000,
            10_000_000,
            1_000.0,
            |c| c.heal_ms,
        ),
        (
            "balance ≤ 1 s at 270 brokers / 1.3M replicas",
            270,
            1_300_000,
            1_000.0,
            |c| c.balance_ms,
        ),
    ];
    for (name, b, r, limit, f) in rows {
        let (figure, met) = match find(b, r) {
            Some(c) => (
                format!("{:.1} ms", f(c)),
                if f(c) <= limit { "met" } else { "MISSED" },
            ),
            None => ("not run".to_owned(), "not measured"),
        };
        let _ = writeln!(s, "| {name} | {figure} | {met} |");
    }
    s
}

pub(crate) fn agent_section(agent: &Path, jvm: &Path, out: &Path) -> Result<String> {
    let a = footprint::Samples::read(agent)?;
    let j = footprint::Samples::read(jvm)?;
    let mut s = String::from("### The agent against an idle JVM\n\n");
    let _ = writeln!(
        s,
        "Runs of {:.0} s (agent) and {:.0} s (idle JVM), side by side on this machine, samples \
         every 30 s.\n",
        a.duration(),
        j.duration()
    );
    s.push_str(
        "| process | RSS mean MiB | RSS max MiB | CPU % of a core |\n|---|---:|---:|---:|\n",
    );
    for (name, x) in [
        ("kmedic-agent (4,000 partitions)", &a),
        ("idle JVM (java -Xmx16m, sleeps)", &j),
    ] {
        let (mean, max) = x.rss();
        let _ = writeln!(s, "| {name} | {mean:.1} | {max:.1} | {:.3} |", x.cpu());
    }
    let (am, _) = a.rss();
    let (jm, _) = j.rss();
    if am > 0.0 {
        let _ = writeln!(
            s,
            "\nThe idle JVM's mean RSS is {:.1}× the agent's.\n",
            jm / am
        );
    }
    let pts = |x: &footprint::Samples| x.rows.iter().map(|r| (r.0 / 60.0, r.1)).collect();
    chart::linear(
        &out.join("footprint.png"),
        &[
            chart::Series {
                color: BLUE,
                points: pts(&a),
            },
            chart::Series {
                color: RED,
                points: pts(&j),
            },
        ],
        1.0,
        10.0,
    )?;
    s.push_str(
        "![footprint](footprint.png)\n\n`footprint.png`: RSS (MiB, grid every 10) over minutes \
         (grid every minute); blue kmedic-agent, red idle JVM.\n\n",
    );
    Ok(s)
}

/// The load averages over 1, 5 and 15 minutes, from /proc/loadavg ("?" if unreadable).
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".to_owned())
}

/// The hour-long footprint run: figures and the RSS chart (issue 10 item 5).
pub(crate) fn footprint_summary(log: &Path, png: &Path) -> Result<String> {
    let a = footprint::Samples::read(log)?;
    let (Some(first), Some(last)) = (a.rows.first(), a.rows.last()) else {
        anyhow::bail!("{}: no samples", log.display());
    };
    let (mean, max) = a.rss();
    // Growth: the least-squares slope over every sample (end minus start alone is one
    // sample's noise), in MiB per hour.
    let n = a.rows.len() as f64;
    let (mx, my) = (
        a.rows.iter().map(|r| r.0).sum::<f64>() / n,
        a.rows.iter().map(|r| r.1).sum::<f64>() / n,
    );
    let sxx: f64 = a.rows.iter().map(|r| (r.0 - mx).powi(2)).sum();
    let sxy: f64 = a.rows.iter().map(|r| (r.0 - mx) * (r.1 - my)).sum();
    let growth = if sxx > 0.0 { sxy / sxx * 3600.0 } else { 0.0 };
    let pts = a.rows.iter().map(|r| (r.0 / 60.0, r.1)).collect();
    chart::linear(
        png,
        &[chart::Series {
            color: BLUE,
            points: pts,
        }],
        5.0,
        1.0,
    )?;
    Ok(format!(
        "| run | samples | RSS start MiB | RSS end MiB | RSS mean MiB | RSS max MiB | growth MiB/h (fit) | CPU % of a core |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {:.0} s | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:+.2} | {:.3} |\n",
        a.duration(),
        a.rows.len(),
        first.1,
        last.1,
        mean,
        max,
        growth,
        a.cpu()
    ))
}

/// `nproc`, the CPU model and memory, from /proc.
pub(crate) fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_owned(), |m| m.trim().to_owned());
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let gib = mem
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |k| k / 1024.0 / 1024.0);
    let rev = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpus} CPUs ({model}), {gib:.1} GiB RAM; commit {rev}")
}
