//! SASL over the Kafka protocol (SaslHandshake + SaslAuthenticate) against a fake broker that
//! plays the server side of PLAIN and SCRAM-SHA-256.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use sha2::{Digest, Sha256};

use super::conn::Connection;
use super::conn_tests::{fake_broker, response, Reply};
use super::transport::authenticate;
use super::Error;
use crate::connection::{SaslMechanism, SaslSettings};

const T: Duration = Duration::from_secs(5);

fn versions() -> ApiVersionsResponse {
    let v = |k: ApiKey| {
        let r = k.valid_versions();
        ApiVersion::default()
            .with_api_key(k as i16)
            .with_min_version(r.min)
            .with_max_version(r.max)
    };
    ApiVersionsResponse::default().with_api_keys(vec![
        v(ApiKey::ApiVersions),
        v(ApiKey::SaslHandshake),
        v(ApiKey::SaslAuthenticate),
    ])
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Server side of one SCRAM-SHA-256 exchange for user/password, written from RFC 5802.
struct ScramServer {
    password: &'static str,
    client_first_bare: String,
    server_first: String,
}

impl ScramServer {
    fn first(&mut self, client_first: &str) -> String {
        self.client_first_bare = client_first.strip_prefix("n,,").unwrap().to_string();
        let nonce = self.client_first_bare.split(",r=").nth(1).unwrap();
        self.server_first = format!("r={nonce}SERVER,s={},i=4096", B64.encode(b"salty"));
        self.server_first.clone()
    }

    /// Checks the proof; returns the server-final message or an error text.
    fn last(&self, client_final: &str) -> Result<String, String> {
        let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
        let auth = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let salted =
            pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(self.password.as_bytes(), b"salty", 4096);
        let stored = Sha256::digest(hmac(&salted, b"Client Key"));
        let sig = hmac(&stored, auth.as_bytes());
        let proof = B64.decode(proof).unwrap();
        let client_key: Vec<u8> = proof.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        if Sha256::digest(&client_key) != stored {
            return Err("invalid proof".into());
        }
        let server_sig = hmac(&hmac(&salted, b"Server Key"), auth.as_bytes());
        Ok(format!("v={}", B64.encode(server_sig)))
    }
}

/// A fake broker that authenticates `mechanism` for the given password. Returns the client's
/// result.
async fn run(
    mechanism: SaslMechanism,
    server_password: &'static str,
    client_password: &str,
) -> Result<(), Error> {
    let scram = Arc::new(Mutex::new(ScramServer {
        password: server_password,
        client_first_bare: String::new(),
        server_first: String::new(),
    }));
    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(fake_broker(
        server,
        move |h: &RequestHeader, mut body: Bytes| {
            let v = h.request_api_version;
            let corr = h.correlation_id;
            match ApiKey::try_from(h.request_api_key) {
                Ok(ApiKey::ApiVersions) => Reply::Frame(response(corr, &versions(), v)),
                Ok(ApiKey::SaslHandshake) => {
                    let req = SaslHandshakeRequest::decode(&mut body, v).unwrap();
                    let ok = req.mechanism.as_str() == mechanism.as_str();
                    let r = SaslHandshakeResponse::default()
                        .with_error_code(if ok { 0 } else { 33 })
                        .with_mechanisms(vec![StrBytes::from_static_str(mechanism.as_str())]);
                    Reply::Frame(response(corr, &r, v))
                }
                Ok(ApiKey::SaslAuthenticate) => {
                    let req = SaslAuthenticateRequest::decode(&mut body, v).unwrap();
                    let msg = String::from_utf8(req.auth_bytes.to_vec()).unwrap();
                    let result = match mechanism {
                        SaslMechanism::Plain => {
                            if msg == format!("\0alice\0{server_password}") {
                                Ok(String::new())
                            } else {
                                Err("bad credentials".to_string())
                            }
                        }
                        _ => {
                            let mut s = scram.lock().unwrap();
                            if msg.starts_with("n,,") {
                                Ok(s.first(&msg))
                            } else {
                                s.last(&msg)
                            }
                        }
                    };
                    let r = match result {
                        Ok(out) => SaslAuthenticateResponse::default()
                            .with_auth_bytes(Bytes::from(out))
                            .with_session_lifetime_ms(60_000),
                        Err(e) => SaslAuthenticateResponse::default()
                            .with_error_code(58)
                            .with_error_message(Some(StrBytes::from_string(e))),
                    };
                    Reply::Frame(response(corr, &r, v))
                }
                _ => Reply::Silence,
            }
        },
    ));
    let conn = Connection::negotiate(client, "fake".into(), "t", 1 << 20, T).await?;
    let settings = SaslSettings {
        mechanism,
        username: "alice".into(),
        password: client_password.into(),
    };
    authenticate(&conn, &settings, T).await?;
    assert!(conn.is_healthy(), "a 60 s session must not expire at once");
    Ok(())
}

#[tokio::test]
async fn plain_sends_the_rfc4616_token() {
    run(SaslMechanism::Plain, "pw", "pw").await.unwrap();
    let e = run(SaslMechanism::Plain, "pw", "wrong").await.unwrap_err();
    assert!(
        matches!(&e, Error::Sasl { detail, .. } if detail.contains("bad credentials")),
        "{e}"
    );
    assert!(!e.is_retriable());
}

#[tokio::test]
async fn scram_sha256_authenticates_and_a_wrong_password_fails() {
    run(SaslMechanism::ScramSha256, "pencil", "pencil")
        .await
        .unwrap();
    let e = run(SaslMechanism::ScramSha256, "pencil", "crayon")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Sasl { detail, .. } if detail.contains("invalid proof")),
        "{e}"
    );
}

#[tokio::test]
async fn a_mechanism_the_broker_does_not_offer_is_refused_with_the_offer() {
    // The fake offers PLAIN only; the client asks for SCRAM-SHA-512 through a PLAIN server.
    let (client, server) = tokio::io::duplex(1 << 16);
    tokio::spawn(fake_broker(server, |h: &RequestHeader, _| {
        let v = h.request_api_version;
        match ApiKey::try_from(h.request_api_key) {
            Ok(ApiKey::ApiVersions) => Reply::Frame(response(h.correlation_id, &versions(), v)),
            _ => {
                let r = SaslHandshakeResponse::default()
                    .with_error_code(33)
                    .with_mechanisms(vec![StrBytes::from_static_str("PLAIN")]);
                Reply::Frame(response(h.correlation_id, &r, v))
            }
        }
    }));
    let conn = Connection::negotiate(client, "fake".into(), "t", 1 << 20, T)
        .await
        .unwrap();
    let settings = SaslSettings {
        mechanism: SaslMechanism::ScramSha512,
        username: "u".into(),
        password: "p".into(),
    };
    let e = authenticate(&conn, &settings, T).await.unwrap_err();
    assert!(
        matches!(&e, Error::Sasl { detail, .. } if detail.contains("PLAIN")),
        "{e}"
    );
}
