//! `kmedic-bench all`: the whole performance report (issue 10) from one command.
//!
//! ```text
//! cargo run --release -p kmedic-bench -- all                       # ~40 min, writes bench/results
//! cargo run --release -p kmedic-bench -- all --footprint-secs 3600 --skip-live
//! ```
//!
//! Every step is a child process in its own process group, so one signal stops it and all it
//! started. The agent-and-idle-JVM footprint is wall-clock bound (it mostly sleeps), so it runs
//! in the background while the timing steps run, and is waited for at the end. A failed step
//! is named, its log kept, and the rest go on; the command then exits non-zero. On Ctrl-C or
//! SIGTERM every child's group gets SIGTERM (SIGKILL 10 s later) and nothing is left running.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::children::{wait_all, watch_signals, Running};
use crate::{footprint, scale, targets};

/// `kmedic-bench all`'s options.
#[derive(clap::Args)]
pub struct Args {
    /// Where the report and its inputs go (report.md, charts, logs of each measurement).
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// How long the agent and the idle JVM are sampled, seconds (0 skips the footprint).
    #[arg(long, default_value_t = 600)]
    footprint_secs: u64,
    /// Skip the live testbed comparison with the real kafka-reassign-partitions.
    #[arg(long)]
    skip_live: bool,
    /// Tiny sizes, and only the steps that need neither cargo nor Kafka (the CI smoke).
    #[arg(long)]
    quick: bool,
    /// Skip the build step (binaries already built).
    #[arg(long)]
    skip_build: bool,
    /// Timed runs per case for the comparison and the scale curve (default 5; 1 with --quick).
    #[arg(long)]
    runs: Option<usize>,
    /// Port base of the live testbed; the footprint's 1-broker testbed uses this + 50.
    #[arg(long, default_value_t = 20300)]
    port_base: u16,
    /// Splice the report into this markdown file between the
    /// `<!-- kmedic-bench all: begin -->` and `<!-- kmedic-bench all: end -->` lines.
    #[arg(long)]
    update: Option<PathBuf>,
    /// Child logs (stderr of each step).
    #[arg(long, default_value = "target/bench-all")]
    logs: PathBuf,
    /// Test hook: run this step as a command that fails (checks the failure path).
    #[arg(long, hide = true)]
    fail_step: Option<String>,
}

/// The repository root (children run there; the scripts' paths are relative to it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// One step's outcome.
enum Outcome {
    Done(f64),
    Failed(f64, String),
    Skipped(&'static str),
}

struct Steps<'a> {
    args: &'a Args,
    stop: Arc<AtomicBool>,
    total: usize,
    n: usize,
    results: Vec<(String, Outcome)>,
}

impl Steps<'_> {
    fn start(&mut self, name: &str, detail: &str) -> usize {
        self.n += 1;
        eprintln!(
            "step {}/{}: {name}{detail} (load {})",
            self.n,
            self.total,
            crate::loadavg()
        );
        self.n
    }

    fn skip(&mut self, name: &str, why: &'static str) {
        self.n += 1;
        eprintln!("step {}/{}: {name}: skipped ({why})", self.n, self.total);
        self.results.push((name.to_owned(), Outcome::Skipped(why)));
    }

    fn log(&self, name: &str) -> PathBuf {
        self.args
            .logs
            .join(format!("{}.log", name.replace([' ', '/'], "-")))
    }

    /// The command to run for `name`: a failing one under the test hook.
    fn cmd(&self, name: &str, cmd: Command) -> Command {
        match &self.args.fail_step {
            Some(f) if f == name => {
                let mut c = Command::new("sh");
                c.args(["-c", "echo 'failing on purpose (--fail-step)' >&2; exit 3"]);
                c
            }
            _ => cmd,
        }
    }

    /// Runs `cmds` one after another as step `name`; records the outcome.
    fn run(&mut self, name: &str, cmds: Vec<(Command, Option<PathBuf>)>) -> bool {
        if self.stop.load(Ordering::SeqCst) {
            self.skip(name, "stopped by a signal");
            return false;
        }
        let k = self.start(name, "");
        let t = Instant::now();
        let log = self.log(name);
        let res = cmds.into_iter().try_for_each(|(cmd, stdout)| {
            let mut cmd = self.cmd(name, cmd);
            let mut c = vec![Running::spawn(name, &mut cmd, stdout.as_deref(), &log)?];
            wait_all(&mut c, &self.stop)
        });
        self.finish(
            k,
            name,
            t,
            res.map_err(|e| format!("{e:#}; log: {}", log.display())),
        )
    }

    fn finish(&mut self, k: usize, name: &str, t: Instant, res: Result<(), String>) -> bool {
        let secs = t.elapsed().as_secs_f64();
        let ok = res.is_ok();
        match res {
            Ok(()) => {
                eprintln!("step {k}/{}: {name} ... {secs:.0} s", self.total);
                self.results.push((name.to_owned(), Outcome::Done(secs)));
            }
            Err(e) => {
                eprintln!(
                    "step {k}/{}: {name} FAILED after {secs:.0} s: {e}",
                    self.total
                );
                self.results
                    .push((name.to_owned(), Outcome::Failed(secs, e)));
            }
        }
        ok
    }
}

