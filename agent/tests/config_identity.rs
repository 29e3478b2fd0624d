//! The agent's configuration and identity as an operator meets them: the shipped example config,
//! and server.properties / meta.properties files in a temp dir.

use std::path::{Path, PathBuf};

use kmedic_agent::collect::CloudIdentity;
use kmedic_agent::config::{AgentConfig, Compression};
use kmedic_agent::identity::{self, IdentityError};
use kmedic_common::stats::AzSource;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/agent/agent.example.toml")
}

#[test]
fn the_example_config_parses_and_shows_the_defaults() {
    let example = AgentConfig::load(&example_path()).unwrap();
    // The example sets every documented key to its default; only the REQUIRED parts differ.
    let mut defaults =
        AgentConfig::with_defaults(example.server_properties.clone(), "kafka-ops-1:9092");
    defaults.stats.connection.bootstrap_servers =
        example.stats.connection.bootstrap_servers.clone();
    assert_eq!(example, defaults);
    assert_eq!(
        example.server_properties,
        PathBuf::from("/etc/kafka/server.properties")
    );
    assert_eq!(example.stats.compression, Compression::Lz4);
}

#[test]
fn a_typo_in_the_example_is_rejected_with_the_key_named() {
    let text = std::fs::read_to_string(example_path())
        .unwrap()
        .replace("heartbeat_interval_secs", "heartbeat_intervall_secs");
    let err = AgentConfig::parse(&text).unwrap_err().to_string();
    assert!(err.contains("heartbeat_intervall_secs"), "{err}");
}

struct Broker {
    dir: tempfile::TempDir,
}

impl Broker {
    fn new(props: &str, meta: Option<&str>) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let props = props.replace("$DATA", &data.display().to_string());
        std::fs::write(dir.path().join("server.properties"), props).unwrap();
        if let Some(meta) = meta {
            std::fs::write(data.join("meta.properties"), meta).unwrap();
        }
        Broker { dir }
    }

    fn props(&self) -> PathBuf {
        self.dir.path().join("server.properties")
    }
}

const META: &str =
    "#\n#Mon Jan 01 00:00:00 UTC 2026\nversion=1\nnode.id=3\ncluster.id=Xy2_clusterId\n";

#[test]
fn reads_a_kraft_broker_s_files() {
    let b = Broker::new(
        "# a KRaft broker\nprocess.roles=broker\nnode.id = 3\nbroker.rack=az-c\n\
         log.dirs=$DATA, /mnt/second\n\
         listeners=INTERNAL://0.0.0.0:9093,EXTERNAL://kafka-3.example:9092\n\
         inter.broker.listener.name=INTERNAL\ncontroller.listener.names=CONTROLLER\n",
        Some(META),
    );
    let local = identity::load(&b.props()).unwrap();
    assert_eq!(local.broker_id, 3);
    assert_eq!(local.cluster_id, "Xy2_clusterId");
    assert_eq!(local.rack.as_deref(), Some("az-c"));
    assert_eq!(local.log_dirs.len(), 2);
    assert_eq!(local.log_dirs[1], PathBuf::from("/mnt/second"));
    let probe = local.probe_listener.clone().unwrap();
    assert_eq!(
        (probe.name.as_str(), probe.address()),
        ("INTERNAL", "127.0.0.1:9093".to_owned())
    );

    // The AZ: IMDS wins, broker.rack is the fallback.
    let id = identity::identity(&local, None, "h".into());
    assert_eq!(
        (id.az.as_deref(), id.az_source),
        (Some("az-c"), AzSource::BrokerRack)
    );
    let cloud = CloudIdentity {
        az: "eu-west-1c".into(),
        instance_type: "m5.large".into(),
        instance_id: "i-1".into(),
    };
    let id = identity::identity(&local, Some(&cloud), "h".into());
    assert_eq!(
        (id.az.as_deref(), id.az_source),
        (Some("eu-west-1c"), AzSource::Imds)
    );
    assert_eq!(id.instance_type.as_deref(), Some("m5.large"));
}

#[test]
fn falls_back_to_broker_id_and_log_dir_and_skips_controller_listeners() {
    let b = Broker::new(
        "broker.id=3\nlog.dir=$DATA\nlisteners=CONTROLLER://:9094,PLAINTEXT://:9092\n\
         controller.listener.names=CONTROLLER\n",
        Some(META),
    );
    let local = identity::load(&b.props()).unwrap();
    assert_eq!(local.broker_id, 3);
    assert_eq!(local.rack, None);
    assert_eq!(local.probe_listener.unwrap().address(), "127.0.0.1:9092");
}

#[test]
fn errors_name_the_file_and_the_key() {
    let b = Broker::new("log.dirs=$DATA\n", Some(META));
    let err = identity::load(&b.props()).unwrap_err();
    assert!(matches!(err, IdentityError::Missing { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("server.properties") && msg.contains("node.id"),
        "{msg}"
    );

    let b = Broker::new("node.id=three\nlog.dirs=$DATA\n", Some(META));
    let msg = identity::load(&b.props()).unwrap_err().to_string();
    assert!(msg.contains("node.id") && msg.contains("three"), "{msg}");

    let b = Broker::new("node.id=3\nlog.dirs=$DATA\n", None);
    let msg = identity::load(&b.props()).unwrap_err().to_string();
    assert!(msg.contains("meta.properties"), "{msg}");

    let b = Broker::new(
        "node.id=3\nlog.dirs=$DATA\n",
        Some("version=1\nnode.id=3\n"),
    );
    let msg = identity::load(&b.props()).unwrap_err().to_string();
    assert!(
        msg.contains("meta.properties") && msg.contains("cluster.id"),
        "{msg}"
    );

    // meta.properties of another node: the agent would report the wrong broker's disks.
    let b = Broker::new("node.id=4\nlog.dirs=$DATA\n", Some(META));
    let msg = identity::load(&b.props()).unwrap_err().to_string();
    assert!(msg.contains("node.id = 4"), "{msg}");

    let b = Broker::new(
        "node.id=3\nlog.dirs=$DATA\nlisteners=PLAINTEXT//x:1\n",
        Some(META),
    );
    let msg = identity::load(&b.props()).unwrap_err().to_string();
    assert!(msg.contains("listeners"), "{msg}");

    let missing = identity::load(Path::new("/nonexistent/server.properties")).unwrap_err();
    assert!(missing
        .to_string()
        .contains("/nonexistent/server.properties"));
}

#[test]
fn check_config_reports_what_it_resolved() {
    let b = Broker::new("node.id=3\nbroker.rack=az-c\nlog.dirs=$DATA\n", Some(META));
    let config = AgentConfig::with_defaults(b.props(), "k1:9092");
    let out = kmedic_agent::cli::check_config(&config).unwrap();
    assert!(out.contains("broker id:       3"), "{out}");
    assert!(out.contains("cluster id:      Xy2_clusterId"), "{out}");
    assert!(out.contains("record key:      Xy2_clusterId/3"), "{out}");
    assert!(out.contains("probe will not run"), "{out}");
    // The collect settings read as `key = value` lines (TOML values), not a Rust struct.
    assert!(out.contains("\n  proc_root = \"/proc\"\n"), "{out}");
    assert!(out.contains("\n  imds.enabled = "), "{out}");
    assert!(!out.contains("CollectSettings {"), "{out}");
}
