use super::*;
use crate::detect::tests::Fake;

fn target() -> PlanTarget {
    PlanTarget {
        name: "test".into(),
        connection: ConnectionSettings::plaintext(["127.0.0.1:1"]),
        cluster_id: None,
        limits: NetworkLimits::default(),
        planner: Limits::default(),
        checkpoint: None,
    }
}

#[test]
fn heal_moves_every_replica_off_the_fenced_broker_and_json_is_reassign_format() {
    let mut f = Fake::six();
    for p in 0..6 {
        let a = [1, 2, 3, 4, 5, 6];
        f.add_partition(
            "t",
            p,
            &[
                a[p as usize],
                a[(p as usize + 1) % 6],
                a[(p as usize + 2) % 6],
            ],
        );
    }
    f.fence(1);
    // Every broker described its log dirs (a broker with unknown disk gets no replica).
    for id in 1..=6 {
        f.view.disk_total_bytes.insert(id, 1 << 40);
    }
    let r = plan_view(&target(), &f.view, None, RequestKind::Heal, &[], &[]).unwrap();
    assert_eq!(r.request, Request::Heal { dead: vec![1] });
    assert_eq!(r.dead, vec![(1, "fenced by the controller".to_string())]);
    // Broker 1 hosts partitions 0, 4 and 5.
    assert_eq!(r.plan.moves.len(), 3, "{}", render_table(&r));
    for m in &r.plan.moves {
        assert!(!m.new_replicas.contains(&1));
        assert_eq!(m.new_replicas.len(), 3);
        let slot = m.old_replicas.iter().position(|&b| b == 1).unwrap();
        // Same rack as broker 1 (az-a) is broker 4 when 4 is not already a replica.
        if !m.old_replicas.contains(&4) {
            assert_eq!(m.new_replicas[slot], 4, "{m}");
        }
    }
    let j = r.plan.reassignment_json();
    assert_eq!(j["version"], 1);
    let ps = j["partitions"].as_array().unwrap();
    assert_eq!(ps.len(), 3);
    assert_eq!(ps[0]["log_dirs"].as_array().unwrap().len(), 3);
    assert!(ps[0]["topic"].is_string() && ps[0]["partition"].is_i64());
    let table = render_table(&r);
    assert!(table.contains("MOVES (3)") && table.contains("Kafka's signal only"));
}

#[test]
fn assume_dead_adds_brokers_and_decommission_needs_brokers() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    let r = plan_view(&target(), &f.view, None, RequestKind::Heal, &[], &[2]).unwrap();
    assert_eq!(r.request, Request::Heal { dead: vec![2] });
    let e = plan_view(
        &target(),
        &f.view,
        None,
        RequestKind::Decommission,
        &[],
        &[],
    );
    assert!(matches!(e, Err(Error::Usage(_))));
}

#[test]
fn relieve_plans_the_named_brokers_and_needs_brokers() {
    let mut f = Fake::six();
    f.add_partition("t", 0, &[1, 2, 3]);
    let r = plan_view(&target(), &f.view, None, RequestKind::Relieve, &[2], &[]).unwrap();
    assert_eq!(r.request, Request::Relieve { brokers: vec![2] });
    let e = plan_view(&target(), &f.view, None, RequestKind::Relieve, &[], &[]);
    assert!(
        matches!(&e, Err(Error::Usage(m)) if m.contains("--brokers")),
        "{e:?}"
    );
}

#[test]
fn resolve_needs_config_or_bootstrap() {
    assert!(matches!(
        PlanTarget::resolve("x", None, None),
        Err(Error::Usage(_))
    ));
    let t = PlanTarget::resolve("x", None, Some("a:1,b:2")).unwrap();
    assert_eq!(t.connection.bootstrap_servers, vec!["a:1", "b:2"]);
}

#[test]
fn max_disk_utilization_override_is_validated_and_applied() {
    let t = target().with_max_disk_utilization(0.99).unwrap();
    assert_eq!(t.planner.max_disk_utilization, 0.99);
    for bad in [f64::NAN, 0.0, -0.5, 1.01, f64::INFINITY] {
        let e = target().with_max_disk_utilization(bad).unwrap_err();
        assert!(
            matches!(&e, Error::Usage(m) if m.contains("--max-disk-utilization")),
            "{bad}: {e}"
        );
    }
}
