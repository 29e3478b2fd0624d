//! The adaptive throttle: the replication rate that fits every involved broker's spare network,
//! within the configured band. Pure. With `execute.adaptive_throttle`, the actor passes the
//! agents' latest host figures each round ([`super::ThrottleHandle::observe`]); at each poll
//! the executor takes its own copy out of them ([`others`]), computes [`rate`] over the brokers
//! it copies to and from, and re-applies the broker-default rates when the result moves by more
//! than the hysteresis step ([`worth_changing`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::config::ExecuteConfig;

/// One broker's network as its agent last measured it: host totals (clients, Kafka's own
/// replication and kmedic's throttled copy together) and its configured limits, bytes per
/// second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerNet {
    /// Receive limit.
    pub limit_in: u64,
    /// Send limit.
    pub limit_out: u64,
    /// Host receive rate.
    pub rx: u64,
    /// Host send rate.
    pub tx: u64,
    /// When the master received the sample (its monotonic ms): a sample from before the last
    /// rate change still holds the old copy rate and is not used.
    pub heard_mono_ms: u64,
}

/// Each broker's [`BrokerNet`] from its agent's latest figures and `[limits]` (brokers whose
/// agent sent no host network figures are left out).
pub fn nets(
    agents: &BTreeMap<i32, crate::model::AgentState>,
    limits: &crate::config::NetworkLimits,
) -> BTreeMap<i32, BrokerNet> {
    agents
        .iter()
        .filter_map(|(&b, a)| {
            let (limit_in, limit_out) = limits.for_broker(b);
            Some((
                b,
                BrokerNet {
                    limit_in,
                    limit_out,
                    rx: a.net_rx_bytes_per_sec?,
                    tx: a.net_tx_bytes_per_sec?,
                    heard_mono_ms: u64::try_from(a.heard_mono_ms).unwrap_or(0),
                },
            ))
        })
        .collect()
}

/// The traffic that is not kmedic's copy, per broker and direction, of the brokers the copy
/// involves: a destination receives the copy, a source (the leader of a moving partition)
/// sends it. The copy is taken out at `rate`, the throttle in force, which caps it per broker
/// and direction (follower and leader throttle). Brokers without a usable figure are left out.
pub fn others(
    nets: &BTreeMap<i32, BrokerNet>,
    destinations: &BTreeSet<i32>,
    sources: &BTreeSet<i32>,
    rate: u64,
    since_mono_ms: u64,
) -> Vec<(i32, BrokerTraffic)> {
    let mut out = Vec::new();
    for (&b, n) in nets
        .iter()
        .filter(|(_, n)| n.heard_mono_ms >= since_mono_ms)
    {
        if destinations.contains(&b) {
            let other = n.rx.saturating_sub(rate);
            out.push((
                b,
                BrokerTraffic {
                    limit: n.limit_in,
                    other,
                },
            ));
        }
        if sources.contains(&b) {
            let other = n.tx.saturating_sub(rate);
            out.push((
                b,
                BrokerTraffic {
                    limit: n.limit_out,
                    other,
                },
            ));
        }
    }
    out
}

/// Hysteresis: a new rate is applied only when it differs from the one in force by more than
/// 10 %, so the agents' noise does not rewrite broker configs every poll.
pub fn worth_changing(current: u64, wanted: u64) -> bool {
    wanted.abs_diff(current) > current / 10
}

/// One broker's network figures, bytes per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokerTraffic {
    /// Its network limit (the smaller of in and out).
    pub limit: u64,
    /// Traffic that is not replication, as its agent observes it.
    pub other: u64,
}

/// The rate for the brokers a plan involves: for each, `limit x adaptive_network_share - other`;
/// the smallest (one broker-default rate serves them all), clamped to
/// [`throttle_min_bytes_per_sec`, `throttle_max_bytes_per_sec`]. With no figures, the configured
/// rate.
///
/// [`throttle_min_bytes_per_sec`]: ExecuteConfig::throttle_min_bytes_per_sec
/// [`throttle_max_bytes_per_sec`]: ExecuteConfig::throttle_max_bytes_per_sec
pub fn rate(brokers: &[BrokerTraffic], cfg: &ExecuteConfig) -> u64 {
    let spare = brokers
        .iter()
        .map(|b| {
            let cap = (b.limit as f64 * cfg.adaptive_network_share) as u64;
            cap.saturating_sub(b.other)
        })
        .min();
    clamp(spare.unwrap_or(cfg.throttle_bytes_per_sec), cfg)
}

