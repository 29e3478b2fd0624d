//! An alert reaches an https webhook whose certificate is signed by `alert.ca_file`, and is
//! refused by one signed by another CA (the public roots do not trust a private CA).

use std::io::Write;
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::*;
use crate::config::{WebhookConfig, WebhookFormat};

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pem_file: tempfile::NamedTempFile,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let mut pem_file = tempfile::NamedTempFile::new().unwrap();
    pem_file.write_all(issuer.pem().as_bytes()).unwrap();
    Ca { issuer, pem_file }
}

/// An https server on loopback (certificate for `localhost`, signed by `ca`) that answers every
/// request 200 and keeps the bodies. Returns its URL.
async fn https_receiver(ca: &Ca, bodies: Arc<Mutex<Vec<String>>>) -> String {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca.issuer)
        .unwrap();
    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
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
    let (trusted, foreign) = (ca("alert CA"), ca("foreign CA"));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let url = https_receiver(&trusted, bodies.clone()).await;
    let a = Alert::new(AlertKind::FencedMaster, "prod", "master m1", "fenced");

    let c = cfg(&url, trusted.pem_file.path());
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
    let errors = Notifier::new(&cfg(&url, foreign.pem_file.path()))
        .unwrap()
        .send(&Delivery::Trigger(a))
        .await;
    assert_eq!(errors.len(), 1, "an untrusted certificate was accepted");
    assert_eq!(bodies.lock().unwrap().len(), 1);
}
