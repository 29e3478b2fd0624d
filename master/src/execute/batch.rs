//! Bounded concurrency (moves per broker, moves per cluster, bytes in flight) and the move
//! timeout. Pure functions.
//!
//! Why a per-broker slot is released before a move ends: measured on the testbed (issue 8, the
//! `act::` heal trial), the copy ran at 0.66-0.69 of the throttle. Every move of a heal ended
//! a batch of at most `max_moves_per_broker` on its one destination, and the next batch went out
//! only after a poll had seen the last one done, so the throttled link idled between batches;
//! and a plan's many tiny moves (a few kB of an internal topic each) took a whole slot and a
//! whole poll each, two at a time. A slot stands for a copy that keeps a link busy: a move with
//! less than one poll's worth of bytes at the throttle left ([`Load::small_bytes`]) holds none,
//! so the next move is submitted while the last one finishes, and tiny moves go together.
//! `max_moves_per_cluster` and `max_bytes_in_flight` still bound everything in flight (the cost
//! of a cancel).

use std::collections::BTreeMap;

use crate::config::ExecuteConfig;

/// A move waiting to be admitted: the brokers it adds or removes a replica on, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Brokers gaining or losing a replica.
    pub brokers: Vec<i32>,
    /// Bytes to copy.
    pub bytes: u64,
}

/// What is in flight now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Load {
    /// Moves per broker that hold a slot (see [`Load::small_bytes`]).
    pub per_broker: BTreeMap<i32, u32>,
    /// Moves in the cluster.
    pub moves: u32,
    /// Bytes being copied.
    pub bytes: u64,
    /// A move with fewer bytes than this left to copy holds no per-broker slot: it ends
    /// within a poll, and waiting for it would idle the link (0: every move holds one).
    pub small_bytes: u64,
}

/// The bytes the throttle copies in one poll: [`Load::small_bytes`] for `rate`.
pub fn one_poll_bytes(rate: u64, cfg: &ExecuteConfig) -> u64 {
    let b = u128::from(rate) * u128::from(cfg.poll_interval_ms) / 1000;
    u64::try_from(b).unwrap_or(u64::MAX)
}

impl Load {
    /// An empty load whose moves under `small_bytes` hold no per-broker slot.
    pub fn new(small_bytes: u64) -> Self {
        Self {
            small_bytes,
            ..Self::default()
        }
    }

    fn holds_slot(&self, c: &Candidate) -> bool {
        c.bytes >= self.small_bytes
    }

    /// Counts `c` as in flight (`c.bytes`: what it has left to copy).
    pub fn add(&mut self, c: &Candidate) {
        if self.holds_slot(c) {
            for b in &c.brokers {
                *self.per_broker.entry(*b).or_insert(0) += 1;
            }
        }
        self.moves += 1;
        self.bytes = self.bytes.saturating_add(c.bytes);
    }

    fn fits(&self, c: &Candidate, cfg: &ExecuteConfig) -> bool {
        if self.moves >= cfg.max_moves_per_cluster {
            return false;
        }
        if self.holds_slot(c)
            && c.brokers
                .iter()
                .any(|b| self.per_broker.get(b).copied().unwrap_or(0) >= cfg.max_moves_per_broker)
        {
            return false;
        }
        // A move bigger than the whole budget still runs, but alone.
        self.bytes == 0 || self.bytes.saturating_add(c.bytes) <= cfg.max_bytes_in_flight
    }
}

/// The candidates (indexes, in order) that may start now on top of `load`, which is updated.
/// Candidates are taken in plan order; one that does not fit is skipped, not waited on, so a
/// busy broker does not hold up moves elsewhere.
pub fn admit(candidates: &[Candidate], load: &mut Load, cfg: &ExecuteConfig) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if load.fits(c, cfg) {
            load.add(c);
            out.push(i);
        }
    }
    out
}

