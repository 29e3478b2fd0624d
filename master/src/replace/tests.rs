use super::*;
use crate::actionlog::{restore, MemoryJournal};
use crate::observe::view::{BrokerView, PartitionView};

const H: u64 = 3600 * 1000;

fn cfg(script: &str) -> ReplaceConfig {
    ReplaceConfig {
        command: vec!["sh".into(), "-c".into(), script.into(), "replace".into()],
        timeout_secs: 10,
        ..ReplaceConfig::default()
    }
}

#[tokio::test]
async fn runs_once_with_argv_then_holds_the_next_and_the_window_survives_a_restart() {
    let j = MemoryJournal::default();
    let mut r = Replacer::new(
        cfg(r#"for a in "$@"; do printf '[%s]' "$a"; done"#),
        "clu$ter",
        "m",
        vec![],
    );
    let now = crate::clock::wall_ms();
    let out = r
        .replace(
            &j,
            3,
            "host;reboot $(id)",
            Some(DecisionId(4)),
            "dead 31 min",
            now,
        )
        .await
        .unwrap();
    let Replaced::Ran {
        succeeded, outcome, ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert!(succeeded);
    let cmd = outcome.command.unwrap();
    assert_eq!(cmd.stdout, "[3][host;reboot $(id)][clu$ter]");

    // Intent then outcome, in that order.
    let recs = j.records();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].phase, crate::actionlog::Phase::Intent);
    assert_eq!(recs[0].decision_id, Some(4));
    assert_eq!(recs[1].phase, crate::actionlog::Phase::Outcome);

    // A second dead broker in the window is held back (concurrency first: 3 not caught up).
    let held = r.replace(&j, 5, "h5", None, "", now + H).await.unwrap();
    assert!(matches!(
        held,
        Replaced::HeldBack(Gate::HeldByConcurrency { .. })
    ));
    assert_eq!(
        r.replace(&j, 3, "h3", None, "", now + H).await.unwrap(),
        Replaced::AlreadyReplacing
    );

    // Broker 3 catches up: recorded once.
    let mut v = ClusterView::default();
    v.brokers.insert(
        3,
        BrokerView {
            id: 3,
            rack: None,
            host: "h".into(),
            port: 1,
            fenced: false,
        },
    );
    v.partitions.push(PartitionView {
        topic: "t".into(),
        partition: 0,
        leader: Some(3),
        replicas: vec![3, 1],
        isr: vec![3, 1],
        offline_replicas: vec![],
    });
    assert_eq!(r.watch(&j, &v).await.unwrap().len(), 1);
    assert!(r.watch(&j, &v).await.unwrap().is_empty());
    assert!(r.replacing().is_empty());
    let held = r.replace(&j, 5, "h5", None, "", now + H).await.unwrap();
    assert!(matches!(
        held,
        Replaced::HeldBack(Gate::HeldByPeriod { .. })
    ));

    // A restart: a new Replacer from the log still holds the window.
    let restored = restore(j.records()).cluster("clu$ter");
    let mut r2 = Replacer::new(cfg("exit 0"), "clu$ter", "m2", restored.replacements);
    let held = r2
        .replace(&j, 5, "h5", None, "", now + 2 * H)
        .await
        .unwrap();
    assert!(matches!(
        held,
        Replaced::HeldBack(Gate::HeldByPeriod { .. })
    ));
    let ok = r2
        .replace(&j, 5, "h5", None, "", now + 13 * H)
        .await
        .unwrap();
    assert!(matches!(
        ok,
        Replaced::Ran {
            succeeded: true,
            ..
        }
    ));
}

#[tokio::test]
async fn a_fenced_journal_means_the_command_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let j = MemoryJournal::default();
    j.fence();
    let mut r = Replacer::new(
        cfg(&format!("touch {}", marker.display())),
        "c",
        "m",
        vec![],
    );
    let e = r.replace(&j, 1, "h", None, "", 0).await.unwrap_err();
    assert!(matches!(e, Error::Journal { source, .. } if source.is_fenced()));
    assert!(!marker.exists());
    assert!(r.history().is_empty());
}

#[tokio::test]
async fn a_failing_or_hanging_command_is_a_failed_outcome() {
    let j = MemoryJournal::default();
    let mut c = cfg("echo out; echo bad >&2; sleep 30");
    c.timeout_secs = 1;
    let mut r = Replacer::new(c, "c", "m", vec![]);
    let out = r.replace(&j, 1, "h", None, "", 0).await.unwrap();
    let Replaced::Ran {
        succeeded, outcome, ..
    } = out.clone()
    else {
        panic!()
    };
    assert!(!succeeded);
    assert_eq!(outcome.status, OutcomeStatus::Failed);
    let alert = out.alert("prod", 1).unwrap();
    assert_eq!(alert.kind, crate::alert::AlertKind::ReplacementFailed);
    assert!(
        alert.summary.contains("killed after replace.timeout_secs"),
        "{}",
        alert.summary
    );
    let cmd = outcome.command.unwrap();
    assert!(cmd.timed_out);
    assert_eq!(cmd.stdout, "out\n");
    assert_eq!(cmd.stderr, "bad\n");
    // A failed replacement is not "being replaced": only the period holds the next one.
    assert!(r.replacing().is_empty());
}

#[tokio::test]
async fn disabled_without_a_command() {
    let j = MemoryJournal::default();
    let mut r = Replacer::new(ReplaceConfig::default(), "c", "m", vec![]);
    assert_eq!(
        r.replace(&j, 1, "h", None, "", 0).await.unwrap(),
        Replaced::Disabled
    );
    assert!(j.records().is_empty());
}
