//! The action history the HTTP server shows (`GET /api/clusters/{c}/actions`): a bounded
//! in-memory copy of the action log, newest last. It is seeded from the records read back at
//! start and appended to by the writer as each transaction commits, so a request never re-reads
//! the topic. Only committed records enter it, as `read_committed` would show them.
//!
//! Bounded to [`CAPACITY`] records (the oldest are dropped); the topic keeps the full history
//! (`kmedic-master actions` reads it).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::record::{ActionRecord, Phase};

/// Records kept in memory (about 1 KiB each at most: a few MiB).
pub const CAPACITY: usize = 5_000;

/// The shared history (cheap to clone: every clone sees the same records).
#[derive(Debug, Clone)]
pub struct ActionHistory {
    inner: Arc<Mutex<Inner>>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    records: VecDeque<ActionRecord>,
    /// Records dropped for the bound since start.
    dropped: u64,
}

impl Default for ActionHistory {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

/// What to select. `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The Kafka cluster id (the history holds every cluster's records).
    pub cluster_id: String,
    /// The kind's stable name (`reassign`, `set_mode`, ...: [`super::ActionKind::name`]).
    pub kind: Option<String>,
    /// `succeeded`, `failed`, `partial`, `cancelled` (outcome records), or `pending` (intents
    /// with no outcome yet), or `state` (mode and decommission records).
    pub outcome: Option<String>,
    /// Records that touch this broker (in `brokers`, or a replacement's or catch-up's broker).
    pub broker: Option<i32>,
    /// Records written at or after this wall time (ms since the epoch).
    pub since_wall_ms: Option<u64>,
}

/// The outcome filter's accepted values.
pub const OUTCOMES: &[&str] = &[
    "succeeded",
    "failed",
    "partial",
    "cancelled",
    "pending",
    "state",
];

/// One page, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Records matching the filter (all pages).
    pub total: usize,
    /// The page.
    pub records: Vec<ActionRecord>,
    /// Whether the bound dropped older records (the topic has them).
    pub truncated: bool,
    /// The action ids on the page whose intent has no outcome yet (running, or the master
    /// stopped while it ran).
    pub pending: std::collections::BTreeSet<String>,
}

impl ActionHistory {
    /// An empty history bounded to `capacity` records.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner::default())),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends committed records, in log order.
    pub fn push<'a>(&self, recs: impl IntoIterator<Item = &'a ActionRecord>) {
        let mut g = self.lock();
        for r in recs {
            g.records.push_back(r.clone());
        }
        let excess = g.records.len().saturating_sub(self.capacity);
        if excess > 0 {
            g.records.drain(..excess);
            g.dropped += excess as u64;
        }
    }

    /// Records held now.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records matching `f`, newest first, `offset` skipped, at most `limit`.
    pub fn query(&self, f: &Filter, offset: usize, limit: usize) -> Page {
        let g = self.lock();
        // An intent is pending while no outcome with its action id follows it.
        let answered: std::collections::HashSet<&str> = g
            .records
            .iter()
            .filter(|r| r.phase == Phase::Outcome)
            .map(|r| r.action_id.as_str())
            .collect();
        let matching = g
            .records
            .iter()
            .rev()
            .filter(|r| r.cluster_id == f.cluster_id)
            .filter(|r| f.kind.as_deref().is_none_or(|k| r.kind.name() == k))
            .filter(|r| f.since_wall_ms.is_none_or(|s| r.wall_ms >= s))
            .filter(|r| f.broker.is_none_or(|b| touches(r, b)))
            .filter(|r| {
                f.outcome
                    .as_deref()
                    .is_none_or(|o| outcome_name(r, &answered) == Some(o))
            });
        let total = matching.clone().count();
        let records: Vec<ActionRecord> = matching.skip(offset).take(limit).cloned().collect();
        let pending = records
            .iter()
            .filter(|r| r.phase == Phase::Intent && !answered.contains(r.action_id.as_str()))
            .map(|r| r.action_id.clone())
            .collect();
        Page {
            total,
            records,
            truncated: g.dropped > 0,
            pending,
        }
    }
}

/// The outcome filter value a record answers to (`None`: an intent that has an outcome; the
/// outcome record stands for it).
fn outcome_name(
    r: &ActionRecord,
    answered: &std::collections::HashSet<&str>,
) -> Option<&'static str> {
    use super::record::OutcomeStatus as S;
    match r.phase {
        Phase::State => Some("state"),
        Phase::Intent if answered.contains(r.action_id.as_str()) => None,
        Phase::Intent => Some("pending"),
        Phase::Outcome => r.outcome.as_ref().map(|o| match o.status {
            S::Succeeded => "succeeded",
            S::Failed => "failed",
            S::Partial => "partial",
            S::Cancelled => "cancelled",
        }),
    }
}

