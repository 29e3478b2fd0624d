//! `kmedic-master import-reassignment`: a `kafka-reassign-partitions` JSON file checked against
//! the safety rules on the live view, partition by partition: replication factor kept, replicas
//! on distinct brokers and, when the cluster has at least RF racks, in distinct racks; no
//! partition already reassigning; every target broker registered and not fenced. It prints what
//! is refused and why, and executes nothing (dry run). The export direction is
//! `Plan::reassignment_json`, the one writer of this format.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use serde::Deserialize;

use crate::observe::{ClusterView, TopicPartition};

/// Errors reading the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not the tool's JSON.
    #[error(
        "not a kafka-reassign-partitions JSON file ({0}); expected \
         {{\"version\":1,\"partitions\":[{{\"topic\":\"t\",\"partition\":0,\"replicas\":[1,2,3]}}]}}"
    )]
    Parse(String),
    /// A version this tool does not know.
    #[error("reassignment JSON version {0} is not supported (only version 1)")]
    Version(u64),
}

#[derive(Debug, Deserialize)]
struct File {
    version: u64,
    partitions: Vec<Proposed>,
}

/// One partition's proposed replica list, as in the file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Proposed {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Target replicas, preferred leader first.
    pub replicas: Vec<i32>,
    /// Log dirs per replica (`"any"` or absent are the only ones accepted).
    #[serde(default)]
    pub log_dirs: Option<Vec<String>>,
}

/// Parses the tool's JSON.
pub fn parse(json: &str) -> Result<Vec<Proposed>, Error> {
    let f: File = serde_json::from_str(json).map_err(|e| Error::Parse(e.to_string()))?;
    if f.version != 1 {
        return Err(Error::Version(f.version));
    }
    Ok(f.partitions)
}

/// The verdict on a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// Partitions that pass every rule.
    pub accepted: Vec<Proposed>,
    /// Partitions refused, each with every reason.
    pub refused: Vec<(Proposed, Vec<String>)>,
}

/// Checks each proposed partition against the safety rules on `view`.
pub fn check(view: &ClusterView, proposed: &[Proposed]) -> Checked {
    let racks: BTreeSet<&str> = view
        .brokers
        .values()
        .filter_map(|b| b.rack.as_deref())
        .collect();
    let mut seen = HashSet::new();
    let mut out = Checked::default();
    for p in proposed {
        let tp = TopicPartition {
            topic: p.topic.clone(),
            partition: p.partition,
        };
        let mut why = Vec::new();
        if !seen.insert(tp.clone()) {
            why.push("listed more than once in the file".to_string());
        }
        match view
            .partitions
            .iter()
            .find(|v| v.topic == p.topic && v.partition == p.partition)
        {
            None => why.push("no such partition in the cluster".into()),
            Some(cur) if cur.replicas.len() != p.replicas.len() => why.push(format!(
                "changes the replication factor from {} to {} (RF must be kept)",
                cur.replicas.len(),
                p.replicas.len()
            )),
            Some(_) => {}
        }
        if p.replicas.is_empty() {
            why.push("no replicas".into());
        }
        let distinct: BTreeSet<i32> = p.replicas.iter().copied().collect();
        if distinct.len() != p.replicas.len() {
            why.push(format!("a broker appears twice in {:?}", p.replicas));
        }
        if view.reassignments.contains_key(&tp) {
            why.push("already being reassigned (wait for it, or cancel it first)".into());
        }
        for b in &p.replicas {
            match view.brokers.get(b) {
                None => why.push(format!("broker {b} is not registered in the cluster")),
                Some(v) if v.fenced => why.push(format!("broker {b} is fenced (not alive)")),
                Some(_) => {}
            }
        }
        if racks.len() >= p.replicas.len() && !p.replicas.is_empty() {
            let on: Vec<Option<&str>> = p.replicas.iter().map(|b| view.rack_of(*b)).collect();
            let known: BTreeSet<&str> = on.iter().flatten().copied().collect();
            if known.len() != p.replicas.len() {
                why.push(format!(
                    "replicas {:?} are not in {} distinct racks (racks {}; the cluster has {} \
                     racks, so each replica must be in its own)",
                    p.replicas,
                    p.replicas.len(),
                    on.iter()
                        .map(|r| r.unwrap_or("no rack"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    racks.len()
                ));
            }
        }
        if let Some(dirs) = &p.log_dirs {
            if dirs.iter().any(|d| d != "any") {
                why.push("log_dirs other than \"any\" are not supported".into());
            } else if dirs.len() != p.replicas.len() {
                why.push(format!(
                    "{} log_dirs for {} replicas",
                    dirs.len(),
                    p.replicas.len()
                ));
            }
        }
        if why.is_empty() {
            out.accepted.push(p.clone());
        } else {
            out.refused.push((p.clone(), why));
        }
    }
    out
}

/// Observes `target` once (the live view the file is checked against).
pub async fn observe(target: &super::PlanTarget) -> Result<ClusterView, super::Error> {
    let admin = kmedic_common::admin::AdminClient::new(target.connection.clone())
        .map_err(|e| super::Error::Admin(Box::new(e)))?;
    crate::observe::observe_once(&target.name, target.cluster_id.as_deref(), &admin)
        .await
        .map_err(|e| super::Error::Observe(Box::new(e)))
}

/// The verdict as text: every refusal with its reasons, then the count accepted.
pub fn render(c: &Checked) -> String {
    let mut s = String::new();
    for (p, why) in &c.refused {
        let _ = writeln!(
            s,
            "REFUSED {}-{} -> {:?}: {}",
            p.topic,
            p.partition,
            p.replicas,
            why.join("; ")
        );
    }
    for p in &c.accepted {
        let _ = writeln!(s, "ok      {}-{} -> {:?}", p.topic, p.partition, p.replicas);
    }
    let _ = writeln!(
        s,
        "{} accepted, {} refused; dry run: nothing was executed",
        c.accepted.len(),
        c.refused.len()
    );
    s
}

#[cfg(test)]
#[path = "reassign_io_tests.rs"]
mod tests;
