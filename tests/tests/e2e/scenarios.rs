//! Master-level fault scenarios (issue 8 "must show"), with the BUILT `kmedic-agent` on every
//! broker and the BUILT `kmedic-master`, alerts going to a local webhook receiver:
//!
//! - a rolling restart of every broker: nothing moves, nothing is recorded, no one is paged;
//! - a second master of the same group fences the first: the first learns it at its next
//!   write, logs it, pages `fenced_master`, and takes no action; only the second heals;
//! - dry-run, maintenance and the mass-failure override set through the API survive a master
//!   restart, and a killed broker is then decided but not acted on, the mode given as reason;
//! - a master whose action log cannot be opened pages `action_log_unavailable` and observes.
//!
//! Plumbing: `kmedic_tests::product`. Run:
//! `KMEDIC_TESTBED_PORT_BASE=20000 cargo test -p kmedic-tests --test e2e -- scenarios::`
//! (`KMEDIC_ROLLING_SPACING_SECS=20` for the full rolling restart; CI uses 2).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use kmedic_master::actionlog::{ActionKind, ActionRecord, Phase};
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::product::{
    field, free_addr, has_topic, http, num, start_agents, trial_dir, Master, MasterSpec, Webhook,
    STATS_TOPIC,
};
use kmedic_tests::{random_topic, wait_until, OwnedChild, Testbed};
use libtest_mimic::Trial;
use serde_json::{json, Value};

use super::product::action_records;

/// The broker the kill scenarios kill (az-c: its replicas can only go to broker 3).
const VICTIM: i32 = 6;
const MB: usize = 1024 * 1024;
const TOKEN: &str = "r3-scenario-token";

/// The scenario trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(
            ctx,
            "scenarios::rolling_restart_of_every_broker_moves_nothing_and_pages_no_one",
            rolling_restart,
        ),
        trial(
            ctx,
            "scenarios::a_second_master_fences_the_first_which_pages_and_acts_no_more",
            fenced_master,
        ),
        trial(
            ctx,
            "scenarios::modes_set_through_the_api_survive_a_master_restart_and_stop_the_heal",
            modes_survive_restart,
        ),
        trial(
            ctx,
            "scenarios::a_master_without_its_action_log_pages_and_only_observes",
            no_action_log,
        ),
    ]
}

/// One scenario's cluster side: the stats topic and a fresh action-log topic off the victim,
/// an agent per broker, a webhook receiver.
struct Setup {
    tb: Arc<Testbed>,
    log_topic: String,
    hook: Webhook,
    _agents: Vec<OwnedChild>,
    /// The configs and logs (kept with `KMEDIC_KEEP_TRIAL_DIR`); dropped last.
    dir: tempfile::TempDir,
}

fn off_victim(tb: &Testbed, n: usize) -> Vec<Vec<i32>> {
    let ids: Vec<i32> = tb
        .broker_ids()
        .into_iter()
        .filter(|&b| b != VICTIM)
        .collect();
    (0..n)
        .map(|p| (0..3).map(|k| ids[(p + k) % ids.len()]).collect())
        .collect()
}

/// A topic of 3 partitions, each with a replica on the victim and one in each other rack (a
/// kill then always has replicas to heal, whatever earlier trials moved).
fn topic_on_victim(tb: &Testbed, mb: usize) -> anyhow::Result<String> {
    let mut others: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
    for b in tb.broker_ids() {
        if tb.rack(b) != tb.rack(VICTIM) {
            others.entry(tb.rack(b)).or_default().push(b);
        }
    }
    let racks: Vec<Vec<i32>> = others.into_values().collect();
    ensure!(racks.len() >= 2, "the testbed needs three racks");
    let assignment: Vec<Vec<i32>> = (0..3)
        .map(|p| {
            let pick = |r: &Vec<i32>| r[p % r.len()];
            vec![VICTIM, pick(&racks[0]), pick(&racks[1])]
        })
        .collect();
    let topic = random_topic("scn-victim");
    tb.create_topic_with_assignment(&topic, &assignment)?;
    tb.produce(&topic, mb * MB)?;
    Ok(topic)
}

fn setup(ctx: &Ctx) -> anyhow::Result<Setup> {
    let tb = ctx.shared()?;
    if !has_topic(&tb, STATS_TOPIC)? {
        tb.create_topic_with_assignment(STATS_TOPIC, &off_victim(&tb, 3))?;
    }
    let log_topic = random_topic("scn-log");
    tb.create_topic_with_assignment(&log_topic, &off_victim(&tb, 1))?;
    let dir = trial_dir("scenarios::")?;
    let agents = start_agents(&tb, dir.path())?;
    Ok(Setup {
        tb,
        log_topic,
        hook: Webhook::start()?,
        _agents: agents,
        dir,
    })
}