/// A move's timeout in seconds: max(bytes in flight when it was submitted (it included) /
/// throttle rate x factor, floor). The bytes in flight share the throttle, so a move
/// submitted behind others gets their copy time too.
pub fn timeout_secs(bytes_in_flight: u64, cfg: &ExecuteConfig) -> u64 {
    let rate = cfg.throttle_bytes_per_sec.max(1) as f64;
    let ideal = (bytes_in_flight as f64 / rate * cfg.timeout_factor).ceil();
    // f64 -> u64 saturates.
    (ideal as u64).max(cfg.timeout_floor_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(per_broker: u32, per_cluster: u32, bytes: u64) -> ExecuteConfig {
        ExecuteConfig {
            max_moves_per_broker: per_broker,
            max_moves_per_cluster: per_cluster,
            max_bytes_in_flight: bytes,
            ..ExecuteConfig::default()
        }
    }

    fn c(brokers: &[i32], bytes: u64) -> Candidate {
        Candidate {
            brokers: brokers.to_vec(),
            bytes,
        }
    }

    #[test]
    fn per_broker_limit_skips_busy_broker_but_admits_others() {
        let cands = [c(&[1, 4], 10), c(&[1, 5], 10), c(&[2, 6], 10)];
        let mut load = Load::default();
        assert_eq!(admit(&cands, &mut load, &cfg(1, 10, 1000)), vec![0, 2]);
        assert_eq!(load.moves, 2);
        assert_eq!(load.per_broker[&1], 1);
    }

    #[test]
    fn per_cluster_limit_counts_what_is_already_running() {
        let cands = [c(&[1], 1), c(&[2], 1), c(&[3], 1)];
        let mut load = Load::default();
        load.add(&c(&[9], 1));
        assert_eq!(admit(&cands, &mut load, &cfg(5, 2, 1000)), vec![0]);
    }

    #[test]
    fn bytes_budget_holds_but_a_huge_move_runs_alone() {
        let cands = [c(&[1], 60), c(&[2], 60), c(&[3], 40)];
        let mut load = Load::default();
        assert_eq!(admit(&cands, &mut load, &cfg(5, 10, 100)), vec![0, 2]);
        let mut idle = Load::default();
        assert_eq!(
            admit(&[c(&[1], 500), c(&[2], 1)], &mut idle, &cfg(5, 10, 100)),
            vec![0]
        );
    }

    #[test]
    fn a_move_ending_within_a_poll_frees_its_slot_and_tiny_moves_take_none() {
        // Found on the testbed: one destination, max 2 moves per broker. Two 20 MB moves
        // near their end held both slots, so the third waited for a poll to see them done
        // and the link idled; ten 10 kB moves took five polls, two at a time.
        let cfg = cfg(2, 10, u64::MAX);
        let small = 4_000_000; // 8 MB/s x 500 ms
        let mut load = Load::new(small);
        load.add(&c(&[3, 6], 1_000_000)); // 1 MB left: ends within this poll
        load.add(&c(&[3, 6], 3_999_999));
        let mut cands = vec![c(&[3, 6], 20_000_000), c(&[3, 6], 20_000_000)];
        cands.extend((0..10).map(|_| c(&[3, 6], 10_000)));
        // Both big ones get a slot; six tiny ones fill the cluster's 10 moves.
        assert_eq!(admit(&cands, &mut load, &cfg), (0..8).collect::<Vec<_>>());
        assert_eq!(load.moves, 10);
        assert_eq!(load.per_broker[&3], 2);
        // With no threshold (the old rule) the busy slots block everything.
        let mut old = Load::default();
        old.add(&c(&[3, 6], 1_000_000));
        old.add(&c(&[3, 6], 3_999_999));
        assert!(admit(&cands, &mut old, &cfg).is_empty());
        // A broker busy with two real copies still takes no third.
        let mut busy = Load::new(small);
        busy.add(&c(&[3], 20_000_000));
        busy.add(&c(&[3], 20_000_000));
        assert_eq!(
            admit(&[c(&[3], 20_000_000), c(&[3], 1)], &mut busy, &cfg),
            vec![1]
        );
    }

    #[test]
    fn one_poll_of_bytes_is_rate_times_poll_interval() {
        let cfg = ExecuteConfig {
            poll_interval_ms: 500,
            ..ExecuteConfig::default()
        };
        assert_eq!(one_poll_bytes(8_000_000, &cfg), 4_000_000);
        assert_eq!(one_poll_bytes(u64::MAX, &cfg), u64::MAX / 2);
    }

    #[test]
    fn timeout_is_bytes_over_rate_times_factor_with_a_floor() {
        let cfg = ExecuteConfig {
            throttle_bytes_per_sec: 1_000,
            timeout_factor: 2.0,
            timeout_floor_secs: 60,
            ..ExecuteConfig::default()
        };
        assert_eq!(timeout_secs(0, &cfg), 60);
        assert_eq!(timeout_secs(10_000, &cfg), 60);
        assert_eq!(timeout_secs(100_000, &cfg), 200);
        assert_eq!(timeout_secs(100_001, &cfg), 201);
        let slow = ExecuteConfig {
            throttle_bytes_per_sec: 1,
            ..cfg
        };
        assert_eq!(timeout_secs(u64::MAX, &slow), u64::MAX, "saturates");
    }
}
