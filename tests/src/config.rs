//! What cluster to start: size, ports, racks, heaps, and the Kafka settings tests rely on.

use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, Result};

/// Environment variable that moves the whole port range (controller on the base, broker N on base+N).
pub const PORT_BASE_ENV: &str = "KMEDIC_TESTBED_PORT_BASE";
/// Port base when [`PORT_BASE_ENV`] is unset; the range CI uses.
pub const DEFAULT_PORT_BASE: u16 = 19500;
/// node.id of the dedicated KRaft controller.
pub const CONTROLLER_ID: i32 = 100;

/// How to start a testbed cluster. Build it with [`TestbedConfig::from_env`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct TestbedConfig {
    /// Number of brokers, ids 1..=brokers (default 6). At most 99, so every port fits above the base.
    pub brokers: usize,
    /// The controller listens on `port_base`, broker `id` on `port_base + id`.
    pub port_base: u16,
    /// Maximum heap of every broker JVM, in MiB (default 256).
    pub heap_mb: u32,
    /// Maximum heap of the controller JVM, in MiB (default 192).
    pub controller_heap_mb: u32,
    /// `broker.rack` of broker ids in turn: 1 gets racks[0], 2 racks[1], ... (default az-a, az-b, az-c).
    pub racks: Vec<String>,
    /// Where node dirs go. `None`: a temp dir removed on drop. `Some`: kept after drop (logs stay).
    pub work_dir: Option<PathBuf>,
    /// Controller `broker.session.timeout.ms`: how soon a silent broker is fenced (default 6000).
    pub session_timeout_ms: u32,
    /// How long [`crate::Testbed::start`] (and restart/replace) wait for brokers to be ready (default 120 s).
    pub startup_timeout_secs: u64,
    /// Extra `key=value` lines appended to every broker's server.properties (they win over the defaults).
    pub extra_broker_props: Vec<(String, String)>,
}

fn default_brokers() -> usize {
    6
}
fn default_heap_mb() -> u32 {
    256
}
fn default_controller_heap_mb() -> u32 {
    192
}
fn default_racks() -> Vec<String> {
    ["az-a", "az-b", "az-c"]
        .iter()
        .map(|r| r.to_string())
        .collect()
}
fn default_session_timeout_ms() -> u32 {
    6000
}
fn default_startup_timeout_secs() -> u64 {
    120
}

impl Default for TestbedConfig {
    fn default() -> Self {
        TestbedConfig {
            brokers: default_brokers(),
            port_base: DEFAULT_PORT_BASE,
            heap_mb: default_heap_mb(),
            controller_heap_mb: default_controller_heap_mb(),
            racks: default_racks(),
            work_dir: None,
            session_timeout_ms: default_session_timeout_ms(),
            startup_timeout_secs: default_startup_timeout_secs(),
            extra_broker_props: Vec::new(),
        }
    }
}

impl TestbedConfig {
    /// Defaults, with the port base from `KMEDIC_TESTBED_PORT_BASE` when set (else 19500).
    pub fn from_env() -> Self {
        let port_base = std::env::var(PORT_BASE_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u16>().ok())
            .unwrap_or(DEFAULT_PORT_BASE);
        TestbedConfig {
            port_base,
            ..TestbedConfig::default()
        }
    }

    /// The same config with `n` brokers.
    pub fn with_brokers(mut self, n: usize) -> Self {
        self.brokers = n;
        self
    }

    /// The same config with another port base.
    pub fn with_port_base(mut self, port_base: u16) -> Self {
        self.port_base = port_base;
        self
    }

    /// The same config with node dirs under `dir` (kept after drop).
    pub fn with_work_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.work_dir = Some(dir.into());
        self
    }

    /// The same config with one more broker property.
    pub fn with_broker_prop(mut self, key: &str, value: &str) -> Self {
        self.extra_broker_props
            .push((key.to_string(), value.to_string()));
        self
    }

    /// How long to wait for brokers to become ready.
    pub fn startup_timeout(&self) -> Duration {
        Duration::from_secs(self.startup_timeout_secs)
    }

    /// The broker ids, 1..=brokers.
    pub fn broker_ids(&self) -> Vec<i32> {
        (1..=self.brokers as i32).collect()
    }

    /// The port of a node (the controller is [`CONTROLLER_ID`]).
    pub fn port(&self, id: i32) -> u16 {
        if id == CONTROLLER_ID {
            self.port_base
        } else {
            self.port_base + id as u16
        }
    }

    /// The rack of a broker: racks in turn by id.
    pub fn rack(&self, id: i32) -> String {
        if self.racks.is_empty() {
            return String::new();
        }
        let idx = (id.max(1) as usize - 1) % self.racks.len();
        self.racks[idx].clone()
    }

    /// Checks the fields fit together; the error says what to change.
    pub fn validate(&self) -> Result<()> {
        if self.brokers == 0 || self.brokers > 99 {
            return Err(Error::Config(format!(
                "brokers = {}: use 1 to 99 (broker ports are port_base+1..=port_base+99)",
                self.brokers
            )));
        }
        if u32::from(self.port_base) + 99 > u32::from(u16::MAX) || self.port_base < 1024 {
            return Err(Error::Config(format!(
                "port_base = {}: use 1024..={} so every node's port fits",
                self.port_base,
                u16::MAX - 99
            )));
        }
        if self.heap_mb < 128 {
            return Err(Error::Config(format!(
                "heap_mb = {}: a Kafka broker needs at least 128 MiB",
                self.heap_mb
            )));
        }
        if self.racks.iter().any(|r| r.trim().is_empty()) {
            return Err(Error::Config("racks must not contain empty names".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn racks_rotate_and_ports_follow_ids() {
        let cfg = TestbedConfig::default().with_port_base(20000);
        let racks: Vec<String> = (1..=7).map(|id| cfg.rack(id)).collect();
        assert_eq!(
            racks,
            ["az-a", "az-b", "az-c", "az-a", "az-b", "az-c", "az-a"]
        );
        assert_eq!(cfg.port(CONTROLLER_ID), 20000);
        assert_eq!(cfg.port(6), 20006);
        assert_eq!(cfg.broker_ids(), vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn validate_rejects_unusable_configs() {
        assert!(TestbedConfig::default().validate().is_ok());
        assert!(TestbedConfig::default().with_brokers(0).validate().is_err());
        assert!(TestbedConfig::default()
            .with_brokers(100)
            .validate()
            .is_err());
        assert!(TestbedConfig::default()
            .with_port_base(65500)
            .validate()
            .is_err());
        let small_heap = TestbedConfig {
            heap_mb: 64,
            ..TestbedConfig::default()
        };
        assert!(small_heap.validate().is_err());
    }
}
