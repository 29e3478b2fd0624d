//! Scenarios (after pd-simulator's cases): an initial cluster, events by tick, and a loop that
//! asks the planner what a master would ask, applies the plan, and checks convergence.

use super::check::{health, Health};
use super::cluster::Cluster;
use crate::plan::{plan, BrokerState, Limits, Request};

/// Something that happens to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A broker dies (see [`Cluster::kill`]).
    Kill(i32),
    /// An empty broker joins.
    AddBroker {
        /// Broker id.
        id: i32,
        /// Its rack.
        rack: String,
    },
    /// An operator starts draining a broker.
    Decommission(i32),
}

/// What happened at one tick.
#[derive(Debug, Clone)]
pub struct Tick {
    /// Tick number.
    pub tick: u32,
    /// What the planner was asked.
    pub request: Request,
    /// Moves planned and applied.
    pub moves: usize,
    /// Elections planned and applied.
    pub elections: usize,
    /// Bytes copied.
    pub bytes_moved: u64,
    /// Replicas reported unplaceable.
    pub unplaceable: usize,
    /// Cluster health after the plan was applied.
    pub health: Health,
}

/// An initial cluster, events at ticks, and the planner's limits.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The cluster, mutated as the scenario runs.
    pub cluster: Cluster,
    /// `(tick, event)`, applied at the start of that tick.
    pub events: Vec<(u32, Event)>,
    /// Limits for every plan.
    pub limits: Limits,
}

impl Scenario {
    /// Runs `ticks` ticks. Each tick applies its events, then asks for heal while a dead broker
    /// hosts replicas, else decommission while a draining broker does, else balance; the plan
    /// is applied as if executed.
    pub fn run(&mut self, ticks: u32) -> Vec<Tick> {
        let mut out = Vec::with_capacity(ticks as usize);
        for tick in 0..ticks {
            for (_, e) in self.events.iter().filter(|(t, _)| *t == tick) {
                match e {
                    Event::Kill(id) => {
                        self.cluster.kill(*id);
                    }
                    Event::AddBroker { id, rack } => {
                        self.cluster.add_broker(*id, rack);
                    }
                    Event::Decommission(id) => {
                        self.cluster.set_state(*id, BrokerState::Decommissioning);
                    }
                }
            }
            let request = self.next_request();
            let p = plan(&self.cluster.snapshot, &self.limits, &request);
            self.cluster.apply(&p);
            out.push(Tick {
                tick,
                request,
                moves: p.moves.len(),
                elections: p.elections.len(),
                bytes_moved: p.totals.bytes_moved,
                unplaceable: p.unplaceable.len(),
                health: health(&self.cluster.snapshot),
            });
        }
        out
    }

    fn next_request(&self) -> Request {
        let snap = &self.cluster.snapshot;
        let hosting = |state: BrokerState| -> Vec<i32> {
            snap.brokers
                .iter()
                .filter(|b| b.state == state)
                .filter(|b| snap.partitions.iter().any(|p| p.replicas.contains(&b.id)))
                .map(|b| b.id)
                .collect()
        };
        let dead = hosting(BrokerState::Dead);
        if !dead.is_empty() {
            return Request::Heal { dead };
        }
        let draining = hosting(BrokerState::Decommissioning);
        if !draining.is_empty() {
            return Request::Decommission { brokers: draining };
        }
        Request::Balance
    }
}

/// Whether the last tick left the cluster safe and balanced within `target_ratio` (net in
/// against the achievable mean, see [`Health::net_in_max_over_achievable`]).
pub fn converged(ticks: &[Tick], target_ratio: f64) -> bool {
    ticks.last().is_some_and(|t| {
        let h = &t.health;
        h.rack_violations == 0
            && h.replicas_on_unhealthy == 0
            && h.duplicate_replicas == 0
            && h.net_in_max_over_achievable <= target_ratio + 1e-9
            && h.net_out_max_over_mean <= target_ratio + 1e-9
    })
}
