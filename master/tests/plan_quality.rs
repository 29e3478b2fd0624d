//! Property tests for plan quality (issue 12): a heal never raises a broker's projected net in,
//! net out or disk above `max(peak before, target x mean after)`, and balance never makes any
//! resource's max/mean worse.

use kmedic_master::plan::{plan, Limits, Request, Warning};
use kmedic_master::sim::{generate, health, Health, Spec};
use proptest::prelude::*;

/// (peak utilization, mean utilization) of net in, net out and disk over alive brokers.
fn figures(h: &Health) -> [(f64, f64); 3] {
    let mean = |max: f64, over: f64| if over > 0.0 { max / over } else { 0.0 };
    [
        (
            h.net_in_max_utilization,
            mean(h.net_in_max_utilization, h.net_in_max_over_mean),
        ),
        (
            h.net_out_max_utilization,
            mean(h.net_out_max_utilization, h.net_out_max_over_mean),
        ),
        (
            h.disk_max_utilization,
            mean(h.disk_max_utilization, h.disk_max_over_mean),
        ),
    ]
}

const NAMES: [&str; 3] = ["net in", "net out", "disk"];

fn spec(seed: u64, racks: usize, per_rack: usize, skew: f64) -> Spec {
    let brokers = racks * per_rack;
    let mut spec = Spec::new(brokers, 90 * brokers, seed);
    spec.racks = racks;
    spec.topics = 4;
    spec.topic_skew = skew;
    spec.partition_skew = skew / 2.0;
    spec.non_preferred_leaders = 0.1;
    spec
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Heal: no broker ends above max(its resource's peak before, target x mean after), unless
    /// the plan says it had to ([`Warning::AbovePeak`]: no broker of the rack had room).
    #[test]
    fn heal_never_raises_the_peak(
        seed in any::<u64>(),
        racks in 1usize..4,
        per_rack in 3usize..7,
        skew in 0.0f64..1.2,
        dead in 1usize..4,
    ) {
        let mut c = generate(&spec(seed, racks, per_rack, skew));
        let dead: Vec<i32> = (1..=dead as i32).map(|d| (d * 5) % (racks * per_rack) as i32 + 1).collect();
        for &d in &dead {
            c.kill(d);
        }
        let limits = Limits::default();
        let before = figures(&health(&c.snapshot));
        let p = plan(&c.snapshot, &limits, &Request::Heal { dead });
        let warned = p.warnings.iter().any(|w| matches!(w, Warning::AbovePeak { .. }));
        c.apply(&p);
        let after = figures(&health(&c.snapshot));
        if !warned {
            for r in 0..3 {
                let bound = before[r].0.max(limits.target_ratio * after[r].1);
                prop_assert!(
                    after[r].0 <= bound * (1.0 + 1e-9),
                    "{}: peak {} above max(before {}, target {})\n{}",
                    NAMES[r], after[r].0, before[r].0, limits.target_ratio * after[r].1, p
                );
            }
        }
    }

    /// Balance: net in, net out and disk max/mean never get worse.
    #[test]
    fn balance_never_worsens_any_resource(
        seed in any::<u64>(),
        racks in 1usize..4,
        per_rack in 2usize..7,
        skew in 0.0f64..1.5,
        empty in 0usize..3,
        ratio in 1.0f64..1.5,
    ) {
        let mut s = spec(seed, racks, per_rack, skew);
        s.empty_brokers = empty;
        let mut c = generate(&s);
        let limits = Limits { target_ratio: ratio, ..Limits::default() };
        let before = health(&c.snapshot);
        let p = plan(&c.snapshot, &limits, &Request::Balance);
        c.apply(&p);
        let after = health(&c.snapshot);
        let pairs = [
            (before.net_in_max_over_mean, after.net_in_max_over_mean),
            (before.net_out_max_over_mean, after.net_out_max_over_mean),
            (before.disk_max_over_mean, after.disk_max_over_mean),
        ];
        for (r, (b, a)) in pairs.into_iter().enumerate() {
            prop_assert!(a <= b * (1.0 + 1e-9), "{}: max/mean {} -> {}\n{}", NAMES[r], b, a, p);
        }
    }
}
