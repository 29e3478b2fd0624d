use super::*;
use crate::observe::{BrokerView, PartitionView, ReassignmentView};
use crate::plan::{Move, MoveReason, Plan};

#[path = "../../tests/fixture/brokers.rs"]
mod brokers;

/// Brokers 1..=6 in az-a, az-b, az-c (1,4 / 2,5 / 3,6); broker 6 fenced; `t-0` on [1,2,3],
/// `t-1` on [4,5,3] and reassigning.
fn view() -> ClusterView {
    let mut v = ClusterView {
        cluster_id: "c".into(),
        ..ClusterView::default()
    };
    brokers::add_six_brokers(&mut v, &[6]);
    for (p, replicas) in [(0, vec![1, 2, 3]), (1, vec![4, 5, 3])] {
        v.partitions.push(PartitionView {
            topic: "t".into(),
            partition: p,
            leader: Some(replicas[0]),
            isr: replicas.clone(),
            replicas,
            offline_replicas: vec![],
        });
    }
    v.reassignments.insert(
        TopicPartition {
            topic: "t".into(),
            partition: 1,
        },
        ReassignmentView {
            adding: vec![],
            removing: vec![],
        },
    );
    v
}

fn one(partition: i32, replicas: Vec<i32>) -> Proposed {
    Proposed {
        topic: "t".into(),
        partition,
        replicas,
        log_dirs: None,
    }
}

fn reasons(view: &ClusterView, p: Proposed) -> Vec<String> {
    let c = check(view, &[p]);
    c.refused.into_iter().flat_map(|r| r.1).collect()
}

#[test]
fn a_rack_correct_move_to_live_brokers_is_accepted() {
    let c = check(&view(), &[one(0, vec![4, 2, 3])]);
    assert_eq!(c.accepted.len(), 1, "{c:?}");
    assert!(c.refused.is_empty());
    assert!(render(&c).contains("1 accepted, 0 refused; dry run"));
}

#[test]
fn each_safety_rule_refuses_with_its_reason() {
    let v = view();
    let r = reasons(&v, one(0, vec![1, 2]));
    assert!(r[0].contains("replication factor from 3 to 2"), "{r:?}");
    let r = reasons(&v, one(0, vec![1, 4, 3]));
    assert!(r[0].contains("not in 3 distinct racks"), "{r:?}");
    let r = reasons(&v, one(1, vec![4, 5, 3]));
    assert!(r[0].contains("already being reassigned"), "{r:?}");
    let r = reasons(&v, one(0, vec![1, 2, 9]));
    assert!(
        r.iter().any(|x| x.contains("broker 9 is not registered")),
        "{r:?}"
    );
    let r = reasons(&v, one(0, vec![1, 2, 6]));
    assert_eq!(r, vec!["broker 6 is fenced (not alive)".to_string()]);
    let r = reasons(&v, one(0, vec![1, 2, 2]));
    assert!(r.iter().any(|x| x.contains("appears twice")), "{r:?}");
    let r = reasons(&v, one(7, vec![1, 2, 3]));
    assert!(r[0].contains("no such partition"), "{r:?}");
    let mut d = one(0, vec![4, 2, 3]);
    d.log_dirs = Some(vec!["/data".into(), "any".into(), "any".into()]);
    assert!(reasons(&v, d)[0].contains("log_dirs"));
}

#[test]
fn racks_are_not_required_when_the_cluster_has_fewer_than_rf() {
    let mut v = view();
    for b in v.brokers.values_mut() {
        b.rack = Some("one".into());
    }
    assert!(check(&v, &[one(0, vec![1, 4, 5])]).refused.is_empty());
}

#[test]
fn a_partition_twice_in_the_file_is_refused_the_second_time() {
    let c = check(&view(), &[one(0, vec![4, 2, 3]), one(0, vec![1, 5, 3])]);
    assert_eq!(c.accepted.len(), 1);
    assert!(c.refused[0].1[0].contains("more than once"));
    assert!(render(&c).starts_with("REFUSED t-0 -> [1, 5, 3]: listed more than once"));
}

#[test]
fn parse_reads_what_the_plan_writer_writes_and_refuses_other_files() {
    let plan = Plan {
        moves: vec![Move {
            topic: std::sync::Arc::from("t"),
            partition: 0,
            old_replicas: vec![1, 2, 3],
            new_replicas: vec![4, 2, 3],
            bytes_to_copy: 1,
            reason: MoveReason::Heal { from: 1 },
        }],
        ..Plan::default()
    };
    let json = serde_json::to_string(&plan.reassignment_json()).expect("json");
    let parsed = parse(&json).expect("parses");
    assert_eq!(parsed.len(), 1);
    assert_eq!(parsed[0].replicas, vec![4, 2, 3]);
    assert!(check(&view(), &parsed).refused.is_empty());

    assert!(matches!(
        parse("{\"version\":2,\"partitions\":[]}"),
        Err(Error::Version(2))
    ));
    let e = parse("[1,2]").expect_err("not the format").to_string();
    assert!(e.contains("expected {\"version\":1"), "{e}");
}

#[test]
fn the_racks_of_a_refused_move_read_as_names_not_debug() {
    let mut v = view();
    if let Some(b) = v.brokers.get_mut(&3) {
        b.rack = None;
    }
    let c = check(&v, &[one(0, vec![1, 4, 3])]);
    let text = render(&c);
    assert!(text.contains("(racks az-a, az-a, no rack;"), "{text}");
    assert!(!text.contains("Some("), "{text}");
}
