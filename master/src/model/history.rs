//! Per-broker network history for the broker page's charts: the host receive and transmit
//! rates each agent reports (every heartbeat, about 10 s), kept for the last [`SPAN_MS`] per
//! broker and at most [`MAX_POINTS`] points, so memory is bounded whatever the cadence.
//!
//! Points are stamped with the agent's sample time (replayed records then land where they
//! belong); only records newer than the last one applied are added, so the series is ordered.
//! Not checkpointed: a restart refills it from the stats replay.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// How far back the history reaches.
pub const SPAN_MS: u64 = 3_600_000;
/// The most points kept per broker (an hour at one point every 5 s, with room).
pub const MAX_POINTS: usize = 900;

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NetPoint {
    /// The agent's sample time, ms since the epoch.
    pub at_ms: u64,
    /// Host receive rate, bytes per second (`None`: the agent's collector failed).
    pub rx_bytes_per_sec: Option<u64>,
    /// Host transmit rate, bytes per second.
    pub tx_bytes_per_sec: Option<u64>,
}

/// Every broker's history.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrokerHistory {
    by_broker: BTreeMap<i32, VecDeque<NetPoint>>,
}

impl BrokerHistory {
    /// Adds a point for `broker` (ignored unless newer than its last one), and drops points
    /// older than [`SPAN_MS`] before it or beyond [`MAX_POINTS`].
    pub fn record(&mut self, broker: i32, p: NetPoint) {
        let s = self.by_broker.entry(broker).or_default();
        if s.back().is_some_and(|last| last.at_ms >= p.at_ms) {
            return;
        }
        s.push_back(p);
        let oldest = p.at_ms.saturating_sub(SPAN_MS);
        while s.front().is_some_and(|f| f.at_ms < oldest) || s.len() > MAX_POINTS {
            s.pop_front();
        }
    }

    /// The points of `broker`, oldest first (empty when none).
    pub fn of(&self, broker: i32) -> Vec<NetPoint> {
        self.by_broker
            .get(&broker)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Keeps only the brokers for which `keep` holds (pruned with the agents).
    pub fn retain(&mut self, keep: impl Fn(i32) -> bool) {
        self.by_broker.retain(|&id, _| keep(id));
    }

    /// Points held, all brokers.
    pub fn len(&self) -> usize {
        self.by_broker.values().map(VecDeque::len).sum()
    }

    /// True when no point is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(at_ms: u64, rx: u64) -> NetPoint {
        NetPoint {
            at_ms,
            rx_bytes_per_sec: Some(rx),
            tx_bytes_per_sec: None,
        }
    }

    #[test]
    fn keeps_the_last_hour_in_order() {
        let mut h = BrokerHistory::default();
        for i in 0..400u64 {
            h.record(1, p(i * 10_000, i));
        }
        // An older or repeated sample (a replayed duplicate) is ignored.
        h.record(1, p(100, 7));
        let s = h.of(1);
        assert_eq!(s.last().map(|x| x.at_ms), Some(3_990_000));
        assert_eq!(s.first().map(|x| x.at_ms), Some(3_990_000 - SPAN_MS));
        assert!(s.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
        assert!(h.of(2).is_empty());
    }

    #[test]
    fn bounded_in_points_whatever_the_cadence() {
        let mut h = BrokerHistory::default();
        for i in 0..5_000u64 {
            h.record(3, p(i * 100, i));
        }
        assert_eq!(h.of(3).len(), MAX_POINTS);
        h.retain(|id| id != 3);
        assert!(h.is_empty());
    }
}
