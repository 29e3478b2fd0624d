//! No failure headroom: the cluster could not absorb the loss of some single broker. For each
//! alive broker the heal planner is run as if it were lost (`crate::headroom`); a broker whose
//! loss would leave replicas unplaceable for lack of capacity (not for a reason of the moment)
//! gives one finding, with which replicas and why.
//!
//! Alert only: it is a warning before the failure happens, never a reason to move data (the
//! policy holds it as `AlertOnly`). The round logs it once when it appears and when it clears.
//!
//! The what-ifs cost one heal plan per broker (seconds at 1M replicas), so [`HeadroomCheck`]
//! runs them off the async threads at most every [`EVERY_MS`] of the monotonic clock and keeps
//! the last finished report in between: the round never waits for a run (the findings are of
//! the last finished run, at most a minute and one run old), and never blocks a runtime thread.

use std::sync::Arc;

use super::{Finding, FindingKind};
use crate::headroom::{self, Report};
use crate::plan::{Limits, Snapshot};

/// The least time between two runs of the what-ifs (as the API's headroom cache).
pub const EVERY_MS: u64 = 60_000;

/// The rule the finding applies.
pub const RULE: &str =
    "issue 9: the loss of any single broker must be absorbable within the brokers' limits \
     (alert only: no data is moved for it)";

/// The findings `report` gives: one per broker whose loss could not be absorbed.
pub fn findings(report: &Report) -> Vec<Finding> {
    report
        .brokers
        .iter()
        .filter(|w| !w.absorbable)
        .filter_map(|w| {
            let id = *w.brokers.first()?;
            let reasons: Vec<String> = w.reasons.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let mut evidence = format!(
                "if broker {id} were lost, {} of its {} replicas could not be placed ({}); the \
                 cluster cannot absorb that single failure within its limits",
                w.unplaceable,
                w.replicas,
                reasons.join(", "),
            );
            if let Some(e) = w.examples.first() {
                evidence.push_str(&format!("; e.g. {e}"));
            }
            Some(Finding {
                kind: FindingKind::NoFailureHeadroom,
                broker: Some(id),
                topic: None,
                partitions: Vec::new(),
                evidence,
                rule: RULE,
            })
        })
        .collect()
}

/// The what-ifs of one cluster, run at most every [`EVERY_MS`].
#[derive(Debug, Default)]
pub struct HeadroomCheck {
    last: Option<(u64, Arc<Report>)>,
    /// A run in progress (started at the given monotonic ms), polled by later rounds.
    running: Option<(u64, tokio::task::JoinHandle<Report>)>,
}

impl HeadroomCheck {
    /// The last report made, if any.
    pub fn latest(&self) -> Option<Arc<Report>> {
        self.last.as_ref().map(|(_, r)| r.clone())
    }

    /// The report for this round: the last one finished. A new run on `snap` starts (off the
    /// async threads) when the last is older than [`EVERY_MS`] on the monotonic clock `mono_ms`;
    /// the round never waits for it, so the what-ifs (seconds at 1M replicas) never delay a heal
    /// decision. A later round picks the finished run up. `None` until a first run has finished.
    pub async fn report(
        &mut self,
        snap: &Snapshot,
        limits: &Limits,
        mono_ms: u64,
    ) -> Option<Arc<Report>> {
        if let Some((started, h)) = self.running.take() {
            if h.is_finished() {
                match h.await {
                    Ok(r) => self.last = Some((started, Arc::new(r))),
                    Err(e) => {
                        tracing::error!(error = %e, "headroom what-ifs failed; no headroom finding")
                    }
                }
            } else {
                self.running = Some((started, h));
            }
        }
        let due = match &self.last {
            Some((at, _)) => mono_ms.saturating_sub(*at) >= EVERY_MS,
            None => true,
        };
        if due && self.running.is_none() {
            if tokio::runtime::Handle::try_current().is_err() {
                // Outside a tokio runtime (a round driven by another executor in tests) it runs
                // inline.
                self.last = Some((mono_ms, Arc::new(headroom::report(snap, limits))));
            } else {
                let (snap, limits) = (snap.clone(), limits.clone());
                let h = tokio::task::spawn_blocking(move || headroom::report(&snap, &limits));
                self.running = Some((mono_ms, h));
            }
        }
        self.latest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Capacity;
    use crate::sim::{cluster::DEFAULT_CAPACITY, Cluster};

    /// Six brokers in three racks; broker 4 (az-a) has `net_in` of room.
    fn six(net_in: u64) -> Cluster {
        crate::headroom::tests::six(Capacity {
            net_in_bytes_per_sec: net_in,
            ..DEFAULT_CAPACITY
        })
    }

    #[test]
    fn a_broker_whose_loss_cannot_be_absorbed_is_a_finding_with_evidence() {
        let c = six(31_000_000);
        let r = headroom::report(&c.snapshot, &Limits::default());
        let f = findings(&r);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].kind, FindingKind::NoFailureHeadroom);
        assert_eq!(f[0].broker, Some(1));
        assert!(
            f[0].evidence.contains("if broker 1 were lost"),
            "{}",
            f[0].evidence
        );
        assert!(f[0].evidence.contains("no_target"), "{}", f[0].evidence);
        assert!(
            f[0].evidence.contains("no target broker"),
            "{}",
            f[0].evidence
        );
    }

    #[test]
    fn a_roomy_cluster_has_none_and_a_lost_rack_is_not_one() {
        // RF 3 in 3 racks: losing a rack leaves replicas unplaced by design; only single
        // broker losses count.
        let c = six(DEFAULT_CAPACITY.net_in_bytes_per_sec);
        let r = headroom::report(&c.snapshot, &Limits::default());
        assert!(!r.absorbs_any_rack);
        assert!(findings(&r).is_empty());
    }

    #[tokio::test]
    async fn runs_at_most_every_minute_and_the_round_never_waits_for_it() {
        /// Rounds at `at` until one returns a report other than `not` (the run has finished).
        async fn until_new(
            check: &mut HeadroomCheck,
            snap: &Snapshot,
            at: u64,
            not: Option<&Arc<Report>>,
        ) -> Arc<Report> {
            for _ in 0..500 {
                if let Some(r) = check.report(snap, &Limits::default(), at).await {
                    if not.is_none_or(|n| !Arc::ptr_eq(n, &r)) {
                        return r;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            panic!("the what-ifs never finished");
        }
        let mut small = six(31_000_000);
        let mut check = HeadroomCheck::default();
        let lim = Limits::default();
        // The first round starts the run and does not wait for it.
        assert!(check.report(&small.snapshot, &lim, 1_000).await.is_none());
        let first = until_new(&mut check, &small.snapshot, 1_000, None).await;
        assert_eq!(findings(&first).len(), 1);
        // Room added: not seen until a minute has passed.
        small = six(DEFAULT_CAPACITY.net_in_bytes_per_sec);
        let cached = check
            .report(&small.snapshot, &lim, 60_999)
            .await
            .expect("cached");
        assert!(Arc::ptr_eq(&first, &cached));
        assert!(check.running.is_none(), "no run before a minute has passed");
        let fresh = until_new(&mut check, &small.snapshot, 61_000, Some(&first)).await;
        assert!(findings(&fresh).is_empty());
    }
}
