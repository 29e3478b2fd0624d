//! Host replacement carried out by the BUILT `kmedic-master` (issue 8 item 3), on a private
//! 3-broker cluster (one broker per rack) with the built agent on every broker:
//!
//! - a broker is killed; past the replace grace the master runs the user's command (a script
//!   this trial writes, run with argv `[script, broker id, hostname, cluster id]`, no shell),
//!   which asks the "cloud" (this trial) for a new host by writing a request file;
//! - the trial brings the same id back on an EMPTY log dir (`Testbed::replace`); the broker
//!   held replicas no one else could take (every topic has a replica on every broker), so it
//!   has real data to copy back; the master watches it and records it caught up;
//! - the action log holds intent, outcome (the command's argv and captured output) and the
//!   catch-up, in that order;
//! - the master is restarted, a second broker is killed within `replace.period_secs`: it is
//!   not replaced, and `replacement_held_back` reaches the webhook;
//! - KIP-1066 facts behind not cordoning a host being replaced (ARCHITECTURE.md, `replace/`):
//!   Kafka refuses a dead broker's `cordoned.log.dirs` through another broker and through the
//!   controller; a cordon set while a broker was alive survives its replacement on an empty disk.
//!
//! And a destination broker killed mid-heal (private 6-broker cluster): only its moves are
//! cancelled and planned again, the others finish, the topic ends fully replicated.
//!
//! Private clusters, so the shared one keeps its placement and nothing else is copied.
//! Run: `KMEDIC_TESTBED_PORT_BASE=20200 cargo test -p kmedic-tests --test e2e -- replace_live::`

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::IncrementalAlterConfigsRequest;
use kafka_protocol::protocol::StrBytes;
use kmedic_common::admin::conn::Connection;
use kmedic_common::admin::AdminClient;
use kmedic_common::connection::ConnectionSettings;
use kmedic_master::actionlog::{ActionKind, ActionRecord, Phase};
use kmedic_tests::e2e::{trial, Ctx};
use kmedic_tests::product::{
    field, num, start_agents, trial_dir, Master, MasterSpec, Replace, Webhook,
};
use kmedic_tests::{random_topic, wait_until, Testbed};
use libtest_mimic::Trial;
use serde_json::Value;

use super::product::action_records;

/// The broker replaced (az-c).
const VICTIM: i32 = 3;
/// The broker killed within the period (az-b).
const SECOND: i32 = 2;
const MB: usize = 1024 * 1024;

/// The trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(
            ctx,
            "replace_live::master_replaces_a_dead_broker_watches_it_catch_up_and_holds_the_next",
            replace_live,
        ),
        trial(
            ctx,
            "replace_live::a_destination_killed_mid_heal_is_replanned_and_the_rest_finishes",
            dead_destination,
        ),
    ]
}

/// The user's replacement command: asks for a new host by writing its arguments to `request`
/// (one a line, written then renamed so the trial never reads half a file) and says so.
fn write_script(dir: &Path, request: &Path) -> anyhow::Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("replace-host.sh");
    let tmp = request.with_extension("tmp");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {tmp:?} && mv {tmp:?} {request:?} || exit 1\n\
             echo \"asked the cloud for a new host for broker $1 ($2) of cluster $3\"\n"
        ),
    )?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

/// Kafka's answer to `cordoned.log.dirs = *` on BROKER resource `broker`, sent to `addr` (a
/// live broker, or the controller's own listener): `(error code, message)`.
fn cordon_via(addr: &str, broker: i32) -> anyhow::Result<(i16, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let t = Duration::from_secs(15);
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let conn = Connection::negotiate(stream, addr.into(), "kmedic-e2e", 1 << 20, t).await?;
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(4) // BROKER
                .with_resource_name(StrBytes::from_string(broker.to_string()))
                .with_configs(vec![AlterableConfig::default()
                    .with_name(StrBytes::from_static_str("cordoned.log.dirs"))
                    .with_config_operation(0) // SET
                    .with_value(Some(StrBytes::from_static_str("*")))]),
        ]);
        let resp = conn.send(&req, t).await?;
        let r = resp
            .responses
            .first()
            .context("no resource in the answer")?;
        let msg = r.error_message.as_ref().map(|m| m.to_string());
        anyhow::Ok((r.error_code, msg.unwrap_or_default()))
    })
}

fn admin<T>(
    tb: &Testbed,
    f: impl AsyncFnOnce(&AdminClient) -> kmedic_common::admin::Result<T>,
) -> anyhow::Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let admin = AdminClient::new(ConnectionSettings::plaintext(tb.bootstrap().split(',')))?;
        Ok(f(&admin).await?)
    })
}

fn is_cordoned(tb: &Testbed, broker: i32) -> anyhow::Result<bool> {
    admin(tb, async |a| a.is_broker_cordoned(broker).await)
}

