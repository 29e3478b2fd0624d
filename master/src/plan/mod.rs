//! The pure planner: a [`Snapshot`], [`Limits`] and a [`Request`] go in, a [`Plan`] comes out.
//! No I/O, no clocks, no randomness, no hash-order iteration: the same input gives the same plan.
//!
//! Being built: the types are final, [`plan`] returns an empty plan for now.

mod limits;
mod output;
mod reason;
mod request;
mod snapshot;

pub use limits::Limits;
pub use output::{BrokerMoves, Election, LoadSummary, Move, Plan, PlanTotals, Unplaceable};
pub use reason::{ElectionReason, MoveReason, Rejections, Resource, UnplaceableReason, Warning};
pub use request::Request;
pub use snapshot::{
    BrokerInfo, BrokerState, Capacity, InFlightMove, PartitionInfo, Snapshot, TopicId, TopicTable,
};

/// Plans `request` on `snapshot` within `limits`.
pub fn plan(snapshot: &Snapshot, limits: &Limits, request: &Request) -> Plan {
    let _ = (snapshot, limits, request);
    Plan::default()
}
