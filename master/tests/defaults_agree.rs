//! The agent and the master agree by default (issue 7 item 13): with only the keys a user must
//! give, the topic the agents publish to is the topic the master reads.

const AGENT_EXAMPLE: &str = include_str!("../../deploy/agent/agent.example.toml");

#[test]
fn default_stats_topic_is_the_agents_default() {
    // The agent's example config shows its defaults (the agent's own test checks that).
    let agent: toml::Value = toml::from_str(AGENT_EXAMPLE).expect("agent example parses");
    let agent_topic = agent["stats"]["topic"].as_str().expect("[stats] topic");
    // A master config with only what a user must give: no [stats] topic.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("master.toml");
    std::fs::write(
        &path,
        r#"
[stats.connection]
bootstrap_servers = ["127.0.0.1:9092"]
[[clusters]]
name = "c"
[clusters.connection]
bootstrap_servers = ["127.0.0.1:9092"]
"#,
    )
    .expect("write config");
    let cfg = kmedic_master::config::MasterConfig::load(&path).expect("minimal config loads");
    assert_eq!(cfg.stats.topic, agent_topic);
    assert_eq!(cfg.stats.topic, "__kmedic_stats");
}
