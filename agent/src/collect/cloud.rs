//! Cloud identity from EC2 instance metadata, IMDSv2, through the shared client in
//! [`kmedic_common::imds`] (the client library asks it for its AZ too), whose settings and
//! identity the agent uses as they are. This module only maps the collectors' errors out. When
//! this fails, the agent falls back to `broker.rack`.

use kmedic_common::imds;

use super::{CloudIdentity, Error, ImdsSettings, Result};

/// Asks IMDS for the availability zone, instance type and instance id.
pub async fn fetch(settings: &ImdsSettings) -> Result<CloudIdentity> {
    let id = imds::fetch(settings).await.map_err(|e| match e {
        imds::Error::Http { what, source } => Error::Http { what, source },
        imds::Error::BadAnswer { what, reason } => Error::BadAnswer { what, reason },
        imds::Error::Disabled => Error::Disabled("IMDS (imds.enabled = false)"),
        other => Error::Unavailable(other.to_string()),
    })?;
    tracing::info!(az = %id.az, instance_type = %id.instance_type, instance_id = %id.instance_id,
        "cloud identity from IMDSv2");
    Ok(id)
}
