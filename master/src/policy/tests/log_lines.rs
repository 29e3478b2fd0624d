//! The decision log as an operator reads it: one event, one line.

use super::{at, cfg, dead_cluster, round};
use crate::detect::tests::NOW;
use crate::detect::FindingKind as K;
use crate::policy::{Policy, PolicyConfig, Verdict};
use crate::service::testlog::capture;

const S: u64 = 1000;

#[test]
fn an_alert_made_with_the_hold_of_its_finding_is_folded_into_the_hold_line() {
    let f = dead_cluster();
    let mut p = Policy::new("c", cfg());
    let (ds, lines) = capture(|| round(&mut p, &f, NOW));
    // Both decisions are still made and returned (recorded, sent, shown as before).
    let of = |v: Verdict| {
        ds.iter()
            .find(|d| d.verdict == v && d.finding == K::DeadBroker)
            .unwrap_or_else(|| panic!("no {v:?} decision: {ds:#?}"))
    };
    let (alert, hold) = (of(Verdict::Alert), of(Verdict::Hold));
    let dead: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("finding=DeadBroker"))
        .collect();
    assert_eq!(dead.len(), 1, "{lines:#?}");
    assert!(
        dead[0].contains(&format!("id={}", hold.id))
            && dead[0].contains(&format!("alert={}", alert.id))
            && dead[0].contains("rule=\"heal_grace\""),
        "{dead:#?}"
    );
    // No finding's evidence is written a second time as `(seen for 0 s)`.
    assert!(!lines.iter().any(|l| l.contains("(seen for")), "{lines:#?}");
    assert!(p.logged_at_info().iter().any(|&said| said));
}

#[test]
fn an_alert_due_later_than_its_hold_keeps_its_own_line() {
    let f = dead_cluster();
    let mut p = Policy::new(
        "c",
        PolicyConfig {
            alert_grace_secs: 60,
            ..cfg()
        },
    );
    let (_, first) = capture(|| p.decide(&f.findings(), &f.view, at(NOW)));
    assert!(!first.iter().any(|l| l.contains("verdict=alert")));
    // The hold is a repeat (debug); the alert, due now, is the news of the round.
    let (ds, later) = capture(|| round(&mut p, &f, NOW + 60 * S));
    let alert = ds
        .iter()
        .find(|d| d.verdict == Verdict::Alert && d.finding == K::DeadBroker)
        .expect("the alert");
    let dead: Vec<&String> = later
        .iter()
        .filter(|l| l.contains("finding=DeadBroker"))
        .collect();
    assert_eq!(dead.len(), 1, "{later:#?}");
    assert!(
        dead[0].contains(&format!("id={}", alert.id)) && dead[0].contains("(seen for 60 s)"),
        "{dead:#?}"
    );
}
