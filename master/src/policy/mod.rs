//! Policy: findings in, decisions out. Grace periods, mass failure, the confidence gate, the
//! last-copy guard, maintenance and dry-run are applied here, and every decision (above all
//! every decision *not* to act) comes back as data with its typed [`Rule`], its reason and an
//! id ([`decision`]), and is logged once when it is made or changes.
//!
//! Time is the master's **monotonic** clock ([`Now::mono_ms`]); the wall clock is never read
//! here, so an NTP step cannot turn a 20-second restart into a heal (DESIGN.md rule 5). A
//! finding's first-seen time is kept while it is reported round after round, and forgotten the
//! first round it is not: a broker that comes back within the heal grace was a restart, and its
//! clock starts again if it fails later.
//!
//! Rules, in the order they are applied to a dead broker:
//! 1. alert at once (after `alert_grace_secs`, default 0);
//! 2. hold until it has been dead for `heal_grace_secs`;
//! 3. hold every data move while a mass failure lasts (a whole rack, or more failed brokers
//!    than `mass_failure_max_per_rack` in one rack or `mass_failure_max_percent` of the
//!    cluster; `detect::mass_failure`), unless the operator set `mass_failure_override`;
//! 4. hold while any under-replicated partition is explained neither by confirmed-dead brokers
//!    nor by replicas an in-flight reassignment is adding (DESIGN.md rule 4);
//! 5. hold in maintenance mode; in dry-run, decide but mark the action as not executed;
//! 6. otherwise request a heal of every dead broker past its grace, in one request;
//! 7. after `replace_grace_secs`, also request a host replacement, unless the broker holds the
//!    only in-sync copy of a partition (or a copy of an offline one): then hold and name them
//!    (rate limits are the executor's, from the action log).
//!
//! Suspect and hung brokers, offline partitions, missing stats, stale registrations and rack
//! violations are alerted and held: one signal is not enough to move data (rule 3). Sustained
//! overload asks first for elections alone (`Request::BalanceLeaders`: no data copied), and for a
//! relief (`Request::Relieve`: the fewest bytes moved off the overloaded brokers alone, not a
//! whole-cluster balance) only if the broker is still over `heal_grace_secs` after that, or at
//! the next round when the elections-only plan made no election because they could not bring
//! it under its limit ([`Policy::elections_cannot_relieve`]) (the
//! stage is kept per broker and starts again when its overload clears); sustained leader skew for a leader spread and preferred leaders
//! not leading for preferred-leader elections, all only on a stable cluster; the leader spread
//! and the preferred elections also wait while any broker is overloaded (their elections would
//! fight the overload's). They come back as
//! separate decisions in one round; [`requests`] lists them so the round plans them together.

pub mod decision;
mod ids;
mod log;
mod mass;
mod replace;

use std::collections::{BTreeMap, BTreeSet};

use crate::clock::Now;
use crate::config::PolicyConfig;
use crate::detect::{mass_failure, Finding, FindingKind};
use crate::observe::ClusterView;
use crate::plan::Request;

pub use decision::{requests, Action, Decision, DecisionId, Rule, Verdict};
pub use replace::last_copies;

type Key = (FindingKind, Option<i32>, Option<String>);

fn key(f: &Finding) -> Key {
    (f.kind, f.broker, f.topic.clone())
}

/// A decision's identity across rounds: its finding, and whether it is the alert.
type Ident = (Key, bool);

/// The policy's state for one cluster.
#[derive(Debug, Clone)]
pub struct Policy {
    cluster: String,
    cfg: PolicyConfig,
    first_seen_ms: BTreeMap<Key, u64>,
    alerted: BTreeSet<Key>,
    /// When elections were first asked for each overload still present (elections first).
    leaders_asked_ms: BTreeMap<Key, u64>,
    /// Overloaded brokers whose elections-only plan made no election because they could not
    /// bring the broker under its limit (`plan::Warning::ElectionsCannotRelieve`), with the
    /// plan's figures: their overload goes to relief at once ([`Policy::elections_cannot_relieve`]).
    elections_futile: BTreeMap<i32, String>,
    /// When each broker still dead (or healed away and still registered, a stale registration)
    /// was first seen dead: its replacement counts from the death, not from the heal.
    dead_since_ms: BTreeMap<i32, u64>,
    /// Brokers the operator is decommissioning (or has): never replaced (set each round).
    decommissioning: BTreeSet<i32>,
    /// Decommissioning brokers whose replacement hold was logged (once per broker).
    decommission_said: BTreeSet<i32>,
    ids: BTreeMap<Ident, (Verdict, Rule, Vec<i32>, DecisionId)>,
    next_id: u64,
    /// Per decision of the last round: logged at INFO or above ([`Policy::logged_at_info`]).
    logged: Vec<bool>,
}

