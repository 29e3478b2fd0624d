//! The action log on real brokers: intents and outcomes written in transactions and read back
//! (read_committed) in order, the state a restarted master restores from them, and the fence: a
//! second writer with the same transactional.id makes the first one's next write fail with
//! `Fenced`, for good. Each trial uses its own topic and transactional id.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context};
use kmedic_common::connection::ConnectionSettings;
use kmedic_master::actionlog::record::{
    new_action_id, ActionKind, ActionRecord, Mode, Outcome, OutcomeStatus, Phase,
};
use kmedic_master::actionlog::{replay, ActionLog, Error};
use kmedic_master::config::{ActionLogConfig, ReplaceConfig};
use kmedic_master::replace::{Gate, Replaced, Replacer};
use kmedic_tests::e2e::{trial, Ctx, Restore};
use kmedic_tests::random_topic;
use libtest_mimic::Trial;

/// The action log's trials.
pub fn trials(ctx: &Arc<Ctx>) -> Vec<Trial> {
    vec![
        trial(
            ctx,
            "actionlog::written_in_order_read_back_and_restored",
            written_read_back_and_restored,
        ),
        trial(
            ctx,
            "actionlog::second_writer_fences_the_first",
            second_writer_fences_the_first,
        ),
        trial(
            ctx,
            "actionlog::replacement_runs_once_is_recorded_and_caught_up",
            replacement_recorded_and_caught_up,
        ),
    ]
}

const CLUSTER: &str = "e2e-cluster";
const REPLAY: Duration = Duration::from_secs(30);

