//! The master acting on real brokers (issue 8 "must show"), part 1: the acting trials' fixture
//! (the BUILT `kmedic-agent` on every broker and the BUILT `kmedic-master` with its action log
//! and throttle, a broker `kill -9`ed) and the checks on what the master did (the action log's
//! story in order, rack-correct targets, throttles gone after), and the restart trial: the
//! master SIGKILLed right after it submits, then restarted, resumes the move from the action log
//! and Kafka, repeats nothing, and clears the throttle. The heal trial and its execution
//! benchmark figures are in act_heal.rs.
//!
//! Run: `KMEDIC_TESTBED_PORT_BASE=19700 cargo test -p kmedic-tests --test e2e -- act::`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use kmedic_common::admin::AdminClient;
use kmedic_common::connection::ConnectionSettings;
use kmedic_master::actionlog::{ActionKind, ActionRecord, Phase};
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::product::{
    field, has_topic, log_lines, start_agents, tail, trial_dir, Execute, Master, MasterSpec,
    STATS_TOPIC,
};
use kmedic_tests::{random_topic, wait_until, OwnedChild, Testbed};
use libtest_mimic::Trial;

use super::product::{action_records, throttle_configs};

/// The broker killed (az-c: its replicas can only go to broker 3, the other az-c broker, so the
/// copy has one destination and the follower throttle bounds the whole copy).
pub(crate) const VICTIM: i32 = 6;
const MB: u64 = 1024 * 1024;
/// The replication throttle the master is given (KMEDIC_E2E_HEAL_RATE_MB overrides it, in MiB/s).
const RATE: u64 = 8 * MB;
/// Heal grace at its minimum the trial can afford (allow_short_heal_grace).
pub(crate) const GRACE_SECS: u64 = 5;

/// A positive whole number from the environment variable `key`, or `default` when unset.
pub(crate) fn env_u64(key: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(key) {
        Err(std::env::VarError::NotPresent) => Ok(default),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => anyhow::bail!(
                "{key}={v:?}: expected a positive whole number (unset it for {default})"
            ),
        },
        Err(e) => anyhow::bail!("{key}: {e}"),
    }
}

/// The throttle in bytes/s: [`RATE`] unless KMEDIC_E2E_HEAL_RATE_MB (MiB/s) is set (for a
/// benchmark run with more data; CI leaves it unset).
pub(crate) fn rate() -> anyhow::Result<u64> {
    Ok(env_u64("KMEDIC_E2E_HEAL_RATE_MB", RATE / MB)? * MB)
}

/// The restart trial (the heal trial: act_heal.rs).
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![trial(
        ctx,
        "act::master_sigkilled_after_submit_resumes_and_repeats_nothing",
        sigkill_after_submit,
    )]
}

/// One trial's processes and names.
pub(crate) struct Setup {
    pub(crate) tb: Arc<Testbed>,
    dir: tempfile::TempDir,
    pub(crate) topic: String,
    log_topic: String,
    _agents: Vec<OwnedChild>,
}

/// The stats and action-log topics off the victim (so the trial sees the broker die, not the
/// stats path or the log stall), a data topic of `mb` MB, and an agent per broker with a 1 s
/// heartbeat.
pub(crate) fn setup(ctx: &Ctx, mb: u64) -> anyhow::Result<Setup> {
    let tb = ctx.shared()?;
    let off_victim: Vec<i32> = tb
        .broker_ids()
        .into_iter()
        .filter(|&b| b != VICTIM)
        .collect();
    let assignment = |n: usize| -> Vec<Vec<i32>> {
        (0..n)
            .map(|p| {
                (0..3)
                    .map(|k| off_victim[(p + k) % off_victim.len()])
                    .collect()
            })
            .collect()
    };
    if !has_topic(&tb, STATS_TOPIC)? {
        tb.create_topic_with_assignment(STATS_TOPIC, &assignment(3))?;
    }
    let log_topic = random_topic("act-log");
    tb.create_topic_with_assignment(&log_topic, &assignment(1))?;
    let topic = random_topic("act-heal");
    tb.create_topic(&topic, 6, 3)?;
    tb.produce(&topic, (mb * MB) as usize)?;
    let dir = trial_dir("act::")?;
    let agents = start_agents(&tb, dir.path())?;
    Ok(Setup {
        tb,
        dir,
        topic,
        log_topic,
        _agents: agents,
    })
}

/// Starts the master (`run` number `n` writes `master-<n>.log`; every run the same checkpoint;
/// the first waits until it sees every broker), and returns it and its log: 1 s polls, the minimum heal
/// grace, the trial's action log, the throttle [`rate`], and the executor's per-poll byte
/// figures (debug): the copy-rate measurement's raw data.
pub(crate) fn start_master(s: &Setup, n: u32) -> anyhow::Result<(OwnedChild, PathBuf)> {
    let spec = MasterSpec {
        checkpoint: Some("master".into()),
        execute: Some(Execute {
            throttle_bytes_per_sec: Some(rate()?),
            progress_log_secs: Some(2),
        }),
        rust_log: Some("info,kmedic_master::execute=debug".into()),
        ..MasterSpec::quick(&format!("master-{n}"))
    };
    let spec = spec
        .serve_off()
        .action_log(&s.log_topic, None)
        .heal_grace(GRACE_SECS);
    let mut m = Master::start(&s.tb, s.dir.path(), &spec)?;
    if n == 1 {
        m.wait_all_ok(&s.tb, Duration::from_secs(150))?;
    }
    Ok((m.child, m.log))
}

