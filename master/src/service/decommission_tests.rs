//! Decommissions on a fake: cordon before the drain, the drain planned rack-correct off the
//! broker, paused by maintenance, DELETE cancels the running drain and uncordons, unregister
//! only once drained and shut down, and the log folded back after a restart.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::watch;

use super::*;
use crate::actionlog::{MemoryJournal, Outcome};
use crate::config::ExecuteConfig;
use crate::config::{DecommissionConfig, NetworkLimits};
use crate::execute::CancelHandle;
use crate::execute::{Executor, LogJournal};
use crate::observe::ClusterView;
use crate::observe::{BrokerView, PartitionView, TopicPartition};
use crate::plan;
use crate::service::board::Status;

const CID: &str = "cid";
const GB: u64 = 1 << 30;

/// Records calls; `fail` makes every call of that name fail.
#[derive(Default)]
struct FakeOps {
    calls: Mutex<Vec<String>>,
    fail: Mutex<BTreeSet<&'static str>>,
}

impl FakeOps {
    fn call(&self, what: &'static str, b: i32) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            self.calls.lock().unwrap().push(format!("{what} {b}"));
            if self.fail.lock().unwrap().contains(what) {
                return Err(format!("{what} refused"));
            }
            Ok(())
        })
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl CordonOps for FakeOps {
    fn cordon(&self, b: i32) -> BoxFuture<'_, Result<(), String>> {
        self.call("cordon", b)
    }
    fn uncordon(&self, b: i32) -> BoxFuture<'_, Result<(), String>> {
        self.call("uncordon", b)
    }
    fn unregister(&self, b: i32) -> BoxFuture<'_, Result<(), String>> {
        self.call("unregister", b)
    }
}

fn rack(b: i32) -> String {
    ["az-a", "az-b", "az-c"][((b - 1) % 3) as usize].to_string()
}

/// Six brokers in three racks (1,4 az-a; 2,5 az-b; 3,6 az-c), `parts` partitions of topic t.
fn view(parts: &[Vec<i32>], fenced: &[i32]) -> ClusterView {
    let mut v = ClusterView {
        cluster_id: CID.into(),
        ..ClusterView::default()
    };
    for b in 1..=6 {
        v.brokers.insert(
            b,
            BrokerView {
                id: b,
                rack: Some(rack(b)),
                host: format!("h{b}"),
                port: 9092,
                fenced: fenced.contains(&b),
            },
        );
        v.disk_total_bytes.insert(b, 100 * GB);
        v.disk_usable_bytes.insert(b, 90 * GB);
    }
    for (i, r) in parts.iter().enumerate() {
        v.partitions.push(PartitionView {
            topic: "t".into(),
            partition: i as i32,
            leader: Some(r[0]),
            replicas: r.clone(),
            isr: r.clone(),
            offline_replicas: vec![],
        });
        let tp = TopicPartition {
            topic: "t".into(),
            partition: i as i32,
        };
        v.sizes_bytes.insert(tp, 1000);
    }
    v
}

fn board(v: ClusterView, wanted: &[i32]) -> Board {
    Board {
        round: 1,
        status: Status::Ran,
        cluster_view: Some(Arc::new(v)),
        decommission: DecommissionBoard {
            wanted: wanted.iter().copied().collect(),
            ..DecommissionBoard::default()
        },
        ..Board::default()
    }
}

fn decoms(unregister: bool, cordoned: &[i32]) -> Decommissions {
    Decommissions::new(
        "c",
        "m",
        DecommissionConfig { unregister },
        NetworkLimits::default(),
        plan::Limits::default(),
        cordoned.iter().copied().collect(),
    )
}

fn cancel_handle() -> CancelHandle {
    let admin = kmedic_common::admin::AdminClient::new(
        kmedic_common::connection::ConnectionSettings::plaintext(["127.0.0.1:1"]),
    )
    .unwrap();
    Executor::new(admin, LogJournal, ExecuteConfig::default()).cancel_handle()
}

fn kinds(j: &MemoryJournal) -> Vec<(String, Phase, Vec<i32>)> {
    j.records()
        .iter()
        .map(|r| (r.kind.name().to_string(), r.phase, r.brokers.clone()))
        .collect()
}

fn parts() -> Vec<Vec<i32>> {
    vec![vec![2, 3, 1], vec![1, 2, 3], vec![3, 1, 2], vec![4, 5, 6]]
}

