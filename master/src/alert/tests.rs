//! Alerts reach a local webhook receiver (axum on 127.0.0.1:0), de-duplicated.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use super::*;
use crate::config::{WebhookConfig, WebhookFormat};
use kmedic_common::backoff::RetryPolicy;

#[derive(Clone, Default)]
struct Received {
    bodies: Arc<Mutex<Vec<(String, Value)>>>,
    /// Answer 503 this many times first.
    fail_first: Arc<Mutex<u32>>,
}

async fn hook(State(r): State<Received>, Path(name): Path<String>, body: String) -> StatusCode {
    {
        let mut f = r.fail_first.lock().unwrap();
        if *f > 0 {
            *f -= 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    r.bodies.lock().unwrap().push((name, v));
    StatusCode::OK
}

async fn receiver(fail_first: u32) -> (String, Received) {
    let r = Received::default();
    *r.fail_first.lock().unwrap() = fail_first;
    let app = Router::new()
        .route("/{name}", post(hook))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), r)
}

fn cfg(base: &str) -> AlertConfig {
    AlertConfig {
        webhooks: vec![
            WebhookConfig {
                url: format!("{base}/generic"),
                format: WebhookFormat::Generic,
                routing_key: None,
            },
            WebhookConfig {
                url: format!("{base}/slack"),
                format: WebhookFormat::Slack,
                routing_key: None,
            },
            WebhookConfig {
                url: format!("{base}/pd"),
                format: WebhookFormat::Pagerduty,
                routing_key: Some("RK".into()),
            },
        ],
        retry: RetryPolicy {
            initial_delay_ms: 10,
            max_delay_ms: 50,
            deadline_ms: 5_000,
        },
        ..AlertConfig::default()
    }
}

#[tokio::test]
async fn alerts_reach_the_webhooks_deduplicated_and_resolved() {
    let (base, got) = receiver(1).await;
    let c = cfg(&base);
    c.validate().unwrap();
    let mut alerter = Alerter::new(&c).unwrap();
    let a = Alert::new(
        AlertKind::HealImpossible,
        "prod",
        "orders-3",
        "no target in az-b",
    );
    // Three rounds with the alert active, then it clears.
    let mut ds = Vec::new();
    ds.extend(alerter.update(std::slice::from_ref(&a), 0));
    ds.extend(alerter.update(std::slice::from_ref(&a), 5_000));
    ds.extend(alerter.update(std::slice::from_ref(&a), 10_000));
    ds.extend(alerter.update(&[], 15_000));
    assert_eq!(ds.len(), 2, "{ds:?}");
    for d in &ds {
        assert!(alerter.notifier().send(d).await.is_empty());
    }
    let bodies = got.bodies.lock().unwrap().clone();
    // The first POST got a 503 and was retried: every sink has a trigger and a resolve.
    let of = |n: &str| -> Vec<Value> {
        bodies
            .iter()
            .filter(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let g = of("generic");
    assert_eq!(g.len(), 2, "{bodies:?}");
    assert_eq!(g[0]["status"], "firing");
    assert_eq!(g[0]["kind"], "heal_impossible");
    assert_eq!(g[1]["status"], "resolved");
    let pd = of("pd");
    assert_eq!(pd.len(), 2);
    assert_eq!(pd[0]["event_action"], "trigger");
    assert_eq!(pd[1]["event_action"], "resolve");
    assert_eq!(pd[0]["dedup_key"], pd[1]["dedup_key"]);
    assert_eq!(of("slack").len(), 2);
}

#[tokio::test]
async fn a_4xx_is_not_retried_and_is_reported() {
    let (base, _got) = receiver(0).await;
    let mut c = cfg(&base);
    c.webhooks = vec![WebhookConfig {
        url: format!("{base}/missing/path"),
        format: WebhookFormat::Generic,
        routing_key: None,
    }];
    let n = Notifier::new(&c).unwrap();
    let a = Alert::new(AlertKind::FencedMaster, "prod", "master", "fenced");
    let start = std::time::Instant::now();
    let errors = n.send(&Delivery::Trigger(a)).await;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].reason.contains("404"), "{:?}", errors[0]);
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn the_command_sink_gets_argv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("args");
    let c = AlertConfig {
        command: vec![
            "sh".into(),
            "-c".into(),
            format!(r#"printf '%s\n' "$@" > {}"#, out.display()),
            "alert".into(),
        ],
        ..AlertConfig::default()
    };
    let n = Notifier::new(&c).unwrap();
    let a = Alert::new(AlertKind::ReplacementFailed, "p;rm", "broker 1", "exit 3");
    assert!(n.send(&Delivery::Trigger(a)).await.is_empty());
    let text = std::fs::read_to_string(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "trigger",
            "replacement_failed",
            "p;rm",
            "kmedic/p;rm/replacement_failed/broker 1"
        ]
    );
}
