//! Policy: findings in, decisions out. Grace periods, the confidence gate, maintenance and
//! dry-run are applied here, and every decision (above all every decision *not* to act) comes
//! back as data with its reason and is logged.
//!
//! Time is injected (`now_ms`), so grace periods are tested without sleeping. A finding's
//! first-seen time is kept while it is reported round after round, and forgotten the first
//! round it is not: a broker that comes back within the heal grace was a restart, and its clock
//! starts again if it fails later.
//!
//! Rules, in the order they are applied to a dead broker:
//! 1. alert at once (after `alert_grace_secs`, default 0);
//! 2. hold until it has been dead for `heal_grace_secs`;
//! 3. hold while any under-replicated partition is not explained by confirmed-dead brokers
//!    (DESIGN.md rule 4);
//! 4. hold in maintenance mode; in dry-run, decide but mark the action as not executed;
//! 5. otherwise request a heal of every dead broker past its grace, in one request;
//! 6. after `replace_grace_secs`, also request a host replacement (rate limits are the
//!    executor's, from the action log).
//!
//! Suspect and hung brokers, offline partitions, missing stats and rack violations are alerted
//! and held: one signal is not enough to move data (rule 3), and a hung JVM is for a person or
//! the replacement script's later issue. Sustained overload asks for a balance, sustained
//! leader skew for a leader spread (elections only), both behind the same gate.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tracing::info;

use crate::config::PolicyConfig;
use crate::detect::{Finding, FindingKind};
use crate::plan::Request;

/// Something the master would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum Action {
    /// Ask the planner for a plan, and execute it.
    Plan(Request),
    /// Call the replacement script for this broker's host.
    ReplaceHost {
        /// The broker whose host is replaced.
        broker: i32,
    },
}

/// What was decided about one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Tell a person (first time past the alert grace).
    Alert,
    /// Act.
    Act(Action),
    /// Would act, but dry-run is on.
    DryRun(Action),
    /// Do nothing now; the reason says why.
    Hold,
}

/// One decision, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// The kind of finding it is about.
    pub finding: FindingKind,
    /// The broker, for broker findings.
    pub broker: Option<i32>,
    /// The topic, for topic findings.
    pub topic: Option<String>,
    /// How many partitions the finding covers.
    pub partitions: usize,
    /// Why, with figures.
    pub reason: String,
    /// The rule applied.
    pub rule: &'static str,
}

type Key = (FindingKind, Option<i32>, Option<String>);

fn key(f: &Finding) -> Key {
    (f.kind, f.broker, f.topic.clone())
}

/// The policy's state for one cluster.
#[derive(Debug, Clone)]
pub struct Policy {
    cluster: String,
    cfg: PolicyConfig,
    first_seen_ms: BTreeMap<Key, u64>,
    alerted: BTreeSet<Key>,
    last_reason: BTreeMap<Key, String>,
}

/// A rule the policy applies (shown in decisions and logs).
pub const RULE_STABLE: &str =
    "balance and leader spread only on a stable cluster (no dead, suspect or hung broker, no URP)";
/// A rule the policy applies (shown in decisions and logs).
pub const RULE_ALERT: &str = "alert once a finding has lasted alert_grace_secs";
/// A rule the policy applies (shown in decisions and logs).
pub const RULE_HEAL_GRACE: &str = "heal only after heal_grace_secs (restart vs failure, rule 5)";
/// A rule the policy applies (shown in decisions and logs).
pub const RULE_GATE: &str =
    "heal only when every URP is explained by confirmed-dead brokers (rule 4)";
/// A rule the policy applies (shown in decisions and logs).
pub const RULE_MAINT: &str = "maintenance mode: alert only";
/// A rule the policy applies (shown in decisions and logs).
pub const RULE_DRY: &str = "dry-run: decide and log, never execute";
/// A rule the policy applies (shown in decisions and logs).
pub const RULE_HEAL: &str = "confirmed dead past heal grace, gate open: heal";
/// A rule the policy applies (shown in decisions and logs).
pub const RULE_REPLACE: &str = "confirmed dead past replace_grace_secs: replace the host";
/// A rule the policy applies (shown in decisions and logs).
pub const RULE_ONE_SIGNAL: &str = "one signal only: alert, no moves (rule 3)";
/// A rule the policy applies (shown in decisions and logs).
pub const RULE_ALERT_ONLY: &str = "alerted only: no automatic action for this kind";
/// A rule the policy applies (shown in decisions and logs).
pub const RULE_SUSTAINED: &str = "act on load or skew only after it lasts heal_grace_secs";

