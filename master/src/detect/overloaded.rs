//! Overloaded broker: its network receive or transmit load is over the broker's configured limit.
//!
//! A broker's load is judged on two figures, and the larger one counts:
//!
//! - **the host NIC**: the receive and transmit rates the broker's agent measures on its host;
//! - **Kafka's own load**: the sum, over the replicas the broker hosts, of their partitions'
//!   demand in the model (the agents' per-replica bytes in and out), under the planner's load
//!   model: every replica takes its partition's bytes in as net in; the leader sends consumer
//!   bytes out plus one replication stream per follower. This is the same figure the planner
//!   keeps under the limit and the API shows per broker (`serve::figures::loads`).
//!
//! On a host running one broker the NIC carries all of Kafka's traffic and more, so Kafka's load
//! is a lower bound of it and the NIC figure usually decides. Where several brokers share one
//! host (a test bed) or the agent's interface does not carry the broker's traffic, the NIC
//! cannot tell the brokers apart and does not drop when load moves between them; Kafka's figure
//! still does. Taking the larger one never hides an overload either figure shows. The finding
//! states both, so a person sees which one decided.

use std::collections::BTreeMap;

use super::signals::{agent_signal, AgentSignal};
use super::{DetectInput, Finding, FindingKind};
use crate::model::window::Windows;
use crate::observe::ClusterView;

/// The rule this detector applies.
pub const RULE: &str = "overloaded = max(host NIC, Kafka replica load) in > in limit OR out > \
                        out limit";

/// Per-broker (net in, net out) in bytes per second under the planner's load model, from the
/// partitions' demand in `windows` at `now_ms` (wall clock, as the windows are kept). Brokers
/// hosting nothing with demand are absent.
pub fn kafka_load(view: &ClusterView, windows: &Windows, now_ms: u64) -> BTreeMap<i32, (u64, u64)> {
    let mut out: BTreeMap<i32, (u64, u64)> = BTreeMap::new();
    for p in &view.partitions {
        let Some(d) = windows.demand(&p.topic, p.partition, now_ms) else {
            continue;
        };
        let bytes_in = d.in_bytes_per_sec;
        for &r in &p.replicas {
            let e = out.entry(r).or_default();
            e.0 = e.0.saturating_add(bytes_in);
        }
        if let Some(l) = p.leader {
            // The leader's bytes out already holds replication (kmedic_common::stats); the
            // planner keeps consumers + in x followers, so at least one stream per follower.
            let followers = p.replicas.len().saturating_sub(1) as u64;
            let sent = d.out_bytes_per_sec.max(bytes_in.saturating_mul(followers));
            let e = out.entry(l).or_default();
            e.1 = e.1.saturating_add(sent);
        }
    }
    out
}

