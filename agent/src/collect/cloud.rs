//! EC2 IMDSv2 identity (being built).

use super::{CloudIdentity, Error, ImdsSettings, Result};

/// Asks IMDS for AZ, instance type and instance id.
pub async fn fetch(settings: &ImdsSettings) -> Result<CloudIdentity> {
    if !settings.enabled {
        return Err(Error::Disabled("imds"));
    }
    Err(Error::Unavailable("imds not built yet".into()))
}
