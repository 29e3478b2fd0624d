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
