//! The admin client against real Kafka 4.3 brokers: every operation the master relies on.
//!
//! Every client lists an unreachable bootstrap address first (as rskafka's CI does), so the
//! fallback runs in every trial. Topics are random; waits poll under timeouts.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use kmedic_common::admin::{
    api_versions_probe, AdminClient, ConfigOp, ConfigResource, ConfigSource, ElectionOutcome,
    ElectionType, Error, PartitionResult, ResponseError,
};
use kmedic_common::connection::ConnectionSettings;
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::{random_topic, wait_until, Testbed};
use libtest_mimic::Trial;

/// The admin's trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(
            ctx,
            "admin::metadata_bootstrap_fallback_and_probe",
            metadata_and_probe,
        ),
        trial(ctx, "admin::reassign_123_to_456", reassign_to_other_brokers),
        trial(
            ctx,
            "admin::cancel_running_reassignment",
            cancel_running_reassignment,
        ),
        trial(ctx, "admin::elect_preferred_leader", elect_preferred_leader),
        trial(
            ctx,
            "admin::throttle_config_set_and_remove",
            throttle_config_set_and_remove,
        ),
        trial(
            ctx,
            "admin::describe_log_dirs_sizes_grow",
            log_dir_sizes_grow,
        ),
        trial(
            ctx,
            "admin::killed_broker_reported_fenced",
            killed_broker_fenced,
        ),
        trial(
            ctx,
            "admin::unregister_stopped_broker",
            unregister_stopped_broker,
        ),
    ]
}

/// Nothing listens on port 1: the client must skip it and use the next address.
const UNREACHABLE: &str = "127.0.0.1:1";
const WAIT: Duration = Duration::from_secs(90);

/// An admin client with its own runtime, so the synchronous trials can call it.
struct Admin {
    rt: tokio::runtime::Runtime,
    c: AdminClient,
}

impl Admin {
    fn new(tb: &Testbed) -> anyhow::Result<Self> {
        let mut servers = vec![UNREACHABLE.to_string()];
        servers.extend(tb.bootstrap().split(',').map(str::to_string));
        let mut settings = ConnectionSettings::plaintext(servers);
        settings.client_id = "kmedic-e2e".into();
        settings.request_timeout_ms = 5_000;
        settings.retry.deadline_ms = 20_000;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Admin {
            rt,
            c: AdminClient::new(settings)?,
        })
    }

    fn run<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    fn replicas(
        &self,
        topic: &str,
        partition: i32,
    ) -> anyhow::Result<(Vec<i32>, Vec<i32>, Option<i32>)> {
        let md = self.run(self.c.topic_metadata(&[topic]))?;
        let p = md
            .partition(topic, partition)
            .with_context(|| format!("{topic}-{partition} not in metadata"))?;
        let mut isr = p.isr.clone();
        isr.sort_unstable();
        Ok((p.replicas.clone(), isr, p.leader))
    }
}

fn all_ok(results: &[PartitionResult], what: &str) -> anyhow::Result<()> {
    for r in results {
        if let Err(e) = &r.result {
            anyhow::bail!("{what} {}-{}: {e}", r.topic, r.partition);
        }
    }
    ensure!(!results.is_empty(), "{what}: no per-partition result");
    Ok(())
}

fn sorted(mut v: Vec<i32>) -> Vec<i32> {
    v.sort_unstable();
    v
}