impl Setup {
    /// A master of the trial's group (its action log as `master_id`, its webhook, its API off:
    /// two masters would share its port), polling every second, agent timings for 1 s
    /// heartbeats, healing after `heal_grace` s (the master's default when `None`).
    fn spec(&self, name: &str, master_id: &str, heal_grace: Option<u64>) -> MasterSpec {
        let mut spec = MasterSpec::quick(name)
            .action_log(&self.log_topic, Some(master_id))
            .webhook(self.hook.url("/generic"))
            .execute(Some(8 * MB as u64))
            .serve_off();
        spec.policy.heal_grace_secs = heal_grace;
        spec
    }

    fn master(&self, spec: &MasterSpec) -> anyhow::Result<Master> {
        Master::start(&self.tb, self.dir.path(), spec)
    }

    /// The action log's committed records about this cluster.
    fn records(&self) -> anyhow::Result<Vec<ActionRecord>> {
        action_records(&self.tb, &self.log_topic)
    }

    /// The alerts received: (kind, severity, subject, status).
    fn alerts(&self) -> Vec<(String, String, String, String)> {
        self.hook
            .received()
            .iter()
            .map(|(_, v)| {
                let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                (s("kind"), s("severity"), s("subject"), s("status"))
            })
            .collect()
    }

    fn wait_alert(&self, kind: &str, timeout: Duration) -> anyhow::Result<()> {
        wait_until(timeout, &format!("a {kind} alert at the webhook"), || {
            Ok(self.alerts().iter().any(|a| a.0 == kind && a.3 == "firing"))
        })
        .with_context(|| format!("received: {:?}", self.alerts()))
    }
}

/// Actions the log holds (intents and outcomes; state records such as modes are not actions).
fn actions(recs: &[ActionRecord]) -> Vec<String> {
    recs.iter()
        .filter(|r| r.phase != Phase::State)
        .map(action)
        .collect()
}

/// One record as `<id> <phase> <kind> by <master>`.
fn action(r: &ActionRecord) -> String {
    let (id, kind) = (&r.action_id, r.kind.name());
    format!("{id} {:?} {kind} by {}", r.phase, r.master_id)
}

fn lines_with(m: &Master, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
    m.lines().into_iter().filter(|l| pred(l)).collect()
}

fn executing(l: &Value) -> bool {
    let m = field(l, "message");
    m.starts_with("executing the plan") || m.starts_with("resuming")
}

/// Must show 1: a rolling restart of every broker (graceful stop, start, registered, then
/// `KMEDIC_ROLLING_SPACING_SECS` before the next) with agents and the master running, each
/// broker back well inside the heal grace (60 s, the minimum without the test-only flag) and
/// the alert graces (defaults): no plan executed, no action recorded, nothing at the webhook.
fn rolling_restart(ctx: &Ctx) -> anyhow::Result<()> {
    let spacing = std::env::var("KMEDIC_ROLLING_SPACING_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2u64);
    let s = setup(ctx)?;
    let mut m = s.master(&s.spec("master", "m1", Some(60)))?;
    m.wait_all_ok(&s.tb, Duration::from_secs(120))?;
    let ids = s.tb.broker_ids();
    let _restore = Restore::new(&s.tb, &ids);
    let t0 = Instant::now();
    let mut down = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let t = Instant::now();
        s.tb.restart(id)?;
        down.push((id, t.elapsed().as_secs_f64()));
        m.check_running()?;
        if i + 1 < ids.len() {
            std::thread::sleep(Duration::from_secs(spacing));
        }
    }
    s.tb.wait_healthy(Duration::from_secs(120))?;
    // The master sees every broker fine again, a few rounds after the last restart.
    m.wait_all_ok(&s.tb, Duration::from_secs(60))?;
    std::thread::sleep(Duration::from_secs(3));
    let took = t0.elapsed().as_secs_f64();
    // What the master saw of the restarts (finding kind, broker), in order, once each.
    let mut seen: Vec<(String, u64)> = Vec::new();
    for l in lines_with(&m, |l| {
        field(l, "message").starts_with("finding") && num(l, "broker").is_some()
    }) {
        let k = (
            field(&l, "finding").to_string(),
            num(&l, "broker").unwrap_or(0),
        );
        if !seen.contains(&k) {
            seen.push(k);
        }
    }
    // Leader work after the restarts (preferred-leader elections, zero-byte reorders to spread
    // leaders, once the cluster is stable) is allowed; copying data or healing is not.
    let acted = lines_with(&m, executing);
    let copied: Vec<&Value> = acted
        .iter()
        .filter(|l| num(l, "bytes").unwrap_or(1) > 0)
        .collect();
    let heals = lines_with(&m, |l| field(l, "verdict").contains("heal dead brokers"));
    let recs = s.records()?;
    let moved: Vec<String> = recs
        .iter()
        .filter(|r| {
            !matches!(
                r.kind,
                ActionKind::Reassign { bytes: 0, .. }
                    | ActionKind::ElectLeaders
                    | ActionKind::SetThrottle { .. }
                    | ActionKind::ClearThrottle
                    | ActionKind::SetMode { .. }
            )
        })
        .map(action)
        .collect();
    let alerts = s.alerts();
    tracing::info!(
        spacing_secs = spacing,
        took_secs = took,
        ?down,
        ?seen,
        "rolling restart done"
    );
    ensure!(
        copied.is_empty(),
        "the master executed a plan that copies data: {copied:?}"
    );
    ensure!(heals.is_empty(), "the master decided a heal: {heals:?}");
    ensure!(
        moved.is_empty(),
        "the action log holds data moves or replacements: {moved:?}"
    );
    ensure!(alerts.is_empty(), "the webhook was paged: {alerts:?}");
    tracing::info!(leader_plans = acted.len(), actions = ?actions(&recs),
        "rolling restart: leader work only");
    Ok(())
}