#[tokio::test]
async fn cordons_first_then_drains_every_replica_rack_correct() {
    let b = board(view(&parts(), &[]), &[2]);
    let tx = watch::Sender::new(b.clone());
    let (j, ops) = (MemoryJournal::default(), FakeOps::default());
    let mut d = decoms(false, &[]);
    let step = d.step(&tx, &b, &j, &ops, CID, true).await.unwrap();
    assert_eq!(ops.calls(), vec!["cordon 2"]);
    assert_eq!(
        kinds(&j),
        vec![
            ("cordon".into(), Phase::Intent, vec![2]),
            ("cordon".into(), Phase::Outcome, vec![2])
        ]
    );
    let (brokers, plan) = step.drain.expect("a drain plan");
    assert_eq!(brokers, BTreeSet::from([2]));
    assert_eq!(plan.moves.len(), 3, "{plan:?}");
    for m in &plan.moves {
        assert!(!m.new.contains(&2), "{m:?}");
        let racks: BTreeSet<String> = m.new.iter().map(|&x| rack(x)).collect();
        assert_eq!(racks.len(), 3, "racks stay distinct: {m:?}");
    }
    let shown = tx.borrow().decommission.brokers[&2].clone();
    assert_eq!(shown.phase, DrainPhase::Draining);
    assert!(shown.cordoned);
    assert_eq!((shown.replicas_left, shown.bytes_left), (3, 3000));
    // Cordoned once: the next round does not cordon again, and no drain while one runs.
    d.started(brokers, cancel_handle());
    let step = d.step(&tx, &b, &j, &ops, CID, false).await.unwrap();
    assert!(step.drain.is_none());
    assert_eq!(ops.calls(), vec!["cordon 2"]);
}

#[tokio::test]
async fn a_failed_cordon_is_recorded_retried_and_the_drain_goes_on() {
    let b = board(view(&parts(), &[]), &[2]);
    let tx = watch::Sender::new(b.clone());
    let (j, ops) = (MemoryJournal::default(), FakeOps::default());
    ops.fail.lock().unwrap().insert("cordon");
    let mut d = decoms(false, &[]);
    let step = d.step(&tx, &b, &j, &ops, CID, true).await.unwrap();
    assert!(step.drain.is_some());
    let out = j.records()[1].outcome.clone().unwrap();
    assert_eq!(out.status, OutcomeStatus::Failed);
    assert!(!tx.borrow().decommission.brokers[&2].cordoned);
    d.step(&tx, &b, &j, &ops, CID, true).await.unwrap();
    assert_eq!(ops.calls(), vec!["cordon 2", "cordon 2"]);
}

#[tokio::test]
async fn maintenance_or_dry_run_pause_everything() {
    let mut b = board(view(&parts(), &[]), &[2]);
    let tx = watch::Sender::new(b.clone());
    for mode in ["maintenance", "dry-run"] {
        b.decommission.paused = Some(mode.into());
        let (j, ops) = (MemoryJournal::default(), FakeOps::default());
        let mut d = decoms(true, &[5]);
        let step = d.step(&tx, &b, &j, &ops, CID, true).await.unwrap();
        assert!(step.drain.is_none());
        assert!(ops.calls().is_empty() && j.records().is_empty(), "{mode}");
    }
}

#[tokio::test]
async fn delete_cancels_the_running_drain_and_uncordons_once_it_ended() {
    let b = board(view(&parts(), &[]), &[2]);
    let tx = watch::Sender::new(b.clone());
    let (j, ops) = (MemoryJournal::default(), FakeOps::default());
    let mut d = decoms(false, &[]);
    let (brokers, _) = d
        .step(&tx, &b, &j, &ops, CID, true)
        .await
        .unwrap()
        .drain
        .unwrap();
    d.started(brokers, cancel_handle());
    let deleted = board(view(&parts(), &[]), &[]);
    let step = d.step(&tx, &deleted, &j, &ops, CID, false).await.unwrap();
    assert!(step.drain.is_none());
    assert_eq!(ops.calls(), vec!["cordon 2"], "no uncordon while it drains");
    assert_eq!(
        tx.borrow().decommission.brokers[&2].phase,
        DrainPhase::Uncordoning
    );
    assert!(
        d.ended(),
        "the drain was cancelled: the actor needs a fresh executor"
    );
    d.step(&tx, &deleted, &j, &ops, CID, true).await.unwrap();
    assert_eq!(ops.calls(), vec!["cordon 2", "uncordon 2"]);
    assert!(tx.borrow().decommission.brokers.is_empty());
    assert!(!d.ended());
    // Not cordoned any more: nothing further.
    d.step(&tx, &deleted, &j, &ops, CID, true).await.unwrap();
    assert_eq!(ops.calls().len(), 2);
}

