//! The context shared by every trial of the e2e test binary (tests/tests/e2e/main.rs): one 6-broker
//! cluster started on first use and shared by all trials, private clusters on demand, and a guard
//! that repairs brokers a trial broke.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Failed, Trial};

use crate::{process, Testbed, TestbedConfig};

/// Brokers in the shared cluster.
pub const SHARED_BROKERS: usize = 6;
/// Ports per private cluster slot: controller on slot base, brokers slot base + 1..=9.
const SLOT_PORTS: u16 = 10;
/// Private clusters rotate over slots 1..=9, so everything fits in port_base..port_base+99.
const SLOTS: u16 = 9;

/// What every trial gets. Trials run one at a time, so the shared cluster is never used by two.
pub struct Ctx {
    port_base: u16,
    shared: Mutex<Option<Result<Arc<Testbed>, String>>>,
    next_slot: AtomicU16,
}

impl Ctx {
    /// A context whose clusters use the port range from `KMEDIC_TESTBED_PORT_BASE` (or 19500).
    pub fn from_env() -> Self {
        Ctx {
            port_base: TestbedConfig::from_env().port_base,
            shared: Mutex::new(None),
            next_slot: AtomicU16::new(0),
        }
    }

    /// The shared 6-broker cluster, started on first use. If starting it failed, every later call
    /// fails at once with the same error rather than trying again for minutes.
    pub fn shared(&self) -> anyhow::Result<Arc<Testbed>> {
        let mut slot = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            let cfg = TestbedConfig::from_env()
                .with_port_base(self.port_base)
                .with_brokers(SHARED_BROKERS);
            *slot = Some(
                Testbed::start(cfg)
                    .map(Arc::new)
                    .map_err(|e| format!("{e:#}")),
            );
        }
        match slot.as_ref() {
            Some(Ok(tb)) => Ok(tb.clone()),
            Some(Err(e)) => anyhow::bail!("the shared testbed failed to start: {e}"),
            None => anyhow::bail!("the shared testbed is not there"),
        }
    }

    /// A private cluster of `brokers` (at most 9) on its own ports; dropped when the trial drops it.
    pub fn own(&self, brokers: usize) -> anyhow::Result<Testbed> {
        anyhow::ensure!(
            (1..=9).contains(&brokers),
            "a private testbed has 1 to 9 brokers, not {brokers}"
        );
        let cfg = TestbedConfig::from_env()
            .with_port_base(self.own_port_base())
            .with_brokers(brokers);
        Ok(Testbed::start(cfg)?)
    }

    /// The port base of the next private slot (for tests that start a testbed in a child process).
    pub fn own_port_base(&self) -> u16 {
        let slot = self.next_slot.fetch_add(1, Ordering::Relaxed) % SLOTS + 1;
        self.port_base + slot * SLOT_PORTS
    }

    /// Waits until the shared cluster (if started) is healthy again.
    fn ensure_shared_healthy(&self) -> anyhow::Result<()> {
        let tb = match self
            .shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some(Ok(tb)) => tb.clone(),
            _ => return Ok(()),
        };
        tb.wait_healthy(Duration::from_secs(120))
            .map_err(|e| anyhow::anyhow!("the shared testbed is not healthy: {e}"))
    }

    /// Stops the shared cluster (main calls this after the run, before exiting).
    pub fn shutdown(&self) {
        let taken = self.shared.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(taken);
    }
}

/// A libtest-mimic trial whose body is `f(&Ctx)`; an error fails it with the whole error chain.
/// If the shared cluster is up, the trial first waits until it is healthy, so a trial never starts
/// on brokers an earlier one left broken (and says so if they stay broken).
pub fn trial(ctx: &Arc<Ctx>, name: &str, f: fn(&Ctx) -> anyhow::Result<()>) -> Trial {
    let ctx = ctx.clone();
    Trial::test(name, move || {
        ctx.ensure_shared_healthy()
            .map_err(|e| Failed::from(format!("before the trial: {e:#}")))?;
        f(&ctx).map_err(|e| Failed::from(format!("{e:#}")))
    })
}

/// Repairs brokers of a shared cluster when dropped, even if the trial failed or panicked: resumes
/// hung ones, restarts dead ones, then waits until the cluster is healthy again.
pub struct Restore<'a> {
    tb: &'a Testbed,
    ids: Vec<i32>,
}

impl<'a> Restore<'a> {
    /// Guards `ids` of `tb`: create it before breaking them.
    pub fn new(tb: &'a Testbed, ids: &[i32]) -> Self {
        Restore {
            tb,
            ids: ids.to_vec(),
        }
    }
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        for id in &self.ids {
            let result = match self.tb.pid(*id) {
                Some(pid) if process::process_state(pid) == Some('T') => self.tb.resume(*id),
                Some(_) => Ok(()),
                None => self.tb.restart(*id),
            };
            if let Err(e) = result {
                tracing::error!(broker = id, error = %e, "could not repair broker after the trial");
            }
        }
        if let Err(e) = self.tb.wait_healthy(Duration::from_secs(180)) {
            tracing::error!(error = %e, "shared testbed is not healthy after the trial");
        }
    }
}
