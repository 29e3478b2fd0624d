//! The master acting, end to end (issue 8 "must show"): the BUILT `kmedic-agent` on every broker
//! and the BUILT `kmedic-master`, a broker `kill -9`ed, and the heal carried out by the master
//! itself: throttled, rack-correct, recorded in the action log in order, throttles gone after.
//! And the master SIGKILLed right after it submits, then restarted: it resumes the move from the
//! action log and Kafka, repeats nothing, and clears the throttle.
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
use kmedic_master::execute::FOLLOWER_RATE;
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::product::{
    field, has_topic, log_lines, num, segment_bytes, start_agents, tail, trial_dir, Execute,
    Master, MasterSpec, STATS_TOPIC,
};
use kmedic_tests::{random_topic, wait_until, OwnedChild, Testbed};
use libtest_mimic::Trial;
use serde_json::Value;

use super::product::{action_records, throttle_configs};

/// The broker killed (az-c: its replicas can only go to broker 3, the other az-c broker, so the
/// copy has one destination and the follower throttle bounds the whole copy).
const VICTIM: i32 = 6;
const MB: u64 = 1024 * 1024;
/// The replication throttle the master is given (KMEDIC_E2E_HEAL_RATE_MB overrides it, in MiB/s).
const RATE: u64 = 8 * MB;
/// The heal trial's data topic in MB (KMEDIC_E2E_HEAL_MB overrides it; the victim holds about
/// half: 6 partitions x 3 replicas over 6 brokers).
const HEAL_MB: u64 = 120;
/// Heal grace at its minimum the trial can afford (allow_short_heal_grace).
const GRACE_SECS: u64 = 5;

/// A positive whole number from the environment variable `key`, or `default` when unset.
fn env_u64(key: &str, default: u64) -> anyhow::Result<u64> {
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
fn rate() -> anyhow::Result<u64> {
    Ok(env_u64("KMEDIC_E2E_HEAL_RATE_MB", RATE / MB)? * MB)
}

/// The acting trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(
            ctx,
            "act::master_heals_a_killed_broker_throttled_and_logs_it_in_order",
            heal_after_kill,
        ),
        trial(
            ctx,
            "act::master_sigkilled_after_submit_resumes_and_repeats_nothing",
            sigkill_after_submit,
        ),
    ]
}

/// One trial's processes and names.
struct Setup {
    tb: Arc<Testbed>,
    dir: tempfile::TempDir,
    topic: String,
    log_topic: String,
    _agents: Vec<OwnedChild>,
}

/// The stats and action-log topics off the victim (so the trial sees the broker die, not the
/// stats path or the log stall), a data topic of `mb` MB, and an agent per broker with a 1 s
/// heartbeat.
fn setup(ctx: &Ctx, mb: u64) -> anyhow::Result<Setup> {
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

/// The bytes of `topic`'s segment files (`*.log`) in broker `id`'s log dir.
fn topic_bytes_on(tb: &Testbed, id: i32, topic: &str) -> anyhow::Result<u64> {
    let prefix = format!("{topic}-");
    let mut total = 0;
    let dir = tb.log_dir(id);
    for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_part = name
            .strip_prefix(&prefix)
            .is_some_and(|p| p.parse::<i32>().is_ok());
        if is_part {
            total += segment_bytes(&e.path());
        }
    }
    Ok(total)
}

