//! Decision ids (kept while a decision is unchanged, see [`super::decision`]) and the
//! maintenance and dry-run gate applied to every `Act`.

use std::collections::BTreeSet;

use super::{Decision, DecisionId, Ident, Policy, Rule, Verdict};

impl Policy {
    /// Numbers the next decisions after `last` (the highest id the action log holds, from
    /// an earlier master process): ids never restart at d1, so after a restart `d9` still
    /// names one decision (and `<cluster id>-d9` one plan). Never goes back.
    pub fn continue_ids_after(&mut self, last: u64) {
        self.next_id = self.next_id.max(last.saturating_add(1));
    }

    /// Gives each decision its id (kept while the same finding gets the same verdict and rule
    /// about the same brokers), and returns for each whether it is new (to log at info) or a
    /// repeat (debug). A mass failure that spreads to more brokers is a new decision.
    pub(super) fn assign_ids(&mut self, out: &mut [Decision]) -> Vec<bool> {
        let mut seen = BTreeSet::new();
        let mut fresh = Vec::with_capacity(out.len());
        for d in out.iter_mut() {
            let ident: Ident = (
                (d.finding, d.broker, d.topic.clone()),
                d.verdict == Verdict::Alert,
            );
            let same = self
                .ids
                .get(&ident)
                .filter(|(v, r, b, _)| *v == d.verdict && *r == d.rule && *b == d.brokers)
                .map(|e| e.3);
            d.id = match same {
                Some(id) => id,
                None => {
                    let id = DecisionId(self.next_id);
                    self.next_id += 1;
                    let sig = (d.verdict.clone(), d.rule, d.brokers.clone(), id);
                    self.ids.insert(ident.clone(), sig);
                    id
                }
            };
            fresh.push(same.is_none());
            seen.insert(ident);
        }
        self.ids.retain(|k, _| seen.contains(k));
        fresh
    }

    /// Applies maintenance and dry-run to an `Act` decision.
    pub(super) fn gated(&self, mut d: Decision) -> Decision {
        let Verdict::Act(a) = &d.verdict else {
            return d;
        };
        if self.cfg.maintenance {
            d.reason = format!("maintenance mode, not acting: would {a}; {}", d.reason);
            d.verdict = Verdict::Hold;
            d.rule = Rule::Maintenance;
        } else if self.cfg.dry_run {
            d.reason = format!("dry-run, not executing: {}", d.reason);
            d.verdict = Verdict::DryRun(a.clone());
            d.rule = Rule::DryRun;
        }
        d
    }
}
