use super::*;
use crate::actionlog::record::{CommandOutput, Mode, Outcome, OutcomeStatus, PartitionRef};

fn reassign() -> ActionRecord {
    let mut r = ActionRecord::intent(
        "cid-1",
        "m1-7",
        Some(crate::policy::decision::DecisionId(42)),
        ActionKind::Reassign {
            targets: vec![vec![1, 2, 3]; 6],
            bytes: 1_000,
        },
        "heal: broker 4 dead",
        "m1",
    );
    r.wall_ms = 1_764_372_245_123; // 2025-11-28T23:24:05.123Z
    r.partitions = (0..6)
        .map(|p| PartitionRef {
            topic: "orders".into(),
            partition: p,
        })
        .collect();
    r.brokers = vec![4];
    r
}

#[test]
fn utc_formats_epoch_millis() {
    assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(utc(1_764_372_245_123), "2025-11-28T23:24:05.123Z");
}

#[test]
fn intent_line_names_time_cluster_id_decision_kind_partitions_brokers_reason() {
    let line = render_line(&reassign());
    assert_eq!(
        line,
        "2025-11-28T23:24:05.123Z cid-1 m1-7 decision=#42 intent  reassign 6 partitions, \
         1000 bytes partitions=[orders-0,orders-1,orders-2,orders-3 and 2 more] brokers=[4] \
         reason: heal: broker 4 dead"
    );
}

#[test]
fn outcome_line_has_status_detail_and_command() {
    let out = reassign().outcome_of(Outcome {
        status: OutcomeStatus::Partial,
        detail: "2 refused".into(),
        command: Some(CommandOutput {
            argv: vec!["x".into()],
            exit_code: Some(3),
            timed_out: false,
            duration_ms: 12,
            stdout: String::new(),
            stderr: String::new(),
            truncated: false,
        }),
    });
    let line = render_line(&out);
    assert!(line.contains(" outcome "), "{line}");
    assert!(
        line.contains("outcome=partial (2 refused) command exit=3 in 12 ms"),
        "{line}"
    );
}

#[test]
fn state_line_and_json_round_trip() {
    let r = ActionRecord::state(
        "cid-1",
        "s1",
        ActionKind::SetMode {
            mode: Mode::DryRun,
            on: true,
        },
        "operator",
        "m1",
    );
    assert!(render_line(&r).contains("state   set_mode dry_run on"));
    let back = ActionRecord::from_json(render_json(&r).as_bytes()).expect("parses");
    assert_eq!(back, r);
    assert!(!render_json(&r).contains('\n'));
}

#[test]
fn filter_by_cluster_id() {
    let r = reassign();
    assert!(matches(&r, None));
    assert!(matches(&r, Some("cid-1")));
    assert!(!matches(&r, Some("other")));
}

/// An empty log (or none for the cluster asked for) says so in one line, naming the topic and
/// the cluster, instead of printing nothing.
#[test]
fn an_empty_log_says_it_is_empty() {
    assert_eq!(
        nothing_printed("kmedic.actions", None, 0),
        "the action log kmedic.actions is empty"
    );
    assert_eq!(
        nothing_printed("kmedic.actions", Some("cid-1"), 0),
        "the action log kmedic.actions is empty (asked for cluster cid-1)"
    );
    assert_eq!(
        nothing_printed("kmedic.actions", Some("cid-1"), 3),
        "the action log kmedic.actions has no record for cluster cid-1 (3 records for other \
         clusters)"
    );
}
