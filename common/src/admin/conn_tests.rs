//! Connection-layer tests over an in-memory duplex stream with a scripted fake broker.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, DescribeClusterRequest, DescribeClusterResponse, MetadataRequest,
    RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{decode_request_header_from_buffer, Encodable, HeaderVersion};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

use super::conn::{encode_to_vec, Connection};
use super::Error;

/// What the fake broker does with one request.
pub(crate) enum Reply {
    /// Send these bytes as one length-prefixed frame.
    Frame(Vec<u8>),
    /// Send these raw bytes (no length prefix added), then keep serving.
    Raw(Vec<u8>),
    /// Send these raw bytes, then close the connection.
    RawThenClose(Vec<u8>),
    /// Never answer.
    Silence,
}

/// A response frame body: response header at the API's header version, then the message.
pub(crate) fn response<M: Encodable + HeaderVersion>(corr: i32, m: &M, version: i16) -> Vec<u8> {
    let mut out = encode_to_vec(
        &ResponseHeader::default().with_correlation_id(corr),
        M::header_version(version),
    );
    out.extend(encode_to_vec(m, version));
    out
}

/// Broker versions: ApiVersions 0..=4, Metadata 0..=12, DescribeCluster 0..=1.
pub(crate) fn versions_response() -> ApiVersionsResponse {
    let v = |k: ApiKey, max| {
        ApiVersion::default()
            .with_api_key(k as i16)
            .with_min_version(0)
            .with_max_version(max)
    };
    ApiVersionsResponse::default().with_api_keys(vec![
        v(ApiKey::ApiVersions, 4),
        v(ApiKey::Metadata, 12),
        v(ApiKey::DescribeCluster, 1),
    ])
}

/// Serves `stream`: reads each request frame, hands its header and body to `script`, and writes
/// what the script says. Returns the headers it saw.
pub(crate) async fn fake_broker<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mut script: impl FnMut(&RequestHeader, Bytes) -> Reply,
) -> Vec<RequestHeader> {
    let mut seen = Vec::new();
    loop {
        let Ok(len) = stream.read_i32().await else {
            return seen;
        };
        let mut frame = vec![0u8; len as usize];
        if stream.read_exact(&mut frame).await.is_err() {
            return seen;
        }
        let mut buf = Bytes::from(frame);
        let header = decode_request_header_from_buffer(&mut buf).unwrap();
        let reply = script(&header, buf.copy_to_bytes(buf.remaining()));
        seen.push(header);
        match reply {
            Reply::Frame(body) => {
                let mut out = BytesMut::new();
                out.extend_from_slice(&(body.len() as i32).to_be_bytes());
                out.extend_from_slice(&body);
                if stream.write_all(&out).await.is_err() {
                    return seen;
                }
            }
            Reply::Raw(bytes) => {
                let _ = stream.write_all(&bytes).await;
            }
            Reply::RawThenClose(bytes) => {
                let _ = stream.write_all(&bytes).await;
                return seen;
            }
            Reply::Silence => {}
        }
    }
}

/// Answers ApiVersions normally, then calls `then` for every other request.
fn after_versions(
    mut then: impl FnMut(&RequestHeader) -> Reply,
) -> impl FnMut(&RequestHeader, Bytes) -> Reply {
    move |h, _| {
        if h.request_api_key == ApiKey::ApiVersions as i16 {
            Reply::Frame(response(
                h.correlation_id,
                &versions_response(),
                h.request_api_version,
            ))
        } else {
            then(h)
        }
    }
}

const T: Duration = Duration::from_secs(5);

async fn connect(
    script: impl FnMut(&RequestHeader, Bytes) -> Reply + Send + 'static,
) -> (
    Result<Connection<DuplexStream>, Error>,
    tokio::task::JoinHandle<Vec<RequestHeader>>,
) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let broker = tokio::spawn(fake_broker(server, script));
    let conn = Connection::negotiate(client, "fake@mem".into(), "test", 1 << 20, T).await;
    (conn, broker)
}

