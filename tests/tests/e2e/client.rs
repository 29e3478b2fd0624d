//! kmedic-client on real brokers: the AZ-aware producer keeps unkeyed records on leaders in its
//! AZ, leaves keyed ones where the default puts them, and follows a leader change; a consumer with
//! `client.rack` fetches from a follower in its AZ (KIP-392).
//!
//! Shared cluster racks: brokers 1/4 az-a, 2/5 az-b, 3/6 az-c.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{ensure, Context};
use kmedic_client::{consumer_rack, AzProducer, AzProducerOptions, Fallback, Route};
use kmedic_common::admin::{AdminClient, ElectionType};
use kmedic_common::connection::ConnectionSettings;
use kmedic_tests::e2e::{trial, Ctx};
use kmedic_tests::{random_topic, wait_until, Testbed, TestbedConfig};
use libtest_mimic::Trial;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

const RACK_SELECTOR: &str = "org.apache.kafka.common.replica.RackAwareReplicaSelector";
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The client trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(
            ctx,
            "client::az_producer_keeps_unkeyed_records_local_and_follows_a_leader_change",
            producer_stays_local,
        ),
        trial(
            ctx,
            "client::consumer_with_client_rack_fetches_from_a_local_follower",
            consumer_fetches_from_follower,
        ),
    ]
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn admin(tb: &Testbed) -> anyhow::Result<AdminClient> {
    let bootstrap = tb.bootstrap();
    Ok(AdminClient::new(ConnectionSettings::plaintext(
        bootstrap.split(','),
    ))?)
}

fn producer(tb: &Testbed) -> anyhow::Result<FutureProducer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", tb.bootstrap())
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()?)
}

/// The partitions `n` unkeyed records went to.
async fn send_unkeyed(p: &AzProducer, topic: &str, n: usize) -> anyhow::Result<BTreeSet<i32>> {
    let mut parts = BTreeSet::new();
    for i in 0..n {
        let payload = format!("record {i}");
        let record = FutureRecord::<(), _>::to(topic).payload(&payload);
        let d = p.send(record, SEND_TIMEOUT).await.map_err(|(e, _)| e)?;
        parts.insert(d.partition);
    }
    Ok(parts)
}

