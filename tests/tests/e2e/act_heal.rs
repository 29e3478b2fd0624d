//! The master acting on real brokers (issue 8 "must show"), part 2: the heal after a broker is
//! `kill -9`ed, carried out by the master itself (throttled, rack-correct, recorded in the action
//! log in order, throttles gone after), and the execution benchmark figures read from its log:
//! the overhead from the grace's end to the submission and the copy rate against the throttle.
//! The fixture and the checks are in act.rs.
//!
//! Run: `KMEDIC_TESTBED_PORT_BASE=19700 cargo test -p kmedic-tests --test e2e -- act::`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use kmedic_master::actionlog::{ActionKind, Phase};
use kmedic_master::execute::FOLLOWER_RATE;
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::product::{field, log_lines, num, segment_bytes, tail};
use kmedic_tests::{wait_until, Testbed};
use libtest_mimic::Trial;
use serde_json::Value;

use super::act::{
    check_story, env_u64, rate, records, setup, start_master, submits, throttles, wait_healed,
    GRACE_SECS, VICTIM,
};

/// The heal trial's data topic in MB (KMEDIC_E2E_HEAL_MB overrides it; the victim holds about
/// half: 6 partitions x 3 replicas over 6 brokers).
const HEAL_MB: u64 = 120;
/// The heal trial.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![trial(
        ctx,
        "act::master_heals_a_killed_broker_throttled_and_logs_it_in_order",
        heal_after_kill,
    )]
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
