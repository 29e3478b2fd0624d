//! One connection to one broker: framing, correlation ids, ApiVersions negotiation, timeouts.
//!
//! Generic over any `AsyncRead + AsyncWrite` stream, so tests drive it over
//! `tokio::io::duplex` with a scripted fake broker.
//!
//! Requests on one connection are serialized by a tokio mutex (one request in flight at a time)
//! rather than pipelined. Admin traffic is a handful of requests per poll, and the simplicity buys
//! an easy cancel story: a request that is abandoned half-way (timeout, dropped future) marks the
//! connection broken, and the client opens a fresh one instead of reading a stale reply. Callers
//! waiting for the mutex do not see the connection as unhealthy, so concurrent calls to one broker
//! queue on one connection rather than opening more.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::ResponseHeader;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use kafka_protocol::protocol::{
    Decodable, Encodable, HeaderVersion, Message, Request, StrBytes, VersionRange,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::error::{Error, Result};

/// UNSUPPORTED_VERSION: the broker's answer to an ApiVersions version it does not speak.
const UNSUPPORTED_VERSION: i16 = 35;

/// A negotiated connection to one broker.
pub struct Connection<S> {
    stream: tokio::sync::Mutex<S>,
    broker: String,
    client_id: StrBytes,
    correlation: AtomicI32,
    versions: HashMap<i16, VersionRange>,
    max_frame_bytes: usize,
    // Set when a request fails or is abandoned half-way; see the module docs.
    broken: AtomicBool,
    // SASL sessions with a lifetime end; the client reconnects before that.
    expires_at: std::sync::Mutex<Option<Instant>>,
}