fn setup(ctx: &Ctx) -> anyhow::Result<(ConnectionSettings, ActionLogConfig)> {
    let tb = ctx.shared()?;
    let mut conn = ConnectionSettings::plaintext(tb.bootstrap().split(','));
    conn.client_id = "kmedic-e2e-actionlog".into();
    let topic = random_topic("actions");
    let cfg = ActionLogConfig {
        transactional_id: format!("{topic}-txn"),
        topic,
        master_id: Some("e2e-master".into()),
        write_timeout_ms: 20_000,
        ..ActionLogConfig::default()
    };
    Ok((conn, cfg))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn done(r: &ActionRecord, status: OutcomeStatus) -> ActionRecord {
    r.outcome_of(Outcome {
        status,
        detail: "e2e".into(),
        command: None,
    })
}

fn written_read_back_and_restored(ctx: &Ctx) -> anyhow::Result<()> {
    let (conn, cfg) = setup(ctx)?;
    runtime()?.block_on(async {
        let log = ActionLog::open(&conn, &cfg).await.context("open")?;
        let m = "e2e-master";
        let state = |kind| ActionRecord::state(CLUSTER, new_action_id(m), kind, "operator", m);
        let replace = ActionRecord::intent(
            CLUSTER,
            new_action_id(m),
            None,
            ActionKind::ReplaceHost {
                broker: 2,
                hostname: "b2; echo x".into(),
            },
            "dead 31 min",
            m,
        );
        let reassign = ActionRecord::intent(
            CLUSTER,
            new_action_id(m),
            None,
            ActionKind::Reassign {
                targets: vec![vec![1, 3, 5]],
                bytes: 1 << 20,
            },
            "heal broker 2",
            m,
        );
        let elect = ActionRecord::intent(
            CLUSTER,
            new_action_id(m),
            None,
            ActionKind::ElectLeaders,
            "",
            m,
        );
        let written = vec![
            state(ActionKind::SetMode {
                mode: Mode::Maintenance,
                on: true,
            }),
            state(ActionKind::SetMode {
                mode: Mode::DryRun,
                on: true,
            }),
            state(ActionKind::Decommission { brokers: vec![6] }),
            replace.clone(),
            done(&replace, OutcomeStatus::Succeeded),
            elect.clone(),
            reassign.clone(),
            done(&elect, OutcomeStatus::Succeeded),
        ];
        for r in &written {
            log.write(r)
                .await
                .with_context(|| format!("write {}", r.kind.name()))?;
        }
        // One transaction of two records: both or none.
        let other = ActionRecord::state(
            "another-cluster",
            new_action_id(m),
            ActionKind::SetMode {
                mode: Mode::DryRun,
                on: true,
            },
            "",
            m,
        );
        log.write_all(&[other.clone(), other.clone()]).await?;
        drop(log);

        // A "restarted master": a fresh consumer reads it all back, in order.
        let (read, unparsable) = replay::read_records(&conn, &cfg.topic, REPLAY).await?;
        ensure!(unparsable == 0, "{unparsable} records did not parse");
        ensure!(
            read.len() == written.len() + 2,
            "read {} records",
            read.len()
        );
        ensure!(
            read[..written.len()] == written[..],
            "records came back changed or reordered"
        );

        let restored = replay::read_all(&conn, &cfg.topic, REPLAY).await?;
        let c = restored.cluster(CLUSTER);
        ensure!(
            c.maintenance == Some(true) && c.dry_run == Some(true),
            "modes: {c:?}"
        );
        ensure!(c.decommissioning.contains(&6), "decommission: {c:?}");
        ensure!(
            c.in_flight.len() == 1
                && c.in_flight[0] == reassign
                && c.in_flight[0].phase == Phase::Intent,
            "in flight: {:?}",
            c.in_flight
        );
        ensure!(
            restored.cluster("another-cluster").records == 2,
            "other cluster"
        );
        // The replacement window holds after the restart: broker 2 is not caught up, so a
        // second replacement is held back, and a day later (still not caught up) too.
        let replacer = Replacer::new(ReplaceConfig::default(), CLUSTER, m, c.replacements.clone());
        let now = kmedic_master::clock::wall_ms();
        ensure!(
            matches!(replacer.gate(4, now), Gate::HeldByConcurrency { .. }),
            "gate: {:?}",
            replacer.gate(4, now)
        );
        Ok(())
    })
}

fn second_writer_fences_the_first(ctx: &Ctx) -> anyhow::Result<()> {
    let (conn, cfg) = setup(ctx)?;
    runtime()?.block_on(async {
        let m = "e2e-master";
        let rec = |why: &str| {
            ActionRecord::intent(
                CLUSTER,
                new_action_id(m),
                None,
                ActionKind::ClearThrottle,
                why,
                m,
            )
        };
        let first = ActionLog::open(&conn, &cfg).await.context("open first")?;
        first.write(&rec("first, before the takeover")).await?;
        let second = ActionLog::open(&conn, &cfg).await.context("open second")?;
        let e = first
            .write(&rec("first, after the takeover"))
            .await
            .err()
            .context("the fenced writer's write succeeded")?;
        ensure!(matches!(e, Error::Fenced), "expected Fenced, got {e}");
        ensure!(first.is_fenced(), "is_fenced() is false");
        // Forever after, at once.
        let again = first.write(&rec("first, again")).await.err();
        ensure!(
            matches!(again, Some(Error::Fenced)),
            "second write: {again:?}"
        );
        second
            .write(&rec("second"))
            .await
            .context("the new writer writes")?;

        let (read, _) = replay::read_records(&conn, &cfg.topic, REPLAY).await?;
        let reasons: Vec<&str> = read.iter().map(|r| r.reason.as_str()).collect();
        ensure!(
            reasons == ["first, before the takeover", "second"],
            "committed records: {reasons:?}"
        );
        Ok(())
    })
}

/// A dead broker's host is "replaced": the replacement command runs once with argv (a hostname
/// full of shell metacharacters arrives as one argument), a second one is held back, the
/// testbed then brings the same id back on an empty disk, and the replacer records it caught up
/// once it is in the ISR of all its partitions; the log read back tells the story in order.
fn replacement_recorded_and_caught_up(ctx: &Ctx) -> anyhow::Result<()> {
    const VICTIM: i32 = 4;
    let (conn, cfg) = setup(ctx)?;
    let tb = ctx.shared()?;
    let data_topic = random_topic("replaced");
    tb.create_topic_with_assignment(
        &data_topic,
        // One replica per rack (az-a: 1, 4; az-b: 2, 5; az-c: 3, 6): the shared cluster keeps
        // this topic, and later trials heal it.
        &[vec![VICTIM, 2, 3], vec![3, VICTIM, 5], vec![6, 2, VICTIM]],
    )?;
    tb.produce(&data_topic, 3 << 20)?;

    let dir = tempfile::tempdir()?;
    let args_file = dir.path().join("args");
    let pwned = dir.path().join("pwned");
    let script = format!(
        r#"printf '%s\n' "$@" > {}; echo requested replacement of "$1""#,
        args_file.display()
    );
    let replace_cfg = ReplaceConfig {
        command: vec!["sh".into(), "-c".into(), script, "replace-host".into()],
        timeout_secs: 20,
        ..ReplaceConfig::default()
    };
    let hostname = format!("b4; touch {} $(id) `id` | x", pwned.display());
    let m = "e2e-master";
    let rt = runtime()?;
    let mut admin_settings = conn.clone();
    admin_settings.request_timeout_ms = 5_000;
    let admin = kmedic_common::admin::AdminClient::new(admin_settings)?;
    // The master runs (its log open) when the broker dies. The log's topic is kept off the
    // broker killed (as the master e2e does with the stats topic): a dead leader or ISR member
    // would only slow the writes down to the session timeout.
    tb.create_topic_with_assignment(&cfg.topic, &[vec![1, 2, 3]])?;
    let log = rt.block_on(ActionLog::open(&conn, &cfg))?;
    let _restore = Restore::new(&tb, &[VICTIM]);
    tb.kill(VICTIM)?;
    let mut replacer = rt.block_on(async {
        let mut replacer = Replacer::new(replace_cfg.clone(), CLUSTER, m, vec![]);
        let now = kmedic_master::clock::wall_ms();
        let ran = replacer
            .replace(
                &log,
                VICTIM,
                &hostname,
                None,
                "dead past the replace grace",
                now,
            )
            .await?;
        ensure!(
            matches!(
                ran,
                Replaced::Ran {
                    succeeded: true,
                    ..
                }
            ),
            "first: {ran:?}"
        );
        let held = replacer
            .replace(&log, 5, "b5", None, "dead too", now)
            .await?;
        ensure!(matches!(held, Replaced::HeldBack(_)), "second: {held:?}");
        ensure!(
            held.alert(CLUSTER, 5).is_some(),
            "a held-back replacement raises an alert"
        );
        anyhow::Ok(replacer)
    })?;
    let args = std::fs::read_to_string(&args_file)?;
    ensure!(
        args == format!("{VICTIM}\n{hostname}\n{CLUSTER}\n"),
        "the script got {args:?}"
    );
    ensure!(!pwned.exists(), "a shell ran the hostname");

    // The "cloud" brings the same id back on an empty disk; the replacer watches it catch up.
    tb.replace(VICTIM)?;
    rt.block_on(async {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            let view = kmedic_master::observe::observe_once("e2e", None, &admin).await?;
            if !replacer.watch(&log, &view).await?.is_empty() {
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "broker {VICTIM} not caught up after 90 s: {:?}",
                kmedic_master::replace::catch_up(&view, VICTIM)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        ensure!(
            replacer.replacing().is_empty(),
            "still replacing after catch-up"
        );

        let (read, _) = replay::read_records(&conn, &cfg.topic, REPLAY).await?;
        let story: Vec<(Phase, &str)> = read.iter().map(|r| (r.phase, r.kind.name())).collect();
        ensure!(
            story
                == [
                    (Phase::Intent, "replace_host"),
                    (Phase::Outcome, "replace_host"),
                    (Phase::State, "caught_up"),
                ],
            "story: {story:?}"
        );
        let out = read[1].outcome.as_ref().and_then(|o| o.command.as_ref());
        ensure!(
            out.is_some_and(|c| c.stdout.contains("requested replacement of 4")),
            "outcome without the command's output: {:?}",
            read[1].outcome
        );
        // A restarted master: the window still holds the next replacement back.
        let restored = replay::read_all(&conn, &cfg.topic, REPLAY).await?;
        let again = Replacer::new(
            replace_cfg,
            CLUSTER,
            "e2e-master-2",
            restored.cluster(CLUSTER).replacements,
        );
        let gate = again.gate(5, kmedic_master::clock::wall_ms());
        ensure!(
            matches!(
                gate,
                Gate::HeldByPeriod {
                    last_broker: VICTIM,
                    ..
                }
            ),
            "after restart: {gate:?}"
        );
        Ok(())
    })
}
