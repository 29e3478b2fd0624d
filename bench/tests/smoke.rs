//! The CI smoke run of the report harness: `report --quick` on tiny sizes into a temp dir, so the
//! harness cannot rot. The full report is made by hand (BENCHMARKS.md).

use std::process::Command;

#[test]
fn quick_report_has_its_tables_and_chart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_kmedic-bench"))
        .args(["report", "--quick", "--out"])
        .arg(dir.path())
        .output()
        .expect("running kmedic-bench");
    assert!(
        out.status.success(),
        "kmedic-bench report --quick failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
    for want in [
        "Machine: ",
        "### Our planner against Kafka's `--generate`",
        "| brokers | replicas | scenario | tool |",
        "| 12 | ",
        "dead broker | kmedic",
        "add empty brokers | kmedic",
        "full rebalance | kmedic",
        "### Scale curve",
        "| 50 | 9999 | even |",
        "| 54 | ",
        "4/3/2",
        "| heal ≤ 50 ms at 200 brokers / 1M replicas | not run | not measured |",
        "heal grows as replicas^",
    ] {
        assert!(md.contains(want), "report.md lacks {want:?}:\n{md}");
    }
    // Kafka's column needs javac and the jars (tests/kafka/fetch-jars.sh, as CI's e2e job has);
    // without them the report must say why it is missing.
    let jars = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/kafka/jars/kafka-metadata-4.3.1.jar"
    );
    if std::path::Path::new(jars).exists() {
        assert!(md.contains("dead broker | Kafka --generate"), "{md}");
    } else {
        assert!(md.contains("Kafka's column is missing"), "{md}");
    }
    let png = std::fs::read(dir.path().join("scale.png")).expect("scale.png");
    assert!(png.starts_with(b"\x89PNG"), "scale.png is not a PNG");
}

/// Processes whose command line mentions `needle` (the children of a run under a temp dir).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle))
        .collect()
}

/// `kmedic-bench all`'s plumbing on tiny sizes: every step is named with its progress line, a
/// failed step is reported and the rest go on, the exit is non-zero, and the report holds the
/// targets table and the sections of the steps that ran.
#[test]
fn all_quick_goes_on_after_a_failed_step_and_exits_non_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_kmedic-bench"))
        .args(["all", "--quick", "--fail-step", "warm start", "--out"])
        .arg(dir.path().join("results"))
        .arg("--logs")
        .arg(dir.path().join("logs"))
        .output()
        .expect("running kmedic-bench all");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a failed step must fail the run:\n{err}"
    );
    for want in [
        "step 1/6: build: skipped (--quick)",
        "step 2/6: agent and idle JVM footprint: skipped (--quick)",
        "step 6/6: warm start FAILED",
        "step 3/6: comparison with Kafka's --generate ... ",
        "step 4/6: scale curve ... ",
        "step 5/6: live testbed against kafka-reassign-partitions: skipped (--quick)",
        "1 step(s) failed: warm start",
    ] {
        assert!(err.contains(want), "stderr lacks {want:?}:\n{err}");
    }
    let md = std::fs::read_to_string(dir.path().join("results/report.md")).expect("report.md");
    for want in [
        "Machine: ",
        "Command: `kmedic-bench all --quick --fail-step warm start --out ",
        "| warm start | **FAILED** after ",
        "| scale curve | ",
        "### Targets",
        "| 3 | agent RSS ≤ 12 MB",
        "| 4 | ready to act ≤ 30 s",
        "| 10 | heal ≤ 50 ms at 200 brokers / 1M replicas | — | not measured |",
        "0 met, 0 missed, 12 not measured.",
        "| brokers | replicas | scenario | tool |",
        "### Scale curve",
        "| 54 | ",
    ] {
        assert!(md.contains(want), "report.md lacks {want:?}:\n{md}");
    }
    let png = std::fs::read(dir.path().join("results/scale.png")).expect("scale.png");
    assert!(png.starts_with(b"\x89PNG"), "scale.png is not a PNG");
}

/// SIGTERM to `kmedic-bench all` stops the step running and everything it started.
#[test]
fn all_stopped_by_sigterm_leaves_no_child_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let needle = dir.path().display().to_string();
    let mut all = Command::new(env!("CARGO_BIN_EXE_kmedic-bench"))
        .args(["all", "--quick", "--out"])
        .arg(dir.path().join("results"))
        .arg("--logs")
        .arg(dir.path().join("logs"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting kmedic-bench all");
    let t = std::time::Instant::now();
    // Wait for a step's child (its command line names the temp dir); the run itself also does.
    while processes_mentioning(&needle).len() < 2 {
        assert!(t.elapsed().as_secs() < 60, "no step started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &all.id().to_string()])
        .status();
    let status = all.wait().expect("waiting");
    assert!(!status.success(), "a stopped run must exit non-zero");
    let left = processes_mentioning(&needle);
    assert!(left.is_empty(), "left running: {left:?}");
}
