//! Trials of the testbed harness itself: the cluster it starts, and kill, hang, resume, restart
//! and replace with their real effects.

use std::sync::Arc;

use anyhow::{ensure, Context};
use kmedic_tests::e2e::{trial, Ctx};
use libtest_mimic::Trial;

/// The harness's trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![trial(ctx, "harness::start_topology", start_topology)]
}

/// The shared cluster has 6 live brokers with the right racks and ports, and its files exist.
fn start_topology(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let md = tb.metadata()?;
    ensure!(
        md.brokers == vec![1, 2, 3, 4, 5, 6],
        "live brokers: {:?}",
        md.brokers
    );
    for (id, rack) in [
        (1, "az-a"),
        (2, "az-b"),
        (3, "az-c"),
        (4, "az-a"),
        (5, "az-b"),
        (6, "az-c"),
    ] {
        ensure!(tb.rack(id) == rack, "broker {id} rack {}", tb.rack(id));
        let props =
            std::fs::read_to_string(tb.server_properties(id)).context("server.properties")?;
        ensure!(
            props.contains(&format!("broker.rack={rack}\n")),
            "broker {id} props lack its rack"
        );
        ensure!(
            tb.log_dir(id).join("meta.properties").is_file(),
            "broker {id} log dir not formatted"
        );
        ensure!(tb.pid(id).is_some(), "broker {id} has no pid");
    }
    ensure!(tb.controller_pid().is_some());
    Ok(())
}
