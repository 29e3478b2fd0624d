//! kmedic-testbed: the real-Kafka testbed for a person (wrapped by deploy/testbed and
//! deploy/demo.sh). `up` runs the cluster in the foreground until SIGINT/SIGTERM and writes a
//! state file; `status` and `down` read it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use kmedic_tests::state::{read_state, write_state, TestbedState};
use kmedic_tests::{process_state, Testbed, TestbedConfig};

#[derive(Parser)]
#[command(
    name = "kmedic-testbed",
    about = "A local Kafka 4.3 KRaft cluster for kmedic"
)]
struct Cli {
    /// Folder for the state file and the cluster's node folders.
    #[arg(long, default_value = ".testbed", global = true)]
    state_dir: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the cluster and keep it running until SIGINT or SIGTERM.
    Up {
        /// Number of brokers.
        #[arg(long, default_value_t = 6)]
        brokers: usize,
        /// Controller port; broker N listens on port_base + N (default: env KMEDIC_TESTBED_PORT_BASE or 19500).
        #[arg(long)]
        port_base: Option<u16>,
        /// Max heap per broker, MiB.
        #[arg(long, default_value_t = 256)]
        heap_mb: u32,
        /// Test hook: panic right after start (the harness tests check no JVM survives).
        #[arg(long, hide = true)]
        panic_after_start: bool,
        /// Test hook: get SIGKILL when the process that started us goes away, so a test that
        /// dies cannot leave this supervisor (and so its JVMs) behind.
        #[arg(long, hide = true)]
        die_with_parent: bool,
    },
    /// Print nodes, pids, ports, racks and fenced state of the running cluster.
    Status,
    /// Stop the running cluster and wait until its JVMs are gone.
    Down,
}

fn main() -> ExitCode {
    kmedic_tests::init_logs("info,rdkafka=warn");
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Up {
            brokers,
            port_base,
            heap_mb,
            panic_after_start,
            die_with_parent,
        } => {
            if die_with_parent {
                if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL) {
                    eprintln!("kmedic-testbed: cannot set the parent-death signal: {e}");
                }
            }
            up(
                &cli.state_dir,
                brokers,
                port_base,
                heap_mb,
                panic_after_start,
            )
        }
        Cmd::Status => status(&cli.state_dir),
        Cmd::Down => down(&cli.state_dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kmedic-testbed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn state_file(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

fn up(
    dir: &Path,
    brokers: usize,
    port_base: Option<u16>,
    heap_mb: u32,
    panic_after_start: bool,
) -> anyhow::Result<()> {
    if let Ok(old) = read_state(&state_file(dir)) {
        if process_state(old.supervisor_pid).is_some_and(|s| s != 'Z') {
            bail!(
                "a testbed from {} already runs (pid {}); stop it with `deploy/testbed down`",
                dir.display(),
                old.supervisor_pid
            );
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize().context("resolving the state dir")?;
    let mut cfg = TestbedConfig::from_env()
        .with_brokers(brokers)
        .with_work_dir(dir.join("cluster"));
    cfg.heap_mb = heap_mb;
    if let Some(p) = port_base {
        cfg.port_base = p;
    }
    // Catch SIGINT and SIGTERM from here on: one that arrives during the start stops the cluster
    // right after it, through Drop, instead of killing us mid-start.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (mut int, mut term) = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        Ok::<_, std::io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    })?;
    let started = Instant::now();
    let tb = Testbed::start(cfg)?;
    let secs = started.elapsed().as_secs_f64();
    write_state(&state_file(&dir), &tb.state())?;
    if panic_after_start {
        panic!("kmedic-testbed: --panic-after-start");
    }
    println!("testbed up in {secs:.1} s");
    print_status(&tb.state());
    println!("\nCtrl-C (or `deploy/testbed down`) stops it.");
    // A broker killed from outside (`kill -9 <pid>`) is reaped within a second, so it does not
    // stay a zombie whose pid still matches (an agent watching that pid would never see it go).
    rt.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = int.recv() => break,
                _ = term.recv() => break,
                _ = tick.tick() => {
                    for (name, status) in tb.reap_exited() {
                        println!("{name} exited ({status})");
                    }
                }
            }
        }
    });
    println!("stopping the testbed ...");
    let _ = std::fs::remove_file(state_file(&dir));
    drop(tb);
    Ok(())
}

fn status(dir: &Path) -> anyhow::Result<()> {
    let state = read_state(&state_file(dir))
        .with_context(|| format!("no testbed state in {} (is it up?)", dir.display()))?;
    print_status(&state);
    Ok(())
}

fn proc_label(pid: Option<u32>) -> &'static str {
    match pid.and_then(process_state) {
        None | Some('Z') | Some('X') => "gone",
        Some('T') | Some('t') => "stopped (SIGSTOP)",
        Some(_) => "running",
    }
}

fn print_status(state: &TestbedState) {
    let live = kmedic_tests::metadata(&state.bootstrap, Duration::from_secs(3))
        .map(|md| md.brokers)
        .ok();
    println!("cluster id  {}", state.cluster_id);
    println!("bootstrap   {}", state.bootstrap);
    println!(
        "supervisor  pid {} ({})",
        state.supervisor_pid,
        proc_label(Some(state.supervisor_pid))
    );
    println!("node dirs   {}", state.root.display());
    println!();
    println!(
        "{:>5}  {:<10}  {:>5}  {:<5}  {:>8}  {:<17}  kafka",
        "id", "role", "port", "rack", "pid", "process"
    );
    for n in &state.nodes {
        let kafka = match (&live, n.role.as_str()) {
            (_, "controller") => "quorum leader (only voter)".to_string(),
            (Some(ids), _) if ids.contains(&n.id) => "registered, unfenced".to_string(),
            (Some(_), _) => "not live (fenced or down)".to_string(),
            (None, _) => "unknown (no metadata)".to_string(),
        };
        let pid = n.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
        println!(
            "{:>5}  {:<10}  {:>5}  {:<5}  {:>8}  {:<17}  {}",
            n.id,
            n.role,
            n.port,
            if n.rack.is_empty() { "-" } else { &n.rack },
            pid,
            proc_label(n.pid),
            kafka
        );
    }
}

fn down(dir: &Path) -> anyhow::Result<()> {
    let path = state_file(dir);
    let Ok(state) = read_state(&path) else {
        println!("no testbed state in {}: nothing to stop", dir.display());
        return Ok(());
    };
    let sup = state.supervisor_pid;
    if process_state(sup).is_some_and(|s| s != 'Z') && is_testbed(sup) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(sup as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .with_context(|| format!("stopping the testbed supervisor (pid {sup})"))?;
    }
    // The supervisor kills its JVMs on exit, and PR_SET_PDEATHSIG kills them if it dies: wait.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left: Vec<u32> = state
            .nodes
            .iter()
            .filter_map(|n| n.pid)
            .chain([sup])
            .filter(|p| process_state(*p).is_some_and(|s| s != 'Z'))
            .filter(|p| *p == sup || is_kafka(*p))
            .collect();
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            bail!("processes {left:?} are still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::remove_file(&path);
    println!("testbed stopped");
    Ok(())
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Guards against pid reuse: only signal or wait for processes that are what we started.
fn is_testbed(pid: u32) -> bool {
    cmdline(pid).contains("kmedic-testbed")
}

fn is_kafka(pid: u32) -> bool {
    cmdline(pid).contains("kafka.Kafka")
}
