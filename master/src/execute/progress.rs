//! Progress in bytes, per move and per plan, with a rate and an ETA; and the cadence of the
//! progress log line (every `progress_log_secs` or every 10 %, never every poll).

use std::collections::VecDeque;

use serde::Serialize;

use super::status::Status;
use crate::observe::TopicPartition;
use crate::policy::DecisionId;

/// One move's progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoveProgress {
    /// The partition.
    pub partition: TopicPartition,
    /// Replicas before.
    pub old_replicas: Vec<i32>,
    /// Replicas after.
    pub new_replicas: Vec<i32>,
    /// Bytes the new replicas must hold: the leader's size x new replicas (the plan's
    /// estimate until the leader's size is read).
    pub total_bytes: u64,
    /// Bytes the new replicas hold now (each capped at the leader's size).
    pub copied_bytes: u64,
    /// Where it is.
    pub status: Status,
}

/// A plan's progress: the snapshot the board and the UI show.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanProgress {
    /// The plan's id (`<cluster>-<decision>` or given).
    pub plan_id: String,
    /// The decision the plan answers.
    pub decision: Option<DecisionId>,
    /// Sum over moves not cancelled.
    pub total_bytes: u64,
    /// Sum over moves not cancelled.
    pub copied_bytes: u64,
    /// Copy rate over the last minute, bytes per second.
    pub rate_bytes_per_sec: f64,
    /// Seconds left at that rate (None while the rate is 0).
    pub eta_secs: Option<u64>,
    /// Moves by status.
    pub pending: usize,
    /// Moves running.
    pub running: usize,
    /// Moves done.
    pub done: usize,
    /// Moves cancelled or failed.
    pub cancelled: usize,
    /// Elections done.
    pub elections_done: usize,
    /// Each move.
    pub moves: Vec<MoveProgress>,
    /// Finished (throttles cleared).
    pub finished: bool,
}

impl PlanProgress {
    /// Copied / total in percent (100 for a plan with nothing to copy).
    pub fn percent(&self) -> f64 {
        if self.total_bytes == 0 {
            100.0
        } else {
            (self.copied_bytes as f64 * 100.0 / self.total_bytes as f64).min(100.0)
        }
    }
}

/// Bytes copied by the new replicas: each capped at the leader's size, so a replica that
/// overshoots (new segments appended since) never counts more than 100 %.
pub fn copied(leader_size: u64, new_replica_sizes: &[u64]) -> u64 {
    new_replica_sizes
        .iter()
        .map(|s| (*s).min(leader_size))
        .fold(0u64, u64::saturating_add)
}

/// A rate over a sliding window of (ms, copied bytes) samples.
#[derive(Debug, Clone)]
pub struct RateMeter {
    window_ms: u64,
    samples: VecDeque<(u64, u64)>,
}

impl RateMeter {
    /// A meter over `window_ms`.
    pub fn new(window_ms: u64) -> Self {
        Self {
            window_ms,
            samples: VecDeque::new(),
        }
    }

    /// Adds a sample of the cumulative bytes copied at `now_ms`.
    pub fn sample(&mut self, now_ms: u64, copied: u64) {
        self.samples.push_back((now_ms, copied));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now_ms.saturating_sub(*t) > self.window_ms)
            && self.samples.len() > 2
        {
            self.samples.pop_front();
        }
    }

    /// Bytes per second between the oldest and newest sample (0 with fewer than two, or when
    /// the count went down, as when a move is cancelled).
    pub fn rate(&self) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some((t0, b0)), Some((t1, b1))) if t1 > t0 && b1 >= b0 => {
                (b1 - b0) as f64 * 1000.0 / (t1 - t0) as f64
            }
            _ => 0.0,
        }
    }
}

/// Seconds to copy `remaining` bytes at `rate` (None when the rate is 0).
pub fn eta_secs(remaining: u64, rate: f64) -> Option<u64> {
    (rate > 0.0).then(|| (remaining as f64 / rate).ceil() as u64)
}

/// When to log a progress line.
#[derive(Debug, Clone)]
pub struct Cadence {
    period_ms: u64,
    last_ms: Option<u64>,
    last_step: u64,
}

impl Cadence {
    /// Every `period_ms`, or when the percentage crosses a 10 % step.
    pub fn new(period_ms: u64) -> Self {
        Self {
            period_ms,
            last_ms: None,
            last_step: 0,
        }
    }

    /// Whether to log now; if so, remembers it.
    pub fn due(&mut self, now_ms: u64, percent: f64) -> bool {
        let step = (percent / 10.0).floor().clamp(0.0, 10.0) as u64;
        let due = match self.last_ms {
            None => true,
            Some(t) => now_ms.saturating_sub(t) >= self.period_ms || step > self.last_step,
        };
        if due {
            self.last_ms = Some(now_ms);
            self.last_step = step;
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copied_caps_each_new_replica_at_the_leader_size() {
        assert_eq!(copied(100, &[30, 150]), 130);
        assert_eq!(copied(0, &[10]), 0);
        assert_eq!(copied(u64::MAX, &[u64::MAX, u64::MAX]), u64::MAX);
    }

    #[test]
    fn rate_and_eta_from_a_sliding_window() {
        let mut m = RateMeter::new(60_000);
        assert_eq!(m.rate(), 0.0);
        m.sample(0, 0);
        m.sample(10_000, 50_000_000);
        assert_eq!(m.rate(), 5_000_000.0);
        assert_eq!(eta_secs(100_000_000, m.rate()), Some(20));
        // Old samples fall out of the window: the rate follows the recent slope.
        m.sample(70_000, 50_000_000);
        m.sample(80_000, 60_000_000);
        assert_eq!(m.rate(), 1_000_000.0);
        assert_eq!(eta_secs(1, 0.0), None);
    }

    #[test]
    fn percent_of_an_empty_plan_is_100() {
        let p = PlanProgress {
            total_bytes: 200,
            copied_bytes: 50,
            ..PlanProgress::default()
        };
        assert_eq!(p.percent(), 25.0);
        assert_eq!(PlanProgress::default().percent(), 100.0);
    }

    #[test]
    fn progress_is_logged_every_period_or_every_ten_percent_not_every_poll() {
        let mut c = Cadence::new(30_000);
        assert!(c.due(0, 0.0));
        assert!(!c.due(5_000, 3.0));
        assert!(!c.due(10_000, 9.9));
        assert!(c.due(11_000, 10.0));
        assert!(!c.due(12_000, 15.0));
        assert!(c.due(41_000, 15.0));
        assert!(c.due(42_000, 100.0));
        assert!(!c.due(43_000, 100.0));
    }
}
