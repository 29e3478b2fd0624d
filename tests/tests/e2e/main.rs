//! The one test binary for every real-Kafka test (`harness = false`, libtest-mimic), so all trials
//! share one 6-broker cluster. Trials run one at a time; each module exposes `trials(&ctx)`.
//!
//! Run: `cargo test -p kmedic-tests --test e2e` (filter like libtest: `-- harness::`).
//! Ports: KMEDIC_TESTBED_PORT_BASE (default 19500) to +99.

mod act;
mod act_heal;
mod actionlog;
mod admin;
mod agent;
mod az;
mod cli_tools;
mod client;
mod decommission;
mod execute;
mod harness;
mod master;
mod overload;
mod product;
mod replace_live;

mod scenarios;
use std::process::ExitCode;
use std::sync::Arc;

use kmedic_tests::e2e::Ctx;

fn main() -> ExitCode {
    kmedic_tests::init_logs("info,rdkafka=warn");
    let mut args = libtest_mimic::Arguments::from_args();
    // One cluster is shared and broken on purpose by some trials: never run two at once.
    args.test_threads = Some(1);
    let ctx = Arc::new(Ctx::from_env());
    let mut trials = Vec::new();
    trials.extend(harness::trials(&ctx));
    trials.extend(actionlog::trials(&ctx));
    trials.extend(admin::trials(&ctx));
    trials.extend(agent::trials(&ctx));
    trials.extend(master::trials(&ctx));
    trials.extend(product::trials(&ctx));
    trials.extend(client::trials(&ctx));
    trials.extend(execute::trials(&ctx));
    trials.extend(act_heal::trials(&ctx));
    trials.extend(act::trials(&ctx));
    trials.extend(cli_tools::trials(&ctx));
    trials.extend(decommission::trials(&ctx));
    trials.extend(scenarios::trials(&ctx));
    trials.extend(az::trials(&ctx));
    trials.extend(overload::trials(&ctx));
    trials.extend(replace_live::trials(&ctx));
    let conclusion = libtest_mimic::run(&args, trials);
    // Before exiting: process::exit would skip the drop that kills the shared cluster's JVMs.
    ctx.shutdown();
    conclusion.exit_code()
}
