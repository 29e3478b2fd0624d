//! Who the agent speaks for: the broker's id, log dirs, rack and listener from server.properties,
//! and the cluster id from meta.properties in its first log dir.
//!
//! Errors name the file and the key, because the person reading them is fixing a broker's config
//! at 3 a.m.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use kmedic_common::stats::{AzSource, Identity};

use crate::collect::CloudIdentity;

/// Why the broker's identity could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A properties file could not be read or parsed.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A key the agent needs is missing.
    #[error("{path}: no {key} (set it, or point the agent at the broker's real file)")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The key (or keys) looked for.
        key: &'static str,
    },
    /// A key has a value the agent cannot use.
    #[error("{path}: {key} = {value:?} is not valid: {reason}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: &'static str,
        /// Its value.
        value: String,
        /// Why it is not usable.
        reason: String,
    },
}

/// Result with [`IdentityError`] as the default error.
pub type Result<T, E = IdentityError> = std::result::Result<T, E>;

/// One listener of the broker, as in `listeners`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The listener's name, for example `PLAINTEXT` or `INTERNAL`.
    pub name: String,
    /// The host to connect to from this host (`127.0.0.1` for a wildcard or empty host).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Listener {
    /// `host:port`, bracketing IPv6 hosts.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// What the agent learned about its broker from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalBroker {
    /// The server.properties file read.
    pub server_properties: PathBuf,
    /// `node.id`, or `broker.id` when there is no node.id.
    pub broker_id: i32,
    /// `log.dirs` (or `log.dir`), in order.
    pub log_dirs: Vec<PathBuf>,
    /// `broker.rack`, if set.
    pub rack: Option<String>,
    /// The listener the local probe should use: `inter.broker.listener.name` if set, otherwise
    /// the first listener that is not a controller listener. `None` if there is none.
    pub probe_listener: Option<Listener>,
    /// `cluster.id` from meta.properties in the first log dir.
    pub cluster_id: String,
}

fn read_properties(path: &Path) -> Result<HashMap<String, String>> {
    let file = std::fs::File::open(path).map_err(|e| IdentityError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    java_properties::read(std::io::BufReader::new(file)).map_err(|e| IdentityError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn non_empty<'a>(props: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// Parses a `listeners` value (`NAME://host:port,...`).
fn parse_listeners(path: &Path, value: &str) -> Result<Vec<Listener>> {
    let bad = |reason: &str| IdentityError::BadValue {
        path: path.to_owned(),
        key: "listeners",
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, rest) = item
            .split_once("://")
            .ok_or_else(|| bad("expected NAME://host:port"))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("expected NAME://host:port"))?;
        let port: u16 = port.parse().map_err(|_| bad("port is not a number"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        // A wildcard or empty host binds every interface; the loopback reaches it from here.
        let host = match host {
            "" | "0.0.0.0" => "127.0.0.1",
            "::" => "::1",
            h => h,
        };
        out.push(Listener {
            name: name.to_owned(),
            host: host.to_owned(),
            port,
        });
    }
    Ok(out)
}

/// Reads server.properties and the first log dir's meta.properties.
pub fn load(server_properties: &Path) -> Result<LocalBroker> {
    let path = server_properties;
    let props = read_properties(path)?;

    let (id_key, id_value) = match (non_empty(&props, "node.id"), non_empty(&props, "broker.id")) {
        (Some(v), _) => ("node.id", v),
        (None, Some(v)) => ("broker.id", v),
        (None, None) => {
            return Err(IdentityError::Missing {
                path: path.to_owned(),
                key: "node.id (or broker.id)",
            })
        }
    };
    let broker_id: i32 = id_value.parse().map_err(|_| IdentityError::BadValue {
        path: path.to_owned(),
        key: id_key,
        value: id_value.to_owned(),
        reason: "not an integer".into(),
    })?;

    let dirs = non_empty(&props, "log.dirs")
        .or_else(|| non_empty(&props, "log.dir"))
        .ok_or_else(|| IdentityError::Missing {
            path: path.to_owned(),
            key: "log.dirs (or log.dir)",
        })?;
    let log_dirs: Vec<PathBuf> = dirs
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    let Some(first_dir) = log_dirs.first() else {
        return Err(IdentityError::Missing {
            path: path.to_owned(),
            key: "log.dirs (or log.dir)",
        });
    };

    let listeners = match non_empty(&props, "listeners") {
        Some(v) => parse_listeners(path, v)?,
        None => Vec::new(),
    };
    let controller_names: Vec<&str> = non_empty(&props, "controller.listener.names")
        .map(|v| v.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let probe_listener = match non_empty(&props, "inter.broker.listener.name") {
        Some(name) => listeners.iter().find(|l| l.name == name).cloned(),
        None => listeners
            .iter()
            .find(|l| !controller_names.contains(&l.name.as_str()))
            .cloned(),
    };

    let meta_path = first_dir.join("meta.properties");
    let meta = read_properties(&meta_path)?;
    let cluster_id = non_empty(&meta, "cluster.id")
        .ok_or_else(|| IdentityError::Missing {
            path: meta_path.clone(),
            key: "cluster.id",
        })?
        .to_owned();
    // A meta.properties written for another node means the agent reads the wrong broker's disks.
    if let Some(meta_id) = non_empty(&meta, "node.id") {
        if meta_id != broker_id.to_string() {
            return Err(IdentityError::BadValue {
                path: meta_path,
                key: "node.id",
                value: meta_id.to_owned(),
                reason: format!("{} says {id_key} = {broker_id}", path.display()),
            });
        }
    }

    Ok(LocalBroker {
        server_properties: path.to_owned(),
        broker_id,
        log_dirs,
        rack: non_empty(&props, "broker.rack").map(str::to_owned),
        probe_listener,
        cluster_id,
    })
}

/// The identity stamped on every record: the broker's, plus the cloud's when known. The AZ comes
/// from IMDS when it answered, otherwise from `broker.rack` (which operators set to the AZ).
pub fn identity(local: &LocalBroker, cloud: Option<&CloudIdentity>, hostname: String) -> Identity {
    let (az, az_source) = match (cloud, &local.rack) {
        (Some(c), _) => (Some(c.az.clone()), AzSource::Imds),
        (None, Some(rack)) => (Some(rack.clone()), AzSource::BrokerRack),
        (None, None) => (None, AzSource::Unknown),
    };
    Identity {
        cluster_id: local.cluster_id.clone(),
        broker_id: local.broker_id,
        rack: local.rack.clone(),
        hostname,
        az,
        az_source,
        instance_type: cloud.map(|c| c.instance_type.clone()),
        instance_id: cloud.map(|c| c.instance_id.clone()),
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// This host's name, or `unknown` when the OS will not say.
pub fn hostname() -> String {
    sysinfo::System::host_name().unwrap_or_else(|_| "unknown".to_owned())
}
