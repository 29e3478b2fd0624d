//! The testbed cluster: start, accessors, readiness and cleanup. Breaking and repairing brokers
//! is in `control.rs`, topics and data in `data.rs`.

use std::collections::BTreeMap;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::cds::CdsDump;
use crate::config::{TestbedConfig, CONTROLLER_ID};
use crate::kafka_files::{self, LOG4J2_PROPERTIES};
use crate::process::{self, Spawner};
use crate::{client, Error, Result};

/// One Kafka process of the testbed (the controller or a broker).
pub(crate) struct Node {
    pub(crate) id: i32,
    /// The node's own folder: server.properties, kafka.log, kafka.pid and data/.
    pub(crate) dir: PathBuf,
    pub(crate) child: Option<Child>,
}

impl Node {
    pub(crate) fn name(&self) -> String {
        if self.id == CONTROLLER_ID {
            format!("controller {}", self.id)
        } else {
            format!("broker {}", self.id)
        }
    }
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    pub(crate) fn props(&self) -> PathBuf {
        self.dir.join("server.properties")
    }
    pub(crate) fn log_file(&self) -> PathBuf {
        self.dir.join("kafka.log")
    }
    pub(crate) fn pid_file(&self) -> PathBuf {
        self.dir.join("kafka.pid")
    }
    /// The pid if the process is running (stopped with SIGSTOP counts as running).
    pub(crate) fn running_pid(&mut self) -> Option<u32> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(None) => Some(child.id()),
            _ => None,
        }
    }
}

/// A real Kafka 4.3 KRaft cluster on 127.0.0.1: one dedicated controller (node.id 100) and brokers
/// 1..=N in racks az-a, az-b, az-c in turn. Dropping it kills every JVM it started and removes its
/// temp dir; JVMs also die by PR_SET_PDEATHSIG if the test process itself is killed.
pub struct Testbed {
    pub(crate) cfg: TestbedConfig,
    pub(crate) cluster_id: String,
    pub(crate) jars: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) nodes: Mutex<BTreeMap<i32, Node>>,
    pub(crate) rt: tokio::runtime::Runtime,
    /// The broker JVM recording the class archive, if any (see `cds.rs`).
    pub(crate) cds_dump: Mutex<Option<CdsDump>>,
    // Dropped after Drop::drop killed the children, in this order: spawner thread, then the dir.
    pub(crate) spawner: Spawner,
    _temp: Option<TempDir>,
}

