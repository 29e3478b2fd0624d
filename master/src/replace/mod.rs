//! Broker (host) replacement: the runner only; the policy decides `ReplaceHost` (issue 8 item 3).
//!
//! [`Replacer::replace`] checks the rate limits ([`limit::gate`]: one per cluster per period,
//! at most `max_concurrent` at once, both from the action log so they hold across restarts),
//! writes the intent, runs the user's command with argv `[command..., broker id, hostname,
//! cluster id]` ([`command::run`]: no shell, a timeout, bounded output), and writes the outcome
//! with the output. [`Replacer::watch`] is called by the round with a fresh view and records the
//! broker as caught up once it is in the ISR of all its partitions.

pub mod catchup;
pub mod command;
pub mod limit;

use std::time::Duration;

use crate::actionlog::record::{ActionKind, ActionRecord, Outcome, OutcomeStatus};
use crate::actionlog::{self, Journal, Replacement};
use crate::alert::{Alert, AlertKind};
use crate::config::ReplaceConfig;
use crate::observe::view::ClusterView;
use crate::policy::DecisionId;

pub use catchup::{catch_up, CatchUp};
pub use limit::{gate, Gate};

/// What a replacement request came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Replaced {
    /// The command ran; the outcome record holds its output.
    Ran {
        /// The action id.
        action_id: String,
        /// Exit code 0 within the timeout.
        succeeded: bool,
        /// The outcome written.
        outcome: Outcome,
    },
    /// The rate limit held it back: raise `AlertKind::ReplacementHeldBack` with the reason.
    HeldBack(Gate),
    /// This broker is being replaced already: nothing done.
    AlreadyReplacing,
    /// `replace.command` is empty: replacement is off.
    Disabled,
}

impl Replaced {
    /// The alert this result calls for: a held-back replacement (`replacement_held_back`) or a
    /// failed one (`replacement_failed`); `None` otherwise. Raise it with `Alerter::event`.
    pub fn alert(&self, cluster: &str, broker: i32) -> Option<Alert> {
        let subject = format!("broker {broker}");
        match self {
            Replaced::HeldBack(g) => {
                let mut a = Alert::new(
                    AlertKind::ReplacementHeldBack,
                    cluster,
                    subject,
                    format!(
                        "broker {broker} needs a new host but the replacement is {}",
                        g.reason()
                    ),
                );
                a.details = serde_json::json!({ "broker": broker, "gate": format!("{g:?}") });
                Some(a)
            }
            Replaced::Ran {
                succeeded: false,
                outcome,
                action_id,
            } => {
                let mut a = Alert::new(
                    AlertKind::ReplacementFailed,
                    cluster,
                    subject,
                    outcome.detail.clone(),
                );
                a.details = serde_json::json!({
                    "broker": broker,
                    "action_id": action_id,
                    "command": outcome.command,
                });
                Some(a)
            }
            _ => None,
        }
    }
}

/// Errors that stop a replacement before the command runs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The intent could not be written (fenced, or Kafka failed): the command did not run.
    #[error("replacement of broker {broker} not started: {source}")]
    Journal {
        /// The broker.
        broker: i32,
        /// Why.
        source: actionlog::Error,
    },
}

/// Replacement state of one cluster.
#[derive(Debug, Clone)]
pub struct Replacer {
    cfg: ReplaceConfig,
    cluster_id: String,
    master_id: String,
    history: Vec<Replacement>,
}

impl Replacer {
    /// A replacer for one cluster, with its history restored from the action log
    /// (`ClusterState::replacements`).
    pub fn new(
        cfg: ReplaceConfig,
        cluster_id: &str,
        master_id: &str,
        history: Vec<Replacement>,
    ) -> Self {
        Self {
            cfg,
            cluster_id: cluster_id.to_string(),
            master_id: master_id.to_string(),
            history,
        }
    }

    /// The replacement history (restored plus this run).
    pub fn history(&self) -> &[Replacement] {
        &self.history
    }

    /// Brokers being replaced (running, or not caught up yet).
    pub fn replacing(&self) -> Vec<i32> {
        self.history
            .iter()
            .filter(|r| r.in_progress())
            .map(|r| r.broker)
            .collect()
    }

    /// The rate-limit gate for `broker` now.
    pub fn gate(&self, broker: i32, now_wall_ms: u64) -> Gate {
        gate(
            &self.history,
            broker,
            now_wall_ms,
            self.cfg.period_secs.saturating_mul(1000),
            self.cfg.max_concurrent,
        )
    }