/// Metadata through a dead first bootstrap address: 6 brokers with racks, a topic with leader,
/// replicas and ISR; DescribeCluster agrees; the ApiVersions probe times a live broker and fails
/// fast on a dead port.
fn metadata_and_probe(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let a = Admin::new(&tb)?;
    let topic = random_topic("adm-md");
    tb.create_topic_with_assignment(&topic, &[vec![1, 2, 3], vec![4, 5, 6]])?;
    let md = a.run(a.c.metadata())?;
    let ids: Vec<i32> = md.brokers.iter().map(|b| b.id).collect();
    ensure!(ids == vec![1, 2, 3, 4, 5, 6], "brokers {ids:?}");
    for b in &md.brokers {
        ensure!(
            b.rack.as_deref() == Some(tb.rack(b.id).as_str()),
            "rack of {b:?}"
        );
        ensure!(
            format!("{}:{}", b.host, b.port) == tb.broker_addr(b.id),
            "address of {b:?}"
        );
    }
    ensure!(
        md.cluster_id.as_deref() == Some(tb.cluster_id().as_str()),
        "cluster id"
    );
    let t = md.topic(&topic).context("new topic missing")?;
    ensure!(t.partitions.len() == 2 && t.error.is_none(), "{t:?}");
    ensure!(
        t.partitions[1].replicas == vec![4, 5, 6],
        "{:?}",
        t.partitions[1]
    );
    ensure!(t.partitions[1].leader == Some(4), "{:?}", t.partitions[1]);
    ensure!(
        sorted(t.partitions[1].isr.clone()) == vec![4, 5, 6],
        "{:?}",
        t.partitions[1]
    );
    ensure!(t.partitions[1].offline_replicas.is_empty());

    let dc = a.run(a.c.describe_cluster(true))?;
    ensure!(
        dc.cluster_id == tb.cluster_id(),
        "describe_cluster id {}",
        dc.cluster_id
    );
    ensure!(
        dc.brokers.len() == 6 && dc.brokers.iter().all(|b| !b.is_fenced),
        "{dc:?}"
    );
    ensure!(
        dc.controller_id.is_some_and(|c| ids.contains(&c)),
        "controller {:?}",
        dc.controller_id
    );

    // Latency of a warm request, for the record (not asserted: the machine is shared).
    let mut lat: Vec<Duration> = (0..20)
        .map(|_| {
            let t = Instant::now();
            a.run(a.c.describe_cluster(true)).map(|_| t.elapsed())
        })
        .collect::<Result<_, _>>()?;
    lat.sort_unstable();
    tracing::info!(
        p50_us = lat[10].as_micros() as u64,
        max_us = lat[19].as_micros() as u64,
        "warm DescribeCluster latency over 20 calls"
    );
    let rtt = a.run(api_versions_probe(
        &tb.broker_addr(1),
        Duration::from_secs(5),
    ))?;
    ensure!(rtt < Duration::from_secs(5), "probe took {rtt:?}");
    tracing::info!(
        rtt_us = rtt.as_micros() as u64,
        "ApiVersions probe round trip to broker 1"
    );
    let started = Instant::now();
    let dead = a.run(api_versions_probe(UNREACHABLE, Duration::from_secs(5)));
    ensure!(
        dead.is_err() && started.elapsed() < Duration::from_secs(5),
        "{dead:?}"
    );
    Ok(())
}

/// Moves a partition with data from {1,2,3} to {4,5,6} and watches it finish.
fn reassign_to_other_brokers(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let a = Admin::new(&tb)?;
    let topic = random_topic("adm-move");
    tb.create_topic_with_assignment(&topic, &[vec![1, 2, 3]])?;
    tb.produce_to(&topic, 0, 2 << 20)?;
    let res = a.run(a.c.alter_partition_reassignments(&[(topic.clone(), 0, vec![4, 5, 6])]))?;
    all_ok(&res, "submit")?;
    let part = [(topic.clone(), 0)];
    wait_until(WAIT, "reassignment to {4,5,6} finished", || {
        let ongoing = a.run(a.c.list_partition_reassignments(Some(&part)))?;
        let (replicas, isr, leader) = a.replicas(&topic, 0)?;
        Ok(ongoing.is_empty()
            && replicas == vec![4, 5, 6]
            && isr == vec![4, 5, 6]
            && leader.is_some_and(|l| [4, 5, 6].contains(&l)))
    })?;
    // The moved replicas hold the data: broker 4's log dir reports the partition's bytes.
    let dirs = a.run(a.c.describe_log_dirs(4))?;
    let size: i64 = dirs
        .iter()
        .flat_map(|d| &d.replicas)
        .filter(|r| r.topic == topic && r.partition == 0)
        .map(|r| r.size_bytes)
        .sum();
    ensure!(size >= 2 << 20, "broker 4 holds {size} bytes of {topic}-0");
    Ok(())
}

