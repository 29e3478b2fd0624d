//! Decision log lines. A decision is logged when it is made or changes (a new [`DecisionId`]);
//! the same decision repeated round after round is logged at debug, so a long wait does not
//! flood the log but is still returned as data. Every line carries the cluster, the decision
//! id, the verdict, the finding, the brokers, the partition count, the rule's name and the
//! reason with its figures. A mass failure is an error, a last-copy hold a warning.
//!
//! [`DecisionId`]: super::DecisionId

use tracing::{debug, error, info, warn, Level};

use super::{Decision, Rule, Verdict};

/// Logs `d` for `cluster`; `new` says whether it was made (or changed) this round.
pub(super) fn decision(cluster: &str, d: &Decision, new: bool) {
    let level = match (new, &d.verdict, d.rule) {
        (false, ..) => Level::DEBUG,
        (true, Verdict::Alert, Rule::MassFailure) => Level::ERROR,
        (true, _, Rule::MassFailure | Rule::MassFailureOverride | Rule::LastCopy) => Level::WARN,
        (true, ..) => Level::INFO,
    };
    macro_rules! emit {
        ($m:ident) => {
            $m!(cluster, id = %d.id, verdict = %d.verdict, finding = ?d.finding, broker = d.broker,
                brokers = ?d.brokers, topic = d.topic.as_deref(), partitions = d.partitions,
                rule = d.rule.name(), "{}", d.reason)
        };
    }
    match level {
        Level::ERROR => emit!(error),
        Level::WARN => emit!(warn),
        Level::INFO => emit!(info),
        _ => emit!(debug),
    }
}
