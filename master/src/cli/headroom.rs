//! `kmedic-master headroom`: observe a cluster once and report whether it could absorb the loss
//! of any one broker, and of any one rack, within its limits ([`crate::headroom`]).
//!
//! Like `plan`, this one-shot command has no agent stats: brokers Kafka reports fenced or
//! absent count as dead, and partition rates come from the master's checkpoint when the config
//! names one (0 otherwise: then only disk and rack rules can bind, and the output says so).

use std::fmt::Write as _;

use super::{PlanTarget, Result};
use crate::headroom::{self, Report, WhatIf};
use crate::observe::snapshot;

/// Observes the cluster of `target` once and runs every what-if. Returns the report and notes
/// for the reader.
pub async fn headroom_once(target: &PlanTarget) -> Result<(Report, Vec<String>)> {
    let (view, model) = super::observe_with_model(target).await?;
    let mut notes = Vec::new();
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
        let (who, are) = if verdicts.dead.len() == 1 {
            ("broker", "is")
        } else {
            ("brokers", "are")
        };
        notes.push(format!(
            "{who} {} {are} fenced or absent (Kafka's signal): counted as already lost",
            crate::text::list(&verdicts.dead)
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

/// The `absorbed` column: `yes`, `expected` (only the rack rule leaves replicas: the design
/// working, as the API's verdict and the UI say) or `NO`.
fn absorbed(w: &WhatIf) -> &'static str {
    if w.absorbable {
        "yes"
    } else if w.expected {
        "expected"
    } else {
        "NO"
    }
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
        absorbed(w),
        reasons.join(", ")
    );
    if !w.absorbable && !w.expected {
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
    // A broker that is the last alive in its rack: its loss is a rack loss, and with RF = rack
    // count that is the design working (the row reads "expected"), not a NO.
    let broker = if !r.absorbs_any_broker && r.brokers.iter().all(|w| w.absorbable || w.expected) {
        "expected (each broker whose loss is not absorbed is the last alive in its rack: RF = \
         rack count, replicas are never co-located)"
    } else {
        yes(r.absorbs_any_broker)
    };
    let _ = writeln!(out, "  absorbs the loss of any one broker: {broker}");
    let rack = if !r.absorbs_any_rack && r.rack_loss_expected {
        "expected (RF = rack count: a lost rack's partitions stay one replica short until it \
         returns; replicas are never co-located)"
    } else {
        yes(r.absorbs_any_rack)
    };
    let _ = writeln!(out, "  absorbs the loss of any one rack:   {rack}");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headroom::Lost;

    fn rack_loss(rack: &str, expected: bool) -> WhatIf {
        WhatIf {
            lost: Lost::Rack(rack.to_string()),
            brokers: vec![1, 4],
            replicas: 45,
            placed: 0,
            unplaceable: 45,
            reasons: [("rack_unavailable", 45)].into_iter().collect(),
            examples: vec![
                "orders-6 replica on broker 1 not placed: rack has no healthy broker".into(),
            ],
            bytes_to_move: 0,
            net_in_max_utilization_after: 0.0,
            net_out_max_utilization_after: 0.0,
            absorbable: false,
            expected,
            verdict: if expected { "expected" } else { "critical" },
        }
    }

    fn report(expected: bool) -> Report {
        Report {
            brokers: Vec::new(),
            racks: vec![rack_loss("az-a", expected)],
            absorbs_any_broker: true,
            absorbs_any_rack: false,
            unabsorbable_brokers: Vec::new(),
            rack_loss_expected: expected,
            took_ms: 1,
        }
    }

    #[test]
    fn an_expected_rack_loss_reads_expected_not_no() {
        let out = render("tb", &report(true), &[]);
        assert!(
            out.contains("any one rack:   expected (RF = rack count"),
            "{out}"
        );
        let row = out
            .lines()
            .find(|l| l.starts_with("rack az-a"))
            .unwrap_or_default();
        assert!(row.contains(" expected "), "{row}");
        assert!(!row.contains(" NO "), "{row}");
        assert!(!out.contains("e.g."), "{out}");
    }

    /// Found by the end-to-end run: with broker 5 dead, broker 2 was the last in az-b; its row
    /// read "expected" while the summary above it read NO.
    #[test]
    fn a_broker_loss_that_is_a_rack_loss_reads_expected_not_no() {
        let mut r = report(true);
        let mut last = rack_loss("az-b", true);
        last.lost = Lost::Broker(2);
        r.brokers = vec![last];
        r.absorbs_any_broker = false;
        r.unabsorbable_brokers = vec![2];
        let out = render("tb", &r, &[]);
        assert!(out.contains("any one broker: expected ("), "{out}");
        // A critical broker loss still reads NO.
        r.brokers[0].expected = false;
        let out = render("tb", &r, &[]);
        assert!(out.contains("any one broker: NO"), "{out}");
    }

    #[test]
    fn a_critical_rack_loss_still_reads_no_with_examples() {
        let out = render("tb", &report(false), &[]);
        assert!(out.contains("any one rack:   NO"), "{out}");
        let row = out
            .lines()
            .find(|l| l.starts_with("rack az-a"))
            .unwrap_or_default();
        assert!(row.contains(" NO "), "{row}");
        assert!(out.contains("e.g. orders-6"), "{out}");
    }
}
