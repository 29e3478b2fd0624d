//! Decision log lines. A decision is logged when it is made or changes (a new [`DecisionId`]);
//! the same decision repeated round after round is logged at debug, so a long wait does not
//! flood the log but is still returned as data. Every line carries the cluster, the decision
//! id, the verdict, the finding, the brokers, the partition count, the rule's name and the
//! reason with its figures. A mass failure is an error, a last-copy hold a warning.
//!
//! One event reads once: a new `alert` decision (rule `alert`) made in the same round as a new
//! hold or act decision about the same finding is folded into that decision's line (its field
//! `alert` names the alert decision) and logged itself at debug; the evidence would otherwise
//! be written twice. The alert decision is still returned, recorded and sent as before: only
//! its log line moves.
//!
//! [`DecisionId`]: super::DecisionId

use tracing::{debug, error, info, warn, Level};

use super::{Decision, DecisionId, Rule, Verdict};

/// Logs every decision of a round for `cluster`; `fresh[i]` says whether `ds[i]` was made (or
/// changed) this round. Returns, per decision, whether its line went out at INFO or above.
pub(super) fn decisions(cluster: &str, ds: &[Decision], fresh: &[bool]) -> Vec<bool> {
    let same_finding = |a: &Decision, b: &Decision| {
        (a.finding, a.broker, &a.topic) == (b.finding, b.broker, &b.topic)
    };
    // The alert each new hold / act line carries, and the alerts folded so.
    let mut carried: Vec<Option<DecisionId>> = vec![None; ds.len()];
    let mut folded = vec![false; ds.len()];
    for (i, a) in ds.iter().enumerate() {
        if !(fresh[i] && a.verdict == Verdict::Alert && a.rule == Rule::Alert) {
            continue;
        }
        let host = (0..ds.len())
            .find(|&j| fresh[j] && ds[j].verdict != Verdict::Alert && same_finding(&ds[j], a));
        if let Some(j) = host {
            carried[j] = Some(a.id);
            folded[i] = true;
        }
    }
    ds.iter()
        .enumerate()
        .map(|(i, d)| {
            let level = match (fresh[i] && !folded[i], &d.verdict, d.rule) {
                (false, ..) => Level::DEBUG,
                (true, Verdict::Alert, Rule::MassFailure) => Level::ERROR,
                (true, _, Rule::MassFailure | Rule::MassFailureOverride | Rule::LastCopy) => {
                    Level::WARN
                }
                (true, ..) => Level::INFO,
            };
            decision(cluster, d, level, carried[i]);
            level <= Level::INFO
        })
        .collect()
}

/// Logs `d` for `cluster` at `level`; `alert` is the alert decision folded into this line.
fn decision(cluster: &str, d: &Decision, level: Level, alert: Option<DecisionId>) {
    let alert = alert.map(tracing::field::display);
    macro_rules! emit {
        ($m:ident) => {
            $m!(cluster, id = %d.id, verdict = %d.verdict, finding = ?d.finding, broker = d.broker,
                brokers = ?d.brokers, topic = d.topic.as_deref(), partitions = d.partitions,
                rule = d.rule.name(), alert, "{}", d.reason)
        };
    }
    match level {
        Level::ERROR => emit!(error),
        Level::WARN => emit!(warn),
        Level::INFO => emit!(info),
        _ => emit!(debug),
    }
}