impl Policy {
    /// A policy for `cluster` with `cfg`.
    pub fn new(cluster: impl Into<String>, cfg: PolicyConfig) -> Self {
        Self {
            cluster: cluster.into(),
            cfg,
            first_seen_ms: BTreeMap::new(),
            alerted: BTreeSet::new(),
            last_reason: BTreeMap::new(),
        }
    }

    /// Turns maintenance mode on or off (persisted by the caller).
    pub fn set_maintenance(&mut self, on: bool) {
        self.cfg.maintenance = on;
    }

    /// Turns dry-run on or off (persisted by the caller).
    pub fn set_dry_run(&mut self, on: bool) {
        self.cfg.dry_run = on;
    }

    /// Decides about this round's findings at `now_ms`, logs every decision and returns them.
    pub fn decide(&mut self, findings: &[Finding], now_ms: u64) -> Vec<Decision> {
        let keys: BTreeSet<Key> = findings.iter().map(key).collect();
        self.first_seen_ms.retain(|k, _| keys.contains(k));
        self.alerted.retain(|k| keys.contains(k));
        self.last_reason.retain(|k, _| keys.contains(k));
        for k in &keys {
            self.first_seen_ms.entry(k.clone()).or_insert(now_ms);
        }
        let age_secs = |s: &Self, f: &Finding| {
            now_ms.saturating_sub(s.first_seen_ms.get(&key(f)).copied().unwrap_or(now_ms)) / 1000
        };
        let unexplained = findings
            .iter()
            .find(|f| f.kind == FindingKind::UnderReplicatedUnexplained);
        let gate_closed = unexplained.map(|u| {
            format!(
                "confidence gate closed: {} under-replicated partitions are not explained by \
                 confirmed-dead brokers",
                u.partitions.len()
            )
        });

        // Balance and leader spread wait for a stable cluster: with a broker dead, suspect or
        // hung, or partitions under-replicated, they would be undone when it recovers.
        let unstable = findings
            .iter()
            .find(|f| {
                matches!(
                    f.kind,
                    FindingKind::DeadBroker
                        | FindingKind::SuspectBroker
                        | FindingKind::HungBroker
                        | FindingKind::UnderReplicatedExplained
                        | FindingKind::UnderReplicatedUnexplained
                )
            })
            .map(|f| format!("cluster not stable ({:?}): {}", f.kind, f.evidence));
        let mut out = Vec::new();
        let mut heal: Vec<(i32, usize)> = Vec::new();
        // One balance or spread request per round, however many findings ask for it.
        let mut wanted: BTreeMap<String, (Request, Vec<String>)> = BTreeMap::new();
        for f in findings {
            let age = age_secs(self, f);
            let d = |verdict, reason: String, rule| Decision {
                verdict,
                finding: f.kind,
                broker: f.broker,
                topic: f.topic.clone(),
                partitions: f.partitions.len(),
                reason,
                rule,
            };
            if age >= self.cfg.alert_grace_secs && self.alerted.insert(key(f)) {
                out.push(d(
                    Verdict::Alert,
                    format!("{} (seen for {age} s)", f.evidence),
                    RULE_ALERT,
                ));
            }
            match f.kind {
                FindingKind::DeadBroker => {
                    let Some(b) = f.broker else { continue };
                    if age < self.cfg.heal_grace_secs {
                        out.push(d(
                            Verdict::Hold,
                            format!(
                                "broker {b} dead for {age} s < heal_grace_secs {}: may be a \
                                 restart; {} replicas wait",
                                self.cfg.heal_grace_secs,
                                f.partitions.len()
                            ),
                            RULE_HEAL_GRACE,
                        ));
                    } else if let Some(why) = &gate_closed {
                        out.push(d(
                            Verdict::Hold,
                            format!("broker {b} dead for {age} s but {why}"),
                            RULE_GATE,
                        ));
                    } else {
                        heal.push((b, f.partitions.len()));
                        if age >= self.cfg.replace_grace_secs {
                            let a = Action::ReplaceHost { broker: b };
                            out.push(self.gated(d(
                                Verdict::Act(a),
                                format!(
                                    "broker {b} dead for {age} s >= replace_grace_secs {}",
                                    self.cfg.replace_grace_secs
                                ),
                                RULE_REPLACE,
                            )));
                        }
                    }
                }
                FindingKind::SuspectBroker => out.push(d(
                    Verdict::Hold,
                    format!("no moves on one signal: {}", f.evidence),
                    RULE_ONE_SIGNAL,
                )),
                FindingKind::Overloaded
                | FindingKind::LeaderRackSkew
                | FindingKind::PreferredLeaderNotLeading => {
                    let request = if f.kind == FindingKind::Overloaded {
                        Request::Balance
                    } else {
                        Request::SpreadLeaders
                    };
                    if age < self.cfg.heal_grace_secs {
                        out.push(d(
                            Verdict::Hold,
                            format!(
                                "{} for {age} s < {} s: waiting to see it last",
                                f.evidence, self.cfg.heal_grace_secs
                            ),
                            RULE_SUSTAINED,
                        ));
                    } else if let Some(why) = gate_closed.as_ref().or(unstable.as_ref()) {
                        out.push(d(
                            Verdict::Hold,
                            format!("{}: {why}", f.evidence),
                            RULE_STABLE,
                        ));
                    } else {
                        let e = wanted
                            .entry(format!("{request}"))
                            .or_insert((request, vec![]));
                        e.1.push(format!("{} for {age} s", f.evidence));
                    }
                }
                FindingKind::UnderReplicatedUnexplained => out.push(d(
                    Verdict::Hold,
                    format!("{}; healing waits until they are explained", f.evidence),
                    RULE_GATE,
                )),
                _ => out.push(d(
                    Verdict::Hold,
                    format!("{} (alert only)", f.evidence),
                    RULE_ALERT_ONLY,
                )),
            }
        }
        if !heal.is_empty() {
            let dead: Vec<i32> = heal.iter().map(|h| h.0).collect();
            let replicas: usize = heal.iter().map(|h| h.1).sum();
            let dd = Decision {
                verdict: Verdict::Act(Action::Plan(Request::Heal { dead: dead.clone() })),
                finding: FindingKind::DeadBroker,
                broker: None,
                topic: None,
                partitions: replicas,
                reason: format!(
                    "brokers {dead:?} confirmed dead past heal_grace_secs {} and every URP is \
                     explained: move their {replicas} replicas",
                    self.cfg.heal_grace_secs
                ),
                rule: RULE_HEAL,
            };
            out.push(self.gated(dd));
        }
        for (_, (request, why)) in wanted {
            let finding = if request == Request::Balance {
                FindingKind::Overloaded
            } else {
                FindingKind::LeaderRackSkew
            };
            let dd = Decision {
                verdict: Verdict::Act(Action::Plan(request)),
                finding,
                broker: None,
                topic: None,
                partitions: 0,
                reason: why.join("; "),
                rule: RULE_SUSTAINED,
            };
            out.push(self.gated(dd));
        }
        for d in &out {
            self.log(d);
        }
        out
    }