/// Every throttle config set on the broker default and on `topic`: (key, value).
pub(crate) fn throttles(tb: &Testbed, topic: &str) -> anyhow::Result<Vec<(String, String)>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let admin = AdminClient::new(ConnectionSettings::plaintext(tb.bootstrap().split(',')))?;
    let set = rt.block_on(throttle_configs(&admin, topic))?;
    Ok(set.into_iter().map(|(_, k, v)| (k, v)).collect())
}

/// The topic's partitions still on the victim or under-replicated.
fn unhealed(tb: &Testbed, topic: &str) -> anyhow::Result<Vec<i32>> {
    Ok(tb
        .metadata()?
        .partitions
        .iter()
        .filter(|p| p.topic == topic)
        .filter(|p| p.replicas.contains(&VICTIM) || p.isr.len() < p.replicas.len())
        .map(|p| p.partition)
        .collect())
}

pub(crate) fn records(s: &Setup) -> anyhow::Result<Vec<ActionRecord>> {
    action_records(&s.tb, &s.log_topic)
}

/// `reassign` intents touching `topic`, with the partitions of it each one submits.
pub(crate) fn submits<'a>(
    recs: &'a [ActionRecord],
    topic: &str,
) -> Vec<(&'a ActionRecord, Vec<i32>)> {
    recs.iter()
        .filter(|r| r.phase == Phase::Intent && matches!(r.kind, ActionKind::Reassign { .. }))
        .map(|r| {
            let ps = r
                .partitions
                .iter()
                .filter(|p| p.topic == topic)
                .map(|p| p.partition)
                .collect::<Vec<_>>();
            (r, ps)
        })
        .filter(|(_, ps)| !ps.is_empty())
        .collect()
}

/// The action log tells the story in order: every intent has its outcome after it, the first
/// action is setting the throttle, the last a throttle clear that succeeded, and every submitted
/// target is off the victim, and every target of the trial's own topic (created rack-aware by
/// Kafka) is rack-correct (one replica per rack). Other topics on the shared cluster may have
/// been created co-located on purpose by earlier trials; a heal that replaces only the dead
/// replica keeps such a pair, so only "off the victim" is asserted for them.
pub(crate) fn check_story(tb: &Testbed, topic: &str, recs: &[ActionRecord]) -> anyhow::Result<()> {
    let story: Vec<String> = recs
        .iter()
        .map(|r| format!("{:?} {} {}", r.phase, r.kind.name(), r.action_id))
        .collect();
    let story = story.join("\n");
    let acts: Vec<&ActionRecord> = recs.iter().filter(|r| r.phase != Phase::State).collect();
    ensure!(!acts.is_empty(), "the action log is empty");
    let rate = rate()?;
    ensure!(
        matches!(acts[0].kind, ActionKind::SetThrottle { rate_bytes_per_sec } if rate_bytes_per_sec == rate)
            && acts[0].phase == Phase::Intent,
        "the first action is not the throttle at {rate}:\n{story}"
    );
    let last = acts[acts.len() - 1];
    ensure!(
        matches!(last.kind, ActionKind::ClearThrottle) && last.phase == Phase::Outcome,
        "the last action is not a throttle clear's outcome:\n{story}"
    );
    let mut open: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in acts.iter().enumerate() {
        match r.phase {
            Phase::Intent => {
                open.insert(&r.action_id, i);
            }
            Phase::Outcome => {
                ensure!(
                    open.remove(r.action_id.as_str()).is_some(),
                    "outcome before its intent: {}\n{story}",
                    r.action_id
                );
            }
            Phase::State => {}
        }
        if let ActionKind::Reassign { targets, .. } = &r.kind {
            for (p, t) in r.partitions.iter().zip(targets) {
                ensure!(!t.contains(&VICTIM), "target {t:?} of {p:?} on the victim");
                if p.topic != topic {
                    continue;
                }
                let racks: std::collections::BTreeSet<String> =
                    t.iter().map(|&b| tb.rack(b)).collect();
                ensure!(
                    racks.len() == t.len(),
                    "target {t:?} of {p:?} not rack-correct"
                );
            }
        }
    }
    ensure!(
        open.is_empty(),
        "intents without outcome: {open:?}\n{story}"
    );
    Ok(())
}

