//! rdkafka helpers the harness uses: metadata, topic creation and producing real records.
//! (The admin client in kmedic-common is written in parallel; the harness must not depend on it.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::ClientContext;

use crate::{Error, Result};

/// A compact view of cluster metadata, as live brokers see it.
#[derive(Debug, Clone)]
pub struct MetadataView {
    /// Ids of registered, unfenced brokers (KRaft lists only those in Metadata responses).
    pub brokers: Vec<i32>,
    /// Every partition: (topic, partition, leader or -1, replicas, isr).
    pub partitions: Vec<PartitionView>,
}

/// One partition in a [`MetadataView`].
#[derive(Debug, Clone)]
pub struct PartitionView {
    /// Topic name.
    pub topic: String,
    /// Partition id.
    pub partition: i32,
    /// Leader id, -1 when none.
    pub leader: i32,
    /// Assigned replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
}

fn base_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("socket.timeout.ms", "5000")
        // Quick reconnects: brokers come and go on purpose in these tests.
        .set("reconnect.backoff.max.ms", "500")
        .set("log_level", "3");
    c
}

/// Fetches metadata for all topics through `bootstrap`.
pub fn metadata(bootstrap: &str, timeout: Duration) -> Result<MetadataView> {
    let consumer: BaseConsumer = base_config(bootstrap)
        .create()
        .map_err(|e| Error::kafka("creating a metadata client", e))?;
    let md = consumer
        .fetch_metadata(None, timeout)
        .map_err(|e| Error::kafka(format!("metadata from {bootstrap}"), e))?;
    let mut brokers: Vec<i32> = md.brokers().iter().map(|b| b.id()).collect();
    brokers.sort_unstable();
    let mut partitions = Vec::new();
    for t in md.topics() {
        for p in t.partitions() {
            partitions.push(PartitionView {
                topic: t.name().to_string(),
                partition: p.id(),
                leader: p.leader(),
                replicas: p.replicas().to_vec(),
                isr: p.isr().to_vec(),
            });
        }
    }
    Ok(MetadataView {
        brokers,
        partitions,
    })
}

fn block_on<F: std::future::Future>(rt: &tokio::runtime::Runtime, f: F) -> F::Output {
    rt.block_on(f)
}

/// Creates a topic, either with `partitions` x `rf` or with an explicit assignment.
pub(crate) fn create_topic(
    rt: &tokio::runtime::Runtime,
    bootstrap: &str,
    name: &str,
    partitions: i32,
    replication: TopicReplication<'_>,
) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = base_config(bootstrap)
        .create()
        .map_err(|e| Error::kafka("creating an admin client", e))?;
    let topic = NewTopic::new(name, partitions, replication);
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = block_on(rt, admin.create_topics([&topic], &opts))
        .map_err(|e| Error::kafka(format!("creating topic {name}"), e))?;
    for r in results {
        if let Err((topic, code)) = r {
            return Err(Error::kafka(
                format!("creating topic {topic}"),
                KafkaError::AdminOp(code),
            ));
        }
    }
    Ok(())
}

struct CountingContext {
    failed: AtomicUsize,
    last_error: Mutex<Option<String>>,
}

impl ClientContext for CountingContext {}

impl ProducerContext for CountingContext {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = self.last_error.lock() {
                *last = Some(e.to_string());
            }
        }
    }
}

/// Size of each produced record's value.
const RECORD_BYTES: usize = 16 * 1024;

/// Produces `bytes` of random payload to `topic`, record by record over `partitions` in turn,
/// with acks=all, and returns once every record is acknowledged.
pub(crate) fn produce(
    bootstrap: &str,
    topic: &str,
    partitions: &[i32],
    bytes: usize,
) -> Result<()> {
    let ctx = CountingContext {
        failed: AtomicUsize::new(0),
        last_error: Mutex::new(None),
    };
    let producer: BaseProducer<CountingContext> = base_config(bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("compression.type", "none")
        .set("message.timeout.ms", "60000")
        .create_with_context(ctx)
        .map_err(|e| Error::kafka("creating a producer", e))?;
    let mut rng = rand::rng();
    let mut payload = vec![0u8; RECORD_BYTES];
    let mut sent = 0usize;
    let mut n = 0usize;
    while sent < bytes {
        let len = RECORD_BYTES.min(bytes - sent);
        // Random bytes: incompressible, so on-disk sizes match what was sent.
        rng.fill_bytes(&mut payload[..len]);
        let partition = partitions[n % partitions.len()];
        let mut record: BaseRecord<'_, (), [u8]> = BaseRecord::to(topic)
            .payload(&payload[..len])
            .partition(partition);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r))
                    if Instant::now() < deadline =>
                {
                    record = r;
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(Error::kafka(format!("producing to {topic}"), e)),
            }
        }
        producer.poll(Duration::ZERO);
        sent += len;
        n += 1;
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| Error::kafka(format!("flushing records to {topic}"), e))?;
    let ctx = producer.context();
    let failed = ctx.failed.load(Ordering::Relaxed);
    if failed > 0 {
        let last = ctx.last_error.lock().ok().and_then(|l| l.clone());
        return Err(Error::Process {
            what: format!("producing to {topic}"),
            detail: format!("{failed} of {n} records failed, last error: {last:?}"),
        });
    }
    Ok(())
}
