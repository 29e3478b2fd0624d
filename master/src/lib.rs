//! kmedic-master: everything that decides and acts.
//!
//! - [`plan`]: the pure planner (snapshot + limits + request -> plan), no I/O.
//! - [`sim`]: synthetic clusters for the planner's tests and benchmarks.
//! - [`config`]: the master's TOML configuration.
//! - [`ingest`]: the stats-topic consumer feeding [`model`].
//! - [`model`]: per-cluster state: brokers, replicas, demand windows, checkpoint.
//! - [`observe`]: the admin-client poll loop per cluster.
//! - [`detect`]: one detector per anomaly kind.
//! - [`policy`]: findings -> planner requests, with grace periods and the confidence gate.
//! - [`execute`]: the executor, the only code that changes a cluster (throttle, moves, progress).
//! - [`service`]: the running master: warm start, ingest, poll loop, checkpoints.
//! - [`headroom`]: what-ifs: could the cluster absorb losing any one broker or rack?
//! - [`serve`]: the HTTP server: REST API, web UI, `/metrics`.
//! - [`clock`]: the monotonic clock every decision is timed on, and the wall clock.
//! - [`actionlog`]: the action-log topic (records, transactional writer = the fence, replay).
//! - [`alert`]: alert kinds, de-duplication and sinks (webhooks, command).
//! - [`replace`]: host replacement (rate limits, the user's command, catch-up watch).
//! - [`cli`]: the one-shot `plan` command (observe, snapshot, plan, print; never executes).

pub mod actionlog;
pub mod alert;
pub mod cli;
pub mod clock;
pub mod config;
pub mod detect;
pub mod execute;
pub mod headroom;
pub mod ingest;
pub mod model;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod replace;
pub mod serve;
pub mod service;
pub mod sim;
pub mod text;
pub mod xaz;
