//! Cordon, uncordon and unregister: each an intent record, the call, an outcome record.

use tracing::{info, warn};

use super::super::CordonOps;
use super::Decommissions;
use crate::actionlog::{self, ActionKind, ActionRecord, Journal, OutcomeStatus};
use crate::observe::ClusterView;

impl Decommissions {
    pub(super) async fn cordon(
        &mut self,
        journal: &dyn Journal,
        ops: &dyn CordonOps,
        cluster_id: &str,
        view: &ClusterView,
        b: i32,
    ) -> Result<(), actionlog::Error> {
        if view.brokers.get(&b).is_none_or(|x| x.fenced) {
            if self.once(b, "cordon", "down".into()) {
                warn!(cluster = %self.cluster, broker = b, "decommission: cannot cordon a broker \
                    that is down (the request goes to the broker itself); its replicas are \
                    still drained, and it is cordoned when it is back");
            }
            return Ok(());
        }
        let why = format!(
            "decommission of broker {b}: cordon it (cordoned.log.dirs = *) so Kafka places no new \
             partition on it while it is drained"
        );
        let out = self
            .act(
                journal,
                cluster_id,
                ActionKind::Cordon,
                b,
                why,
                ops.cordon(b),
            )
            .await?;
        match out {
            Ok(()) => {
                self.cordoned.insert(b);
                self.said.remove(&(b, "cordon"));
                info!(cluster = %self.cluster, broker = b, "cordoned (KIP-1066): no new \
                    partition is placed on it");
            }
            Err(e) => {
                if self.once(b, "cordon", e.clone()) {
                    warn!(cluster = %self.cluster, broker = b, error = %e, "cordon failed; \
                        retried every round; the drain goes on (new topics may still land on \
                        it meanwhile)");
                }
            }
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
        if view.brokers.get(&b).is_none_or(|x| x.fenced) {
            if self.once(b, "uncordon", "down".into()) {
                warn!(cluster = %self.cluster, broker = b, "decommission deleted, but the \
                    broker is down: it is uncordoned when it is back");
            }
            return Ok(());
        }
        let why = format!("decommission of broker {b} deleted by the operator: uncordon it");
        let out = self
            .act(
                journal,
                cluster_id,
                ActionKind::Uncordon,
                b,
                why,
                ops.uncordon(b),
            )
            .await?;
        match out {
            Ok(()) => {
                self.cordoned.remove(&b);
                self.said.retain(|(x, _), _| *x != b);
                info!(cluster = %self.cluster, broker = b, "uncordoned: Kafka may place new \
                    partitions on it again");
            }
            Err(e) => {
                if self.once(b, "uncordon", e.clone()) {
                    warn!(cluster = %self.cluster, broker = b, error = %e,
                        "uncordon failed; retried every round");
                }
            }
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
        let why = format!(
            "decommission of broker {b}: it holds no replica and is shut down; unregister it \
             (decommission.unregister = true)"
        );
        let out = self
            .act(
                journal,
                cluster_id,
                ActionKind::Unregister,
                b,
                why,
                ops.unregister(b),
            )
            .await?;
        match out {
            Ok(()) => {
                self.cordoned.remove(&b);
                self.said.retain(|(x, _), _| *x != b);
                info!(cluster = %self.cluster, broker = b, "decommissioned broker unregistered \
                    (its cordon stays in the cluster metadata: a new broker with this id starts \
                    cordoned)");
                Ok(true)
            }
            Err(e) => {
                if self.once(b, "unregister", e.clone()) {
                    warn!(cluster = %self.cluster, broker = b, error = %e,
                        "unregister failed; retried every round");
                }
                Ok(false)
            }
        }
    }

    /// Intent, the call, outcome. `Err` only when the log refused a record.
    pub(super) async fn act(
        &self,
        journal: &dyn Journal,
        cluster_id: &str,
        kind: ActionKind,
        b: i32,
        why: String,
        call: futures::future::BoxFuture<'_, Result<(), String>>,
    ) -> Result<Result<(), String>, actionlog::Error> {
        let id = actionlog::record::new_action_id(&self.master_id);
        let mut intent = ActionRecord::intent(cluster_id, id, None, kind, why, &self.master_id);
        intent.brokers = vec![b];
        journal.record(&intent).await?;
        let out = call.await;
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
        Ok(out)
    }
}
