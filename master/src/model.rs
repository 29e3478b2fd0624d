//! Per-cluster state built from the agents' stats: demand windows and agent freshness.

pub mod window;