/// The request versions the fake broker saw, in order (once the client hung up).
async fn versions_asked(broker: tokio::task::JoinHandle<Vec<RequestHeader>>) -> Vec<i16> {
    let seen = broker.await.unwrap();
    seen.iter().map(|h| h.request_api_version).collect()
}

/// Negotiates with a broker that answers ApiVersions, then `reply` to a DescribeCluster; checks
/// that the send fails with a protocol error whose detail names `expect`. Returns the connection
/// (to check its health) and the error.
async fn protocol_error(
    reply: impl FnMut(&RequestHeader) -> Reply + Send + 'static,
    expect: &str,
) -> (Connection<DuplexStream>, Error) {
    let (conn, _b) = connect(after_versions(reply)).await;
    let conn = conn.unwrap();
    let e = conn
        .send(&DescribeClusterRequest::default(), T)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Protocol { detail, .. } if detail.contains(expect)),
        "{e}"
    );
    (conn, e)
}

#[tokio::test]
async fn negotiates_the_highest_common_version_per_api() {
    let (conn, _b) = connect(after_versions(|_| Reply::Silence)).await;
    let conn = conn.unwrap();
    // Ours goes to 13, the broker's to 12.
    assert_eq!(conn.version_for::<MetadataRequest>().unwrap(), 12);
    // Ours goes to 2, the broker's to 1.
    assert_eq!(conn.version_for::<DescribeClusterRequest>().unwrap(), 1);
    let e = conn
        .version_for::<kafka_protocol::messages::ElectLeadersRequest>()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::UnsupportedVersion {
                api: "ElectLeaders",
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn api_versions_falls_back_to_v0_on_unsupported_version() {
    let (conn, broker) = connect(|h, _| {
        let error = ApiVersionsResponse::default().with_error_code(35);
        if h.request_api_version > 0 {
            // Like an old broker: a v0 body with only the error code, no advertised range.
            Reply::Frame(response(h.correlation_id, &error, 0))
        } else {
            Reply::Frame(response(h.correlation_id, &versions_response(), 0))
        }
    })
    .await;
    let conn = conn.unwrap();
    assert_eq!(conn.version_for::<MetadataRequest>().unwrap(), 12);
    drop(conn);
    let seen = versions_asked(broker).await;
    assert_eq!(seen, vec![4, 0]);
}

#[tokio::test]
async fn api_versions_retries_at_the_version_the_broker_advertises() {
    let (conn, broker) = connect(|h, _| {
        if h.request_api_version > 2 {
            let error = ApiVersionsResponse::default()
                .with_error_code(35)
                .with_api_keys(vec![ApiVersion::default()
                    .with_api_key(ApiKey::ApiVersions as i16)
                    .with_max_version(2)]);
            Reply::Frame(response(h.correlation_id, &error, 0))
        } else {
            Reply::Frame(response(
                h.correlation_id,
                &versions_response(),
                h.request_api_version,
            ))
        }
    })
    .await;
    conn.unwrap();
    let seen = versions_asked(broker).await;
    assert_eq!(seen, vec![4, 2]);
}

#[tokio::test]
async fn round_trip_decodes_the_response_and_sends_client_id_and_increasing_ids() {
    let (conn, broker) = connect(after_versions(|h| {
        let resp = DescribeClusterResponse::default()
            .with_cluster_id("abc".into())
            .with_controller_id(3.into());
        Reply::Frame(response(h.correlation_id, &resp, h.request_api_version))
    }))
    .await;
    let conn = conn.unwrap();
    for _ in 0..2 {
        let resp = conn
            .send(&DescribeClusterRequest::default(), T)
            .await
            .unwrap();
        assert_eq!(resp.cluster_id.as_str(), "abc");
        assert_eq!(resp.controller_id.0, 3);
    }
    assert!(conn.is_healthy());
    drop(conn);
    let seen = broker.await.unwrap();
    let ids: Vec<i32> = seen.iter().map(|h| h.correlation_id).collect();
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "{ids:?}");
    assert!(seen.iter().all(|h| h.client_id.as_deref() == Some("test")));
    assert_eq!(seen[1].request_api_version, 1);
}

#[tokio::test]
async fn correlation_mismatch_is_a_protocol_error_and_poisons_the_connection() {
    let (conn, e) = protocol_error(
        |h| {
            let resp = DescribeClusterResponse::default();
            Reply::Frame(response(h.correlation_id + 7, &resp, h.request_api_version))
        },
        "correlation",
    )
    .await;
    assert!(e.is_retriable());
    assert!(!conn.is_healthy());
}

#[tokio::test]
async fn truncated_frame_is_an_error_not_a_hang() {
    let (conn, _) = protocol_error(
        |_| {
            let mut raw = 100i32.to_be_bytes().to_vec();
            raw.extend([0u8; 10]);
            Reply::RawThenClose(raw)
        },
        "truncated",
    )
    .await;
    assert!(!conn.is_healthy());
}

#[tokio::test]
async fn oversized_and_negative_frames_are_rejected_before_allocating() {
    for len in [i32::MAX, -5] {
        let reply = move |_: &RequestHeader| Reply::Raw(len.to_be_bytes().to_vec());
        let (conn, _) = protocol_error(reply, "outside").await;
        assert!(!conn.is_healthy());
    }
}

#[tokio::test]
async fn garbage_body_is_a_decode_error() {
    let garbage = |h: &RequestHeader| {
        let mut body = encode_to_vec(
            &ResponseHeader::default().with_correlation_id(h.correlation_id),
            1,
        );
        body.extend([0xff, 0xff, 0xff]);
        Reply::Frame(body)
    };
    protocol_error(garbage, "decode").await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_broker_times_out_and_the_connection_is_not_reused() {
    let (conn, _b) = connect(after_versions(|_| Reply::Silence)).await;
    let conn = conn.unwrap();
    let e = conn
        .send(
            &DescribeClusterRequest::default(),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Timeout {
                what: "DescribeCluster",
                timeout_ms: 300,
                ..
            }
        ),
        "{e}"
    );
    assert!(!conn.is_healthy());
    // A late reply must not be taken for the next request's answer: the next send refuses.
    let e = conn
        .send(&DescribeClusterRequest::default(), T)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

#[tokio::test]
async fn concurrent_requests_queue_on_one_connection_and_each_gets_its_own_answer() {
    let (conn, broker) = connect(after_versions(|h| {
        // Echo the correlation id in the cluster id, so each caller can check its answer.
        let resp = DescribeClusterResponse::default().with_cluster_id(
            kafka_protocol::protocol::StrBytes::from_string(h.correlation_id.to_string()),
        );
        Reply::Frame(response(h.correlation_id, &resp, h.request_api_version))
    }))
    .await;
    let conn = conn.unwrap();
    let req = DescribeClusterRequest::default();
    let calls = (0..16).map(|_| conn.send(&req, T));
    let answers = futures::future::join_all(calls).await;
    let mut ids: Vec<i32> = answers
        .into_iter()
        .map(|r| r.unwrap().cluster_id.parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 16, "every caller got a distinct answer");
    assert!(conn.is_healthy());
    drop(conn);
    assert_eq!(broker.await.unwrap().len(), 17); // ApiVersions + 16
}

#[tokio::test]
async fn in_flight_is_healthy_but_an_abandoned_request_breaks_the_connection() {
    let (conn, _b) = connect(after_versions(|_| Reply::Silence)).await;
    let conn = conn.unwrap();
    let req = DescribeClusterRequest::default();
    let mut pending = Box::pin(conn.send(&req, T));
    // One poll writes the request; the answer never comes.
    assert!(futures::poll!(&mut pending).is_pending());
    assert!(conn.is_healthy(), "a request in flight is not a failure");
    drop(pending);
    assert!(
        !conn.is_healthy(),
        "a dropped request leaves the stream out of step"
    );
}