fn cargo(args: &[&str]) -> (Command, Option<PathBuf>) {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.args(args);
    (c, None)
}

/// Runs the whole report; exits non-zero (an `Err`) when any step failed.
pub fn run(a: &Args) -> Result<()> {
    let t0 = Instant::now();
    let stop = watch_signals()?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    std::fs::create_dir_all(&a.logs).with_context(|| format!("creating {}", a.logs.display()))?;
    let exe = std::env::current_exe().context("locating this binary")?;
    let out = std::path::absolute(&a.out)?;
    let logs = std::path::absolute(&a.logs)?;
    let load_start = crate::loadavg();
    let machine = crate::machine();
    let mut s = Steps {
        args: a,
        stop: Arc::clone(&stop),
        total: 6,
        n: 0,
        results: Vec::new(),
    };
    let quick = a.quick;
    let runs = a.runs.unwrap_or(if quick { 1 } else { 5 }).to_string();

    // 1. Build.
    if a.skip_build || quick {
        s.skip("build", if quick { "--quick" } else { "--skip-build" });
    } else {
        s.run(
            "build",
            vec![
                cargo(&[
                    "build",
                    "--release",
                    "-p",
                    "kmedic-master",
                    "-p",
                    "kmedic-bench",
                ]),
                cargo(&["build", "--profile", "release-agent", "-p", "kmedic-agent"]),
                cargo(&["build", "-p", "kmedic-tests", "--bin", "kmedic-testbed"]),
            ],
        );
    }

    // 2. The footprint, in the background.
    let secs = a.footprint_secs;
    let agent_log = out.join(format!("agent-footprint-{secs}s.txt"));
    let jvm_log = out.join(format!("jvm-floor-{secs}s.txt"));
    let mut fp: Vec<Running> = Vec::new();
    let (fp_k, fp_t) = (s.n + 1, Instant::now());
    if quick || secs == 0 {
        s.skip(
            "agent and idle JVM footprint",
            if quick {
                "--quick"
            } else {
                "--footprint-secs 0"
            },
        );
    } else {
        let name = "agent and idle JVM footprint";
        s.start(name, &format!(" ({secs} s, in the background)"));
        let mut agent = Command::new("agent/benches/footprint.sh");
        agent
            .env("DURATION_SECS", secs.to_string())
            .env("AGENT_PREBUILT", "1")
            .env("TESTBED_PREBUILT", "1")
            .env("KMEDIC_TESTBED_PORT_BASE", (a.port_base + 50).to_string());
        let mut agent = s.cmd(name, agent);
        let mut jvm = Command::new("bench/jvm_floor.sh");
        jvm.env("DURATION_SECS", secs.to_string());
        let started = Running::spawn(
            "agent footprint",
            &mut agent,
            Some(&agent_log),
            &s.log("agent-footprint"),
        )
        .and_then(|r| {
            fp.push(r);
            Running::spawn("idle JVM", &mut jvm, Some(&jvm_log), &s.log("jvm-floor"))
        });
        match started {
            Ok(r) => fp.push(r),
            Err(e) => {
                fp.iter_mut().for_each(Running::stop);
                fp.clear();
                s.finish(fp_k, name, fp_t, Err(format!("{e:#}")));
            }
        }
    }

    // 3 and 4. The comparison and the scale curve, each a `report` child.
    let report = |part: &str, dir: &Path| {
        let mut c = Command::new(&exe);
        c.args(["report", part, "--runs", &runs, "--out"]).arg(dir);
        if quick {
            c.arg("--quick");
        }
        (c, None)
    };
    let compare_dir = logs.join("compare");
    s.run(
        "comparison with Kafka's --generate",
        vec![report("--compare-only", &compare_dir)],
    );
    let scale_dir = logs.join("scale");
    if s.run("scale curve", vec![report("--scale-only", &scale_dir)]) {
        if let Err(e) = std::fs::copy(scale_dir.join("scale.png"), out.join("scale.png")) {
            eprintln!("copying scale.png: {e}");
        }
    }

    // 5. Live.
    let live_md = out.join("live.md");
    if a.skip_live || quick {
        s.skip(
            "live testbed against kafka-reassign-partitions",
            if quick { "--quick" } else { "--skip-live" },
        );
    } else {
        let mut c = Command::new(&exe);
        c.args(["live", "--port-base", &a.port_base.to_string(), "--out"])
            .arg(&live_md);
        s.run(
            "live testbed against kafka-reassign-partitions",
            vec![(c, None)],
        );
    }

    // 6. Warm start (last: its `cargo bench` may wait for the build lock and compile).
    let warm_log = out.join("warm-start.txt");
    if quick && a.fail_step.as_deref() != Some("warm start") {
        s.skip("warm start", "--quick");
    } else {
        let (c, _) = cargo(&[
            "bench",
            "-p",
            "kmedic-master",
            "--bench",
            "model_warm_start",
        ]);
        s.run("warm start", vec![(c, Some(warm_log.clone()))]);
    }

    // 7. Wait for the footprint.
    if !fp.is_empty() {
        eprintln!(
            "step {fp_k}/{}: waiting for the footprint ({:.0} s to go)",
            s.total,
            (secs as f64 + 30.0 - fp_t.elapsed().as_secs_f64()).max(0.0)
        );
        let res = wait_all(&mut fp, &stop).map_err(|e| format!("{e:#}"));
        s.finish(fp_k, "agent and idle JVM footprint", fp_t, res);
    }
    drop(fp);
    if stop.load(Ordering::SeqCst) {
        bail!("stopped by a signal; every step's process group was stopped");
    }

    // Assemble the report from what ran.
    let ok = |name: &str| {
        s.results
            .iter()
            .any(|(n, o)| n == name && matches!(o, Outcome::Done(_)))
    };
    let curve: Option<Vec<scale::Case>> = ok("scale curve")
        .then(|| std::fs::read_to_string(scale_dir.join("scale.json")).ok())
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok());
    let fp_ok = ok("agent and idle JVM footprint");
    let agent = fp_ok
        .then(|| footprint::Samples::read(&agent_log).ok())
        .flatten();
    let warm = ok("warm start")
        .then(|| std::fs::read_to_string(&warm_log).ok())
        .flatten();
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Machine: {machine}. Load average (1, 5, 15 min) {load_start} at the start, {} at the end \
         ({:.0} s in all); the CPUs are shared with other work, so timings are upper bounds.\n",
        crate::loadavg(),
        t0.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        md,
        "Command: `kmedic-bench {}` (release build); medians of {runs} run(s) per case.\n",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    md.push_str("### Steps\n\n| step | result |\n|---|---|\n");
    for (name, o) in &s.results {
        let r = match o {
            Outcome::Done(t) => format!("{t:.0} s"),
            Outcome::Failed(t, e) => format!("**FAILED** after {t:.0} s: {}", e.replace('|', "/")),
            Outcome::Skipped(w) => format!("skipped ({w})"),
        };
        let _ = writeln!(md, "| {name} | {r} |");
    }
    md.push_str("\n### Targets\n\n");
    md.push_str(&targets::table(&targets::rows(&targets::Inputs {
        curve: curve.as_deref(),
        agent: agent.as_ref(),
        warm_start: warm.as_deref(),
    })));
    md.push('\n');
    for (name, dir) in [
        ("comparison with Kafka's --generate", &compare_dir),
        ("scale curve", &scale_dir),
    ] {
        if ok(name) {
            if let Ok(t) = std::fs::read_to_string(dir.join("report.md")) {
                md.push_str(&body(&t));
            }
        }
    }
    if fp_ok {
        match crate::agent_section(&agent_log, &jvm_log, &out) {
            Ok(t) => md.push_str(&t),
            Err(e) => eprintln!("the agent section: {e:#}"),
        }
        match crate::footprint_summary(&agent_log, &out.join(format!("footprint-{secs}s.png"))) {
            Ok(t) => {
                let _ = writeln!(
                    md,
                    "The agent's run alone ({secs} s):\n\n{t}\n![agent RSS over the run](footprint-{secs}s.png)\n"
                );
            }
            Err(e) => eprintln!("the agent summary: {e:#}"),
        }
    }
    if let Some(w) = &warm {
        md.push_str(
            "### Master ingest and warm start\n\nThe master's `model_warm_start` bench (200 \
             brokers, 1M replicas, 24 h of history), in this run:\n\n```text\n",
        );
        md.push_str(w.trim());
        md.push_str("\n```\n\n");
    }
    if ok("live testbed against kafka-reassign-partitions") {
        if let Ok(t) = std::fs::read_to_string(&live_md) {
            md.push_str("### The real kafka-reassign-partitions on a live testbed\n\n");
            md.push_str(t.trim());
            md.push('\n');
        }
    }
    let report = out.join("report.md");
    std::fs::write(&report, &md).with_context(|| format!("writing {}", report.display()))?;
    eprintln!("wrote {}", report.display());
    if let Some(target) = &a.update {
        splice(target, &md, &a.out)?;
        eprintln!("updated {}", target.display());
    }
    let failed: Vec<&str> = s
        .results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed(..)))
        .map(|(n, _)| n.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("{} step(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

/// A child report without its own Machine/Command lines (the top of ours says them).
fn body(report: &str) -> String {
    let mut s = String::new();
    for l in report.lines() {
        if l.starts_with("Machine: ") || l.starts_with("Command: `kmedic-bench report") {
            continue;
        }
        s.push_str(l);
        s.push('\n');
    }
    s.trim_start().to_owned() + "\n"
}

const BEGIN: &str = "<!-- kmedic-bench all: begin -->";
const END: &str = "<!-- kmedic-bench all: end -->";

/// Replaces the text between the markers in `target` with `md`, image links made relative to
/// the target's directory (`out` is relative to the repository root, as the target is).
fn splice(target: &Path, md: &str, out: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(target).with_context(|| format!("reading {}", target.display()))?;
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        bail!(
            "{} has no `{BEGIN}` ... `{END}` lines: add them where the report goes",
            target.display()
        );
    };
    if e < b {
        bail!("{}: `{END}` comes before `{BEGIN}`", target.display());
    }
    let prefix = format!("]({}/", out.display().to_string().trim_end_matches('/'));
    let md = md.replace("](", &prefix);
    let new = format!("{}{BEGIN}\n\n{}\n{}", &text[..b], md.trim(), &text[e..]);
    std::fs::write(target, new).with_context(|| format!("writing {}", target.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_between_the_markers() {
        let dir = tempfile::tempdir().expect("dir");
        let f = dir.path().join("B.md");
        std::fs::write(&f, format!("head\n{BEGIN}\nold\n{END}\ntail\n")).expect("write");
        splice(&f, "new ![x](scale.png)\n", Path::new("bench/results")).expect("splice");
        let t = std::fs::read_to_string(&f).expect("read");
        assert_eq!(
            t,
            format!("head\n{BEGIN}\n\nnew ![x](bench/results/scale.png)\n{END}\ntail\n")
        );
        std::fs::write(&f, "no markers").expect("write");
        let e = splice(&f, "x", Path::new("o")).expect_err("no markers");
        assert!(format!("{e}").contains("no `<!-- kmedic-bench all: begin -->`"));
    }
}
