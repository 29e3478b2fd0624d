//! Planner quality on clusters made by Cruise Control's generator (`../shared/clusters`, issue
//! 12): 50 brokers in 3 racks, about 50,000 replicas, loads we did not shape.

mod cc_common;

use cc_common::{applied, full_balance, load};
use kmedic_master::plan::{Limits, Plan, Request};
use kmedic_master::sim::{health, Cluster, Health};

fn run(c: &Cluster, limits: &Limits, req: &Request) -> (Plan, Health, Health) {
    let before = health(&c.snapshot);
    let (after, p) = applied(c, limits, req);
    let h = health(&after.snapshot);
    println!(
        "before {before:?}\nafter {h:?}\nmoves {} bytes {} elections {} unplaceable {}",
        p.moves.len(),
        p.totals.bytes_moved,
        p.elections.len(),
        p.unplaceable.len()
    );
    for w in &p.warnings {
        println!("{w}");
    }
    (p, before, h)
}

/// Balance reached 1.52 on net in: every partition on the hottest brokers had had one replica
/// moved or a leader elected, and a touched partition was never looked at again.
#[test]
fn skewed_cluster_balances_to_target_on_net_in_and_out() {
    let c = load("cc-b50-r50k-skewed.tsv.gz");
    let (p, _, h) = run(&c, &full_balance(), &Request::Balance);
    assert_eq!(h.rack_violations, 0);
    assert_eq!(h.duplicate_replicas, 0);
    assert!(h.net_in_max_over_mean <= 1.10 + 1e-6, "{h:?}");
    assert!(h.net_out_max_over_mean <= 1.10 + 1e-6, "{h:?}");
    // Cruise Control moves 5.63 TB for the same result.
    assert!(
        p.totals.bytes_moved <= 5_630_000_000_000,
        "{}",
        p.totals.bytes_moved
    );
}

/// Highest utilization per resource (net in, net out, disk) over alive brokers, and the
/// balance target (ratio x mean over alive brokers) per resource.
fn peaks(h: &Health, ratio: f64) -> [(f64, f64); 3] {
    let mean = |max: f64, over: f64| if over > 0.0 { max / over } else { 0.0 };
    [
        (
            h.net_in_max_utilization,
            ratio * mean(h.net_in_max_utilization, h.net_in_max_over_mean),
        ),
        (
            h.net_out_max_utilization,
            ratio * mean(h.net_out_max_utilization, h.net_out_max_over_mean),
        ),
        (
            h.disk_max_utilization,
            ratio * mean(h.disk_max_utilization, h.disk_max_over_mean),
        ),
    ]
}

/// The heal put broker 0's replicas on the least loaded broker of its rack one by one and
/// raised net in max/mean 1.27 -> 1.42.
#[test]
fn dead_broker_heal_stays_under_the_pre_failure_peak() {
    let c = load("cc-b50-r50k-dead1.tsv.gz");
    let limits = Limits::default();
    let (p, before, after) = run(&c, &limits, &Request::Heal { dead: vec![0] });
    assert_eq!(after.replicas_on_unhealthy, 0, "{}", p.unplaceable.len());
    assert_eq!(after.rack_violations, 0);
    let (b, a) = (
        peaks(&before, limits.target_ratio),
        peaks(&after, limits.target_ratio),
    );
    for (i, name) in ["net in", "net out", "disk"].into_iter().enumerate() {
        let bound = b[i].0.max(a[i].1);
        assert!(
            a[i].0 <= bound + 1e-9,
            "{name}: peak {} > max(pre-failure {}, target {})",
            a[i].0,
            b[i].0,
            a[i].1
        );
    }
}