/// Must show 2: master A runs; master B of the same group starts and fences it. A broker is
/// killed; A (heal grace 5 s) decides first, and its first write (the plan's intent) fails:
/// it logs FENCED, pages `fenced_master`, and records and submits nothing. B (heal grace 15 s)
/// heals the broker, and every action in the log is B's.
fn fenced_master(ctx: &Ctx) -> anyhow::Result<()> {
    let s = setup(ctx)?;
    topic_on_victim(&s.tb, 6)?;
    let mut a = s.master(&s.spec("master-a", "a", Some(5)))?;
    a.wait_all_ok(&s.tb, Duration::from_secs(120))?;
    let mut b = s.master(&s.spec("master-b", "b", Some(15)))?;
    b.wait_line(Duration::from_secs(60), "master b's action log open", |l| {
        field(l, "message").starts_with("action log open")
    })?;
    b.wait_all_ok(&s.tb, Duration::from_secs(120))?;
    let _restore = Restore::new(&s.tb, &[VICTIM]);
    let killed = Instant::now();
    s.tb.kill(VICTIM)?;
    let fenced = a.wait_line(
        Duration::from_secs(90),
        "master a to learn it is fenced",
        |l| field(l, "message").starts_with("FENCED"),
    )?;
    let fenced_after = killed.elapsed().as_secs_f64();
    s.wait_alert("fenced_master", Duration::from_secs(30))?;
    b.wait_line(
        Duration::from_secs(120),
        "master b to finish the heal",
        |l| field(l, "message").starts_with("plan finished"),
    )?;
    let healed_after = killed.elapsed().as_secs_f64();
    // A keeps running and deciding, but acts no more.
    std::thread::sleep(Duration::from_secs(3));
    a.check_running()?;
    let recs = s.records()?;
    let by_a: Vec<String> = actions(&recs)
        .into_iter()
        .filter(|r| r.ends_with(" by a"))
        .collect();
    ensure!(
        by_a.is_empty(),
        "the fenced master recorded actions: {by_a:?}"
    );
    ensure!(
        recs.iter()
            .any(|r| r.master_id == "b" && matches!(r.kind, ActionKind::Reassign { .. })),
        "master b recorded no reassignment: {:?}",
        actions(&recs)
    );
    let finished_a = lines_with(&a, |l| field(l, "message").starts_with("plan finished"));
    ensure!(
        finished_a.is_empty(),
        "the fenced master finished a plan: {finished_a:?}"
    );
    let pages: Vec<_> = s
        .alerts()
        .into_iter()
        .filter(|a| a.0 == "fenced_master")
        .collect();
    ensure!(
        pages.len() == 1 && pages[0].2 == "master a",
        "expected one fenced_master page about master a: {pages:?}"
    );
    tracing::info!(%fenced, fenced_after_secs = fenced_after, healed_after_secs = healed_after,
        actions = actions(&recs).len(), "the first master was fenced; only the second acted");
    Ok(())
}

fn api(
    addr: std::net::SocketAddr,
) -> impl Fn(&str, &str, Option<&Value>) -> anyhow::Result<(u16, Value)> {
    move |method, path, body| http(addr, method, path, Some(TOKEN), body)
}

