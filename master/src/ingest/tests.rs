use super::*;
use crate::config::WindowConfig;
use kmedic_common::stats::*;

fn heartbeat(cluster: &str, broker: i32, ts: u64) -> StatsRecord {
    StatsRecord::Heartbeat(Heartbeat {
        identity: Identity {
            cluster_id: cluster.into(),
            broker_id: broker,
            rack: None,
            hostname: "h".into(),
            az: None,
            az_source: AzSource::Unknown,
            instance_type: None,
            instance_id: None,
            agent_version: "0".into(),
        },
        timestamp_ms: ts,
        seq: 1,
        process: ProcessStats::bare(ProcessState::Running),
        host: HostStats::default(),
        missing: vec![],
    })
}

#[test]
fn routes_by_cluster_id_and_counts_the_rest_without_failing() {
    let fleet = Fleet::new();
    let model = fleet.register("known", &WindowConfig::default());
    let ingest = Ingest::new(fleet);

    let ok = codec::encode(&heartbeat("known", 3, 1_000));
    assert_eq!(
        ingest.handle(Some(&ok), Some(5_000)),
        Outcome::Applied("known".into())
    );
    assert_eq!(lock(&model).agents[&3].last_seen_ms, 1_000);

    let other = codec::encode(&heartbeat("stranger", 3, 1_000));
    assert_eq!(
        ingest.handle(Some(&other), Some(4_000)),
        Outcome::UnknownCluster("stranger".into())
    );
    // Many bad records in a row: each counted, none fatal (logging is rate-limited).
    for _ in 0..100 {
        assert!(matches!(
            ingest.handle(Some(b"garbage, not a stats record"), None),
            Outcome::Undecodable(_)
        ));
    }
    let mut truncated = ok.clone();
    truncated.truncate(ok.len() - 3);
    assert!(matches!(
        ingest.handle(Some(&truncated), None),
        Outcome::Undecodable(_)
    ));
    assert_eq!(ingest.handle(None, None), Outcome::Empty);

    let c = &ingest.counters;
    assert_eq!(c.applied.load(Ordering::Relaxed), 1);
    assert_eq!(c.unknown_cluster.load(Ordering::Relaxed), 1);
    assert_eq!(c.undecodable.load(Ordering::Relaxed), 101);
    assert_eq!(c.empty.load(Ordering::Relaxed), 1);
    // The watermark is the newest record time seen, not the last.
    assert_eq!(c.watermark_ms.load(Ordering::Relaxed), 5_000);
}

#[test]
fn the_limiter_suppresses_within_the_period_and_reports_the_count() {
    let mut l = Limiter {
        last: None,
        suppressed: 0,
    };
    assert_eq!(l.allow(), Some(0));
    assert_eq!(l.allow(), None);
    assert_eq!(l.allow(), None);
    l.last = Some(Instant::now() - LOG_EVERY - Duration::from_millis(1));
    assert_eq!(l.allow(), Some(2));
}
