//! Plans an operator approved through the API (`POST /api/clusters/{c}/plans/{p}/approve`):
//! the cluster loop puts the approved plan on the board when the command arrives; the actor
//! runs it through the executor, once, when no plan of its own is running.
//!
//! An approved plan is held, and waits on the board, while maintenance or dry-run is on or a
//! mass failure stands (DESIGN: a mass failure holds every data move, whoever asked). The
//! approve endpoint already refused a plan the cluster no longer matches (409); the executor
//! still cancels, rather than forces, any move whose partition changed since.

use tokio::sync::watch;

use super::board::Board;
use crate::detect::FindingKind;
use crate::execute::ExecPlan;
use crate::serve::Command;

/// Puts an approved plan on the board (replacing one not yet started: the newest approval
/// wins). Other commands are not this module's.
pub fn on_command(board: &watch::Sender<Board>, cmd: &Command) {
    if let Command::Approve(a) = cmd {
        let a = (**a).clone();
        board.send_modify(|b| b.approved = Some(a));
    }
}

/// What to do with the approved plan on `board`, if any.
#[derive(Debug, PartialEq)]
pub enum Next {
    /// None waits.
    Nothing,
    /// It waits: why.
    Held(String),
    /// Run it: the proposal id and the executor's plan.
    Run(u64, ExecPlan),
}

/// The approved plan to run now, or why it waits.
pub fn next(board: &Board, cluster_id: &str) -> Next {
    let Some(a) = &board.approved else {
        return Next::Nothing;
    };
    if let Some(modes) = &board.decommission.paused {
        return Next::Held(format!("{modes} is on: no action runs, approved or not"));
    }
    if let Some(f) = board
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::MassFailure)
    {
        return Next::Held(format!(
            "a mass failure stands ({}): no data moves, approved or not",
            f.evidence
        ));
    }
    let mut plan = ExecPlan::new(cluster_id, None, &a.plan);
    plan.plan_id = format!("{cluster_id}-approved-p{}", a.id);
    Next::Run(a.id, plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Finding;
    use crate::plan::{Plan, Request};
    use crate::serve::Approved;

    fn approved() -> Approved {
        let mut plan = Plan::default();
        plan.elections.push(crate::plan::Election {
            topic: "t".into(),
            partition: 0,
            old_leader: Some(1),
            new_leader: 2,
            after_reorder: false,
            reason: crate::plan::ElectionReason::Preferred { preferred: 2 },
        });
        Approved {
            id: 7,
            request: Request::PreferredLeaders,
            plan,
        }
    }

    #[test]
    fn an_approval_waits_on_the_board_and_runs_once_nothing_holds_it() {
        let (tx, _rx) = watch::channel(Board::default());
        assert_eq!(next(&tx.borrow(), "cid"), Next::Nothing);
        on_command(&tx, &Command::SetDryRun(true));
        assert_eq!(next(&tx.borrow(), "cid"), Next::Nothing, "not an approval");
        on_command(&tx, &Command::Approve(Box::new(approved())));
        let board = tx.borrow().clone();
        match next(&board, "cid") {
            Next::Run(7, p) => {
                assert_eq!(p.plan_id, "cid-approved-p7");
                assert_eq!(p.elections.len(), 1);
                assert_eq!(p.decision, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn maintenance_dry_run_and_a_mass_failure_hold_an_approved_plan() {
        let mut b = Board {
            approved: Some(approved()),
            ..Board::default()
        };
        b.decommission.paused = Some("maintenance".into());
        assert!(matches!(next(&b, "cid"), Next::Held(w) if w.contains("maintenance")));
        b.decommission.paused = Some("dry-run".into());
        assert!(matches!(next(&b, "cid"), Next::Held(w) if w.contains("dry-run")));
        b.decommission.paused = None;
        b.findings.push(Finding {
            kind: FindingKind::MassFailure,
            broker: None,
            topic: None,
            partitions: Vec::new(),
            evidence: "3 brokers failed in az-a".into(),
            rule: "test",
        });
        assert!(matches!(next(&b, "cid"), Next::Held(w) if w.contains("mass failure")));
        b.findings.clear();
        assert!(matches!(next(&b, "cid"), Next::Run(7, _)));
    }
}