impl Policy {
    /// A policy for `cluster` with `cfg`.
    pub fn new(cluster: impl Into<String>, cfg: PolicyConfig) -> Self {
        Self {
            cluster: cluster.into(),
            cfg,
            first_seen_ms: BTreeMap::new(),
            alerted: BTreeSet::new(),
            leaders_asked_ms: BTreeMap::new(),
            elections_futile: BTreeMap::new(),
            dead_since_ms: BTreeMap::new(),
            decommissioning: BTreeSet::new(),
            decommission_said: BTreeSet::new(),
            ids: BTreeMap::new(),
            next_id: 1,
            logged: Vec::new(),
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

    /// Sets the operator's mass-failure override (`policy.mass_failure_override`).
    pub fn set_mass_failure_override(&mut self, on: bool) {
        self.cfg.mass_failure_override = on;
    }

    /// Decides about this round's `findings` over `view` (the same observation the findings
    /// came from), logs every new or changed decision and returns them all.
    ///
    /// Only `now.mono_ms` is read: grace periods run on the master's monotonic clock, so a step
    /// of the wall clock changes nothing here.
    pub fn decide(&mut self, findings: &[Finding], view: &ClusterView, now: Now) -> Vec<Decision> {
        let now_ms = now.mono_ms;
        // Before the first-seen times move on: they tell which suspects are new this round.
        let (mass, mass_pending) = self.mass_failure(findings, view);
        let all: Vec<&Finding> = findings.iter().chain(mass.as_ref()).collect();
        let keys: BTreeSet<Key> = all.iter().map(|f| key(f)).collect();
        self.first_seen_ms.retain(|k, _| keys.contains(k));
        self.alerted.retain(|k| keys.contains(k));
        self.leaders_asked_ms.retain(|k, _| keys.contains(k));
        self.elections_futile
            .retain(|b, _| keys.contains(&(FindingKind::Overloaded, Some(*b), None)));
        for k in &keys {
            self.first_seen_ms.entry(k.clone()).or_insert(now_ms);
        }
        // A dead broker keeps its death time while it stays dead, also once the heal has moved
        // its replicas away and it reads as a stale registration (hosts nothing).
        let broker_of = |kind: FindingKind| -> BTreeSet<i32> {
            findings
                .iter()
                .filter(|f| f.kind == kind)
                .filter_map(|f| f.broker)
                .collect()
        };
        let (dead_now, stale_now) = (
            broker_of(FindingKind::DeadBroker),
            broker_of(FindingKind::StaleRegistration),
        );
        self.dead_since_ms
            .retain(|b, _| dead_now.contains(b) || stale_now.contains(b));
        for f in findings
            .iter()
            .filter(|f| f.kind == FindingKind::DeadBroker)
        {
            if let (Some(b), Some(&t)) = (f.broker, self.first_seen_ms.get(&key(f))) {
                self.dead_since_ms.entry(b).or_insert(t);
            }
        }
        let age_secs = |s: &Self, f: &Finding| {
            now_ms.saturating_sub(s.first_seen_ms.get(&key(f)).copied().unwrap_or(now_ms)) / 1000
        };
        let gate_closed = findings
            .iter()
            .find(|f| f.kind == FindingKind::UnderReplicatedUnexplained)
            .map(|u| {
                let n = u.partitions.len();
                format!(
                    "confidence gate closed: {n} under-replicated {} explained neither by \
                     confirmed-dead brokers nor by a reassignment adding replicas",
                    if n == 1 {
                        "partition is"
                    } else {
                        "partitions are"
                    }
                )
            });
        // Every data move waits while a mass failure lasts, unless the operator overrode it.
        let mass_hold = mass
            .as_ref()
            .filter(|_| !self.cfg.mass_failure_override)
            .map(|m| format!("mass failure, holding every data move: {}", m.evidence))
            .or(mass_pending.filter(|_| !self.cfg.mass_failure_override));
        // Balance and leader moves wait for a stable cluster: with a broker dead, suspect or
        // hung, or partitions under-replicated, they would be undone when it recovers. A stale
        // registration hosts nothing and does not count.
        let unstable = all
            .iter()
            .find(|f| {
                matches!(
                    f.kind,
                    FindingKind::DeadBroker
                        | FindingKind::SuspectBroker
                        | FindingKind::HungBroker
                        | FindingKind::UnderReplicatedExplained
                        | FindingKind::UnderReplicatedUnexplained
                        | FindingKind::MassFailure
                )
            })
            .map(|f| format!("cluster not stable: {}", f.evidence));
        // The leader spread waits while a broker is overloaded: its elections would fight the
        // overload's (issue 11: never fighting the network balance; the e2e run looped, the
        // spread handing leadership back to the hot broker every minute). Preferred-leader
        // elections wait too: the planner keeps them within 90 % of a broker's net-out limit,
        // but by its own load model, and the overload may be the host NIC's figure, which the
        // planner does not see; they add net out to the preferred leaders, which are often the
        // brokers the overload's elections just took leadership off. Restoring preferred
        // leaders is a nicety that can wait for the overload to clear; the overload cannot.
        let overloaded = all
            .iter()
            .find(|f| f.kind == FindingKind::Overloaded)
            .map(|f| {
                format!(
                    "waiting while a broker is overloaded, so as not to fight the overload's \
                     elections and relief ({})",
                    f.evidence
                )
            });
        let mut out = Vec::new();
        let mut heal: Vec<(i32, usize)> = Vec::new();
        // One request of each kind per round, however many findings ask for it.
        let mut wanted: BTreeMap<String, (Request, FindingKind, Vec<i32>, Vec<String>)> =
            BTreeMap::new();
        for f in all.iter().copied() {
            let age = age_secs(self, f);
            let d = |verdict, reason: String, rule| Decision {
                id: DecisionId(0),
                verdict,
                finding: f.kind,
                broker: f.broker,
                brokers: f.broker.into_iter().collect(),
                topic: f.topic.clone(),
                partitions: f.partitions.len(),
                reason,
                rule,
            };
            if age >= self.cfg.alert_grace_secs && self.alerted.insert(key(f)) {
                let rule = if f.kind == FindingKind::MassFailure {
                    Rule::MassFailure
                } else {
                    Rule::Alert
                };
                let mut a = d(
                    Verdict::Alert,
                    format!("{} (seen for {age} s)", f.evidence),
                    rule,
                );
                if f.kind == FindingKind::MassFailure {
                    a.brokers = mass_failure::failed_brokers(findings).into_iter().collect();
                }
                out.push(a);
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
                            Rule::HealGrace,
                        ));
                    } else if let Some(why) = &mass_hold {
                        out.push(d(
                            Verdict::Hold,
                            format!("broker {b} dead for {age} s but {why}"),
                            Rule::MassFailure,
                        ));
                    } else if let Some(why) = &gate_closed {
                        out.push(d(
                            Verdict::Hold,
                            format!("broker {b} dead for {age} s but {why}"),
                            Rule::Gate,
                        ));
                    } else {
                        heal.push((b, f.partitions.len()));
                        if age >= self.cfg.replace_grace_secs {
                            out.push(self.replace(b, age, view, d));
                        }
                    }
                }
                FindingKind::MassFailure => {
                    let (rule, reason) = if self.cfg.mass_failure_override {
                        (
                            Rule::MassFailureOverride,
                            format!(
                                "mass_failure_override is set: healing as for single \
                                 failures; {}",
                                f.evidence
                            ),
                        )
                    } else {
                        (
                            Rule::MassFailure,
                            format!(
                                "no heal, balance or replacement until the count drops or \
                                 mass_failure_override is set; {}",
                                f.evidence
                            ),
                        )
                    };
                    let mut h = d(Verdict::Hold, reason, rule);
                    h.brokers = mass_failure::failed_brokers(findings).into_iter().collect();
                    out.push(h);
                }
                FindingKind::SuspectBroker => out.push(d(
                    Verdict::Hold,
                    format!("no moves on one signal: {}", f.evidence),
                    Rule::OneSignal,
                )),
                FindingKind::Overloaded
                | FindingKind::LeaderRackSkew
                | FindingKind::PreferredLeaderNotLeading => {
                    if age < self.cfg.heal_grace_secs {
                        out.push(d(
                            Verdict::Hold,
                            format!(
                                "{} for {age} s < {} s: waiting to see it last",
                                f.evidence, self.cfg.heal_grace_secs
                            ),
                            Rule::Sustained,
                        ));
                    } else if let Some(why) =
                        gate_closed.as_ref().or(unstable.as_ref()).or(overloaded
                            .as_ref()
                            .filter(|_| f.kind != FindingKind::Overloaded))
                    {
                        out.push(d(
                            Verdict::Hold,
                            format!("{}: {why}", f.evidence),
                            Rule::Stable,
                        ));
                    } else {
                        let (request, stage) = match f.kind {
                            FindingKind::Overloaded => self.overload_stage(f, now_ms),
                            FindingKind::LeaderRackSkew => (Request::SpreadLeaders, String::new()),
                            _ => (Request::PreferredLeaders, String::new()),
                        };
                        let e = wanted.entry(format!("{request}")).or_insert((
                            request,
                            f.kind,
                            vec![],
                            vec![],
                        ));
                        e.2.extend(f.broker);
                        e.3.push(format!("{} for {age} s{stage}", f.evidence));
                    }
                }
                FindingKind::StaleRegistration => {
                    let since = f.broker.and_then(|b| self.dead_since_ms.get(&b).copied());
                    let (Some(b), Some(since)) = (f.broker, since) else {
                        out.push(d(
                            Verdict::Hold,
                            format!(
                                "{} (alert only: kmedic did not see it die with replicas on \
                                 it, so it is not replaced)",
                                f.evidence
                            ),
                            Rule::AlertOnly,
                        ));
                        continue;
                    };
                    let dead_for = now_ms.saturating_sub(since) / 1000;
                    if self.decommissioning.contains(&b) {
                        out.push(self.replace(b, dead_for, view, d));
                    } else if dead_for < self.cfg.replace_grace_secs {
                        out.push(d(
                            Verdict::Hold,
                            format!(
                                "broker {b} dead for {dead_for} s, its replicas healed away: \
                                 replacement waits for replace_grace_secs {}",
                                self.cfg.replace_grace_secs
                            ),
                            Rule::Replace,
                        ));
                    } else if let Some(why) = &mass_hold {
                        out.push(d(
                            Verdict::Hold,
                            format!("broker {b} dead for {dead_for} s but {why}"),
                            Rule::MassFailure,
                        ));
                    } else {
                        out.push(self.replace(b, dead_for, view, d));
                    }
                }
                FindingKind::UnderReplicatedUnexplained => out.push(d(
                    Verdict::Hold,
                    format!("{}; healing waits until they are explained", f.evidence),
                    Rule::Gate,
                )),
                // Restored by the heal of the brokers that explain them, once it is decided.
                FindingKind::UnderReplicatedExplained => out.push(d(
                    Verdict::Hold,
                    format!(
                        "{} (nothing of their own to do: the dead brokers' heal, or the reassignment \
                         adding the replicas, restores them)",
                        f.evidence
                    ),
                    Rule::AlertOnly,
                )),
                _ => out.push(d(
                    Verdict::Hold,
                    format!("{} (alert only: kmedic moves no data for it)", f.evidence),
                    Rule::AlertOnly,
                )),
            }
        }
        if !heal.is_empty() {
            let dead: Vec<i32> = heal.iter().map(|h| h.0).collect();
            let replicas: usize = heal.iter().map(|h| h.1).sum();
            let (rule, why) = match &mass {
                Some(m) => (
                    Rule::MassFailureOverride,
                    format!(" (mass failure overridden by the operator: {})", m.evidence),
                ),
                None => (Rule::Heal, String::new()),
            };
            let dd = Decision {
                id: DecisionId(0),
                verdict: Verdict::Act(Action::Plan(Request::Heal { dead: dead.clone() })),
                finding: FindingKind::DeadBroker,
                broker: None,
                brokers: dead.clone(),
                topic: None,
                partitions: replicas,
                reason: format!(
                    "{} {} confirmed dead past heal_grace_secs {} and every URP is explained: \
                     move their {replicas} replicas{why}",
                    if dead.len() == 1 { "broker" } else { "brokers" },
                    crate::text::list(&dead),
                    self.cfg.heal_grace_secs
                ),
                rule,
            };
            out.push(self.gated(dd));
        }
        for (_, (request, finding, brokers, why)) in wanted {
            // One relief for every overloaded broker at that stage, naming them all.
            let request = match request {
                Request::Relieve { .. } => {
                    let mut named = brokers.clone();
                    named.sort_unstable();
                    named.dedup();
                    Request::Relieve { brokers: named }
                }
                r => r,
            };
            let dd = Decision {
                id: DecisionId(0),
                verdict: Verdict::Act(Action::Plan(request)),
                finding,
                broker: None,
                brokers,
                topic: None,
                partitions: 0,
                reason: why.join("; "),
                rule: Rule::Sustained,
            };
            out.push(self.gated(dd));
        }
        let fresh = self.assign_ids(&mut out);
        let fresh = self.decommission_once(&out, fresh);
        self.logged = log::decisions(&self.cluster, &out, &fresh);
        out
    }

    /// For each decision the last [`Policy::decide`] returned, whether its line went out at
    /// INFO or above (new or changed, and not folded into another decision's line). The round
    /// logs a new finding at debug when such a line already carries its evidence.
    pub fn logged_at_info(&self) -> &[bool] {
        &self.logged
    }

    /// Takes note of a round's plan: a broker at the elections-first stage of its overload
    /// for which the elections-only plan made no election because they could not bring it
    /// under its configured limit (`plan::Warning::ElectionsCannotRelieve`) goes to relief at
    /// the next round instead of after `heal_grace_secs` (waiting would only delay the moves;
    /// relief makes the same elections with them). Kept while its overload lasts.
    pub fn elections_cannot_relieve(&mut self, plan: &crate::plan::Plan) {
        for w in &plan.warnings {
            let crate::plan::Warning::ElectionsCannotRelieve {
                broker,
                resource,
                load_bytes_per_sec: load,
                limit_bytes_per_sec: limit,
                clearable_bytes_per_sec: clear,
            } = *w
            else {
                continue;
            };
            let k = (FindingKind::Overloaded, Some(broker), None);
            if !self.leaders_asked_ms.contains_key(&k)
                || self.elections_futile.contains_key(&broker)
            {
                continue;
            }
            let why = format!(
                "{resource} {} B/s over its configured limit {limit} B/s, elections could clear \
                 {clear} B/s of it",
                load.saturating_sub(limit)
            );
            tracing::debug!(cluster = %self.cluster, broker, %why,
                "overload: elections cannot relieve it, relief next round");
            self.elections_futile.insert(broker, why);
        }
    }

    /// Elections first for an overload: [`Request::BalanceLeaders`] until `heal_grace_secs`
    /// have passed since they were first asked for this broker, then [`Request::Relieve`]:
    /// the fewest bytes of moves off the overloaded brokers alone until each is under its own
    /// limits, never a whole-cluster [`Request::Balance`]. Returns the request (a relief
    /// names no broker here: `decide` fills in every broker at that stage) and a note for the
    /// reason.
    fn overload_stage(&mut self, f: &Finding, now_ms: u64) -> (Request, String) {
        let grace = self.cfg.heal_grace_secs;
        if let Some(why) = f.broker.and_then(|b| self.elections_futile.get(&b)) {
            return (
                Request::Relieve { brokers: vec![] },
                format!(
                    "; elections alone cannot relieve it ({why}; they are made only if they \
                     bring it under its limit): the fewest bytes of moves off it until it is \
                     under its limits"
                ),
            );
        }
        let asked = *self.leaders_asked_ms.entry(key(f)).or_insert(now_ms);
        let waited = now_ms.saturating_sub(asked) / 1000;
        if waited < grace {
            (
                Request::BalanceLeaders,
                format!(
                    "; elections first (no data copied), data moves only if still over \
                     {grace} s after"
                ),
            )
        } else {
            (
                Request::Relieve { brokers: vec![] },
                format!(
                    "; still over {waited} s after elections were asked: the fewest bytes of \
                     moves off it until it is under its limits"
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests;