/// Cordons (or uncordons) a live broker through the broker itself, as kmedic does.
fn cordon(tb: &Testbed, broker: i32, on: bool) -> anyhow::Result<()> {
    admin(tb, async |a| match on {
        true => a.cordon_broker(broker).await,
        false => a.uncordon_broker(broker).await,
    })
}

fn story(recs: &[ActionRecord]) -> Vec<String> {
    recs.iter()
        .map(|r| format!("{:?} {} {:?}", r.phase, r.kind.name(), r.brokers))
        .collect()
}

fn replace_live(ctx: &Ctx) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let tb = ctx.own(3)?;
    let all = tb.broker_ids();
    ensure!(all == vec![1, 2, 3], "brokers {all:?}");
    let everywhere = |n: usize| -> Vec<Vec<i32>> {
        (0..n)
            .map(|p| (0..3).map(|k| all[(p + k) % 3]).collect())
            .collect()
    };
    tb.create_topic_with_assignment("__kmedic_stats", &everywhere(3))?;
    let log_topic = random_topic("rpl-log");
    tb.create_topic_with_assignment(&log_topic, &everywhere(1))?;
    // Every partition on every broker: the victim's replicas have nowhere else to go, so the
    // replaced broker must copy them back before it is caught up.
    let data = random_topic("rpl-data");
    tb.create_topic_with_assignment(&data, &everywhere(3))?;
    tb.produce(&data, 12 * MB)?;

    let trial = trial_dir("replace_live::")?;
    let dir = trial.path();
    let _agents = start_agents(&tb, dir)?;
    let hook = Webhook::start()?;
    let request = dir.join("replace-request");
    let script = write_script(dir, &request)?;
    let spec = |name: &str, id: &str| {
        let spec = MasterSpec {
            replace: Some(Replace {
                command: script.clone(),
                timeout_secs: 30,
                period_secs: 3600,
            }),
            ..MasterSpec::quick(name)
        };
        let mut spec = spec
            .action_log(&log_topic, Some(id))
            .webhook(hook.url("/generic"))
            .execute(Some(8 * MB as u64))
            .serve_off()
            .heal_grace(5);
        spec.policy.replace_grace_secs = Some(5);
        spec
    };
    let mut m = Master::start(&tb, dir, &spec("master-1", "m1"))?;
    m.wait_all_ok(&tb, Duration::from_secs(90))?;

    // An operator's cordon (KIP-1066) on the victim while it is alive: checked after its host
    // is replaced.
    cordon(&tb, VICTIM, true)?;

    // 1. The victim dies; the master runs the command once, past the grace.
    let killed = Instant::now();
    tb.kill(VICTIM)?;
    wait_until(
        Duration::from_secs(60),
        "the replacement command's request",
        || {
            m.check_running()?;
            Ok(request.is_file())
        },
    )
    .with_context(|| m.tail())?;
    let asked_after = killed.elapsed().as_secs_f64();
    let argv: Vec<String> = std::fs::read_to_string(&request)?
        .lines()
        .map(str::to_string)
        .collect();
    let host = tb
        .broker_addr(VICTIM)
        .rsplit_once(':')
        .map(|(h, _)| h.to_string())
        .context("broker address without a port")?;
    ensure!(
        argv == vec![VICTIM.to_string(), host, tb.cluster_id()],
        "the command got {argv:?}"
    );

    // 2. The "cloud" brings the same id back on an empty disk; the master sees it catch up.
    tb.replace(VICTIM)?;
    let back_after = killed.elapsed().as_secs_f64();
    // It came back on an empty disk still cordoned: the cordon lives in the metadata log, not
    // on the disk. Its owner (here the operator) lifts it.
    ensure!(
        is_cordoned(&tb, VICTIM)?,
        "a replaced broker lost the cordon it had before"
    );
    cordon(&tb, VICTIM, false)?;
    let caught = m.wait_line(
        Duration::from_secs(90),
        "the master to record the replaced broker caught up",
        |l| {
            field(l, "message") == "replaced broker caught up"
                && num(l, "broker") == Some(VICTIM as u64)
        },
    )?;
    let caught_after = killed.elapsed().as_secs_f64();
    ensure!(
        num(&caught, "partitions").unwrap_or(0) >= 7,
        "the replaced broker should hold every partition again: {caught}"
    );
    let recs = action_records(&tb, &log_topic)?;
    let mine: Vec<&ActionRecord> = recs
        .iter()
        .filter(|r| r.brokers.contains(&VICTIM))
        .filter(|r| {
            matches!(
                r.kind,
                ActionKind::ReplaceHost { .. } | ActionKind::CaughtUp { .. }
            )
        })
        .collect();
    let order: Vec<(Phase, &str)> = mine.iter().map(|r| (r.phase, r.kind.name())).collect();
    ensure!(
        order
            == vec![
                (Phase::Intent, "replace_host"),
                (Phase::Outcome, "replace_host"),
                (Phase::State, "caught_up"),
            ],
        "the action log's replacement story: {:?}",
        story(&recs)
    );
    ensure!(
        mine[0].decision_id.is_some() && mine[0].reason.contains("replace_grace_secs"),
        "the intent names its decision and rule: {:?}",
        mine[0]
    );
    let out = mine[1].outcome.as_ref().context("no outcome")?;
    let cmd = out.command.as_ref().context("no command output")?;
    ensure!(
        cmd.success()
            && cmd.argv.len() == 4
            && cmd
                .stdout
                .contains(&format!("new host for broker {VICTIM}")),
        "the outcome's command: {cmd:?}"
    );

    // 3. A restarted master, a second dead broker within the period: held back, paged.
    m.child.stop(Duration::from_secs(10));
    std::fs::remove_file(&request)?;
    let mut m = Master::start(&tb, dir, &spec("master-2", "m2"))?;
    m.wait_all_ok(&tb, Duration::from_secs(60))?;
    tb.kill(SECOND)?;
    // Why kmedic does not cordon the host it replaces (ARCHITECTURE.md): Kafka 4.3 refuses a
    // dead broker's cordon both ways. A broker takes only its own id (INVALID_REQUEST); the
    // controller takes a cordoned.log.dirs change only when it shrinks the value
    // (INVALID_CONFIG). Should a later Kafka accept either, this fails: revisit then.
    let via_broker = cordon_via(&tb.broker_addr(1), SECOND)?;
    let via_controller = cordon_via(&format!("127.0.0.1:{}", tb.controller_port()), SECOND)?;
    ensure!(
        via_broker.0 == 42 && via_broker.1.contains("Unexpected broker id"),
        "a live broker's answer to a dead broker's cordon: {via_broker:?}"
    );
    ensure!(
        via_controller.0 == 40 && via_controller.1.contains("must be a subset"),
        "the controller's answer to a dead broker's cordon: {via_controller:?}"
    );
    let subject = format!("broker {SECOND}");
    let paged = |v: &Value| {
        field(v, "kind") == "replacement_held_back"
            && field(v, "subject") == subject
            && field(v, "status") == "firing"
    };
    wait_until(
        Duration::from_secs(60),
        "a replacement_held_back page",
        || {
            m.check_running()?;
            Ok(hook.received().iter().any(|(_, v)| paged(v)))
        },
    )
    .with_context(|| format!("received: {:?}\n{}", hook.received(), m.tail()))?;
    let held = m.wait_line(Duration::from_secs(10), "the held-back log line", |l| {
        field(l, "message") == "replacement held back by the rate limit"
    })?;
    ensure!(
        field(&held, "reason").contains("replace.period_secs"),
        "held back by the period: {held}"
    );
    // A round later: still one replacement in the log, and no request.
    std::thread::sleep(Duration::from_secs(2));
    ensure!(!request.exists(), "the command ran again");
    let recs = action_records(&tb, &log_topic)?;
    let intents = recs
        .iter()
        .filter(|r| r.phase == Phase::Intent && matches!(r.kind, ActionKind::ReplaceHost { .. }))
        .count();
    ensure!(intents == 1, "replacements: {:?}", story(&recs));
    let pages = hook.received().iter().filter(|(_, v)| paged(v)).count();
    ensure!(pages == 1, "one page, de-duplicated: {:?}", hook.received());
    tracing::info!(
        asked_after_secs = asked_after,
        back_after_secs = back_after,
        caught_up_after_secs = caught_after,
        took_secs = t0.elapsed().as_secs_f64(),
        story = ?story(&recs),
        alerts = ?hook.received().iter().map(|(_, v)| format!("{} {} {}", field(v, "kind"),
            field(v, "subject"), field(v, "status"))).collect::<Vec<_>>(),
        "replaced once through the master; the second held back"
    );
    Ok(())
}

