//! [`AzProducer`]: an rdkafka [`FutureProducer`] that sets the partition of unkeyed records to one
//! led in its AZ (see [`crate::partitioner`] for the rule), and keeps the leader map fresh.
//!
//! The leader map comes from Metadata through kmedic's admin client, because rdkafka's metadata
//! API does not expose `broker.rack`. A background task refreshes it every `refresh_interval`,
//! and sooner (at most once per `min_refresh_gap`) when a record names a topic not in the map or
//! a delivery fails with a leadership error. Between a leader change and the next refresh nothing
//! is lost: librdkafka sends a partition's records to its new leader, wherever it is; only
//! locality is missed for that while.
//!
//! [`AzRouter`] is the same routing for producers other than `FutureProducer`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kmedic_common::admin::AdminClient;
use rdkafka::client::ClientContext;
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::future_producer::OwnedDeliveryResult;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::leaders::LeaderMap;
use crate::partitioner::{AzPartitioner, Fallback, Route};
use crate::{Error, Result};

/// How an [`AzProducer`] routes and refreshes.
#[derive(Debug, Clone)]
pub struct AzProducerOptions {
    /// The producer's AZ; `None` sends every record where librdkafka's default would (resolve it
    /// with [`crate::resolve_az`]).
    pub az: Option<String>,
    /// How often the leader map is refreshed when nothing asks sooner (default 30 s).
    pub refresh_interval: Duration,
    /// The least time between two refreshes, so a burst of errors makes one request (default 1 s).
    pub min_refresh_gap: Duration,
    /// How long unkeyed records of a topic stay on one local partition before the next (default
    /// 10 ms, librdkafka's `sticky.partitioning.linger.ms`). Zero: round-robin per record.
    pub sticky_for: Duration,
    /// Topics whose leaders are fetched before [`AzProducer::new`] returns, so their first
    /// records are already local. Other topics are learnt at their first record.
    pub topics: Vec<String>,
}

impl Default for AzProducerOptions {
    fn default() -> Self {
        AzProducerOptions {
            az: None,
            refresh_interval: Duration::from_secs(30),
            min_refresh_gap: Duration::from_secs(1),
            sticky_for: Duration::from_millis(10),
            topics: Vec::new(),
        }
    }
}

/// State shared with the refresh task.
struct Shared {
    partitioner: Mutex<AzPartitioner>,
    topics: Mutex<BTreeSet<String>>,
    /// The last routing mode logged per topic, so a change is logged once.
    modes: Mutex<HashMap<String, String>>,
    admin: AdminClient,
    wake: Notify,
}

/// The routing half of [`AzProducer`], for any producer type (`BaseProducer`,
/// `ThreadedProducer`...): ask [`AzRouter::route`] and set the partition when it names one.
/// Dropping it stops its refresh task.
pub struct AzRouter {
    shared: Arc<Shared>,
    refresher: JoinHandle<()>,
}

/// A [`FutureProducer`] that keeps unkeyed records in its AZ. Dropping it stops its refresh task.
pub struct AzProducer<C: ClientContext + 'static = DefaultClientContext> {
    producer: FutureProducer<C>,
    router: AzRouter,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AzRouter {
    /// A router reading Metadata through `admin`. Must be called inside a tokio runtime (it
    /// spawns the refresh task). A failed first refresh is logged, not fatal: records then go
    /// where librdkafka's default sends them until a refresh succeeds.
    pub async fn new(admin: AdminClient, options: AzProducerOptions) -> Self {
        let shared = Arc::new(Shared {
            partitioner: Mutex::new(AzPartitioner::new(options.az.clone(), options.sticky_for)),
            topics: Mutex::new(options.topics.iter().cloned().collect()),
            modes: Mutex::new(HashMap::new()),
            admin,
            wake: Notify::new(),
        });
        if let Err(e) = refresh(&shared).await {
            tracing::warn!(error = %e, "first leader refresh failed; records go to all partitions until one succeeds");
        }
        let refresher = tokio::spawn(refresh_loop(
            shared.clone(),
            options.refresh_interval,
            options.min_refresh_gap,
        ));
        AzRouter { shared, refresher }
    }

    /// The producer's AZ.
    pub fn az(&self) -> Option<String> {
        lock(&self.shared.partitioner).az().map(str::to_string)
    }

    /// Where a record for `topic` with `key` goes now: set the partition when this is
    /// `Some`. A topic seen for the first time is looked up in the background.
    pub fn route(&self, topic: &str, key: Option<&[u8]>) -> Route {
        let route = lock(&self.shared.partitioner).route(topic, key, Instant::now());
        if route == Route::Fallback(Fallback::TopicUnknown)
            && lock(&self.shared.topics).insert(topic.to_string())
        {
            self.shared.wake.notify_one();
        }
        route
    }

    /// Tells the router a delivery failed with `code`; a leadership error triggers a refresh.
    pub fn delivery_failed(&self, code: RDKafkaErrorCode) {
        if leadership_error(code) {
            self.shared.wake.notify_one();
        }
    }

    /// The AZ of `partition`'s leader as last refreshed (for reports and tests).
    pub fn leader_az(&self, topic: &str, partition: i32) -> Option<String> {
        lock(&self.shared.partitioner)
            .leaders()
            .topic(topic)
            .and_then(|t| t.leader_az(partition))
            .map(str::to_string)
    }

    /// A copy of the leader map in use.
    pub fn leaders(&self) -> LeaderMap {
        lock(&self.shared.partitioner).leaders().clone()
    }

    /// Refreshes the leader map now.
    pub async fn refresh(&self) -> Result<()> {
        refresh(&self.shared).await
    }
}

