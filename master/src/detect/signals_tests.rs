//! Agent liveness on the master's clock, clock skew and duplicate broker ids (issue 7 item 3),
//! through the model as ingest feeds it and the detectors as the round runs them.

use kmedic_common::stats::*;

use super::signals::{agent_signal, AgentSignal};
use super::tests::{Fake, NOW};
use super::*;
use crate::clock::Now;
use crate::model::{Applied, ClusterModel, Received};

const SILENCE: u64 = 60_000;
const DAY: u64 = 24 * 3600 * 1000;

fn hb(broker: i32, host: &str, ts: u64) -> StatsRecord {
    StatsRecord::Heartbeat(Heartbeat {
        identity: Identity {
            rack: Some("az-a".into()),
            ..Identity::bare("c", broker, host)
        },
        timestamp_ms: ts,
        seq: 1,
        process: ProcessStats::bare(ProcessState::Running),
        host: HostStats::default(),
        missing: vec![],
    })
}

/// The master's clocks `secs` seconds after a start at wall NOW, mono 0.
fn at(secs: u64) -> Now {
    Now {
        wall_ms: NOW + secs * 1000,
        mono_ms: secs * 1000,
    }
}

#[test]
fn a_heartbeat_stamped_a_day_ahead_then_silence_is_silent_after_the_threshold() {
    // The testbed bug: one heartbeat stamped a day ahead, then SIGKILL. Before, the agent's own
    // stamp decided freshness, so the agent stayed "fresh" (the broker only "suspect") forever.
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    let b = crate::config::IngestConfig::default();
    m.apply(&hb(1, "h1", NOW), Received::live(at(0)), &b);
    let skewed = m.apply(&hb(1, "h1", NOW + 10_000 + DAY), Received::live(at(10)), &b);
    assert!(matches!(skewed, Applied::Skewed { .. }));
    let a = m.agents.get(&1);
    assert_eq!(agent_signal(a, at(30).mono_ms, SILENCE), AgentSignal::Fresh);
    assert_eq!(
        agent_signal(a, at(61).mono_ms, SILENCE),
        AgentSignal::Silent { silent_ms: 61_000 }
    );
    assert_eq!(
        agent_signal(a, at(3600).mono_ms, SILENCE),
        AgentSignal::Silent {
            silent_ms: 3_600_000
        }
    );
}

#[test]
fn a_wall_clock_step_changes_no_agent_signal() {
    let mut f = Fake::six();
    let calm = f.findings();
    // The wall clock jumps an hour either way; the monotonic clock does not.
    for step in [NOW + 3_600_000, NOW - 3_600_000] {
        let mut i = f.input();
        i.now_ms = step;
        assert_eq!(run_all(&i), calm);
    }
    f.kill(2);
    let dead = f.findings();
    let mut i = f.input();
    i.now_ms = NOW - 3_600_000;
    assert_eq!(run_all(&i), dead);
}

#[test]
fn a_replayed_old_record_does_not_make_a_dead_agent_fresh() {
    let mut f = Fake::six();
    f.kill(3);
    // The master restarts: mono starts again near 0; the replay delivers broker 3's last
    // heartbeat, produced 10 minutes ago.
    let now = at(5);
    let produced = now.wall_ms - 600_000;
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    m.apply(
        &hb(3, "h3", produced),
        Received::replayed(now, Some(produced), produced),
        &crate::config::IngestConfig::default(),
    );
    f.agents.insert(3, m.agents[&3].clone());
    let mut i = f.input();
    i.mono_ms = now.mono_ms;
    let h = signals::classify(&i);
    assert!(matches!(h[&3].agent, AgentSignal::Silent { silent_ms } if silent_ms >= 600_000));
    assert!(h[&3].confirmed_dead());
}

#[test]
fn a_large_clock_skew_is_a_finding_and_a_small_one_is_not() {
    let mut f = Fake::six();
    f.agents.get_mut(&2).unwrap().clock_skew_ms = 45_000;
    f.agents.get_mut(&4).unwrap().clock_skew_ms = -90_000;
    f.agents.get_mut(&5).unwrap().clock_skew_ms = 2_000;
    let fs = f.findings();
    let skew: Vec<_> = fs
        .iter()
        .filter(|x| x.kind == FindingKind::ClockSkew)
        .collect();
    assert_eq!(
        skew.iter().map(|x| x.broker.unwrap()).collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert!(
        skew[0].evidence.contains("ahead by 45.0 s"),
        "{}",
        skew[0].evidence
    );
    assert!(skew[1].evidence.contains("behind by 90.0 s"));
}

#[test]
fn two_hostnames_for_one_broker_id_are_a_finding_with_both_names() {
    let mut f = Fake::six();
    f.agents.get_mut(&6).unwrap().other_host = Some(("clone-of-h6".into(), (NOW - 20_000) as i64));
    // A host seen long ago (a replaced machine) is not a duplicate.
    f.agents.get_mut(&1).unwrap().other_host = Some(("old-h1".into(), (NOW - 3_600_000) as i64));
    let fs = f.findings();
    let dup: Vec<_> = fs
        .iter()
        .filter(|x| x.kind == FindingKind::DuplicateBrokerId)
        .collect();
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0].broker, Some(6));
    assert!(dup[0].evidence.contains("\"h6\""));
    assert!(dup[0].evidence.contains("\"clone-of-h6\""));
}

#[test]
fn duplicate_hosts_found_through_the_model() {
    let mut m = ClusterModel::new("c", &crate::config::WindowConfig::default());
    let b = crate::config::IngestConfig::default();
    m.apply(&hb(4, "h4", NOW), Received::live(at(0)), &b);
    m.apply(&hb(4, "h4-clone", NOW + 3_000), Received::live(at(3)), &b);
    let mut f = Fake::six();
    f.agents.insert(4, m.agents[&4].clone());
    let mut i = f.input();
    i.mono_ms = at(10).mono_ms;
    assert!(run_all(&i)
        .iter()
        .any(|x| x.kind == FindingKind::DuplicateBrokerId && x.broker == Some(4)));
}