/// Must show, through the built master: a destination broker killed during a heal. A private
/// 6-broker cluster (two per rack); broker 4 (az-a) holds one replica of each partition of an
/// RF 2 topic, so its replicas may go to broker 1 (az-a) or to 3 or 6 (az-c). Once the heal
/// copies (1 MiB/s throttle), one az-c destination that took some of the moves, but not all,
/// is killed: the master cancels only the moves to it, the others finish, the cancelled ones
/// are planned again onto live brokers, and the topic ends fully replicated off both dead
/// brokers.
fn dead_destination(ctx: &Ctx) -> anyhow::Result<()> {
    const V: i32 = 4;
    let t0 = Instant::now();
    let tb = ctx.own(6)?;
    // kmedic's own topics on brokers 1 and 2 (two racks: rack-correct for RF 2), off everything
    // this trial kills.
    tb.create_topic_with_assignment("__kmedic_stats", &[vec![1, 2], vec![2, 1], vec![1, 2]])?;
    let log_topic = random_topic("dst-log");
    tb.create_topic_with_assignment(&log_topic, &[vec![1, 2]])?;
    let data = random_topic("dst-data");
    let partners = [2, 5, 2, 5];
    let assignment: Vec<Vec<i32>> = partners.iter().map(|&p| vec![V, p]).collect();
    tb.create_topic_with_assignment(&data, &assignment)?;
    tb.produce(&data, 24 * MB)?;

    let trial = trial_dir("replace_live::")?;
    let dir = trial.path();
    let _agents = start_agents(&tb, dir)?;
    let mut spec = MasterSpec::quick("master")
        .action_log(&log_topic, Some("m1"))
        .execute(Some(MB as u64))
        .serve_off()
        .heal_grace(5);
    // Two dead of six (one per rack) is not a mass failure here (default 10 %).
    spec.policy.mass_failure_max_percent = Some(40);
    let mut m = Master::start(&tb, dir, &spec)?;
    m.wait_all_ok(&tb, Duration::from_secs(90))?;

    tb.kill(V)?;
    // The heal's destination of each data partition, as Kafka lists it while it copies.
    let mut dest: std::collections::BTreeMap<i32, i32> = Default::default();
    let mut victim_d = None;
    wait_until(
        Duration::from_secs(60),
        "data moves to an az-c broker and elsewhere",
        || {
            m.check_running()?;
            for p in tb.metadata()?.partitions.iter().filter(|p| p.topic == data) {
                let orig = [V, partners[p.partition as usize]];
                if let Some(&b) = p.replicas.iter().find(|b| !orig.contains(b)) {
                    dest.entry(p.partition).or_insert(b);
                }
            }
            victim_d = [3, 6]
                .into_iter()
                .find(|d| dest.values().any(|b| b == d) && dest.values().any(|b| b != d));
            Ok(victim_d.is_some())
        },
    )
    .with_context(|| format!("destinations seen: {dest:?}\n{}", m.tail()))?;
    let d = victim_d.context("no destination")?;
    tb.kill(d)?;
    let killed = Instant::now();
    let to_d: Vec<String> = dest
        .iter()
        .filter(|(_, &b)| b == d)
        .map(|(p, _)| format!("{data}-{p}"))
        .collect();

    // Fully replicated, off both dead brokers.
    wait_until(
        Duration::from_secs(90),
        "the data topic fully replicated off the dead brokers",
        || {
            m.check_running()?;
            let md = tb.metadata()?;
            let mine: Vec<_> = md.partitions.iter().filter(|p| p.topic == data).collect();
            Ok(mine.len() == partners.len()
                && mine.iter().all(|p| {
                    p.replicas.len() == 2
                        && p.isr.len() == 2
                        && !p.replicas.contains(&V)
                        && !p.replicas.contains(&d)
                }))
        },
    )
    .with_context(|| m.tail())?;
    let healed_after = killed.elapsed().as_secs_f64();
    let lines = m.lines();
    let cancelled: Vec<String> = lines
        .iter()
        .filter(|l| field(l, "message").starts_with("destination died during the move"))
        .map(|l| {
            format!(
                "{} {}",
                field(l, "partition"),
                num(l, "broker").unwrap_or(0)
            )
        })
        .collect();
    let expected: Vec<String> = to_d.iter().map(|p| format!("{p} {d}")).collect();
    ensure!(
        cancelled.iter().all(|c| expected.contains(c)) && !cancelled.is_empty(),
        "cancelled {cancelled:?}, expected only the moves to broker {d}: {expected:?}"
    );
    // The moves to live brokers finished where they were first sent.
    let done: Vec<String> = lines
        .iter()
        .filter(|l| field(l, "message") == "move done")
        .map(|l| field(l, "partition").to_string())
        .collect();
    let carried_on: Vec<String> = dest
        .iter()
        .filter(|(_, &b)| b != d)
        .map(|(p, _)| format!("{data}-{p}"))
        .collect();
    ensure!(
        carried_on.iter().all(|p| done.contains(p)),
        "moves not to broker {d} should finish: {carried_on:?}, done: {done:?}"
    );
    tracing::info!(destinations = ?dest, killed_destination = d, ?cancelled,
        healed_after_kill_secs = healed_after, took_secs = t0.elapsed().as_secs_f64(),
        "a destination died mid-heal: only its moves cancelled and re-planned");
    Ok(())
}
