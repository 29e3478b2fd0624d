use super::*;

const EXAMPLE: &str = include_str!("../../../deploy/master/master.example.toml");

fn minimal() -> MasterConfig {
    toml::from_str(
        r#"
        [stats.connection]
        bootstrap_servers = ["127.0.0.1:9092"]
        [[clusters]]
        name = "a"
        [clusters.connection]
        bootstrap_servers = ["127.0.0.1:9092"]
        "#,
    )
    .unwrap()
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
