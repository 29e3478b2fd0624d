//! Where alerts go: webhooks (generic JSON, Slack incoming webhook, PagerDuty Events v2) and a
//! command (argv, no shell). Payload shapes are pure functions (tested); delivery retries with
//! the workspace's bounded backoff.

use std::time::Duration;

use serde_json::{json, Value};

use super::dedup::Delivery;
use super::kind::Alert;
use crate::config::{AlertConfig, WebhookConfig, WebhookFormat};

/// kmedic's own payload.
pub fn generic_payload(d: &Delivery, wall_ms: u64) -> Value {
    let (status, a) = parts(d);
    json!({
        "source": "kmedic",
        "status": status,
        "key": a.key(),
        "kind": a.kind,
        "severity": a.severity,
        "cluster": a.cluster,
        "subject": a.subject,
        "summary": a.summary,
        "details": a.details,
        "wall_ms": wall_ms,
    })
}

/// A Slack incoming-webhook message.
pub fn slack_payload(d: &Delivery) -> Value {
    let (status, a) = parts(d);
    let icon = match (status, a.severity.name()) {
        ("resolved", _) => ":white_check_mark:",
        (_, "critical") => ":rotating_light:",
        (_, "error") => ":red_circle:",
        _ => ":warning:",
    };
    let word = if status == "resolved" {
        "RESOLVED"
    } else {
        a.severity.name()
    };
    json!({
        "text": format!(
            "{icon} [kmedic] {word} {}: {} ({}, {})",
            a.cluster, a.summary, a.kind, a.subject
        ),
    })
}

/// A PagerDuty Events API v2 event (trigger or resolve, with `dedup_key`).
pub fn pagerduty_payload(d: &Delivery, routing_key: &str) -> Value {
    match d {
        Delivery::Trigger(a) => json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "dedup_key": a.key(),
            "payload": {
                "summary": format!("[kmedic] {}: {}", a.cluster, a.summary),
                "source": format!("kmedic/{}", a.cluster),
                "severity": a.severity.name(),
                "component": a.subject,
                "group": a.cluster,
                "class": a.kind.name(),
                "custom_details": a.details,
            },
        }),
        Delivery::Resolve(a) => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": a.key(),
        }),
    }
}

/// The command's argv: `[command..., trigger|resolve, kind, cluster, key, json]`.
pub fn command_argv(command: &[String], d: &Delivery, wall_ms: u64) -> Vec<String> {
    let (status, a) = parts(d);
    let action = if status == "resolved" {
        "resolve"
    } else {
        "trigger"
    };
    let mut argv = command.to_vec();
    argv.extend([
        action.to_string(),
        a.kind.name().to_string(),
        a.cluster.clone(),
        a.key(),
        generic_payload(d, wall_ms).to_string(),
    ]);
    argv
}

