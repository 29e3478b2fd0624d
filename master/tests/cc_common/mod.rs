//! Shared by the tests on Cruise Control's generated clusters (`../shared/clusters`, issue 12):
//! loading a file, a full balance as Cruise Control runs it, and a plan applied.
#![allow(dead_code)] // each test binary uses a different subset

use kmedic_master::plan::{plan, Limits, Plan, Request};
use kmedic_master::sim::{cc_tsv, Cluster, Health};

/// A cluster file of `../shared/clusters`.
pub fn load(name: &str) -> Cluster {
    let path = format!(
        "{}/../../shared/clusters/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    cc_tsv::load(&path).expect("shared cluster file loads")
}

/// A full balance as Cruise Control runs it: target 1.10, no per-broker move cap.
pub fn full_balance() -> Limits {
    Limits {
        max_moves_per_broker: u32::MAX,
        ..Limits::default()
    }
}

/// `c` after `req`'s plan under `limits`, and the plan.
pub fn applied(c: &Cluster, limits: &Limits, req: &Request) -> (Cluster, Plan) {
    let p = plan(&c.snapshot, limits, req);
    let mut after = c.clone();
    after.apply(&p);
    (after, p)
}

/// Prints a balance's result: the cluster's health after it and what it moves.
pub fn print_result(h: &Health, p: &Plan) {
    println!(
        "{h:?}\nmoves {} bytes {} elections {}",
        p.moves.len(),
        p.totals.bytes_moved,
        p.elections.len()
    );
}
