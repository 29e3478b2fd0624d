//! Synthetic clusters for the planner's tests and benchmarks (after pd's `mockcluster` and
//! `pd-simulator`): they run the planner on clusters far larger than any test machine could host.
//!
//! - [`cluster`]: [`Cluster`] builders (`add_broker`, `kill`, `add_partition`) and plan application.
//! - [`generate`]: seeded random clusters with rack-aware placement and Zipf-skewed traffic.
//! - [`bound`]: a lower bound on the bytes a balance must copy.
//! - [`check`]: [`health`] figures (balance, rack violations) and assert helpers.
//! - [`scenario`]: events by tick and a convergence check.

pub mod bound;
pub mod cc_tsv;
pub mod check;
pub mod cluster;
pub mod file;
pub mod generate;
pub mod scenario;

pub use bound::bytes_lower_bound;
pub use check::{assert_elects, assert_moves, assert_untouched, cluster_racks, health, Health};
pub use cluster::{Cluster, DEFAULT_CAPACITY};
pub use generate::{generate, rack_name, Spec};
pub use scenario::{converged, Event, Scenario, Tick};