/// Must show 3: maintenance, dry-run and the mass-failure override set through the API (with
/// the token) are in the action log and restored by a restarted master (GET shows them, and
/// `persisted`); then a killed broker is decided but not acted on (maintenance, then dry-run
/// once maintenance is switched off), and nothing is executed or recorded as an action.
fn modes_survive_restart(ctx: &Ctx) -> anyhow::Result<()> {
    let s = setup(ctx)?;
    topic_on_victim(&s.tb, 1)?;
    let addr = free_addr()?;
    let spec = s.spec("master-1", "m", Some(5)).serve_at(addr, Some(TOKEN));
    let mut m = s.master(&spec)?;
    m.wait_all_ok(&s.tb, Duration::from_secs(120))?;
    let call = api(addr);
    let base = "/api/clusters/testbed";
    let (st, _) = http(
        addr,
        "PUT",
        &format!("{base}/dry-run"),
        None,
        Some(&json!({"enabled": true})),
    )?;
    ensure!(st == 401, "a mutation without the token answered {st}");
    for mode in ["dry-run", "maintenance", "mass-failure-override"] {
        let (st, v) = call(
            "PUT",
            &format!("{base}/{mode}"),
            Some(&json!({"enabled": true})),
        )?;
        ensure!(st == 200, "PUT {mode} answered {st}: {v}");
    }
    let modes = |recs: &[ActionRecord]| -> usize {
        recs.iter()
            .filter(|r| matches!(r.kind, ActionKind::SetMode { on: true, .. }))
            .count()
    };
    wait_until(
        Duration::from_secs(20),
        "three modes in the action log",
        || Ok(modes(&s.records()?) == 3),
    )?;
    ensure!(
        m.child.stop(Duration::from_secs(20)),
        "the master did not stop on SIGTERM"
    );
    let mut m = s.master(&MasterSpec {
        name: "master-2".into(),
        ..spec
    })?;
    m.wait_line(
        Duration::from_secs(60),
        "modes restored from the action log",
        |l| field(l, "message") == "modes restored from the action log",
    )?;
    // The API may answer a moment before the loop has restored the controls (they are
    // restored right after the line above): wait for `persisted`, then check every mode.
    let mut controls = Value::Null;
    wait_until(
        Duration::from_secs(30),
        "the restarted master's API with its controls restored",
        || {
            if let Ok((200, v)) = call("GET", &format!("{base}/dry-run"), None) {
                controls = v;
            }
            Ok(controls["persisted"] == json!(true))
        },
    )
    .with_context(|| format!("last answer: {controls}"))?;
    for k in [
        "dry_run",
        "maintenance",
        "mass_failure_override",
        "persisted",
    ] {
        ensure!(
            controls[k] == json!(true),
            "after the restart GET says {k} is not true: {controls}"
        );
    }
    m.wait_all_ok(&s.tb, Duration::from_secs(120))?;
    let _restore = Restore::new(&s.tb, &[VICTIM]);
    s.tb.kill(VICTIM)?;
    let held = m.wait_line(
        Duration::from_secs(60),
        "the heal decided and held for maintenance",
        |l| {
            field(l, "verdict") == "hold"
                && field(l, "rule") == "maintenance"
                && field(l, "finding") == "DeadBroker"
                && field(l, "brokers") == format!("[{VICTIM}]")
        },
    )?;
    let (st, v) = call(
        "PUT",
        &format!("{base}/maintenance"),
        Some(&json!({"enabled": false})),
    )?;
    ensure!(st == 200, "PUT maintenance off answered {st}: {v}");
    let dry = m.wait_line(
        Duration::from_secs(30),
        "the heal decided as a dry run",
        |l| field(l, "verdict").starts_with("dry-run") && field(l, "rule") == "dry_run",
    )?;
    // A few rounds with the heal decided, planned and not executed.
    std::thread::sleep(Duration::from_secs(5));
    let acted = lines_with(&m, executing);
    ensure!(acted.is_empty(), "the master executed a plan: {acted:?}");
    let recs = s.records()?;
    ensure!(
        actions(&recs).is_empty(),
        "actions recorded: {:?}",
        actions(&recs)
    );
    tracing::info!(%controls, held = field(&held, "message"), dry = field(&dry, "message"),
        "modes survived the restart; the heal was decided and not acted on");
    Ok(())
}

/// The action log on a bootstrap where nothing listens: the master starts, observes and
/// decides, pages `action_log_unavailable` (critical), and never executes.
fn no_action_log(ctx: &Ctx) -> anyhow::Result<()> {
    let s = setup(ctx)?;
    let dead = free_addr()?;
    let mut spec = s.spec("master", "m", None);
    if let Some(log) = &mut spec.action_log {
        log.bootstrap = Some(dead.to_string());
        log.write_timeout_ms = Some(3000);
        log.replay_timeout_secs = Some(3);
    }
    let mut m = s.master(&spec)?;
    s.wait_alert("action_log_unavailable", Duration::from_secs(90))?;
    m.check_running()?;
    let not_acting = lines_with(&m, |l| field(l, "message").starts_with("NOT ACTING"));
    ensure!(!not_acting.is_empty(), "no NOT ACTING line:\n{}", m.tail());
    let pages: Vec<_> = s
        .alerts()
        .into_iter()
        .filter(|a| a.0 == "action_log_unavailable")
        .collect();
    ensure!(pages.len() == 1 && pages[0].1 == "critical", "{pages:?}");
    Ok(())
}