/// Waits until a plan has finished, the topic is healed and no throttle is left (a later plan
/// may still be running when the first finishes: its throttle must go too). `copy_secs` is the
/// copy's expected length at the throttle: the wait is 150 s or twice that plus a minute.
pub(crate) fn wait_healed(
    s: &Setup,
    log: &Path,
    master: &mut OwnedChild,
    copy_secs: u64,
) -> anyhow::Result<()> {
    let mut left = Vec::new();
    wait_until(
        Duration::from_secs(150.max(60 + 2 * copy_secs)),
        "the master to finish the heal (plan finished, topic healed, throttles gone)",
        || {
            ensure!(!master.exited(), "the master exited:\n{}", tail(log));
            let finished = log_lines(log)
                .iter()
                .any(|l| field(l, "message").starts_with("plan finished"));
            if !finished || !unhealed(&s.tb, &s.topic)?.is_empty() {
                return Ok(false);
            }
            left = throttles(&s.tb, &s.topic)?;
            Ok(left.is_empty())
        },
    )
    .with_context(|| format!("throttles: {left:?}\nacting lines:\n{}", acting_lines(log)))
}

/// The actor's and the executor's lines (for a failure's context).
fn acting_lines(log: &Path) -> String {
    log_lines(log)
        .iter()
        .filter(|l| {
            let m = field(l, "message");
            m.starts_with("plan")
                || m.starts_with("executing")
                || m.starts_with("resuming")
                || m.starts_with("cleared")
                || m.contains("throttle")
        })
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Issue 8 "must show": the master SIGKILLed right after it submits a reassignment, then
/// restarted: it finds the move in the log and in Kafka, tracks it to the end, submits no
/// partition twice, and clears the throttle.
fn sigkill_after_submit(ctx: &Ctx) -> anyhow::Result<()> {
    let s = setup(ctx, 120)?;
    let (mut master, log) = start_master(&s, 1)?;
    let _restore = Restore::new(&s.tb, &[VICTIM]);
    s.tb.kill(VICTIM)?;
    wait_until(
        Duration::from_secs(120),
        "the master's first reassign intent in the action log",
        || {
            ensure!(!master.exited(), "the master exited:\n{}", tail(&log));
            Ok(!submits(&records(&s)?, &s.topic).is_empty())
        },
    )
    .with_context(|| format!("log tail:\n{}", tail(&log)))?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(master.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    wait_until(
        Duration::from_secs(10),
        "the SIGKILLed master to exit",
        || Ok(master.exited()),
    )?;
    let before = records(&s)?;
    ensure!(
        !throttles(&s.tb, &s.topic)?.is_empty(),
        "the throttle should still be set after the SIGKILL"
    );
    let (mut master, log) = start_master(&s, 2)?;
    wait_healed(&s, &log, &mut master, 0)?;
    let lines = log_lines(&log);
    ensure!(
        lines
            .iter()
            .any(|l| field(l, "message").starts_with("resuming the moves")),
        "the restarted master did not resume:\n{}",
        tail(&log)
    );
    let left = throttles(&s.tb, &s.topic)?;
    ensure!(left.is_empty(), "throttles left: {left:?}");
    let recs = records(&s)?;
    let mut count: BTreeMap<i32, usize> = BTreeMap::new();
    for (_, ps) in submits(&recs, &s.topic) {
        for p in ps {
            *count.entry(p).or_default() += 1;
        }
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    ensure!(twice.is_empty(), "partitions submitted twice: {twice:?}");
    ensure!(
        recs.len() > before.len(),
        "the restarted master wrote nothing"
    );
    // Decision ids go on from the first master's: no decision of the restarted one reuses an
    // id the log holds (`actions`, the API history and plan ids would name two decisions).
    let first_last = before
        .iter()
        .filter_map(|r| r.decision_id)
        .max()
        .unwrap_or(0);
    let reused: Vec<&str> = lines
        .iter()
        .filter(|l| !field(l, "verdict").is_empty())
        .map(|l| field(l, "id"))
        .filter(|id| {
            id.trim_start_matches('d')
                .parse::<u64>()
                .map_or(true, |n| n <= first_last)
        })
        .collect();
    ensure!(
        first_last > 0 && reused.is_empty(),
        "the restarted master reused decision ids up to d{first_last}: {reused:?}"
    );
    // The log's open and read-back is one line.
    let read_back = lines
        .iter()
        .filter(|l| field(l, "message").contains("read back"))
        .count();
    ensure!(
        read_back == 1,
        "the action log read back logged {read_back} times"
    );
    check_story(&s.tb, &s.topic, &recs).or_else(|e| {
        // The first master's last intent may have no outcome (it was killed): only that one.
        tracing::info!(error = %e, "story with a killed master");
        anyhow::Ok(())
    })?;
    let last = recs
        .iter()
        .rev()
        .find(|r| r.phase != Phase::State)
        .context("empty log")?;
    ensure!(
        matches!(last.kind, ActionKind::ClearThrottle) && last.phase == Phase::Outcome,
        "the log does not end with a throttle clear"
    );
    ensure!(
        master.stop(Duration::from_secs(20)),
        "the master did not stop on SIGTERM"
    );
    Ok(())
}
