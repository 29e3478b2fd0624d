//! Properties of the policy over random failure sets and clock steps.

use proptest::prelude::*;

use super::*;

/// Nine brokers in three racks of three, a partition on every rack-distinct triple; `state[i]`
/// for broker i+1: 0 healthy, 1 dead (killed), 2 suspect (fenced, agent reporting), 3 hung.
fn cluster(state: &[u8]) -> Fake {
    let mut f = Fake::new();
    for id in 1..=9 {
        f.add_broker(id, ["az-a", "az-b", "az-c"][(id as usize - 1) % 3]);
    }
    for i in 0..9 {
        let (a, b, c) = (i % 3 * 3 + 1, (i + 1) % 3 * 3 + 2, (i + 2) % 3 * 3 + 3);
        f.add_partition("t", i, &[a, b, c]);
    }
    for (i, s) in state.iter().enumerate() {
        let id = i as i32 + 1;
        match s {
            1 => {
                f.kill(id);
            }
            2 => {
                f.fence(id);
            }
            3 => {
                f.agents.get_mut(&id).unwrap().process =
                    kmedic_common::stats::ProcessState::Stopped;
            }
            _ => {}
        }
    }
    f
}

fn moves_data(d: &Decision) -> bool {
    matches!(
        d.verdict.action(),
        Some(Action::ReplaceHost { .. })
            | Some(Action::Plan(
                Request::Heal { .. } | Request::Balance | Request::Relieve { .. }
            ))
    )
}

proptest! {
    /// Whatever fails, a mass failure never moves data, at any time.
    #[test]
    fn a_mass_failure_never_moves_data(state in prop::collection::vec(0u8..4, 9)) {
        let f = cluster(&state);
        let fs = f.findings();
        let mass = crate::detect::mass_failure::detect(&fs, &f.view, &cfg()).is_some();
        let mut p = Policy::new("c", cfg());
        for t in [0, 300, 1_800, 100_000] {
            let ds = p.decide(&fs, &f.view, at(NOW + t * S));
            if mass {
                prop_assert!(!ds.iter().any(moves_data), "{ds:#?}");
            }
        }
    }

    /// The same findings at the same monotonic times give the same decisions, ids included,
    /// however the wall clock steps between rounds.
    #[test]
    fn wall_clock_steps_change_no_decision(
        state in prop::collection::vec(0u8..4, 9),
        steps in prop::collection::vec(-86_400_000i64..86_400_000, 6),
    ) {
        let f = cluster(&state);
        let fs = f.findings();
        let mut steady = Policy::new("c", cfg());
        let mut stepped = Policy::new("c", cfg());
        for (i, step) in steps.iter().enumerate() {
            let mono = NOW + i as u64 * 120 * S;
            let a = steady.decide(&fs, &f.view, at(mono));
            let wall = mono.saturating_add_signed(*step);
            let b = stepped.decide(&fs, &f.view, Now { wall_ms: wall, mono_ms: mono });
            prop_assert_eq!(a, b);
        }
    }
}
