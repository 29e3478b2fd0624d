use super::*;

const EXAMPLE: &str = include_str!("../../../deploy/master/master.example.toml");

/// The smallest valid config: a stats connection and one cluster, `a`. Tables appended to it
/// belong to that cluster.
const MINIMAL: &str = r#"
[stats.connection]
bootstrap_servers = ["127.0.0.1:9092"]
[[clusters]]
name = "a"
[clusters.connection]
bootstrap_servers = ["127.0.0.1:9092"]
"#;

fn minimal() -> MasterConfig {
    toml::from_str(MINIMAL).unwrap()
}

#[test]
fn example_config_parses_validates_and_matches_defaults() {
    let cfg: MasterConfig = toml::from_str(EXAMPLE).unwrap();
    cfg.validate().unwrap();
    assert_eq!(cfg.clusters.len(), 2);
    let prod = cfg.cluster("prod-eu1").unwrap();
    // The example shows the defaults explicitly: they must be the real ones.
    assert_eq!(prod.policy, PolicyConfig::default());
    assert_eq!(prod.planner, crate::plan::Limits::default());
    assert_eq!(cfg.window, WindowConfig::default());
    assert_eq!(cfg.checkpoint, CheckpointConfig::default());
    assert_eq!(cfg.poll_interval_secs, default_poll_interval_secs());
    assert_eq!(cfg.decommission, DecommissionConfig::default());
    assert_eq!(cfg.stats.topic, default_stats_topic());
    assert_eq!(prod.limits.for_broker(7), (250_000_000, 250_000_000));
    assert_eq!(prod.limits.for_broker(1), (125_000_000, 125_000_000));
    assert!(cfg.cluster("staging").unwrap().policy.dry_run);
}

#[test]
fn defaults_fill_a_minimal_config() {
    let cfg = minimal();
    cfg.validate().unwrap();
    assert_eq!(cfg.window.buckets(), 96);
    assert_eq!(cfg.clusters[0].policy.heal_grace_secs, 300);
}

#[test]
fn unknown_keys_are_rejected() {
    let err = toml::from_str::<MasterConfig>(&format!("{EXAMPLE}\nheal_grace = 3\n")).unwrap_err();
    assert!(err.to_string().contains("heal_grace"), "{err}");
}

#[test]
fn replace_before_heal_is_rejected_with_a_fix() {
    let mut cfg = minimal();
    cfg.clusters[0].policy.replace_grace_secs = 10;
    let err = cfg.validate().unwrap_err().to_string();
    assert!(
        err.contains("raise replace_grace_secs to at least 300"),
        "{err}"
    );
}

#[test]
fn window_must_be_a_multiple_of_the_bucket() {
    let mut cfg = minimal();
    cfg.window.window_secs = 1000;
    cfg.window.bucket_secs = 300;
    let err = cfg.validate().unwrap_err().to_string();
    assert!(err.contains("use for example window_secs = 900"), "{err}");
}

#[test]
fn duplicate_names_and_overrides_are_rejected() {
    let mut cfg = minimal();
    cfg.clusters.push(cfg.clusters[0].clone());
    assert!(cfg.validate().unwrap_err().to_string().contains("unique"));
    let mut cfg = minimal();
    let o = BrokerLimitOverride {
        broker_id: 1,
        in_bytes_per_sec: Some(1),
        out_bytes_per_sec: None,
    };
    cfg.clusters[0].limits.overrides = vec![o.clone(), o];
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .contains("merge them"));
}

#[test]
fn load_reports_the_path_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.toml");
    std::fs::write(&p, "poll_interval_secs = \"x\"\n").unwrap();
    let err = MasterConfig::load(&p).unwrap_err().to_string();
    assert!(err.contains("m.toml") && err.contains("line 1"), "{err}");
    assert!(matches!(
        MasterConfig::load(&dir.path().join("none.toml")),
        Err(Error::Read { .. })
    ));
}

#[test]
fn a_heal_grace_shorter_than_a_restart_needs_the_override() {
    let mut cfg = minimal();
    cfg.clusters[0].policy.heal_grace_secs = 20;
    let err = cfg.validate().unwrap_err().to_string();
    assert!(
        err.contains("policy.heal_grace_secs = 20")
            && err.contains("allow_short_heal_grace = true")
            && err.contains("at least 60"),
        "{err}"
    );
    cfg.clusters[0].policy.allow_short_heal_grace = true;
    cfg.validate().unwrap();
    let mut cfg = minimal();
    cfg.clusters[0].policy.heal_grace_secs = 60;
    cfg.validate().unwrap();
}

#[test]
fn agent_silence_shorter_than_two_heartbeats_is_refused() {
    let mut cfg = minimal();
    cfg.clusters[0].policy.agent_silence_secs = 19;
    let err = cfg.validate().unwrap_err().to_string();
    assert!(
        err.contains("policy.agent_silence_secs = 19") && err.contains("at least 20"),
        "{err}"
    );
    cfg.clusters[0].policy.agent_silence_secs = 20;
    cfg.validate().unwrap();
    // Agents configured to beat faster allow a shorter silence.
    cfg.clusters[0].policy.agent_heartbeat_secs = 2;
    cfg.clusters[0].policy.agent_silence_secs = 4;
    cfg.validate().unwrap();
    cfg.clusters[0].policy.agent_heartbeat_secs = 0;
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .contains("policy.agent_heartbeat_secs = 0"));
}

#[test]
fn nan_infinite_and_negative_planner_limits_are_refused_naming_the_key() {
    for (line, key) in [
        ("target_ratio = nan", "planner.target_ratio = NaN"),
        ("target_ratio = inf", "planner.target_ratio = inf"),
        ("target_ratio = -1.5", "planner.target_ratio = -1.5"),
        ("target_ratio = 0.5", "planner.target_ratio = 0.5"),
        (
            "max_disk_utilization = nan",
            "planner.max_disk_utilization = NaN",
        ),
        (
            "max_disk_utilization = -0.2",
            "planner.max_disk_utilization = -0.2",
        ),
        (
            "max_disk_utilization = 1.5",
            "planner.max_disk_utilization = 1.5",
        ),
    ] {
        let text = format!("{MINIMAL}[clusters.planner]\n{line}\n");
        let cfg: MasterConfig = toml::from_str(&text).unwrap();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.contains(key) && err.contains("default"),
            "{line}: {err}"
        );
    }
    // Negative integers do not even parse, and the error names the key.
    let err = toml::from_str::<MasterConfig>(&format!(
        "{EXAMPLE}\n[[clusters]]\nname = \"n\"\n[clusters.connection]\nbootstrap_servers = \
         [\"x:1\"]\n[clusters.planner]\nmax_bytes_to_move = -1\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("max_bytes_to_move"), "{err}");
}

#[test]
fn mass_failure_thresholds_default_and_are_checked() {
    let p = &minimal().clusters[0].policy;
    assert_eq!(p.mass_failure_max_per_rack, 1);
    assert_eq!(p.mass_failure_max_percent, 10);
    assert!(!p.mass_failure_override);
    let mut cfg = minimal();
    cfg.clusters[0].policy.mass_failure_max_percent = 150;
    let err = cfg.validate().unwrap_err().to_string();
    assert!(
        err.contains("policy.mass_failure_max_percent = 150"),
        "{err}"
    );
}