fn producer_stays_local(ctx: &Ctx) -> anyhow::Result<()> {
    let tb = ctx.shared()?;
    let topic = random_topic("client-az");
    // 12 partitions, partition p led by broker p % 6 + 1, replicas on three racks.
    let assignment: Vec<Vec<i32>> = (0..12)
        .map(|p| (0..3).map(|r| (p + r) % 6 + 1).collect())
        .collect();
    tb.create_topic_with_assignment(&topic, &assignment)?;
    let az_b: BTreeSet<i32> = (0..12).filter(|p| tb.rack(p % 6 + 1) == "az-b").collect();
    ensure!(az_b == BTreeSet::from([1, 4, 7, 10]), "racks: {az_b:?}");

    let rt = runtime()?;
    rt.block_on(async {
        let options = AzProducerOptions {
            az: Some("az-b".into()),
            refresh_interval: Duration::from_millis(500),
            min_refresh_gap: Duration::from_millis(100),
            sticky_for: Duration::ZERO,
            topics: vec![topic.clone()],
        };
        let az = AzProducer::new(producer(&tb)?, admin(&tb)?, options).await;
        let parts = send_unkeyed(&az, &topic, 200).await?;
        ensure!(
            parts == az_b,
            "unkeyed records went to {parts:?}, want {az_b:?}"
        );

        // Keyed: exactly where the default producer puts the same key.
        let plain = producer(&tb)?;
        for k in 0..60 {
            let key = format!("key-{k}");
            let ours = az
                .send(
                    FutureRecord::to(&topic).key(&key).payload("v"),
                    SEND_TIMEOUT,
                )
                .await
                .map_err(|(e, _)| e)?;
            let theirs = plain
                .send(
                    FutureRecord::to(&topic).key(&key).payload("v"),
                    SEND_TIMEOUT,
                )
                .await
                .map_err(|(e, _)| e)?;
            ensure!(
                ours.partition == theirs.partition,
                "{key}: ours {} vs default {}",
                ours.partition,
                theirs.partition
            );
        }

        // Move partition 1's leadership from broker 2 (az-b) to broker 3 (az-c): same replicas,
        // new preferred order, preferred election. No data moves.
        let admin = admin(&tb)?;
        admin
            .alter_partition_reassignments(&[(topic.clone(), 1, vec![3, 2, 4])])
            .await?;
        let leader_is_3 = || -> anyhow::Result<bool> {
            let md = tb.metadata()?;
            Ok(md
                .partitions
                .iter()
                .any(|p| p.topic == topic && p.partition == 1 && p.leader == 3))
        };
        for _ in 0..60 {
            let _ = admin
                .elect_leaders(ElectionType::Preferred, Some(&[(topic.clone(), 1)]))
                .await;
            if leader_is_3()? {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        ensure!(leader_is_3()?, "partition 1 never got broker 3 as leader");
        for _ in 0..60 {
            if az.leader_az(&topic, 1).as_deref() == Some("az-c") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        ensure!(
            az.leader_az(&topic, 1).as_deref() == Some("az-c"),
            "the producer never saw partition 1's new leader"
        );
        let parts = send_unkeyed(&az, &topic, 150).await?;
        ensure!(
            parts == BTreeSet::from([4, 7, 10]),
            "after the leader change: {parts:?}"
        );

        // An AZ that leads nothing: every partition is open, as without the crate.
        let options = AzProducerOptions {
            az: Some("az-x".into()),
            topics: vec![topic.clone()],
            ..AzProducerOptions::default()
        };
        let elsewhere = AzProducer::new(producer(&tb)?, admin, options).await;
        ensure!(
            elsewhere.route(&topic, None) == Route::Fallback(Fallback::NoLocalLeader),
            "{:?}",
            elsewhere.route(&topic, None)
        );
        send_unkeyed(&elsewhere, &topic, 20).await?;
        Ok(())
    })
}

/// The consumer's last statistics.
#[derive(Clone, Default)]
struct StatsContext(Arc<Mutex<Option<Statistics>>>);

impl ClientContext for StatsContext {
    fn stats(&self, statistics: Statistics) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(statistics);
    }
}
impl ConsumerContext for StatsContext {}

/// What one consumer did: the broker it fetched partition 0 from, the leader, and bytes
/// received from each broker id.
#[derive(Debug)]
struct Fetched {
    from: i32,
    leader: i32,
    rx_by_broker: Vec<(i32, u64)>,
}

/// Reads all `records` of partition 0 of `topic` with `client.rack = rack` and reports where
/// it fetched from.
fn consume_all(
    tb: &Testbed,
    topic: &str,
    rack: Option<&str>,
    records: usize,
) -> anyhow::Result<Fetched> {
    let stats = StatsContext::default();
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", tb.bootstrap())
        .set("group.id", random_topic("client-rack-group"))
        .set("enable.auto.commit", "false")
        .set("statistics.interval.ms", "200");
    if let Some(rack) = rack {
        consumer_rack(&mut cfg, rack);
    }
    let consumer: BaseConsumer<StatsContext> = cfg.create_with_context(stats.clone())?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&tpl)?;
    let mut got = 0usize;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while got < records {
        ensure!(
            std::time::Instant::now() < deadline,
            "consumed {got} of {records} records in 60 s"
        );
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            m.context("consuming")?;
            got += 1;
        }
    }
    // Statistics taken after the last record, so they cover the whole read.
    let mut fetched = None;
    wait_until(Duration::from_secs(10), "consumer statistics", || {
        consumer
            .poll(Duration::from_millis(50))
            .map(|m| m.map(|_| ()))
            .transpose()?;
        let guard = stats.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(s) = guard.as_ref() else {
            return Ok(false);
        };
        let Some(p) = s.topics.get(topic).and_then(|t| t.partitions.get(&0)) else {
            return Ok(false);
        };
        // Statistics from before the last record came in are stale.
        if p.broker < 0 || p.leader < 0 || p.app_offset < records as i64 {
            return Ok(false);
        }
        let mut rx: Vec<(i32, u64)> = s
            .brokers
            .values()
            .filter(|b| b.nodeid >= 0)
            .map(|b| (b.nodeid, b.rxbytes))
            .collect();
        rx.sort_unstable();
        fetched = Some(Fetched {
            from: p.broker,
            leader: p.leader,
            rx_by_broker: rx,
        });
        Ok(true)
    })?;
    fetched.context("no statistics")
}

fn rx(f: &Fetched, broker: i32) -> u64 {
    f.rx_by_broker
        .iter()
        .find(|(b, _)| *b == broker)
        .map_or(0, |(_, rx)| *rx)
}

fn consumer_fetches_from_follower(ctx: &Ctx) -> anyhow::Result<()> {
    // The selector is a static broker setting: a private 3-broker cluster (az-a, az-b, az-c).
    let cfg = TestbedConfig::from_env()
        .with_port_base(ctx.own_port_base())
        .with_brokers(3)
        .with_broker_prop("replica.selector.class", RACK_SELECTOR);
    let tb = Testbed::start(cfg)?;
    let topic = random_topic("client-rack");
    // Leader broker 1 (az-a), followers 2 (az-b) and 3 (az-c).
    tb.create_topic_with_assignment(&topic, &[vec![1, 2, 3]])?;
    let bytes = 4 << 20;
    tb.produce_to(&topic, 0, bytes)?;
    let records = bytes / (16 << 10);

    let local = consume_all(&tb, &topic, Some("az-b"), records)?;
    tracing::info!(?local, "consumer in az-b");
    ensure!(local.leader == 1, "leader moved: {local:?}");
    ensure!(
        local.from == 2,
        "client.rack=az-b did not fetch from broker 2: {local:?}"
    );
    ensure!(
        rx(&local, 2) >= bytes as u64 && rx(&local, 1) < bytes as u64 / 10,
        "the records did not come from the az-b follower: {local:?}"
    );

    // Control: without client.rack, the leader serves.
    let plain = consume_all(&tb, &topic, None, records)?;
    tracing::info!(?plain, "consumer without client.rack");
    ensure!(plain.from == 1, "without client.rack: {plain:?}");
    ensure!(rx(&plain, 1) >= bytes as u64, "{plain:?}");
    Ok(())
}