impl Testbed {
    /// Starts the cluster and returns once every broker is registered and unfenced.
    pub fn start(cfg: TestbedConfig) -> Result<Testbed> {
        cfg.validate()?;
        let started = Instant::now();
        check_ports_free(&cfg)?;
        let jars = kafka_files::ensure_jars()?;
        let (temp, root) = match &cfg.work_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("kmedic-testbed-")
                    .tempdir()
                    .map_err(|e| Error::io("creating the testbed temp dir", e))?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("building the admin runtime", e))?;
        let spawner = Spawner::new().map_err(|e| Error::io("starting the spawner thread", e))?;
        let mut nodes = BTreeMap::new();
        for id in std::iter::once(CONTROLLER_ID).chain(cfg.broker_ids()) {
            let dir = if id == CONTROLLER_ID {
                root.join(format!("controller-{id}"))
            } else {
                root.join(format!("broker-{id}"))
            };
            nodes.insert(
                id,
                Node {
                    id,
                    dir,
                    child: None,
                },
            );
        }
        // From here on, Drop cleans up whatever a failed start leaves behind.
        let tb = Testbed {
            cluster_id: kafka_files::random_cluster_id(),
            cfg,
            jars,
            root,
            nodes: Mutex::new(nodes),
            rt,
            cds_dump: Mutex::new(None),
            spawner,
            _temp: temp,
        };
        tb.write_files()?;
        // Controller first: brokers retry until it answers, but each retry costs time.
        let ids: Vec<i32> = std::iter::once(CONTROLLER_ID)
            .chain(tb.broker_ids())
            .collect();
        tb.format(&ids)?;
        tracing::info!(
            secs = started.elapsed().as_secs_f64(),
            "testbed storage formatted"
        );
        for id in &ids {
            tb.spawn_node(*id)?;
        }
        tb.wait_ready(&tb.broker_ids(), tb.cfg.startup_timeout())?;
        tracing::info!(
            brokers = tb.cfg.brokers,
            port_base = tb.cfg.port_base,
            cluster_id = %tb.cluster_id,
            root = %tb.root.display(),
            secs = started.elapsed().as_secs_f64(),
            "testbed started: every broker registered and unfenced"
        );
        Ok(tb)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, BTreeMap<i32, Node>> {
        // A test that panicked while holding the lock leaves consistent data behind: keep going.
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write_files(&self) -> Result<()> {
        let write = |path: &Path, text: &str| {
            fs::write(path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
        };
        fs::create_dir_all(&self.root)
            .map_err(|e| Error::io(format!("creating {}", self.root.display()), e))?;
        write(&self.log4j(), LOG4J2_PROPERTIES)?;
        for node in self.lock().values() {
            // A kept work dir from an earlier run: start from empty node dirs, never reuse data.
            if node.dir.exists() {
                fs::remove_dir_all(&node.dir)
                    .map_err(|e| Error::io(format!("clearing {}", node.dir.display()), e))?;
            }
            fs::create_dir_all(node.data_dir())
                .map_err(|e| Error::io(format!("creating {}", node.dir.display()), e))?;
            let props = if node.id == CONTROLLER_ID {
                kafka_files::controller_properties(&self.cfg, &node.data_dir())
            } else {
                kafka_files::broker_properties(&self.cfg, node.id, &node.data_dir())
            };
            write(&node.props(), &props)?;
        }
        Ok(())
    }

    fn log4j(&self) -> PathBuf {
        self.root.join("log4j2.properties")
    }

    /// Starts node `id`'s JVM (it must not be running) and writes its pid file.
    pub(crate) fn spawn_node(&self, id: i32) -> Result<u32> {
        let mut nodes = self.lock();
        let node = nodes.get_mut(&id).ok_or(Error::UnknownNode(id))?;
        if let Some(pid) = node.running_pid() {
            return Err(Error::Process {
                what: node.name(),
                detail: format!("already running as pid {pid}"),
            });
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.log_file())
            .map_err(|e| Error::io(format!("opening {}", node.log_file().display()), e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| Error::io(format!("opening {}", node.log_file().display()), e))?;
        let heap = if id == CONTROLLER_ID {
            self.cfg.controller_heap_mb
        } else {
            self.cfg.heap_mb
        };
        let mut cmd: Command = kafka_files::java(&self.jars, heap, Some(&self.log4j()));
        let (cds, recording) = self.cds_flags(id);
        cmd.args(cds)
            .arg("kafka.Kafka")
            .arg(node.props())
            .current_dir(&node.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        let child = self
            .spawner
            .spawn(cmd)
            .map_err(|e| Error::io(format!("starting java for {}", node.name()), e))?;
        let pid = child.id();
        node.child = Some(child);
        if let Some(tmp) = recording {
            self.cds_recording(id, pid, tmp);
        }
        fs::write(node.pid_file(), format!("{pid}\n"))
            .map_err(|e| Error::io(format!("writing {}", node.pid_file().display()), e))?;
        tracing::info!(
            node = id,
            pid,
            port = self.cfg.port(id),
            "started Kafka JVM"
        );
        Ok(pid)
    }

    /// Waits until each of `ids` answers requests on its own port and lists itself as a live
    /// (registered, unfenced) broker. Fails early, with its log, if a JVM exits.
    pub(crate) fn wait_ready(&self, ids: &[i32], timeout: Duration) -> Result<()> {
        let mut pending: Vec<i32> = ids.to_vec();
        let deadline = Instant::now() + timeout;
        loop {
            // A JVM that exited will never become ready: fail now, with its log.
            self.check_alive()?;
            let left = deadline.saturating_duration_since(Instant::now());
            let probe = left.clamp(Duration::from_millis(100), Duration::from_secs(2));
            // Probe all pending brokers at once: a probe of a broker still starting takes the
            // whole probe timeout, and must not delay noticing the others.
            let ready: Vec<i32> = std::thread::scope(|scope| {
                let probes: Vec<_> = pending
                    .iter()
                    .map(|id| scope.spawn(move || (*id, self.broker_ready(*id, probe))))
                    .collect();
                probes
                    .into_iter()
                    .filter_map(|h| h.join().ok())
                    .filter(|(_, ok)| *ok)
                    .map(|(id, _)| id)
                    .collect()
            });
            pending.retain(|id| !ready.contains(id));
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("brokers {ids:?} to be registered and unfenced"),
                    timeout,
                    last: Some(format!("still not ready: {pending:?}")),
                });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// True if broker `id` answers a metadata request on its own port and lists itself: its own
    /// metadata image shows it registered and unfenced, and it is serving requests. (After a kill
    /// and a quick restart the controller may still list the old incarnation; the new process
    /// only serves requests once it has registered and caught up.)
    fn broker_ready(&self, id: i32, timeout: Duration) -> bool {
        if TcpStream::connect_timeout(&([127, 0, 0, 1], self.broker_port(id)).into(), timeout)
            .is_err()
        {
            return false;
        }
        client::metadata(&self.broker_addr(id), timeout)
            .map(|md| md.brokers.contains(&id))
            .unwrap_or(false)
    }

    /// Reaps every node we started that has exited (killed from outside, say `kill -9 <pid>`),
    /// so it does not linger as a zombie whose pid still matches: returns each one's name and
    /// exit status.
    pub fn reap_exited(&self) -> Vec<(String, std::process::ExitStatus)> {
        let mut nodes = self.lock();
        let mut reaped = Vec::new();
        for node in nodes.values_mut() {
            if let Some(child) = node.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    node.child = None;
                    reaped.push((node.name(), status));
                }
            }
        }
        reaped
    }

    /// Errors, with the log tail, if a node we started has exited on its own.
    fn check_alive(&self) -> Result<()> {
        let mut nodes = self.lock();
        for node in nodes.values_mut() {
            if let Some(child) = node.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    node.child = None;
                    return Err(Error::Process {
                        what: node.name(),
                        detail: format!(
                            "exited with {status}; last lines of {}:\n{}",
                            node.log_file().display(),
                            process::log_tail(&node.log_file(), 30)
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// "127.0.0.1:p1,127.0.0.1:p2,..." for every broker.
    pub fn bootstrap(&self) -> String {
        let addrs: Vec<String> = self
            .broker_ids()
            .into_iter()
            .map(|id| self.broker_addr(id))
            .collect();
        addrs.join(",")
    }

    /// Broker ids, 1..=N. The dedicated controller is node 100 and is not listed.
    pub fn broker_ids(&self) -> Vec<i32> {
        self.cfg.broker_ids()
    }

    /// "127.0.0.1:port" of a broker.
    pub fn broker_addr(&self, id: i32) -> String {
        format!("127.0.0.1:{}", self.broker_port(id))
    }

    /// A broker's port: port_base + id.
    pub fn broker_port(&self, id: i32) -> u16 {
        self.cfg.port(id)
    }

    /// The controller's port: port_base.
    pub fn controller_port(&self) -> u16 {
        self.cfg.port(CONTROLLER_ID)
    }

    /// A broker's `broker.rack`: az-a, az-b, az-c in turn by id.
    pub fn rack(&self, id: i32) -> String {
        self.cfg.rack(id)
    }

    /// The config the cluster was started with.
    pub fn config(&self) -> &TestbedConfig {
        &self.cfg
    }

    /// The Kafka cluster id all nodes were formatted with.
    pub fn cluster_id(&self) -> String {
        self.cluster_id.clone()
    }

    /// The folder holding every node's folder.
    pub fn root_dir(&self) -> PathBuf {
        self.root.clone()
    }

    fn node_path(&self, id: i32, f: impl Fn(&Node) -> PathBuf) -> PathBuf {
        self.lock()
            .get(&id)
            .map(f)
            .unwrap_or_else(|| PathBuf::from(format!("/nonexistent/kmedic-testbed-node-{id}")))
    }

    /// A node's log dir (Kafka's `log.dirs`), where its partition folders live.
    pub fn log_dir(&self, id: i32) -> PathBuf {
        self.node_path(id, Node::data_dir)
    }

    /// A node's server.properties.
    pub fn server_properties(&self, id: i32) -> PathBuf {
        self.node_path(id, Node::props)
    }

    /// A node's console log (kafka.log) and its pid file (kafka.pid) live next to these.
    pub fn node_log(&self, id: i32) -> PathBuf {
        self.node_path(id, Node::log_file)
    }

    /// The pid of a broker's JVM while it runs (a hung, SIGSTOPped JVM still has one).
    pub fn pid(&self, id: i32) -> Option<u32> {
        self.lock().get_mut(&id).and_then(Node::running_pid)
    }

    /// The pid of the controller's JVM while it runs.
    pub fn controller_pid(&self) -> Option<u32> {
        self.pid(CONTROLLER_ID)
    }

    /// Fresh metadata through the bootstrap list.
    pub fn metadata(&self) -> Result<client::MetadataView> {
        client::metadata(&self.bootstrap(), Duration::from_secs(5))
    }
}

/// Fails with the port's name if any node port is already taken.
fn check_ports_free(cfg: &TestbedConfig) -> Result<()> {
    for id in std::iter::once(CONTROLLER_ID).chain(cfg.broker_ids()) {
        let port = cfg.port(id);
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            let what = if id == CONTROLLER_ID {
                "the controller's port".to_string()
            } else {
                format!("broker {id}'s port")
            };
            return Err(Error::PortInUse { port, what });
        }
    }
    Ok(())
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let mut nodes = self.lock();
        self.finish_cds_dump(&mut nodes);
        // Brokers first: nothing waits on a graceful shutdown here, SIGKILL is immediate.
        for node in nodes.values_mut().rev() {
            if let Some(mut child) = node.child.take() {
                process::kill_and_reap(&mut child);
            }
            let _ = fs::remove_file(node.pid_file());
        }
        tracing::info!(root = %self.root.display(), "testbed stopped: every JVM killed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_fails_fast_naming_a_busy_port() {
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = busy.local_addr().unwrap().port();
        let cfg = TestbedConfig::default()
            .with_brokers(1)
            .with_port_base(port);
        let err = Testbed::start(cfg).err().expect("must fail");
        assert!(
            matches!(err, Error::PortInUse { port: p, .. } if p == port),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&port.to_string()) && msg.contains("controller"),
            "{msg}"
        );
    }
}