    /// Applies maintenance and dry-run to an `Act` decision.
    fn gated(&self, mut d: Decision) -> Decision {
        let Verdict::Act(a) = &d.verdict else {
            return d;
        };
        if self.cfg.maintenance {
            d.reason = format!("maintenance mode, not acting: would {a:?}; {}", d.reason);
            d.verdict = Verdict::Hold;
            d.rule = RULE_MAINT;
        } else if self.cfg.dry_run {
            d.reason = format!("dry-run, not executing: {}", d.reason);
            d.verdict = Verdict::DryRun(a.clone());
            d.rule = RULE_DRY;
        }
        d
    }

    /// Logs a decision; a hold whose reason is unchanged since the last round is logged at
    /// debug so a long wait does not flood the log, but it is still returned as data.
    fn log(&mut self, d: &Decision) {
        let k: Key = (d.finding, d.broker, d.topic.clone());
        let repeat = matches!(d.verdict, Verdict::Hold)
            && self.last_reason.get(&k).is_some_and(|r| r == &d.reason);
        if matches!(d.verdict, Verdict::Hold) {
            self.last_reason.insert(k, d.reason.clone());
        }
        let c = self.cluster.as_str();
        let v = match &d.verdict {
            Verdict::Alert => "alert".to_string(),
            Verdict::Act(a) => format!("act {a:?}"),
            Verdict::DryRun(a) => format!("dry-run {a:?}"),
            Verdict::Hold => "hold".to_string(),
        };
        if repeat {
            tracing::debug!(cluster = c, verdict = %v, finding = ?d.finding, broker = ?d.broker,
                topic = ?d.topic, partitions = d.partitions, rule = d.rule, "{}", d.reason);
        } else {
            info!(cluster = c, verdict = %v, finding = ?d.finding, broker = ?d.broker,
                topic = ?d.topic, partitions = d.partitions, rule = d.rule, "{}", d.reason);
        }
    }
}

#[cfg(test)]
mod tests;
