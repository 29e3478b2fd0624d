//! The adaptive throttle: the replication rate that fits every involved broker's spare network,
//! within the configured band. Pure; the service computes it from the agents' figures and passes
//! it to [`super::ThrottleHandle::set`], which re-applies the broker-default rates mid-plan.

use crate::config::ExecuteConfig;

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
