//! EC2 instance metadata, IMDSv2: the availability zone (and instance type and id) of the host.
//!
//! Shared by the agent (the broker's AZ) and `kmedic-client` (the producer's or consumer's AZ).
//!
//! IMDSv2 is session-based: a `PUT /latest/api/token` with
//! `X-aws-ec2-metadata-token-ttl-seconds` returns a token, and every metadata `GET` carries it
//! in `X-aws-ec2-metadata-token`. Each request has a short timeout, because off EC2 nothing
//! answers at 169.254.169.254 and a caller must not wait at start-up. Proxies are never used for
//! the link-local address. Every answer is checked to be a short, printable token, so an HTML
//! error page from something else on the endpoint is not taken for an AZ.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The longest answer accepted for one metadata item.
const MAX_ITEM_LEN: usize = 128;

/// Why the metadata could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An HTTP request failed (nothing listening, timeout, connection reset).
    #[error("{what}: {source}")]
    Http {
        /// What was asked.
        what: String,
        /// The client's error.
        source: reqwest::Error,
    },
    /// A server answered, but not as IMDSv2 does.
    #[error("{what}: {reason}")]
    BadAnswer {
        /// What was asked.
        what: String,
        /// What was wrong with the answer.
        reason: String,
    },
    /// IMDS is turned off in the configuration.
    #[error("IMDS is disabled (imds.enabled = false)")]
    Disabled,
}

/// Result with this module's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where and how patiently to ask (the agent's `[collect.imds]` table, the client's settings).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImdsSettings {
    /// Ask IMDS at all. Turn off outside EC2 so start-up does not wait for the timeout.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// The IMDS base URL.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// Timeout of each IMDS request, in milliseconds. Short: off EC2 nothing answers.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Lifetime of the IMDSv2 session token, in seconds.
    #[serde(default = "default_token_ttl_secs")]
    pub token_ttl_secs: u32,
}

fn default_enabled() -> bool {
    true
}
fn default_endpoint() -> String {
    "http://169.254.169.254".to_owned()
}
fn default_timeout_ms() -> u64 {
    300
}
fn default_token_ttl_secs() -> u32 {
    60
}

impl Default for ImdsSettings {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            endpoint: default_endpoint(),
            timeout_ms: default_timeout_ms(),
            token_ttl_secs: default_token_ttl_secs(),
        }
    }
}

/// What the host is, according to EC2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Availability zone, for example `eu-west-1a`.
    pub az: String,
    /// Instance type, for example `m5.2xlarge`.
    pub instance_type: String,
    /// Instance id, for example `i-0123456789abcdef0`.
    pub instance_id: String,
}

/// Asks IMDS for the availability zone, instance type and instance id.
pub async fn fetch(settings: &ImdsSettings) -> Result<Identity> {
    let session = Session::open(settings).await?;
    let az = session.get("placement/availability-zone").await?;
    let instance_type = session.get("instance-type").await?;
    let instance_id = session.get("instance-id").await?;
    Ok(Identity {
        az,
        instance_type,
        instance_id,
    })
}

/// Asks IMDS for the availability zone only (one token, one item).
pub async fn fetch_az(settings: &ImdsSettings) -> Result<String> {
    Session::open(settings)
        .await?
        .get("placement/availability-zone")
        .await
}

/// An HTTP client and an IMDSv2 session token.
struct Session {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Session {
    async fn open(settings: &ImdsSettings) -> Result<Self> {
        if !settings.enabled {
            return Err(Error::Disabled);
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
        let base = settings.endpoint.trim_end_matches('/').to_owned();
        let what = format!("IMDSv2 token from {base}");
        let request = client.put(format!("{base}/latest/api/token")).header(
            "X-aws-ec2-metadata-token-ttl-seconds",
            settings.token_ttl_secs.to_string(),
        );
        let token = ask(request, &what).await?;
        Ok(Session {
            client,
            base,
            token,
        })
    }

    async fn get(&self, item: &str) -> Result<String> {
        let what = format!("IMDS {item} from {}", self.base);
        let request = self
            .client
            .get(format!("{}/latest/meta-data/{item}", self.base))
            .header("X-aws-ec2-metadata-token", self.token.as_str());
        ask(request, &what).await
    }
}

/// Sends `request` and reads its one-item answer; `what` names the request in errors.
async fn ask(request: reqwest::RequestBuilder, what: &str) -> Result<String> {
    let response = request.send().await.map_err(|source| Error::Http {
        what: what.to_owned(),
        source,
    })?;
    read_item(response, what).await
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
