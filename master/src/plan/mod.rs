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
//!   replication stream per follower). `out(p)` is the consumer part only: the stats' leader
//!   bytes out already holds replication, and the snapshot builder takes it off, so it is
//!   counted once (see `kmedic_common::stats`, "Per-replica traffic figures").
//!
//! So a leadership change moves net out only, and a replica move moves net in and disk (and net
//! out too when the leader's replica moves). In-flight moves count on their targets as if done.
//! Utilization is load / capacity; balance compares each broker's utilization with the mean over
//! brokers that accept load.
//!
//! # Requests
//!
//! - [`Request::Heal`] and [`Request::Decommission`] (`drain.rs`): every replica off the
//!   brokers, replaced in place, same rack first, least projected load first, under
//!   `max(peak before, target x mean after)` for net in, net out and disk where any broker has
//!   room ([`Warning::AbovePeak`] where none has).
//! - [`Request::Balance`] (`balance.rs`): elections first, then the cheapest data moves, for
//!   net in, net out and then disk; no limit above a resource's peak before the plan. Then the
//!   AZ leader spread within the balance's limits, so a balance plan leaves no AZ skew.
//! - [`Request::BalanceLeaders`] (`balance.rs`): elections alone, no data copied, off brokers
//!   over their own net-out limit until a margin under it (what the policy asks first for an
//!   overloaded broker).
//! - [`Request::Relieve`] (`relieve.rs`): the named brokers alone a margin under their own limits,
//!   elections first, then the fewest bytes of moves off them, onto brokers within their
//!   balance limits (what the policy asks when elections did not clear an overload).
//! - [`Request::SpreadLeaders`] (`az_leaders.rs`): per-topic leaders within ±1 per rack (AZ),
//!   by chains of elections only, each new leader within its net-out limit.
//! - [`Request::PreferredLeaders`] (`preferred.rs`): elect each partition's preferred leader
//!   where it is alive and in sync but not leading; elections only.
//!
//! [`plan_round`] plans several requests of one round into one plan, one after another on the
//! updated state, so no partition gets two elections or a move and an election that disagree.
//!
//! Target choice for any move is in `place.rs`; the incremental bookkeeping in `state.rs`.
//!
//! # Safety rules (DESIGN.md), never traded for balance
//!
//! Replicas are replaced in place, so RF is kept; racks stay distinct whenever the cluster has
//! at least RF racks (a replica whose rack has no healthy broker is unplaceable, never
//! co-located); a partition that is reassigning or has a move in flight is never touched;
//! nothing is placed on a broker that is dead, suspect, draining or unknown; leadership only goes
//! to in-sync replicas; moves only replace replicas (Kafka adds the new one and drops the old one
//! once it is in sync), so no action shrinks the ISR. A replica that cannot be placed within the
//! limits is reported in [`Plan::unplaceable`] with the reason.

mod az_leaders;
mod balance;
mod counts;
mod drain;
mod ids;
mod limits;
mod output;
mod place;
mod preferred;
mod reason;
mod record;
mod relieve;
mod request;
mod snapshot;
mod state;
mod swap;

pub use az_leaders::{best_spread, TopicSpread};
pub use limits::Limits;
pub use output::{BrokerMoves, Election, LoadSummary, Move, Plan, PlanTotals, Unplaceable};
pub use reason::{ElectionReason, MoveReason, Rejections, Resource, UnplaceableReason, Warning};
pub use request::Request;
pub use snapshot::{
    BrokerInfo, BrokerState, Capacity, InFlightMove, PartitionInfo, Snapshot, TopicId, TopicTable,
};

use state::State;

/// Plans `request` on `snapshot` within `limits`. Pure and deterministic. The same as
/// [`plan_round`] with one request.
pub fn plan(snapshot: &Snapshot, limits: &Limits, request: &Request) -> Plan {
    plan_round(snapshot, limits, std::slice::from_ref(request))
}

