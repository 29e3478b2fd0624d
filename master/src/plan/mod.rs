//! The pure planner: a [`Snapshot`], [`Limits`] and a [`Request`] go in, a [`Plan`] comes out.
//! No I/O, no clocks, no randomness, no hash-order iteration: the same input gives the same plan.
//!
//! # Load model
//!
//! For partition `p` with replication factor `RF`, bytes appended per second `in(p)`, consumer
//! reads per second `out(p)` and size `size(p)`:
//! - every replica's broker gets `in(p)` of net in (the leader from producers, each follower by
//!   fetching the same bytes from the leader) and `size(p)` of disk;
//! - the leader's broker gets `out(p) + in(p) x (RF - 1)` of net out (consumers, plus one
//!   replication stream per follower).
//!
//! So a leadership change moves net out only, and a replica move moves net in and disk (and net
//! out too when the leader's replica moves). In-flight moves count on their targets as if done.
//! Utilization is load / capacity; balance compares each broker's utilization with the mean over
//! brokers that accept load.
//!
//! # Requests
//!
//! - [`Request::Heal`] and [`Request::Decommission`] (`drain.rs`): every replica off the
//!   brokers, replaced in place, same rack first, least projected load first.
//! - [`Request::Balance`] (`balance.rs`): elections first, then the cheapest data moves.
//! - [`Request::SpreadLeaders`] (`leaders.rs`): per-topic leaders even across racks, elections
//!   only.
//! - [`Request::PreferredLeaders`] (`preferred.rs`): elect each partition's preferred leader
//!   where it is alive and in sync but not leading; elections only.
//!
//! Target choice for any move is in `place.rs`; the incremental bookkeeping in `state.rs`.
//!
//! # Safety rules (DESIGN.md), never traded for balance
//!
//! Replicas are replaced in place, so RF is kept; racks stay distinct whenever at least RF racks
//! have live brokers; a partition that is reassigning or has a move in flight is never touched;
//! nothing is placed on a broker that is dead, suspect, draining or unknown; leadership only goes
//! to in-sync replicas; moves only replace replicas (Kafka adds the new one and drops the old one
//! once it is in sync), so no action shrinks the ISR. A replica that cannot be placed within the
//! limits is reported in [`Plan::unplaceable`] with the reason.

mod balance;
mod drain;
mod ids;
mod leaders;
mod limits;
mod output;
mod place;
mod preferred;
mod reason;
mod record;
mod request;
mod snapshot;
mod state;

pub use limits::Limits;
pub use output::{BrokerMoves, Election, LoadSummary, Move, Plan, PlanTotals, Unplaceable};
pub use reason::{ElectionReason, MoveReason, Rejections, Resource, UnplaceableReason, Warning};
pub use request::Request;
pub use snapshot::{
    BrokerInfo, BrokerState, Capacity, InFlightMove, PartitionInfo, Snapshot, TopicId, TopicTable,
};

use state::State;

/// Plans `request` on `snapshot` within `limits`. Pure and deterministic.
pub fn plan(snapshot: &Snapshot, limits: &Limits, request: &Request) -> Plan {
    let excluded: &[i32] = match request {
        Request::Heal { dead } => dead,
        Request::Decommission { brokers } => brokers,
        _ => &[],
    };
    let mut st = State::new(snapshot, limits, excluded);
    let before = st.summary();
    let mut sources = Vec::new();
    for &id in excluded {
        match st.idx(id) {
            Some(b) => sources.push(b),
            None => st.plan.warnings.push(Warning::UnknownBroker { id }),
        }
    }
    sources.sort_unstable();
    sources.dedup();
    match request {
        Request::Heal { .. } => drain::drain(&mut st, &sources, drain::Drain::Heal),
        Request::Decommission { .. } => drain::drain(&mut st, &sources, drain::Drain::Decommission),
        Request::Balance => balance::balance(&mut st),
        Request::SpreadLeaders => leaders::spread(&mut st),
        Request::PreferredLeaders => preferred::elect_preferred(&mut st),
    }
    let plan = st.finish(before);
    if let Some(first) = plan.unplaceable.first() {
        tracing::warn!(
            %request,
            count = plan.unplaceable.len(),
            first = %first,
            "replicas could not be placed"
        );
    }
    for w in &plan.warnings {
        tracing::warn!(%request, warning = %w, "plan warning");
    }
    tracing::info!(
        %request,
        moves = plan.moves.len(),
        elections = plan.elections.len(),
        unplaceable = plan.unplaceable.len(),
        bytes = plan.totals.bytes_moved,
        "plan made"
    );
    plan
}
