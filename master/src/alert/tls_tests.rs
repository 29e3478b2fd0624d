//! An alert reaches an https webhook whose certificate is signed by `alert.ca_file`, and is
//! refused by one signed by another CA (the public roots do not trust a private CA).

use std::sync::{Arc, Mutex};

use kmedic_common::test_tls::TestCa;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::config::{WebhookConfig, WebhookFormat};

/// An https server on loopback (certificate for `localhost`, signed by `ca`) that answers every
/// request 200 and keeps the bodies. Returns its URL.
async fn https_receiver(ca: &TestCa, bodies: Arc<Mutex<Vec<String>>>) -> String {
    let acceptor = ca.acceptor(&["localhost"]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // One small request: read until the body named by content-length is in.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = tls.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            bodies.lock().unwrap().push(text[end + 4..].to_string());
                            let _ = tls
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                                .await;
                            let _ = tls.shutdown().await;
                            return;
                        }
                    }
                }
            });
        }
    });
    format!("https://localhost:{port}/hook")
}

fn cfg(url: &str, ca_file: &std::path::Path) -> AlertConfig {
    AlertConfig {
        webhooks: vec![WebhookConfig {
            url: url.into(),
            format: WebhookFormat::Generic,
            routing_key: None,
        }],
        ca_file: Some(ca_file.to_path_buf()),
        retry: kmedic_common::backoff::RetryPolicy {
            initial_delay_ms: 10,
            max_delay_ms: 50,
            deadline_ms: 500,
        },
        ..AlertConfig::default()
    }
}

#[tokio::test]
async fn an_alert_reaches_an_https_webhook_trusted_through_ca_file() {
    let (trusted, foreign) = (TestCa::new("alert CA"), TestCa::new("foreign CA"));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let url = https_receiver(&trusted, bodies.clone()).await;
    let a = Alert::new(AlertKind::FencedMaster, "prod", "master m1", "fenced");

    let c = cfg(&url, trusted.pem_path());
    c.validate().unwrap();
    let errors = Notifier::new(&c)
        .unwrap()
        .send(&Delivery::Trigger(a.clone()))
        .await;
    assert!(errors.is_empty(), "{errors:?}");
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(v["kind"], "fenced_master");

    // The same server is not trusted through another CA.
    let errors = Notifier::new(&cfg(&url, foreign.pem_path()))
        .unwrap()
        .send(&Delivery::Trigger(a))
        .await;
    assert_eq!(errors.len(), 1, "an untrusted certificate was accepted");
    assert_eq!(bodies.lock().unwrap().len(), 1);
}