    /// Replaces `broker`'s host, if the limits allow: intent, command, outcome. Logs why it did
    /// or did not.
    pub async fn replace(
        &mut self,
        journal: &dyn Journal,
        broker: i32,
        hostname: &str,
        decision: Option<DecisionId>,
        reason: &str,
        now_wall_ms: u64,
    ) -> Result<Replaced, Error> {
        let cluster = self.cluster_id.clone();
        if self.cfg.command.is_empty() {
            tracing::info!(cluster_id = %cluster, broker, "replacement wanted but replace.command is empty: off");
            return Ok(Replaced::Disabled);
        }
        match self.gate(broker, now_wall_ms) {
            Gate::Allowed => {}
            Gate::AlreadyReplacing => return Ok(Replaced::AlreadyReplacing),
            held => {
                tracing::warn!(cluster_id = %cluster, broker, reason = %held.reason(),
                    "replacement held back by the rate limit");
                return Ok(Replaced::HeldBack(held));
            }
        }
        let action_id = actionlog::record::new_action_id(&self.master_id);
        let mut intent = ActionRecord::intent(
            &cluster,
            action_id.clone(),
            decision,
            ActionKind::ReplaceHost {
                broker,
                hostname: hostname.to_string(),
            },
            reason,
            &self.master_id,
        );
        intent.brokers = vec![broker];
        journal
            .record(&intent)
            .await
            .map_err(|source| Error::Journal { broker, source })?;
        self.history.push(Replacement {
            action_id: action_id.clone(),
            broker,
            started_wall_ms: intent.wall_ms,
            status: None,
            caught_up: false,
        });
        let mut argv = self.cfg.command.clone();
        argv.extend([broker.to_string(), hostname.to_string(), cluster.clone()]);
        tracing::info!(cluster_id = %cluster, broker, %hostname, %action_id, ?argv, %reason,
            "replacing the broker's host: running the replacement command");
        let out = command::run(
            &argv,
            Duration::from_secs(self.cfg.timeout_secs),
            self.cfg.max_output_bytes,
        )
        .await;
        let succeeded = out.success();
        let detail = if succeeded {
            format!(
                "replacement command for broker {broker} exited 0 in {} ms",
                out.duration_ms
            )
        } else if out.timed_out {
            format!(
                "replacement command for broker {broker} killed after replace.timeout_secs = {}",
                self.cfg.timeout_secs
            )
        } else {
            format!(
                "replacement command for broker {broker} failed (exit {:?})",
                out.exit_code
            )
        };
        let outcome = Outcome {
            status: if succeeded {
                OutcomeStatus::Succeeded
            } else {
                OutcomeStatus::Failed
            },
            detail: detail.clone(),
            command: Some(out),
        };
        if let Some(r) = self.history.iter_mut().find(|r| r.action_id == action_id) {
            r.status = Some(outcome.status);
        }
        if succeeded {
            tracing::info!(cluster_id = %cluster, broker, %action_id, "{detail}; watching it catch up");
        } else {
            tracing::error!(cluster_id = %cluster, broker, %action_id, "{detail}");
        }
        if let Err(e) = journal.record(&intent.outcome_of(outcome.clone())).await {
            // The command ran; the intent is in the log, so a restart sees it as in progress
            // and will not run it again.
            tracing::error!(cluster_id = %cluster, broker, %action_id, error = %e,
                "could not record the replacement's outcome");
        }
        Ok(Replaced::Ran {
            action_id,
            succeeded,
            outcome,
        })
    }

    /// Checks every replaced broker that has not caught up against a fresh view; records and
    /// returns the ones that caught up now.
    pub async fn watch(
        &mut self,
        journal: &dyn Journal,
        view: &ClusterView,
    ) -> Result<Vec<CatchUp>, actionlog::Error> {
        let mut done = Vec::new();
        let waiting: Vec<(usize, i32)> = self
            .history
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status == Some(OutcomeStatus::Succeeded) && !r.caught_up)
            .map(|(i, r)| (i, r.broker))
            .collect();
        for (i, broker) in waiting {
            let c = catch_up(view, broker);
            if !c.done() {
                continue;
            }
            let mut rec = ActionRecord::state(
                &self.cluster_id,
                actionlog::record::new_action_id(&self.master_id),
                ActionKind::CaughtUp { broker },
                format!(
                    "replaced broker {broker} is in the ISR of all its {} partitions",
                    c.partitions
                ),
                &self.master_id,
            );
            rec.brokers = vec![broker];
            journal.record(&rec).await?;
            self.history[i].caught_up = true;
            tracing::info!(cluster_id = %self.cluster_id, broker, partitions = c.partitions,
                "replaced broker caught up");
            done.push(c);
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests;