/// `rate` within the band.
pub fn clamp(rate: u64, cfg: &ExecuteConfig) -> u64 {
    rate.clamp(
        cfg.throttle_min_bytes_per_sec,
        cfg.throttle_max_bytes_per_sec,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn each_agent_s_host_figures_meet_its_broker_s_limits() {
        use crate::config::{BrokerLimitOverride, NetworkLimits};
        use crate::model::AgentState;
        let agent = |rx, tx, heard| AgentState {
            net_rx_bytes_per_sec: rx,
            net_tx_bytes_per_sec: tx,
            heard_mono_ms: heard,
            ..AgentState::unknown()
        };
        let agents = BTreeMap::from([
            (1, agent(Some(10), Some(20), 5)),
            (2, agent(None, Some(20), 5)),
            (3, agent(Some(30), Some(40), -1)),
        ]);
        let limits = NetworkLimits {
            default_in_bytes_per_sec: 100,
            default_out_bytes_per_sec: 200,
            overrides: vec![BrokerLimitOverride {
                broker_id: 3,
                in_bytes_per_sec: Some(50),
                out_bytes_per_sec: None,
            }],
        };
        let n = nets(&agents, &limits);
        // Broker 2 sent no receive figure: left out, not taken as idle.
        assert_eq!(n.keys().copied().collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(
            n[&3],
            BrokerNet {
                limit_in: 50,
                limit_out: 200,
                rx: 30,
                tx: 40,
                heard_mono_ms: 0
            }
        );
        assert_eq!(
            (n[&1].limit_in, n[&1].rx, n[&1].heard_mono_ms),
            (100, 10, 5)
        );
    }

    #[test]
    fn kmedic_s_own_copy_is_not_other_traffic_and_old_samples_are_skipped() {
        let net = |rx, tx, heard| BrokerNet {
            limit_in: 100,
            limit_out: 200,
            rx,
            tx,
            heard_mono_ms: heard,
        };
        let nets: BTreeMap<i32, BrokerNet> = [
            (3, net(70, 5, 10)),
            (4, net(0, 90, 10)),
            (5, net(99, 99, 1)),
        ]
        .into();
        let dest: BTreeSet<i32> = [3].into();
        let src: BTreeSet<i32> = [4, 5].into();
        // 3 receives the copy (50 of its 70 in), 4 sends it; 5's sample is from before.
        assert_eq!(
            others(&nets, &dest, &src, 50, 5),
            vec![
                (
                    3,
                    BrokerTraffic {
                        limit: 100,
                        other: 20
                    }
                ),
                (
                    4,
                    BrokerTraffic {
                        limit: 200,
                        other: 40
                    }
                )
            ]
        );
        assert!(!worth_changing(1000, 1100));
        assert!(worth_changing(1000, 1101));
        assert!(worth_changing(1000, 899));
    }

    #[test]
    fn the_busiest_broker_sets_the_rate_within_the_band() {
        let cfg = ExecuteConfig::default();
        let b = |limit, other| BrokerTraffic { limit, other };
        // 125 MB/s links, 80 % share = 100 MB/s; 60 MB/s of client traffic leaves 40.
        assert_eq!(
            rate(
                &[b(125_000_000, 10_000_000), b(125_000_000, 60_000_000)],
                &cfg
            ),
            40_000_000
        );
        // A saturated broker: the floor, never zero (replication must progress).
        assert_eq!(rate(&[b(125_000_000, 125_000_000)], &cfg), 10 * MIB);
        // An idle 10 Gb/s broker: the ceiling.
        assert_eq!(rate(&[b(1_250_000_000, 0)], &cfg), 200 * MIB);
        assert_eq!(rate(&[], &cfg), cfg.throttle_bytes_per_sec);
    }
}
