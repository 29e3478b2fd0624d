//! Failure headroom: could the cluster absorb the loss of any one broker, and of any one rack
//! (AZ), within its brokers' limits? For each what-if the heal planner is run on the snapshot
//! with the lost brokers marked dead; whatever it cannot place is what that failure would leave
//! under-replicated, with the planner's reason.
//!
//! The planner's pacing limits (bytes per plan, moves per broker) are lifted for the what-ifs:
//! they spread a heal over rounds, they do not make it impossible. Capacity limits (net in and
//! out, disk utilization) stay: they are what "absorb" means.
//!
//! Losing a rack when RF equals the rack count leaves each affected partition one replica short
//! until the rack returns: the rack rule never co-locates replicas, so those show as
//! `rack_unavailable`. That is the design working, and the report says so rather than hiding it.
//!
//! Pure and deterministic, like the planner: the API, `/metrics`, the CLI and the benchmark call
//! [`report`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plan::{self, BrokerState, Limits, Request, Snapshot, UnplaceableReason};

/// Examples of unplaceable replicas kept per what-if.
const EXAMPLES: usize = 3;

/// What is lost in a what-if.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lost {
    /// One broker.
    Broker(i32),
    /// Every broker of one rack.
    Rack(String),
}

/// The outcome of one what-if.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WhatIf {
    /// What is lost.
    pub lost: Lost,
    /// The brokers lost.
    pub brokers: Vec<i32>,
    /// Replicas the heal would have to place.
    pub replicas: usize,
    /// Replicas it places.
    pub placed: usize,
    /// Replicas it cannot place.
    pub unplaceable: usize,
    /// Unplaceable replicas by reason kind (`no_target`, `rack_unavailable`, `offline`, ...).
    pub reasons: BTreeMap<&'static str, usize>,
    /// A few unplaceable replicas, with the planner's full reason.
    pub examples: Vec<String>,
    /// Bytes the heal would copy.
    pub bytes_to_move: u64,
    /// Highest net-in utilization of a surviving broker after the heal (1.0 = at its limit).
    pub net_in_max_utilization_after: f64,
    /// Highest net-out utilization after the heal.
    pub net_out_max_utilization_after: f64,
    /// Every replica placed, or left only for a reason of the moment (the partition is
    /// reassigning now, or a move of it is in flight): those heal once it finishes, so they are
    /// not a lack of capacity.
    pub absorbable: bool,
    /// Not absorbable only because the rack rule never co-locates replicas: every replica left
    /// for a lasting reason is `rack_unavailable` (a lost rack when RF equals the rack count).
    /// The design working, not a lack of capacity: shown as expected, not critical.
    pub expected: bool,
    /// `absorbed`, `expected` (see [`WhatIf::expected`]) or `critical` (replicas left for lack
    /// of capacity: the loss cannot be healed within the brokers' limits).
    pub verdict: &'static str,
}

/// Headroom of one cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// One what-if per alive broker, by id.
    pub brokers: Vec<WhatIf>,
    /// One what-if per rack with an alive broker, by name.
    pub racks: Vec<WhatIf>,
    /// Whether the loss of any one broker can be absorbed.
    pub absorbs_any_broker: bool,
    /// Whether the loss of any one rack can be absorbed.
    pub absorbs_any_rack: bool,
    /// Brokers whose loss cannot be absorbed.
    pub unabsorbable_brokers: Vec<i32>,
    /// Every rack loss is absorbed or [`WhatIf::expected`] (RF = rack count: never co-locate).
    pub rack_loss_expected: bool,
    /// Time the what-ifs took, in milliseconds.
    pub took_ms: u64,
}

/// A short, stable name for a reason kind (grouping and metrics labels).
pub fn reason_kind(r: &UnplaceableReason) -> &'static str {
    match r {
        UnplaceableReason::Reassigning => "reassigning",
        UnplaceableReason::InFlight => "in_flight",
        UnplaceableReason::Offline => "offline",
        UnplaceableReason::NoTarget(_) => "no_target",
        UnplaceableReason::RackUnavailable { .. } => "rack_unavailable",
        UnplaceableReason::ByteBudget { .. } => "byte_budget",
        UnplaceableReason::AlreadyPlanned => "already_planned",
        UnplaceableReason::SourceMoveLimit { .. } => "source_move_limit",
    }
}

/// Whether `r` is about this moment (the partition is busy) rather than about capacity.
pub fn transient(r: &UnplaceableReason) -> bool {
    r.is_transient()
}

