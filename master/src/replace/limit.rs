//! The replacement rate limits (DESIGN rule 7): at most one replacement per cluster per period,
//! and never more brokers being replaced at once than a maximum. The history comes from the action
//! log, so the window holds across restarts; it is timed on the wall clock because the monotonic
//! clock means nothing across a restart.

use crate::actionlog::Replacement;
use crate::cli::actions::utc;

/// Whether a replacement may start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// It may.
    Allowed,
    /// Another replacement started within the period.
    HeldByPeriod {
        /// The broker replaced last.
        last_broker: i32,
        /// When that one started (wall ms).
        last_started_wall_ms: u64,
        /// When the next may start (wall ms).
        next_allowed_wall_ms: u64,
    },
    /// Too many brokers are being replaced already.
    HeldByConcurrency {
        /// The brokers being replaced.
        replacing: Vec<i32>,
        /// The configured maximum.
        max: usize,
    },
    /// This broker is being replaced already: nothing to do (never repeat an action).
    AlreadyReplacing,
}

impl Gate {
    /// A sentence for logs and alerts.
    pub fn reason(&self) -> String {
        match self {
            Gate::Allowed => "allowed".into(),
            Gate::HeldByPeriod {
                last_broker,
                last_started_wall_ms,
                next_allowed_wall_ms,
            } => format!(
                "held back: broker {last_broker} was replaced at {}, and one replacement per \
                 replace.period_secs is allowed; next at {}",
                utc(*last_started_wall_ms),
                utc(*next_allowed_wall_ms)
            ),
            Gate::HeldByConcurrency { replacing, max } => format!(
                "held back: brokers {replacing:?} are being replaced and replace.max_concurrent \
                 = {max}"
            ),
            Gate::AlreadyReplacing => "this broker is being replaced already".into(),
        }
    }
}

/// Decides whether `broker` may be replaced at `now_wall_ms`, given the cluster's replacement
/// history (from the action log plus this run). Pure.
///
/// A wall clock that stepped back before the last start still holds the window (a start "in the
/// future" counts as just now), so a clock step never allows a second replacement.
pub fn gate(
    history: &[Replacement],
    broker: i32,
    now_wall_ms: u64,
    period_ms: u64,
    max_concurrent: usize,
) -> Gate {
    let replacing: Vec<i32> = history
        .iter()
        .filter(|r| r.in_progress())
        .map(|r| r.broker)
        .collect();
    if replacing.contains(&broker) {
        return Gate::AlreadyReplacing;
    }
    if replacing.len() >= max_concurrent {
        return Gate::HeldByConcurrency {
            replacing,
            max: max_concurrent,
        };
    }
    if let Some(last) = history.iter().max_by_key(|r| r.started_wall_ms) {
        let next = last.started_wall_ms.saturating_add(period_ms);
        if now_wall_ms < next {
            return Gate::HeldByPeriod {
                last_broker: last.broker,
                last_started_wall_ms: last.started_wall_ms,
                next_allowed_wall_ms: next,
            };
        }
    }
    Gate::Allowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actionlog::record::{
        ActionKind, ActionRecord, CommandOutput, Outcome, OutcomeStatus,
    };
    use crate::actionlog::restore;

    const H: u64 = 3600 * 1000;

    fn rep(broker: i32, at: u64, status: Option<OutcomeStatus>, caught_up: bool) -> Replacement {
        Replacement {
            action_id: format!("a{broker}"),
            broker,
            started_wall_ms: at,
            status,
            caught_up,
        }
    }

    #[test]
    fn one_per_period() {
        let h = vec![rep(1, 10 * H, Some(OutcomeStatus::Succeeded), true)];
        assert!(matches!(
            gate(&h, 2, 21 * H, 12 * H, 1),
            Gate::HeldByPeriod {
                next_allowed_wall_ms,
                ..
            } if next_allowed_wall_ms == 22 * H
        ));
        assert_eq!(gate(&h, 2, 22 * H, 12 * H, 1), Gate::Allowed);
        assert_eq!(gate(&[], 2, 0, 12 * H, 1), Gate::Allowed);
        // The wall clock stepped back before the last start: still held.
        assert!(matches!(
            gate(&h, 2, 9 * H, 12 * H, 1),
            Gate::HeldByPeriod { .. }
        ));
    }

    #[test]
    fn the_reason_gives_times_a_person_reads() {
        let h = vec![rep(1, 10 * H, Some(OutcomeStatus::Succeeded), true)];
        let r = gate(&h, 2, 11 * H, 12 * H, 1).reason();
        assert_eq!(
            r,
            "held back: broker 1 was replaced at 1970-01-01T10:00:00.000Z, and one replacement \
             per replace.period_secs is allowed; next at 1970-01-01T22:00:00.000Z"
        );
    }

    #[test]
    fn a_failed_one_counts_for_the_period_but_not_for_concurrency() {
        let h = vec![rep(1, 10 * H, Some(OutcomeStatus::Failed), false)];
        assert!(matches!(
            gate(&h, 2, 11 * H, 12 * H, 1),
            Gate::HeldByPeriod { .. }
        ));
        assert_eq!(gate(&h, 2, 11 * H, H / 2, 1), Gate::Allowed);
    }

    #[test]
    fn concurrency_counts_running_and_not_caught_up() {
        let h = vec![
            rep(1, 0, Some(OutcomeStatus::Succeeded), false),
            rep(3, 0, None, false),
        ];
        assert_eq!(gate(&h, 3, 100 * H, H, 5), Gate::AlreadyReplacing);
        assert_eq!(
            gate(&h, 2, 100 * H, H, 2),
            Gate::HeldByConcurrency {
                replacing: vec![1, 3],
                max: 2
            }
        );
        assert_eq!(gate(&h, 2, 100 * H, H, 3), Gate::Allowed);
    }

    #[test]
    fn the_window_holds_across_a_simulated_restart() {
        // Run 1 replaces broker 1 and writes intent + outcome; the process dies.
        let intent = {
            let mut r = ActionRecord::intent(
                "c",
                "a1",
                None,
                ActionKind::ReplaceHost {
                    broker: 1,
                    hostname: "b1".into(),
                },
                "dead 40 min",
                "m",
            );
            r.wall_ms = 5 * H;
            r
        };
        let outcome = intent.outcome_of(Outcome {
            status: OutcomeStatus::Succeeded,
            detail: String::new(),
            command: Some(CommandOutput {
                argv: vec![],
                exit_code: Some(0),
                timed_out: false,
                duration_ms: 1,
                stdout: String::new(),
                stderr: String::new(),
                truncated: false,
            }),
        });
        // Run 2 reads the log back: a second dead broker 4 h later is held back...
        let caught_up = ActionRecord::state("c", "x", ActionKind::CaughtUp { broker: 1 }, "", "m");
        let restored = restore(vec![intent, outcome, caught_up]).cluster("c");
        assert!(matches!(
            gate(&restored.replacements, 2, 9 * H, 12 * H, 1),
            Gate::HeldByPeriod { last_broker: 1, .. }
        ));
        // ...and allowed once the period since the first has passed.
        assert_eq!(
            gate(&restored.replacements, 2, 17 * H, 12 * H, 1),
            Gate::Allowed
        );
    }
}