/// One failed attempt: whether another is worth it, and why.
#[derive(Debug)]
struct Attempt {
    retriable: bool,
    reason: String,
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

fn parts(d: &Delivery) -> (&'static str, &Alert) {
    match d {
        Delivery::Trigger(a) => ("firing", a),
        Delivery::Resolve(a) => ("resolved", a),
    }
}

/// Sends deliveries to every configured sink. Cheap to clone (spawn `send` off the round).
#[derive(Debug, Clone)]
pub struct Notifier {
    cfg: AlertConfig,
    /// For http:// webhooks.
    http: reqwest::Client,
    /// For https:// webhooks (see [`super::https`]).
    tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
}

/// A delivery that failed after its retries.
#[derive(Debug, thiserror::Error)]
#[error("alert to {sink} failed: {reason}")]
pub struct SendError {
    /// The sink (URL or program).
    pub sink: String,
    /// Why.
    pub reason: String,
}

impl Notifier {
    /// From the `[alert]` section.
    pub fn new(cfg: &AlertConfig) -> Result<Self, SendError> {
        let err = |reason: String| SendError {
            sink: "http client".into(),
            reason,
        };
        // The admin client's TLS: rustls with the ring provider, webpki roots or `ca_file`.
        let mut tls = kmedic_common::connection::ConnectionSettings::plaintext(["unused:0"]);
        tls.tls = Some(kmedic_common::connection::TlsSettings {
            ca_file: cfg.ca_file.clone(),
            cert_file: None,
            key_file: None,
            verify_hostname: true,
        });
        let tls = tls
            .tls_client_config()
            .map_err(|e| err(format!("alert.ca_file: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(cfg.timeout_ms))
            .build()
            .map_err(|e| err(e.to_string()))?;
        Ok(Self {
            cfg: cfg.clone(),
            http,
            tls: std::sync::Arc::new(tls),
        })
    }

    /// True when no sink is configured (alerts are only logged).
    pub fn is_empty(&self) -> bool {
        self.cfg.webhooks.is_empty() && self.cfg.command.is_empty()
    }

    /// Sends one delivery to every sink; returns the failures (each already logged).
    pub async fn send(&self, d: &Delivery) -> Vec<SendError> {
        let wall = crate::clock::wall_ms();
        let mut errors = Vec::new();
        for w in &self.cfg.webhooks {
            let body = match w.format {
                WebhookFormat::Generic => generic_payload(d, wall),
                // Slack has no resolve: a resolve is a "RESOLVED" message.
                WebhookFormat::Slack => slack_payload(d),
                WebhookFormat::Pagerduty => {
                    pagerduty_payload(d, w.routing_key.as_deref().unwrap_or_default())
                }
            };
            if let Err(e) = self.post(w, &body).await {
                tracing::error!(error = %e, "alert not delivered");
                errors.push(e);
            }
        }
        if !self.cfg.command.is_empty() {
            let argv = command_argv(&self.cfg.command, d, wall);
            let out = crate::replace::command::run(
                &argv,
                Duration::from_millis(self.cfg.timeout_ms),
                4096,
            )
            .await;
            if !out.success() {
                let e = SendError {
                    sink: self.cfg.command[0].clone(),
                    reason: format!(
                        "exit {:?}, timed out {}, stderr {:?}",
                        out.exit_code, out.timed_out, out.stderr
                    ),
                };
                tracing::error!(error = %e, "alert not delivered");
                errors.push(e);
            }
        }
        errors
    }

    async fn post(&self, w: &WebhookConfig, body: &Value) -> Result<(), SendError> {
        let bytes = body.to_string();
        let err = |reason: String| SendError {
            sink: w.url.clone(),
            reason,
        };
        kmedic_common::backoff::retry(
            "alert webhook",
            &self.cfg.retry,
            |_left| {
                let bytes = bytes.clone();
                async move {
                    let status = if w.url.starts_with("https://") {
                        let timeout = Duration::from_millis(self.cfg.timeout_ms);
                        tokio::time::timeout(timeout, super::https::post(&self.tls, &w.url, &bytes))
                            .await
                            .unwrap_or_else(|_| {
                                Err(format!("no answer in {} ms", self.cfg.timeout_ms))
                            })
                    } else {
                        self.http
                            .post(&w.url)
                            .header("content-type", "application/json")
                            .body(bytes)
                            .send()
                            .await
                            .map(|r| r.status().as_u16())
                            .map_err(|e| e.to_string())
                    }
                    .map_err(|reason| Attempt {
                        retriable: true,
                        reason,
                    })?;
                    if (200..300).contains(&status) {
                        Ok(())
                    } else {
                        // 429 and 5xx are worth another try; other 4xx are not.
                        Err(Attempt {
                            retriable: status == 429 || status >= 500,
                            reason: format!("HTTP {status}"),
                        })
                    }
                }
            },
            |a: &Attempt| a.retriable,
        )
        .await
        .map_err(|a| err(a.reason))
    }
}

#[cfg(test)]
mod tests {
    use super::super::kind::AlertKind;
    use super::*;

    fn alert() -> Alert {
        let mut a = Alert::new(
            AlertKind::SuspectBroker,
            "prod",
            "broker 3",
            "broker 3 fenced, agent alive",
        );
        a.details = json!({"broker": 3});
        a
    }

    #[test]
    fn pagerduty_trigger_and_resolve_shapes() {
        let t = pagerduty_payload(&Delivery::Trigger(alert()), "RK");
        assert_eq!(t["routing_key"], "RK");
        assert_eq!(t["event_action"], "trigger");
        assert_eq!(t["dedup_key"], "kmedic/prod/suspect_broker/broker 3");
        assert_eq!(t["payload"]["severity"], "warning");
        assert_eq!(t["payload"]["source"], "kmedic/prod");
        assert_eq!(t["payload"]["class"], "suspect_broker");
        assert_eq!(t["payload"]["custom_details"]["broker"], 3);
        assert!(t["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains("broker 3 fenced"));
        let r = pagerduty_payload(&Delivery::Resolve(alert()), "RK");
        assert_eq!(r["event_action"], "resolve");
        assert_eq!(r["dedup_key"], t["dedup_key"]);
        assert!(r.get("payload").is_none());
    }

    #[test]
    fn slack_is_one_text_field() {
        let s = slack_payload(&Delivery::Trigger(alert()));
        let obj = s.as_object().unwrap();
        assert_eq!(obj.len(), 1);
        let text = s["text"].as_str().unwrap();
        assert!(
            text.contains("[kmedic] warning prod: broker 3 fenced"),
            "{text}"
        );
        let r = slack_payload(&Delivery::Resolve(alert()));
        assert!(r["text"].as_str().unwrap().contains("RESOLVED"));
    }

    #[test]
    fn generic_has_status_key_and_kind() {
        let g = generic_payload(&Delivery::Trigger(alert()), 5);
        assert_eq!(g["status"], "firing");
        assert_eq!(g["kind"], "suspect_broker");
        assert_eq!(g["key"], "kmedic/prod/suspect_broker/broker 3");
        assert_eq!(g["wall_ms"], 5);
        let argv = command_argv(&["/bin/page".into()], &Delivery::Resolve(alert()), 5);
        assert_eq!(
            argv[..5],
            [
                "/bin/page",
                "resolve",
                "suspect_broker",
                "prod",
                "kmedic/prod/suspect_broker/broker 3"
            ]
        );
        let j: Value = serde_json::from_str(&argv[5]).unwrap();
        assert_eq!(j["status"], "resolved");
    }
}
