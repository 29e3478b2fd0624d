//! Alerts (issue 8 item 5): typed kinds ([`AlertKind`]), de-duplication with a grace per kind
//! and a cool-off ([`Dedup`], pure, monotonic time injected), and sinks ([`Notifier`]: generic
//! JSON / Slack / PagerDuty v2 webhooks and a command).
//!
//! [`from_decisions`] turns a round's policy decisions into the active alerts; [`heal_impossible`]
//! adds the plan's replicas no round will place, and [`action_log_unavailable`] a master that
//! cannot record actions.
//!
//! Use: one [`Alerter`] per master. Each round, `alerter.update(&active, now.mono_ms)` with every
//! alert active in the cluster(s); one-off events (fenced master, failed or held-back
//! replacement) with `alerter.event(&alert, now.mono_ms)`. Both return the deliveries, already
//! de-duplicated; hand them to `alerter.notifier().send(&d)` (spawn it: delivery retries for up
//! to `alert.retry.deadline_ms`).

pub mod decisions;
pub mod dedup;
pub mod https;
pub mod kind;
pub mod plan;
pub mod sink;

pub use decisions::from_decisions;
pub use dedup::{Dedup, Delivery};
pub use kind::{Alert, AlertKind, Severity};
pub use plan::{action_log_unavailable, heal_impossible};
pub use sink::{Notifier, SendError};

use crate::config::AlertConfig;

/// De-duplication plus sinks.
#[derive(Debug, Clone)]
pub struct Alerter {
    dedup: Dedup,
    notifier: Notifier,
}

impl Alerter {
    /// From the `[alert]` section.
    pub fn new(cfg: &AlertConfig) -> Result<Self, SendError> {
        Ok(Self {
            dedup: Dedup::new(cfg),
            notifier: Notifier::new(cfg)?,
        })
    }

    /// The sinks (clone it into a spawned task).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// The alerts active now; returns what to deliver.
    pub fn update(&mut self, active: &[Alert], now_mono_ms: u64) -> Vec<Delivery> {
        self.dedup.update(active, now_mono_ms)
    }

    /// A one-off event; returns it unless sent within the cool-off.
    pub fn event(&mut self, alert: &Alert, now_mono_ms: u64) -> Option<Delivery> {
        self.dedup.event(alert, now_mono_ms)
    }

    /// [`Alerter::update`] then deliver in the background (errors are logged).
    pub fn update_and_send(&mut self, active: &[Alert], now_mono_ms: u64) {
        let ds = self.update(active, now_mono_ms);
        self.spawn_send(ds);
    }

    /// [`Alerter::event`] then deliver in the background (errors are logged).
    pub fn event_and_send(&mut self, alert: &Alert, now_mono_ms: u64) {
        let ds: Vec<Delivery> = self.event(alert, now_mono_ms).into_iter().collect();
        self.spawn_send(ds);
    }

    fn spawn_send(&self, ds: Vec<Delivery>) {
        if ds.is_empty() || self.notifier.is_empty() {
            return;
        }
        let n = self.notifier.clone();
        tokio::spawn(async move {
            for d in &ds {
                n.send(d).await;
            }
        });
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;
