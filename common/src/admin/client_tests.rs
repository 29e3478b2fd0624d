//! AdminClient tests against scripted fake brokers on loopback TCP: bootstrap fallback, routing,
//! NOT_CONTROLLER handling, what is retried and what is not, and typed per-partition results.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use tokio::net::TcpListener;

use super::conn_tests::{fake_broker, response, Reply};
use super::{AdminClient, ConfigResource, ElectionOutcome, ElectionType, Error, ResponseError};
use crate::connection::ConnectionSettings;

/// What a fake broker (by id) does with a request.
type Script = dyn Fn(i32, &RequestHeader, Bytes) -> Reply + Send + Sync;

struct Fake {
    addrs: Vec<String>,
    /// (broker id, api key) of every request after ApiVersions, in order.
    seen: Arc<Mutex<Vec<(i32, i16)>>>,
    /// Brokers that are "dead": they drop every connection and Metadata leaves them out.
    dead: Arc<Mutex<Vec<i32>>>,
}

impl Fake {
    fn count(&self, broker: i32, key: ApiKey) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|(b, k)| *b == broker && *k == key as i16)
            .count()
    }
}

/// What every connection of the fake brokers shares: the ports (ids 1..=n in order) and the
/// [`Fake`]'s records, the script and the controller.
#[derive(Clone)]
struct Shared {
    ports: Vec<u16>,
    seen: Arc<Mutex<Vec<(i32, i16)>>>,
    dead: Arc<Mutex<Vec<i32>>>,
    script: Arc<Script>,
    controller: Arc<dyn Fn() -> i32 + Send + Sync>,
}

fn all_versions() -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        ApiKey::iter()
            .map(|k| {
                let v = k.valid_versions();
                ApiVersion::default()
                    .with_api_key(k as i16)
                    .with_min_version(v.min)
                    .with_max_version(v.max)
            })
            .collect(),
    )
}

/// Starts `n` fake brokers (ids 1..=n) on loopback ports. They answer ApiVersions with every
/// version, Metadata with themselves as brokers and `controller()` as controller, and hand
/// everything else to `script`.
async fn start(
    n: i32,
    controller: Arc<dyn Fn() -> i32 + Send + Sync>,
    script: Arc<Script>,
) -> Fake {
    let mut listeners = Vec::new();
    for _ in 0..n {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let shared = Shared {
        ports,
        seen: Arc::new(Mutex::new(Vec::new())),
        dead: Arc::new(Mutex::new(Vec::new())),
        script,
        controller,
    };
    for (i, listener) in listeners.into_iter().enumerate() {
        let id = i as i32 + 1;
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let Shared {
                    ports,
                    seen,
                    dead,
                    script,
                    controller,
                } = shared.clone();
                tokio::spawn(fake_broker(stream, move |h, body| {
                    let v = h.request_api_version;
                    if dead.lock().unwrap().contains(&id) {
                        return Reply::RawThenClose(Vec::new());
                    }
                    if h.request_api_key == ApiKey::ApiVersions as i16 {
                        return Reply::Frame(response(h.correlation_id, &all_versions(), v));
                    }
                    seen.lock().unwrap().push((id, h.request_api_key));
                    if h.request_api_key == ApiKey::Metadata as i16 {
                        let dead = dead.lock().unwrap().clone();
                        let brokers = ports
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| !dead.contains(&(*i as i32 + 1)))
                            .map(|(i, p)| {
                                MetadataResponseBroker::default()
                                    .with_node_id((i as i32 + 1).into())
                                    .with_host(StrBytes::from_static_str("127.0.0.1"))
                                    .with_port(i32::from(*p))
                            })
                            .collect();
                        let md = MetadataResponse::default()
                            .with_brokers(brokers)
                            .with_controller_id(controller().into());
                        return Reply::Frame(response(h.correlation_id, &md, v));
                    }
                    script(id, h, body)
                }));
            }
        });
    }
    Fake {
        addrs: shared
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect(),
        seen: shared.seen,
        dead: shared.dead,
    }
}

fn client(bootstrap: Vec<String>, deadline_ms: u64) -> AdminClient {
    let mut s = ConnectionSettings::plaintext(bootstrap);
    s.request_timeout_ms = 300;
    s.retry.initial_delay_ms = 10;
    s.retry.max_delay_ms = 50;
    s.retry.deadline_ms = deadline_ms;
    AdminClient::new(s).unwrap()
}

fn fixed(id: i32) -> Arc<dyn Fn() -> i32 + Send + Sync> {
    Arc::new(move || id)
}

/// Fails unless less than `limit` has passed since `started`: the call kept its deadline or
/// failed fast.
#[track_caller]
fn assert_within(started: Instant, limit: Duration) {
    let took = started.elapsed();
    assert!(took < limit, "took {took:?}, more than {limit:?}");
}