/// Plans a round's `requests` one after another, each on the snapshot as the earlier ones
/// leave it, into **one** [`Plan`]. Pure and deterministic. Use this, not one [`plan`] per
/// request, whenever a round asks for several things (issue 7 item 11):
///
/// - each partition gets at most one move and one election in the whole plan, so balance and
///   spread-leaders can never elect two different leaders for one partition, and an election
///   never disagrees with a move (a later request leaves a partition an earlier one touched);
/// - later requests see the earlier ones' projected load (a balance after a heal counts the
///   healed replicas on their new brokers);
/// - brokers any request drains (heal's dead, decommission's) receive nothing from any request;
/// - the byte budget and per-broker move limits hold for the round, not per request.
///
/// Order matters: heal and decommission are planned first (a replica on a dead broker must not
/// wait behind an election), then the other requests in the caller's order (policy's order is
/// balance, spread-leaders, preferred-leaders). A replica a drain could not move because an
/// earlier drain of the round already moved its partition is reported as
/// [`UnplaceableReason::AlreadyPlanned`]; the next round picks it up.
pub fn plan_round(snapshot: &Snapshot, limits: &Limits, requests: &[Request]) -> Plan {
    let mut excluded: Vec<i32> = requests.iter().flat_map(drained).copied().collect();
    excluded.sort_unstable();
    excluded.dedup();
    let mut st = State::new(snapshot, limits, &excluded);
    let before = st.summary();
    // Drains first: a replica on a dead broker must not wait behind an election.
    let mut ordered: Vec<&Request> = requests.iter().collect();
    ordered.sort_by_key(|r| drained(r).is_empty());
    for request in ordered {
        let mut sources = Vec::new();
        for &id in drained(request) {
            match st.idx(id) {
                Some(b) => sources.push(b),
                None => st.plan.warnings.push(Warning::UnknownBroker { id }),
            }
        }
        sources.sort_unstable();
        sources.dedup();
        match request {
            Request::Heal { .. } => drain::drain(&mut st, &sources, drain::Drain::Heal),
            Request::Decommission { .. } => {
                drain::drain(&mut st, &sources, drain::Drain::Decommission)
            }
            Request::Balance => {
                balance::balance(&mut st);
                az_leaders::spread(&mut st);
                // Counts last: they use only the room network and disk balance left, and never
                // widen a topic's spread across AZs that the spread just made.
                counts::balance_counts(&mut st);
            }
            Request::BalanceLeaders => balance::leaders_only(&mut st),
            Request::Relieve { brokers } => {
                let mut named = Vec::new();
                for &id in brokers {
                    match st.idx(id) {
                        Some(b) => named.push(b),
                        None => st.plan.warnings.push(Warning::UnknownBroker { id }),
                    }
                }
                named.sort_unstable();
                named.dedup();
                relieve::relieve(&mut st, &named);
            }
            Request::SpreadLeaders => az_leaders::spread(&mut st),
            Request::PreferredLeaders => preferred::elect_preferred(&mut st),
        }
    }
    let plan = st.finish(before);
    // Debug only: the caller (the round) logs a plan once when it changes, with the decisions
    // it answers; logging here too would repeat it every poll.
    tracing::debug!(
        requests = %Requests(requests),
        moves = plan.moves.len(),
        elections = plan.elections.len(),
        unplaceable = plan.unplaceable.len(),
        warnings = plan.warnings.len(),
        bytes = plan.totals.bytes_moved,
        "plan made"
    );
    plan
}

/// The brokers a request drains (they receive nothing).
fn drained(request: &Request) -> &[i32] {
    match request {
        Request::Heal { dead } => dead,
        Request::Decommission { brokers } => brokers,
        _ => &[],
    }
}

/// Requests joined with "; " for one log field.
struct Requests<'a>(&'a [Request]);

impl std::fmt::Display for Requests<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}
