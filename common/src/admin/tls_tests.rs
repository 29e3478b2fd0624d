//! TLS handshakes against a local rustls server with generated certificates: CA file, hostname
//! verification on and off, and a foreign CA that must still be refused.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::transport::Dialer;
use super::Error;
use crate::connection::{ConnectionSettings, SecurityProtocol, TlsSettings};

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

/// A TLS server on loopback presenting a certificate for `names`, signed by `ca`. Returns its
/// port.
async fn server(ca: &Ca, names: &[&str]) -> u16 {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = CertificateParams::new(names)
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
        let mut open = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(tls) = acceptor.accept(tcp).await {
                open.push(tls);
            }
        }
    });
    port
}

fn dialer(ca: &Ca, verify_hostname: bool) -> Dialer {
    let mut s = ConnectionSettings::plaintext(["127.0.0.1:9093"]);
    s.security_protocol = SecurityProtocol::Ssl;
    s.tls = Some(TlsSettings {
        ca_file: Some(ca.pem_file.path().to_path_buf()),
        cert_file: None,
        key_file: None,
        verify_hostname,
    });
    Dialer::new(s).unwrap()
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn handshake_succeeds_with_the_ca_file_and_a_matching_name() {
    let ca = ca("test CA");
    let port = server(&ca, &["127.0.0.1", "localhost"]).await;
    let addr = format!("127.0.0.1:{port}");
    dialer(&ca, true).stream(&addr, "b", T).await.unwrap();
}

#[tokio::test]
async fn a_name_mismatch_fails_unless_hostname_verification_is_off() {
    let ca = ca("test CA");
    let port = server(&ca, &["broker.other.example"]).await;
    let addr = format!("127.0.0.1:{port}");
    let e = dialer(&ca, true).stream(&addr, "b", T).await.err().unwrap();
    assert!(
        matches!(&e, Error::Tls { detail, .. } if detail.contains("not valid for")),
        "{e}"
    );
    dialer(&ca, false).stream(&addr, "b", T).await.unwrap();
}

#[tokio::test]
async fn without_hostname_verification_the_chain_is_still_verified() {
    let (trusted, foreign) = (ca("trusted CA"), ca("foreign CA"));
    let port = server(&foreign, &["127.0.0.1"]).await;
    let addr = format!("127.0.0.1:{port}");
    let e = dialer(&trusted, false)
        .stream(&addr, "b", T)
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&e, Error::Tls { detail, .. } if detail.contains("UnknownIssuer")),
        "{e}"
    );
}
