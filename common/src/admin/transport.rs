//! Opening a connection to one address: TCP, optional TLS, ApiVersions, optional SASL.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::conn::Connection;
use super::error::{Error, Result};
use super::scram::{ScramClient, ScramHash};
use crate::connection::{ConnectionSettings, SaslMechanism, SaslSettings};

/// Any byte stream a connection can run over (TCP, TLS over TCP, in-memory in tests).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A boxed [`Stream`], so plaintext and TLS connections share one type.
pub type BoxStream = Box<dyn Stream>;

/// What every connection of one client needs: settings and the TLS connector built once.
#[derive(Clone)]
pub(crate) struct Dialer {
    pub(crate) settings: Arc<ConnectionSettings>,
    tls: Option<TlsConnector>,
}

impl Dialer {
    /// Builds the TLS configuration once (when the protocol uses TLS).
    pub(crate) fn new(settings: ConnectionSettings) -> Result<Self> {
        let tls = if settings.security_protocol.uses_tls() {
            Some(TlsConnector::from(Arc::new(settings.tls_client_config()?)))
        } else {
            None
        };
        Ok(Self {
            settings: Arc::new(settings),
            tls,
        })
    }

    /// Opens the byte stream to `addr` (TCP, then TLS when configured), within `timeout`.
    pub(crate) async fn stream(
        &self,
        addr: &str,
        label: &str,
        timeout: Duration,
    ) -> Result<BoxStream> {
        let timed_out = |what| Error::Timeout {
            what,
            broker: label.to_string(),
            timeout_ms: timeout.as_millis() as u64,
        };
        let started = Instant::now();
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| timed_out("connect"))?
            .map_err(|source| Error::Io {
                broker: label.to_string(),
                during: "connect",
                source,
            })?;
        // Admin requests are small and latency-bound.
        let _ = tcp.set_nodelay(true);
        let Some(tls) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_string()).map_err(|e| Error::Tls {
            broker: label.to_string(),
            detail: format!("{host:?} is not a valid TLS server name: {e}"),
        })?;
        let left = timeout.saturating_sub(started.elapsed());
        let stream = tokio::time::timeout(left, tls.connect(name, tcp))
            .await
            .map_err(|_| timed_out("TLS handshake"))?
            .map_err(|e| Error::Tls {
                broker: label.to_string(),
                detail: e.to_string(),
            })?;
        Ok(Box::new(stream))
    }

    /// Opens a ready connection: stream, ApiVersions negotiation, then SASL when configured.
    pub(crate) async fn connect(
        &self,
        addr: &str,
        label: String,
        timeout: Duration,
    ) -> Result<Connection<BoxStream>> {
        let s = &self.settings;
        let stream = self.stream(addr, &label, timeout).await?;
        let conn =
            Connection::negotiate(stream, label, &s.client_id, s.max_response_bytes, timeout)
                .await?;
        if let (Some(sasl), true) = (&s.sasl, s.security_protocol.uses_sasl()) {
            authenticate(&conn, sasl, timeout).await?;
        }
        Ok(conn)
    }
}

/// SaslHandshake, then SaslAuthenticate round trips for the configured mechanism.
pub(crate) async fn authenticate<S: AsyncRead + AsyncWrite + Unpin + Send>(
    conn: &Connection<S>,
    sasl: &SaslSettings,
    timeout: Duration,
) -> Result<()> {
    let mechanism = sasl.mechanism.as_str();
    let fail = |detail: String| Error::Sasl {
        mechanism,
        broker: conn.broker().to_string(),
        detail,
    };
    let hs = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
    if conn.version_for::<SaslHandshakeRequest>()? < 1 {
        return Err(fail(
            "broker only speaks SaslHandshake v0 (pre-1.0 Kafka)".into(),
        ));
    }
    let resp = conn.send(&hs, timeout).await?;
    if resp.error_code != 0 {
        let offered: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(fail(format!(
            "handshake refused (code {}); the broker offers {offered:?}",
            resp.error_code
        )));
    }
    let step = |bytes: Vec<u8>| async move {
        let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes));
        let resp = conn.send(&req, timeout).await?;
        if resp.error_code != 0 {
            let msg = resp
                .error_message
                .map(|m| m.to_string())
                .unwrap_or_default();
            return Err(fail(format!(
                "authentication failed (code {}): {msg}",
                resp.error_code
            )));
        }
        if resp.session_lifetime_ms > 0 {
            // Reconnect before the broker closes the session (KIP-368), with a margin.
            let lifetime = Duration::from_millis(resp.session_lifetime_ms as u64);
            conn.expire_at(Instant::now() + lifetime.mul_f64(0.85));
        }
        Ok(resp.auth_bytes)
    };
    match sasl.mechanism {
        SaslMechanism::Plain => {
            let token = format!("\0{}\0{}", sasl.username, sasl.password);
            step(token.into_bytes()).await?;
        }
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
            let hash = if sasl.mechanism == SaslMechanism::ScramSha256 {
                ScramHash::Sha256
            } else {
                ScramHash::Sha512
            };
            let mut scram = ScramClient::new(hash, &sasl.username, &sasl.password);
            let server_first = step(scram.client_first().into_bytes()).await?;
            let server_first = std::str::from_utf8(&server_first)
                .map_err(|_| fail("server-first message is not UTF-8".into()))?;
            let client_final = scram
                .client_final(server_first)
                .map_err(|e| fail(e.to_string()))?;
            let server_final = step(client_final.into_bytes()).await?;
            let server_final = std::str::from_utf8(&server_final)
                .map_err(|_| fail("server-final message is not UTF-8".into()))?;
            scram
                .verify_server_final(server_final)
                .map_err(|e| fail(e.to_string()))?;
        }
    }
    tracing::debug!(broker = %conn.broker(), mechanism, user = %sasl.username, "SASL authenticated");
    Ok(())
}