/// Throttles replication to a crawl, starts a move, sees it in progress, cancels it, and sees
/// the partition back on its original replicas.
fn cancel_running_reassignment(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let a = Admin::new(&tb)?;
    let topic = random_topic("adm-cancel");
    tb.create_topic_with_assignment(&topic, &[vec![1, 2, 3]])?;
    tb.produce_to(&topic, 0, 4 << 20)?;
    // Remove the throttles even when the trial fails: other trials share these brokers.
    let _cleanup = ThrottleGuard::new(&a, &topic);
    let rate = ConfigOp::Set("leader.replication.throttled.rate".into(), "10240".into());
    let frate = ConfigOp::Set("follower.replication.throttled.rate".into(), "10240".into());
    for id in 1..=6 {
        a.run(a.c.incremental_alter_configs(
            &ConfigResource::Broker(id),
            &[rate.clone(), frate.clone()],
        ))?;
    }
    a.run(a.c.incremental_alter_configs(
        &ConfigResource::Topic(topic.clone()),
        &[
            ConfigOp::Set("leader.replication.throttled.replicas".into(), "*".into()),
            ConfigOp::Set("follower.replication.throttled.replicas".into(), "*".into()),
        ],
    ))?;
    let res = a.run(a.c.alter_partition_reassignments(&[(topic.clone(), 0, vec![4, 5, 6])]))?;
    all_ok(&res, "submit")?;
    let part = [(topic.clone(), 0)];
    wait_until(WAIT, "throttled reassignment listed as in progress", || {
        let ongoing = a.run(a.c.list_partition_reassignments(Some(&part)))?;
        Ok(ongoing.len() == 1
            && sorted(ongoing[0].adding.clone()) == vec![4, 5, 6]
            && sorted(ongoing[0].removing.clone()) == vec![1, 2, 3])
    })?;
    let res = a.run(a.c.cancel_partition_reassignments(&part))?;
    all_ok(&res, "cancel")?;
    wait_until(WAIT, "partition back on {1,2,3} after cancel", || {
        let ongoing = a.run(a.c.list_partition_reassignments(Some(&part)))?;
        let (replicas, isr, _) = a.replicas(&topic, 0)?;
        Ok(ongoing.is_empty() && replicas == vec![1, 2, 3] && isr == vec![1, 2, 3])
    })?;
    // Cancelling again is a per-partition error, not a failure of the call.
    let again = a.run(a.c.cancel_partition_reassignments(&part))?;
    let e = again[0]
        .result
        .as_ref()
        .err()
        .context("second cancel succeeded")?;
    ensure!(
        e.kafka_error() == Some(ResponseError::NoReassignmentInProgress),
        "{e}"
    );
    Ok(())
}

/// Removes the cancel trial's throttles on drop.
struct ThrottleGuard<'a> {
    a: &'a Admin,
    topic: String,
}

impl<'a> ThrottleGuard<'a> {
    fn new(a: &'a Admin, topic: &str) -> Self {
        ThrottleGuard {
            a,
            topic: topic.to_string(),
        }
    }
}

impl Drop for ThrottleGuard<'_> {
    fn drop(&mut self) {
        let del = |k: &str| ConfigOp::Delete(k.to_string());
        for id in 1..=6 {
            let ops = [
                del("leader.replication.throttled.rate"),
                del("follower.replication.throttled.rate"),
            ];
            if let Err(e) = self.a.run(
                self.a
                    .c
                    .incremental_alter_configs(&ConfigResource::Broker(id), &ops),
            ) {
                tracing::error!(broker = id, error = %e, "could not remove the throttle");
            }
        }
        let ops = [
            del("leader.replication.throttled.replicas"),
            del("follower.replication.throttled.replicas"),
        ];
        let topic = ConfigResource::Topic(self.topic.clone());
        if let Err(e) = self.a.run(self.a.c.incremental_alter_configs(&topic, &ops)) {
            tracing::error!(topic = %self.topic, error = %e, "could not remove the topic throttle");
        }
    }
}

