//! Cloud identity from EC2 instance metadata, IMDSv2.
//!
//! IMDSv2 is session-based: a `PUT /latest/api/token` with
//! `X-aws-ec2-metadata-token-ttl-seconds` returns a token, and every metadata `GET` carries it
//! in `X-aws-ec2-metadata-token`. Each request has a short timeout, because off EC2 nothing
//! answers at 169.254.169.254 and the agent must not wait at start-up. Proxies are never used for
//! the link-local address. Every answer is checked to be a short, printable token, so an HTML
//! error page from something else on the endpoint is not taken for an AZ. When this fails, the
//! agent falls back to `broker.rack`.

use std::time::Duration;

use super::{CloudIdentity, Error, ImdsSettings, Result};

/// The longest answer accepted for one metadata item.
const MAX_ITEM_LEN: usize = 128;

/// Asks IMDS for the availability zone, instance type and instance id.
pub async fn fetch(settings: &ImdsSettings) -> Result<CloudIdentity> {
    if !settings.enabled {
        return Err(Error::Disabled("IMDS (imds.enabled = false)"));
    }
    let timeout = Duration::from_millis(settings.timeout_ms.max(1));
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|source| Error::Http {
            what: "building the IMDS client".into(),
            source,
        })?;
    let base = settings.endpoint.trim_end_matches('/');

    let what = format!("IMDSv2 token from {base}");
    let response = client
        .put(format!("{base}/latest/api/token"))
        .header(
            "X-aws-ec2-metadata-token-ttl-seconds",
            settings.token_ttl_secs.to_string(),
        )
        .send()
        .await
        .map_err(|source| Error::Http {
            what: what.clone(),
            source,
        })?;
    let token = read_item(response, &what).await?;

    let get = |item: &'static str| {
        let client = &client;
        let token = &token;
        async move {
            let what = format!("IMDS {item} from {base}");
            let response = client
                .get(format!("{base}/latest/meta-data/{item}"))
                .header("X-aws-ec2-metadata-token", token.as_str())
                .send()
                .await
                .map_err(|source| Error::Http {
                    what: what.clone(),
                    source,
                })?;
            read_item(response, &what).await
        }
    };
    let az = get("placement/availability-zone").await?;
    let instance_type = get("instance-type").await?;
    let instance_id = get("instance-id").await?;
    tracing::info!(%az, %instance_type, %instance_id, "cloud identity from IMDSv2");
    Ok(CloudIdentity {
        az,
        instance_type,
        instance_id,
    })
}

/// The body of a successful answer, checked to be one short printable token.
async fn read_item(response: reqwest::Response, what: &str) -> Result<String> {
    let status = response.status();
    if !status.is_success() {
        return Err(Error::BadAnswer {
            what: what.to_owned(),
            reason: format!("HTTP {status}"),
        });
    }
    let body = response.text().await.map_err(|source| Error::Http {
        what: what.to_owned(),
        source,
    })?;
    let value = body.trim();
    let printable = value.bytes().all(|b| b.is_ascii_graphic());
    if value.is_empty() || value.len() > MAX_ITEM_LEN || !printable {
        let shown: String = value.chars().take(40).collect();
        return Err(Error::BadAnswer {
            what: what.to_owned(),
            reason: format!("not a metadata value: {shown:?}"),
        });
    }
    Ok(value.to_owned())
}
