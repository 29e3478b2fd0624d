//! The operator commands, run as the real binary on temp-dir fixtures (no Kafka needed).

use std::path::Path;
use std::process::Command;

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kmedic-agent"))
}

/// A broker's files: server.properties, meta.properties and two partition directories.
fn fixture(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    for p in ["orders-0", "orders-1"] {
        std::fs::create_dir_all(data.join(p)).unwrap();
        std::fs::write(
            data.join(p).join("00000000000000000000.log"),
            vec![7u8; 1000],
        )
        .unwrap();
        std::fs::write(data.join(p).join("00000000000000000000.index"), b"").unwrap();
    }
    std::fs::write(
        data.join("meta.properties"),
        "version=1\nnode.id=2\ncluster.id=cli-test\n",
    )
    .unwrap();
    let props = dir.join("server.properties");
    std::fs::write(&props, format!("node.id=2\nlog.dirs={}\n", data.display())).unwrap();
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "server_properties = {props:?}\n[stats.connection]\nbootstrap_servers = [\"127.0.0.1:1\"]\n\
             [collect.imds]\nenabled = false\n"
        ),
    )
    .unwrap();
    config
}

#[test]
fn sample_once_prints_a_decoded_full_record_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture(dir.path());
    let out = agent()
        .args(["sample", "--once", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let full = &json["Full"];
    assert_eq!(full["identity"]["cluster_id"], "cli-test");
    assert_eq!(full["identity"]["broker_id"], 2);
    assert_eq!(full["topics"], serde_json::json!(["orders"]));
    let replicas = full["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 2);
    assert!(
        replicas.iter().all(|r| r["size_bytes"] == 1000),
        "{replicas:?}"
    );
}

#[test]
fn check_config_fails_with_the_reason_and_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture(dir.path());
    let ok = agent()
        .arg("check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("cli-test/2"));

    let text = std::fs::read_to_string(&config).unwrap() + "[stats]\nfull_interval_secs = 1\n";
    std::fs::write(&config, text).unwrap();
    let bad = agent()
        .arg("check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("full_interval_secs (1)"), "{err}");
    assert!(err.contains("agent.example.toml"), "{err}");
}