/// Starts the master (`run` number `n` writes `master-<n>.log`; every run the same checkpoint;
/// the first waits until it sees every broker), and returns it and its log: 1 s polls, the minimum heal
/// grace, the trial's action log, the throttle [`rate`], and the executor's per-poll byte
/// figures (debug): the copy-rate measurement's raw data.
fn start_master(s: &Setup, n: u32) -> anyhow::Result<(OwnedChild, PathBuf)> {
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

/// A JSON log line's `timestamp` (RFC 3339, UTC) as ms since the Unix epoch.
fn ts_ms(v: &Value) -> Option<u64> {
    let t = field(v, "timestamp");
    let (date, time) = t.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let time = time.trim_end_matches('Z');
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut h = hms.split(':').map(|x| x.parse::<i64>());
    let (hh, mm, ss) = (h.next()?.ok()?, h.next()?.ok()?, h.next()?.ok()?);
    let ms: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((((days * 24 + hh) * 60 + mm) * 60 + ss) as u64 * 1000 + ms as u64)
}

/// Every throttle config set on the broker default and on `topic`: (key, value).
fn throttles(tb: &Testbed, topic: &str) -> anyhow::Result<Vec<(String, String)>> {
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

fn records(s: &Setup) -> anyhow::Result<Vec<ActionRecord>> {
    action_records(&s.tb, &s.log_topic)
}

/// `reassign` intents touching `topic`, with the partitions of it each one submits.
fn submits<'a>(recs: &'a [ActionRecord], topic: &str) -> Vec<(&'a ActionRecord, Vec<i32>)> {
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
fn check_story(tb: &Testbed, topic: &str, recs: &[ActionRecord]) -> anyhow::Result<()> {
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
fn wait_healed(
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

/// Issue 8 "must show": heal after a kill. Records the overhead from the grace's end to the
/// submission and the copy rate against the throttle.
fn heal_after_kill(ctx: &Ctx) -> anyhow::Result<()> {
    let mb = env_u64("KMEDIC_E2E_HEAL_MB", HEAL_MB)?;
    let rate = rate()?;
    let s = setup(ctx, mb)?;
    let victim_bytes = topic_bytes_on(&s.tb, VICTIM, &s.topic)?;
    let (mut master, log) = start_master(&s, 1)?;
    let _restore = Restore::new(&s.tb, &[VICTIM]);
    s.tb.kill(VICTIM)?;
    // The throttle is seen set while the copy runs.
    let mut seen = Vec::new();
    wait_until(
        Duration::from_secs(120),
        "the throttle set by the master",
        || {
            ensure!(!master.exited(), "the master exited:\n{}", tail(&log));
            seen = throttles(&s.tb, &s.topic)?;
            Ok(seen.len() == 4)
        },
    )
    .with_context(|| format!("log tail:\n{}", tail(&log)))?;
    ensure!(
        seen.iter()
            .any(|(k, v)| k == FOLLOWER_RATE && *v == rate.to_string()),
        "{seen:?}"
    );
    wait_healed(&s, &log, &mut master, victim_bytes / rate)?;
    let left = throttles(&s.tb, &s.topic)?;
    ensure!(left.is_empty(), "throttles left after the heal: {left:?}");
    let recs = records(&s)?;
    check_story(&s.tb, &s.topic, &recs)?;
    let subs = submits(&recs, &s.topic);
    ensure!(!subs.is_empty(), "no submission of {} in the log", s.topic);

    // Figures: the grace ends GRACE_SECS after the DeadBroker finding; the Act decision is the
    // first round after that; the submission is the first reassign intent.
    let lines = log_lines(&log);
    let dead = lines
        .iter()
        .find(|l| field(l, "finding") == "DeadBroker" && num(l, "broker") == Some(VICTIM as u64))
        .and_then(ts_ms)
        .context("no DeadBroker finding in the log")?;
    let act = lines
        .iter()
        .find(|l| field(l, "verdict").starts_with("act heal dead brokers"))
        .and_then(ts_ms)
        .context("no heal Act decision in the log")?;
    let first_submit = recs
        .iter()
        .find(|r| r.phase == Phase::Intent && matches!(r.kind, ActionKind::Reassign { .. }))
        .map(|r| r.wall_ms)
        .context("no reassign intent")?;
    let finished = lines
        .iter()
        .find(|l| field(l, "message").starts_with("plan finished"))
        .context("no plan finished line")?;
    let copied = num(finished, "copied_bytes").unwrap_or(0);
    let end = ts_ms(finished).unwrap_or(first_submit);
    let avg = copied as f64 * 1000.0 / end.saturating_sub(first_submit).max(1) as f64;
    let peak = lines
        .iter()
        .filter(|l| field(l, "message") == "plan progress")
        .filter_map(|l| num(l, "rate_bytes_per_sec"))
        .max()
        .unwrap_or(0);
    // The copy phase alone: until the executor's per-poll figures (debug "move bytes" lines)
    // first show every byte copied. The end-to-end figure above also holds the last move's
    // confirmation (ISR, metadata), the elections and the verified throttle clear.
    let mut per_move: BTreeMap<String, u64> = BTreeMap::new();
    let mut all_copied_ms = None;
    for l in &lines {
        let bytes = match field(l, "message") {
            "move bytes" => num(l, "copied_bytes"),
            "move done" => num(l, "bytes"),
            _ => None,
        };
        let Some(bytes) = bytes else { continue };
        per_move.insert(field(l, "partition").to_string(), bytes);
        if per_move.values().sum::<u64>() >= copied {
            all_copied_ms = ts_ms(l);
            break;
        }
    }
    let copy_phase = all_copied_ms.map(|t| {
        copied as f64 * 1000.0 / t.saturating_sub(first_submit).max(1) as f64 / rate as f64
    });
    let grace_end = dead + GRACE_SECS * 1000;
    tracing::info!(
        copy_phase_rate_vs_throttle = ?copy_phase,
        grace_end_to_submit_ms = first_submit as i64 - grace_end as i64,
        act_decision_to_submit_ms = first_submit as i64 - act as i64,
        copied_bytes = copied,
        copy_secs = end.saturating_sub(first_submit) as f64 / 1000.0,
        avg_rate_vs_throttle = avg / rate as f64,
        peak_rate_vs_throttle = peak as f64 / rate as f64,
        throttle = rate,
        topic_mb = mb,
        victim_topic_bytes = victim_bytes,
        "EXECUTION BENCHMARK: heal after kill"
    );
    ensure!(
        first_submit.saturating_sub(act) <= 5_000,
        "submission {} ms after the Act decision (> 5 s)",
        first_submit.saturating_sub(act)
    );
    ensure!(
        master.stop(Duration::from_secs(20)),
        "the master did not stop on SIGTERM"
    );
    Ok(())
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
