//! TLS handshakes against a local rustls server with generated certificates: CA file, hostname
//! verification on and off, and a foreign CA that must still be refused.

use std::time::Duration;

use tokio::net::TcpListener;

use super::transport::Dialer;
use super::Error;
use crate::connection::{ConnectionSettings, SecurityProtocol, TlsSettings};
use crate::test_tls::TestCa;

/// A TLS server on loopback presenting a certificate for `names`, signed by `ca`. Returns its
/// port.
async fn server(ca: &TestCa, names: &[&str]) -> u16 {
    let acceptor = ca.acceptor(names);
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

fn dialer(ca: &TestCa, verify_hostname: bool) -> Dialer {
    let mut s = ConnectionSettings::plaintext(["127.0.0.1:9093"]);
    s.security_protocol = SecurityProtocol::Ssl;
    s.tls = Some(TlsSettings {
        ca_file: Some(ca.pem_path().to_path_buf()),
        cert_file: None,
        key_file: None,
        verify_hostname,
    });
    Dialer::new(s).unwrap()
}

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn handshake_succeeds_with_the_ca_file_and_a_matching_name() {
    let ca = TestCa::new("test CA");
    let port = server(&ca, &["127.0.0.1", "localhost"]).await;
    let addr = format!("127.0.0.1:{port}");
    dialer(&ca, true).stream(&addr, "b", T).await.unwrap();
}

#[tokio::test]
async fn a_name_mismatch_fails_unless_hostname_verification_is_off() {
    let ca = TestCa::new("test CA");
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
    let (trusted, foreign) = (TestCa::new("trusted CA"), TestCa::new("foreign CA"));
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
