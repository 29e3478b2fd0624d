//! Breaking and repairing brokers: kill, hang, resume, stop, restart, replace, wait_healthy.

use std::fs;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::config::CONTROLLER_ID;
use crate::process;
use crate::{wait_until, Error, Result, Testbed};

/// How long a graceful stop may take (controlled shutdown moves leadership away) before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

impl Testbed {
    fn running_pid_or_err(&self, id: i32) -> Result<u32> {
        let mut nodes = self.lock();
        let node = nodes.get_mut(&id).ok_or(Error::UnknownNode(id))?;
        node.running_pid().ok_or_else(|| Error::Process {
            what: node.name(),
            detail: "is not running".into(),
        })
    }

    fn send(&self, id: i32, sig: Signal, name: &'static str) -> Result<()> {
        let pid = self.running_pid_or_err(id)?;
        process::signal(pid, sig).map_err(|source| Error::Signal {
            signal: name,
            what: format!("node {id}"),
            pid,
            source,
        })?;
        tracing::info!(node = id, pid, signal = name, "sent signal to Kafka JVM");
        Ok(())
    }

    /// SIGKILLs broker `id` (like a host dying) and reaps it: on return its pid is gone.
    pub fn kill(&self, id: i32) -> Result<()> {
        self.send(id, Signal::SIGKILL, "SIGKILL")?;
        let mut nodes = self.lock();
        if let Some(node) = nodes.get_mut(&id) {
            if let Some(mut child) = node.child.take() {
                let _ = child.wait();
            }
            let _ = fs::remove_file(node.pid_file());
        }
        Ok(())
    }

    /// SIGSTOPs broker `id`: the process stays, answers nothing and stops heartbeating, so the
    /// controller fences it after the session timeout.
    pub fn hang(&self, id: i32) -> Result<()> {
        self.send(id, Signal::SIGSTOP, "SIGSTOP")
    }

    /// SIGCONTs broker `id` after [`Testbed::hang`].
    pub fn resume(&self, id: i32) -> Result<()> {
        self.send(id, Signal::SIGCONT, "SIGCONT")
    }

    /// Graceful stop: SIGCONT (a hung JVM cannot handle SIGTERM), SIGTERM, then waits for the
    /// controlled shutdown to finish; SIGKILL if it takes longer than a minute.
    pub fn stop(&self, id: i32) -> Result<()> {
        self.stop_node(id)
    }

    pub(crate) fn stop_node(&self, id: i32) -> Result<()> {
        let child = {
            let mut nodes = self.lock();
            let node = nodes.get_mut(&id).ok_or(Error::UnknownNode(id))?;
            let _ = fs::remove_file(node.pid_file());
            node.child.take()
        };
        let Some(mut child) = child else {
            return Ok(());
        };
        let pid = child.id();
        let _ = process::signal(pid, Signal::SIGCONT);
        let _ = process::signal(pid, Signal::SIGTERM);
        if process::wait_exit(&mut child, STOP_TIMEOUT) {
            tracing::info!(node = id, pid, "Kafka JVM stopped gracefully");
        } else {
            tracing::warn!(node = id, pid, timeout = ?STOP_TIMEOUT, "graceful stop timed out: SIGKILL");
            process::kill_and_reap(&mut child);
        }
        Ok(())
    }

    /// Brings broker `id` back with the same id, port, config and log dir (stopping it gracefully
    /// first if it still runs) and waits until it is registered and unfenced.
    pub fn restart(&self, id: i32) -> Result<()> {
        self.check_broker(id)?;
        let started = Instant::now();
        self.stop_node(id)?;
        self.spawn_node(id)?;
        self.wait_ready(&[id], self.cfg.startup_timeout())?;
        tracing::info!(
            node = id,
            secs = started.elapsed().as_secs_f64(),
            "broker restarted and unfenced"
        );
        Ok(())
    }

    /// Like a cloud host replacement that keeps hostname and IP: kills broker `id` if it still
    /// runs, empties its log dir, formats it with the same cluster id, starts the same id on the
    /// same port, and waits until it is registered and unfenced.
    pub fn replace(&self, id: i32) -> Result<()> {
        self.check_broker(id)?;
        let started = Instant::now();
        let data = {
            let mut nodes = self.lock();
            let node = nodes.get_mut(&id).ok_or(Error::UnknownNode(id))?;
            if let Some(mut child) = node.child.take() {
                process::kill_and_reap(&mut child);
            }
            node.data_dir()
        };
        fs::remove_dir_all(&data)
            .and_then(|_| fs::create_dir_all(&data))
            .map_err(|e| Error::io(format!("emptying {}", data.display()), e))?;
        self.format(&[id])?;
        tracing::info!(node = id, dir = %data.display(), "replacing broker on an empty log dir");
        self.spawn_node(id)?;
        self.wait_ready(&[id], self.cfg.startup_timeout())?;
        tracing::info!(
            node = id,
            secs = started.elapsed().as_secs_f64(),
            "replacement broker registered and unfenced"
        );
        Ok(())
    }

    fn check_broker(&self, id: i32) -> Result<()> {
        if id == CONTROLLER_ID || !self.broker_ids().contains(&id) {
            return Err(Error::UnknownNode(id));
        }
        Ok(())
    }

    /// Waits until every broker runs (not stopped), is registered and unfenced, and every
    /// partition has a leader and a full ISR.
    pub fn wait_healthy(&self, timeout: Duration) -> Result<()> {
        let ids = self.broker_ids();
        wait_until(
            timeout,
            "a healthy cluster (all brokers live, no URPs)",
            || {
                for id in &ids {
                    match self.pid(*id) {
                        None => anyhow::bail!("broker {id} is not running"),
                        Some(pid) if process::process_state(pid) == Some('T') => {
                            anyhow::bail!("broker {id} (pid {pid}) is stopped (SIGSTOP)")
                        }
                        Some(_) => {}
                    }
                }
                let md = self.metadata()?;
                let missing: Vec<i32> = ids
                    .iter()
                    .filter(|i| !md.brokers.contains(i))
                    .copied()
                    .collect();
                if !missing.is_empty() {
                    anyhow::bail!("brokers {missing:?} not live in metadata");
                }
                let urp: Vec<String> = md
                    .partitions
                    .iter()
                    .filter(|p| p.leader < 0 || p.isr.len() < p.replicas.len())
                    .map(|p| format!("{}-{}", p.topic, p.partition))
                    .collect();
                if !urp.is_empty() {
                    anyhow::bail!(
                        "{} partitions under-replicated or leaderless, e.g. {:?}",
                        urp.len(),
                        &urp[..urp.len().min(5)]
                    );
                }
                Ok(true)
            },
        )
    }
}