#[tokio::test]
async fn bootstrap_skips_unreachable_addresses_and_learns_brokers() {
    let fake = start(2, fixed(2), Arc::new(|_, _, _| Reply::Silence)).await;
    // Port 1 refuses connections: the client must move on to the next address.
    let c = client(vec!["127.0.0.1:1".into(), fake.addrs[1].clone()], 2_000);
    let md = c.metadata().await.unwrap();
    let ids: Vec<i32> = md.brokers.iter().map(|b| b.id).collect();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(md.controller_id, Some(2));
    assert_eq!(fake.count(2, ApiKey::Metadata), 1);
}

#[tokio::test]
async fn a_hung_first_bootstrap_broker_costs_one_request_timeout() {
    // Accepts connections and never answers, like a SIGSTOPped broker.
    let hung = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_addr = hung.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            open.push(s);
        }
    });
    let fake = start(1, fixed(1), Arc::new(|_, _, _| Reply::Silence)).await;
    let c = client(vec![hung_addr, fake.addrs[0].clone()], 5_000);
    let started = Instant::now();
    c.metadata().await.unwrap();
    let took = started.elapsed();
    // One 300 ms ApiVersions timeout on the hung broker, then the live one answers.
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1_500),
        "{took:?}"
    );
}

#[tokio::test]
async fn the_retry_deadline_bounds_bootstrap_over_many_hung_brokers() {
    let mut addrs = Vec::new();
    for _ in 0..6 {
        let hung = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(hung.local_addr().unwrap().to_string());
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((s, _)) = hung.accept().await {
                open.push(s);
            }
        });
    }
    // Six hung brokers at 300 ms each would take 1.8 s; the deadline is 700 ms.
    let c = client(addrs, 700);
    let started = Instant::now();
    let e = c.metadata().await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert_within(started, Duration::from_millis(1_000));
}

#[tokio::test]
async fn a_broker_gone_from_metadata_fails_fast_instead_of_retrying_to_the_deadline() {
    let fake = start(
        2,
        fixed(1),
        Arc::new(|_, h, _| {
            let r = DescribeLogDirsResponse::default();
            Reply::Frame(response(h.correlation_id, &r, h.request_api_version))
        }),
    )
    .await;
    let c = client(vec![fake.addrs[0].clone()], 10_000);
    c.describe_log_dirs(2).await.unwrap();
    // Broker 2 dies and is fenced: its open connection breaks and Metadata drops it.
    fake.dead.lock().unwrap().push(2);
    let started = Instant::now();
    let e = c.describe_log_dirs(2).await.unwrap_err();
    assert!(matches!(e, Error::UnknownBroker { id: 2 }), "{e}");
    assert_within(started, Duration::from_secs(2));
}

