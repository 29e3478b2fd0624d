//! The actor's side of decommissions (`super::super::decommission`): a child of `act` so it
//! can reach the actor's executor and running plan; `act.rs` only calls in here.

use super::*;
use crate::service::decommission::Decommissions;

impl Actor {
    /// Gives the actor its cluster's decommissions (the service does this at start; without it
    /// decommission requests are recorded and never acted on).
    pub fn with_decommissions(mut self, d: Decommissions) -> Self {
        self.decommissions = Some(d);
        self
    }

    /// Once per acting round, after the round's own plan had its chance (a heal goes first):
    /// cordon, uncordon, unregister, cancel a stopped drain, and start the next drain batch
    /// when no plan runs.
    pub(super) async fn decommission_round(
        &mut self,
        board: &Board,
        log: &Arc<ActionLog>,
        cluster_id: &str,
    ) {
        if self.fenced {
            return;
        }
        let Some(mut d) = self.decommissions.take() else {
            return;
        };
        let idle = self.running.is_none() && self.executor.is_some();
        let step: BoxFuture<'_, _> = Box::pin(d.step(
            &self.board_tx,
            board,
            log.as_ref(),
            self.cfg.admin.as_ref(),
            cluster_id,
            idle,
        ));
        match step.await {
            Err(e) => {
                self.decommissions = Some(d);
                if e.is_fenced() || log.is_fenced() {
                    return self.fence("the action log refused a decommission record");
                }
                warn!(cluster = %self.cfg.cluster, error = %e,
                    "decommission step not taken: the action log refused its record; retried \
                     next round");
                return;
            }
            Ok(step) => {
                // Take the executor only for a drain: it stays for the round's own plans.
                let run = step
                    .drain
                    .and_then(|dr| self.executor.take().map(|ex| (dr, ex)));
                if let Some(((brokers, plan), ex)) = run {
                    // The drain's one start line (the executor's own is debug).
                    tracing::info!(cluster = %self.cfg.cluster,
                        brokers = %crate::text::list(&brokers), plan = %plan.plan_id,
                        moves = plan.moves.len(),
                        bytes = plan.moves.iter().map(|m| m.planned_bytes).sum::<u64>(),
                        throttle_bytes_per_sec = self.cfg.execute.throttle_bytes_per_sec,
                        "executing the decommission drain");
                    d.started(brokers, ex.cancel_handle());
                    self.launch(None, ex, super::run::Job::Execute(plan));
                }
            }
        }
        self.decommissions = Some(d);
    }

    /// After any plan ended: a drain this cancelled leaves the executor's cancel flag set, so
    /// the next plan gets a fresh executor.
    pub(super) fn decommission_ended(&mut self) {
        let cancelled = self.decommissions.as_mut().is_some_and(|d| d.ended());
        if !cancelled {
            return;
        }
        if let Acting::Enabled { log, .. } = &self.cfg.acting {
            let journal = ExecutorJournal::new(log.clone(), self.cfg.master_id.clone());
            self.executor = Some(Executor::new(
                self.cfg.admin.clone(),
                journal,
                self.cfg.execute.clone(),
            ));
        }
    }
}