#[tokio::test]
async fn unregister_waits_for_no_replica_and_shut_down() {
    let drained = vec![vec![1, 5, 3], vec![4, 5, 6]];
    let (j, ops) = (MemoryJournal::default(), FakeOps::default());
    let mut d = decoms(true, &[2]);
    // Still hosting: no unregister.
    let b = board(view(&parts(), &[2]), &[2]);
    let tx = watch::Sender::new(b.clone());
    d.step(&tx, &b, &j, &ops, CID, false).await.unwrap();
    // Drained but still up: no unregister.
    let b = board(view(&drained, &[]), &[2]);
    d.step(&tx, &b, &j, &ops, CID, true).await.unwrap();
    assert!(ops.calls().is_empty(), "{:?}", ops.calls());
    assert_eq!(
        tx.borrow().decommission.brokers[&2].phase,
        DrainPhase::Drained
    );
    // Drained and fenced: unregistered, and off the list.
    let b = board(view(&drained, &[2]), &[2]);
    let step = d.step(&tx, &b, &j, &ops, CID, true).await.unwrap();
    assert!(step.drain.is_none());
    assert_eq!(ops.calls(), vec!["unregister 2"]);
    assert!(tx.borrow().decommission.wanted.is_empty());
    // Without `unregister`, a drained, shut-down broker stays listed.
    let (j2, ops2) = (MemoryJournal::default(), FakeOps::default());
    let mut d2 = decoms(false, &[2]);
    let tx2 = watch::Sender::new(b.clone());
    d2.step(&tx2, &b, &j2, &ops2, CID, true).await.unwrap();
    assert!(ops2.calls().is_empty());
    assert_eq!(tx2.borrow().decommission.wanted, BTreeSet::from([2]));
}

#[tokio::test]
async fn a_fenced_log_stops_before_the_call() {
    let b = board(view(&parts(), &[]), &[2]);
    let tx = watch::Sender::new(b.clone());
    let (j, ops) = (MemoryJournal::default(), FakeOps::default());
    j.fence();
    let mut d = decoms(false, &[]);
    let e = d.step(&tx, &b, &j, &ops, CID, true).await.unwrap_err();
    assert!(e.is_fenced());
    assert!(ops.calls().is_empty(), "nothing is done without its intent");
}

fn rec(kind: ActionKind, phase: Phase, brokers: &[i32], ok: bool) -> ActionRecord {
    let mut r = ActionRecord::intent(CID, "a", None, kind, "", "m");
    r.phase = phase;
    r.brokers = brokers.to_vec();
    if phase == Phase::Outcome {
        r.outcome = Some(Outcome {
            status: if ok {
                OutcomeStatus::Succeeded
            } else {
                OutcomeStatus::Failed
            },
            detail: String::new(),
            command: None,
        });
    }
    r
}

#[test]
fn restore_folds_the_list_and_kmedics_cordons() {
    let d = |b: Vec<i32>| ActionKind::Decommission { brokers: b };
    let r = |b: Vec<i32>| ActionKind::Recommission { brokers: b };
    let records = vec![
        rec(d(vec![1]), Phase::State, &[1], true),
        rec(d(vec![2]), Phase::State, &[2], true),
        rec(d(vec![3]), Phase::State, &[3], true),
        rec(ActionKind::Cordon, Phase::Intent, &[1], true),
        rec(ActionKind::Cordon, Phase::Outcome, &[1], true),
        rec(ActionKind::Cordon, Phase::Outcome, &[2], true),
        rec(ActionKind::Cordon, Phase::Outcome, &[3], false),
        rec(r(vec![2]), Phase::State, &[2], true),
        rec(ActionKind::Unregister, Phase::Outcome, &[1], true),
    ];
    let mut other = rec(d(vec![9]), Phase::State, &[9], true);
    other.cluster_id = "other".into();
    let mut all = records;
    all.push(other);
    let got = restore(&all, CID);
    // 1 unregistered, 2 recommissioned (its uncordon did not happen: still cordoned), 3 listed
    // with a failed cordon.
    assert_eq!(got.wanted, BTreeSet::from([3]));
    assert_eq!(got.cordoned, BTreeSet::from([2]));
}

#[tokio::test]
async fn a_start_that_cannot_be_recorded_is_refused_a_stop_is_not() {
    use crate::serve::Command;
    let j = Arc::new(MemoryJournal::default());
    let m = super::super::act::ModeLog {
        log: j.clone(),
        cluster_id: CID.into(),
        master_id: "m".into(),
    };
    let on = Command::Decommission {
        broker: 2,
        on: true,
    };
    let off = Command::Decommission {
        broker: 2,
        on: false,
    };
    assert!(record(Some(&m), "c", &on).await);
    assert_eq!(
        kinds(&j),
        vec![("decommission".into(), Phase::State, vec![2])]
    );
    j.fence();
    assert!(!record(Some(&m), "c", &on).await);
    assert!(record(Some(&m), "c", &off).await);
    // The board mirrors applied commands and modes.
    let tx = watch::Sender::new(Board::default());
    on_command(&tx, &on);
    on_command(&tx, &Command::SetMaintenance(true));
    on_command(&tx, &Command::SetDryRun(true));
    on_command(&tx, &Command::SetMaintenance(false));
    let d = tx.borrow().decommission.clone();
    assert_eq!(d.wanted, BTreeSet::from([2]));
    assert_eq!(d.paused.as_deref(), Some("dry-run"));
}