impl Drop for AzRouter {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

impl<C: ClientContext + 'static> AzProducer<C> {
    /// Wraps `producer`; `admin` reads Metadata from the same cluster. See [`AzRouter::new`].
    pub async fn new(
        producer: FutureProducer<C>,
        admin: AdminClient,
        options: AzProducerOptions,
    ) -> Self {
        AzProducer {
            producer,
            router: AzRouter::new(admin, options).await,
        }
    }

    /// The wrapped producer (flush, transactions, client...).
    pub fn producer(&self) -> &FutureProducer<C> {
        &self.producer
    }

    /// The router (leaders, AZ, refresh).
    pub fn router(&self) -> &AzRouter {
        &self.router
    }

    /// See [`AzRouter::route`].
    pub fn route(&self, topic: &str, key: Option<&[u8]>) -> Route {
        self.router.route(topic, key)
    }

    /// See [`AzRouter::leader_az`].
    pub fn leader_az(&self, topic: &str, partition: i32) -> Option<String> {
        self.router.leader_az(topic, partition)
    }

    /// Sends like [`FutureProducer::send`], with the partition set by [`AzRouter::route`] unless
    /// the record already names one.
    pub async fn send<K, P, T>(
        &self,
        mut record: FutureRecord<'_, K, P>,
        queue_timeout: T,
    ) -> OwnedDeliveryResult
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
        T: Into<Timeout>,
    {
        if record.partition.is_none() {
            let key = record.key.map(ToBytes::to_bytes);
            record.partition = self.router.route(record.topic, key).partition();
        }
        let result = self.producer.send(record, queue_timeout).await;
        if let Err((KafkaError::MessageProduction(code), _)) = &result {
            self.router.delivery_failed(*code);
        }
        result
    }
}

/// Errors after which the leader map is probably stale.
fn leadership_error(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::NotLeaderForPartition
            | RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::UnknownPartition
            | RDKafkaErrorCode::MessageTimedOut
    )
}

async fn refresh_loop(shared: Arc<Shared>, every: Duration, gap: Duration) {
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shared.wake.notified() => {}
        }
        match refresh(&shared).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("leader refresh works again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "leader refresh failed; routing on the last known leaders");
            }
            Err(_) => {}
        }
        tokio::time::sleep(gap).await;
    }
}

async fn refresh(shared: &Shared) -> Result<()> {
    let topics: Vec<String> = lock(&shared.topics).iter().cloned().collect();
    if topics.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let md = shared
        .admin
        .topic_metadata(&names)
        .await
        .map_err(Error::Metadata)?;
    let mut partitioner = lock(&shared.partitioner);
    partitioner.update(LeaderMap::from_metadata(&md));
    let mut modes = lock(&shared.modes);
    for topic in &topics {
        let mode = describe(&partitioner, topic);
        if modes.get(topic) != Some(&mode) {
            tracing::info!(topic, az = ?partitioner.az(), routing = %mode, "unkeyed records routing");
            modes.insert(topic.clone(), mode);
        }
    }
    Ok(())
}

/// One line on how unkeyed records of `topic` are routed.
fn describe(p: &AzPartitioner, topic: &str) -> String {
    let Some(az) = p.az() else {
        return format!("all partitions: {}", Fallback::AzUnknown);
    };
    let Some(t) = p.leaders().topic(topic) else {
        return format!("all partitions: {}", Fallback::TopicUnknown);
    };
    let local = t.led_in(az);
    if local.is_empty() {
        return format!("all partitions: {}", Fallback::NoLocalLeader);
    }
    format!(
        "{} of {} partitions, led in {az}: {local:?}",
        local.len(),
        t.partitions().len()
    )
}