/// A short name for an API key, for logs and errors.
pub fn api_name(key: i16) -> &'static str {
    match ApiKey::try_from(key) {
        Ok(ApiKey::Metadata) => "Metadata",
        Ok(ApiKey::ApiVersions) => "ApiVersions",
        Ok(ApiKey::DescribeCluster) => "DescribeCluster",
        Ok(ApiKey::ListPartitionReassignments) => "ListPartitionReassignments",
        Ok(ApiKey::AlterPartitionReassignments) => "AlterPartitionReassignments",
        Ok(ApiKey::ElectLeaders) => "ElectLeaders",
        Ok(ApiKey::IncrementalAlterConfigs) => "IncrementalAlterConfigs",
        Ok(ApiKey::DescribeConfigs) => "DescribeConfigs",
        Ok(ApiKey::DescribeLogDirs) => "DescribeLogDirs",
        Ok(ApiKey::UnregisterBroker) => "UnregisterBroker",
        Ok(ApiKey::SaslHandshake) => "SaslHandshake",
        Ok(ApiKey::SaslAuthenticate) => "SaslAuthenticate",
        Ok(ApiKey::CreateTopics) => "CreateTopics",
        _ => "other API",
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Connection<S> {
    /// Wraps `stream` and negotiates API versions with an ApiVersions round trip.
    pub async fn negotiate(
        stream: S,
        broker: String,
        client_id: &str,
        max_frame_bytes: usize,
        timeout: Duration,
    ) -> Result<Self> {
        let mut conn = Connection {
            stream: tokio::sync::Mutex::new(stream),
            broker,
            client_id: StrBytes::from_string(client_id.to_string()),
            correlation: AtomicI32::new(1),
            versions: HashMap::new(),
            max_frame_bytes,
            broken: AtomicBool::new(false),
            expires_at: std::sync::Mutex::new(None),
        };
        let resp = conn.api_versions(timeout).await?;
        conn.versions = resp
            .api_keys
            .iter()
            .map(|k| {
                let range = VersionRange {
                    min: k.min_version,
                    max: k.max_version,
                };
                (k.api_key, range)
            })
            .collect();
        Ok(conn)
    }

    /// ApiVersions at our highest version; if the broker answers UNSUPPORTED_VERSION (in a v0
    /// body, as the protocol requires), retry at the highest version it listed for ApiVersions,
    /// or v0 when it listed none.
    async fn api_versions(&self, timeout: Duration) -> Result<ApiVersionsResponse> {
        let req = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("kmedic"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let mut version = ApiVersionsRequest::VERSIONS.max;
        for _ in 0..2 {
            let body = self.round_trip(&req, version, timeout).await?;
            // error_code is the first field in every version, so it can be read before choosing
            // how to decode the rest.
            if body.len() < 2 {
                return Err(self.protocol("ApiVersions", "response body too short".into()));
            }
            let code = i16::from_be_bytes([body[0], body[1]]);
            if code == UNSUPPORTED_VERSION && version > 0 {
                let v0 = self.decode::<ApiVersionsResponse>(body, 0, "ApiVersions")?;
                let theirs = v0
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiVersionsRequest::KEY)
                    .map_or(0, |k| k.max_version.min(version - 1));
                tracing::debug!(
                    broker = %self.broker,
                    tried = version,
                    retry = theirs,
                    "broker does not speak our ApiVersions version; retrying lower"
                );
                version = theirs.max(0);
                continue;
            }
            let resp = self.decode::<ApiVersionsResponse>(body, version, "ApiVersions")?;
            Error::check(resp.error_code, None, "ApiVersions", &self.broker, || {
                "api versions".into()
            })?;
            return Ok(resp);
        }
        Err(Error::UnsupportedVersion {
            api: "ApiVersions",
            broker: self.broker.clone(),
            ours: format!("{}", ApiVersionsRequest::VERSIONS),
            theirs: "none".into(),
        })
    }

    /// The broker label used in logs and errors.
    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// False after a failure or an abandoned request; such a connection must be replaced.
    pub fn is_healthy(&self) -> bool {
        let expired = self
            .expires_at
            .lock()
            .map(|e| e.is_some_and(|at| Instant::now() >= at))
            .unwrap_or(true);
        !self.broken.load(Ordering::Acquire) && !expired
    }

    /// Marks the connection for replacement at `at` (SASL session lifetime).
    pub fn expire_at(&self, at: Instant) {
        if let Ok(mut e) = self.expires_at.lock() {
            *e = Some(at);
        }
    }

    /// The version range the broker advertised for `key`, if any.
    pub fn broker_versions(&self, key: i16) -> Option<VersionRange> {
        self.versions.get(&key).copied()
    }

    /// The highest version of `R` both sides speak.
    pub fn version_for<R: Request>(&self) -> Result<i16> {
        let ours = R::VERSIONS;
        let theirs = self.versions.get(&R::KEY).copied();
        match theirs.map(|t| ours.intersect(&t)) {
            Some(common) if !common.is_empty() => Ok(common.max),
            _ => Err(Error::UnsupportedVersion {
                api: api_name(R::KEY),
                broker: self.broker.clone(),
                ours: ours.to_string(),
                theirs: theirs.map_or("none".into(), |t| t.to_string()),
            }),
        }
    }

    /// Sends `req` at the highest common version and returns the decoded response, within
    /// `timeout`. Kafka error codes inside the response are left to the caller.
    pub async fn send<R: Request>(&self, req: &R, timeout: Duration) -> Result<R::Response> {
        let version = self.version_for::<R>()?;
        let body = self.round_trip(req, version, timeout).await?;
        self.decode::<R::Response>(body, version, api_name(R::KEY))
    }

    /// Writes one request frame and reads its response frame, checks the correlation id and
    /// strips the response header. Logs the latency at debug level.
    async fn round_trip<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<Bytes> {
        let api = api_name(R::KEY);
        let started = Instant::now();
        let result = tokio::time::timeout(timeout, self.exchange(req, version, api)).await;
        let result = result.unwrap_or_else(|_| {
            Err(Error::Timeout {
                what: api,
                broker: self.broker.clone(),
                timeout_ms: timeout.as_millis() as u64,
            })
        });
        let latency_us = started.elapsed().as_micros() as u64;
        match &result {
            Ok(_) => {
                tracing::debug!(api, version, broker = %self.broker, latency_us, "request done")
            }
            Err(e) => {
                tracing::debug!(api, version, broker = %self.broker, latency_us, error = %e, "request failed")
            }
        }
        result
    }

    async fn exchange<R: Request>(
        &self,
        req: &R,
        version: i16,
        api: &'static str,
    ) -> Result<Bytes> {
        let correlation_id = self.correlation.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut buf = BytesMut::new();
        buf.put_i32(0); // length, patched below
        let encoded = header
            .encode(&mut buf, R::header_version(version))
            .and_then(|_| req.encode(&mut buf, version));
        encoded.map_err(|e| Error::InvalidRequest(format!("{api} v{version}: encode: {e}")))?;
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());

        let mut stream = self.stream.lock().await;
        if self.broken.load(Ordering::Acquire) {
            return Err(self.io("send", std::io::ErrorKind::NotConnected.into()));
        }
        // Until disarmed, any exit (error, timeout, dropped future) marks the stream broken.
        let guard = BreakOnDrop {
            broken: &self.broken,
            armed: true,
        };
        stream
            .write_all(&buf)
            .await
            .map_err(|e| self.io("send", e))?;
        stream.flush().await.map_err(|e| self.io("send", e))?;
        let mut frame = self.read_frame(&mut *stream, api).await?;

        let resp_header_version = R::Response::header_version(version);
        let header = ResponseHeader::decode(&mut frame, resp_header_version)
            .map_err(|e| self.protocol(api, format!("response header: {e}")))?;
        if header.correlation_id != correlation_id {
            // Leave the connection unhealthy: replies are out of step with requests.
            return Err(self.protocol(
                api,
                format!(
                    "correlation id mismatch: sent {correlation_id}, got {}",
                    header.correlation_id
                ),
            ));
        }
        guard.disarm();
        drop(stream);
        Ok(frame)
    }

    async fn read_frame(&self, stream: &mut S, api: &'static str) -> Result<Bytes> {
        let mut len = [0u8; 4];
        stream
            .read_exact(&mut len)
            .await
            .map_err(|e| self.io("receive", e))?;
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > self.max_frame_bytes {
            return Err(self.protocol(
                api,
                format!(
                    "response frame of {len} bytes is outside 0..={} (max_response_bytes)",
                    self.max_frame_bytes
                ),
            ));
        }
        let mut frame = vec![0u8; len as usize];
        stream.read_exact(&mut frame).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.protocol(
                    api,
                    format!("truncated frame: connection closed inside a {len}-byte frame"),
                )
            } else {
                self.io("receive", e)
            }
        })?;
        Ok(Bytes::from(frame))
    }

    fn decode<T: Decodable>(&self, mut body: Bytes, version: i16, api: &'static str) -> Result<T> {
        T::decode(&mut body, version)
            .map_err(|e| self.protocol(api, format!("cannot decode v{version} response: {e}")))
    }

    fn io(&self, during: &'static str, source: std::io::Error) -> Error {
        Error::Io {
            broker: self.broker.clone(),
            during,
            source,
        }
    }

    fn protocol(&self, api: &'static str, detail: String) -> Error {
        Error::Protocol {
            api,
            broker: self.broker.clone(),
            detail,
        }
    }
}

/// Marks a connection broken when dropped while armed: a request that did not complete leaves
/// the byte stream out of step with the correlation ids.
struct BreakOnDrop<'a> {
    broken: &'a AtomicBool,
    armed: bool,
}

impl BreakOnDrop<'_> {
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for BreakOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.broken.store(true, Ordering::Release);
        }
    }
}

/// Encodes a message with its version, for tests' fake brokers.
#[cfg(test)]
pub(crate) fn encode_to_vec<M: Encodable>(m: &M, version: i16) -> Vec<u8> {
    let mut b = BytesMut::new();
    m.encode(&mut b, version).unwrap();
    b.to_vec()
}
