//! When to take the next sample, and which kind. Pure, so the schedule is tested without clocks.
//!
//! A full sample is due every `full_every` and also serves as that moment's heartbeat (it holds
//! everything a heartbeat does). The first sample is a full one, so the master learns the
//! broker's replicas at once. After a stall (a suspended VM, a slow disk scan) missed slots are
//! skipped rather than sent in a burst.

use std::time::Duration;

use kmedic_common::codec::Kind;
use tokio::time::Instant;

/// The sample schedule.
#[derive(Debug, Clone)]
pub struct Cadence {
    heartbeat_every: Duration,
    full_every: Duration,
    next_full: Instant,
    next_heartbeat: Instant,
}

impl Cadence {
    /// A schedule starting with a full sample at `start`.
    pub fn new(start: Instant, heartbeat_every: Duration, full_every: Duration) -> Self {
        Cadence {
            heartbeat_every,
            full_every,
            next_full: start,
            next_heartbeat: start + heartbeat_every,
        }
    }

    /// When the next sample is due.
    pub fn next_due(&self) -> Instant {
        self.next_full.min(self.next_heartbeat)
    }

    /// The kind of sample to take at `now` (called once [`Cadence::next_due`] has passed), and
    /// the schedule moved on past it.
    pub fn take(&mut self, now: Instant) -> Kind {
        if self.next_full <= now {
            self.next_full = (self.next_full + self.full_every).max(now + self.full_every / 2);
            self.next_heartbeat = now + self.heartbeat_every;
            Kind::Full
        } else {
            self.next_heartbeat =
                (self.next_heartbeat + self.heartbeat_every).max(now + self.heartbeat_every / 2);
            Kind::Heartbeat
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(c: &mut Cadence, start: Instant, until_secs: u64) -> Vec<(u64, Kind)> {
        let mut out = Vec::new();
        while c.next_due() <= start + Duration::from_secs(until_secs) {
            let now = c.next_due();
            out.push(((now - start).as_secs(), c.take(now)));
        }
        out
    }

    #[test]
    fn full_first_then_heartbeats_and_a_full_every_minute() {
        let start = Instant::now();
        let mut c = Cadence::new(start, Duration::from_secs(10), Duration::from_secs(60));
        let got = run(&mut c, start, 130);
        let fulls: Vec<u64> = got
            .iter()
            .filter(|(_, k)| *k == Kind::Full)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(fulls, vec![0, 60, 120]);
        let times: Vec<u64> = got.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, (0..=13).map(|i| i * 10).collect::<Vec<_>>());
    }

    #[test]
    fn a_stall_does_not_cause_a_burst() {
        let start = Instant::now();
        let mut c = Cadence::new(start, Duration::from_secs(10), Duration::from_secs(60));
        assert_eq!(c.take(start), Kind::Full);
        // The host was suspended for 5 minutes: one full sample, then back on a normal cadence.
        let late = start + Duration::from_secs(300);
        assert_eq!(c.take(late), Kind::Full);
        assert_eq!(c.next_due(), late + Duration::from_secs(10));
        assert_eq!(c.take(c.next_due()), Kind::Heartbeat);
        assert!(c.next_due() >= late + Duration::from_secs(20));
    }
}