/// Reorders the replicas so that 2 becomes preferred while 1 still leads, then elects the
/// preferred leader: 2 leads. A second election is "not needed", which is not an error.
fn elect_preferred_leader(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let a = Admin::new(&tb)?;
    let topic = random_topic("adm-elect");
    tb.create_topic_with_assignment(&topic, &[vec![1, 2, 3]])?;
    let (_, _, leader) = a.replicas(&topic, 0)?;
    ensure!(leader == Some(1), "initial leader {leader:?}");
    let res = a.run(a.c.alter_partition_reassignments(&[(topic.clone(), 0, vec![2, 1, 3])]))?;
    all_ok(&res, "reorder")?;
    let part = [(topic.clone(), 0)];
    wait_until(WAIT, "replicas reordered to [2,1,3]", || {
        let (replicas, isr, _) = a.replicas(&topic, 0)?;
        Ok(replicas == vec![2, 1, 3] && isr == vec![1, 2, 3])
    })?;
    let (_, _, leader) = a.replicas(&topic, 0)?;
    ensure!(
        leader == Some(1),
        "leadership moved before the election: {leader:?}"
    );
    let res = a.run(a.c.elect_leaders(ElectionType::Preferred, Some(&part)))?;
    ensure!(res.len() == 1, "{res:?}");
    ensure!(
        matches!(res[0].result, Ok(ElectionOutcome::Elected)),
        "{:?}",
        res[0]
    );
    wait_until(WAIT, "preferred leader 2 leads", || {
        Ok(a.replicas(&topic, 0)?.2 == Some(2))
    })?;
    let res = a.run(a.c.elect_leaders(ElectionType::Preferred, Some(&part)))?;
    ensure!(
        matches!(res[0].result, Ok(ElectionOutcome::NotNeeded)),
        "{:?}",
        res[0]
    );
    Ok(())
}

/// Sets a replication throttle on one broker, on the broker default and on a topic; each shows
/// in DescribeConfigs with its source; deleting it removes it.
fn throttle_config_set_and_remove(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let a = Admin::new(&tb)?;
    let topic = random_topic("adm-cfg");
    tb.create_topic(&topic, 1, 3)?;
    let key = "leader.replication.throttled.rate";
    let cases = [
        (
            ConfigResource::Broker(2),
            key,
            "12345678",
            ConfigSource::DynamicBroker,
        ),
        (
            ConfigResource::BrokerDefault,
            key,
            "23456789",
            ConfigSource::DynamicDefaultBroker,
        ),
        (
            ConfigResource::Topic(topic.clone()),
            "follower.replication.throttled.replicas",
            "0:1,0:2",
            ConfigSource::DynamicTopic,
        ),
    ];
    for (res, key, value, source) in &cases {
        let set = ConfigOp::Set(key.to_string(), value.to_string());
        a.run(a.c.incremental_alter_configs(res, &[set]))?;
        // For the broker default, read it back through a broker that has no per-broker value.
        let read_at = match res {
            ConfigResource::BrokerDefault => ConfigResource::Broker(3),
            other => other.clone(),
        };
        wait_until(WAIT, &format!("{key}={value} visible on {res}"), || {
            let cfg = a.run(a.c.describe_configs(&read_at, Some(&[key])))?;
            Ok(cfg.iter().any(|c| {
                c.name == *key && c.value.as_deref() == Some(value) && c.source == *source
            }))
        })?;
        a.run(a.c.incremental_alter_configs(res, &[ConfigOp::Delete(key.to_string())]))?;
        wait_until(WAIT, &format!("{key} removed from {res}"), || {
            let cfg = a.run(a.c.describe_configs(&read_at, Some(&[key])))?;
            Ok(!cfg
                .iter()
                .any(|c| c.name == *key && c.value.as_deref() == Some(value)))
        })?;
    }
    // A bad value is a typed Kafka error naming the resource, and is not retried.
    let started = Instant::now();
    let bad = ConfigOp::Set(key.to_string(), "not-a-number".into());
    let e = a
        .run(a.c.incremental_alter_configs(&ConfigResource::Broker(2), &[bad]))
        .err()
        .context("a non-numeric rate was accepted")?;
    ensure!(
        e.kafka_error() == Some(ResponseError::InvalidRequest),
        "{e}"
    );
    ensure!(e.to_string().contains("broker 2"), "{e}");
    ensure!(
        started.elapsed() < Duration::from_secs(5),
        "non-retriable error was retried"
    );
    Ok(())
}

