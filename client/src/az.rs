//! The client's own AZ: from configuration, else from EC2 IMDSv2 (the agent's client, shared
//! through [`kmedic_common::imds`]), else unknown; and `client.rack` for consumers (KIP-392).

use kmedic_common::imds::{self, ImdsSettings};
use rdkafka::ClientConfig;

/// Where the AZ came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzSource {
    /// Given in configuration.
    Configured,
    /// Read from EC2 instance metadata.
    Imds,
    /// Unknown: the reason (IMDS disabled, not on EC2...). Records fall back to all partitions.
    Unknown(String),
}

/// Resolves the AZ: `configured` when set (trimmed, non-empty), else IMDSv2 per `imds`. Logs the
/// outcome once, with where it came from.
pub async fn resolve_az(
    configured: Option<&str>,
    imds: &ImdsSettings,
) -> (Option<String>, AzSource) {
    if let Some(az) = configured.map(str::trim).filter(|a| !a.is_empty()) {
        tracing::info!(az, "client AZ from configuration");
        return (Some(az.to_string()), AzSource::Configured);
    }
    match imds::fetch_az(imds).await {
        Ok(az) => {
            tracing::info!(%az, "client AZ from EC2 IMDSv2");
            (Some(az), AzSource::Imds)
        }
        Err(e) => {
            tracing::warn!(error = %e, "client AZ unknown: records go to all partitions, as without kmedic-client");
            (None, AzSource::Unknown(e.to_string()))
        }
    }
}

/// Sets `client.rack` on a consumer's configuration, so that brokers running
/// `replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector` let it
/// fetch from a replica in its AZ (KIP-392). The value must equal the brokers' `broker.rack`
/// naming (on EC2, the AZ name such as `eu-west-1a`, or the AZ id if racks use ids).
///
/// Without the selector on the brokers, or without a replica in the AZ, the consumer reads from
/// the leader as before: setting it is never harmful.
pub fn consumer_rack<'a>(config: &'a mut ClientConfig, az: &str) -> &'a mut ClientConfig {
    config.set("client.rack", az)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IMDS on a port where nothing listens: asking it fails fast.
    fn dead_imds() -> ImdsSettings {
        ImdsSettings {
            endpoint: "http://127.0.0.1:1".into(),
            timeout_ms: 200,
            ..ImdsSettings::default()
        }
    }

    #[tokio::test]
    async fn configuration_wins_and_imds_is_not_asked() {
        let (az, source) = resolve_az(Some(" az-a "), &dead_imds()).await;
        assert_eq!(az.as_deref(), Some("az-a"));
        assert_eq!(source, AzSource::Configured);
    }

    #[tokio::test]
    async fn no_configuration_and_no_imds_is_unknown_with_the_reason() {
        let (az, source) = resolve_az(Some("  "), &dead_imds()).await;
        assert_eq!(az, None);
        assert!(
            matches!(&source, AzSource::Unknown(why) if why.contains("127.0.0.1:1")),
            "{source:?}"
        );
        let off = ImdsSettings {
            enabled: false,
            ..ImdsSettings::default()
        };
        let (az, source) = resolve_az(None, &off).await;
        assert_eq!(az, None);
        assert!(
            matches!(&source, AzSource::Unknown(why) if why.contains("disabled")),
            "{source:?}"
        );
    }

    /// A minimal IMDSv2 on 127.0.0.1: a token for the PUT, the AZ for a GET carrying it.
    async fn fake_imds(az: &'static str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_lowercase();
                let body = if req.starts_with("put /latest/api/token") {
                    "TOKEN"
                } else if req.contains("x-aws-ec2-metadata-token: token")
                    && req.starts_with("get /latest/meta-data/placement/availability-zone")
                {
                    az
                } else {
                    ""
                };
                let status = if body.is_empty() {
                    "401 Unauthorized"
                } else {
                    "200 OK"
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn without_configuration_the_az_comes_from_imdsv2() {
        let imds = ImdsSettings {
            endpoint: fake_imds("eu-west-1c").await,
            timeout_ms: 2000,
            ..ImdsSettings::default()
        };
        let (az, source) = resolve_az(None, &imds).await;
        assert_eq!(az.as_deref(), Some("eu-west-1c"));
        assert_eq!(source, AzSource::Imds);
    }

    #[test]
    fn consumer_rack_sets_client_rack() {
        let mut cfg = ClientConfig::new();
        consumer_rack(&mut cfg, "eu-west-1a");
        assert_eq!(cfg.get("client.rack"), Some("eu-west-1a"));
    }
}
