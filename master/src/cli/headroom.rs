//! `kmedic-master headroom`: observe a cluster once and report whether it could absorb the loss
//! of any one broker, and of any one rack, within its limits ([`crate::headroom`]).
//!
//! Like `plan`, this one-shot command has no agent stats: brokers Kafka reports fenced or
//! absent count as dead, and partition rates come from the master's checkpoint when the config
//! names one (0 otherwise: then only disk and rack rules can bind, and the output says so).

use std::fmt::Write as _;

use super::{Error, PlanTarget, Result};
use crate::headroom::{self, Report, WhatIf};
use crate::model::checkpoint;
use crate::observe::{self, snapshot};

/// Observes the cluster of `target` once and runs every what-if. Returns the report and notes
/// for the reader.
pub async fn headroom_once(target: &PlanTarget) -> Result<(Report, Vec<String>)> {
    let admin = kmedic_common::admin::AdminClient::new(target.connection.clone())
        .map_err(|e| Error::Admin(Box::new(e)))?;
    let view = observe::observe_once(&target.name, target.cluster_id.as_deref(), &admin)
        .await
        .map_err(|e| Error::Observe(Box::new(e)))?;
    let mut notes = Vec::new();
    let model = target
        .checkpoint
        .as_ref()
        .and_then(|(path, w)| match checkpoint::load(path, w) {
            Ok(Some(ck)) => ck
                .models
                .into_iter()
                .find(|m| m.cluster_id == view.cluster_id),
            _ => None,
        });
    if model.is_none() {
        notes.push(
            "no checkpoint with this cluster's rates: network load counts as 0 (disk and \
             racks still apply)"
                .to_string(),
        );
    }
    let mut verdicts = snapshot::Verdicts::default();
    for id in view.hosting_brokers() {
        match view.brokers.get(&id) {
            Some(b) if !b.fenced => {}
            _ => {
                verdicts.dead.insert(id);
            }
        }
    }
    for b in view.brokers.values().filter(|b| b.fenced) {
        verdicts.dead.insert(b.id);
    }
    if !verdicts.dead.is_empty() {
        notes.push(format!(
            "brokers {:?} are fenced or absent (Kafka's signal): counted as already lost",
            verdicts.dead
        ));
    }
    let snap = snapshot::build(
        &view,
        &target.limits,
        &verdicts,
        model.as_ref(),
        crate::clock::wall_ms(),
    );
    Ok((headroom::report(&snap, &target.planner), notes))
}

fn row(out: &mut String, w: &WhatIf) {
    let lost = match &w.lost {
        headroom::Lost::Broker(b) => format!("broker {b}"),
        headroom::Lost::Rack(r) => format!("rack {r}"),
    };
    let reasons: Vec<String> = w.reasons.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(
        out,
        "{lost:<16} {:>9} {:>9} {:>11}  {:<8} {}",
        w.replicas,
        w.placed,
        w.unplaceable,
        if w.absorbable { "yes" } else { "NO" },
        reasons.join(", ")
    );
    if !w.absorbable {
        for e in &w.examples {
            let _ = writeln!(out, "    e.g. {e}");
        }
    }
}

/// The report as text for a terminal: the verdicts first, then the what-ifs that fail, then
/// every rack.
pub fn render(cluster: &str, r: &Report, notes: &[String]) -> String {
    let mut out = String::new();
    let yes = |b: bool| if b { "yes" } else { "NO" };
    let _ = writeln!(
        out,
        "cluster {cluster}: failure headroom ({} ms)",
        r.took_ms
    );
    let _ = writeln!(
        out,
        "  absorbs the loss of any one broker: {}",
        yes(r.absorbs_any_broker)
    );
    let _ = writeln!(
        out,
        "  absorbs the loss of any one rack:   {}",
        yes(r.absorbs_any_rack)
    );
    for n in notes {
        let _ = writeln!(out, "  note: {n}");
    }
    let _ = writeln!(
        out,
        "\n{:<16} {:>9} {:>9} {:>11}  {:<8} why not",
        "lost", "replicas", "placed", "unplaceable", "absorbed"
    );
    let failing: Vec<&WhatIf> = r.brokers.iter().filter(|w| !w.absorbable).collect();
    if failing.is_empty() {
        let _ = writeln!(
            out,
            "(every one of {} brokers can be lost and healed within limits)",
            r.brokers.len()
        );
    }
    for w in failing.into_iter().chain(&r.racks) {
        row(&mut out, w);
    }
    out
}