/// DescribeLogDirs on the leader and a follower: the partition's size grows after producing,
/// and the volume's total and usable bytes are reported.
fn log_dir_sizes_grow(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let a = Admin::new(&tb)?;
    let topic = random_topic("adm-logdirs");
    tb.create_topic_with_assignment(&topic, &[vec![3, 4, 5]])?;
    let size_on = |broker: i32| -> anyhow::Result<i64> {
        let dirs = a.run(a.c.describe_log_dirs(broker))?;
        ensure!(!dirs.is_empty(), "broker {broker} reports no log dir");
        for d in &dirs {
            ensure!(d.error.is_none(), "log dir {} error {:?}", d.path, d.error);
            let (total, usable) = (
                d.total_bytes.context("total")?,
                d.usable_bytes.context("usable")?,
            );
            ensure!(usable <= total && total > 0, "{d:?}");
        }
        dirs.iter()
            .flat_map(|d| &d.replicas)
            .find(|r| r.topic == topic && r.partition == 0)
            .map(|r| r.size_bytes)
            .with_context(|| format!("{topic}-0 not on broker {broker}"))
    };
    let before = (size_on(3)?, size_on(5)?);
    tb.produce_to(&topic, 0, 1 << 20)?;
    wait_until(
        WAIT,
        "log dir sizes grew by 1 MiB on leader and follower",
        || Ok(size_on(3)? >= before.0 + (1 << 20) && size_on(5)? >= before.1 + (1 << 20)),
    )?;
    let e = a
        .run(a.c.describe_log_dirs(77))
        .err()
        .context("broker 77 answered")?;
    ensure!(e.to_string().contains("77"), "{e}");
    Ok(())
}

/// After SIGKILL, DescribeCluster with fenced brokers lists the broker as fenced within the
/// session timeout (plus heartbeat slack); without fenced brokers it is left out.
fn killed_broker_fenced(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let _restore = Restore::new(&tb, &[6]);
    let a = Admin::new(&tb)?;
    let session = Duration::from_millis(u64::from(tb.config().session_timeout_ms));
    // A live connection to broker 6 before the kill, to be found dead afterwards.
    a.run(a.c.describe_log_dirs(6))?;
    tb.kill(6)?;
    let killed = Instant::now();
    wait_until(session * 3, "broker 6 fenced in DescribeCluster", || {
        let dc = a.run(a.c.describe_cluster(true))?;
        Ok(dc.brokers.iter().any(|b| b.id == 6 && b.is_fenced))
    })?;
    let took = killed.elapsed();
    tracing::info!(
        took_ms = took.as_millis() as u64,
        session_ms = session.as_millis() as u64,
        "broker fenced"
    );
    ensure!(
        took <= session + Duration::from_secs(4),
        "fenced after {took:?}"
    );
    let unfenced_only = a.run(a.c.describe_cluster(false))?;
    ensure!(
        unfenced_only.brokers.iter().all(|b| b.id != 6),
        "{unfenced_only:?}"
    );
    // Calls routed to the fenced broker fail fast instead of retrying a dead host until the
    // deadline: removing a throttle must not hang on a dead broker (DESIGN.md rule 9).
    let started = Instant::now();
    let e = a
        .run(a.c.describe_log_dirs(6))
        .err()
        .context("dead broker answered")?;
    ensure!(matches!(e, Error::UnknownBroker { id: 6 }), "{e}");
    let unthrottle = [ConfigOp::Delete("leader.replication.throttled.rate".into())];
    let e = a
        .run(a.c.incremental_alter_configs(&ConfigResource::Broker(6), &unthrottle))
        .err()
        .context("dead broker took a config")?;
    ensure!(matches!(e, Error::UnknownBroker { id: 6 }), "{e}");
    ensure!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    Ok(())
}

/// Stops a broker, unregisters it, and sees it gone from DescribeCluster; unregistering an id
/// that was never registered is a typed error. The broker is restarted after.
fn unregister_stopped_broker(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let _restore = Restore::new(&tb, &[5]);
    let a = Admin::new(&tb)?;
    tb.stop(5)?;
    a.run(a.c.unregister_broker(5))?;
    wait_until(WAIT, "broker 5 gone from DescribeCluster", || {
        let dc = a.run(a.c.describe_cluster(true))?;
        Ok(dc.brokers.iter().all(|b| b.id != 5))
    })?;
    let e = a
        .run(a.c.unregister_broker(4242))
        .err()
        .context("unknown id accepted")?;
    ensure!(
        e.kafka_error() == Some(ResponseError::BrokerIdNotRegistered),
        "{e}"
    );
    Ok(())
}
