//! What the operator commands print: `check-config` and `sample --once --json`.

use std::fmt::Write as _;
use std::time::Duration;

use kmedic_common::codec;
use kmedic_common::stats::StatsRecord;

use crate::config::AgentConfig;
use crate::identity;
use crate::runtime::{full_record, resolve_identity, sampler_for};
use crate::Result;

/// Loads and checks everything the agent would at start-up, without publishing, and describes
/// what it resolved.
pub fn check_config(config: &AgentConfig) -> Result<String> {
    config.validate()?;
    let local = identity::load(&config.server_properties)?;
    let s = &config.stats;
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "server.properties: {}",
        local.server_properties.display()
    );
    let _ = writeln!(out, "  broker id:       {}", local.broker_id);
    let _ = writeln!(out, "  cluster id:      {}", local.cluster_id);
    let _ = writeln!(
        out,
        "  rack:            {}",
        local.rack.as_deref().unwrap_or("(none)")
    );
    let _ = writeln!(out, "  log dirs:        {:?}", local.log_dirs);
    let _ = writeln!(
        out,
        "  probe listener:  {}",
        local
            .probe_listener
            .as_ref()
            .map(|l| format!("{} ({})", l.address(), l.name))
            .unwrap_or_else(|| "(none: the ApiVersions probe will not run)".into())
    );
    let roles = match (&config.cluster_connection, &local.probe_listener) {
        (Some(c), _) => format!(
            "{} ({})",
            c.bootstrap_servers.join(","),
            c.security_protocol.as_str()
        ),
        (None, Some(l)) => format!("{} (PLAINTEXT, the broker's listener)", l.address()),
        (None, None) => "(none: roles will be reported as unknown)".into(),
    };
    let _ = writeln!(out, "  replica roles:   {roles}");
    let _ = writeln!(
        out,
        "stats topic:       {} (create: {})",
        s.topic, s.create_topic
    );
    let _ = writeln!(
        out,
        "  cluster:         {} ({})",
        s.connection.bootstrap_servers.join(","),
        s.connection.security_protocol.as_str()
    );
    let _ = writeln!(
        out,
        "  record key:      {}/{}",
        local.cluster_id, local.broker_id
    );
    let _ = writeln!(
        out,
        "  cadence:         heartbeat every {} s, full stats every {} s",
        s.heartbeat_interval_secs, s.full_interval_secs
    );
    let _ = writeln!(
        out,
        "  buffer:          {} records / {} bytes, drop oldest",
        s.buffer_max_records, s.buffer_max_bytes
    );
    let _ = writeln!(out, "  compression:     {}", s.compression.as_rdkafka());
    let _ = writeln!(
        out,
        "metrics:           {}",
        if config.metrics.enabled {
            format!("http://{}/metrics", config.metrics.listen_address)
        } else {
            "disabled".into()
        }
    );
    let _ = writeln!(out, "collect:");
    match toml::Table::try_from(&config.collect) {
        Ok(collect) => settings_lines(&mut out, "", &collect),
        // Only a path that is not UTF-8 gets here.
        Err(e) => {
            let _ = writeln!(out, "  (not shown: {e})");
        }
    }
    Ok(out)
}

/// One `  key = value` line per setting (TOML values; a nested table's keys as `table.key`),
/// the form the `[collect]` section of the config file takes.
fn settings_lines(out: &mut String, prefix: &str, table: &toml::Table) {
    for (k, v) in table {
        match v {
            toml::Value::Table(t) => settings_lines(out, &format!("{prefix}{k}."), t),
            v => {
                let _ = writeln!(out, "  {prefix}{k} = {v}");
            }
        }
    }
}

/// Takes one full sample (after a baseline `rate_window` earlier when it is non-zero, so rates
/// are filled in), sends it through the codec both ways, and returns the decoded record.
pub async fn sample_once(
    config: &AgentConfig,
    rate_window: Duration,
) -> anyhow::Result<StatsRecord> {
    let local = identity::load(&config.server_properties)?;
    let mut sampler = sampler_for(config, &local);
    let identity = resolve_identity(&sampler, &local).await;
    if !rate_window.is_zero() {
        let _ = sampler.full().await;
        tokio::time::sleep(rate_window).await;
    }
    let record = full_record(&mut sampler, &identity, 1).await;
    let bytes = codec::try_encode(&record)?;
    let decoded = codec::decode(&bytes)?;
    anyhow::ensure!(
        decoded == record,
        "the codec changed the record on a round trip"
    );
    Ok(decoded)
}
