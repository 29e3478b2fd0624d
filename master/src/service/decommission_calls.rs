//! Cordon, uncordon and unregister: each an intent record, the call, an outcome record, through
//! the one helper [`Decommissions::call`] (which also says a failure once).

use tracing::{info, warn};

use super::super::CordonOps;
use super::Decommissions;
use crate::actionlog::{self, ActionKind, ActionRecord, Journal, OutcomeStatus};
use crate::observe::ClusterView;

/// One of a decommission's recorded calls: what it is and what to say about it.
pub(super) struct Call {
    /// The action-log kind.
    pub kind: ActionKind,
    /// The call's name, in its failure line and as the key of its once-only lines.
    pub name: &'static str,
    /// The intent record's reason.
    pub why: String,
    /// What a failure means, said after "<name> failed; ".
    pub on_failure: &'static str,
}

impl Decommissions {
    pub(super) async fn cordon(
        &mut self,
        journal: &dyn Journal,
        ops: &dyn CordonOps,
        cluster_id: &str,
        view: &ClusterView,
        b: i32,
    ) -> Result<(), actionlog::Error> {
        let waits = "decommission: cannot cordon a broker that is down (the request goes to the \
                     broker itself); its replicas are still drained, and it is cordoned when it \
                     is back";
        if self.down(view, b, "cordon", waits) {
            return Ok(());
        }
        let call = Call {
            kind: ActionKind::Cordon,
            name: "cordon",
            why: format!(
                "decommission of broker {b}: cordon it (cordoned.log.dirs = *) so Kafka places \
                 no new partition on it while it is drained"
            ),
            on_failure: "retried every round; the drain goes on (new topics may still land on \
                         it meanwhile)",
        };
        if self
            .call(journal, cluster_id, b, call, ops.cordon(b))
            .await?
        {
            self.cordoned.insert(b);
            info!(cluster = %self.cluster, broker = b, "cordoned (KIP-1066): no new \
                partition is placed on it");
        }
        Ok(())
    }

    pub(super) async fn uncordon(
        &mut self,
        journal: &dyn Journal,
        ops: &dyn CordonOps,
        cluster_id: &str,
        view: &ClusterView,
        b: i32,
    ) -> Result<(), actionlog::Error> {
        let waits = "decommission deleted, but the broker is down: it is uncordoned when it is \
                     back";
        if self.down(view, b, "uncordon", waits) {
            return Ok(());
        }
        let call = Call {
            kind: ActionKind::Uncordon,
            name: "uncordon",
            why: format!("decommission of broker {b} deleted by the operator: uncordon it"),
            on_failure: "retried every round",
        };
        if self
            .call(journal, cluster_id, b, call, ops.uncordon(b))
            .await?
        {
            self.forget(b);
            info!(cluster = %self.cluster, broker = b, "uncordoned: Kafka may place new \
                partitions on it again");
        }
        Ok(())
    }

    /// Unregisters drained, shut-down `b`; true when it is done.
    pub(super) async fn unregister(
        &mut self,
        journal: &dyn Journal,
        ops: &dyn CordonOps,
        cluster_id: &str,
        b: i32,
    ) -> Result<bool, actionlog::Error> {
        let call = Call {
            kind: ActionKind::Unregister,
            name: "unregister",
            why: format!(
                "decommission of broker {b}: it holds no replica and is shut down; unregister \
                 it (decommission.unregister = true)"
            ),
            on_failure: "retried every round",
        };
        let done = self
            .call(journal, cluster_id, b, call, ops.unregister(b))
            .await?;
        if done {
            self.forget(b);
            info!(cluster = %self.cluster, broker = b, "decommissioned broker unregistered \
                (its cordon stays in the cluster metadata: a new broker with this id starts \
                cordoned)");
        }
        Ok(done)
    }

    /// Whether `b` is down (unknown or fenced): a call that goes to the broker itself waits for
    /// it; `waits` says so, once.
    fn down(&mut self, view: &ClusterView, b: i32, name: &'static str, waits: &str) -> bool {
        let down = view.brokers.get(&b).is_none_or(|x| x.fenced);
        if down && self.once(b, name, "down".into()) {
            warn!(cluster = %self.cluster, broker = b, "{waits}");
        }
        down
    }

    /// `b` is no longer kmedic's to cordon: forget it and what was said about it.
    fn forget(&mut self, b: i32) {
        self.cordoned.remove(&b);
        self.said.retain(|(x, _), _| *x != b);
    }

    /// Intent, the call, outcome; a failure is said once (until its text changes) and a
    /// success clears what was said about this call. `Ok(true)` when the call succeeded, `Err`
    /// only when the log refused a record.
    pub(super) async fn call(
        &mut self,
        journal: &dyn Journal,
        cluster_id: &str,
        b: i32,
        call: Call,
        run: futures::future::BoxFuture<'_, Result<(), String>>,
    ) -> Result<bool, actionlog::Error> {
        let id = actionlog::record::new_action_id(&self.master_id);
        let mut intent =
            ActionRecord::intent(cluster_id, id, None, call.kind, call.why, &self.master_id);
        intent.brokers = vec![b];
        journal.record(&intent).await?;
        let out = run.await;
        let outcome = actionlog::Outcome {
            status: if out.is_ok() {
                OutcomeStatus::Succeeded
            } else {
                OutcomeStatus::Failed
            },
            detail: out.as_ref().err().cloned().unwrap_or_default(),
            command: None,
        };
        journal.record(&intent.outcome_of(outcome)).await?;
        match out {
            Ok(()) => {
                self.said.remove(&(b, call.name));
                Ok(true)
            }
            Err(e) => {
                if self.once(b, call.name, e.clone()) {
                    warn!(cluster = %self.cluster, broker = b, error = %e, "{} failed; {}",
                        call.name, call.on_failure);
                }
                Ok(false)
            }
        }
    }
}