#[tokio::test]
async fn no_reachable_bootstrap_lists_every_attempt() {
    let c = client(vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()], 200);
    let e = c.metadata().await.unwrap_err();
    match &e {
        Error::NoBrokerReachable { attempts } => {
            assert!(
                attempts.iter().any(|a| a.starts_with("127.0.0.1:1:")),
                "{e}"
            );
            assert!(
                attempts.iter().any(|a| a.starts_with("127.0.0.1:2:")),
                "{e}"
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn not_controller_refreshes_metadata_and_retries_on_the_new_controller() {
    // Metadata first names broker 1, then broker 2.
    let calls = Arc::new(Mutex::new(0));
    let c2 = calls.clone();
    let controller: Arc<dyn Fn() -> i32 + Send + Sync> = Arc::new(move || {
        let mut n = c2.lock().unwrap();
        *n += 1;
        if *n == 1 {
            1
        } else {
            2
        }
    });
    let fake = start(
        2,
        controller,
        Arc::new(|id, h, _| {
            let v = h.request_api_version;
            if id == 1 {
                let r = ElectLeadersResponse::default().with_error_code(41);
                return Reply::Frame(response(h.correlation_id, &r, v));
            }
            let part = |p: i32, code: i16| {
                PartitionResult::default()
                    .with_partition_id(p)
                    .with_error_code(code)
            };
            let r = ElectLeadersResponse::default().with_replica_election_results(vec![
                ReplicaElectionResult::default()
                    .with_topic(StrBytes::from_static_str("t").into())
                    .with_partition_result(vec![part(0, 0), part(1, 84), part(2, 80)]),
            ]);
            Reply::Frame(response(h.correlation_id, &r, v))
        }),
    )
    .await;
    let c = client(vec![fake.addrs[0].clone()], 5_000);
    let parts: Vec<(String, i32)> = (0..3).map(|p| ("t".to_string(), p)).collect();
    let res = c
        .elect_leaders(ElectionType::Preferred, Some(&parts))
        .await
        .unwrap();
    assert_eq!(fake.count(1, ApiKey::ElectLeaders), 1);
    assert_eq!(fake.count(2, ApiKey::ElectLeaders), 1);
    assert!(matches!(res[0].result, Ok(ElectionOutcome::Elected)));
    assert!(matches!(res[1].result, Ok(ElectionOutcome::NotNeeded)));
    let e = res[2].result.as_ref().unwrap_err();
    assert_eq!(
        e.kafka_error(),
        Some(ResponseError::PreferredLeaderNotAvailable)
    );
    assert!(e.to_string().contains("t-2"), "{e}");
}

#[tokio::test]
async fn non_retriable_kafka_errors_are_returned_after_one_attempt() {
    let fake = start(
        1,
        fixed(1),
        Arc::new(|_, h, _| {
            let r = UnregisterBrokerResponse::default()
                .with_error_code(ResponseError::BrokerIdNotRegistered.code())
                .with_error_message(Some(StrBytes::from_static_str("no such broker")));
            Reply::Frame(response(h.correlation_id, &r, h.request_api_version))
        }),
    )
    .await;
    let c = client(vec![fake.addrs[0].clone()], 5_000);
    let e = c.unregister_broker(9).await.unwrap_err();
    assert_eq!(e.kafka_error(), Some(ResponseError::BrokerIdNotRegistered));
    assert!(!e.is_retriable());
    let text = e.to_string();
    assert!(
        text.contains("broker 9") && text.contains("no such broker"),
        "{text}"
    );
    assert_eq!(fake.count(1, ApiKey::UnregisterBroker), 1);
}

#[tokio::test]
async fn silent_broker_is_retried_until_the_deadline_then_times_out() {
    let fake = start(1, fixed(1), Arc::new(|_, _, _| Reply::Silence)).await;
    let c = client(vec![fake.addrs[0].clone()], 1_000);
    let started = Instant::now();
    let e = c.unregister_broker(3).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert_within(started, Duration::from_millis(1_500));
    // Each timed-out attempt poisons its connection; the retries use fresh ones.
    assert!(fake.count(1, ApiKey::UnregisterBroker) >= 2);
}

#[tokio::test]
async fn broker_configs_go_to_that_broker_and_topic_configs_to_any() {
    let fake = start(
        3,
        fixed(1),
        Arc::new(|_, h, mut body| {
            let v = h.request_api_version;
            let req = DescribeConfigsRequest::decode(&mut body, v).unwrap();
            let res = &req.resources[0];
            let result = describe_configs_response::DescribeConfigsResult::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone());
            let r = DescribeConfigsResponse::default().with_results(vec![result]);
            Reply::Frame(response(h.correlation_id, &r, v))
        }),
    )
    .await;
    let c = client(vec![fake.addrs[0].clone()], 2_000);
    c.describe_configs(&ConfigResource::Broker(3), None)
        .await
        .unwrap();
    assert_eq!(fake.count(3, ApiKey::DescribeConfigs), 1);
    c.describe_configs(&ConfigResource::Topic("t".into()), None)
        .await
        .unwrap();
    assert_eq!(fake.count(1, ApiKey::DescribeConfigs), 1);
    let e = c
        .describe_configs(&ConfigResource::Broker(9), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::UnknownBroker { id: 9 }), "{e}");
}

/// The master spawns admin calls on a multi-threaded runtime: the client must be shareable and
/// its futures `Send`. This fails to compile otherwise.
#[allow(dead_code)]
fn futures_are_send(c: &AdminClient) {
    fn send<T: Send>(_: T) {}
    fn share<T: Send + Sync>(_: &T) {}
    share(c);
    send(c.metadata());
    send(c.describe_cluster(true));
    send(c.list_partition_reassignments(None));
    send(c.alter_partition_reassignments(&[]));
    send(c.cancel_partition_reassignments(&[]));
    send(c.elect_leaders(ElectionType::Preferred, None));
    send(c.incremental_alter_configs(&ConfigResource::BrokerDefault, &[]));
    send(c.describe_configs(&ConfigResource::BrokerDefault, None));
    send(c.describe_log_dirs(1));
    send(c.unregister_broker(1));
    send(super::api_versions_probe("x:1", Duration::from_secs(1)));
}

#[tokio::test]
async fn an_unreachable_controller_fails_the_call_instead_of_deadlocking_the_thread() {
    // Broker 2, named controller, accepts and never answers (a SIGSTOPped JVM). Forgetting it
    // after the timeout once re-locked the client's std mutex while holding it, and blocked
    // the runtime thread for good; so the call runs on its own thread, watched from here.
    let fake = start(
        2,
        fixed(2),
        Arc::new(|id, h, _| {
            if id == 2 {
                return Reply::Silence;
            }
            let r = ListPartitionReassignmentsResponse::default();
            Reply::Frame(response(h.correlation_id, &r, h.request_api_version))
        }),
    )
    .await;
    let c = client(vec![fake.addrs[0].clone()], 1_000);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _ = tx.send(rt.block_on(c.list_partition_reassignments(None)));
    });
    let res = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .expect("the call returned (a thread blocked on the client's lock never does)")
        .unwrap();
    assert!(matches!(res, Err(Error::Timeout { .. })), "{res:?}");
    assert_within(started, Duration::from_millis(1_500));
    assert!(fake.count(2, ApiKey::ListPartitionReassignments) >= 1);
}