/// Whether `r` is about broker `b`.
fn touches(r: &ActionRecord, b: i32) -> bool {
    use super::record::ActionKind as K;
    r.brokers.contains(&b)
        || match &r.kind {
            K::ReplaceHost { broker, .. } | K::CaughtUp { broker } => *broker == b,
            K::Decommission { brokers } | K::Recommission { brokers } => brokers.contains(&b),
            K::Reassign { targets, .. } => targets.iter().any(|t| t.contains(&b)),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actionlog::{ActionKind, Mode, Outcome, OutcomeStatus};

    fn rec(cluster: &str, id: &str, kind: ActionKind, wall_ms: u64) -> ActionRecord {
        let mut r = ActionRecord::intent(cluster, id, None, kind, "why", "m1");
        r.wall_ms = wall_ms;
        r
    }

    fn done(r: &ActionRecord, s: OutcomeStatus, wall_ms: u64) -> ActionRecord {
        let mut o = r.outcome_of(Outcome {
            status: s,
            detail: String::new(),
            command: None,
        });
        o.wall_ms = wall_ms;
        o
    }

    fn filter(c: &str) -> Filter {
        Filter {
            cluster_id: c.into(),
            ..Filter::default()
        }
    }

    #[test]
    fn newest_first_per_cluster_paged() {
        let h = ActionHistory::default();
        let recs: Vec<_> = (0..5)
            .map(|i| rec("c1", &format!("a{i}"), ActionKind::ClearThrottle, i))
            .chain([rec("c2", "x", ActionKind::ClearThrottle, 9)])
            .collect();
        h.push(&recs);
        let p = h.query(&filter("c1"), 1, 2);
        assert_eq!(p.total, 5);
        let ids: Vec<_> = p.records.iter().map(|r| r.action_id.as_str()).collect();
        assert_eq!(ids, ["a3", "a2"]);
        assert!(!p.truncated);
    }

    #[test]
    fn filters_kind_outcome_broker_since() {
        let h = ActionHistory::default();
        let mut mv = rec(
            "c1",
            "m",
            ActionKind::Reassign {
                targets: vec![vec![1, 2, 3]],
                bytes: 10,
            },
            100,
        );
        mv.brokers = vec![4];
        let rep = rec(
            "c1",
            "r",
            ActionKind::ReplaceHost {
                broker: 5,
                hostname: "h5".into(),
            },
            200,
        );
        let mode = ActionRecord::state(
            "c1",
            "s",
            ActionKind::SetMode {
                mode: Mode::DryRun,
                on: true,
            },
            "op",
            "m1",
        );
        h.push(&[
            mv.clone(),
            done(&mv, OutcomeStatus::Failed, 150),
            rep.clone(),
            mode,
        ]);
        let q = |f: Filter| {
            h.query(&f, 0, 100)
                .records
                .into_iter()
                .map(|r| (r.action_id, r.phase))
                .collect::<Vec<_>>()
        };
        let kind = Filter {
            kind: Some("reassign".into()),
            ..filter("c1")
        };
        assert_eq!(q(kind).len(), 2);
        let failed = Filter {
            outcome: Some("failed".into()),
            ..filter("c1")
        };
        assert_eq!(q(failed), [("m".to_string(), Phase::Outcome)]);
        // The replacement has no outcome yet: pending; the answered move intent is not.
        let pending = Filter {
            outcome: Some("pending".into()),
            ..filter("c1")
        };
        assert_eq!(q(pending), [("r".to_string(), Phase::Intent)]);
        let all = h.query(&filter("c1"), 0, 100);
        assert_eq!(all.pending.iter().collect::<Vec<_>>(), ["r"]);
        let state = Filter {
            outcome: Some("state".into()),
            ..filter("c1")
        };
        assert_eq!(q(state), [("s".to_string(), Phase::State)]);
        // Broker 5 through the replacement's kind, 4 through `brokers`, 2 as a move target.
        for (b, n) in [(5, 1), (4, 2), (2, 2), (7, 0)] {
            let f = Filter {
                broker: Some(b),
                ..filter("c1")
            };
            assert_eq!(q(f).len(), n, "broker {b}");
        }
        let since = Filter {
            since_wall_ms: Some(150),
            kind: Some("reassign".into()),
            ..filter("c1")
        };
        assert_eq!(q(since), [("m".to_string(), Phase::Outcome)]);
    }

    #[test]
    fn bounded_drops_the_oldest_and_says_so() {
        let h = ActionHistory::with_capacity(3);
        let recs: Vec<_> = (0..5)
            .map(|i| rec("c1", &format!("a{i}"), ActionKind::ClearThrottle, i))
            .collect();
        h.push(&recs);
        assert_eq!(h.len(), 3);
        let p = h.query(&filter("c1"), 0, 10);
        assert!(p.truncated);
        assert_eq!(p.records.last().map(|r| r.action_id.as_str()), Some("a2"));
    }
}
