//! End-to-end trials for the master (filled in by its owner).

use std::sync::Arc;

use kmedic_tests::e2e::Ctx;
use libtest_mimic::Trial;

/// The master's trials; each body is `fn(&Ctx) -> anyhow::Result<()>` via `kmedic_tests::e2e::trial`.
pub fn trials(_ctx: &Arc<Ctx>) -> Vec<Trial> {
    Vec::new()
}