/// One finding per registered broker over a limit. Stale agent figures are not used; Kafka's
/// load is used whether or not the broker's agent is fresh (it comes from every replica's
/// agent).
pub fn detect(input: &DetectInput<'_>) -> Vec<Finding> {
    let kafka = input
        .windows
        .map(|w| kafka_load(input.view, w, input.now_ms))
        .unwrap_or_default();
    let mut out = Vec::new();
    for &id in input.view.brokers.keys() {
        let a = input.agents.get(&id).filter(|_| {
            agent_signal(input.agents.get(&id), input.mono_ms, input.agent_silence_ms)
                == AgentSignal::Fresh
        });
        let (kin, kout) = kafka.get(&id).copied().unwrap_or_default();
        let (lin, lout) = input.limits.for_broker(id);
        let nic_in = a.and_then(|a| a.net_rx_bytes_per_sec);
        let nic_out = a.and_then(|a| a.net_tx_bytes_per_sec);
        let mut over = Vec::new();
        for (dir, nic, kafka, limit) in [("in", nic_in, kin, lin), ("out", nic_out, kout, lout)] {
            let load = nic.unwrap_or(0).max(kafka);
            if load > limit {
                let nic = nic.map_or("unknown".to_string(), |v| format!("{v} B/s"));
                over.push(format!(
                    "{dir} {load} B/s > limit {limit} B/s (host NIC {nic}, Kafka replicas \
                     {kafka} B/s)"
                ));
            }
        }
        if !over.is_empty() {
            out.push(Finding {
                kind: FindingKind::Overloaded,
                broker: Some(id),
                topic: None,
                partitions: Vec::new(),
                evidence: format!("broker {id}: {}", over.join("; ")),
                rule: RULE,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::tests::{Fake, NOW};
    use crate::detect::FindingKind;

    fn windows() -> Windows {
        Windows::new(60_000, 10, 0)
    }

    fn overloads(f: &Fake, w: &Windows) -> Vec<Finding> {
        let mut input = f.input();
        input.windows = Some(w);
        detect(&input)
    }

    /// Several brokers on one host (the test bed): every agent reports the same quiet NIC, and
    /// the broker whose replicas carry the traffic is over its limit by Kafka's own figures.
    /// Failed before: the NIC alone was read, so no finding.
    #[test]
    fn kafka_replica_load_over_limit_is_overloaded_with_a_quiet_nic() {
        let mut f = Fake::six();
        f.add_partition("t", 0, &[2, 3])
            .add_partition("t", 1, &[2, 4]);
        f.limits.overrides.push(crate::config::BrokerLimitOverride {
            broker_id: 2,
            in_bytes_per_sec: Some(1_500),
            out_bytes_per_sec: Some(10_000),
        });
        let mut w = windows();
        // Leader bytes out = in x ((RF - 1) + 1 consumer).
        w.record("t", 0, NOW, Some(1_000), Some(2_000), false);
        w.record("t", 1, NOW, Some(1_000), Some(2_000), false);
        let fs = overloads(&f, &w);
        assert_eq!(fs.len(), 1, "{fs:?}");
        assert_eq!(fs[0].kind, FindingKind::Overloaded);
        assert_eq!(fs[0].broker, Some(2));
        assert!(
            fs[0].evidence.contains(
                "in 2000 B/s > limit 1500 B/s (host NIC 1000 B/s, Kafka replicas 2000 B/s)"
            ),
            "{}",
            fs[0].evidence
        );
        // Out is 4000 B/s, under its 10000: not named.
        assert!(!fs[0].evidence.contains("out "), "{}", fs[0].evidence);
    }

    /// Leadership moved: the old leader's out drops at once, its in stays (it still hosts).
    #[test]
    fn an_election_moves_out_not_in() {
        let mut f = Fake::six();
        f.add_partition("t", 0, &[2, 3]);
        let mut w = windows();
        w.record("t", 0, NOW, Some(1_000), Some(2_000), false);
        let before = kafka_load(&f.view, &w, NOW);
        assert_eq!(before[&2], (1_000, 2_000));
        assert_eq!(before[&3], (1_000, 0));
        f.view.partitions[0].leader = Some(3);
        let after = kafka_load(&f.view, &w, NOW);
        assert_eq!(after[&2], (1_000, 0));
        assert_eq!(after[&3], (1_000, 2_000));
    }

    /// Replication counts once: a leader whose reported bytes out is under in x followers (no
    /// consumer figure) still carries one stream per follower, as the planner projects it.
    #[test]
    fn leader_out_is_at_least_one_stream_per_follower() {
        let mut f = Fake::six();
        f.add_partition("t", 0, &[1, 2, 3]);
        let mut w = windows();
        w.record("t", 0, NOW, Some(1_000), Some(500), false);
        assert_eq!(kafka_load(&f.view, &w, NOW)[&1], (1_000, 2_000));
    }

    /// The NIC alone still decides when it is over (one broker per host, traffic Kafka's
    /// figures do not see), and under both figures there is no finding.
    #[test]
    fn the_larger_figure_decides() {
        let mut f = Fake::six();
        f.add_partition("t", 0, &[2, 3]);
        f.limits.default_out_bytes_per_sec = 5_000;
        f.agents.get_mut(&3).unwrap().net_tx_bytes_per_sec = Some(6_000);
        let mut w = windows();
        w.record("t", 0, NOW, Some(1_000), Some(2_000), false);
        let fs = overloads(&f, &w);
        assert_eq!(fs.len(), 1, "{fs:?}");
        assert_eq!(fs[0].broker, Some(3));
        assert!(
            fs[0].evidence.contains(
                "out 6000 B/s > limit 5000 B/s (host NIC 6000 B/s, Kafka replicas 0 B/s)"
            ),
            "{}",
            fs[0].evidence
        );
    }

    /// A silent agent's NIC figure is not used, but Kafka's figures (from the other replicas'
    /// agents and the model) still are.
    #[test]
    fn a_stale_agent_nic_is_ignored_kafka_load_is_not() {
        let mut f = Fake::six();
        f.add_partition("t", 0, &[2, 3]);
        f.limits.default_in_bytes_per_sec = 500;
        f.silence_agent(2);
        f.agents.get_mut(&2).unwrap().net_rx_bytes_per_sec = Some(9_000);
        let mut w = windows();
        w.record("t", 0, NOW, Some(1_000), Some(2_000), false);
        let fs = overloads(&f, &w);
        let two: Vec<_> = fs.iter().filter(|f| f.broker == Some(2)).collect();
        assert_eq!(two.len(), 1, "{fs:?}");
        assert!(
            two[0]
                .evidence
                .contains("in 1000 B/s > limit 500 B/s (host NIC unknown"),
            "{}",
            two[0].evidence
        );
    }
}