/// Runs every what-if on `snap` within `limits` (capacity limits only; see the module docs).
pub fn report(snap: &Snapshot, limits: &Limits) -> Report {
    let t = std::time::Instant::now();
    let limits = Limits {
        max_bytes_to_move: u64::MAX,
        max_moves_per_broker: u32::MAX,
        ..limits.clone()
    };
    let alive: Vec<(i32, String)> = snap
        .brokers
        .iter()
        .filter(|b| b.state == BrokerState::Alive)
        .map(|b| (b.id, b.rack.clone()))
        .collect();
    let mut racks: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (id, rack) in &alive {
        racks.entry(rack.clone()).or_default().push(*id);
    }
    // The what-ifs are independent: split them over the cores, one working copy per thread
    // (each what-if marks its brokers dead, plans, and puts them back).
    let mut jobs: Vec<(Lost, Vec<i32>)> = alive
        .iter()
        .map(|(id, _)| (Lost::Broker(*id), vec![*id]))
        .collect();
    jobs.extend(racks.into_iter().map(|(r, ids)| (Lost::Rack(r), ids)));
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 8)
        .min(jobs.len().max(1));
    let chunk = jobs.len().div_ceil(threads).max(1);
    let done: Vec<WhatIf> = std::thread::scope(|sc| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                let limits = &limits;
                sc.spawn(move || {
                    let mut work = snap.clone();
                    part.iter()
                        .map(|(lost, ids)| what_if(&mut work, limits, lost.clone(), ids))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let (brokers, racks): (Vec<WhatIf>, Vec<WhatIf>) = done
        .into_iter()
        .partition(|w| matches!(w.lost, Lost::Broker(_)));
    let unabsorbable_brokers: Vec<i32> = brokers
        .iter()
        .filter(|w| !w.absorbable)
        .flat_map(|w| w.brokers.iter().copied())
        .collect();
    Report {
        absorbs_any_broker: unabsorbable_brokers.is_empty(),
        absorbs_any_rack: racks.iter().all(|w| w.absorbable),
        rack_loss_expected: racks.iter().all(|w| w.absorbable || w.expected),
        unabsorbable_brokers,
        brokers,
        racks,
        took_ms: u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

impl Report {
    /// The same report with `took_ms` replaced (to compare two runs).
    pub fn with_took_ms(mut self, ms: u64) -> Self {
        self.took_ms = ms;
        self
    }
}

fn what_if(work: &mut Snapshot, limits: &Limits, lost: Lost, ids: &[i32]) -> WhatIf {
    let saved: Vec<(usize, BrokerState)> = work
        .brokers
        .iter()
        .enumerate()
        .filter(|(_, b)| ids.contains(&b.id))
        .map(|(i, b)| (i, b.state))
        .collect();
    for &(i, _) in &saved {
        work.brokers[i].state = BrokerState::Dead;
    }
    // As Kafka would see the loss: out of every ISR, leadership failed over to the first other
    // in-sync replica (offline if none). Only touched partitions are saved and put back.
    let mut touched: Vec<(usize, Option<i32>, Vec<i32>)> = Vec::new();
    for (i, p) in work.partitions.iter_mut().enumerate() {
        if !p.replicas.iter().any(|r| ids.contains(r)) {
            continue;
        }
        touched.push((i, p.leader, p.isr.clone()));
        p.isr.retain(|r| !ids.contains(r));
        if p.leader.is_some_and(|l| ids.contains(&l)) {
            p.leader = p.replicas.iter().copied().find(|r| p.isr.contains(r));
        }
    }
    let p = plan::plan(work, limits, &Request::Heal { dead: ids.to_vec() });
    for &(i, s) in &saved {
        work.brokers[i].state = s;
    }
    for (i, leader, isr) in touched {
        work.partitions[i].leader = leader;
        work.partitions[i].isr = isr;
    }
    let replicas = work
        .partitions
        .iter()
        .map(|p| p.replicas.iter().filter(|r| ids.contains(r)).count())
        .sum();
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    for u in &p.unplaceable {
        *reasons.entry(reason_kind(&u.reason)).or_default() += 1;
    }
    let absorbable = p.unplaceable.iter().all(|u| transient(&u.reason));
    let expected = !absorbable
        && p.unplaceable.iter().all(|u| {
            transient(&u.reason) || matches!(u.reason, UnplaceableReason::RackUnavailable { .. })
        });
    WhatIf {
        lost,
        brokers: ids.to_vec(),
        replicas,
        placed: p.moves.len(),
        unplaceable: p.unplaceable.len(),
        reasons,
        // Capacity problems first: they are what the operator must act on.
        examples: p
            .unplaceable
            .iter()
            .filter(|u| !transient(&u.reason))
            .chain(p.unplaceable.iter().filter(|u| transient(&u.reason)))
            .take(EXAMPLES)
            .map(ToString::to_string)
            .collect(),
        bytes_to_move: p.totals.bytes_moved,
        net_in_max_utilization_after: p.totals.after.net_in_max_utilization,
        net_out_max_utilization_after: p.totals.after.net_out_max_utilization,
        absorbable,
        expected,
        verdict: if absorbable {
            "absorbed"
        } else if expected {
            "expected"
        } else {
            "critical"
        },
    }
}

#[cfg(test)]
#[path = "headroom_tests.rs"]
pub(crate) mod tests;
