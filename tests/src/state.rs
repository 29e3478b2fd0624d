//! The JSON state file of a by-hand testbed (`deploy/testbed`): what runs where.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::CONTROLLER_ID;
use crate::{Error, Result, Testbed};

/// A running testbed as `deploy/testbed status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestbedState {
    /// Kafka cluster id.
    pub cluster_id: String,
    /// Bootstrap list of every broker.
    pub bootstrap: String,
    /// Folder of all node folders.
    pub root: PathBuf,
    /// Pid of the kmedic-testbed process that owns the JVMs.
    pub supervisor_pid: u32,
    /// Controller first, then brokers by id.
    pub nodes: Vec<NodeState>,
}

/// One node of a [`TestbedState`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeState {
    /// node.id.
    pub id: i32,
    /// "controller" or "broker".
    pub role: String,
    /// Listener port on 127.0.0.1.
    pub port: u16,
    /// broker.rack (empty for the controller).
    pub rack: String,
    /// JVM pid when it was written.
    pub pid: Option<u32>,
    /// Kafka log dir.
    pub log_dir: PathBuf,
    /// server.properties.
    pub server_properties: PathBuf,
    /// Console log of the JVM.
    pub log_file: PathBuf,
}

impl Testbed {
    /// A snapshot of what runs where.
    pub fn state(&self) -> TestbedState {
        let mut nodes = Vec::new();
        for id in std::iter::once(CONTROLLER_ID).chain(self.broker_ids()) {
            let controller = id == CONTROLLER_ID;
            nodes.push(NodeState {
                id,
                role: if controller { "controller" } else { "broker" }.into(),
                port: self.cfg.port(id),
                rack: if controller {
                    String::new()
                } else {
                    self.rack(id)
                },
                pid: self.pid(id),
                log_dir: self.log_dir(id),
                server_properties: self.server_properties(id),
                log_file: self.node_log(id),
            });
        }
        TestbedState {
            cluster_id: self.cluster_id(),
            bootstrap: self.bootstrap(),
            root: self.root_dir(),
            supervisor_pid: std::process::id(),
            nodes,
        }
    }
}

/// Writes `state` as JSON to `path` (through a temp file, so readers never see half a file).
pub fn write_state(path: &Path, state: &TestbedState) -> Result<()> {
    let json =
        serde_json::to_string_pretty(state).map_err(|e| Error::io("encoding state", e.into()))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Reads a state file written by [`write_state`].
pub fn read_state(path: &Path) -> Result<TestbedState> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::io(format!("parsing {}", path.display()), e.into()))
}
