//! kmedic-demo: the README's live demo (run through deploy/demo.sh).
//!
//! Starts the real Kafka testbed (one controller, 6 brokers in 3 racks), creates a topic with
//! data, SIGKILLs a broker, waits until Kafka stops listing it, and runs `kmedic-master plan`
//! against the live cluster to show the heal plan the master makes for it. The executor that
//! runs such a plan is a later issue, so the demo then brings the broker back itself and checks
//! the cluster is healthy again. Every JVM stops when the demo ends, also on Ctrl-C.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use kmedic_tests::{metadata, wait_until, Testbed, TestbedConfig};

#[derive(Parser)]
#[command(
    name = "kmedic-demo",
    about = "kmedic's live demo on a local Kafka 4.3 cluster"
)]
struct Cli {
    /// The kmedic-master binary to run `plan` with.
    #[arg(long)]
    master_bin: PathBuf,
    /// The broker to kill.
    #[arg(long, default_value_t = 2)]
    victim: i32,
    /// Folder for the cluster's node folders (a temporary one when not given).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Controller port; broker N listens on port_base + N.
    #[arg(long, default_value_t = 19300)]
    port_base: u16,
}

fn main() -> ExitCode {
    kmedic_tests::init_logs("warn,rdkafka=error");
    match demo(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kmedic-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn step(started: Instant, what: &str) {
    println!("\n[{:>5.1}s] == {what}", started.elapsed().as_secs_f64());
}

fn demo(cli: Cli) -> anyhow::Result<()> {
    if !cli.master_bin.is_file() {
        bail!(
            "no kmedic-master at {} (build it: cargo build -p kmedic-master)",
            cli.master_bin.display()
        );
    }
    let started = Instant::now();
    step(
        started,
        "starting Kafka 4.3: 1 controller + 6 brokers in racks az-a, az-b, az-c",
    );
    let mut cfg = TestbedConfig::from_env().with_brokers(6);
    cfg.port_base = cli.port_base;
    if let Some(dir) = &cli.work_dir {
        cfg = cfg.with_work_dir(dir.clone());
    }
    // Dropping the testbed kills every JVM, so `?` anywhere below still cleans up.
    let tb = Testbed::start(cfg)?;
    for id in tb.broker_ids() {
        println!(
            "  broker {id}  {}  rack {}",
            tb.broker_addr(id),
            tb.rack(id)
        );
    }

    step(
        started,
        "creating topic `orders` (12 partitions, RF 3) and producing 6 MiB",
    );
    tb.create_topic("orders", 12, 3)?;
    tb.produce("orders", 6 << 20)?;
    let md = tb.metadata()?;
    let hosted = md
        .partitions
        .iter()
        .filter(|p| p.topic == "orders" && p.replicas.contains(&cli.victim))
        .count();
    println!(
        "  broker {} hosts {hosted} replicas of `orders`",
        cli.victim
    );

    step(
        started,
        &format!(
            "SIGKILL broker {} (rack {})",
            cli.victim,
            tb.rack(cli.victim)
        ),
    );
    tb.kill(cli.victim)?;
    let bootstrap = tb.bootstrap();
    wait_until(
        Duration::from_secs(60),
        "Kafka to stop listing the killed broker",
        || {
            Ok(metadata(&bootstrap, Duration::from_secs(3))
                .map(|m| !m.brokers.contains(&cli.victim))
                .unwrap_or(false))
        },
    )?;
    println!("  Kafka no longer lists broker {} as live", cli.victim);

    step(
        started,
        "kmedic-master plan: what the master would do (it executes nothing)",
    );
    let status = Command::new(&cli.master_bin)
        .args(["plan", "--cluster", "demo", "--bootstrap", &bootstrap])
        .status()
        .context("running kmedic-master plan")?;
    if !status.success() {
        bail!("kmedic-master plan failed: {status}");
    }

    step(
        started,
        &format!(
            "bringing broker {} back (executing plans and host replacement come in later issues)",
            cli.victim
        ),
    );
    tb.restart(cli.victim)?;
    tb.wait_healthy(Duration::from_secs(120))?;
    println!("  all 6 brokers registered and unfenced, no under-replicated partitions");

    step(started, "done: stopping every JVM");
    drop(tb);
    Ok(())
}
